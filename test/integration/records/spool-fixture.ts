// Builds a small, valid spool for verifier tests: tiny MCAP chunks written with @mcap/core (zstd,
// indexed, calibration attachments), sealed with the real RecordSealer.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zstdCompressSync } from 'node:zlib';
import { McapWriter, TempBuffer } from '@mcap/core';
import { silentLogger } from '../../../agent/log.ts';
import { RecordSealer, type SealerClock } from '../../../agent/keys/index.ts';
import { chunkFileName } from '../../../agent/records/index.ts';

export const calibrationYaml =
  'camera_matrix: {rows: 3, cols: 3, data: [500, 0, 320, 0, 500, 240, 0, 0, 1]}\n';

/** A tiny indexed MCAP with a few JSON messages and one calibration attachment. */
export async function tinyMcap(options: { seed: number; calibration?: string }): Promise<Uint8Array> {
  const buffer = new TempBuffer();
  const writer = new McapWriter({
    writable: buffer,
    compressChunk: (data) => ({ compression: 'zstd', compressedData: zstdCompressSync(data) }),
  });
  await writer.start({ profile: '', library: 'rigcap-test' });
  const schemaId = await writer.registerSchema({
    name: 'imu',
    encoding: 'jsonschema',
    data: new TextEncoder().encode('{"type":"object"}'),
  });
  const channelId = await writer.registerChannel({
    topic: '/imu',
    schemaId,
    messageEncoding: 'json',
    metadata: new Map(),
  });
  for (let i = 0; i < 3; i++) {
    const t = BigInt(options.seed * 1000 + i) * 1_000_000n;
    await writer.addMessage({
      channelId,
      sequence: i,
      logTime: t,
      publishTime: t,
      data: new TextEncoder().encode(JSON.stringify({ seed: options.seed, i })),
    });
  }
  await writer.addAttachment({
    name: 'calibration/cam0.yaml',
    logTime: 0n,
    createTime: 0n,
    mediaType: 'application/yaml',
    data: new TextEncoder().encode(options.calibration ?? calibrationYaml),
  });
  await writer.end();
  return buffer.get();
}

/** A deterministic clock: every read advances by one millisecond. */
export function steppingClock(): SealerClock {
  let ns = 1_700_000_000_000_000_000n;
  return { monoNs: () => (ns += 1_000_000n) - 1_700_000_000_000_000_000n, wallNs: () => (ns += 1_000_000n) };
}

export interface FixtureSpool {
  rootDir: string;
  keysDir: string;
  sealer: RecordSealer;
}

/** Opens (or creates) a spool with its own key folder. */
export async function openSpool(options: {
  deviceId: string;
  rootDir?: string;
  keysDir?: string;
}): Promise<FixtureSpool> {
  const base = await mkdtemp(join(tmpdir(), 'rigcap-spool-'));
  const rootDir = options.rootDir ?? join(base, 'agent');
  const keysDir = options.keysDir ?? join(base, 'secrets');
  const sealer = await RecordSealer.open({
    rootDir,
    keysDir,
    signerId: options.deviceId,
    log: silentLogger(),
    keyPolicy: 'create-if-missing',
    bootId: 'test-boot',
    clock: steppingClock(),
  });
  return { rootDir, keysDir, sealer };
}

/** Writes and seals one chunk of a session. */
export async function writeChunk(
  spool: FixtureSpool,
  options: { sessionId: string; chunkIndex: number; seed: number; calibration?: string },
): Promise<string> {
  const bytes = await tinyMcap(
    options.calibration === undefined
      ? { seed: options.seed }
      : { seed: options.seed, calibration: options.calibration },
  );
  const dir = join(spool.rootDir, 'sessions', options.sessionId);
  await mkdir(dir, { recursive: true });
  const chunkPath = join(dir, chunkFileName(options.chunkIndex));
  await writeFile(chunkPath, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const calDigest = createHash('sha256').update(calibrationYaml).digest('hex');
  await spool.sealer.sealChunk({
    chunkPath,
    sha256,
    bytes: bytes.byteLength,
    predicateFields: {
      sessionId: options.sessionId,
      chunkIndex: options.chunkIndex,
      startNs: String(options.seed * 1_000_000_000),
      endNs: String(options.seed * 1_000_000_000 + 2_000_000),
      streams: [
        { topic: '/imu', type: 'sensor_msgs/msg/Imu', count: 3, drops: { queue_full: 0 }, upstreamLoss: 0 },
      ],
      timesync: {
        source: 'chrony',
        startNs: '0',
        endNs: '2000000',
        intervals: [{ state: 'locked', startNs: '0', endNs: '2000000' }],
        offsetNs: { min: '-900', max: '1200', mean: '40', p95: '1100' },
        dispersionNs: null,
        samples: 2,
        steps: [],
        stateAtEnd: 'locked',
      },
      calibration: [{ sensor: 'cam0', digest: `sha256:${calDigest}`, version: 1 }],
      transforms: [
        {
          kind: 'deid',
          modelDigests: {},
          paramsDigest: 'x',
          framesIn: 0,
          framesDetected: 0,
          framesFailed: 0,
          onFailure: 'drop',
        },
      ],
      producer: { rigcapVersion: '0.1.0', configDigest: 'c0ffee' },
      policy: { residency: 'EU', retentionDays: 30, purpose: 'test' },
    },
  });
  return chunkPath;
}

/**
 * The standard fixture: session s1 (3 chunks, closed), then session s2 (2 chunks, current) and a
 * heartbeat. Returns the spool; the chain is: enrol, open s1, c1..c3, close s1, open s2, c1, c2, heartbeat.
 */
export async function standardSpool(options: { deviceId?: string } = {}): Promise<FixtureSpool> {
  const spool = await openSpool({ deviceId: options.deviceId ?? 'rig-a' });
  const s = spool.sealer;
  await s.openSession({ sessionId: 's1', rigId: 'rig-a', startNs: 1n });
  for (let i = 1; i <= 3; i++) await writeChunk(spool, { sessionId: 's1', chunkIndex: i, seed: i });
  await s.closeSession({ sessionId: 's1', endNs: 10n, reason: 'stop' });
  await s.openSession({ sessionId: 's2', rigId: 'rig-a', startNs: 20n });
  for (let i = 1; i <= 2; i++) await writeChunk(spool, { sessionId: 's2', chunkIndex: i, seed: 10 + i });
  await s.heartbeat({ status: { backlog: 0 } });
  return spool;
}
