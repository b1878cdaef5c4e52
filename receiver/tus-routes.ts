// tus 1.0 (core + creation + checksum) on fastify through @tus/server. @tus/server 2 has no
// checksum extension, so each PATCH body (at most one part) is buffered here, its Upload-Checksum
// checked, and only then handed to tus: a part that fails or is cut off never reaches the store.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/swagger';
import { Server as TusServer, type DataStore, type Locker, type Upload } from '@tus/server';
import type { Logger } from '../agent/log.ts';
import type { BlobStore } from './blob-store.ts';

export const uploadsPath = '/v1/uploads';

/** Algorithms accepted in Upload-Checksum (tus checksum extension). */
export const checksumAlgorithms = ['sha256', 'sha1'] as const;

export interface TusRoutesOptions {
  datastore: DataStore;
  blobs: BlobStore;
  /** Largest Upload-Length accepted (413 above it). */
  maxUploadBytes: number;
  /** Largest single PATCH body accepted. */
  maxPartBytes: number;
  log: Logger;
  /** Shared by every receiver instance of one store (PostgreSQL advisory locks); default in-process. */
  locker?: Locker;
}

const uploadIdPattern = /^[0-9a-f]{32}$/;
const sha256Pattern = /^[0-9a-f]{64}$/;

/** A refusal the tus hooks throw; @tus/server turns `status_code`/`body` into the response. */
function tusRefusal(status: number, code: string, message: string): { status_code: number; body: string } {
  return { status_code: status, body: `${JSON.stringify({ code, message })}\n` };
}

/** Checks an `Upload-Checksum` header against a body; returns an error reply or undefined when it matches. */
export function checkUploadChecksum(
  header: string | undefined,
  body: Buffer,
): { status: number; code: string; message: string } | undefined {
  if (header === undefined) return undefined;
  const [algorithm, digest, ...rest] = header.trim().split(/\s+/);
  if (algorithm === undefined || digest === undefined || rest.length > 0) {
    return {
      status: 400,
      code: 'RIGCAP_RECEIVER_BAD_REQUEST',
      message: 'Upload-Checksum must be "<algorithm> <base64 digest>"',
    };
  }
  if (!(checksumAlgorithms as readonly string[]).includes(algorithm)) {
    return {
      status: 400,
      code: 'RIGCAP_RECEIVER_BAD_REQUEST',
      message: `checksum algorithm ${algorithm} not supported`,
    };
  }
  const actual = createHash(algorithm).update(body).digest('base64');
  if (actual !== digest)
    return {
      status: 460,
      code: 'RIGCAP_RECEIVER_CHECKSUM_MISMATCH',
      message: 'Upload-Checksum does not match the part',
    };
  return undefined;
}

/** The declared sha256 (lowercase hex) in an upload's metadata, if well formed. */
function declaredSha256(upload: Upload): string | undefined {
  const value = upload.metadata?.['sha256'];
  return typeof value === 'string' && sha256Pattern.test(value) ? value : undefined;
}

/** The request's headers for a web Request, less the hop-by-hop ones. */
function webHeaders(req: FastifyRequest): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === 'transfer-encoding' || name === 'connection') continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

/** Registers the tus endpoints under /v1/uploads. */
export function registerTusRoutes(app: FastifyInstance, options: TusRoutesOptions): TusServer {
  const { blobs, log } = options;
  const tus = new TusServer({
    path: uploadsPath,
    datastore: options.datastore,
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
    onUploadCreate: async (_req, upload) => {
      if (declaredSha256(upload) === undefined) {
        throw tusRefusal(
          400,
          'RIGCAP_RECEIVER_BAD_REQUEST',
          'Upload-Metadata must carry sha256 (lowercase hex) of the whole blob',
        );
      }
      return {};
    },
    onUploadFinish: async (_req, upload) => {
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
      log.info({ sha256: got, bytes: upload.size }, 'blob stored');
      return {};
    },
  });

  const bodyLimit = options.maxPartBytes;
  app.addContentTypeParser(
    'application/offset+octet-stream',
    { parseAs: 'buffer', bodyLimit },
    (_req, body, done) => {
      done(null, body);
    },
  );

  const forward = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const id = (req.params as { id?: string }).id;
    if (id !== undefined && !uploadIdPattern.test(id)) {
      return reply.code(404).send({ code: 'RIGCAP_RECEIVER_BAD_NAME', message: 'no such upload' });
    }
    const body = Buffer.isBuffer(req.body) ? req.body : undefined;
    if (body !== undefined) {
      const bad = checkUploadChecksum(req.headers['upload-checksum'] as string | undefined, body);
      if (bad !== undefined) {
        log.warn({ code: bad.code, upload: id }, 'part refused');
        return reply
          .code(bad.status)
          .header('Tus-Resumable', '1.0.0')
          .send({ code: bad.code, message: bad.message });
      }
    }
    const init: RequestInit = { method: req.method, headers: webHeaders(req) };
    if (body !== undefined) init.body = body;
    const response = await tus.handleWeb(new Request(`http://receiver${req.url}`, init));
    reply.code(response.status);
    response.headers.forEach((value, name) => {
      if (name === 'content-length') return;
      reply.header(name, value);
    });
    if (req.method === 'OPTIONS') {
      reply.header('Tus-Extension', 'creation,checksum,termination');
      reply.header('Tus-Checksum-Algorithm', checksumAlgorithms.join(','));
    }
    const text = await response.text();
    return reply.send(text.length > 0 ? text : undefined);
  };

  const tags = ['tus'];
  const description = 'tus 1.0 (core, creation, checksum); see https://tus.io/protocols/resumable-upload';
  app.route({
    method: ['POST', 'OPTIONS'],
    url: uploadsPath,
    schema: { tags, summary: 'Create an upload (tus creation)', description },
    handler: forward,
  });
  app.route({
    method: ['HEAD', 'PATCH', 'DELETE', 'OPTIONS'],
    url: `${uploadsPath}/:id`,
    schema: { tags, summary: 'Upload offset, append a part, terminate (tus core)', description },
    handler: forward,
  });
  return tus;
}
