// Composition root of the reference receiver: opens the state database, the store key, the blob
// store and the tus datastore, repairs the layout after a crash, and listens.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { FileStore } from '@tus/file-store';
import type { DataStore } from '@tus/server';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../agent/log.ts';
import { buildReceiverApp } from './app.ts';
import { FileBlobStore, type BlobStore } from './blob-store.ts';
import { RecordIngest } from './ingest.ts';
import { StoreLayout } from './layout.ts';
import { ReceiverState } from './state.ts';
import { defaultStoreKeyPath, loadOrCreateStoreKey, type StoreKey } from './store-key.ts';

export interface ReceiverOptions {
  /** Root of the store layout. */
  dataDir: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Store private key; default `DIR.secrets/store.key`. */
  keyFile?: string;
  enrollTokens: readonly string[];
  /** Largest blob accepted. */
  maxUploadBytes?: number;
  /** Largest tus PATCH body accepted. */
  maxPartBytes?: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  log: Logger;
  /** Storage backends; default local disk under dataDir (see README for S3). */
  backends?: { blobs: BlobStore; datastore: DataStore };
}

/** A running receiver. */
export interface ReceiverHandle {
  readonly url: string;
  readonly storeId: string;
  readonly key: StoreKey;
  readonly app: FastifyInstance;
  /** Stops accepting, lets in-flight requests finish. */
  close(): Promise<void>;
  /** Drops connections now. */
  destroy(): Promise<void>;
}

/** Starts the receiver and resolves once it listens. */
export async function startReceiver(options: ReceiverOptions): Promise<ReceiverHandle> {
  const dataDir = resolve(options.dataDir);
  const log = options.log.child({ component: 'receiver' });
  const incomingDir = join(dataDir, 'incoming');
  await mkdir(join(dataDir, 'log'), { recursive: true });
  await mkdir(incomingDir, { recursive: true });
  const key = await loadOrCreateStoreKey({
    keyFile: options.keyFile ?? defaultStoreKeyPath(dataDir),
    dataDir,
  });
  const db = new Database(join(dataDir, 'log', 'receiver.sqlite'));
  const state = new ReceiverState(db);
  const blobs = options.backends?.blobs ?? new FileBlobStore({ root: dataDir, incomingDir });
  const datastore = options.backends?.datastore ?? new FileStore({ directory: incomingDir });
  const ingest = new RecordIngest({
    state,
    layout: new StoreLayout(dataDir),
    blobs,
    key,
    log,
    enrollTokens: options.enrollTokens,
  });
  const repaired = await ingest.repair();
  const appDeps = {
    log,
    key,
    ingest,
    blobs,
    datastore,
    maxUploadBytes: options.maxUploadBytes ?? 4 * 1024 * 1024 * 1024,
    maxPartBytes: options.maxPartBytes ?? 64 * 1024 * 1024,
  };
  const app = await buildReceiverApp(
    options.tls === undefined ? appDeps : { ...appDeps, https: options.tls },
  );
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `${options.tls === undefined ? 'http' : 'https'}://${host}:${port}`;
  log.info({ url, storeId: key.storeId, records: repaired, logSize: ingest.logSize }, 'receiver listening');
  let closed: Promise<void> | undefined;
  const finish = async (force: boolean): Promise<void> => {
    if (force) app.server.closeAllConnections();
    await app.close();
    await ingest.drain();
    db.close();
  };
  return {
    url,
    storeId: key.storeId,
    key,
    app,
    close: () => (closed ??= finish(false)),
    destroy: () => (closed ??= finish(true)),
  };
}
