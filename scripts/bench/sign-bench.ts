// `rigcap bench sign`: the share of capture CPU spent building, signing and durably writing each
// chunk's record, at the chunk sizes the default config produces for two reference rigs (see
// rig-traffic.ts). A rig's chunk is found by writing its traffic, in capture-time order at its
// rates, through a ChunkWriter with the schema-default chunk limits (256 MiB, 60 s, zstd 3) until
// the writer commits its first file by its own rule (size or duration); the CPU of that file is
// the denominator. It counts the writer alone (MCAP framing, zstd, SHA-256, write, fsync, rename),
// not the driver or queue, so the share is an upper bound of what a running agent spends.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChunkingConfig } from '../../agent/config/types.ts';
import { RecordSealer } from '../../agent/keys/record-sealer.ts';
import type { Logger } from '../../agent/log.ts';
import { ChunkWriter } from '../../agent/pipeline/chunk-writer.ts';
import type { CommittedChunk } from '../../agent/pipeline/chunk-types.ts';
import type { StreamSummary } from '../../agent/records/predicates.ts';
import { chunkFileName } from '../../agent/records/index.ts';
import type { Sample } from '../../drivers/types.ts';
import { rigSchedule, rigTopics, type RigName, type RigTopic } from './rig-traffic.ts';

/** The schema defaults of `chunking`. */
export const defaultChunking: ChunkingConfig = {
  maxBytes: 256 * 1024 * 1024,
  maxDurationMs: 60_000,
  zstdLevel: 3,
  mcapChunkBytes: 4 * 1024 * 1024,
};

/** What measureSignCost measured. */
export interface SignCost {
  records: number;
  /** User + system CPU time of the whole run, microseconds. */
  cpuUs: number;
  cpuUsPerRecord: number;
  wallMs: number;
}

const defaultStreams: StreamSummary[] = [
  {
    topic: '/camera/front/image/compressed',
    type: 'sensor_msgs/msg/CompressedImage',
    count: 300,
    drops: { queue_full: 0 },
    upstreamLoss: 0,
  },
  { topic: '/lidar/points', type: 'sensor_msgs/msg/PointCloud2', count: 100, drops: {}, upstreamLoss: 0 },
  { topic: '/imu/data', type: 'sensor_msgs/msg/Imu', count: 2000, drops: {}, upstreamLoss: 0 },
];

/**
 * Seals `chunks` capture-chunk records (no chunk payloads are written) and returns the CPU cost.
 * `streams` and `chunkBytes` make the records look like a given rig's.
 */
