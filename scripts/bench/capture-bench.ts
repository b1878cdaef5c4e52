// The measurement behind `rigcap bench capture`: the real ChunkWriter path against a raw baseline
// (write + SHA-256 of the same bytes, fsync at the same file cadence), interleaved in one run so
// machine noise affects both alike.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../agent/log.ts';
import type { ChunkingConfig } from '../../agent/config/types.ts';
import type { Sample } from '../../drivers/types.ts';
import { ChunkWriter } from '../../agent/pipeline/chunk-writer.ts';
import { AdaptiveZstdCompressor } from '../../agent/pipeline/chunk-compression.ts';
import { fsyncDir } from '../../agent/keys/atomic-file.ts';

export interface CaptureBenchOptions {
  /** Scratch folder (emptied before and after). */
  dir: string;
  frames: number;
  frameBytes: number;
  chunking: ChunkingConfig;
  logger: Logger;
  /** `random` stands for JPEG frames (incompressible), `raw` for raw pixels (compressible). */
  content?: 'random' | 'raw';
  /** Capture/baseline pairs; the best of each is reported. Default 3. */
  rounds?: number;
}

export interface CaptureBenchResult {
  captureBytesPerSec: number;
  rawBytesPerSec: number;
  /** captureBytesPerSec / rawBytesPerSec (the `throughput_*_ratio` figure). */
  ratio: number;
  chunks: number;
  /** Inner MCAP chunks stored vs zstd-compressed in the capture runs. */
  compression: { stored: number; compressed: number };
}

/** Measures capture throughput of N frames of S bytes against the raw write+hash baseline. */
export async function benchCapture(options: CaptureBenchOptions): Promise<CaptureBenchResult> {
  const frames = makeFrames(options.frameBytes, Math.min(options.frames, 16), options.content ?? 'random');
  const rounds = options.rounds ?? 3;
  let bestCapture = 0;
  let bestRaw = 0;
  let chunks = 0;
  const compressor = new AdaptiveZstdCompressor({ level: options.chunking.zstdLevel });
  await rm(options.dir, { recursive: true, force: true });
  try {
    for (let round = 0; round < rounds; round++) {
      const raw = await rawBaseline(join(options.dir, `raw-${round}`), frames, options);
      const capture = await captureRun(join(options.dir, `cap-${round}`), frames, options, compressor);
      bestRaw = Math.max(bestRaw, raw);
      bestCapture = Math.max(bestCapture, capture.bytesPerSec);
      chunks = capture.chunks;
      await rm(options.dir, { recursive: true, force: true });
    }
  } finally {
    await rm(options.dir, { recursive: true, force: true });
  }
  return {
    captureBytesPerSec: bestCapture,
    rawBytesPerSec: bestRaw,
    ratio: bestCapture / bestRaw,
    chunks,
    compression: compressor.counts(),
  };
}

async function captureRun(
  dir: string,
  frames: Uint8Array[],
  options: CaptureBenchOptions,
  compressor: AdaptiveZstdCompressor,
): Promise<{ bytesPerSec: number; chunks: number }> {
  const startNs = process.hrtime.bigint();
  const chunks = await writeBenchFrames({
    dir,
    pool: frames,
    frames: options.frames,
    chunking: options.chunking,
    logger: options.logger,
    compressor,
  });
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  return { bytesPerSec: (options.frames * options.frameBytes) / seconds, chunks };
}

/** Writes `frames` camera-like samples (cycling through `pool`) through a real ChunkWriter; returns the chunks committed. */
export async function writeBenchFrames(options: {
  dir: string;
  pool: readonly Uint8Array[];
  frames: number;
  chunking: ChunkingConfig;
  logger: Logger;
  compressor?: AdaptiveZstdCompressor;
}): Promise<number> {
  let chunks = 0;
  const writer = new ChunkWriter({
    spoolDir: options.dir,
    sessionId: 'bench',
    chunking: options.chunking,
    logger: options.logger,
    ...(options.compressor === undefined ? {} : { compressor: options.compressor }),
    onCommit: () => {
      chunks += 1;
    },
  });
  writer.addStream({
    name: 'cam',
    topic: '/cam/image/compressed',
    latched: false,
    schema: {
      name: 'sensor_msgs/msg/CompressedImage',
      encoding: 'ros2msg',
      data: new TextEncoder().encode('uint8[] data'),
      messageEncoding: 'cdr',
    },
  });
  const startNs = process.hrtime.bigint();
  for (let i = 0; i < options.frames; i++) {
    const captureNs = startNs + BigInt(i) * 33_000_000n;
    const sample: Sample = {
      stream: 'cam',
      topic: '/cam/image/compressed',
      seq: i,
      captureNs,
      monoNs: captureNs,
      encoding: 'jpeg',
      schemaRef: 'sensor_msgs/msg/CompressedImage',
      data: options.pool[i % options.pool.length] as Uint8Array,
    };
    await writer.write(sample);
  }
  await writer.close();
  return chunks;
}

async function rawBaseline(dir: string, frames: Uint8Array[], options: CaptureBenchOptions): Promise<number> {
  await mkdir(dir, { recursive: true });
  const startNs = process.hrtime.bigint();
  let fileIndex = 0;
  let written = 0;
  let hash = createHash('sha256');
  let path = join(dir, `f${fileIndex}.partial`);
  let handle = await open(path, 'wx');
  const seal = async (): Promise<void> => {
    hash.digest('hex');
    await handle.sync();
    await handle.close();
    await rename(path, path.replace('.partial', ''));
    await fsyncDir(dir);
  };
  for (let i = 0; i < options.frames; i++) {
    const frame = frames[i % frames.length] as Uint8Array;
    hash.update(frame);
    await handle.write(frame);
    written += frame.byteLength;
    if (written >= options.chunking.maxBytes) {
      await seal();
      fileIndex += 1;
      written = 0;
      hash = createHash('sha256');
      path = join(dir, `f${fileIndex}.partial`);
      handle = await open(path, 'wx');
    }
  }
  await seal();
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  return (options.frames * options.frameBytes) / seconds;
}

function makeFrames(frameBytes: number, count: number, content: 'random' | 'raw'): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let f = 0; f < count; f++) {
    if (content === 'random') {
      out.push(randomBytes(frameBytes));
    } else {
      // A smooth gradient with sensor-like noise: compresses roughly as raw camera pixels do.
      const frame = new Uint8Array(frameBytes);
      const noise = randomBytes(frameBytes);
      for (let i = 0; i < frameBytes; i++) frame[i] = ((i >> 6) + f + ((noise[i] ?? 0) & 3)) & 0xff;
      out.push(frame);
    }
  }
  return out;
}
