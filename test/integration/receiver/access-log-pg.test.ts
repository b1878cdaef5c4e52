// The access log on the PostgreSQL state: two receivers on one database and one store directory
// answer two readers; the entries of both land in the one log, between two checkpoints a
// consistency proof joins, and `rigcap access-log --db URL` lists exactly them.
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { openNote, parseCheckpoint } from '../../../agent/records/checkpoint.ts';
import { verifyConsistency } from '../../../agent/records/merkle.ts';
import type { AccessLogRow } from '../../../receiver/access/access-log.ts';
import { tokenSha256 } from '../../../receiver/access/readers.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { runCli } from '../../support/cli.ts';
import { postgresSkipReason, startPostgres, type PostgresEngine } from '../../support/engines/postgres.ts';
import { FakeDevice } from '../sync/fake-device.ts';
import { syncSpool } from '../sync/spool-sync.ts';

const enrol = 'tok-access-pg-0123456789';
const tokens = {
  alice: 'alice-pg-token-0123456789abcdef012345',
  bob: 'bob-pg-token-0123456789abcdef01234567',
};

describe.skipIf(postgresSkipReason !== undefined)('access log on PostgreSQL', () => {
  let engine: PostgresEngine;
  let url: string;
  let root: string;
  let a: ReceiverHandle;
  let b: ReceiverHandle;
  let sessionId = '';
  let stopped = false;

  beforeAll(async () => {
    engine = await startPostgres();
    url = await engine.createDatabase();
    root = mkdtempSync(join(tmpdir(), 'rigcap-access-pg-'));
    const start = (): Promise<ReceiverHandle> =>
      startReceiver({
        dataDir: join(root, 'store'),
        db: { url },
        keyFile: join(root, 'store.key'),
        host: '127.0.0.1',
        port: 0,
        enrollTokens: [enrol],
        readers: [
          { name: 'alice', role: 'reader', sha256: tokenSha256(tokens.alice) },
          { name: 'bob', role: 'auditor', sha256: tokenSha256(tokens.bob) },
        ],
        log: silentLogger(),
      });
    a = await start();
    b = await start();
    const spool = join(root, 'spool');
    const dev = new FakeDevice({ deviceId: 'rig-pg', spoolDir: spool, sessionId: 's-access-pg' });
    dev.enrol();
    dev.openSession();
    dev.chunk({ bytes: 20_000 });
    sessionId = dev.sessionId;
    await syncSpool({ spool, baseUrl: a.url, enrollToken: enrol });
  }, 60_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    if (!stopped) await engine?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  async function checkpoint(on: ReceiverHandle): Promise<{ size: number; root: Buffer }> {
    const note = await (await fetch(`${on.url}/v1/log/checkpoint`)).text();
    const origin = `rigcap.store/${on.storeId}`;
    const body = openNote(note, { name: origin, publicKey: createPublicKey(on.key.publicKeyPem) });
    const cp = body === undefined ? undefined : parseCheckpoint(body);
    if (cp === undefined) throw new Error('checkpoint does not verify');
    return cp;
  }

  it('reads on two receivers are one access log, covered by a consistency proof', async () => {
    const before = await checkpoint(a);
    const read = await fetch(`${a.url}/v1/sessions/${sessionId}`, {
      headers: { authorization: `Bearer ${tokens.alice}` },
    });
    expect(read.status).toBe(200);
    const refused = await fetch(`${b.url}/v1/sessions/${sessionId}/export/card?purpose=audit`, {
      headers: { authorization: `Bearer ${tokens.alice}` },
    });
    expect(refused.status).toBe(403);
    const exported = await fetch(`${b.url}/v1/sessions/${sessionId}/export/card?purpose=audit`, {
      headers: { authorization: `Bearer ${tokens.bob}` },
    });
    expect(exported.status).toBe(200);
    const after = await checkpoint(b);
    const proof = (await (
      await fetch(`${a.url}/v1/log/consistency?first=${before.size}&second=${after.size}`)
    ).json()) as { proof: string[] };
    expect(
      verifyConsistency({
        firstSize: before.size,
        firstRoot: before.root,
        secondSize: after.size,
        secondRoot: after.root,
        proof: proof.proof.map((p) => Buffer.from(p, 'base64')),
      }),
    ).toBe(true);

    const run = await runCli(['access-log', '--db', url, '--session', sessionId, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const { entries, unverified } = JSON.parse(run.stdout) as {
      entries: AccessLogRow[];
      unverified: number[];
    };
    expect(unverified).toEqual([]);
    expect(entries.every((e) => e.logIndex >= before.size && e.logIndex < after.size)).toBe(true);
    expect(entries.map((e) => [e.reader, e.outcome, e.action, e.object])).toEqual([
      ['alice', 'read', 'read', `session-${sessionId}`],
      ['alice', 'refused', 'export', `export-${sessionId}-card`],
      ['bob', 'read', 'export', `export-${sessionId}-card`],
    ]);
    const unknown = await runCli(['access-log', '--db', url, '--session', 's-unknown']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('RIGCAP_SESSION_UNKNOWN');
  });

  it('with the database down, a read that cannot be logged is answered 503 and discloses nothing', async () => {
    await engine.stop();
    stopped = true;
    const res = await fetch(`${a.url}/v1/sessions/${sessionId}`, {
      headers: { authorization: `Bearer ${tokens.alice}` },
    });
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(JSON.parse(body)).toMatchObject({ code: 'RIGCAP_ACCESS_LOG_UNAVAILABLE' });
    expect(body).not.toContain('chunk-000001.mcap');
  });
});
