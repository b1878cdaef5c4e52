// A fake device's spool synced to a receiver the way the agent does it: its catalog's sync ledger,
// the tus client and the upload scheduler, one upload at a time with short backoffs.
import { expect } from 'vitest';
import { join } from 'node:path';
import { Catalog } from '../../../agent/catalog/catalog.ts';
import { silentLogger } from '../../../agent/log.ts';
import { UploadScheduler } from '../../../agent/sync/scheduler.ts';
import { TusClient } from '../../../agent/sync/tus-client.ts';

/** An upload scheduler for the spool at `spool`, sending to `baseUrl`. */
export function spoolScheduler(o: {
  spool: string;
  baseUrl: string;
  enrollToken: string;
  allowedRegions?: string[];
}): UploadScheduler {
  const catalog = Catalog.open({ path: join(o.spool, 'catalog.sqlite'), logger: silentLogger() });
  return new UploadScheduler({
    spoolDir: o.spool,
    state: catalog.syncLedger(),
    client: new TusClient({ baseUrl: o.baseUrl, partBytes: 64 * 1024, log: silentLogger() }),
    log: silentLogger(),
    concurrency: 1,
    backoffMinMs: 20,
    backoffMaxMs: 200,
    enrollToken: o.enrollToken,
    ...(o.allowedRegions === undefined ? {} : { allowedRegions: o.allowedRegions }),
  });
}

/** Syncs everything in the spool (within 30 s, or the test fails) and closes the scheduler. */
export async function syncSpool(o: Parameters<typeof spoolScheduler>[0]): Promise<void> {
  const s = spoolScheduler(o);
  expect((await s.drain({ untilMs: Date.now() + 30_000 })).empty).toBe(true);
  await s.close();
}
