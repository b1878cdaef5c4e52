// Where verified blobs live. The receiver talks to this port only, so a platform can put blobs in
// S3 (with @tus/s3-store receiving the uploads) without touching verification or the log.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, rename, rm, stat, copyFile, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fsyncDir } from '../agent/fsutil/atomic-file.ts';
import { isErrno } from '../agent/errors.ts';

/** Content-addressed blob storage plus placing a blob at its layout name. */
export interface BlobStore {
  /** True when a blob with this lowercase hex sha256 is stored. */
  has(sha256: string): Promise<boolean>;
  /** Size in bytes of a stored blob, or undefined. */
  size(sha256: string): Promise<number | undefined>;
  /** SHA-256 (hex) of a finished incoming upload. */
  hashUpload(uploadId: string): Promise<string>;
  /** Moves a finished, verified upload into the content-addressed store. */
  adoptUpload(uploadId: string, sha256: string): Promise<void>;
  /** Drops an incoming upload (refused or abandoned). */
  discardUpload(uploadId: string): Promise<void>;
  /** Makes the blob readable at `relPath` under the store root (idempotent). */
  place(sha256: string, relPath: string): Promise<void>;
  /** A stored blob's bytes and size, or undefined when it is not stored (the read API serves these). */
  open?(sha256: string): Promise<{ stream: Readable; bytes: number } | undefined>;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return false;
    throw err;
  }
}

/** Blobs on local disk: `<root>/blobs/sha256/<hex>`, uploads from @tus/file-store in `<incomingDir>`. */
export class FileBlobStore implements BlobStore {
  readonly root: string;
  readonly incomingDir: string;

  constructor(options: { root: string; incomingDir: string }) {
    this.root = options.root;
    this.incomingDir = options.incomingDir;
  }

  /** Path of a stored blob. */
  blobPath(sha256: string): string {
    return join(this.root, 'blobs', 'sha256', sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return exists(this.blobPath(sha256));
  }

  async open(sha256: string): Promise<{ stream: Readable; bytes: number } | undefined> {
    const bytes = await this.size(sha256);
    if (bytes === undefined) return undefined;
    return { stream: createReadStream(this.blobPath(sha256), { highWaterMark: 1 << 20 }), bytes };
  }

  async size(sha256: string): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(sha256))).size;
    } catch (err) {
      // Only absence reads as "not stored"; EACCES or EIO must not make a device send again.
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
      throw err;
    }
  }

  async hashUpload(uploadId: string): Promise<string> {
    const hash = createHash('sha256');
    await pipeline(createReadStream(join(this.incomingDir, uploadId)), hash);
    return hash.digest('hex');
  }

  async adoptUpload(uploadId: string, sha256: string): Promise<void> {
    const target = this.blobPath(sha256);
    await mkdir(dirname(target), { recursive: true });
    const source = join(this.incomingDir, uploadId);
    const fh = await open(source, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(source, target);
    await fsyncDir(dirname(target));
    await rm(`${source}.json`, { force: true });
  }

  async discardUpload(uploadId: string): Promise<void> {
    await rm(join(this.incomingDir, uploadId), { force: true });
    await rm(join(this.incomingDir, `${uploadId}.json`), { force: true });
  }

  async place(sha256: string, relPath: string): Promise<void> {
    const target = join(this.root, relPath);
    if (await exists(target)) return;
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${process.pid}`;
    await rm(tmp, { force: true });
    // A hard link keeps one copy on disk; a copy is the fallback across filesystems.
    try {
      await link(this.blobPath(sha256), tmp);
    } catch (err) {
      if (!isErrno(err, 'EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP')) throw err;
      await copyFile(this.blobPath(sha256), tmp);
    }
    await rename(tmp, target);
    await fsyncDir(dirname(target));
  }
}
