// A small synthetic ROS 2 recording of JPEG frames (CompressedImage, CDR) for de-id tests: every
// frame's JPEG is distinct noise, so a test can look for its bytes anywhere on disk.
import { open } from 'node:fs/promises';
import zlib from 'node:zlib';
import { McapWriter } from '@mcap/core';
import sharp from 'sharp';
import { ros2msgSchemaText } from '../../drivers/ros-schemas.ts';
import { compressedImageMessage, encodeCdr } from '../../scripts/sim-rig/messages.ts';

export interface ImageRecording {
  /** The JPEG inside each frame, in order. */
  readonly jpegs: readonly Buffer[];
  /** Each frame's CDR message bytes (what de-id is handed). */
  readonly messages: readonly Uint8Array[];
  /** Each frame's publish time (the capture time a replay gives it). */
  readonly publishNs: readonly bigint[];
}

/** An MCAP file of ROS 2 CompressedImage channels (CDR), being written at `path`. */
export interface ImageMcap {
  readonly writer: McapWriter;
  /** Registers a CompressedImage channel on `topic`; returns its id. */
  channel(topic: string): Promise<number>;
  /** Ends the MCAP and closes the file. */
  end(): Promise<void>;
}

/** Starts an MCAP (ros2 profile, zstd chunks of `chunkSize` bytes) at `path` for camera frames. */
export async function openImageMcap(path: string, chunkSize = 64 * 1024): Promise<ImageMcap> {
  const handle = await open(path, 'w');
  let position = 0n;
  const writer = new McapWriter({
    writable: {
      position: () => position,
      write: async (buffer: Uint8Array) => {
        await handle.write(buffer);
        position += BigInt(buffer.byteLength);
      },
    },
    chunkSize,
    compressChunk: (data) => ({ compression: 'zstd', compressedData: zlib.zstdCompressSync(data) }),
  });
  await writer.start({ profile: 'ros2', library: 'rigcap-test' });
  const type = 'sensor_msgs/msg/CompressedImage';
  const schemaId = await writer.registerSchema({
    name: type,
    encoding: 'ros2msg',
    data: new TextEncoder().encode(ros2msgSchemaText(type)),
  });
  return {
    writer,
    channel: (topic) =>
      writer.registerChannel({ topic, schemaId, messageEncoding: 'cdr', metadata: new Map() }),
    end: async () => {
      await writer.end();
      await handle.close();
    },
  };
}

/** Writes `frames` frames on `topic`, `periodMs` apart, to an MCAP file at `path`. */
export async function writeImageRecording(
  path: string,
  options: { frames: number; periodMs?: number; topic?: string; width?: number; height?: number },
): Promise<ImageRecording> {
  const mcap = await openImageMcap(path);
  const { writer } = mcap;
  const type = 'sensor_msgs/msg/CompressedImage';
  const channelId = await mcap.channel(options.topic ?? '/camera/front/image/compressed');
  const jpegs: Buffer[] = [];
  const messages: Uint8Array[] = [];
  const publishNs: bigint[] = [];
  const periodNs = BigInt(options.periodMs ?? 33) * 1_000_000n;
  for (let i = 0; i < options.frames; i++) {
    const jpeg = await sharp({
      create: {
        width: options.width ?? 64,
        height: options.height ?? 48,
        channels: 3,
        background: { r: (i * 37) & 0xff, g: 90, b: 160 },
        noise: { type: 'gaussian', mean: 128, sigma: 50 },
      },
    })
      .jpeg({ quality: 80 })
      .toBuffer();
    const captureNs = 1_700_000_000_000_000_000n + BigInt(i) * periodNs;
    const data = encodeCdr(type, compressedImageMessage({ captureNs, frameId: 'camera_front', jpeg }));
    await writer.addMessage({ channelId, sequence: i, logTime: captureNs, publishTime: captureNs, data });
    jpegs.push(jpeg);
    messages.push(data);
    publishNs.push(captureNs);
  }
  await mcap.end();
  return { jpegs, messages, publishNs };
}
