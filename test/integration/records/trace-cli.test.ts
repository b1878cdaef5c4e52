// `rigcap trace` on a spool captured from the sim rig by the real agent, on the store it synced to
// through a real receiver, and on an exported bundle: the same signed conditions from each, an
// answer only when the records and the chunk verify, and exit 2 with a code for bad questions.
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Agent } from '../../../agent/agent.ts';
import { parseConfig } from '../../../agent/config/load.ts';
import { silentLogger } from '../../../agent/log.ts';
import { markMetadata } from '../../../agent/ops/markers.ts';
import {
  decodeRecord,
  recordFileName,
  type CaptureChunkPredicate,
  type DecodedRecord,
} from '../../../agent/records/index.ts';
import type { TraceAnswer } from '../../../agent/records/trace.ts';
import { openSyncService, syncUntilEmpty } from '../../../agent/sync/sync-service.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { startSimRig, simTopics } from '../../../scripts/sim-rig/index.ts';
import { runCli } from '../../support/cli.ts';
import { simAgentConfig } from '../agent/sim-config.ts';

const sensors = { frontCamera: true, rearCamera: false, lidar: true, imu: true, gnss: false, tf: false };
const calibDir = join(import.meta.dirname, '..', '..', '..', 'config', 'calibration', 'sim');
const token = 'enrol-token-0123456789';

let dir = '';
let spool = '';
let store = '';
let bundle = '';
let sessionId = '';
let receiver: ReceiverHandle | undefined;
let chunk: DecodedRecord;
let markAtNs = 0n;

type TraceJson = TraceAnswer & { ok: true; verified: { records: boolean; chunkFile: string } };

async function trace(...argv: string[]): Promise<{ code: number; doc: TraceJson; stderr: string }> {
  const r = await runCli(['trace', ...argv, '--json']);
  return { code: r.code, doc: JSON.parse(r.stdout) as TraceJson, stderr: r.stderr };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rigcap-trace-'));
  spool = join(dir, 'spool');
  store = join(dir, 'store');
  receiver = await startReceiver({
    dataDir: store,
    host: '127.0.0.1',
    port: 0,
    enrollTokens: [token],
    log: silentLogger(),
  });
  const rig = await startSimRig({
    endpoint: 'tcp://127.0.0.1:0',
    socket: 'push',
    sensors,
    camera: { width: 160, height: 96, frames: 2 },
    lidar: { points: 2000 },
    ratesHz: Object.fromEntries(simTopics.map((t) => [t.topic, 40])),
    messagesPerTopic: 60,
    waitForSubscribers: 0,
  });
  const config = {
    ...simAgentConfig({
      spoolDir: spool,
      keysDir: join(dir, 'secrets'),
      endpoint: rig.endpoint,
      socket: 'pull',
      sensors,
    }),
    calibration: {
      files: ['cam_front.yaml', 'imu.yaml', 'lidar.yaml'].map((f) => join(calibDir, f)),
      watchIntervalMs: 0,
    },
    sync: {
      enabled: false,
      storeUrl: receiver.url,
      enrollToken: token,
      storeKey: receiver.key.signer.keyId,
      backoffMinMs: 50,
      backoffMaxMs: 500,
    },
  };
  const parsed = parseConfig(stringify(config), { baseDir: dir });
  const agent = new Agent({ config: parsed.config, configDigest: parsed.digest, log: silentLogger() });
  try {
    await agent.start(new AbortController().signal);
    const first = new Promise<void>((r) => setTimeout(r, 600));
    await first;
    markAtNs = BigInt(Date.now()) * 1_000_000n;
    const mark = {
      id: 'm1',
      text: 'pedestrian <b>&</b> cone',
      tags: ['near-miss'],
      source: 'cli' as const,
      wallNs: markAtNs,
      monoNs: process.hrtime.bigint(),
    };
    const meta = markMetadata(mark);
    await agent.addMarker({
      ...mark,
      metadata: { name: meta.name, metadata: Object.fromEntries(meta.metadata) },
    });
    await rig.done;
    await new Promise((r) => setTimeout(r, 500));
    await agent.stop();
    sessionId = agent.sessionId!;
  } finally {
    await agent.destroy();
    await rig.stop();
  }
  const service = openSyncService({ sync: parsed.config.sync, spoolDir: spool, log: silentLogger() });
  const drained = await syncUntilEmpty({ service, timeoutMs: 60_000 });
  await service.close();
  expect(drained.empty).toBe(true);

  // The chunk record of the lidar stream nearest the marker.
  const files = (await readdir(join(spool, 'sessions', sessionId))).filter((f) =>
    f.endsWith('.mcap.dsse.json'),
  );
  const records = await Promise.all(
    files.map(async (f) => {
      const d = decodeRecord(new Uint8Array(await readFile(join(spool, 'sessions', sessionId, f))));
      if (!d.ok) throw new Error(d.reason);
      return d.record;
    }),
  );
  const withLidar = records.filter((r) =>
    (r.predicate as unknown as CaptureChunkPredicate).streams.some(
      (s) => s.topic === '/lidar/points' && s.count > 0,
    ),
  );
  chunk = withLidar[0]!;
  bundle = join(dir, 'session.intoto.jsonl');
  expect(
    (await runCli(['export', sessionId, '--format', 'intoto', '--out', bundle, '--spool', store])).code,
  ).toBe(0);
}, 240_000);

