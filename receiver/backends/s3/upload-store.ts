// tus uploads in the bucket through @tus/s3-store, under `<prefix>uploads/<id>`. Every receiver
// instance reads an upload's state from the bucket on each request (no per-process metadata
// cache), so an upload created through one instance resumes through any other.
import type { Readable } from 'node:stream';
import { S3Store } from '@tus/s3-store';
import { DataStore, Upload, type KvStore } from '@tus/server';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { isS3NotFound, type S3Location } from './location.ts';

/** A KvStore that keeps nothing: the bucket is the only record of an upload. */
class NoCache<T> implements KvStore<T> {
  async get(): Promise<T | undefined> {
    return undefined;
  }
  async set(): Promise<void> {}
  async delete(): Promise<void> {}
}

/** @tus/s3-store, able to tell a missing upload from a bucket that did not answer. */
class CheckedS3Store extends S3Store {
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
    return new Upload({
      id,
      offset: upload.offset,
      ...(upload.size === undefined ? {} : { size: upload.size }),
      ...(upload.metadata === undefined ? {} : { metadata: upload.metadata }),
      ...(upload.creation_date === undefined ? {} : { creation_date: upload.creation_date }),
      ...(upload.storage === undefined ? {} : { storage: upload.storage }),
    });
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
