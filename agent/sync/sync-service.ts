// Builds sync from config: the SQLite state, the tus client with the bandwidth cap, the scheduler.
// The agent, `rigcap sync`, the demo and the bench all start sync through here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { SyncConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import { UploadScheduler, type Backlog, type DrainResult } from './scheduler.ts';
import { SyncState } from './state.ts';
import { TokenBucket } from './token-bucket.ts';
import { TusClient } from './tus-client.ts';

/** A running sync: its scheduler, state and client (for stats). */
export interface SyncService {
  readonly scheduler: UploadScheduler;
  readonly state: SyncState;
  readonly client: TusClient;
  backlog(): Backlog;
  close(): Promise<void>;
  destroy(err?: Error): Promise<void>;
}

/** Opens sync for a spool; `db` defaults to `<spoolDir>/sync.sqlite` (the catalog handle when the agent has one). */
export function openSyncService(options: {
  sync: SyncConfig;
  spoolDir: string;
  log: Logger;
  db?: Database.Database;
  streamPriority?: (topic: string) => number | undefined;
  /** Overrides sync.storeUrl (e.g. a proxy in tests and the bench). */
  storeUrl?: string;
  idleTimeoutMs?: number;
}): SyncService {
  const { sync, log } = options;
  const ownDb = options.db === undefined;
  const db = options.db ?? new Database(join(options.spoolDir, 'sync.sqlite'));
  const state = new SyncState(db);
  const bucket =
    sync.bandwidthBytesPerSec > 0
      ? new TokenBucket({ rateBytesPerSec: sync.bandwidthBytesPerSec })
      : undefined;
  const client = new TusClient({
    baseUrl: options.storeUrl ?? sync.storeUrl,
    partBytes: sync.partBytes,
    log,
    ...(bucket === undefined ? {} : { bucket }),
    ...(sync.caFile === '' ? {} : { ca: readFileSync(sync.caFile, 'utf8') }),
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
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
    ...(sync.storeKeyFile === '' ? {} : { storeKeyPem: readFileSync(sync.storeKeyFile, 'utf8') }),
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
        if (ownDb) db.close();
      })),
    destroy: (err) =>
      (done ??= scheduler.destroy(err).finally(() => {
        if (ownDb) db.close();
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