afterAll(async () => {
  await receiver?.close();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

const mid = (r: DecodedRecord): string => {
  const p = r.predicate as unknown as CaptureChunkPredicate;
  return String((BigInt(p.startNs) + BigInt(p.endNs)) / 2n);
};

describe('rigcap trace on a sim-rig capture', () => {
  it('answers from the spool, the store after sync and an exported bundle with the same signed conditions', async () => {
    const at = mid(chunk);
    const args = ['--session', sessionId, '--topic', '/lidar/points', '--at', at, '--window', '3600'];
    const fromSpool = await trace(spool, ...args);
    const fromStore = await trace(store, ...args);
    const fromBundle = await trace(bundle, ...args);
    for (const r of [fromSpool, fromStore, fromBundle]) expect(r.code, r.stderr).toBe(0);
    const a = fromStore.doc;
    expect(a.chunk.sha256).toBe(chunk.subject[0]!.digest.sha256);
    expect(a.chunk.record.seq).toBe(chunk.chain.seq);
    expect(a.device.deviceId).toBe('agent-test-rig');
    expect(a.device.keyRecord?.seq).toBe(1);
    expect(a.calibration.find((c) => c.sensor === 'lidar')?.coversTopic).toBe(true);
    // No time service on the test rig: the clock state says so.
    expect(a.clock.state).toBe('unsynced');
    expect(a.streams.some((s) => s.topic === '/lidar/points')).toBe(true);
    expect(a.markers.map((m) => m.label)).toEqual(['pedestrian <b>&</b> cone']);
    expect(a.markers[0]!.atNs).toBe(String(markAtNs));
    // The store signed a custody receipt with a log index; the store has its key, the spool keeps the receipt.
    expect(a.receipts).toHaveLength(1);
    expect(a.receipts[0]!.signature).toBe('verified');
    expect(typeof a.receipts[0]!.log.index).toBe('number');
    expect(fromSpool.doc.receipts.map((r) => r.log)).toEqual(a.receipts.map((r) => r.log));
    expect(fromStore.doc.verified.chunkFile).toBe('hash verified');
    expect(fromSpool.doc.verified.chunkFile).toBe('hash verified');
    expect(fromBundle.doc.verified.chunkFile).toBe('chunk file not in a bundle');
    // Everything else is the same signed fact from each place.
    const facts = (d: TraceJson) => ({ ...d, receipts: d.receipts.map((r) => r.log), verified: undefined });
    expect(facts(fromSpool.doc)).toEqual(facts(a));
    expect(facts(fromBundle.doc)).toEqual(facts(a));

    const human = await runCli(['trace', store, ...args]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/clock +unsynced/);
    expect(human.stdout).toMatch(/receipt +\S+ seq \d+, log index \d+/);
  });

  it('--chunk SHA256 finds the chunk without a session or time', async () => {
    const r = await trace(store, '--chunk', chunk.subject[0]!.digest.sha256);
    expect(r.code, r.stderr).toBe(0);
    expect(r.doc.sessionId).toBe(sessionId);
    expect(r.doc.chunk.chunkIndex).toBe((chunk.predicate as unknown as CaptureChunkPredicate).chunkIndex);
  });

  it('an unknown session, a malformed time or an instant outside the session is exit 2 with a code', async () => {
    const at = mid(chunk);
    const unknown = await runCli([
      'trace',
      store,
      '--session',
      'nope',
      '--topic',
      '/lidar/points',
      '--at',
      at,
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/RIGCAP_SESSION_UNKNOWN/);
    for (const bad of ['yesterday', '12.5', '2026-13-45T99:00:00Z', '-5']) {
      const r = await runCli([
        'trace',
        store,
        '--session',
        sessionId,
        '--topic',
        '/lidar/points',
        '--at',
        bad,
      ]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toMatch(/RIGCAP_USAGE/);
    }
    const outside = await runCli([
      'trace',
      store,
      '--session',
      sessionId,
      '--topic',
      '/lidar/points',
      '--at',
      '1',
    ]);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/RIGCAP_TRACE_NOT_FOUND/);
    expect((await runCli(['trace', store, '--session', sessionId])).code).toBe(2);
  });

  it('a tampered chunk gives a verify failure (exit 1, RIGCAP_TRACE_UNVERIFIED) and never an answer', async () => {
    const copy = join(dir, 'tampered-store');
    await cp(store, copy, { recursive: true });
    const path = join(copy, 'sessions', sessionId, chunk.subject[0]!.name);
    const bytes = await readFile(path);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await writeFile(path, bytes);
    const r = await runCli([
      'trace',
      copy,
      '--session',
      sessionId,
      '--topic',
      '/lidar/points',
      '--at',
      mid(chunk),
      '--json',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/VERIFY_DIGEST_MISMATCH/);
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string } };
    expect(doc).toMatchObject({ ok: false, error: { code: 'RIGCAP_TRACE_UNVERIFIED' } });
    expect(r.stdout).not.toMatch(/"clock"/);
  });

  it('an altered record, in a store or in a bundle, also refuses an answer', async () => {
    const args = ['--session', sessionId, '--topic', '/lidar/points', '--at', mid(chunk)];
    for (const at of [0.3, 0.6]) {
      const copy = join(dir, `altered-record-${at}`);
      await cp(store, copy, { recursive: true });
      const path = join(copy, 'records', chunk.chain.deviceId, recordFileName(chunk.chain.seq));
      const bytes = await readFile(path);
      const i = Math.floor(bytes.length * at);
      bytes[i] = bytes[i] === 0x41 ? 0x42 : 0x41;
      await writeFile(path, bytes);
      const r = await runCli(['trace', copy, ...args]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/RIGCAP_TRACE_UNVERIFIED/);
      expect(r.stdout).toBe('');
    }
    const lines = (await readFile(bundle, 'utf8')).split('\n');
    const line = lines.findIndex((l) => l.includes(chunk.envelope.signatures[0]!.sig));
    lines[line] = lines[line]!.replace(/"sig":"(.)/, (_m, c: string) => `"sig":"${c === 'A' ? 'B' : 'A'}`);
    const altered = join(dir, 'altered.intoto.jsonl');
    await writeFile(altered, lines.join('\n'));
    const r = await runCli(['trace', altered, ...args]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/VERIFY_BAD_SIGNATURE/);
  });
});
