// A tus 1.0 client on undici: creation, resume from the server's Upload-Offset after any
// interruption, one Upload-Checksum per part. State (upload URL, confirmed offset) is handed to the
// caller after every part, so a restart resumes from what the server confirmed, not what was sent.
import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { RigcapError, errnoCode, isErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Signer } from '../records/ed25519.ts';
import { signRequest } from '../records/http-signature.ts';
import type { TokenBucket } from './token-bucket.ts';

const tusVersion = '1.0.0';
/** Body slice size: the unit the bandwidth cap and cancellation act on. */
const sliceBytes = 64 * 1024;

/**
 * A failure worth retrying later (network, 5xx, stall) versus a refusal by the store. Its code is
 * the store's own when the store named one (RIGCAP_RECEIVER_*), else RIGCAP_SYNC_UNREACHABLE for a
 * retryable failure and RIGCAP_SYNC_REFUSED for a refusal.
 */
export class TransferError extends RigcapError {
  readonly retryable: boolean;
  readonly status: number | undefined;

  constructor(
    message: string,
    options: { retryable: boolean; status?: number; code?: string; cause?: unknown },
  ) {
    const code = isErrorCode(options.code)
      ? options.code
      : options.retryable
        ? 'RIGCAP_SYNC_UNREACHABLE'
        : 'RIGCAP_SYNC_REFUSED';
    super(code, message, {
      ...(options.cause === undefined ? {} : { cause: options.cause }),
      details: { status: options.status, storeCode: options.code },
    });
    this.name = 'TransferError';
    this.retryable = options.retryable;
    this.status = options.status;
  }
}

export interface TusClientOptions {
  baseUrl: string;
  partBytes: number;
  log: Logger;
  bucket?: TokenBucket;
  /** PEM CA bundle for a store with a private CA or a self-signed certificate. */
  ca?: string;
  /** Per-request idle timeout: a stalled link fails instead of hanging. */
  idleTimeoutMs?: number;
  /**
   * The device key: every request is signed (RFC 9421) so the store knows which device asks. A
   * function is asked before each request, so a key rotation takes effect at once.
   */
  signer?: Signer | (() => Signer | undefined);
}

/** Where an upload stands, persisted by the caller after each confirmed part. */
export interface UploadProgress {
  uploadUrl: string;
  offset: number;
}

/** Statistics the bench and tests read. */
export interface TusClientStats {
  /** Body bytes sent in PATCH requests (including parts that were lost or refused). */
  bytesSent: number;
  /** Body bytes the server confirmed. */
  bytesConfirmed: number;
  partsSent: number;
  partsFailed: number;
}

async function bodyText(body: Dispatcher.ResponseData['body']): Promise<string> {
  try {
    return await body.text();
  } catch (err) {
    // The connection failed while the error body was read: the status alone must do.
    if (!(
      err instanceof Error &&
      (err.name === 'AbortError' || (errnoCode(err) ?? '').startsWith('UND_ERR'))
    ))
      throw err;
    return '';
  }
}

/** The rigcap code in a JSON error body, if any. */
function codeOf(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { code?: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    return undefined;
  }
}

/** tus client for one store. */
export class TusClient {
  readonly baseUrl: string;
  readonly partBytes: number;
  readonly stats: TusClientStats = { bytesSent: 0, bytesConfirmed: 0, partsSent: 0, partsFailed: 0 };
  readonly #log: Logger;
  readonly #bucket: TokenBucket | undefined;
  readonly #dispatcher: Agent;
  readonly #signer: Signer | (() => Signer | undefined) | undefined;

