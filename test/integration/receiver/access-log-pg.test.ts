// The access log on the PostgreSQL state: two receivers on one database and one store directory
// answer two readers; the entries of both land in the one log, between two checkpoints a
// consistency proof joins, and `rigcap access-log --db URL` lists exactly them. A fleet receiver
// (PostgreSQL + Ceph RGW, no store directory) serves a session, a record and a blob the same way.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { decodeRecord } from '../../../agent/records/record-decode.ts';
import type { AccessLogRow } from '../../../receiver/access/access-log.ts';
import { tokenSha256 } from '../../../receiver/access/readers.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { runCli } from '../../support/cli.ts';
import { postgresSkipReason, startPostgres, type PostgresEngine } from '../../support/engines/postgres.ts';
import { rgwSkipReason, startRgw, useRgwCredentials, type RgwEngine } from '../../support/engines/rgw.ts';
import { provesConsistent, verifiedCheckpoint } from '../../support/log-checks.ts';
import { FakeDevice } from '../sync/fake-device.ts';
import { syncSpool } from '../sync/spool-sync.ts';

const enrol = 'tok-access-pg-0123456789';
const tokens = {
  alice: 'alice-pg-token-0123456789abcdef012345',
  bob: 'bob-pg-token-0123456789abcdef01234567',
};
const readers = [
  { name: 'alice', role: 'reader' as const, sha256: tokenSha256(tokens.alice) },
  { name: 'bob', role: 'auditor' as const, sha256: tokenSha256(tokens.bob) },
];

/** `rigcap access-log --db URL --session ID --json`, which must succeed. */
async function accessLogJson(
  url: string,
  sessionId: string,
): Promise<{ entries: AccessLogRow[]; unverified: number[] }> {
  const run = await runCli(['access-log', '--db', url, '--session', sessionId, '--json']);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as { entries: AccessLogRow[]; unverified: number[] };
}

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
        readers,
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

  it('reads on two receivers are one access log, covered by a consistency proof', async () => {
    const before = await verifiedCheckpoint(a);
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
    const after = await verifiedCheckpoint(b);
    expect(await provesConsistent(a.url, before, after)).toBe(true);

    const { entries, unverified } = await accessLogJson(url, sessionId);
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

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

describe.skipIf(postgresSkipReason !== undefined || rgwSkipReason !== undefined)(
  'read API on a fleet store (PostgreSQL + RGW, no store directory)',
  () => {
    let pg: PostgresEngine;
    let rgw: RgwEngine;
    let url: string;
    let root: string;
    let fleet: ReceiverHandle;
    let dev: FakeDevice;
    let chunkSha = '';

    beforeAll(async () => {
      [pg, rgw] = await Promise.all([startPostgres(), startRgw()]);
      useRgwCredentials(rgw);
      url = await pg.createDatabase();
      root = mkdtempSync(join(tmpdir(), 'rigcap-access-fleet-'));
      fleet = await startReceiver({
        db: { url },
        objectStore: { url: `s3://${rgw.bucket}/fleet`, endpoint: rgw.endpoint },
        keyFile: join(root, 'store.key'),
        host: '127.0.0.1',
        port: 0,
        enrollTokens: [enrol],
        readers,
        log: silentLogger(),
      });
      const spool = join(root, 'spool');
      dev = new FakeDevice({ deviceId: 'rig-fleet', spoolDir: spool, sessionId: 's-access-fleet' });
      dev.enrol();
      dev.openSession();
      chunkSha = dev.chunk({ bytes: 30_000 }).sha256;
      await syncSpool({ spool, baseUrl: fleet.url, enrollToken: enrol });
    }, 180_000);

    afterAll(async () => {
      await fleet?.close();
      await pg?.stop();
      await rgw?.stop();
      if (root !== undefined) rmSync(root, { recursive: true, force: true });
    }, 60_000);

    it('serves a session, a record and a chunk blob from the state and the bucket, each an access entry', async () => {
      const sessionId = dev.sessionId;
      const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
      const sessionRes = await fetch(`${fleet.url}/v1/sessions/${sessionId}`, as(tokens.alice));
      expect(sessionRes.status).toBe(200);
      const sessionText = await sessionRes.text();
      const session = JSON.parse(sessionText) as {
        deviceId: string;
        chunks: Array<{ index: number; sha256: string }>;
        records: Array<{ signer: string; seq: number; predicate: string; sha256: string }>;
        receipts: unknown[];
      };
      expect(session.deviceId).toBe('rig-fleet');
      expect(session.chunks.map((c) => c.sha256)).toEqual([chunkSha]);
      expect(session.receipts.length).toBe(session.records.length);
      const chunkRecord = session.records.find((r) => r.predicate === 'capture-chunk')!;

      const recordRes = await fetch(
        `${fleet.url}/v1/records/${chunkRecord.signer}/${chunkRecord.seq}`,
        as(tokens.alice),
      );
      expect(recordRes.status).toBe(200);
      const recordBytes = new Uint8Array(await recordRes.arrayBuffer());
      const decoded = decodeRecord(recordBytes);
      expect(decoded.ok && decoded.record.payloadSha256).toBe(chunkRecord.sha256);

      const chunkRes = await fetch(`${fleet.url}/v1/sessions/${sessionId}/chunks/1`, as(tokens.alice));
      expect(chunkRes.status).toBe(200);
      expect(((await chunkRes.json()) as { file: unknown }).file).toEqual({
        present: true,
        sha256: chunkSha,
        bytes: 30_000,
      });

      const blobRes = await fetch(
        `${fleet.url}/v1/sessions/${sessionId}/chunks/1/blob?purpose=incident%2042`,
        as(tokens.bob),
      );
      expect(blobRes.status).toBe(200);
      expect(sha256(new Uint8Array(await blobRes.arrayBuffer()))).toBe(chunkSha);
      const absent = await fetch(
        `${fleet.url}/v1/blobs/sha256/${sha256('absent')}?purpose=x`,
        as(tokens.bob),
      );
      expect(absent.status).toBe(404);

      const { entries, unverified } = await accessLogJson(url, sessionId);
      expect(unverified).toEqual([]);
      expect(entries.map((e) => [e.reader, e.outcome, e.route, e.sha256, e.purpose])).toEqual([
        ['alice', 'read', '/v1/sessions/:sessionId', sha256(sessionText), null],
        ['alice', 'read', '/v1/records/:signer/:seq', sha256(recordBytes), null],
        ['alice', 'read', '/v1/sessions/:sessionId/chunks/:index', expect.any(String), null],
        ['bob', 'read', '/v1/sessions/:sessionId/chunks/:index/blob', chunkSha, 'incident 42'],
      ]);
    });

    it('the dashboard reads the same fleet store', async () => {
      const page = await fetch(`${fleet.url}/ui/sessions/${dev.sessionId}`, {
        headers: { authorization: `Bearer ${tokens.alice}` },
      });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain(dev.sessionId);
      expect(html).toContain('chunk-000001.mcap');
    });
  },
);
