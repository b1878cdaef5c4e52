// Bundles that verify without the store: a session synced to a receiver on loopback, exported from
// the store's data directory with --log-proofs, verifies offline with every record's inclusion proof
// checked against the store's signed checkpoint; a tampered proof and a chunk without a custody
// receipt each fail with their code.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { runCli } from '../../support/cli.ts';
import { FakeDevice } from '../sync/fake-device.ts';
import { syncSpool } from '../sync/spool-sync.ts';

const token = 'tok-proofs-0123456789';
let root: string;
let store: string;
let receiver: ReceiverHandle;
let bundle: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'rigcap-proofs-'));
  store = join(root, 'store');
  receiver = await startReceiver({
    dataDir: store,
    host: '127.0.0.1',
    port: 0,
    enrollTokens: [token],
    log: silentLogger(),
  });
  const spool = join(root, 'spool');
  const dev = new FakeDevice({ deviceId: 'rig-proofs', spoolDir: spool, sessionId: 's-proofs' });
  dev.enrol();
  dev.openSession();
  for (let i = 0; i < 3; i++) dev.chunk({ bytes: 10_000 + i });
  await syncSpool({ spool, baseUrl: receiver.url, enrollToken: token });
  await receiver.close();
  bundle = join(root, 'bundle.jsonl');
  const r = await runCli([
    'export',
    's-proofs',
    '--format',
    'intoto',
    '--log-proofs',
    '--spool',
    store,
    '--out',
    bundle,
  ]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

interface VerifyJson {
  ok: boolean;
  failures: Array<{ file: string; code: string; reason: string }>;
}

async function verify(file: string): Promise<VerifyJson & { code: number }> {
  const r = await runCli(['verify', file, '--json']);
  return { code: r.code, ...(JSON.parse(r.stdout) as VerifyJson) };
}

const lines = (): string[] =>
  readFileSync(bundle, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

describe('bundles carrying log proofs', () => {
  it('carries a checkpoint and inclusion proof for every record and verifies offline', async () => {
    const proofs = lines().filter((l) => l.startsWith('{"logProof":'));
    // open + three chunks (the fixture session is not closed).
    expect(proofs.length).toBeGreaterThanOrEqual(4);
    for (const l of proofs) {
      const p = (JSON.parse(l) as { logProof: { checkpoint: string; inclusionProof: string[] } }).logProof;
      expect(p.checkpoint).toMatch(/^rigcap\.store\//);
    }
    const v = await verify(bundle);
    expect(v).toMatchObject({ code: 0, ok: true, failures: [] });
  });

  it('a tampered inclusion proof is VERIFY_LOG_PROOF', async () => {
    const out = lines().map((l) => {
      if (!l.startsWith('{"logProof":')) return l;
      const p = JSON.parse(l) as { logProof: { inclusionProof: string[] } };
      if (p.logProof.inclusionProof.length === 0) return l;
      p.logProof.inclusionProof[0] = Buffer.alloc(32, 7).toString('base64');
      return JSON.stringify(p);
    });
    const file = join(root, 'tampered.jsonl');
    writeFileSync(file, `${out.join('\n')}\n`);
    const v = await verify(file);
    expect(v.code).toBe(1);
    expect(v.failures.map((f) => f.code)).toContain('VERIFY_LOG_PROOF');
  });

  it('a chunk without a custody receipt is VERIFY_NO_RECEIPT', async () => {
    const all = lines();
    const receipt = all.findIndex((l) => {
      if (l.startsWith('{"logProof":')) return false;
      const env = JSON.parse(l) as { payload: string };
      const st = JSON.parse(Buffer.from(env.payload, 'base64').toString()) as {
        predicateType: string;
        predicate: { blob?: unknown };
      };
      return st.predicateType.includes('/custody-receipt/') && st.predicate.blob !== null;
    });
    expect(receipt).toBeGreaterThan(0);
    const file = join(root, 'no-receipt.jsonl');
    writeFileSync(file, `${all.filter((_, i) => i !== receipt).join('\n')}\n`);
    const v = await verify(file);
    expect(v.code).toBe(1);
    expect(v.failures.map((f) => f.code)).toContain('VERIFY_NO_RECEIPT');
  });
});