  constructor(options: TusClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.partBytes = options.partBytes;
    this.#log = options.log;
    this.#bucket = options.bucket;
    this.#signer = options.signer;
    const idle = options.idleTimeoutMs ?? 15_000;
    this.#dispatcher = new Agent({
      headersTimeout: idle,
      bodyTimeout: idle,
      connectTimeout: Math.min(idle, 10_000),
      ...(options.ca === undefined ? {} : { connect: { ca: options.ca } }),
    });
  }

  /** Sends one request; network failures and 5xx become retryable TransferErrors. */
  async call(
    method: Dispatcher.HttpMethod,
    url: string,
    init: {
      headers?: Record<string, string>;
      body?: Dispatcher.DispatchOptions['body'];
      /** SHA-256 of a streamed body (signed requests only; a buffer body is hashed here). */
      bodySha256?: Uint8Array;
      signal?: AbortSignal;
    } = {},
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    const full = url.startsWith('http') ? url : `${this.baseUrl}${url}`;
    const headers = this.#signed(method, full, init);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(full, {
        method,
        dispatcher: this.#dispatcher,
        headers,
        body: init.body ?? null,
        signal: init.signal ?? null,
      });
    } catch (err) {
      if (init.signal?.aborted === true) throw err;
      throw new TransferError(`${method} ${full}: ${(err as Error).message}`, {
        retryable: true,
        cause: err,
      });
    }
    const text = await bodyText(res.body);
    if (res.statusCode >= 500 || res.statusCode === 408 || res.statusCode === 429) {
      throw new TransferError(`${method} ${full}: HTTP ${res.statusCode}`, {
        retryable: true,
        status: res.statusCode,
      });
    }
    return { status: res.statusCode, headers: res.headers, text };
  }

  /** The request's headers plus Content-Digest and its signature when the client has a device key. */
  #signed(
    method: string,
    url: string,
    init: { headers?: Record<string, string>; body?: unknown; bodySha256?: Uint8Array },
  ): Record<string, string> {
    const headers = { ...init.headers };
    const signer = typeof this.#signer === 'function' ? this.#signer() : this.#signer;
    if (signer === undefined) return headers;
    let bodySha256 = init.bodySha256;
    if (bodySha256 === undefined && init.body !== undefined && init.body !== null) {
      if (typeof init.body !== 'string' && !(init.body instanceof Uint8Array)) {
        throw new TypeError('a streamed body of a signed request needs its bodySha256');
      }
      bodySha256 = createHash('sha256').update(init.body).digest();
    }
    const signed = signRequest(
      { method, path: new URL(url).pathname, headers },
      {
        signer,
        nonce: randomBytes(16).toString('base64url'),
        created: Math.floor(Date.now() / 1000),
        ...(bodySha256 === undefined ? {} : { bodySha256 }),
      },
    );
    return { ...headers, ...signed };
  }

  /** True when the store already holds the blob (HEAD /v1/blobs/sha256/<hex>). */
  async blobStored(sha256: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.call('HEAD', `/v1/blobs/sha256/${sha256}`, signal === undefined ? {} : { signal });
    return res.status === 200;
  }

  /** Creates an upload (tus creation) and returns its absolute URL. */
  async create(options: {
    length: number;
    sha256: string;
    name: string;
    signal?: AbortSignal;
  }): Promise<string> {
    const meta = [
      `sha256 ${Buffer.from(options.sha256).toString('base64')}`,
      `filename ${Buffer.from(options.name).toString('base64')}`,
    ].join(',');
    const res = await this.call('POST', '/v1/uploads', {
      headers: {
        'tus-resumable': tusVersion,
        'upload-length': String(options.length),
        'upload-metadata': meta,
      },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const location = res.headers['location'];
    if (res.status !== 201 || typeof location !== 'string') {
      throw new TransferError(
        `upload creation refused: HTTP ${res.status} ${res.text.trim()}`,
        refusal(res.status, res.text),
      );
    }
    return new URL(location, `${this.baseUrl}/`).toString();
  }

  /** The server's offset for an upload, or undefined when the upload is gone (finished or expired). */
  async offset(uploadUrl: string, signal?: AbortSignal): Promise<number | undefined> {
    const res = await this.call('HEAD', uploadUrl, {
      headers: { 'tus-resumable': tusVersion },
      ...(signal === undefined ? {} : { signal }),
    });
    if (res.status === 404 || res.status === 410) return undefined;
    const offset = Number(res.headers['upload-offset']);
    if (res.status !== 200 || !Number.isSafeInteger(offset)) {
      throw new TransferError(`HEAD ${uploadUrl}: HTTP ${res.status}`, refusal(res.status, res.text));
    }
    return offset;
  }

  /** PATCHes one part at `offset`; returns the server's new offset. */
  async patch(uploadUrl: string, offset: number, part: Uint8Array, signal?: AbortSignal): Promise<number> {
    const digest = createHash('sha256').update(part).digest();
    const checksum = digest.toString('base64');
    const bucket = this.#bucket;
    const stats = this.stats;
    async function* slices(): AsyncGenerator<Uint8Array> {
      for (let at = 0; at < part.length; at += sliceBytes) {
        const slice = part.subarray(at, Math.min(part.length, at + sliceBytes));
        if (bucket !== undefined) await bucket.take(slice.length, signal);
        stats.bytesSent += slice.length;
        yield slice;
      }
    }
    this.stats.partsSent += 1;
    let res: Awaited<ReturnType<TusClient['call']>>;
    try {
      res = await this.call('PATCH', uploadUrl, {
        headers: {
          'tus-resumable': tusVersion,
          'upload-offset': String(offset),
          'content-type': 'application/offset+octet-stream',
          'content-length': String(part.length),
          'upload-checksum': `sha256 ${checksum}`,
        },
        body: Readable.from(slices(), { objectMode: false }),
        bodySha256: digest,
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (err) {
      this.stats.partsFailed += 1;
      throw err;
    }
    if (res.status !== 204 && res.status !== 200) {
      this.stats.partsFailed += 1;
      // 409: our offset is stale, 460: the part was damaged on the way; both resume after a HEAD.
      const retryable = res.status === 409 || res.status === 460 || res.status === 423;
      throw new TransferError(`PATCH ${uploadUrl}: HTTP ${res.status} ${res.text.trim()}`, {
        ...refusal(res.status, res.text),
        retryable,
      });
    }
    const next = Number(res.headers['upload-offset']);
    if (!Number.isSafeInteger(next))
      throw new TransferError('PATCH answered without Upload-Offset', {
        retryable: true,
        status: res.status,
      });
    this.stats.bytesConfirmed += next - offset;
    return next;
  }

  /**
   * Uploads a file, resuming `resume` when given. Calls `onProgress` after the upload is created and
   * after every confirmed part. Returns when the server holds the whole blob.
   */
  async upload(options: {
    path: string;
    sha256: string;
    size: number;
    name: string;
    resume?: UploadProgress;
    onProgress: (progress: UploadProgress) => void;
    signal?: AbortSignal;
  }): Promise<void> {
    const { signal } = options;
    let url = options.resume?.uploadUrl;
    // An upload begun at another address (the store moved; the demo's store came back on a new
    // port after a crash) cannot resume here: asking the old address would only fail and back off.
    if (url !== undefined && url.startsWith('http') && new URL(url).origin !== new URL(this.baseUrl).origin) {
      this.#log.info(
        { uploadUrl: url, storeUrl: this.baseUrl },
        'upload began at another store address; starting it anew',
      );
      url = undefined;
    }
    let offset: number | undefined;
    if (url !== undefined) {
      offset = await this.offset(url, signal);
      if (offset === undefined) {
        if (await this.blobStored(options.sha256, signal)) return;
        url = undefined;
      }
    }
    if (url === undefined || offset === undefined) {
      if (await this.blobStored(options.sha256, signal)) return;
      url = await this.create({
        length: options.size,
        sha256: options.sha256,
        name: options.name,
        ...(signal === undefined ? {} : { signal }),
      });
      offset = 0;
      options.onProgress({ uploadUrl: url, offset });
    }
    const fh = await open(options.path, 'r');
    try {
      while (offset < options.size) {
        const length = Math.min(this.partBytes, options.size - offset);
        const part = Buffer.alloc(length);
        const { bytesRead } = await fh.read(part, 0, length, offset);
        if (bytesRead !== length)
          throw new RigcapError('RIGCAP_NOT_FOUND', `${options.path} is shorter than its record says`);
        try {
          offset = await this.patch(url, offset, part, signal);
        } catch (err) {
          if (err instanceof TransferError && (err.status === 409 || err.status === 460)) {
            const server = await this.offset(url, signal);
            if (server === undefined) throw err;
            this.#log.debug({ uploadUrl: url, offset: server }, 'resuming from the server offset');
            offset = server;
            options.onProgress({ uploadUrl: url, offset });
            continue;
          }
          throw err;
        }
        options.onProgress({ uploadUrl: url, offset });
      }
    } finally {
      await fh.close();
    }
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await this.#dispatcher.close();
  }

  /** Drops pooled connections now. */
  async destroy(): Promise<void> {
    await this.#dispatcher.destroy();
  }
}

function refusal(status: number, text: string): { retryable: boolean; status: number; code?: string } {
  const code = codeOf(text);
  return code === undefined ? { retryable: false, status } : { retryable: false, status, code };
}
