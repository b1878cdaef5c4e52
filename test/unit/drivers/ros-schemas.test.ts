import { MessageReader } from '@foxglove/rosmsg2-serialization';
import { parse } from '@foxglove/rosmsg';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { StreamConfig } from '../../../agent/config/types.ts';
import {
  cdrHeaderStampNs,
  fullRosType,
  ros2msgSchemaText,
  rosMessageDefinitions,
  rosStreamSchema,
  shortRosType,
} from '../../../drivers/ros-schemas.ts';
import type { DriverStreamConfig } from '../../../drivers/stream-config.ts';
import { generateLidarScan, perturbedScanBytes, pointCloud2Message } from '../../../scripts/sim-rig/lidar.ts';
import {
  cameraInfoMessage,
  compressedImageMessage,
  encodeCdr,
  imuMessage,
  navSatFixMessage,
  rosTime,
  tfMessage,
  tfStaticMessage,
} from '../../../scripts/sim-rig/messages.ts';
import { simTopics } from '../../../scripts/sim-rig/streams.ts';

const captureNs = 1_700_000_000_123_456_789n;
const noise = (): number => 0.5;
const scan = generateLidarScan({ points: 640, rings: 16 });
const messages: Record<string, unknown> = {
  'sensor_msgs/msg/CompressedImage': compressedImageMessage({
    captureNs,
    frameId: 'camera_front',
    jpeg: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]),
  }),
  'sensor_msgs/msg/CameraInfo': cameraInfoMessage({
    captureNs,
    frameId: 'camera_front',
    width: 1280,
    height: 720,
  }),
  'sensor_msgs/msg/PointCloud2': pointCloud2Message({
    stamp: rosTime(captureNs),
    frameId: 'lidar_link',
    scan,
    data: perturbedScanBytes(scan, 3, noise),
  }),
  'sensor_msgs/msg/Imu': imuMessage({ captureNs, elapsedS: 1.5, noise }),
  'sensor_msgs/msg/NavSatFix': navSatFixMessage({ captureNs, elapsedS: 2 }),
  'tf2_msgs/msg/TFMessage': tfMessage({ captureNs, elapsedS: 3 }),
};

describe('ROS 2 schemas', () => {
  it('agent stream configs are assignable to driver stream configs', () => {
    expectTypeOf<StreamConfig>().toExtend<DriverStreamConfig>();
  });

  it('names types both ways', () => {
    expect(shortRosType('sensor_msgs/msg/Imu')).toBe('sensor_msgs/Imu');
    expect(fullRosType('sensor_msgs/Imu')).toBe('sensor_msgs/msg/Imu');
    expect(rosStreamSchema('no_such/msg/Type')).toBeUndefined();
  });

  it('writes ros2msg text in the rosbag2 convention: dependencies after MSG: separators, builtin time spelled out', () => {
    const text = ros2msgSchemaText('sensor_msgs/msg/Imu') ?? '';
    expect(text.startsWith('std_msgs/Header header\n')).toBe(true);
    expect(text).toContain(
      '================================================================================\nMSG: std_msgs/Header\nbuiltin_interfaces/Time stamp\nstring frame_id\n',
    );
    expect(text).toContain('MSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec\n');
    expect(text).toContain('MSG: geometry_msgs/Quaternion\n');
  });

  for (const topic of simTopics.filter((t, i, all) => all.findIndex((o) => o.type === t.type) === i)) {
    it(`CDR round-trips the sim rig's ${topic.type} through a reader built from the schema text`, () => {
      const message = messages[topic.type] ?? tfStaticMessage({ captureNs });
      const bytes = encodeCdr(topic.type, message);
      // The reader is built from the ros2msg text we publish, as a consumer of the MCAP would.
      const reader = new MessageReader(parse(ros2msgSchemaText(topic.type) ?? '', { ros2: true }));
      const decoded = reader.readMessage<Record<string, unknown>>(bytes);
      expect(decoded).toEqual(normalise(message));
      expect(new MessageReader(rosMessageDefinitions(topic.type) ?? []).readMessage(bytes)).toEqual(decoded);
      if (topic.type !== 'tf2_msgs/msg/TFMessage') expect(cdrHeaderStampNs(bytes)).toBe(captureNs);
    });
  }
});

// The reader returns typed arrays for numeric arrays and plain numbers elsewhere.
function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value))
    return value.every((v) => typeof v === 'number') ? new Float64Array(value) : value.map(normalise);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  return value;
}
