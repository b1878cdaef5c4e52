// Crash-safe file commits: temp file → fsync → rename (or link, to refuse overwriting) → fsync of
// the directory, so a name either holds the complete new bytes or does not exist.
//
// Only the fsyncs wait for the disk, so only they go to the libuv thread pool; open, write, close,
// link, rename and unlink of a record-sized file are short metadata calls made in place. Each
// thread-pool hop costs more CPU (wake-ups, promise and error objects) than the call it carries.
import { randomBytes } from 'node:crypto';
import { closeSync, fsync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errnoCode } from '../errors.ts';

/** fsync(2) on the thread pool: the one step that waits for the disk. */
function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fsync(fd, (err) => (err === null ? resolve() : reject(err)));
  });
}

/**
 * Closes `fd` after `failure` and rethrows `failure`: a close error must not hide the error already
 * on its way out, so it travels with it as `closeError` (logged with it by pino's err serializer).
 */
function closeAfterFailure(fd: number, failure: unknown): never {
  try {
    closeSync(fd);
  } catch (closeError) {
    if (failure instanceof Error) Object.assign(failure, { closeError });
  }
  throw failure;
}

/** fsyncs a directory so a rename or new name inside it survives power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } catch (err) {
    closeAfterFailure(fd, err);
  }
  closeSync(fd);
}

/** Writes all of `bytes` at the file's current offset. */
function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.byteLength;) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

/** Writes `bytes` to `path` atomically; with `onExisting: 'fail'` an existing file is never replaced. */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array | string,
  options: { mode?: number; onExisting: 'replace' | 'fail' },
): Promise<'written' | 'exists'> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  const fd = openSync(temp, 'wx', options.mode ?? 0o644);
  try {
    try {
      writeAll(fd, data);
      await fsyncFd(fd);
    } catch (err) {
      closeAfterFailure(fd, err);
    }
    closeSync(fd);
    if (options.onExisting === 'fail') {
      // link() fails with EEXIST instead of replacing: the commit point can never be overwritten.
      try {
        linkSync(temp, path);
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') {
          unlinkQuietly(temp);
          return 'exists';
        }
        throw err;
      }
      // Committed: a temp name left by a failed unlink is harmless and must not fail the commit.
      unlinkQuietly(temp);
    } else {
      renameSync(temp, path);
    }
  } catch (err) {
    // The temp name is ours alone; after a failed step it must not linger (after a crash it may,
    // hidden by its leading dot, and is never read back).
    unlinkQuietly(temp);
    throw err;
  }
  await fsyncDir(dir);
  return 'written';
}

/** Appends bytes to a file and fsyncs it. */
export async function appendDurable(path: string, bytes: Uint8Array): Promise<void> {
  const fd = openSync(path, 'a', 0o644);
  try {
    writeAll(fd, bytes);
    await fsyncFd(fd);
  } catch (err) {
    closeAfterFailure(fd, err);
  }
  closeSync(fd);
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    // already gone (renamed or linked and removed) or never made
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}