export async function measureSignCost(options: {
  chunks: number;
  log: Logger;
  workDir?: string;
  streams?: readonly StreamSummary[];
  chunkBytes?: number;
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
    const streams = [...(options.streams ?? defaultStreams)];
    const cpuBefore = process.cpuUsage();
    const wallBefore = process.hrtime.bigint();
    for (let i = 1; i <= options.chunks; i++) {
      await sealer.sealChunk({
        chunkPath: join(base, 'spool', 'sessions', 'bench', chunkFileName(i)),
        sha256: i.toString(16).padStart(64, '0'),
        bytes: options.chunkBytes ?? 64 * 1024 * 1024,
        predicateFields: {
          sessionId: 'bench',
          chunkIndex: i,
          startNs: String(i * 1e9),
          endNs: String((i + 1) * 1e9),
          streams,
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

/** The first chunk a rig's traffic makes under `chunking`, and the writer's CPU for it. */
export interface RigChunk {
  /** File bytes of the committed chunk. */
  bytes: number;
  messages: number;
  /** Capture time the chunk spans, seconds. */
  seconds: number;
  /** Why the writer closed it: `size` or `duration`. */
  reason: string;
  /** User + system CPU of the process (thread pool included) while writing it, microseconds. */
  cpuUs: number;
  streams: StreamSummary[];
}

/** Writes `topics`' traffic through a ChunkWriter until it commits its first file; measures that file. */
export async function measureRigChunk(options: {
  topics: readonly RigTopic[];
  chunking: ChunkingConfig;
  log: Logger;
}): Promise<RigChunk> {
  const base = await mkdtemp(join(tmpdir(), 'rigcap-bench-rig-chunk-'));
  const startNs = 1_700_000_000n * 1_000_000_000n;
  try {
    // The chunk ends by size or by duration, so it never spans more than maxDurationMs of capture
    // time: build that much traffic before the clock starts (large messages come from pools).
    const horizonNs = startNs + BigInt(options.chunking.maxDurationMs) * 1_000_000n + 1_000_000_000n;
    const samples: Sample[] = [];
    for (const m of rigSchedule(options.topics, startNs)) {
      if (m.captureNs > horizonNs) break;
      samples.push({
        stream: m.topic.stream,
        topic: m.topic.topic,
        seq: m.seq,
        captureNs: m.captureNs,
        monoNs: m.captureNs,
        encoding: 'cdr',
        schemaRef: m.topic.type,
        data: m.topic.build(m.captureNs, m.seq),
      });
    }
    // Warm-up (JIT, thread pool, first file), left out of the figure.
    await writeUntilCommit({
      dir: join(base, 'warm-up'),
      topics: options.topics,
      samples: samples.slice(0, 2000),
      chunking: { ...options.chunking, maxBytes: 4 * 1024 * 1024 },
      log: options.log,
    });
    const before = process.cpuUsage();
    const committed = await writeUntilCommit({
      dir: join(base, 'measured'),
      topics: options.topics,
      samples,
      chunking: options.chunking,
      log: options.log,
    });
    const cpu = process.cpuUsage(before);
    if (committed === undefined)
      throw new Error('bench sign: the writer committed no chunk within its duration limit');
    return {
      bytes: committed.bytes,
      messages: committed.messages,
      seconds: Number(committed.endNs - committed.startNs) / 1e9,
      reason: committed.reason,
      cpuUs: cpu.user + cpu.system,
      streams: committed.streams.map((s) => ({
        topic: s.topic,
        type: options.topics.find((t) => t.topic === s.topic)?.type ?? '',
        count: s.count,
        drops: {},
        upstreamLoss: 0,
      })),
    };
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

/** Feeds samples one at a time (as a real-time rig does) until the first commit, then abandons the rest. */
async function writeUntilCommit(options: {
  dir: string;
  topics: readonly RigTopic[];
  samples: readonly Sample[];
  chunking: ChunkingConfig;
  log: Logger;
}): Promise<CommittedChunk | undefined> {
  let committed: CommittedChunk | undefined;
  const writer = new ChunkWriter({
    spoolDir: options.dir,
    sessionId: 'bench',
    chunking: options.chunking,
    logger: options.log,
    onCommit: (chunk) => {
      committed ??= chunk;
    },
  });
  for (const t of options.topics)
    writer.addStream({ name: t.stream, topic: t.topic, latched: t.latched, schema: t.schema });
  for (const sample of options.samples) {
    await writer.write(sample);
    if (committed !== undefined) break;
  }
  if (committed === undefined) await writer.close();
  await writer.destroy();
  return committed;
}

/** One rig's sign share and what it is made of. */
export interface RigSignShare {
  rig: RigName;
  share: number;
  chunk: Omit<RigChunk, 'streams'>;
  signCpuUsPerRecord: number;
}

/** Measures the sign share for `rig` at the default chunk limits. */
export async function benchSignRig(options: {
  rig: RigName;
  log: Logger;
  /** Records sealed for the numerator (alternated with nothing else; CPU is per process). */
  records?: number;
  /** Overrides the chunk limits (tests); the schema defaults otherwise. */
  chunking?: ChunkingConfig;
}): Promise<RigSignShare> {
  const topics = await rigTopics(options.rig);
  const chunk = await measureRigChunk({
    topics,
    chunking: options.chunking ?? defaultChunking,
    log: options.log,
  });
  const sign = await measureSignCost({
    chunks: options.records ?? 50,
    log: options.log,
    streams: chunk.streams,
    chunkBytes: chunk.bytes,
  });
  const { streams: _streams, ...chunkInfo } = chunk;
  return {
    rig: options.rig,
    share: sign.cpuUsPerRecord / (chunk.cpuUs + sign.cpuUsPerRecord),
    chunk: chunkInfo,
    signCpuUsPerRecord: sign.cpuUsPerRecord,
  };
}
