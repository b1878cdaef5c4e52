// The receiver's HTTP surface: tus uploads, blob presence, record submission with a custody
// receipt, the log's checkpoint and consistency proofs, and the OpenAPI document of all of it.
// Each route group is one plugin in receiver/routes/; this file only wires them. A new group is a
// plugin of its own (routePlugin in receiver/routes/plugin.ts) and one register line below.
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { DataStore, Locker } from '@tus/server';
import type { Logger } from '../agent/log.ts';
import type { EnrolmentGate } from './auth/device-directory.ts';
import type { QuotaLedger } from './auth/quotas.ts';
import type { RequestAuth } from './auth/request-auth.ts';
import type { BlobStore } from './blob-store.ts';
import type { RecordIngest } from './ingest.ts';
import type { StoreKey } from './store-key.ts';
import { blobRoutes } from './routes/blobs.ts';
import { setReceiverErrorHandler } from './routes/errors.ts';
import { logRoutes } from './routes/log.ts';
import { recordRoutes } from './routes/records.ts';
import { addSharedSchemas } from './routes/schemas.ts';
import { storeRoutes } from './routes/store.ts';
import { uploadRoutes } from './routes/uploads.ts';

export { enrollTokenHeader } from './routes/records.ts';
export { addSharedSchemas } from './routes/schemas.ts';

export interface ReceiverAppDeps {
  log: Logger;
  key: StoreKey;
  ingest: RecordIngest;
  blobs: BlobStore;
  datastore: DataStore;
  /** tus Locker shared by every instance of one store (see receiver/backends/pg-locker.ts). */
  locker?: Locker;
  /** Signed requests only (RFC 9421 with enrolled device keys); off when absent. */
  auth?: RequestAuth;
  /** Enrolment only for registered devices (or start-up tokens); off when absent. */
  enrolment?: EnrolmentGate;
  /** Per-device limits on tus uploads (with auth). */
  quotas?: QuotaLedger;
  maxUploadBytes: number;
  maxPartBytes: number;
  https?: { cert: string | Buffer; key: string | Buffer };
}

/** Builds the fastify app (not listening). */
export async function buildReceiverApp(deps: ReceiverAppDeps): Promise<FastifyInstance> {
  const options: FastifyServerOptions & { https?: { cert: string | Buffer; key: string | Buffer } } = {
    loggerInstance: deps.log,
    // Per-request lines would drown the record/refusal lines that matter.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    // Agents on flaky links keep connections open across retries.
    keepAliveTimeout: 30_000,
  };
  if (deps.https !== undefined) options.https = deps.https;
  const app = Fastify(options) as unknown as FastifyInstance;

  await app.register(swagger, {
    exposeHeadRoutes: true,
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'rigcap receiver',
        version: '1',
        description:
          'Ingest protocol: tus uploads, blob presence, signed records, custody receipts, transparency log.',
      },
    },
  });
  addSharedSchemas(app);
  setReceiverErrorHandler(app, deps.log);

  await app.register(uploadRoutes, deps);
  await app.register(blobRoutes, deps);
  await app.register(recordRoutes, deps);
  await app.register(logRoutes, deps);
  await app.register(storeRoutes, deps);

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
