// The simulated rig: publishes every enabled topic at its rate over one ZeroMQ socket in the rigcap
// wire format, and counts exactly what it handed to ZeroMQ per topic. Each topic carries its own
// seq from 0, so anything ZeroMQ drops at a PUB high-water mark shows up as a seq gap downstream.
import * as zmq from 'zeromq';
import { encodeFrame } from '../../drivers/zmq/frame.ts';
import { generateLidarScan, perturbedScanBytes, pointCloud2Message } from './lidar.ts';
import {
  cameraInfoMessage,
  compressedImageMessage,
  encodeCdr,
  imuMessage,
  navSatFixMessage,
  rosTime,
  tfMessage,
  tfStaticMessage,
} from './messages.ts';
import { renderCameraFrames } from './scene.ts';
import { simTopics, type SimSensor, type SimTopic } from './streams.ts';

export interface SimRigOptions {
  /** Where the rig's socket binds (or connects, with `bind: false`). */
  readonly endpoint: string;
  /** `pub` (an XPUB, drops at its HWM → seq gaps) or `push` (blocks instead of dropping). Default pub. */
  readonly socket?: 'pub' | 'push';
  /** Default true: the rig binds and the agent connects. */
  readonly bind?: boolean;
  /** Sensors to publish; all on by default. */
  readonly sensors?: Partial<Record<SimSensor, boolean>>;
  /** Rate overrides by topic (Hz). */
  readonly ratesHz?: Readonly<Record<string, number>>;
  readonly camera?: {
    readonly width?: number;
    readonly height?: number;
    readonly frames?: number;
    readonly jpegQuality?: number;
  };
  readonly lidar?: { readonly points?: number };
  /** Stop by itself after this many messages on every topic (tests). */
  readonly messagesPerTopic?: number;
  /** Hold publishing until this many subscriptions arrived (pub only); avoids the slow-joiner loss. */
  readonly waitForSubscribers?: number;
  /** Send high-water mark (messages). */
  readonly sendHighWaterMark?: number;
  readonly signal?: AbortSignal;
}

/** A running rig. */
export interface SimRig {
  /** The endpoint actually bound (a tcp port 0 is resolved). */
  readonly endpoint: string;
  /** Resolves when every topic reached `messagesPerTopic`, or after stop(). */
  readonly done: Promise<void>;
  /** Stops publishing and closes the socket. Idempotent. */
  stop(): Promise<void>;
  /** Messages handed to ZeroMQ so far, by topic. */
  published(): Record<string, number>;
}

interface TopicSchedule {
  readonly topic: SimTopic;
  readonly rateHz: number;
  seq: number;
  published: number;
  build(captureNs: bigint, elapsedS: number, seq: number): Uint8Array;
}

