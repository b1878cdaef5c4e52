// The receiver's HTTP surface: tus uploads, blob presence, record submission with a custody
// receipt, the log's checkpoint and consistency proofs, and the OpenAPI document of all of it.
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import swagger from '@fastify/swagger';
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { DataStore, Locker } from '@tus/server';
import { RigcapError, isRigcapError, type ErrorCode } from '../agent/errors.ts';
import { sha256OfContentDigest } from '../agent/records/http-signature.ts';
import type { Logger } from '../agent/log.ts';
import { noteVerifierKey } from '../agent/records/checkpoint.ts';
import type { QuotaBook } from './auth/quotas.ts';
import type { RequestAuth } from './auth/request-auth.ts';
import { signableOf } from './auth/request-auth.ts';
import type { BlobStore } from './blob-store.ts';
import type { RecordIngest } from './ingest.ts';
import type { StoreKey } from './store-key.ts';
import { registerTusRoutes, type TusRoutesOptions } from './tus-routes.ts';

/** Header a device sends its one-time enrolment token in. */
export const enrollTokenHeader = 'rigcap-enroll-token';

/** HTTP status for each refusal code. */
const statusOf: Partial<Record<ErrorCode, number>> = {
  RIGCAP_RECEIVER_BAD_REQUEST: 400,
  RIGCAP_RECEIVER_BAD_RECORD: 400,
  RIGCAP_RECEIVER_BAD_NAME: 400,
  RIGCAP_RECEIVER_BAD_SIGNATURE: 401,
  RIGCAP_RECEIVER_UNAUTHENTICATED: 401,
  RIGCAP_RECEIVER_REPLAY: 401,
  RIGCAP_RECEIVER_NOT_REGISTERED: 403,
  RIGCAP_RECEIVER_QUOTA: 429,
  RIGCAP_RECEIVER_UNKNOWN_DEVICE: 403,
  RIGCAP_RECEIVER_ENROLL_REFUSED: 403,
  RIGCAP_RECEIVER_KEY_REVOKED: 403,
  RIGCAP_RECEIVER_CHAIN_FORK: 409,
  RIGCAP_RECEIVER_BLOB_MISSING: 412,
  RIGCAP_RECEIVER_OVERSIZE: 413,
  RIGCAP_RECEIVER_DIGEST_MISMATCH: 422,
  RIGCAP_RECEIVER_CHECKSUM_MISMATCH: 460,
};

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
  /** Per-device limits on tus uploads (with auth). */
  quotas?: QuotaBook;
  maxUploadBytes: number;
  maxPartBytes: number;
  https?: { cert: string | Buffer; key: string | Buffer };
}

const errorReply = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' }, hint: { type: 'string' } },
} as const;

const envelopeSchema = {
  type: 'object',
  required: ['payloadType', 'payload', 'signatures'],
  properties: {
    payloadType: { type: 'string' },
    payload: { type: 'string' },
    signatures: {
      type: 'array',
      items: {
        type: 'object',
        required: ['keyid', 'sig'],
        properties: { keyid: { type: 'string' }, sig: { type: 'string' } },
      },
    },
  },
} as const;

