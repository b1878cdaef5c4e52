// A chunk signed by crash recovery carries the calibration, clock and stream facts a normal seal
// gives it, read back from the chunk itself; what cannot be read back is named in its record; and
// the project's verifier accepts exactly those records.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CalibrationRegistry, openSpoolCalibrationHistory } from '../../../agent/calib/index.ts';
import { Catalog } from '../../../agent/catalog/catalog.ts';
import { parseConfig } from '../../../agent/config/load.ts';
import { FsSource } from '../../../agent/keys/fs-source.ts';
import { RecordSealer } from '../../../agent/keys/index.ts';
import { silentLogger } from '../../../agent/log.ts';
import { ChunkWriter } from '../../../agent/pipeline/chunk-writer.ts';
import type { CommittedChunk } from '../../../agent/pipeline/chunk-types.ts';
import { readChunkFacts } from '../../../agent/pipeline/mcap-read.ts';
import { sealCommittedChunk, type ChunkSealOptions } from '../../../agent/pipeline/seal.ts';
import type {
  CalibrationRef,
  CaptureChunkPredicate,
  TimesyncSummary,
  TransformLineage,
} from '../../../agent/records/predicates.ts';
import { verifyTree } from '../../../agent/records/verify.ts';
import { recoverSpool } from '../../../agent/recovery.ts';
import {
  timesyncMetadata,
  timesyncMetadataName,
  unknownClockSummary,
} from '../../../agent/timesync/index.ts';
import { chunking, sample, streams } from '../pipeline/helpers.ts';
import { calibrationYaml, openSpool, tinyMcap } from '../records/spool-fixture.ts';
import { simAgentConfigYaml } from './sim-config.ts';

const calibDir = join(import.meta.dirname, '..', '..', '..', 'config', 'calibration', 'sim');
const calibFiles = ['imu.yaml', 'lidar.yaml'].map((f) => join(calibDir, f));
const sessionId = '20260101T000000Z-abcdef';
const log = silentLogger();

let work: string | undefined;
afterEach(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
  work = undefined;
});

/** The clock summary a live agent would have taken for a window (locked, one sample). */
function lockedWindow(startNs: bigint, endNs: bigint): TimesyncSummary {
  return {
    source: 'chrony',
    startNs: String(startNs),
    endNs: String(endNs),
    intervals: [{ state: 'locked', startNs: String(startNs), endNs: String(endNs) }],
    offsetNs: { min: '-120', max: '340', mean: '80', p95: '300' },
    dispersionNs: null,
    samples: 3,
    steps: [],
    stateAtEnd: 'locked',
  };
}

async function chunkPredicate(spool: string, name: string): Promise<CaptureChunkPredicate> {
  const env = JSON.parse(await readFile(join(spool, 'sessions', sessionId, `${name}.dsse.json`), 'utf8')) as {
    payload: string;
  };
  return (
    JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicate: CaptureChunkPredicate }
  ).predicate;
}

