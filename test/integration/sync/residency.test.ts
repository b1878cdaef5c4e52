// sync.allowedRegions: a store outside the allowed regions (here one that states no region, which
// counts as "unknown") receives no record or blob byte, and the backlog says why with a code.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
    enrollTokens: ['tok-residency-0123456789'],
    log: silentLogger(),
  });
  proxy = await FaultProxy.start({ targetHost: '127.0.0.1', targetPort: Number(new URL(receiver.url).port) });
});
afterAll(async () => {
  await proxy.close();
  await receiver.close();
  rmSync(root, { recursive: true, force: true });
});

function scheduler(spool: string, allowedRegions?: string[]): UploadScheduler {
  const catalog = Catalog.open({ path: join(spool, 'catalog.sqlite'), logger: silentLogger() });
  return new UploadScheduler({
    spoolDir: spool,
    state: catalog.syncLedger(),
    client: new TusClient({ baseUrl: proxy.url, partBytes: 64 * 1024, log: silentLogger() }),
    log: silentLogger(),
    concurrency: 2,
    backoffMinMs: 20,
    backoffMaxMs: 200,
    enrollToken: 'tok-residency-0123456789',
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
    const s = scheduler(spool, ['eu-west']);
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
});
