// Signed dataset releases: two sessions synced to a real receiver on loopback are released with the
// store's key; `rigcap verify RELEASE --blobs STORE` re-derives the same root twice, and fails with a
// code when one chunk is altered or dropped. A chunk expired by retention cannot be released.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { generateKeyPair } from '../../../agent/records/ed25519.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { runCli } from '../../support/cli.ts';
import { FakeDevice } from '../sync/fake-device.ts';
import { syncSpool } from '../sync/spool-sync.ts';

const tokens = ['tok-rel-a-0123456789', 'tok-rel-b-0123456789', 'tok-rel-c-0123456789'];
let root: string;
let store: string;
let receiver: ReceiverHandle;
const digests: Record<string, string[]> = {};

async function capture(label: string, purpose: string, token: string, n: number): Promise<void> {
  const spool = join(root, `spool-${label}`);
  const dev = new FakeDevice({ deviceId: `rig-${label}`, spoolDir: spool, sessionId: `s-${label}` });
  dev.enrol();
  dev.openSession();
  digests[label] = [];
  for (let i = 0; i < n; i++) digests[label].push(dev.chunk({ bytes: 20_000 + i, purpose }).sha256);
  await syncSpool({ spool, baseUrl: receiver.url, enrollToken: token });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'rigcap-release-'));
  store = join(root, 'store');
  receiver = await startReceiver({
    dataDir: store,
    host: '127.0.0.1',
    port: 0,
    enrollTokens: tokens,
    log: silentLogger(),
  });
  await capture('a', 'training', tokens[0]!, 2);
  await capture('b', 'training', tokens[1]!, 1);
  await capture('c', 'short', tokens[2]!, 1);
  await receiver.close();
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

interface VerifyJson {
  ok: boolean;
  failures: Array<{ file: string; code: string }>;
}

async function verify(release: string, blobs: string): Promise<VerifyJson & { code: number }> {
  const r = await runCli(['verify', release, '--blobs', blobs, '--json']);
  return { code: r.code, ...(JSON.parse(r.stdout) as VerifyJson) };
}

describe('dataset releases', () => {
  it('a release of two sessions names every chunk and re-derives to the same root twice', async () => {
    const out = join(root, 'rel.jsonl');
    const r = await runCli([
      'release',
      'create',
      '--store',
      store,
      '--sessions',
      's-a,s-b',
      '--name',
      'rel',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const made = JSON.parse(r.stdout) as { root: string; chunks: number };
    expect(made.chunks).toBe(3);
    const line = JSON.parse(readFileSync(out, 'utf8').split('\n')[0]!) as { payload: string };
    const st = JSON.parse(Buffer.from(line.payload, 'base64').toString()) as {
      predicateType: string;
      predicate: { root: string; chunks: Array<{ sha256: string; record: { signer: string } }> };
    };
    expect(st.predicateType).toBe('https://rigcap.dev/dataset-release/v1');
    expect(st.predicate.root).toBe(made.root);
    expect(st.predicate.chunks.map((c) => c.sha256)).toEqual([...digests['a']!, ...digests['b']!]);
    expect(readFileSync(join(root, 'rel.md'), 'utf8')).toContain(made.root);
    const first = await verify(out, store);
    const second = await verify(out, store);
    expect(first).toMatchObject({ code: 0, ok: true, failures: [] });
    expect(second).toEqual(first);
    // The same chunks chosen by a query over the signed context give the same root.
    const byQuery = await runCli([
      'release',
      'create',
      '--store',
      store,
      '--query',
      'purpose=training',
      '--name',
      'q',
      '--out',
      join(root, 'q.jsonl'),
      '--json',
    ]);
    expect(byQuery.code, byQuery.stderr).toBe(0);
    expect((JSON.parse(byQuery.stdout) as { root: string }).root).toBe(made.root);
    const none = await runCli([
      'release',
      'create',
      '--store',
      store,
      '--query',
      'purpose=none',
      '--name',
      'n',
      '--out',
      join(root, 'n.jsonl'),
    ]);
    expect(none.code).toBe(1);
    // Pinned: the store's own key passes, another key is VERIFY_UNKNOWN_KEY.
    const enrol = JSON.parse(readFileSync(out, 'utf8').split('\n')[1]!) as { payload: string };
    const storePem = (
      JSON.parse(Buffer.from(enrol.payload, 'base64').toString()) as { predicate: { publicKey: string } }
    ).predicate.publicKey;
    writeFileSync(join(root, 'store.pem'), storePem);
    writeFileSync(join(root, 'other.pem'), generateKeyPair().publicKeyPem);
    const pinned = await runCli(['verify', out, '--blobs', store, '--trust', join(root, 'store.pem')]);
    expect(pinned.code, pinned.stdout).toBe(0);
    const other = await runCli([
      'verify',
      out,
      '--blobs',
      store,
      '--trust',
      join(root, 'other.pem'),
      '--json',
    ]);
    expect(other.code).toBe(1);
    expect((JSON.parse(other.stdout) as VerifyJson).failures.map((f) => f.code)).toEqual([
      'VERIFY_UNKNOWN_KEY',
    ]);
  });

  it('an altered chunk, a dropped chunk and an edited release each fail with a code', async () => {
    const out = join(root, 'rel.jsonl');
    const blobs = join(root, 'blobs-copy');
    cpSync(join(store, 'blobs', 'sha256'), blobs, { recursive: true });
    const [one, two] = digests['a']!;
    const bytes = readFileSync(join(blobs, one!));
    bytes[0] = bytes[0]! ^ 0xff;
    writeFileSync(join(blobs, one!), bytes);
    rmSync(join(blobs, two!));
    const bad = await verify(out, blobs);
    expect(bad.code).toBe(1);
    expect(bad.failures.map((f) => f.code).sort()).toEqual([
      'VERIFY_DIGEST_MISMATCH',
      'VERIFY_RELEASE_CHUNK_MISSING',
    ]);
    // Dropping a chunk from the release itself breaks its root (and its signature).
    const [env, enrol] = readFileSync(out, 'utf8').split('\n');
    const e = JSON.parse(env!) as { payload: string };
    const st = JSON.parse(Buffer.from(e.payload, 'base64').toString()) as {
      predicate: { chunks: unknown[] };
    };
    st.predicate.chunks.pop();
    e.payload = Buffer.from(JSON.stringify(st)).toString('base64');
    const edited = join(root, 'edited.jsonl');
    writeFileSync(edited, `${JSON.stringify(e)}\n${enrol}\n`);
    const codes = (await verify(edited, store)).failures.map((f) => f.code);
    expect(codes).toContain('VERIFY_RELEASE_ROOT');
    expect(codes).toContain('VERIFY_BAD_SIGNATURE');
  });

  it('a chunk expired by retention cannot be released', async () => {
    const policy = join(root, 'policy.json');
    writeFileSync(policy, JSON.stringify({ defaultDays: null, purposes: { short: 1 } }));
    const later = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const expire = await runCli(['store', 'expire', '--data', store, '--policy', policy, '--now', later]);
    expect(expire.code, expire.stderr).toBe(0);
    const out = join(root, 'rel-c.jsonl');
    const r = await runCli([
      'release',
      'create',
      '--store',
      store,
      '--sessions',
      's-c',
      '--name',
      'c',
      '--out',
      out,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/deleted by retention/);
  });
});
