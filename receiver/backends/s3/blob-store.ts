// Content-addressed blobs in an S3 bucket: `<prefix>blobs/sha256/<hex>`, finished tus uploads at
// `<prefix>uploads/<id>` (written by @tus/s3-store). Bodies are always streamed: hashing reads a
// GetObject stream, moving and placing are server-side copies (multipart copy above 5 GiB), and
// `writeBlob` sends one bounded part at a time. No object is ever held whole in memory.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { RigcapError } from '../../../agent/errors.ts';
import type { BlobStore } from '../../blob-store.ts';
import { isS3NotFound, type S3Location } from './location.ts';

const sha256Pattern = /^[0-9a-f]{64}$/;
const uploadIdPattern = /^[0-9a-f]{32}$/;
/** Largest single CopyObject S3 allows. */
const maxSingleCopyBytes = 5 * 1024 ** 3;

export interface S3BlobStoreOptions {
  client: S3Client;
  location: S3Location;
  /** Bytes per part for multipart copies and writes (default 64 MiB copies, 8 MiB writes). */
  copyPartBytes?: number;
  writePartBytes?: number;
}

/** Blobs and layout names in a bucket; uploads come from @tus/s3-store under `<prefix>uploads/`. */
export class S3BlobStore implements BlobStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #copyPartBytes: number;
  readonly #writePartBytes: number;

  constructor(o: S3BlobStoreOptions) {
    this.#client = o.client;
    this.#bucket = o.location.bucket;
    this.#prefix = o.location.prefix;
    this.#copyPartBytes = o.copyPartBytes ?? 512 * 1024 * 1024;
    this.#writePartBytes = Math.max(5 * 1024 * 1024, o.writePartBytes ?? 8 * 1024 * 1024);
  }

  /** Key of a stored blob. */
  blobKey(sha256: string): string {
    if (!sha256Pattern.test(sha256)) throw new RigcapError('RIGCAP_RECEIVER_BAD_NAME', 'not a sha256 digest');
    return `${this.#prefix}blobs/sha256/${sha256}`;
  }

  /** Key of a finished tus upload (the tus id is the store's own 32 hex digits). */
  uploadKey(uploadId: string): string {
    if (!uploadIdPattern.test(uploadId))
      throw new RigcapError('RIGCAP_RECEIVER_BAD_NAME', 'not an upload id');
    return `${this.#prefix}uploads/${uploadId}`;
  }

  /** Key of a layout name under the prefix; refuses absolute names and `..`. */
  layoutKey(relPath: string): string {
    const segments = relPath.split('/');
    if (
      relPath.startsWith('/') ||
      segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\'))
    ) {
      throw new RigcapError(
        'RIGCAP_RECEIVER_BAD_NAME',
        `not a relative layout name: ${JSON.stringify(relPath)}`,
      );
    }
    return `${this.#prefix}${relPath}`;
  }

  async #head(key: string): Promise<number | undefined> {
    try {
      const out = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return out.ContentLength ?? 0;
    } catch (err) {
      if (isS3NotFound(err)) return undefined;
      throw err;
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.#head(this.blobKey(sha256))) !== undefined;
  }

  async size(sha256: string): Promise<number | undefined> {
    return this.#head(this.blobKey(sha256));
  }

  /**
   * A stored blob's bytes as a GetObject stream and its size, or undefined when the bucket holds
   * no such blob (the read API serves these). Any other failure of the bucket is
   * RIGCAP_STORE_BACKEND_UNAVAILABLE, so a reader is told the store could not read, not "absent".
   */
  async open(sha256: string): Promise<{ stream: Readable; bytes: number } | undefined> {
    if (!sha256Pattern.test(sha256)) return undefined;
    let out;
    try {
      out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.blobKey(sha256) }),
      );
    } catch (err) {
      if (isS3NotFound(err)) return undefined;
      throw new RigcapError(
        'RIGCAP_STORE_BACKEND_UNAVAILABLE',
        `the bucket did not answer a read of blob ${sha256}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    return { stream: out.Body as Readable, bytes: out.ContentLength ?? 0 };
  }

  async hashUpload(uploadId: string): Promise<string> {
    const out = await this.#client.send(
      new GetObjectCommand({ Bucket: this.#bucket, Key: this.uploadKey(uploadId) }),
    );
    const hash = createHash('sha256');
    for await (const chunk of out.Body as Readable) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  async adoptUpload(uploadId: string, sha256: string): Promise<void> {
    const source = this.uploadKey(uploadId);
    const target = this.blobKey(sha256);
    // Content-addressed: a blob already there holds the same bytes, so a second copy adds nothing.
    if ((await this.#head(target)) === undefined) await this.#copy(source, target);
    await this.#delete([source, `${source}.info`, `${source}.part`]);
  }

  async discardUpload(uploadId: string): Promise<void> {
    const source = this.uploadKey(uploadId);
    await this.#delete([source, `${source}.info`, `${source}.part`]);
  }

  async place(sha256: string, relPath: string): Promise<void> {
    const target = this.layoutKey(relPath);
    if ((await this.#head(target)) !== undefined) return;
    await this.#copy(this.blobKey(sha256), target);
  }

  /**
   * Stores a blob from a stream, checking its digest on the way: multipart with one part buffered
   * at a time, completed only when the bytes hash to `sha256` (aborted otherwise), so a wrong or
   * cut-off stream never becomes a blob. Small blobs go in one PutObject.
   */
  async writeBlob(
    sha256: string,
    body: AsyncIterable<Uint8Array>,
  ): Promise<{ bytes: number; created: boolean }> {
    const key = this.blobKey(sha256);
    const existing = await this.#head(key);
    if (existing !== undefined) {
      for await (const chunk of body) void chunk; // drain the caller's stream
      return { bytes: existing, created: false };
    }
    const hash = createHash('sha256');
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let total = 0;
    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];
    const sendPart = async (): Promise<void> => {
      uploadId ??= (
        await this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: key }))
      ).UploadId;
      const partBody = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      const PartNumber = parts.length + 1;
      const out = await this.#client.send(
        new UploadPartCommand({
          Bucket: this.#bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber,
          Body: partBody,
          ContentLength: partBody.length,
        }),
      );
      parts.push({ PartNumber, ETag: out.ETag });
    };
    try {
      for await (const chunk of body) {
        hash.update(chunk);
        pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        pendingBytes += chunk.byteLength;
        total += chunk.byteLength;
        if (pendingBytes >= this.#writePartBytes) await sendPart();
      }
      const got = hash.digest('hex');
      if (got !== sha256) {
        throw new RigcapError('RIGCAP_RECEIVER_DIGEST_MISMATCH', `bytes hash to ${got}, not ${sha256}`);
      }
      if (uploadId === undefined) {
        const whole = Buffer.concat(pending, pendingBytes);
        await this.#client.send(
          new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: whole, ContentLength: whole.length }),
        );
        return { bytes: total, created: true };
      }
      if (pendingBytes > 0) await sendPart();
      await this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.#bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
      return { bytes: total, created: true };
    } catch (err) {
      if (uploadId !== undefined) {
        await this.#client
          .send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId }))
          .catch(() => undefined);
      }
      throw err;
    }
  }

  /** Server-side copy; multipart copy in ranges when the object is larger than one CopyObject allows. */
  async #copy(source: string, target: string): Promise<void> {
    const size = await this.#head(source);
    if (size === undefined) {
      throw new RigcapError('RIGCAP_RECEIVER_BLOB_MISSING', `object ${source} is not in the bucket`);
    }
    const CopySource = `${this.#bucket}/${source.split('/').map(encodeURIComponent).join('/')}`;
    if (size <= maxSingleCopyBytes) {
      await this.#client.send(new CopyObjectCommand({ Bucket: this.#bucket, Key: target, CopySource }));
      return;
    }
    const { UploadId } = await this.#client.send(
      new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: target }),
    );
    try {
      const parts: CompletedPart[] = [];
      for (let start = 0; start < size; start += this.#copyPartBytes) {
        const end = Math.min(size, start + this.#copyPartBytes) - 1;
        const PartNumber = parts.length + 1;
        const out = await this.#client.send(
          new UploadPartCopyCommand({
            Bucket: this.#bucket,
            Key: target,
            UploadId,
            PartNumber,
            CopySource,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        parts.push({ PartNumber, ETag: out.CopyPartResult?.ETag });
      }
      await this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.#bucket,
          Key: target,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (err) {
      await this.#client
        .send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: target, UploadId }))
        .catch(() => undefined);
      throw err;
    }
  }

  async #delete(keys: string[]): Promise<void> {
    await this.#client.send(
      new DeleteObjectsCommand({
        Bucket: this.#bucket,
        Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
      }),
    );
  }
}
