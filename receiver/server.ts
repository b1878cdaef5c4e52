// Composition root of the reference receiver: opens the state (embedded SQLite or PostgreSQL),
// the store key, the blob store and the tus datastore, repairs the layout after a crash, and
// listens.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FileStore } from '@tus/file-store';
import type { DataStore, Locker } from '@tus/server';
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { RigcapError } from '../agent/errors.ts';
import type { Logger } from '../agent/log.ts';
import { parseEnvelope } from '../agent/records/dsse.ts';
import { buildReceiverApp } from './app.ts';
import { openDeviceAuth, type DeviceAuth } from './auth/open.ts';
import type { DeviceQuotas } from './auth/quotas.ts';
import { FileBlobStore, type BlobStore } from './blob-store.ts';
import { RecordIngest } from './ingest.ts';
import { StoreLayout } from './layout.ts';
import type { ReceiverState } from './state.ts';
import { openReceiverState, type StateDatabase } from './state/open.ts';
import { defaultStoreKeyPath, loadOrCreateStoreKey, type StoreKey } from './store-key.ts';
import type { ReadAccess } from './access/open.ts';
import type { Reader } from './access/readers.ts';
import type { ExpiryTimer } from './retention/expiry-timer.ts';
import type { TilePublishing } from './log-tiles/open.ts';

export interface ReceiverOptions {
  /** Root of the store layout; without `db` also holds the state, without `backends` the blobs. */
  dataDir?: string;
  /** Keep the state in PostgreSQL (any number of receivers on one database). */
  db?: StateDatabase;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Store private key; default `DIR.secrets/store.key` (required without `dataDir`). */
  keyFile?: string;
  enrollTokens: readonly string[];
  /** Region the store states in its receipts and store answer (`--region`). */
  region?: string;
  /** Retention policy file: expire blobs past their retention hourly (receiver/retention/). */
  retentionPolicyFile?: string;
  /** Largest blob accepted. */
  maxUploadBytes?: number;
  /** Largest tus PATCH body accepted. */
  maxPartBytes?: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  log: Logger;
  /** Storage backends; default local disk under dataDir (see README for S3). */
  backends?: StorageBackends;
  /** Blobs and tus uploads in an S3-compatible bucket (`s3://BUCKET[/prefix]`) instead of dataDir. */
  objectStore?: { url: string; endpoint?: string };
  /** Every tus and records request signed by an enrolled device key (receiver/auth/request-auth.ts). */
  requireSignatures?: boolean;
  /** Registry of devices that may enrol: this devices file instead of the store's own (DIR.secrets/devices.json, or the database with `db`). */
  devicesFile?: string;
  /** Per-device quotas on uploads (with requireSignatures); counted in the database with `db`. */
  quotas?: DeviceQuotas;
  /** Serve the read-only dashboard under /ui/ to requests presenting one of these reader tokens. */
  uiReaderTokens?: readonly string[];
  /** Named readers (receiver/access/readers.ts): serve the read API and the dashboard (files of dataDir, else the state's log). */
  readers?: readonly Reader[];
}

