// Builds sync from config: the ledger (the catalog's), the tus client with the bandwidth cap, the
// scheduler. The daemon, `rigcap sync`, the demo and the bench all start sync through here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Catalog } from '../catalog/catalog.ts';
import type { SyncConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import { storePinOf } from './store-pin.ts';
import { UploadScheduler, type Backlog, type DrainResult } from './scheduler.ts';
import type { SyncLedger } from './state.ts';
import { TokenBucket } from './token-bucket.ts';
import { TusClient, type TusClientOptions } from './tus-client.ts';

/** A running sync: its scheduler, ledger and client (for stats). */
export interface SyncService {
  readonly scheduler: UploadScheduler;
  readonly state: SyncLedger;
  readonly client: TusClient;
  backlog(): Backlog;
  close(): Promise<void>;
  destroy(err?: Error): Promise<void>;
}

/**
 * Opens sync for a spool. `ledger` is the catalog's (the caller keeps it open until the service is
 * closed); without one, the spool's catalog is opened here and closed with the service.
 */
export function openSyncService(options: {
  sync: SyncConfig;
  spoolDir: string;
  log: Logger;
  ledger?: SyncLedger;
  streamPriority?: (topic: string) => number | undefined;
  /** Overrides sync.storeUrl (e.g. a proxy in tests and the bench). */
  storeUrl?: string;
  idleTimeoutMs?: number;
  /** The device key that signs every request to the store (see TusClientOptions.signer). */
  signer?: TusClientOptions['signer'];
}): SyncService {
  const { sync, log } = options;
  const pin = storePinOf(sync);
  const ca = sync.caFile === '' ? undefined : readFileSync(sync.caFile, 'utf8');
  let own: Catalog | undefined;
  let state: SyncLedger;
  if (options.ledger !== undefined) state = options.ledger;
  else {
    own = Catalog.open({ path: join(options.spoolDir, 'catalog.sqlite'), logger: log });
    state = own.syncLedger();
  }
  const bucket =
    sync.bandwidthBytesPerSec > 0
      ? new TokenBucket({ rateBytesPerSec: sync.bandwidthBytesPerSec })
      : undefined;
  const client = new TusClient({
    baseUrl: options.storeUrl ?? sync.storeUrl,
    partBytes: sync.partBytes,
    log,
    ...(bucket === undefined ? {} : { bucket }),
    ...(ca === undefined ? {} : { ca }),
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
    ...(options.signer === undefined ? {} : { signer: options.signer }),
  });
  const scheduler = new UploadScheduler({
    spoolDir: options.spoolDir,
    state,
    client,
    log,
    concurrency: sync.concurrency,
    backoffMinMs: sync.backoffMinMs,
    backoffMaxMs: sync.backoffMaxMs,
    enrollToken: sync.enrollToken,
    bandwidthBytesPerSec: sync.bandwidthBytesPerSec,
    ...pin,
    ...(sync.allowedRegions === undefined ? {} : { allowedRegions: sync.allowedRegions }),
    ...(options.streamPriority === undefined ? {} : { streamPriority: options.streamPriority }),
  });
  let done: Promise<void> | undefined;
  return {
    scheduler,
    state,
    client,
    backlog: () => scheduler.backlog(),
    close: () =>
      (done ??= scheduler.close().finally(() => {
        own?.close();
      })),
    destroy: (err) =>
      (done ??= scheduler.destroy(err).finally(() => {
        own?.close();
      })),
  };
}

/** Drains until the backlog is empty or `timeoutMs` passes (the demo's bounded wait). */
export async function syncUntilEmpty(options: {
  service: SyncService;
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?: (b: Backlog) => void;
}): Promise<DrainResult & { backlog: Backlog }> {
  const signals = [
    AbortSignal.timeout(options.timeoutMs),
    ...(options.signal === undefined ? [] : [options.signal]),
  ];
  const result = await options.service.scheduler.drain({
    signal: AbortSignal.any(signals),
    untilMs: Date.now() + options.timeoutMs,
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  return { ...result, backlog: options.service.backlog() };
}