function gaussianNoise(random: () => number): () => number {
  return () => {
    const u = Math.max(random(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
}

/** A small deterministic PRNG (mulberry32), so runs are reproducible. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function buildSchedules(options: SimRigOptions): Promise<TopicSchedule[]> {
  const width = options.camera?.width ?? 1280;
  const height = options.camera?.height ?? 720;
  const frameCount = options.camera?.frames ?? 12;
  const jpegQuality = options.camera?.jpegQuality ?? 80;
  const noise = gaussianNoise(seededRandom(42));
  const enabled = simTopics.filter((t) => options.sensors?.[t.sensor] !== false);
  const needs = (sensor: SimSensor): boolean => enabled.some((t) => t.sensor === sensor);
  const frontFrames = needs('frontCamera')
    ? await renderCameraFrames({ width, height, frames: frameCount, jpegQuality, label: 'front', variant: 0 })
    : [];
  const rearFrames = needs('rearCamera')
    ? await renderCameraFrames({ width, height, frames: frameCount, jpegQuality, label: 'rear', variant: 1 })
    : [];
  const scan = needs('lidar') ? generateLidarScan({ points: options.lidar?.points ?? 100_000 }) : undefined;

  const builders: Record<string, (captureNs: bigint, elapsedS: number, seq: number) => Uint8Array> = {
    '/camera/front/image/compressed': (captureNs, _e, seq) =>
      encodeCdr(
        'sensor_msgs/msg/CompressedImage',
        compressedImageMessage({
          captureNs,
          frameId: 'camera_front',
          jpeg: frontFrames[seq % frontFrames.length] ?? new Uint8Array(0),
        }),
      ),
    '/camera/rear/image/compressed': (captureNs, _e, seq) =>
      encodeCdr(
        'sensor_msgs/msg/CompressedImage',
        compressedImageMessage({
          captureNs,
          frameId: 'camera_rear',
          jpeg: rearFrames[seq % rearFrames.length] ?? new Uint8Array(0),
        }),
      ),
    '/camera/front/camera_info': (captureNs) =>
      encodeCdr(
        'sensor_msgs/msg/CameraInfo',
        cameraInfoMessage({ captureNs, frameId: 'camera_front', width, height }),
      ),
    '/camera/rear/camera_info': (captureNs) =>
      encodeCdr(
        'sensor_msgs/msg/CameraInfo',
        cameraInfoMessage({ captureNs, frameId: 'camera_rear', width, height }),
      ),
    '/lidar/points': (captureNs, _e, seq) => {
      if (scan === undefined) return new Uint8Array(0);
      return encodeCdr(
        'sensor_msgs/msg/PointCloud2',
        pointCloud2Message({
          stamp: rosTime(captureNs),
          frameId: 'lidar_link',
          scan,
          data: perturbedScanBytes(scan, seq, noise),
        }),
      );
    },
    '/imu/data': (captureNs, elapsedS) =>
      encodeCdr('sensor_msgs/msg/Imu', imuMessage({ captureNs, elapsedS, noise })),
    '/gnss/fix': (captureNs, elapsedS) =>
      encodeCdr('sensor_msgs/msg/NavSatFix', navSatFixMessage({ captureNs, elapsedS })),
    '/tf': (captureNs, elapsedS) => encodeCdr('tf2_msgs/msg/TFMessage', tfMessage({ captureNs, elapsedS })),
    '/tf_static': (captureNs) => encodeCdr('tf2_msgs/msg/TFMessage', tfStaticMessage({ captureNs })),
  };
  return enabled.map((topic) => {
    const build = builders[topic.topic];
    if (build === undefined) throw new Error(`sim rig has no builder for ${topic.topic}`);
    return { topic, rateHz: options.ratesHz?.[topic.topic] ?? topic.rateHz, seq: 0, published: 0, build };
  });
}

/** Starts the rig: renders camera frames, opens the socket, publishes until stop() or `signal`. */
export async function startSimRig(options: SimRigOptions): Promise<SimRig> {
  const schedules = await buildSchedules(options);
  const kind = options.socket ?? 'pub';
  const socketOptions = { sendHighWaterMark: options.sendHighWaterMark ?? 1000, linger: 0 };
  const socket = kind === 'pub' ? new zmq.XPublisher(socketOptions) : new zmq.Push(socketOptions);
  if (options.bind ?? true) await socket.bind(options.endpoint);
  else socket.connect(options.endpoint);
  const endpoint = socket.lastEndpoint ?? options.endpoint;

  const stopController = new AbortController();
  const onAbort = (): void => stopController.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const subscribed =
    kind === 'pub'
      ? waitForSubscriptions(socket as zmq.XPublisher, options.waitForSubscribers ?? 0, stopController.signal)
      : Promise.resolve();

  const wallAtStartNs = BigInt(Date.now()) * 1_000_000n;
  const monoAtStartNs = process.hrtime.bigint();
  const limit = options.messagesPerTopic;
  const wallNowNs = (): bigint => wallAtStartNs + (process.hrtime.bigint() - monoAtStartNs);

  const publishLoop = (): Promise<void> =>
    publishSchedules(schedules, socket, { signal: stopController.signal, subscribed, limit, wallNowNs });

  let closed = false;
  const closeSocket = (): void => {
    if (closed) return;
    closed = true;
    options.signal?.removeEventListener('abort', onAbort);
    socket.close();
  };
  const done = publishLoop().finally(() => {
    // Finishing by count keeps the socket open so queued messages still reach the agent; stop() closes it.
    if (stopController.signal.aborted) closeSocket();
  });
  done.catch(() => undefined);

  return {
    endpoint,
    done,
    async stop(): Promise<void> {
      stopController.abort();
      // Close first: a send blocked on a PUSH socket with no (or a stalled) peer only ends when the socket closes.
      closeSocket();
      await done.catch(() => undefined);
    },
    published(): Record<string, number> {
      return Object.fromEntries(schedules.map((s) => [s.topic.topic, s.published]));
    },
  };
}

/**
 * Publishes every schedule at its rate (message k of a topic is due at k / rate) until each has sent
 * `limit` messages, or until `signal`. The first message of each goes out at once (latched topics).
 */
async function publishSchedules(
  schedules: readonly TopicSchedule[],
  socket: zmq.XPublisher | zmq.Push,
  o: { signal: AbortSignal; subscribed: Promise<void>; limit: number | undefined; wallNowNs: () => bigint },
): Promise<void> {
  const { signal, limit, wallNowNs } = o;
  await o.subscribed;
  const startedMs = performance.now();
  while (!signal.aborted) {
    const elapsedS = (performance.now() - startedMs) / 1000;
    let nextDueS = Infinity;
    for (const schedule of schedules) {
      if (limit !== undefined && schedule.published >= limit) continue;
      // Message k is due at k / rate; the first goes out at once (latched topics on start).
      const dueCount = schedule.rateHz > 0 ? Math.floor(elapsedS * schedule.rateHz) + 1 : 1;
      while (
        schedule.seq < dueCount &&
        (limit === undefined || schedule.published < limit) &&
        !signal.aborted
      ) {
        const captureNs = wallNowNs();
        const seq = schedule.seq;
        schedule.seq += 1;
        const payload = schedule.build(captureNs, elapsedS, seq);
        const header = {
          seq,
          captureNs,
          encoding: 'cdr',
          type: schedule.topic.type,
          latched: schedule.topic.latched,
        };
        try {
          await socket.send(encodeFrame(schedule.topic.topic, header, payload));
        } catch (err) {
          if (signal.aborted) return;
          throw err;
        }
        schedule.published += 1;
      }
      if (schedule.rateHz > 0 && (limit === undefined || schedule.published < limit))
        nextDueS = Math.min(nextDueS, schedule.seq / schedule.rateHz);
    }
    if (nextDueS === Infinity) return;
    const waitMs = Math.max(0, (nextDueS - (performance.now() - startedMs) / 1000) * 1000);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}

async function waitForSubscriptions(
  socket: zmq.XPublisher,
  wanted: number,
  signal: AbortSignal,
): Promise<void> {
  let subscriptions = 0;
  // XPUB hands us subscription messages (first byte 1 = subscribe); read them for as long as we
  // run so they never pile up, and release publishing once enough have arrived.
  let release: () => void = () => undefined;
  const ready = wanted <= 0 ? Promise.resolve() : new Promise<void>((resolve) => (release = resolve));
  void (async () => {
    try {
      for await (const [frame] of socket) {
        if (frame?.[0] === 1) subscriptions += 1;
        if (subscriptions >= wanted) release();
      }
    } catch {
      // socket closed
    }
  })();
  await Promise.race([
    ready,
    new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
  ]);
}
