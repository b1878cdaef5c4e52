// Store retention with an injected clock: a receiver stating region eu-west takes chunks of a
// 7-day and a 30-day purpose (and a held session) from devices that allow only eu-west; a device
// allowing only us-east-1 sends it no blob byte. `rigcap store expire --now` ten days on deletes
// the 7-day chunk with a signed retention-action, keeps the 30-day one and the held session, and
// `rigcap verify STORE` still passes; a blob missing without such a record fails it.
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsSource } from '../../../agent/keys/index.ts';
import { silentLogger } from '../../../agent/log.ts';
import { serializeEnvelope, type DsseEnvelope } from '../../../agent/records/dsse.ts';
import { canonicalBytes, verifyTree } from '../../../agent/records/index.ts';
import type { UploadScheduler } from '../../../agent/sync/scheduler.ts';
import { isBlobExpired } from '../../../receiver/retention/store-retention.ts';
import { openReceiverState } from '../../../receiver/state/open.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { runCli } from '../../support/cli.ts';
import { waitFor } from '../../support/wait.ts';
import { FakeDevice } from '../sync/fake-device.ts';
import { spoolScheduler, syncSpool } from '../sync/spool-sync.ts';

const tokens = [
  'tok-ret-training-0123456789',
  'tok-ret-audit-0123456789',
  'tok-ret-held-0123456789',
  'tok-ret-us-0123456789',
];
let root: string;
let store: string;
let receiver: ReceiverHandle;
const chunks: Record<string, { session: string; sha256: string }> = {};

function scheduler(spool: string, allowedRegions: string[], enrollToken: string): UploadScheduler {
  return spoolScheduler({ spool, baseUrl: receiver.url, enrollToken, allowedRegions });
}

const blobFiles = (): string[] => {
  const dir = join(store, 'blobs', 'sha256');
  return existsSync(dir) ? readdirSync(dir) : [];
};

async function capture(label: string, purpose: string, token: string): Promise<void> {
  const spool = join(root, `spool-${label}`);
  const dev = new FakeDevice({ deviceId: `rig-${label}`, spoolDir: spool, sessionId: `s-${label}` });
  dev.enrol();
  dev.openSession();
  const { sha256 } = dev.chunk({ bytes: 50_000, purpose });
  chunks[label] = { session: dev.sessionId, sha256 };
  await syncSpool({ spool, baseUrl: receiver.url, enrollToken: token, allowedRegions: ['eu-west'] });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'rigcap-retention-'));
  store = join(root, 'store');
  receiver = await startReceiver({
    dataDir: store,
    host: '127.0.0.1',
    port: 0,
    enrollTokens: tokens,
    region: 'eu-west',
    log: silentLogger(),
  });
  await capture('training', 'training', tokens[0]!);
  await capture('audit', 'audit', tokens[1]!);
  await capture('held', 'training', tokens[2]!);
});
afterAll(async () => {
  await receiver.close();
  rmSync(root, { recursive: true, force: true });
});

const policy = (): string => {
  const file = join(root, 'policy.json');
  writeFileSync(file, JSON.stringify({ defaultDays: null, purposes: { training: 7, audit: 30 } }));
  return file;
};
const inDays = (days: number): string => new Date(Date.now() + days * 86_400_000).toISOString();