/** Where blobs and tus uploads live. */
export interface StorageBackends {
  blobs: BlobStore;
  datastore: DataStore;
  /** Shared tus upload lock when several receivers serve one store. */
  locker?: Locker;
  close?(): Promise<void>;
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

/** Refuses a key that is not the one the state's store chain was enrolled with. */
async function checkStoreKey(state: ReceiverState, key: StoreKey): Promise<void> {
  const enrol = await state.meta('store.enrol');
  if (enrol === undefined) return;
  const keyid = parseEnvelope(Buffer.from(enrol, 'utf8'))?.envelope.signatures[0]?.keyid;
  if (keyid !== key.signer.keyId) {
    throw new RigcapError(
      'RIGCAP_STORE_KEY_MISMATCH',
      `the store state was created with key ${keyid ?? '?'}, not ${key.signer.keyId}`,
    );
  }
}

async function storageOf(
  options: ReceiverOptions,
  dataDir: string | undefined,
  context: { pool: Pool | undefined; log: Logger },
): Promise<StorageBackends> {
  if (options.backends !== undefined) return options.backends;
  if (options.objectStore !== undefined) {
    const { openS3Backends } = await import('./backends/s3/open.ts');
    const { url, endpoint } = options.objectStore;
    return openS3Backends({
      url,
      log: context.log,
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(context.pool === undefined ? {} : { pg: context.pool }),
    });
  }
  if (dataDir === undefined)
    throw new RigcapError(
      'RIGCAP_USAGE',
      'the receiver needs --data DIR unless blobs live in an object store',
    );
  const incomingDir = join(dataDir, 'incoming');
  return {
    blobs: new FileBlobStore({ root: dataDir, incomingDir }),
    datastore: new FileStore({ directory: incomingDir }),
  };
}

/** Starts the receiver and resolves once it listens. */
export async function startReceiver(options: ReceiverOptions): Promise<ReceiverHandle> {
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  const log = options.log.child({ component: 'receiver' });
  const keyFile = options.keyFile ?? (dataDir === undefined ? undefined : defaultStoreKeyPath(dataDir));
  if (keyFile === undefined)
    throw new RigcapError('RIGCAP_USAGE', 'the receiver needs --key FILE when it has no --data DIR');
  if (dataDir !== undefined) {
    await mkdir(join(dataDir, 'log'), { recursive: true });
    await mkdir(join(dataDir, 'incoming'), { recursive: true });
  }
  const key = await loadOrCreateStoreKey(dataDir === undefined ? { keyFile } : { keyFile, dataDir });
  const { state, pool } = await openReceiverState({
    log,
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(options.db === undefined ? {} : { db: options.db }),
  });
  let storage: StorageBackends;
  try {
    await checkStoreKey(state, key);
    storage = await storageOf(options, dataDir, { pool: guardPoolClients(pool, log), log });
  } catch (err) {
    await state.close();
    throw err;
  }
  const { blobs, datastore, locker, close: closeBackends } = storage;
  const ingest = await openIngest(options, { state, blobs, key, log, dataDir });
  const repaired = await ingest.repair();
  const tiles = await tilesOf(options, { state, key, log, dataDir, pool });
  const appDeps = {
    log,
    key,
    ingest,
    blobs,
    datastore,
    maxUploadBytes: options.maxUploadBytes ?? 4 * 1024 * 1024 * 1024,
    maxPartBytes: options.maxPartBytes ?? 64 * 1024 * 1024,
    ...(locker === undefined ? {} : { locker }),
    ...deviceAuthOf(options, { keys: state, pool, dataDir }),
  };
  let app: FastifyInstance;
  let expiry: ExpiryTimer | undefined;
  let access: ReadAccess | undefined;
  try {
    expiry = await expiryOf(options, { state, key, blobs, log, dataDir });
    access = await accessOf(options, { dataDir, state, key, log, blobs });
    app = await appOf(options, appDeps, { tiles, access });
    await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    // A port in use or a dashboard that cannot start must not leave the database pool or the
    // object store client open.
    await expiry?.stop();
    await access?.close();
    await tiles?.close();
    await closeBackends?.();
    await state.close();
    throw err;
  }
  const url = urlOf(app, options);
  log.info(
    { url, storeId: key.storeId, state: state.kind, records: repaired, logSize: ingest.logSize },
    'receiver listening',
  );
  let closed: Promise<void> | undefined;
  const finish = async (force: boolean): Promise<void> => {
    await expiry?.stop();
    if (force) app.server.closeAllConnections();
    await app.close();
    await ingest.drain();
    await access?.close();
    await tiles?.close();
    // Backends first: the tus Locker may hold connections of the state's pool.
    await closeBackends?.();
    await state.close();
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

/** The URL the app listens on (the port it was given, or the one picked for port 0). */
function urlOf(app: FastifyInstance, options: ReceiverOptions): string {
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return `${options.tls === undefined ? 'http' : 'https'}://${host}:${port}`;
}

/** Enrolment gate, request authentication and quotas, where the state lives (receiver/auth/open.ts). */
function deviceAuthOf(options: ReceiverOptions, where: Parameters<typeof openDeviceAuth>[1]): DeviceAuth {
  return openDeviceAuth(
    {
      startupTokens: options.enrollTokens,
      ...(options.devicesFile === undefined ? {} : { devicesFile: options.devicesFile }),
      ...(options.requireSignatures === true ? { requireSignatures: true } : {}),
      ...(options.quotas === undefined ? {} : { quotas: options.quotas }),
    },
    where,
  );
}

/**
 * A pg client checked out of the pool has lost the pool's error listener: an error on its connection
 * between two queries (PostgreSQL restarting) would be an unhandled 'error' event and end the
 * process. Each client gets a listener of its own on first checkout; its next query fails instead.
 */
function guardPoolClients(pool: Pool | undefined, log: Logger): Pool | undefined {
  const guarded = new WeakSet<object>();
  pool?.on('acquire', (client) => {
    if (guarded.has(client)) return;
    guarded.add(client);
    client.on('error', (err: Error & { code?: string }) =>
      // Not `{ err }`: pg's errors carry the whole client object.
      log.warn({ code: err.code, reason: err.message }, 'database connection lost'),
    );
  });
  return pool;
}

/** The record ingest over the opened state and blobs, stating the store's region. */
function openIngest(
  options: ReceiverOptions,
  deps: { state: ReceiverState; key: StoreKey; blobs: BlobStore; log: Logger; dataDir: string | undefined },
): Promise<RecordIngest> {
  const { dataDir, ...rest } = deps;
  return RecordIngest.open({
    ...rest,
    enrollTokens: options.enrollTokens,
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(dataDir === undefined ? {} : { layout: new StoreLayout(dataDir) }),
  });
}

/** The log published as tlog-tiles: to the bucket with an object store, else under DIR/log/tiles. */
async function tilesOf(
  options: ReceiverOptions,
  deps: {
    state: ReceiverState;
    key: StoreKey;
    log: Logger;
    dataDir: string | undefined;
    pool: Pool | undefined;
  },
): Promise<TilePublishing | undefined> {
  const { dataDir, pool, ...rest } = deps;
  // Backends given by the caller with neither a directory nor a bucket: nowhere to publish.
  if (dataDir === undefined && options.objectStore === undefined) return undefined;
  const { startTilePublishing } = await import('./log-tiles/open.ts');
  return startTilePublishing({
    ...rest,
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(options.objectStore === undefined ? {} : { objectStore: options.objectStore }),
    ...(pool === undefined ? {} : { pool }),
  });
}

/** The retention expiry timer when a policy file is given. */
async function expiryOf(
  options: ReceiverOptions,
  deps: { state: ReceiverState; key: StoreKey; blobs: BlobStore; log: Logger; dataDir: string | undefined },
): Promise<ExpiryTimer | undefined> {
  if (options.retentionPolicyFile === undefined) return undefined;
  const { startExpiryTimer } = await import('./retention/expiry-timer.ts');
  const { dataDir, ...rest } = deps;
  return startExpiryTimer({
    ...rest,
    policyFile: options.retentionPolicyFile,
    layout: dataDir === undefined ? undefined : new StoreLayout(dataDir),
  });
}

/** Read access (read API + dashboard) when named readers or dashboard tokens are given. */
async function accessOf(
  options: ReceiverOptions,
  deps: {
    dataDir: string | undefined;
    state: ReceiverState;
    key: StoreKey;
    log: Logger;
    blobs: BlobStore;
  },
): Promise<ReadAccess | undefined> {
  if (options.readers === undefined && options.uiReaderTokens === undefined) return undefined;
  const { openReadAccess, unnamedReaders } = await import('./access/open.ts');
  const readers = [...(options.readers ?? []), ...unnamedReaders(options.uiReaderTokens ?? [])];
  return openReadAccess({ ...deps, readers });
}

/** The fastify app, with the read API and dashboard mounted when readers are given. */
async function appOf(
  options: ReceiverOptions,
  deps: Parameters<typeof buildReceiverApp>[0],
  { tiles, access }: { tiles: TilePublishing | undefined; access: ReadAccess | undefined },
): Promise<FastifyInstance> {
  const app = await buildReceiverApp(options.tls === undefined ? deps : { ...deps, https: options.tls });
  if (access !== undefined)
    await (await import('./access/open.ts')).mountReadAccess(app, access, { blobs: deps.blobs });
  if (tiles !== undefined)
    await app.register((await import('./log-tiles/routes.ts')).tileRoutes, { sink: tiles.sink });
  return app;
}
