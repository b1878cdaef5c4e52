// Bench payloads that look like what rigs send, CDR-encoded as a ROS 2 node would publish them:
// camera frames with JPEG entropy (zstd finds nothing to save), lidar scans with the structure of
// real point clouds (zstd does), and small random messages for the message-rate bench.
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { generateLidarScan, perturbedScanBytes, pointCloud2Message } from '../sim-rig/lidar.ts';
import { compressedImageMessage, encodeCdr, rosTime } from '../sim-rig/messages.ts';

/** A kind of bench payload, with the stream it travels on. */
export interface PayloadSet {
  kind: 'camera' | 'lidar' | 'bytes';
  topic: string;
  type: string;
  encoding: string;
  /** Distinct messages, cycled; together larger than an inner MCAP chunk, so no chunk repeats bytes. */
  messages: Uint8Array[];
}

/**
 * Camera frames of about `frameBytes` each: JPEG-coded sensor noise (every frame distinct), the
 * entropy of real compressed images, inside sensor_msgs/msg/CompressedImage.
 */
export async function cameraFrames(options: { frameBytes: number; count: number }): Promise<PayloadSet> {
  const messages: Uint8Array[] = [];
  // ~3 bytes of JPEG per pixel of noise at quality 90: a square a little larger than needed.
  const side = Math.max(16, Math.ceil(Math.sqrt(options.frameBytes / 2.5)));
  for (let i = 0; i < options.count; i++) {
    const jpeg = await sharp({
      create: {
        width: side,
        height: side,
        channels: 3,
        background: { r: 90 + i, g: 110, b: 130 },
        noise: { type: 'gaussian', mean: 120 + i, sigma: 60 },
      },
    })
      .jpeg({ quality: 90 })
      .toBuffer();
    let data = new Uint8Array(jpeg.subarray(0, Math.max(0, options.frameBytes - 96)));
    if (data.byteLength < options.frameBytes - 96) {
      // A small frame size asked for more than the JPEG gave: top up with entropy of the same kind.
      const grown = new Uint8Array(options.frameBytes - 96);
      grown.set(data);
      grown.set(randomBytes(grown.byteLength - data.byteLength), data.byteLength);
      data = grown;
    }
    messages.push(
      encodeCdr(
        'sensor_msgs/msg/CompressedImage',
        compressedImageMessage({
          captureNs: 1_700_000_000_000_000_000n + BigInt(i),
          frameId: 'cam',
          jpeg: data,
        }),
      ),
    );
  }
  return {
    kind: 'camera',
    topic: '/camera/front/image/compressed',
    type: 'sensor_msgs/msg/CompressedImage',
    encoding: 'cdr',
    messages,
  };
}

/** Lidar scans of about `frameBytes` each (16-byte points), as sensor_msgs/msg/PointCloud2. */
export function lidarScans(options: { frameBytes: number; count: number }): PayloadSet {
  const scan = generateLidarScan({ points: Math.max(64, Math.floor((options.frameBytes - 256) / 16)) });
  let state = 7;
  const noise = (): number => {
    // Deterministic, roughly normal jitter (sum of uniforms).
    let s = 0;
    for (let k = 0; k < 4; k++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      s += state / 4294967296;
    }
    return s - 2;
  };
  const messages: Uint8Array[] = [];
  for (let i = 0; i < options.count; i++) {
    messages.push(
      encodeCdr(
        'sensor_msgs/msg/PointCloud2',
        pointCloud2Message({
          stamp: rosTime(1_700_000_000_000_000_000n + BigInt(i) * 100_000_000n),
          frameId: 'lidar_link',
          scan,
          data: perturbedScanBytes(scan, i, noise),
        }),
      ),
    );
  }
  return {
    kind: 'lidar',
    topic: '/lidar/points',
    type: 'sensor_msgs/msg/PointCloud2',
    encoding: 'cdr',
    messages,
  };
}

/** `count` distinct random messages of `bytes` each (incompressible). */
export function randomMessages(options: { bytes: number; count: number }): PayloadSet {
  const pool = randomBytes(options.bytes * options.count);
  const messages: Uint8Array[] = [];
  for (let i = 0; i < options.count; i++)
    messages.push(new Uint8Array(pool.buffer, pool.byteOffset + i * options.bytes, options.bytes));
  return {
    kind: 'bytes',
    topic: '/bench/bytes',
    type: 'std_msgs/msg/UInt8MultiArray',
    encoding: 'cdr',
    messages,
  };
}
