// tus 1.0 (core + creation + checksum + termination) on fastify through @tus/server. @tus/server 2
// has no checksum extension, so each PATCH body (at most one part) is streamed to a temp file while
// it is hashed and checked (tus-part.ts), and only then handed to tus from that file: memory stays
// bounded whatever the part size, and a part that fails or is cut off never reaches the store. With
// request authentication on, every tus request must be signed by an enrolled device, and a device
// sees only the uploads it created.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/swagger';
import { Server as TusServer, type DataStore, type Locker, type Upload } from '@tus/server';
import type { BlobStore } from './blob-store.ts';
import {
  checkedBody,
  checksumAlgorithms,
  type PartOptions,
  type Refusal,
  type SpooledPart,
} from './tus-part.ts';
import type { QuotaLedger } from './auth/quotas.ts';
import { signableOf, type AuthenticatedDevice, type RequestAuth } from './auth/request-auth.ts';

export const uploadsPath = '/v1/uploads';

/** Metadata key the store sets to the device that created an upload (never taken from a client). */
const ownerKey = 'rigcap-device';
/** Header carrying the verified device from the route to the tus hooks (set here, never trusted). */
const ownerHeader = 'x-rigcap-verified-device';

export interface TusRoutesOptions extends PartOptions {
  datastore: DataStore;
  blobs: BlobStore;
  /** Largest Upload-Length accepted (413 above it). */
  maxUploadBytes: number;
  /** Shared by every receiver instance of one store (PostgreSQL advisory locks); default in-process. */
  locker?: Locker;
  /** Signed requests only (every tus request names its device); off: anyone may upload. */
  auth?: RequestAuth;
  /** Per-device limits (with auth on): bytes a day, open uploads, upload size. */
  quotas?: QuotaLedger;
}

const uploadIdPattern = /^[0-9a-f]{32}$/;
const sha256Pattern = /^[0-9a-f]{64}$/;

/** A refusal the tus hooks throw; @tus/server turns `status_code`/`body` into the response. */
function tusRefusal(status: number, code: string, message: string): { status_code: number; body: string } {
  return { status_code: status, body: `${JSON.stringify({ code, message })}\n` };
}

/** The declared sha256 (lowercase hex) in an upload's metadata, if well formed. */
function declaredSha256(upload: Upload): string | undefined {
  const value = upload.metadata?.['sha256'];
  return typeof value === 'string' && sha256Pattern.test(value) ? value : undefined;
}

/** The request's headers for a web Request, less the hop-by-hop ones and the store's own. */
function webHeaders(req: FastifyRequest): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === 'transfer-encoding' || name === 'connection' || name === ownerHeader)
      continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

function refuse(reply: FastifyReply, r: Refusal): FastifyReply {
  return reply.code(r.status).header('Tus-Resumable', '1.0.0').send({ code: r.code, message: r.message });
}

/** The tus server with the store's hooks: sha256 declared at creation, checked at the end. */
function createTusServer(options: TusRoutesOptions): TusServer {
  const { datastore } = options;
  return new TusServer({
    path: uploadsPath,
    datastore,
    ...(options.locker === undefined ? {} : { locker: options.locker }),
    maxSize: options.maxUploadBytes,
    relativeLocation: true,
    namingFunction: () => randomBytes(16).toString('hex'),
    onResponseError: (_req, err) => {
      const status = 'status_code' in err ? err.status_code : 500;
      if (status === 413)
        return tusRefusal(
          413,
          'RIGCAP_RECEIVER_OVERSIZE',
          `uploads are limited to ${options.maxUploadBytes} bytes`,
        );
      return undefined;
    },
    onUploadCreate: async (req, upload) => {
      if (declaredSha256(upload) === undefined) {
        throw tusRefusal(
          400,
          'RIGCAP_RECEIVER_BAD_REQUEST',
          'Upload-Metadata must carry sha256 (lowercase hex) of the whole blob',
        );
      }
      const metadata = { ...upload.metadata };
      delete metadata[ownerKey];
      const owner = req.headers.get(ownerHeader);
      if (owner !== null) metadata[ownerKey] = owner;
      return { metadata };
    },
    onUploadFinish: async (_req, upload) => {
      await finishUpload(options, upload);
      return {};
    },
  });
}

