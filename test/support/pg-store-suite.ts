// Set-up shared by the suites that run the receiver's state and ingest on a test PostgreSQL: one
// server for the file, a temp dir with a store key, and everything opened closed again at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { silentLogger } from '../../agent/log.ts';
import { FileBlobStore } from '../../receiver/blob-store.ts';
import { RecordIngest } from '../../receiver/ingest.ts';
import { openPgReceiverState, type PgReceiverState } from '../../receiver/state/pg/pg-state.ts';
import { loadOrCreateStoreKey, type StoreKey } from '../../receiver/store-key.ts';
import { startPostgres, type PostgresEngine } from './engines/postgres.ts';

/** What a suite's tests use; engine, root and key throw before beforeAll has run. */
export interface PgStoreSuite {
  readonly engine: PostgresEngine;
  readonly root: string;
  readonly key: StoreKey;
  /** Closed in reverse order after the suite. */
  readonly open: Array<{ close(): Promise<void> }>;
  /** Receiver state on the database at `url`, closed after the suite. */
  state(url: string): Promise<PgReceiverState>;
  /** Record ingest on `state` with blobs in a new dir under root. */
  ingestOn(state: PgReceiverState, enrollTokens: readonly string[]): Promise<RecordIngest>;
}

function started<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('the suite has not started yet (used outside a test)');
  return value;
}

/** Registers the suite's beforeAll and afterAll; call it inside describe. */
export function pgStoreSuite(prefix: string): PgStoreSuite {
  let engine: PostgresEngine | undefined;
  let root: string | undefined;
  let key: StoreKey | undefined;
  const open: Array<{ close(): Promise<void> }> = [];
  beforeAll(async () => {
    engine = await startPostgres();
    root = mkdtempSync(join(tmpdir(), prefix));
    key = await loadOrCreateStoreKey({ keyFile: join(root, 'secrets', 'store.key') });
  }, 120_000);
  afterAll(async () => {
    for (const o of open.reverse()) await o.close();
    await engine?.stop();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  }, 60_000);
  return {
    get engine() {
      return started(engine);
    },
    get root() {
      return started(root);
    },
    get key() {
      return started(key);
    },
    open,
    async state(url) {
      const s = await openPgReceiverState({ url });
      open.push(s);
      return s;
    },
    async ingestOn(state, enrollTokens) {
      const blobDir = mkdtempSync(join(started(root), 'blobs-'));
      return RecordIngest.open({
        state,
        blobs: new FileBlobStore({ root: blobDir, incomingDir: join(blobDir, 'incoming') }),
        key: started(key),
        log: silentLogger(),
        enrollTokens,
      });
    },
  };
}
