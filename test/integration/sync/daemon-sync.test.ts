import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Push } from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../../agent/catalog/catalog.ts';
import { spoolSnapshot } from '../../../agent/cli/status.ts';
import { loadConfigFile } from '../../../agent/config/load.ts';
import { Daemon } from '../../../agent/daemon.ts';
import { RecordSealer } from '../../../agent/keys/record-sealer.ts';
import { silentLogger } from '../../../agent/log.ts';
import { RetentionSweeper } from '../../../agent/sync/retention.ts';
import { openSyncService, syncUntilEmpty } from '../../../agent/sync/sync-service.ts';
import { waitFor } from '../../support/wait.ts';
import { encodeFrame } from '../../../drivers/zmq/frame.ts';
import { startReceiver } from '../../../receiver/server.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('daemon sync and retention share the catalog', () => {
  it('receipts mark chunks synced, status counts only the rest, and a restart after retention marks nothing missing', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-daemon-sync-'));
    const receiver = await startReceiver({
      dataDir: join(dir, 'store'),
      host: '127.0.0.1',
      port: 0,
      enrollTokens: ['enrol-token-0123456789'],
      log: silentLogger(),
    });
    try {
      const endpoint = `ipc://${join(dir, 'in.sock')}`;
      const file = join(dir, 'rigcap.yaml');
      await writeFile(
        file,
        [
          'version: 1',
          'rig: { id: sync-rig }',
          'spool: { dir: spool }',
          'keys: { dir: secrets }',
          'timesync: { chrony: false }',
          'chunking: { maxDurationMs: 300 }',
          `sync: { enabled: true, storeUrl: "${receiver.url}", enrollToken: enrol-token-0123456789, storeKey: ${receiver.key.signer.keyId}, backoffMinMs: 50, backoffMaxMs: 500 }`,
          'streams:',
          `  - { name: imu, driver: zmq, endpoint: "${endpoint}", socket: pull, bind: true, topic: /imu, type: sensor_msgs/msg/Imu }`,
        ].join('\n'),
      );
      const { config, digest } = loadConfigFile(file);
      const spool = config.spool.dir;
      const daemon = new Daemon({ config, configDigest: digest, log: silentLogger(), env: {} });
      await daemon.start(new AbortController().signal);
      const push = new Push();
      push.connect(endpoint);
      const send = async (seq: number): Promise<void> => {
        await push.send(
          encodeFrame(
            '/imu',
            {
              seq,
              captureNs: BigInt(Date.now()) * 1_000_000n,
              encoding: 'cdr',
              type: 'sensor_msgs/msg/Imu',
              latched: false,
            },
            new Uint8Array(64),
          ),
        );
      };
      // Sync runs inside the daemon on its own catalog handle: wait for its first chunk receipt.
      let seq = 0;
      // Each poll sends one more sample, so chunks keep filling until the first receipt.
      await waitFor(
        () => {
          void send(seq++);
          return daemon.snapshot().sync.lastReceiptAt !== null;
        },
        { what: 'a receipt while the daemon runs', timeoutMs: 60_000, everyMs: 50 },
      );
      push.close();
      await daemon.stop();

      // What the running daemon did not send, a later sync sends (the catalog remembers the rest).
      const service = openSyncService({ sync: config.sync, spoolDir: spool, log: silentLogger() });
      const drained = await syncUntilEmpty({ service, timeoutMs: 30_000 });
      await service.close();
      expect(drained.empty).toBe(true);
      expect(drained.backlog).toMatchObject({ chunks: 0, bytes: 0, refused: 0 });

      let catalog = Catalog.open({ path: join(spool, 'catalog.sqlite'), logger: silentLogger() });
      const chunks = catalog.listChunks();
      expect(chunks.length).toBeGreaterThan(0);
      expect(chunks.map((c) => c.state)).toEqual(chunks.map(() => 'synced'));
      expect(spoolSnapshot(spool, config.spool.budgetBytes).sync).toMatchObject({
        backlogChunks: 0,
        backlogBytes: 0,
      });
      expect(spoolSnapshot(spool, config.spool.budgetBytes).sync.lastReceiptAt).not.toBeNull();

      // Retention, as the daemon runs it (a year later), signs and deletes every synced chunk.
      const sealer = await RecordSealer.open({
        rootDir: spool,
        keysDir: config.keys.dir,
        signerId: config.rig.id,
        log: silentLogger(),
        keyPolicy: 'require-existing',
      });
      const sweeper = new RetentionSweeper({
        ledger: catalog.syncLedger(),
        spoolDir: spool,
        retentionDays: config.policy.retentionDays,
        recorder: sealer,
        log: silentLogger(),
        nowNs: () => BigInt(Date.now() + 400 * 86_400_000) * 1_000_000n,
      });
      expect(await sweeper.sweep()).toBe(chunks.length);
      await sealer.close();
      catalog.close();
      for (const c of chunks) expect(existsSync(join(spool, c.path))).toBe(false);

      // Restart: recovery reconciles the spool with the catalog, and no deleted chunk is missing.
      const again = new Daemon({ config, configDigest: digest, log: silentLogger(), env: {} });
      await again.start(new AbortController().signal);
      await again.stop();
      catalog = Catalog.open({ path: join(spool, 'catalog.sqlite'), logger: silentLogger() });
      const after = catalog.listChunks().filter((c) => chunks.some((d) => d.path === c.path));
      expect(after.map((c) => [c.state, c.flag])).toEqual(chunks.map(() => ['deleted', undefined]));
      expect(catalog.listChunks().filter((c) => c.flag !== undefined)).toEqual([]);
      catalog.close();
    } finally {
      await receiver.close();
    }
  });
});