/** A whole upload: its bytes checked against the declared sha256, then kept as the blob (or dropped). */
async function finishUpload(options: TusRoutesOptions, upload: Upload): Promise<void> {
  const { blobs, log } = options;
  const want = declaredSha256(upload);
  const got = await blobs.hashUpload(upload.id);
  if (want !== got) {
    await blobs.discardUpload(upload.id);
    log.warn({ code: 'RIGCAP_RECEIVER_DIGEST_MISMATCH', upload: upload.id, want, got }, 'upload refused');
    throw tusRefusal(
      422,
      'RIGCAP_RECEIVER_DIGEST_MISMATCH',
      `uploaded bytes hash to ${got}, not the declared ${want ?? '(none)'}`,
    );
  }
  await blobs.adoptUpload(upload.id, got);
  const owner = upload.metadata?.[ownerKey];
  if (typeof owner === 'string') await options.quotas?.finished(owner, upload.id);
  log.info({ sha256: got, bytes: upload.size, device: upload.metadata?.[ownerKey] }, 'blob stored');
}

/**
 * An upload whose last part the store took but whose blob was never kept (the receiver was killed,
 * or the bucket failed, between the two) is finished on the device's next HEAD, so the device finds
 * its blob stored instead of sending every byte again.
 */
async function finishLeftover(options: TusRoutesOptions, id: string): Promise<void> {
  let upload: Upload;
  try {
    upload = await options.datastore.getUpload(id);
  } catch (err) {
    const status = (err as { status_code?: number }).status_code;
    if (status === 404 || status === 410) return; // tus answers for a missing upload
    throw err;
  }
  if (upload.size === undefined || upload.offset !== upload.size) return;
  const want = declaredSha256(upload);
  if (want !== undefined && (await options.blobs.size(want)) !== undefined) {
    // The blob was kept and only the upload's removal was cut short: what is left of it goes.
    await options.blobs.discardUpload(id);
    return;
  }
  options.log.info({ upload: id }, 'finishing an upload whose blob was not kept');
  await finishUpload(options, upload).catch((err: unknown) => {
    // A digest mismatch dropped the upload: tus answers 404 and the device starts again.
    if ((err as { status_code?: number }).status_code === 422) return;
    // No bytes to hash although the upload reads as whole: left as tus sees it (the device's record
    // then finds no blob and the device sends the upload again), never dropped on a bucket's word.
    const e = err as { code?: string; $metadata?: { httpStatusCode?: number } };
    if (e.code !== 'ENOENT' && e.$metadata?.httpStatusCode !== 404) throw err;
    options.log.warn({ upload: id }, 'an upload that reads as whole has no bytes to keep');
  });
}

/** Refuses a create or part over the device's quota (before any byte is read). */
async function checkQuota(
  req: FastifyRequest,
  deviceId: string,
  quotas: QuotaLedger | undefined,
): Promise<void> {
  if (quotas === undefined) return;
  if (req.method === 'POST') await quotas.checkCreate(deviceId, Number(req.headers['upload-length'] ?? 0));
  else if (req.method === 'PATCH')
    await quotas.checkPart(deviceId, Number(req.headers['content-length'] ?? 0));
}

/** Counts what the store accepted for the device. */
async function countQuota(
  req: FastifyRequest,
  res: Response,
  deviceId: string,
  partBytes: number,
  quotas: QuotaLedger | undefined,
): Promise<void> {
  if (quotas === undefined || res.status >= 300) return;
  const id = (req.params as { id?: string }).id;
  if (req.method === 'POST') {
    const created = (res.headers.get('location') ?? '').split('/').pop();
    if (created !== undefined && uploadIdPattern.test(created)) await quotas.opened(deviceId, created);
  } else if (req.method === 'PATCH') await quotas.accepted(deviceId, partBytes);
  else if (req.method === 'DELETE' && id !== undefined) await quotas.finished(deviceId, id);
}

/** Refuses an upload id the device does not own (as if it did not exist). */
async function checkOwner(
  datastore: DataStore,
  id: string,
  device: AuthenticatedDevice,
): Promise<Refusal | undefined> {
  let upload: Upload;
  try {
    upload = await datastore.getUpload(id);
  } catch (err) {
    const status = (err as { status_code?: number }).status_code;
    if (status === 404 || status === 410) return undefined; // tus answers for a missing upload
    throw err;
  }
  if (upload.metadata?.[ownerKey] === device.deviceId) return undefined;
  return { status: 404, code: 'RIGCAP_RECEIVER_BAD_NAME', message: 'no such upload' };
}

