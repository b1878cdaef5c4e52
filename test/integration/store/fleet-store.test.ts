import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { TusClient } from '../../../agent/sync/tus-client.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { runCli } from '../../support/cli.ts';
import { postgresSkipReason, startPostgres, type PostgresEngine } from '../../support/engines/postgres.ts';
import { rgwSkipReason, startRgw, useRgwCredentials, type RgwEngine } from '../../support/engines/rgw.ts';
import { FakeDevice } from '../sync/fake-device.ts';

const token = 'fleet-enrol-token-0123456789';

async function post(url: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(body),
  });
}

describe.skipIf(postgresSkipReason !== undefined || rgwSkipReason !== undefined)(
  'an embedded store moved to PostgreSQL + S3, served by two receivers',
  () => {
    let pg: PostgresEngine;
    let rgw: RgwEngine;
    let root: string;

    beforeAll(async () => {
      [pg, rgw] = await Promise.all([startPostgres(), startRgw()]);
      useRgwCredentials(rgw);
      root = mkdtempSync(join(tmpdir(), 'rigcap-fleet-'));
    }, 240_000);
    afterAll(async () => {
      await Promise.all([pg?.stop(), rgw?.stop()]);
      rmSync(root, { recursive: true, force: true });
    }, 60_000);

    it('keeps its receipts and blobs, and both receivers answer for every record', async () => {
      const data = join(root, 'store');
      const embedded = await startReceiver({
        dataDir: data,
        host: '127.0.0.1',
        port: 0,
        enrollTokens: [token],
        log: silentLogger(),
      });
      const dev = new FakeDevice({ deviceId: 'rig-fleet', spoolDir: join(root, 'spool') });
      expect((await post(embedded.url, dev.enrol(), { 'rigcap-enroll-token': token })).status).toBe(201);
      const chunk = dev.chunk({ bytes: 70_000 });
      const client = new TusClient({ baseUrl: embedded.url, partBytes: 64 * 1024, log: silentLogger() });
      await client.upload({
        path: chunk.path,
        sha256: chunk.sha256,
        size: 70_000,
        name: 'chunk-000001.mcap',
        onProgress: () => undefined,
      });
      await client.close();
      const accepted = (await (await post(embedded.url, chunk.record)).json()) as Record<string, unknown>;
      await embedded.close();

      const db = await pg.createDatabase();
      const blobs = `s3://${rgw.bucket}/fleet`;
      const moved = await runCli([
        'store',
        'migrate',
        '--from',
        data,
        '--to-db',
        db,
        '--to-blobs',
        blobs,
        '--s3-endpoint',
        rgw.endpoint,
        '--json',
      ]);
      expect(moved.code).toBe(0);
      expect(JSON.parse(moved.stdout)).toMatchObject({ records: 2, blobsCopied: 1 });

      const keyFile = `${data}.secrets/store.key`;
      const fleet: ReceiverHandle[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          fleet.push(
            await startReceiver({
              db: { url: db },
              objectStore: { url: blobs, endpoint: rgw.endpoint },
              keyFile,
              host: '127.0.0.1',
              port: 0,
              enrollTokens: [],
              log: silentLogger(),
            }),
          );
        }
        for (const r of fleet) {
          expect(r.storeId).toBe(embedded.storeId);
          expect((await fetch(`${r.url}/v1/blobs/sha256/${chunk.sha256}`, { method: 'HEAD' })).status).toBe(
            200,
          );
          const again = await post(r.url, chunk.record);
          expect(again.status).toBe(200);
          expect(((await again.json()) as Record<string, unknown>)['receipt']).toEqual(accepted['receipt']);
        }
      } finally {
        for (const r of fleet) await r.close();
      }
    }, 240_000);
  },
);