describe('crash recovery signs chunks from the facts they carry', () => {
  it('a committed-but-unsigned chunk and a salvaged partial get the calibration, clock and streams of a normal seal, and verify', async () => {
    work = await mkdtemp(join(tmpdir(), 'rigcap-recovery-records-'));
    const spool = join(work, 'spool');
    const keysDir = join(work, 'secrets');
    const { config, digest } = parseConfig(
      simAgentConfigYaml({ spoolDir: spool, keysDir, endpoint: 'tcp://127.0.0.1:1' }),
      { baseDir: work },
    );

    // --- the run that crashes -------------------------------------------------------------
    await mkdir(spool, { recursive: true });
    let catalog = Catalog.open({ path: join(spool, 'catalog.sqlite'), logger: log });
    let sealer = await RecordSealer.open({
      rootDir: spool,
      keysDir,
      signerId: config.rig.id,
      log,
      keyPolicy: 'create-if-missing',
    });
    const history = openSpoolCalibrationHistory(spool, { readonly: false });
    const calib = new CalibrationRegistry({ logger: log, store: history.store });
    await calib.load(calibFiles);
    catalog.openSession({ id: sessionId, rigId: config.rig.id, startedNs: 1n });
    await sealer.openSession({ sessionId, rigId: config.rig.id, startNs: 1n });
    const sealOptions = (): ChunkSealOptions => ({
      config,
      streams: streams.map((s) => ({ name: s.name, topic: s.topic, type: s.schema.name })),
      configDigest: digest,
      rigcapVersion: 'test',
      sealer,
      catalog,
      log,
    });
    const clockByChunk = new Map<number, TimesyncSummary>();
    const committed: CommittedChunk[] = [];
    const writer = new ChunkWriter({
      spoolDir: spool,
      sessionId,
      chunking: chunking({ maxBytes: 1 << 30, mcapChunkBytes: 4 * 1024 }),
      logger: log,
      hooks: {
        atOpen: () => ({ attachments: calib.attachments() }),
        beforeClose: (info) => {
          const summary = lockedWindow(info.startNs, info.endNs);
          clockByChunk.set(info.chunkIndex, summary);
          return {
            metadata: [
              { name: timesyncMetadataName, metadata: Object.fromEntries(timesyncMetadata(summary)) },
            ],
          };
        },
      },
      onCommit: async (chunk) => {
        committed.push(chunk);
        const drops = { imu: { queue_full: 3 } };
        // chunk 1: sealed normally (the reference); chunk 2: killed after the catalog row, before the
        // record; chunk 3: killed right after the rename (no row, no record).
        if (chunk.chunkIndex <= 2)
          catalog.addChunk(chunk, {
            relativePath: join('sessions', sessionId, chunk.name),
            origin: 'writer',
            drops,
          });
        if (chunk.chunkIndex === 1)
          await sealCommittedChunk(sealOptions(), chunk, {
            window: new Map([['imu', { received: 0, written: 0, bytesWritten: 0, drops: drops.imu }]]),
            timesync: clockByChunk.get(1)!,
            calibration: calib.refs(),
            transforms: [],
          });
      },
    });
    for (const s of streams) writer.addStream(s);
    // Three chunks committed on request (each next file opens with the tf_static replay)...
    let seq = 0;
    for (let chunk = 1; chunk <= 3; chunk++) {
      for (let i = 0; i < 30; i++, seq++)
        await writer.write(sample(streams[seq % 3]!, seq, BigInt(seq + 1) * 1_000_000n, 700));
      await writer.rotate('test');
    }
    expect(committed.map((c) => c.name)).toEqual([
      'chunk-000001.mcap',
      'chunk-000002.mcap',
      'chunk-000003.mcap',
    ]);
    // ...and chunk 4 cut off mid-file: its .partial holds the attachments and some inner chunks.
    for (let i = 0; i < 30; i++, seq++)
      await writer.write(sample(streams[seq % 3]!, seq, BigInt(seq + 1) * 1_000_000n, 700));
    await writer.destroy();
    history.close();
    catalog.close();
    await sealer.close();
    expect((await readdir(join(spool, 'sessions', sessionId))).sort()).toContain('chunk-000004.mcap.partial');
    const before = await verifyTree(new FsSource(spool));
    expect(before.failures.map((f) => `${f.code} ${f.file}`)).toEqual([
      `VERIFY_UNSIGNED_CHUNK sessions/${sessionId}/chunk-000002.mcap`,
      `VERIFY_UNSIGNED_CHUNK sessions/${sessionId}/chunk-000003.mcap`,
    ]);
    expect(before.failures[0]?.reason).toMatch(/current session/);

    // --- the restart -----------------------------------------------------------------------
    catalog = Catalog.open({ path: join(spool, 'catalog.sqlite'), logger: log });
    sealer = await RecordSealer.open({
      rootDir: spool,
      keysDir,
      signerId: config.rig.id,
      log,
      keyPolicy: 'require-existing',
    });
    const noted: string[] = [];
    await recoverSpool({
      catalog,
      sealer,
      spoolDir: spool,
      rigId: config.rig.id,
      log,
      sealOptions,
      noteError: (code) => noted.push(code),
    });
    catalog.close();
    await sealer.close();
    expect(noted).toEqual(['RIGCAP_CHUNK_SALVAGED']);

    const report = await verifyTree(new FsSource(spool));
    expect(report.failures).toEqual([]);
    expect(report.checked.chunks).toBe(4);

    const normal = await chunkPredicate(spool, 'chunk-000001.mcap');
    expect(normal.calibration.map((c) => c.sensor)).toEqual(['imu', 'lidar']);
    for (const name of ['chunk-000002.mcap', 'chunk-000003.mcap', 'chunk-000004.mcap']) {
      const p = await chunkPredicate(spool, name);
      // Same sensors, digests and versions as the normal seal: the attachments did not change.
      expect(p.calibration, name).toEqual(normal.calibration);
      expect(p.transforms[0]).toMatchObject({ kind: 'recovery' });
    }

    const two = await chunkPredicate(spool, 'chunk-000002.mcap');
    const twoFile = committed[1]!;
    expect(two.timesync).toEqual(clockByChunk.get(2));
    expect(two.startNs).toBe(String(twoFile.startNs));
    expect(two.endNs).toBe(String(twoFile.endNs));
    // Stream counts as the writer had them, latched replays included, and the drops the row kept.
    expect(two.streams).toEqual(
      streams
        .map((s) => twoFile.streams.find((x) => x.stream === s.name)!)
        .map((s) => ({
          topic: s.topic,
          type: s.type,
          count: s.count,
          drops: s.stream === 'imu' ? { queue_full: 3 } : {},
          upstreamLoss: 0,
          ...(s.latchedReplays > 0 ? { latchedReplays: s.latchedReplays } : {}),
        })),
    );
    expect(twoFile.streams.find((s) => s.stream === 'tf_static')?.latchedReplays).toBe(1);
    expect(two.transforms[0]).toMatchObject({
      origin: 'committed',
      recovered: ['calibration', 'calibration.version', 'timesync', 'drops'],
      unrecovered: ['transforms'],
    });

    const three = await chunkPredicate(spool, 'chunk-000003.mcap');
    expect(three.timesync).toEqual(clockByChunk.get(3));
    expect(three.streams.every((s) => Object.keys(s.drops).length === 0)).toBe(true);
    expect(three.transforms[0]).toMatchObject({ unrecovered: ['drops', 'transforms'] });

    // The partial never reached its close: no clock summary in it, and the record says so.
    const four = await chunkPredicate(spool, 'chunk-000004.mcap');
    expect(four.timesync).toMatchObject({ source: 'none', samples: 0, stateAtEnd: 'unsynced' });
    expect(four.transforms[0]).toMatchObject({
      origin: 'salvaged',
      recovered: ['calibration', 'calibration.version'],
      unrecovered: ['timesync', 'drops', 'transforms'],
      salvage: { source: 'chunk-000004.mcap.partial' },
    });
    const facts = await readChunkFacts(join(spool, 'sessions', sessionId, 'chunk-000004.mcap'));
    expect(four.streams.reduce((n, s) => n + s.count, 0)).toBe(facts.messages);
  });

  it('the verifier accepts a calibration attachment missing from a record only when the record says calibration was not recovered', async () => {
    const spool = await openSpool({ deviceId: 'rig-r' });
    work = join(spool.rootDir, '..');
    await spool.sealer.openSession({ sessionId: 's1', rigId: 'rig-r', startNs: 1n });
    const attachmentDigest = createHash('sha256').update(calibrationYaml).digest('hex');
    const recovery = (unrecovered: string[] | undefined): Record<string, unknown> => ({
      kind: 'recovery',
      note: 'signed after a restart',
      ...(unrecovered === undefined ? {} : { unrecovered }),
    });
    const cases: Array<{ calibration: CalibrationRef[]; transforms: Array<Record<string, unknown>> }> = [
      // 1: states calibration unrecovered, names none: accepted.
      { calibration: [], transforms: [recovery(['calibration', 'timesync'])] },
      // 2: an older agent's recovery entry (no list: nothing recovered): accepted.
      { calibration: [], transforms: [recovery(undefined)] },
      // 3: recovered calibration stated, attachment not named: rejected.
      { calibration: [], transforms: [recovery(['timesync'])] },
      // 4: no recovery at all, attachment not named: rejected.
      { calibration: [], transforms: [] },
      // 5: says unrecovered but names a wrong digest: a named ref must still match.
      {
        calibration: [{ sensor: 'cam0', digest: 'f'.repeat(64), version: 1 }],
        transforms: [recovery(['calibration'])],
      },
      // 6: names the attachment right: accepted.
      { calibration: [{ sensor: 'cam0', digest: attachmentDigest, version: 1 }], transforms: [] },
    ];
    for (const [i, c] of cases.entries()) {
      const bytes = await tinyMcap({ seed: i + 1 });
      const dir = join(spool.rootDir, 'sessions', 's1');
      await mkdir(dir, { recursive: true });
      const chunkPath = join(dir, `chunk-00000${i + 1}.mcap`);
      await writeFile(chunkPath, bytes);
      await spool.sealer.sealChunk({
        chunkPath,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        bytes: bytes.byteLength,
        predicateFields: {
          sessionId: 's1',
          chunkIndex: i + 1,
          startNs: '0',
          endNs: '0',
          streams: [],
          timesync: unknownClockSummary({ startNs: 0n, endNs: 0n }),
          calibration: c.calibration,
          transforms: c.transforms as TransformLineage[],
          producer: { rigcapVersion: 'test', configDigest: 'x' },
          policy: { residency: 'EU', retentionDays: 1, purpose: 'test' },
        },
      });
    }
    const report = await verifyTree(new FsSource(spool.rootDir));
    expect(report.failures.map((f) => `${f.code} ${f.file}`)).toEqual([
      'VERIFY_CALIBRATION_MISMATCH sessions/s1/chunk-000003.mcap',
      'VERIFY_CALIBRATION_MISMATCH sessions/s1/chunk-000004.mcap',
      'VERIFY_CALIBRATION_MISMATCH sessions/s1/chunk-000005.mcap',
    ]);
  });
});
