// tus uploads in the bucket through @tus/s3-store, under `<prefix>uploads/<id>`. Every receiver
// instance reads an upload's state from the bucket on each request (no per-process metadata
// cache), so an upload created through one instance resumes through any other.
import { Readable } from 'node:stream';
import { S3Store } from '@tus/s3-store';
import { DataStore, ERRORS, Upload, type KvStore } from '@tus/server';
import type { Part, S3ClientConfig } from '@aws-sdk/client-s3';
import { isS3NotFound, type S3Location } from './location.ts';

/** A KvStore that keeps nothing: the bucket is the only record of an upload. */
class NoCache<T> implements KvStore<T> {
  async get(): Promise<T | undefined> {
    return undefined;
  }
  async set(): Promise<void> {}
  async delete(): Promise<void> {}
}

/**
 * Bytes of an upload below one S3 part (5 MiB) wait in an `<id>.part` object. @tus/s3-store
 * deletes that object on the next PATCH before it writes its bytes back (joined with the new ones),
 * so a fault in between (a killed receiver, a restarting bucket) loses bytes whose offset the
 * device had been told. Here the old `.part` stays until its bytes are kept elsewhere: a `.part`
 * still under one part is PUT over the same key (S3 replaces an object whole), one that grew to a
 * part is uploaded as that part, and only then is the `.part` deleted. Each `.part` records the
 * number of the part its bytes open, so one whose part is already listed (the window before its
 * delete) no longer counts in the offset and is not joined again.
 */
const PART_NUMBER = 'tus-part-number';

/** The parts numbered 1, 2, 3… without a gap: the bytes an upload holds from its start. */
function leadingParts(parts: Part[]): Part[] {
  const out: Part[] = [];
  for (const p of parts) {
    if (p.PartNumber !== out.length + 1) break;
    out.push(p);
  }
  return out;
}

const partsBytes = (parts: Part[]): number => parts.reduce((n, p) => n + (p.Size ?? 0), 0);

/** A `.part` counts when it opens the next part (one written before part numbers were kept: always). */
const opensNext = (held: HeldPart | undefined, nextPart: number): held is HeldPart =>
  held !== undefined && (held.partNumber === undefined || held.partNumber === nextPart);

interface HeldPart {
  size: number;
  partNumber: number | undefined;
}

/** A write in progress: the part its `.part` would open, and the parts it has sent so far. */
interface PartWrite {
  nextPart: number;
  sent: Promise<string>[];
  /** Whether it wrote a new `.part` (over the old one). */
  wrotePart: boolean;
}

/** A copy of an upload under another id or at another offset. */
function uploadAs(upload: Upload, id: string, offset: number): Upload {
  return new Upload({
    id,
    offset,
    ...(upload.size === undefined ? {} : { size: upload.size }),
    ...(upload.metadata === undefined ? {} : { metadata: upload.metadata }),
    ...(upload.creation_date === undefined ? {} : { creation_date: upload.creation_date }),
    ...(upload.storage === undefined ? {} : { storage: upload.storage }),
  });
}

/** S3's answer for a multipart upload that is no longer open (completed or aborted). */
function isMissingUpload(err: unknown): boolean {
  const e = err as { name?: string; Code?: string };
  return [e.name, e.Code].some((c) => c === 'NoSuchUpload' || c === 'NoSuchKey');
}

async function* joined(...streams: Readable[]): AsyncGenerator<Buffer> {
  for (const s of streams) for await (const chunk of s) yield chunk as Buffer;
}

/** @tus/s3-store, able to tell a missing upload from a bucket that did not answer. */
class CheckedS3Store extends S3Store {
  readonly #writes = new Map<string, PartWrite>();

  /** Whether the upload's info object exists; a failure to ask throws. */
  async infoExists(id: string): Promise<boolean> {
    try {
      await this.client.headObject({ Bucket: this.bucket, Key: this.infoKey(id) });
      return true;
    } catch (err) {
      if (isS3NotFound(err)) return false;
      throw err;
    }
  }

