// The store key the agent trusts comes from its config: sync.storeKey as the store's keyid or its
// public key file, or trust on first use only when sync.trustOnFirstUse says so. With none, sync
// refuses to start with a code naming the fix; a store presenting another key gets no byte.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncConfig } from '../../../agent/config/types.ts';
import { generateKeyPair, nodeSigner } from '../../../agent/records/ed25519.ts';
import { silentLogger } from '../../../agent/log.ts';
import { openSyncService, syncUntilEmpty } from '../../../agent/sync/sync-service.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { FakeDevice } from './fake-device.ts';

const tokens = Array.from({ length: 4 }, (_, i) => `pin-token-${i}-0123456789abcdefghijklmnop`);
let root: string;
let receiver: ReceiverHandle;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'rigcap-store-pin-'));
  receiver = await startReceiver({
    dataDir: join(root, 'store'),
    host: '127.0.0.1',
    port: 0,
    enrollTokens: tokens,
    log: silentLogger(),
  });
});
afterAll(async () => {
  await receiver?.close();
  rmSync(root, { recursive: true, force: true });
});

function syncConfig(i: number, pin: Partial<SyncConfig>): SyncConfig {
  return {
    enabled: true,
    storeUrl: receiver.url,
    enrollToken: tokens[i] ?? '',
    partBytes: 64 * 1024,
    bandwidthBytesPerSec: 0,
    concurrency: 1,
    backoffMinMs: 20,
    backoffMaxMs: 200,
    storeKeyFile: '',
    storeKey: '',
    trustOnFirstUse: false,
    caFile: '',
    ...pin,
  };
}

function spoolWithChunk(name: string): string {
  const spool = join(root, name);
  const dev = new FakeDevice({ deviceId: name, spoolDir: spool });
  dev.enrol();
  dev.openSession();
  dev.chunk({ bytes: 100_000 });
  return spool;
}

/** Syncs the spool with this pin; resolves with whether the backlog emptied, or the refusal. */
async function syncWith(i: number, spool: string, pin: Partial<SyncConfig>): Promise<boolean> {
  const service = openSyncService({ sync: syncConfig(i, pin), spoolDir: spool, log: silentLogger() });
  try {
    return (await syncUntilEmpty({ service, timeoutMs: 30_000 })).empty;
  } finally {
    await service.close();
  }
}

const storedBlobs = (): number => readdirSync(join(root, 'store', 'blobs'), { recursive: true }).length;

describe('store key pinning from config', () => {
  it('refuses to start sync with neither a pinned key nor trustOnFirstUse, naming the fix', () => {
    const spool = spoolWithChunk('rig-none');
    expect(() => openSyncService({ sync: syncConfig(0, {}), spoolDir: spool, log: silentLogger() })).toThrow(
      expect.objectContaining({
        code: 'RIGCAP_SYNC_STORE_KEY_UNPINNED',
        message: expect.stringContaining('sync.storeKey') as unknown,
      }),
    );
  });

  it('syncs to the store whose keyid is pinned, and to the one whose key file is pinned', async () => {
    expect(await syncWith(0, spoolWithChunk('rig-keyid'), { storeKey: receiver.key.signer.keyId })).toBe(
      true,
    );
    const pem = join(root, 'store.pub.pem');
    writeFileSync(pem, receiver.key.publicKeyPem);
    expect(await syncWith(1, spoolWithChunk('rig-pem'), { storeKey: pem })).toBe(true);
  });

  it('sends no record or blob to a store presenting another key', async () => {
    const before = storedBlobs();
    const other = nodeSigner(generateKeyPair().privateKeyPem).keyId;
    await expect(syncWith(2, spoolWithChunk('rig-wrong'), { storeKey: other })).rejects.toMatchObject({
      code: 'RIGCAP_SYNC_STORE_KEY_MISMATCH',
    });
    expect(storedBlobs()).toBe(before);
  });

  it('trusts the first key seen only when trustOnFirstUse is set', async () => {
    expect(await syncWith(3, spoolWithChunk('rig-tofu'), { trustOnFirstUse: true })).toBe(true);
  });
});
