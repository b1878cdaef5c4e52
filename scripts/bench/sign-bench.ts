// `rigcap bench sign` helpers: CPU spent building, signing and durably writing one capture-chunk
// record (plus its sidecar) per chunk, and the CPU the capture path spends on the chunk itself
// (the share's denominator), each in a throwaway spool.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChunkingConfig } from '../../agent/config/types.ts';
import type { Logger } from '../../agent/log.ts';
import { writeBenchFrames } from './capture-bench.ts';
import { chunkFileName } from '../../agent/records/index.ts';
import { RecordSealer } from '../../agent/keys/record-sealer.ts';

/** What measureSignCost measured. */
export interface SignCost {
  records: number;
  /** User + system CPU time of the whole run, microseconds. */
  cpuUs: number;
  cpuUsPerRecord: number;
  wallMs: number;
}

/** Seals `chunks` capture-chunk records (no chunk payloads are written) and returns the CPU cost. */
export async function measureSignCost(options: {
  chunks: number;
  log: Logger;
  workDir?: string;
}): Promise<SignCost> {
  const base = options.workDir ?? (await mkdtemp(join(tmpdir(), 'rigcap-bench-sign-')));
  try {
    const sealer = await RecordSealer.open({
      rootDir: join(base, 'spool'),
      keysDir: join(base, 'secrets'),
      signerId: 'bench',
      log: options.log,
      keyPolicy: 'create-if-missing',
      bootId: 'bench',
    });
    await sealer.openSession({ sessionId: 'bench', rigId: 'bench', startNs: 0n });
    const cpuBefore = process.cpuUsage();
    const wallBefore = process.hrtime.bigint();
    for (let i = 1; i <= options.chunks; i++) {
      await sealer.sealChunk({
        chunkPath: join(base, 'spool', 'sessions', 'bench', chunkFileName(i)),
        sha256: i.toString(16).padStart(64, '0'),
        bytes: 64 * 1024 * 1024,
        predicateFields: {
          sessionId: 'bench',
          chunkIndex: i,
          startNs: String(i * 1e9),
          endNs: String((i + 1) * 1e9),
          streams: [
            {
              topic: '/camera/front/image/compressed',
              type: 'sensor_msgs/msg/CompressedImage',
              count: 300,
              drops: { queue_full: 0 },
              upstreamLoss: 0,
            },
            {
              topic: '/lidar/points',
              type: 'sensor_msgs/msg/PointCloud2',
              count: 100,
              drops: {},
              upstreamLoss: 0,
            },
            { topic: '/imu', type: 'sensor_msgs/msg/Imu', count: 2000, drops: {}, upstreamLoss: 0 },
          ],
          timesync: {
            source: 'chrony',
            startNs: String(i * 1e9),
            endNs: String((i + 1) * 1e9),
            intervals: [{ state: 'locked', startNs: String(i * 1e9), endNs: String((i + 1) * 1e9) }],
            offsetNs: { min: '-1500', max: '1500', mean: '20', p95: '1200' },
            dispersionNs: null,
            samples: 1,
            steps: [],
            stateAtEnd: 'locked',
          },
          calibration: [{ sensor: 'cam_front', digest: 'a'.repeat(64), version: 3 }],
          transforms: [
            {
              kind: 'deid',
              modelDigests: { face: 'b'.repeat(64), plate: 'c'.repeat(64) },
              paramsDigest: 'd'.repeat(64),
              framesIn: 300,
              framesDetected: 40,
              framesFailed: 0,
              onFailure: 'drop',
            },
          ],
          producer: { rigcapVersion: '0.1.0', configDigest: 'e'.repeat(64) },
          policy: { residency: 'EU', retentionDays: 30, purpose: 'bench' },
        },
      });
    }
    const cpu = process.cpuUsage(cpuBefore);
    const wallMs = Number(process.hrtime.bigint() - wallBefore) / 1e6;
    await sealer.close();
    const cpuUs = cpu.user + cpu.system;
    return {
      records: options.chunks,
      cpuUs,
      cpuUsPerRecord: options.chunks === 0 ? 0 : cpuUs / options.chunks,
      wallMs,
    };
  } finally {
    if (options.workDir === undefined) await rm(base, { recursive: true, force: true });
  }
}

/** What measureCaptureCost measured. */
export interface CaptureCost {
  /** Frame bytes written in the measured run. */
  bytes: number;
  /** User + system CPU time of the measured run, microseconds. */
  cpuUs: number;
  /** cpuUs scaled to one chunk of `chunking.maxBytes` frame bytes. */
  cpuUsPerChunk: number;
  /** Chunk files committed by the measured run (the last one may be short). */
  chunks: number;
}

/**
 * CPU of the capture path alone (ChunkWriter: MCAP framing, SHA-256, compression probe, write,
 * fsync, rename) for `frames` frames of `frameBytes` random bytes, scaled to one full chunk.
 * Frames are made before the clock starts, and a short warm-up run is left out, so the figure is
 * the steady-state cost per chunk, not the bench's own set-up.
 */
export async function measureCaptureCost(options: {
  frames: number;
  frameBytes: number;
  chunking: ChunkingConfig;
  log: Logger;
}): Promise<CaptureCost> {
  const base = await mkdtemp(join(tmpdir(), 'rigcap-bench-capture-cost-'));
  try {
    // Random bytes stand for JPEG frames (incompressible), as in `rigcap bench capture`.
    const pool = Array.from(
      { length: Math.min(options.frames, 16) },
      () => new Uint8Array(randomBytes(options.frameBytes)),
    );
    const warmUpFrames = Math.min(options.frames, 32);
    await writeBenchFrames({
      dir: join(base, 'warm-up'),
      pool,
      frames: warmUpFrames,
      chunking: {
        ...options.chunking,
        maxBytes: Math.max(1, Math.floor((warmUpFrames * options.frameBytes) / 2)),
      },
      logger: options.log,
    });
    const before = process.cpuUsage();
    const chunks = await writeBenchFrames({
      dir: join(base, 'measured'),
      pool,
      frames: options.frames,
      chunking: options.chunking,
      logger: options.log,
    });
    const cpu = process.cpuUsage(before);
    const bytes = options.frames * options.frameBytes;
    const cpuUs = cpu.user + cpu.system;
    return {
      bytes,
      cpuUs,
      cpuUsPerChunk: bytes === 0 ? 0 : (cpuUs * options.chunking.maxBytes) / bytes,
      chunks,
    };
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}
