// The filesystem edge of the chunk writer: a `.partial` file that hashes bytes as they are
// written (no second read of the file), and the fsync/rename/fsync-dir steps of a commit.
// Writes go behind: `write` hashes on the caller's thread and queues the bytes for the thread
// pool, so hashing the next chunk overlaps writing the previous one. Writes still land in order
// (one at a time), a failure surfaces on the next write, sync or close, and sync waits for all.
import { createHash, type Hash } from 'node:crypto';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { RigcapError, errnoCode, spoolWriteCode } from '../errors.ts';
import { fsyncDir } from '../fsutil/atomic-file.ts';
import type { McapSink } from './mcap-encoder.ts';

/**
 * Maps a write-side system error to RIGCAP_DISK_FULL (no room: ENOSPC, EDQUOT, EFBIG, SQLITE_FULL for
 * the catalog in the spool) or RIGCAP_SPOOL_IO_ERROR (EIO, EROFS: the device or mount failed);
 * anything else is returned unchanged.
 */
export function diskError(err: unknown, path: string): unknown {
  const errno = errnoCode(err);
  if (err instanceof RigcapError || errno === undefined) return err;
  const code = spoolWriteCode(err, 'RIGCAP_INTERNAL');
  if (code !== 'RIGCAP_DISK_FULL' && code !== 'RIGCAP_SPOOL_IO_ERROR') return err;
  return new RigcapError(code, `cannot write ${path}: ${errno}`, { cause: err, details: { errno, path } });
}

/** A file being written by the encoder: a sink that also knows its SHA-256 and can be made durable. */
export interface ChunkFile extends McapSink {
  readonly path: string;
  /** Lowercase hex SHA-256 of every byte written so far. */
  sha256(): string;
  /** fsync the file. */
  sync(): Promise<void>;
  close(): Promise<void>;
  /** Closes without syncing, ignoring errors (after a failure). Idempotent. */
  destroy(): Promise<void>;
}

/** Opens a ChunkFile at `path` (created exclusively). */
export type OpenChunkFile = (path: string) => Promise<ChunkFile>;

/** Queued writes before `write` waits for the oldest one to land. */
const MAX_WRITES_BEHIND = 2;
/**
 * Written bytes after which a datasync starts in the background. Writeback then runs while the
 * file is still being written, so the fsync at commit flushes only the tail instead of stalling
 * on the whole file (the idea of RocksDB's bytes_per_sync). Durability still comes from that fsync.
 */
const SYNC_BEHIND_BYTES = 16 * 1024 * 1024;

/** A new file that hashes every byte it writes. */
export class HashingFile implements ChunkFile {
  readonly path: string;
  readonly #handle: FileHandle;
  readonly #hash: Hash = createHash('sha256');
  #position = 0n;
  #digest: string | undefined;
  #closed = false;
  /** Settles when every queued write has landed or failed; never rejects. */
  #tail: Promise<void> = Promise.resolve();
  #behind: Promise<void>[] = [];
  #failure: unknown;
  #unsyncedBytes = 0;
  /** The background datasync in flight, if any; never rejects. */
  #syncing: Promise<void> | undefined;

  private constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.#handle = handle;
  }

  /** Creates `path` exclusively (an existing file is never overwritten). */
  static async create(path: string): Promise<HashingFile> {
    try {
      return new HashingFile(path, await open(path, 'wx', 0o644));
    } catch (err) {
      throw diskError(err, path);
    }
  }

  position(): bigint {
    return this.#position;
  }

  async write(parts: readonly Uint8Array[]): Promise<void> {
    this.#throwIfFailed();
    let total = 0;
    for (const part of parts) {
      this.#hash.update(part);
      total += part.byteLength;
    }
    // Position moves now: the encoder reads it to place the next record.
    this.#position += BigInt(total);
    this.#tail = this.#tail.then(() => this.#writeNow(parts, total));
    this.#behind.push(this.#tail);
    while (this.#behind.length > MAX_WRITES_BEHIND) await this.#behind.shift();
    this.#throwIfFailed();
  }

  async #writeNow(parts: readonly Uint8Array[], total: number): Promise<void> {
    if (this.#failure !== undefined || this.#closed) return;
    try {
      // A short write means the disk filled mid-way: write the rest, so the kernel names the cause (ENOSPC).
      let rest = parts;
      for (let left = total; left > 0;) {
        const { bytesWritten } = await this.#handle.writev(rest as Uint8Array[]);
        if (bytesWritten === 0)
          throw Object.assign(new Error(`short write: ${total - left} of ${total} bytes`), { code: 'EIO' });
        left -= bytesWritten;
        rest = skipBytes(rest, bytesWritten);
      }
    } catch (err) {
      this.#failure ??= diskError(err, this.path);
      return;
    }
    this.#unsyncedBytes += total;
    if (this.#unsyncedBytes >= SYNC_BEHIND_BYTES && this.#syncing === undefined) {
      this.#unsyncedBytes = 0;
      this.#syncing = this.#handle.datasync().then(
        () => {
          this.#syncing = undefined;
        },
        (err: unknown) => {
          this.#syncing = undefined;
          this.#failure ??= diskError(err, this.path);
        },
      );
    }
  }

  /** Waits for every queued write; rethrows the first write failure. */
  async #flush(): Promise<void> {
    await this.#tail;
    await this.#syncing;
    this.#behind = [];
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  sha256(): string {
    this.#digest ??= this.#hash.digest('hex');
    return this.#digest;
  }

  async sync(): Promise<void> {
    await this.#flush();
    try {
      await this.#handle.sync();
    } catch (err) {
      throw diskError(err, this.path);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#flush();
    } finally {
      this.#closed = true;
      await this.#handle.close();
    }
  }

  async destroy(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close().catch(() => undefined);
  }
}

/** `parts` without their first `n` bytes (the rest of a short write). */
function skipBytes(parts: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const part of parts) {
    if (n >= part.byteLength) n -= part.byteLength;
    else {
      out.push(n === 0 ? part : part.subarray(n));
      n = 0;
    }
  }
  return out;
}

/** Renames `from` to `to` and fsyncs the directory of `to` (and of `from` when it differs). */
export async function durableRename(
  from: string,
  to: string,
  dirs: { fromDir: string; toDir: string },
): Promise<void> {
  try {
    await rename(from, to);
    await fsyncDir(dirs.toDir);
    if (dirs.fromDir !== dirs.toDir) await fsyncDir(dirs.fromDir);
  } catch (err) {
    throw diskError(err, to);
  }
}