  async #heldPart(id: string): Promise<HeldPart | undefined> {
    try {
      const head = await this.client.headObject({ Bucket: this.bucket, Key: this.partKey(id, true) });
      const n = Number(head.Metadata?.[PART_NUMBER]);
      return { size: head.ContentLength ?? 0, partNumber: Number.isInteger(n) && n > 0 ? n : undefined };
    } catch (err) {
      if (isS3NotFound(err)) return undefined;
      throw err;
    }
  }

  override async getUpload(id: string): Promise<Upload> {
    const metadata = await this.getMetadata(id).catch(() => {
      throw ERRORS.FILE_NOT_FOUND;
    });
    const { file } = metadata;
    let parts: Part[];
    try {
      parts = leadingParts(await this.retrieveParts(id));
    } catch (err) {
      // The multipart upload is gone while its info object is there: it was completed.
      if (!isMissingUpload(err)) throw err;
      return uploadAs(file, id, file.size ?? 0);
    }
    const held = await this.#heldPart(id);
    const extra = opensNext(held, parts.length + 1) ? held.size : 0;
    const offset = partsBytes(parts) + extra;
    if (extra === 0 && parts.length > 0 && offset === file.size) {
      // Every byte is in a listed part but the multipart upload was never completed (the receiver or
      // the bucket failed in between): it is completed now, so an upload that reads as whole has
      // its object. Another request completing it first is the same outcome.
      await this.finishMultipartUpload(metadata, parts).catch((err: unknown) => {
        if (!isMissingUpload(err)) throw err;
      });
      await this.completeMetadata(file);
    }
    return uploadAs(file, id, offset);
  }

  override async write(src: Readable, id: string, offset: number): Promise<number> {
    const metadata = await this.getMetadata(id);
    const nextPart = leadingParts(await this.retrieveParts(id)).length + 1;
    const held = await this.#heldPart(id);
    const lead = opensNext(held, nextPart) ? await this.downloadIncompletePart(id) : undefined;
    const body =
      lead === undefined ? src : Readable.from(joined(lead.createReader({ cleanUpOnEnd: true }), src));
    const write: PartWrite = { nextPart, sent: [], wrotePart: false };
    this.#writes.set(id, write);
    let sent: number;
    try {
      sent = await this.uploadParts(metadata, body, nextPart, offset - (lead?.size ?? 0));
    } finally {
      this.#writes.delete(id);
    }
    const newOffset = offset + sent - (lead?.size ?? 0);
    if (metadata.file.size === newOffset) {
      await this.finishMultipartUpload(metadata, leadingParts(await this.retrieveParts(id)));
      await this.completeMetadata(metadata.file);
      await this.clearCache(id);
    }
    // The old `.part`'s bytes now lie in a listed part (or it no longer counted): it can go.
    if (held !== undefined && !write.wrotePart) await this.deleteIncompletePart(id);
    return newOffset;
  }

  protected override uploadPart(
    metadata: Parameters<S3Store['uploadPart']>[0],
    readStream: Parameters<S3Store['uploadPart']>[1],
    partNumber: number,
  ): Promise<string> {
    const sent = super.uploadPart(metadata, readStream, partNumber);
    const write = this.#writes.get(metadata.file.id);
    if (write !== undefined) {
      write.nextPart = partNumber + 1;
      write.sent.push(sent);
    }
    return sent;
  }

  /** The `.part` is written after every part before it is listed, so it never replaces bytes still unkept. */
  protected override async uploadIncompletePart(id: string, readStream: Readable): Promise<string> {
    const write = this.#writes.get(id);
    if (write !== undefined) {
      await Promise.all(write.sent);
      write.wrotePart = true;
    }
    const data = await this.client.putObject({
      Bucket: this.bucket,
      Key: this.partKey(id, true),
      Body: readStream,
      Tagging: this.useCompleteTag('false'),
      Metadata: write === undefined ? {} : { [PART_NUMBER]: String(write.nextPart) },
    });
    return data.ETag ?? '';
  }
}

/** tus's answer while the bucket does not answer: the client retries later. */
const bucketUnavailable = { status_code: 503, body: 'the object store did not answer; retry later\n' };

export interface S3UploadStoreOptions {
  location: S3Location;
  clientConfig: S3ClientConfig;
  /** Preferred S3 part size (at least 5 MiB; default 8 MiB). Parts are spooled to the OS temp dir. */
  partBytes?: number;
}

/** The tus DataStore on S3 with the upload ids mapped under `<prefix>uploads/`. */
export class S3UploadStore extends DataStore {
  readonly #inner: CheckedS3Store;
  readonly #keyPrefix: string;

  constructor(o: S3UploadStoreOptions) {
    super();
    this.#keyPrefix = `${o.location.prefix}uploads/`;
    this.#inner = new CheckedS3Store({
      partSize: Math.max(5 * 1024 * 1024, o.partBytes ?? 8 * 1024 * 1024),
      cache: new NoCache(),
      s3ClientConfig: { ...o.clientConfig, bucket: o.location.bucket },
    });
    this.extensions = this.#inner.extensions;
  }

  #outer(upload: Upload, id: string): Upload {
    return uploadAs(upload, id, upload.offset);
  }

  override async create(upload: Upload): Promise<Upload> {
    const inner = new Upload({
      id: this.#keyPrefix + upload.id,
      offset: upload.offset,
      ...(upload.size === undefined ? {} : { size: upload.size }),
      ...(upload.metadata === undefined ? {} : { metadata: upload.metadata }),
    });
    return this.#outer(await this.#inner.create(inner), upload.id);
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    return this.#inner.write(stream, this.#keyPrefix + id, offset);
  }

  override async getUpload(id: string): Promise<Upload> {
    const key = this.#keyPrefix + id;
    try {
      return this.#outer(await this.#inner.getUpload(key), id);
    } catch (err) {
      // @tus/s3-store answers "not found" for any failure to read the upload's info object (a
      // bucket restarting, a 5xx): a device would then start the upload again from zero. Only an
      // info object the bucket says is absent is a missing upload.
      if ((err as { status_code?: number }).status_code !== 404) throw err;
      const exists = await this.#inner.infoExists(key).catch(() => {
        throw bucketUnavailable;
      });
      if (exists) throw bucketUnavailable;
      throw err;
    }
  }

  override async remove(id: string): Promise<void> {
    await this.#inner.remove(this.#keyPrefix + id);
  }

  override async declareUploadLength(id: string, length: number): Promise<void> {
    await this.#inner.declareUploadLength(this.#keyPrefix + id, length);
  }

  override async deleteExpired(): Promise<number> {
    return this.#inner.deleteExpired();
  }

  override getExpiration(): number {
    return this.#inner.getExpiration();
  }
}