/** The web request handed to tus: the client's headers, and the spooled part as its body. */
function tusRequest(req: FastifyRequest, headers: Headers, spooled: SpooledPart | undefined): Request {
  if (spooled !== undefined) headers.set('content-length', String(spooled.bytes));
  const init: RequestInit & { duplex?: 'half' } = { method: req.method, headers };
  if (spooled !== undefined) {
    init.body = Readable.toWeb(createReadStream(spooled.path)) as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  return new Request(`http://receiver${req.url}`, init);
}

/** Copies tus's status and headers onto the reply (with the extensions tus does not announce). */
function copyTusAnswer(req: FastifyRequest, reply: FastifyReply, response: Response): void {
  reply.code(response.status);
  response.headers.forEach((value, name) => {
    if (name === 'content-length') return;
    reply.header(name, value);
  });
  if (req.method === 'OPTIONS') {
    reply.header('Tus-Extension', 'creation,checksum,termination');
    reply.header('Tus-Checksum-Algorithm', checksumAlgorithms.join(','));
  }
}

type Forward = (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;

/** The handler of every tus route: owner and quota checks, the part spooled and checked, then tus. */
function tusForwarder(
  tus: TusServer,
  devices: WeakMap<FastifyRequest, AuthenticatedDevice>,
  options: TusRoutesOptions,
): Forward {
  return async (req, reply) => {
    const id = (req.params as { id?: string }).id;
    if (id !== undefined && !uploadIdPattern.test(id)) {
      return refuse(reply, { status: 404, code: 'RIGCAP_RECEIVER_BAD_NAME', message: 'no such upload' });
    }
    const device = devices.get(req);
    const headers = webHeaders(req);
    if (device !== undefined) {
      if (id !== undefined) {
        const notOwner = await checkOwner(options.datastore, id, device);
        if (notOwner !== undefined) return refuse(reply, notOwner);
      }
      headers.set(ownerHeader, device.deviceId);
    }
    if (device !== undefined) await checkQuota(req, device.deviceId, options.quotas);
    if (req.method === 'HEAD' && id !== undefined) await finishLeftover(options, id);
    const stream = req.body instanceof Readable ? req.body : undefined;
    let spooled: SpooledPart | undefined;
    try {
      const checked = await checkedBody(req, stream, device !== undefined, options);
      if ('code' in checked) return refuse(reply, checked);
      spooled = checked.spooled;
      const response = await tus.handleWeb(tusRequest(req, headers, spooled));
      copyTusAnswer(req, reply, response);
      if (device !== undefined)
        await countQuota(req, response, device.deviceId, spooled?.bytes ?? 0, options.quotas);
      const text = await response.text();
      // Gone before the answer: a client that sees the answer sees no spooled part left.
      if (spooled !== undefined) await rm(spooled.path, { force: true });
      return reply.send(text.length > 0 ? text : undefined);
    } finally {
      if (spooled !== undefined) await rm(spooled.path, { force: true });
    }
  };
}

/** Registers the tus endpoints under /v1/uploads. */
export function registerTusRoutes(app: FastifyInstance, options: TusRoutesOptions): TusServer {
  const { auth } = options;
  const devices = new WeakMap<FastifyRequest, AuthenticatedDevice>();
  const tus = createTusServer(options);

  // The body stays a stream: forward() spools it, bounded by maxPartBytes.
  app.addContentTypeParser('application/offset+octet-stream', (_req, payload, done) => {
    done(null, payload);
  });

  const authenticate = async (req: FastifyRequest): Promise<void> => {
    if (auth === undefined || req.method === 'OPTIONS') return;
    devices.set(req, await auth.authenticate(signableOf(req)));
  };
  const forward = tusForwarder(tus, devices, options);

  const tags = ['tus'];
  const description = 'tus 1.0 (core, creation, checksum); see https://tus.io/protocols/resumable-upload';
  app.route({
    method: ['POST', 'OPTIONS'],
    url: uploadsPath,
    schema: { tags, summary: 'Create an upload (tus creation)', description },
    onRequest: authenticate,
    handler: forward,
  });
  app.route({
    method: ['HEAD', 'PATCH', 'DELETE', 'OPTIONS'],
    url: `${uploadsPath}/:id`,
    schema: { tags, summary: 'Upload offset, append a part, terminate (tus core)', description },
    onRequest: authenticate,
    handler: forward,
  });
  return tus;
}