/** `rigcap store expire` on the store as if `days` days from now; it must succeed. */
async function expireAt(days: number): Promise<{
  deleted: Array<{ session: string; reason: string }>;
  held: Array<{ session: string }>;
}> {
  const r = await runCli([
    'store',
    'expire',
    '--data',
    store,
    '--policy',
    policy(),
    '--now',
    inDays(days),
    '--json',
  ]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Awaited<ReturnType<typeof expireAt>>;
}

describe('store region and retention', () => {
  it('states its region in the store answer and every receipt; a device allowing only us-east-1 sends no blob byte', async () => {
    const answer = (await (await fetch(`${receiver.url}/v1/store`)).json()) as { region?: string };
    expect(answer.region).toBe('eu-west');
    const enrol = JSON.parse(
      readFileSync(join(store, 'records', receiver.storeId, '000000000001.dsse.json'), 'utf8'),
    ) as { payload: string };
    expect(JSON.parse(Buffer.from(enrol.payload, 'base64').toString())).toMatchObject({
      predicateType: 'https://rigcap.dev/device-key/v1',
      predicate: { action: 'enrol', region: 'eu-west' },
    });
    const receipts = readdirSync(join(store, 'records', receiver.storeId)).filter(
      (n) => !n.startsWith('000000000001'),
    );
    expect(receipts.length).toBeGreaterThan(0);
    for (const n of receipts) {
      const env = JSON.parse(readFileSync(join(store, 'records', receiver.storeId, n), 'utf8')) as {
        payload: string;
      };
      const st = JSON.parse(Buffer.from(env.payload, 'base64').toString()) as {
        predicate: { region?: string };
      };
      expect(st.predicate.region).toBe('eu-west');
    }
    const before = blobFiles().length;
    const spool = join(root, 'spool-us');
    const dev = new FakeDevice({ deviceId: 'rig-us', spoolDir: spool });
    dev.enrol();
    dev.openSession();
    dev.chunk({ bytes: 50_000 });
    const s = scheduler(spool, ['us-east-1'], tokens[3]!);
    await expect(s.drain({ untilMs: Date.now() + 10_000 })).rejects.toMatchObject({
      code: 'RIGCAP_SYNC_REGION_NOT_ALLOWED',
    });
    expect(s.backlog().blocked).toMatchObject({ storeRegion: 'eu-west' });
    await s.close();
    expect(blobFiles().length).toBe(before);
  });

  it('a receipt whose region was rewritten after signing fails verify; a bad --region is a usage error', async () => {
    const copy = join(root, 'store-forged');
    cpSync(store, copy, { recursive: true });
    const dir = join(copy, 'records', receiver.storeId);
    const file = join(dir, readdirSync(dir).sort()[1]!);
    const env = JSON.parse(readFileSync(file, 'utf8')) as DsseEnvelope;
    const st = JSON.parse(Buffer.from(env.payload, 'base64').toString()) as { predicate: { region: string } };
    expect(st.predicate.region).toBe('eu-west');
    st.predicate.region = 'us-east-1';
    writeFileSync(
      file,
      serializeEnvelope({
        ...env,
        payload: Buffer.from(canonicalBytes(st)).toString('base64'),
      } as DsseEnvelope),
    );
    const report = await verifyTree(new FsSource(copy));
    expect(report.failures.filter((f) => f.file.includes(receiver.storeId)).map((f) => f.code)).toContain(
      'VERIFY_BAD_SIGNATURE',
    );
    const bad = await runCli(['receiver', '--listen', '127.0.0.1:0', '--data', copy, '--region', 'eu west']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--region eu west/);
  });

  it('a 7-day purpose expires and a 30-day one does not; a held session survives; verify STORE passes after', async () => {
    await receiver.close();
    // The fixture's chunks are random bytes, not MCAP: verify reports each present one as unreadable.
    // Before expiry that is its only complaint, one per chunk; after, the same minus the deleted one.
    const baseline = (await verifyTree(new FsSource(store))).failures;
    expect(baseline.map((f) => f.file).sort()).toEqual(
      ['audit', 'held', 'training'].map((l) => `sessions/s-${l}/chunk-000001.mcap`),
    );
    expect(new Set(baseline.map((f) => f.reason.split(':')[0]))).toEqual(
      new Set(['not a readable indexed MCAP']),
    );
    const kept = (...labels: string[]) =>
      baseline.filter((f) => labels.some((l) => f.file === `sessions/s-${l}/chunk-000001.mcap`));
    const hold = await runCli([
      'store',
      'hold',
      '--data',
      store,
      '--session',
      chunks['held']!.session,
      '--note',
      'case 42',
    ]);
    expect(hold.code, hold.stderr).toBe(0);
    expect((await expireAt(3)).deleted).toEqual([]);

    const result = await expireAt(10);
    expect(result.deleted.map((d) => d.session)).toEqual([chunks['training']!.session]);
    expect(result.deleted[0]!.reason).toMatch(/purpose training keeps 7 days/);
    expect(result.held.map((h) => h.session)).toEqual([chunks['held']!.session]);
    const blobs = blobFiles();
    expect(blobs).not.toContain(chunks['training']!.sha256);
    expect(blobs).toContain(chunks['audit']!.sha256);
    expect(blobs).toContain(chunks['held']!.sha256);

    expect((await verifyTree(new FsSource(store))).failures).toEqual(kept('audit', 'held'));
    const { state } = await openReceiverState({ dataDir: store, log: silentLogger() });
    try {
      expect(await isBlobExpired(state, chunks['training']!.sha256)).toBe(true);
      expect(await isBlobExpired(state, chunks['audit']!.sha256)).toBe(false);
    } finally {
      await state.close();
    }
    // The receiver starts again over the expired store (repair does not need the deleted blob).
    receiver = await startReceiver({
      dataDir: store,
      host: '127.0.0.1',
      port: 0,
      enrollTokens: tokens,
      region: 'eu-west',
      log: silentLogger(),
    });
    await receiver.close();

    const release = await runCli([
      'store',
      'release-hold',
      '--data',
      store,
      '--session',
      chunks['held']!.session,
    ]);
    expect(release.code, release.stderr).toBe(0);
    expect((await expireAt(10)).deleted.map((d) => d.session)).toEqual([chunks['held']!.session]);
    expect((await verifyTree(new FsSource(store))).failures).toEqual(kept('audit'));

    // A blob missing without a signed retention-action is a failure.
    rmSync(join(store, 'sessions', chunks['audit']!.session, 'chunk-000001.mcap'));
    const broken = await verifyTree(new FsSource(store));
    expect(broken.failures.map((f) => [f.code, f.file])).toEqual([
      ['VERIFY_CHUNK_MISSING', `sessions/s-audit/chunk-000001.mcap`],
    ]);

    // The receiver's own pass (at start, then on its timer) under a policy expiring audit at once
    // deletes the rest of the audit chunk with a signed record: verify passes again.
    const zero = join(root, 'policy-zero.json');
    writeFileSync(zero, JSON.stringify({ purposes: { audit: 0 } }));
    receiver = await startReceiver({
      dataDir: store,
      host: '127.0.0.1',
      port: 0,
      enrollTokens: tokens,
      retentionPolicyFile: zero,
      log: silentLogger(),
    });
    await waitFor(async () => !blobFiles().includes(chunks['audit']!.sha256), {
      timeoutMs: 30_000,
      what: 'the receiver expiring the audit blob',
    });
    expect((await verifyTree(new FsSource(store))).failures).toEqual([]);
  });
});
