// Child process for the kill -9 test: drains a spool to a store and prints the client stats.
import { silentLogger } from '../../../agent/log.ts';
import { openSyncService } from '../../../agent/sync/sync-service.ts';

const [spoolDir, storeUrl, caFile, cap] = process.argv.slice(2);
const service = openSyncService({
  spoolDir: spoolDir ?? '',
  log: silentLogger(),
  sync: {
    enabled: true,
    storeUrl: storeUrl ?? '',
    enrollToken: 'tok',
    partBytes: 64 * 1024,
    bandwidthBytesPerSec: Number(cap ?? 0),
    concurrency: 1,
    backoffMinMs: 50,
    backoffMaxMs: 500,
    storeKeyFile: '',
    storeKey: '',
    // Its own store on loopback, pinned on first use (explicitly).
    trustOnFirstUse: true,
    caFile: caFile ?? '',
  },
});
const result = await service.scheduler.drain({ untilMs: Date.now() + 60_000 });
process.stdout.write(`${JSON.stringify({ ...result, stats: service.client.stats })}\n`);
await service.close();
