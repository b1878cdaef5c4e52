// Shared fixtures for the capture pipeline tests.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Sample, StreamSchema } from '../../../drivers/types.ts';
import type { CaptureStream } from '../../../agent/pipeline/chunk-types.ts';
import type { ChunkingConfig } from '../../../agent/config/types.ts';

const enc = new TextEncoder();

export const imuSchema: StreamSchema = {
  name: 'sensor_msgs/msg/Imu',
  encoding: 'ros2msg',
  data: enc.encode('std_msgs/Header header\nfloat64[9] orientation_covariance\n'),
  messageEncoding: 'cdr',
};

export const tfStaticSchema: StreamSchema = {
  name: 'tf2_msgs/msg/TFMessage',
  encoding: 'ros2msg',
  data: enc.encode('geometry_msgs/TransformStamped[] transforms\n'),
  messageEncoding: 'cdr',
};

export const gnssSchema: StreamSchema = {
  name: 'rigcap.gnss',
  encoding: 'jsonschema',
  data: enc.encode(JSON.stringify({ $id: 'rigcap.gnss', type: 'object' })),
  messageEncoding: 'json',
};

export const streams: CaptureStream[] = [
  { name: 'imu', topic: '/imu', schema: imuSchema, latched: false, qos: '- history: 1\n  depth: 10\n' },
  { name: 'tf_static', topic: '/tf_static', schema: tfStaticSchema, latched: true },
  { name: 'gnss', topic: '/gnss', schema: gnssSchema, latched: false },
];

export function chunking(overrides: Partial<ChunkingConfig> = {}): ChunkingConfig {
  return { maxBytes: 64 * 1024, maxDurationMs: 60_000, zstdLevel: 3, mcapChunkBytes: 8 * 1024, ...overrides };
}

/** A deterministic sample: payload bytes derived from stream and seq so readers can check them. */
export function sample(stream: CaptureStream, seq: number, captureNs: bigint, bytes = 512): Sample {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (seq * 31 + i + stream.name.length) & 0xff;
  return {
    stream: stream.name,
    topic: stream.topic,
    seq,
    captureNs,
    monoNs: captureNs,
    encoding: stream.schema.messageEncoding === 'json' ? 'json' : 'cdr',
    schemaRef: stream.schema.name,
    data,
  };
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}
