// sync.allowedRegions: a store outside the allowed regions (here one that states no region, which
// counts as "unknown") receives no record or blob byte, and the backlog says why with a code.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../../agent/catalog/catalog.ts';
import { silentLogger } from '../../../agent/log.ts';
import { UploadScheduler } from '../../../agent/sync/scheduler.ts';
import { TusClient } from '../../../agent/sync/tus-client.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { FaultProxy } from '../../../scripts/bench/fault-proxy.ts';
import { FakeDevice } from './fake-device.ts';

let root: string;
let receiver: ReceiverHandle;
let proxy: FaultProxy;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'rigcap-residency-'));
  receiver = await startReceiver({
    dataDir: join(root, 'store'),
    host: '127.0.0.1',
    port: 0,
    // One-time tokens: one per device that enrols.
    enrollTokens: ['tok-residency-any-0123456789', 'tok-residency-eu-0123456789'],
    log: silentLogger(),
  });
  proxy = await FaultProxy.start({ targetHost: '127.0.0.1', targetPort: Number(new URL(receiver.url).port) });
});
afterAll(async () => {
  await proxy.close();
  await receiver.close();
  rmSync(root, { recursive: true, force: true });
});

/**
 * A store front that states `region` in the store answer (GET /v1/store) and forwards everything
 * else to the receiver; it counts the request body bytes that reach it.
 */
async function regionFront(
  region: string,
): Promise<{ url: string; bytesIn: () => number; close: () => Promise<void> }> {
  const target = new URL(receiver.url);
  let bytes = 0;
  const server: Server = createServer((req, res) => {
    const up = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (req.method === 'GET' && req.url === '/v1/store') {
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => {
            const body = JSON.stringify({
              ...(JSON.parse(Buffer.concat(parts).toString()) as object),
              region,
            });
            res.writeHead(answer.statusCode ?? 502, { 'content-type': 'application/json' });
            res.end(body);
          });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bytesIn: () => bytes,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function scheduler(
  spool: string,
  options: { allowedRegions?: string[]; baseUrl?: string; enrollToken?: string } = {},
): UploadScheduler {
  const { allowedRegions, baseUrl = proxy.url, enrollToken = 'tok-residency-any-0123456789' } = options;
  const catalog = Catalog.open({ path: join(spool, 'catalog.sqlite'), logger: silentLogger() });
  return new UploadScheduler({
    spoolDir: spool,
    state: catalog.syncLedger(),
    client: new TusClient({ baseUrl, partBytes: 64 * 1024, log: silentLogger() }),
    log: silentLogger(),
    concurrency: 2,
    backoffMinMs: 20,
    backoffMaxMs: 200,
    enrollToken,
    ...(allowedRegions === undefined ? {} : { allowedRegions }),
  });
}

const blobFiles = (): string[] => {
  const dir = join(root, 'store', 'blobs');
  try {
    return readdirSync(dir, { recursive: true }).map(String);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
};

describe('sync.allowedRegions', () => {
  it('sends nothing to a store that states no region, and says why; a device without the list syncs', async () => {
    const spool = join(root, 'spool-eu');
    const dev = new FakeDevice({ deviceId: 'rig-eu', spoolDir: spool });
    dev.enrol();
    dev.openSession();
    dev.chunk({ bytes: 200_000 });
    const s = scheduler(spool, { allowedRegions: ['eu-west'] });
    const before = proxy.forwardedBytes;
    await expect(s.drain({ untilMs: Date.now() + 10_000 })).rejects.toMatchObject({
      code: 'RIGCAP_SYNC_REGION_NOT_ALLOWED',
    });
    expect(s.backlog().blocked).toMatchObject({
      code: 'RIGCAP_SYNC_REGION_NOT_ALLOWED',
      storeRegion: 'unknown',
    });
    expect(s.backlog().chunks).toBe(1);
    // Only the store-info requests crossed the link: far less than one chunk, and nothing stored.
    expect(proxy.forwardedBytes - before).toBeLessThan(4096);
    expect(blobFiles()).toEqual([]);
    await s.close();

    // Control: the same store and proxy carry a device that sets no allowedRegions.
    const other = join(root, 'spool-any');
    const dev2 = new FakeDevice({ deviceId: 'rig-any', spoolDir: other });
    dev2.enrol();
    dev2.openSession();
    dev2.chunk({ bytes: 200_000 });
    const s2 = scheduler(other);
    const result = await s2.drain({ untilMs: Date.now() + 30_000 });
    expect(result.empty).toBe(true);
    expect(proxy.forwardedBytes - before).toBeGreaterThan(200_000);
    expect(s2.backlog().blocked).toBeNull();
    await s2.close();
  });

  it('two stores in different regions: the allowed one gets the chunk, the other not a byte of it', async () => {
    const us = await regionFront('us-east-1');
    const eu = await regionFront('eu-west');
    try {
      const spoolUs = join(root, 'spool-to-us');
      const devUs = new FakeDevice({ deviceId: 'rig-to-us', spoolDir: spoolUs });
      devUs.enrol();
      devUs.openSession();
      devUs.chunk({ bytes: 150_000 });
      const toUs = scheduler(spoolUs, { allowedRegions: ['eu-west'], baseUrl: us.url });
      await expect(toUs.drain({ untilMs: Date.now() + 10_000 })).rejects.toMatchObject({
        code: 'RIGCAP_SYNC_REGION_NOT_ALLOWED',
      });
      expect(toUs.backlog().blocked).toMatchObject({ storeRegion: 'us-east-1' });
      expect(us.bytesIn()).toBe(0);
      await toUs.close();

      const spoolEu = join(root, 'spool-to-eu');
      const devEu = new FakeDevice({ deviceId: 'rig-to-eu', spoolDir: spoolEu });
      devEu.enrol();
      devEu.openSession();
      devEu.chunk({ bytes: 150_000 });
      const toEu = scheduler(spoolEu, {
        allowedRegions: ['eu-west'],
        baseUrl: eu.url,
        enrollToken: 'tok-residency-eu-0123456789',
      });
      const result = await toEu.drain({ untilMs: Date.now() + 30_000 });
      expect(result.empty).toBe(true);
      expect(toEu.backlog().blocked).toBeNull();
      expect(eu.bytesIn()).toBeGreaterThan(150_000);
      await toEu.close();
    } finally {
      await us.close();
      await eu.close();
    }
  });
});
