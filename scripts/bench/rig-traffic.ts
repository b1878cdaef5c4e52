// The traffic of two reference rigs, built with the simulated rig's own message builders, so the
// sign bench measures chunks of the sizes the default config really produces for them:
//   camera  the demo's rig (`rigcap demo`): two 1280×720 JPEG cameras, a 100k-point lidar, IMU,
//           GNSS, tf, camera_info and tf_static, at the sim rig's rates
//   imu-gnss  a rig with only an IMU (200 Hz) and a GNSS receiver (10 Hz)
import { rosStreamSchema } from '../../drivers/ros-schemas.ts';
import type { StreamSchema } from '../../drivers/types.ts';
import { generateLidarScan, perturbedScanBytes, pointCloud2Message } from '../sim-rig/lidar.ts';
import {
  cameraInfoMessage,
  compressedImageMessage,
  encodeCdr,
  imuMessage,
  navSatFixMessage,
  rosTime,
  tfMessage,
  tfStaticMessage,
} from '../sim-rig/messages.ts';
import { renderCameraFrames } from '../sim-rig/scene.ts';
import { simTopics, type SimTopic } from '../sim-rig/streams.ts';

export type RigName = 'camera' | 'imu-gnss';

/** One topic of a rig: its stream, rate and a message builder (pools prepared up front). */
export interface RigTopic {
  stream: string;
  topic: string;
  type: string;
  latched: boolean;
  rateHz: number;
  schema: StreamSchema;
  /** The message for capture time `captureNs`, `seq`-th on this topic. */
  build(captureNs: bigint, seq: number): Uint8Array;
}

function gaussian(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(Math.max(uniform(), 1e-12))) * Math.cos(2 * Math.PI * uniform());
}

/**
 * The topics of `rig` with builders. Large messages (camera frames, lidar scans) come from pools
 * made here: 12 rendered frames per camera as the demo renders, 8 perturbed lidar scans; small
 * messages are encoded per call.
 */
export async function rigTopics(rig: RigName): Promise<RigTopic[]> {
  const noise = gaussian(42);
  const wanted: readonly SimTopic[] =
    rig === 'camera' ? simTopics : simTopics.filter((t) => t.sensor === 'imu' || t.sensor === 'gnss');
  const startS = 1_700_000_000;
  const elapsed = (captureNs: bigint): number => Number(captureNs / 1_000_000n) / 1000 - startS;
  const frames = async (label: string, variant: number): Promise<Uint8Array[]> =>
    renderCameraFrames({ width: 1280, height: 720, frames: 12, jpegQuality: 80, label, variant });
  const front = rig === 'camera' ? await frames('front', 0) : [];
  const rear = rig === 'camera' ? await frames('rear', 1) : [];
  const scan = rig === 'camera' ? generateLidarScan({ points: 100_000 }) : undefined;
  const scans =
    scan === undefined ? [] : Array.from({ length: 8 }, (_, i) => perturbedScanBytes(scan, i, noise));
  // Large messages are encoded once (stamped at the rig's start): building them is the sensor's
  // work, and a bench that measures capture CPU must not count it.
  const stamp = BigInt(startS) * 1_000_000_000n;
  const image = (frameId: string, jpeg: Uint8Array): Uint8Array =>
    encodeCdr('sensor_msgs/msg/CompressedImage', compressedImageMessage({ captureNs: stamp, frameId, jpeg }));
  const frontMessages = front.map((jpeg) => image('camera_front', jpeg));
  const rearMessages = rear.map((jpeg) => image('camera_rear', jpeg));
  const lidarMessages = scans.map((data) =>
    encodeCdr(
      'sensor_msgs/msg/PointCloud2',
      pointCloud2Message({ stamp: rosTime(stamp), frameId: 'lidar_link', scan: scan!, data }),
    ),
  );
  const builders: Record<string, (captureNs: bigint, seq: number) => Uint8Array> = {
    '/camera/front/image/compressed': (_ns, seq) => frontMessages[seq % frontMessages.length]!,
    '/camera/rear/image/compressed': (_ns, seq) => rearMessages[seq % rearMessages.length]!,
    '/lidar/points': (_ns, seq) => lidarMessages[seq % lidarMessages.length]!,
    '/camera/front/camera_info': (captureNs) =>
      encodeCdr(
        'sensor_msgs/msg/CameraInfo',
        cameraInfoMessage({ captureNs, frameId: 'camera_front', width: 1280, height: 720 }),
      ),
    '/camera/rear/camera_info': (captureNs) =>
      encodeCdr(
        'sensor_msgs/msg/CameraInfo',
        cameraInfoMessage({ captureNs, frameId: 'camera_rear', width: 1280, height: 720 }),
      ),
    '/imu/data': (captureNs) =>
      encodeCdr('sensor_msgs/msg/Imu', imuMessage({ captureNs, elapsedS: elapsed(captureNs), noise })),
    '/gnss/fix': (captureNs) =>
      encodeCdr('sensor_msgs/msg/NavSatFix', navSatFixMessage({ captureNs, elapsedS: elapsed(captureNs) })),
    '/tf': (captureNs) =>
      encodeCdr('tf2_msgs/msg/TFMessage', tfMessage({ captureNs, elapsedS: elapsed(captureNs) })),
    '/tf_static': (captureNs) => encodeCdr('tf2_msgs/msg/TFMessage', tfStaticMessage({ captureNs })),
  };
  return wanted.map((t) => {
    const schema = rosStreamSchema(t.type);
    const build = builders[t.topic];
    if (schema === undefined || build === undefined)
      throw new Error(`rig traffic: no schema or builder for ${t.topic}`);
    return {
      stream: t.stream,
      topic: t.topic,
      type: t.type,
      latched: t.latched,
      rateHz: t.rateHz,
      schema,
      build,
    };
  });
}

/** Messages of all topics in capture-time order from `startNs` on, forever (a merge of the rates). */
export function* rigSchedule(
  topics: readonly RigTopic[],
  startNs: bigint,
): Generator<{ topic: RigTopic; captureNs: bigint; seq: number }> {
  const next = topics.map((t) => ({ topic: t, seq: 0, atNs: startNs }));
  for (;;) {
    let first = next[0]!;
    for (const n of next) if (n.atNs < first.atNs) first = n;
    yield { topic: first.topic, captureNs: first.atNs, seq: first.seq };
    first.seq += 1;
    first.atNs = startNs + BigInt(Math.round((first.seq * 1e9) / first.topic.rateHz));
  }
}
