// Two receivers on one PostgreSQL share the device authentication state: enrolment only for ids an
// operator registered in the database (`rigcap store devices add ID --db URL`), each token used
// once; a signed request replayed to the other instance is refused; a device's bytes a day are
// one count across instances. Every refusal has its code and stores nothing.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { contentDigestOf, signRequest } from '../../../agent/records/http-signature.ts';
import { TusClient } from '../../../agent/sync/tus-client.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { runCli } from '../../support/cli.ts';
import { postgresSkipReason, startPostgres, type PostgresEngine } from '../../support/engines/postgres.ts';
import { FakeDevice } from '../sync/fake-device.ts';

const quotaBytes = 100 * 1024;

describe.skipIf(postgresSkipReason !== undefined)(
  'device authentication across receivers on PostgreSQL',
  () => {
    let engine: PostgresEngine;
    let url: string;
    let root: string;
    let db: pg.Pool;
    let a: ReceiverHandle;
    let b: ReceiverHandle;

    beforeAll(async () => {
      engine = await startPostgres();
      url = await engine.createDatabase();
      root = mkdtempSync(join(tmpdir(), 'rigcap-devauth-pg-'));
      const start = (name: string): Promise<ReceiverHandle> =>
        startReceiver({
          dataDir: join(root, name),
          db: { url },
          keyFile: join(root, 'store.key'),
          host: '127.0.0.1',
          port: 0,
          enrollTokens: [],
          requireSignatures: true,
          quotas: { bytesPerDay: quotaBytes, concurrentUploads: 0, uploadBytes: 0 },
          log: silentLogger(),
        });
      a = await start('a');
      b = await start('b');
      db = new pg.Pool({ connectionString: url, max: 2 });
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await db?.end();
      await engine?.stop();
      rmSync(root, { recursive: true, force: true });
    });

    const register = async (id: string): Promise<string> => {
      const run = await runCli(['store', 'devices', 'add', id, '--db', url, '--json']);
      expect(run.code).toBe(0);
      return (JSON.parse(run.stdout) as { token: string }).token;
    };
    const enrol = async (
      at: ReceiverHandle,
      dev: FakeDevice,
      token: string,
    ): Promise<{ status: number; code: string | undefined }> => {
      const res = await fetch(`${at.url}/v1/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'rigcap-enroll-token': token },
        body: Buffer.from(dev.enrol()),
      });
      return { status: res.status, code: ((await res.json()) as { code?: string }).code };
    };
    const keysOf = async (id: string): Promise<number> =>
      Number(
        (await db.query<{ n: string }>('SELECT count(*) AS n FROM receiver_keys WHERE signer_id = $1', [id]))
          .rows[0]?.n,
      );
    const device = (id: string): FakeDevice =>
      new FakeDevice({ deviceId: id, spoolDir: join(root, `spool-${id}`) });

    it('enrols only registered ids, each with its own token, once', async () => {
      const token = await register('rig-a');
      expect(await enrol(a, device('rig-x'), token)).toEqual({
        status: 403,
        code: 'RIGCAP_RECEIVER_NOT_REGISTERED',
      });
      expect(await keysOf('rig-x')).toBe(0);
      const rigA = device('rig-a');
      expect(await enrol(b, rigA, randomBytes(32).toString('base64url'))).toEqual({
        status: 403,
        code: 'RIGCAP_RECEIVER_ENROLL_REFUSED',
      });
      expect((await enrol(b, device('rig-a'), '')).code).toBe('RIGCAP_RECEIVER_ENROLL_REFUSED');
      expect(await keysOf('rig-a')).toBe(0);
      // Registered on the database by the CLI: the other instance admits it as well.
      expect((await enrol(b, rigA, token)).status).toBe(201);
      expect(await keysOf('rig-a')).toBe(1);

      // A used token stays used on every instance: a second key claiming rig-d with it is refused.
      const tokenD = await register('rig-d');
      expect((await enrol(a, device('rig-d'), tokenD)).status).toBe(201);
      const again = await enrol(b, device('rig-d'), tokenD);
      expect(['RIGCAP_RECEIVER_ENROLL_REFUSED', 'RIGCAP_RECEIVER_CHAIN_FORK']).toContain(again.code);
      expect(await keysOf('rig-d')).toBe(1);

      // Removing a registration stops enrolment at once.
      await register('rig-e');
      expect((await runCli(['store', 'devices', 'remove', 'rig-e', '--db', url])).code).toBe(0);
      expect((await enrol(a, device('rig-e'), randomBytes(32).toString('base64url'))).code).toBe(
        'RIGCAP_RECEIVER_NOT_REGISTERED',
      );
    });

    it('refuses a signed request replayed to the other instance', async () => {
      const dev = device('rig-r');
      expect((await enrol(a, dev, await register('rig-r'))).status).toBe(201);
      const headers = {
        'tus-resumable': '1.0.0',
        'upload-length': '10',
        'upload-metadata': `sha256 ${Buffer.from('0'.repeat(64)).toString('base64')}`,
        'content-digest': contentDigestOf(new Uint8Array()),
      };
      const signed = {
        ...headers,
        ...signRequest(
          { method: 'POST', path: '/v1/uploads', headers },
          {
            signer: dev.signer,
            created: Math.floor(Date.now() / 1000),
            nonce: randomBytes(12).toString('base64url'),
          },
        ),
      };
      const first = await fetch(`${a.url}/v1/uploads`, { method: 'POST', headers: signed });
      expect(first.status).toBe(201);
      const replay = await fetch(`${b.url}/v1/uploads`, { method: 'POST', headers: signed });
      expect(replay.status).toBe(401);
      expect(((await replay.json()) as { code?: string }).code).toBe('RIGCAP_RECEIVER_REPLAY');
      const count = await db.query<{ n: string }>(
        "SELECT count(*) AS n FROM receiver_open_uploads WHERE device_id = 'rig-r'",
      );
      expect(Number(count.rows[0]?.n)).toBe(1);
    });

    it("counts a device's bytes a day across instances", async () => {
      const dev = device('rig-q');
      expect((await enrol(a, dev, await register('rig-q'))).status).toBe(201);
      const client = (at: ReceiverHandle): TusClient =>
        new TusClient({ baseUrl: at.url, partBytes: 64 * 1024, log: silentLogger(), signer: dev.signer });
      const viaA = client(a);
      const viaB = client(b);
      try {
        const first = dev.chunk({ bytes: 80 * 1024 });
        await viaA.upload({
          path: first.path,
          sha256: first.sha256,
          size: 80 * 1024,
          name: 'chunk-000001.mcap',
          onProgress: () => undefined,
        });
        expect(await viaB.blobStored(first.sha256)).toBe(false); // blobs are per instance here
        const used = await db.query<{ bytes: string }>(
          "SELECT bytes FROM receiver_quota_days WHERE device_id = 'rig-q'",
        );
        expect(Number(used.rows[0]?.bytes)).toBe(80 * 1024);
        const second = dev.chunk({ bytes: 40 * 1024 });
        const upload = await viaB.create({
          length: 40 * 1024,
          sha256: second.sha256,
          name: 'chunk-000002.mcap',
        });
        await expect(viaB.patch(upload, 0, new Uint8Array(40 * 1024))).rejects.toMatchObject({ status: 429 });
        expect(await viaB.offset(upload)).toBe(0);
      } finally {
        await viaA.close();
        await viaB.close();
      }
    });

    it('store migrate carries the registry: a device registered on the embedded store enrols after the move', async () => {
      const from = join(root, 'embedded');
      const embedded = await startReceiver({
        dataDir: from,
        host: '127.0.0.1',
        port: 0,
        enrollTokens: [],
        log: silentLogger(),
      });
      await embedded.close();
      const added = await runCli(['store', 'devices', 'add', 'rig-m', '--data', from, '--json']);
      const { token } = JSON.parse(added.stdout) as { token: string };
      const target = await engine.createDatabase();
      const moved = await runCli(['store', 'migrate', '--from', from, '--to-db', target, '--json']);
      expect(moved.code, moved.stderr).toBe(0);
      expect(JSON.parse(moved.stdout)).toMatchObject({ ok: true, devicesRegistered: 1 });
      const after = await startReceiver({
        dataDir: join(root, 'after'),
        db: { url: target },
        keyFile: `${from}.secrets/store.key`,
        host: '127.0.0.1',
        port: 0,
        enrollTokens: [],
        log: silentLogger(),
      });
      try {
        expect(await enrol(after, device('rig-m'), token)).toMatchObject({ status: 201 });
      } finally {
        await after.close();
      }
    });
  },
);
