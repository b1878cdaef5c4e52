// An upload whose saved URL names another address of the store (the demo's receiver restarts on a
// new port after a crash) starts anew at the current address instead of retrying the old one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { TusClient } from '../../../agent/sync/tus-client.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { FakeDevice } from './fake-device.ts';

describe('tus upload resume across store addresses', () => {
  let root: string;
  let receiver: ReceiverHandle;
  let client: TusClient;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'rigcap-tus-address-'));
    receiver = await startReceiver({
      dataDir: join(root, 'store'),
      host: '127.0.0.1',
      port: 0,
      enrollTokens: ['enrol-secret-1'],
      log: silentLogger(),
    });
    client = new TusClient({ baseUrl: receiver.url, partBytes: 100 * 1024, log: silentLogger() });
  });
  afterAll(async () => {
    await client.close();
    await receiver.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('starts anew when the saved upload URL is at another address, and completes', async () => {
    const dev = new FakeDevice({ deviceId: 'rig-a', spoolDir: join(root, 'spool') });
    const chunk = dev.chunk({ bytes: 250_000 });
    // Port 1 on loopback refuses connections: what an earlier run's store address looks like now.
    const stale = `http://127.0.0.1:1/v1/uploads/0123456789abcdef`;
    const progress: Array<{ uploadUrl: string; offset: number }> = [];
    await client.upload({
      path: chunk.path,
      sha256: chunk.sha256,
      size: 250_000,
      name: 'chunk-000001.mcap',
      resume: { uploadUrl: stale, offset: 200 * 1024 },
      onProgress: (p) => progress.push(p),
    });
    expect(progress.map((p) => p.offset)).toEqual([0, 102400, 204800, 250000]);
    expect(progress.every((p) => p.uploadUrl.startsWith(receiver.url))).toBe(true);
    expect(await client.blobStored(chunk.sha256)).toBe(true);
  });
});
