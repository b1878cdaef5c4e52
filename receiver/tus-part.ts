// A tus PATCH body before tus sees it: streamed to a temp file while it is hashed, its
// Upload-Checksum (tus checksum extension) and, for a signed request, its Content-Digest checked; a
// part that fails or is cut off is deleted and never reaches the store.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import { RigcapError } from '../agent/errors.ts';
import { contentDigestOf, sha256OfContentDigest } from '../agent/records/http-signature.ts';
import type { Logger } from '../agent/log.ts';

/** Algorithms accepted in Upload-Checksum (tus checksum extension). */
export const checksumAlgorithms = ['sha256', 'sha1'] as const;

const emptyDigest = contentDigestOf(new Uint8Array());

/** A refused request: its status, code and message. */
export type Refusal = { status: number; code: string; message: string };

/** Parses an `Upload-Checksum` header into its algorithm and digest, or a refusal. */
export function parseUploadChecksum(header: string): { algorithm: string; digest: string } | Refusal {
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
  return { algorithm, digest };
}

const checksumMismatch: Refusal = {
  status: 460,
  code: 'RIGCAP_RECEIVER_CHECKSUM_MISMATCH',
  message: 'Upload-Checksum does not match the part',
};

/** Where parts wait and how large one may be. */
export interface PartOptions {
  /** Largest single PATCH body accepted. */
  maxPartBytes: number;
  /** Where PATCH bodies wait while they are checked (default the OS temp dir). */
  partDir?: string;
  log: Logger;
}

/** A PATCH body spooled to disk with its digests. */
export interface SpooledPart {
  path: string;
  bytes: number;
  sha256: Buffer;
  checksum: string | undefined;
}

/** Streams a body to `path`, hashing it; refuses (and stops reading) past `limit` bytes. */
async function spoolPart(
  body: Readable,
  path: string,
  limit: number,
  algorithm?: string,
): Promise<SpooledPart> {
  const sha256 = createHash('sha256');
  const checksum = algorithm === undefined || algorithm === 'sha256' ? undefined : createHash(algorithm);
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > limit) {
        done(new RigcapError('RIGCAP_RECEIVER_OVERSIZE', `a part is limited to ${limit} bytes`));
        return;
      }
      sha256.update(chunk);
      checksum?.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(body, meter, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
  const digest = sha256.digest();
  const checksumB64 = algorithm === 'sha256' ? digest.toString('base64') : checksum?.digest('base64');
  return { path, bytes, sha256: digest, checksum: checksumB64 };
}

/**
 * Spools a PATCH body and checks it against its Upload-Checksum and, for a signed request, its
 * signed Content-Digest; a request without a body must sign the empty digest. A refusal leaves
 * nothing on disk.
 */
export async function checkedBody(
  req: FastifyRequest,
  stream: Readable | undefined,
  signed: boolean,
  options: PartOptions,
): Promise<{ spooled: SpooledPart | undefined } | Refusal> {
  if (stream === undefined) {
    if (!signed || req.headers['content-digest'] === emptyDigest) return { spooled: undefined };
    return {
      status: 401,
      code: 'RIGCAP_RECEIVER_BAD_SIGNATURE',
      message: 'a request without a body must sign the empty Content-Digest',
    };
  }
  const checksumHeader = req.headers['upload-checksum'] as string | undefined;
  const wanted = checksumHeader === undefined ? undefined : parseUploadChecksum(checksumHeader);
  if (wanted !== undefined && 'code' in wanted) return wanted;
  const path = join(options.partDir ?? tmpdir(), `rigcap-part-${randomBytes(12).toString('hex')}`);
  let spooled: SpooledPart;
  try {
    spooled = await spoolPart(stream, path, options.maxPartBytes, wanted?.algorithm);
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  let refusal: Refusal | undefined;
  if (wanted !== undefined && wanted.digest !== spooled.checksum) refusal = checksumMismatch;
  else if (signed) {
    const digest = sha256OfContentDigest(String(req.headers['content-digest'] ?? ''));
    if (digest === undefined || !digest.equals(spooled.sha256)) {
      refusal = {
        status: 401,
        code: 'RIGCAP_RECEIVER_BAD_SIGNATURE',
        message: 'the part does not match the signed Content-Digest',
      };
    }
  }
  if (refusal === undefined) return { spooled };
  await rm(path, { force: true });
  options.log.warn({ code: refusal.code, url: req.url }, 'part refused');
  return refusal;
}