/** Builds the fastify app (not listening). */
export async function buildReceiverApp(deps: ReceiverAppDeps): Promise<FastifyInstance> {
  const { ingest, blobs, key } = deps;
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

  app.setErrorHandler((err, _req, reply) => {
    if (isRigcapError(err)) {
      const status = statusOf[err.code] ?? 500;
      if (status >= 500) deps.log.error({ err, code: err.code }, 'receiver error');
      else deps.log.warn({ code: err.code, reason: err.message }, 'refused');
      return reply.code(status).send({ code: err.code, message: err.message, hint: err.hint });
    }
    const fastifyErr = err as { statusCode?: number; code?: string; message: string };
    if (fastifyErr.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({
        code: 'RIGCAP_RECEIVER_OVERSIZE',
        message: 'request body larger than the configured part or record limit',
      });
    }
    if (fastifyErr.statusCode !== undefined && fastifyErr.statusCode < 500) {
      return reply
        .code(fastifyErr.statusCode)
        .send({ code: 'RIGCAP_RECEIVER_BAD_REQUEST', message: fastifyErr.message });
    }
    deps.log.error({ err }, 'receiver error');
    return reply.code(500).send({ code: 'RIGCAP_INTERNAL', message: fastifyErr.message });
  });

  registerTusRoutes(app, tusOptionsOf(deps));

  app.route({
    method: 'HEAD',
    url: '/v1/blobs/sha256/:hex',
    schema: {
      summary: 'Is a blob stored? 200 yes, 404 no',
      params: {
        type: 'object',
        required: ['hex'],
        properties: { hex: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
      },
    },
    handler: async (req, reply) => {
      const { hex } = req.params as { hex: string };
      const size = await blobs.size(hex);
      if (size === undefined) return reply.code(404).send();
      return reply.code(200).header('content-length', String(size)).send();
    },
  });

  registerRecordRoute(app, deps);

  app.get('/v1/log/checkpoint', {
    schema: { summary: 'Latest checkpoint (C2SP signed note)', response: { 200: { type: 'string' } } },
    handler: async (_req, reply) => reply.type('text/plain; charset=utf-8').send(ingest.checkpoint()),
  });

  app.get('/v1/log/consistency', {
    schema: {
      summary: 'RFC 9162 consistency proof between two tree sizes',
      querystring: {
        type: 'object',
        required: ['first', 'second'],
        properties: { first: { type: 'integer', minimum: 0 }, second: { type: 'integer', minimum: 0 } },
      },
      response: {
        200: {
          type: 'object',
          required: ['first', 'second', 'proof'],
          properties: {
            first: { type: 'integer' },
            second: { type: 'integer' },
            proof: { type: 'array', items: { type: 'string' } },
          },
        },
        '4xx': errorReply,
      },
    },
    handler: async (req) => {
      const { first, second } = req.query as { first: number; second: number };
      return { first, second, proof: ingest.consistencyProof(first, second) };
    },
  });

  app.get('/v1/store', {
    schema: {
      summary: 'Store identity: id, log origin, public key, note verifier key',
      response: {
        200: {
          type: 'object',
          required: ['storeId', 'origin', 'publicKeyPem', 'noteVerifierKey', 'logSize'],
          properties: {
            storeId: { type: 'string' },
            origin: { type: 'string' },
            publicKeyPem: { type: 'string' },
            noteVerifierKey: { type: 'string' },
            logSize: { type: 'integer' },
            region: { type: 'string' },
          },
        },
      },
    },
    handler: async () => storeAnswer(key, ingest),
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

/**
 * POST /v1/records. With request authentication on, a record is accepted from a signed request of
 * an enrolled device (its Content-Digest checked against the raw body), or unsigned only as an
 * enrolment: carrying the one-time token, which the ingest checks.
 */
function registerRecordRoute(app: FastifyInstance, deps: ReceiverAppDeps): void {
  const { ingest, auth } = deps;
  const bodyDigests = new WeakMap<FastifyRequest, Buffer>();
  app.post('/v1/records', {
    schema: {
      summary: 'Submit a signed record (DSSE envelope); answers with a custody receipt',
      headers: { type: 'object', properties: { [enrollTokenHeader]: { type: 'string' } } },
      body: envelopeSchema,
      response: {
        200: { $ref: 'custodyAnswer#' },
        201: { $ref: 'custodyAnswer#' },
        '4xx': errorReply,
      },
    },
    preParsing: async (req, _reply, payload) => {
      if (auth === undefined) return payload;
      const hash = createHash('sha256');
      return payload.pipe(
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            done(null, chunk);
          },
          flush(done) {
            bodyDigests.set(req, hash.digest());
            done();
          },
        }),
      );
    },
    preHandler: async (req) => {
      if (auth === undefined) return;
      // An enrolment (the device-key record with its one-time token) comes before the key is known.
      if (typeof req.headers[enrollTokenHeader] === 'string') return;
      await auth.authenticate(signableOf(req));
      const signed = sha256OfContentDigest(String(req.headers['content-digest'] ?? ''));
      const actual = bodyDigests.get(req) ?? createHash('sha256').digest();
      if (signed === undefined || !signed.equals(actual)) {
        throw new RigcapError(
          'RIGCAP_RECEIVER_BAD_SIGNATURE',
          'the body does not match the signed Content-Digest',
        );
      }
    },
    handler: async (req, reply) => {
      const token = req.headers[enrollTokenHeader];
      const bytes = Buffer.from(`${JSON.stringify(req.body)}\n`, 'utf8');
      const result = await ingest.submit(bytes, typeof token === 'string' ? { enrollToken: token } : {});
      return reply.code(result.status).send({
        receipt: result.receipt,
        logIndex: result.logIndex,
        checkpoint: result.checkpoint,
        inclusionProof: result.inclusionProof,
      });
    },
  });
}

function tusOptionsOf(deps: ReceiverAppDeps): TusRoutesOptions {
  const { datastore, blobs, maxUploadBytes, maxPartBytes, log, locker, auth, quotas } = deps;
  return {
    datastore,
    blobs,
    maxUploadBytes,
    maxPartBytes,
    log,
    ...(locker === undefined ? {} : { locker }),
    ...(auth === undefined ? {} : { auth }),
    ...(quotas === undefined ? {} : { quotas }),
  };
}

/** The schema of a custody answer, registered once for $ref. */
export function addSharedSchemas(app: FastifyInstance): void {
  app.addSchema({
    $id: 'custodyAnswer',
    type: 'object',
    required: ['receipt', 'logIndex', 'checkpoint', 'inclusionProof'],
    properties: {
      receipt: envelopeSchema,
      logIndex: { type: 'integer' },
      checkpoint: { type: 'string' },
      inclusionProof: { type: 'array', items: { type: 'string' } },
    },
  });
}

/** GET /v1/store: the store's identity, log size and (with `--region`) its region. */
function storeAnswer(key: StoreKey, ingest: RecordIngest): Record<string, unknown> {
  return {
    storeId: key.storeId,
    origin: ingest.origin,
    publicKeyPem: key.publicKeyPem,
    noteVerifierKey: noteVerifierKey(ingest.origin, key.privateKey),
    logSize: ingest.logSize,
    ...(ingest.region === undefined ? {} : { region: ingest.region }),
  };
}
