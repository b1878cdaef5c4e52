// Crash-safe file commits: temp file → fsync → rename (or link, to refuse overwriting) → fsync of
// the directory, so a name either holds the complete new bytes or does not exist.
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoCode } from '../errors.ts';

/** fsyncs a directory so a rename or new name inside it survives power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `bytes` to `path` atomically; with `onExisting: 'fail'` an existing file is never replaced. */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array | string,
  options: { mode?: number; onExisting: 'replace' | 'fail' },
): Promise<'written' | 'exists'> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', options.mode ?? 0o644);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (options.onExisting === 'fail') {
      // link() fails with EEXIST instead of replacing: the commit point can never be overwritten.
      try {
        await link(temp, path);
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') return 'exists';
        throw err;
      }
      await unlink(temp);
    } else {
      await rename(temp, path);
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await fsyncDir(dir);
  return 'written';
}

/** Appends bytes to a file and fsyncs it. */
export async function appendDurable(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, 'a', 0o644);
  try {
    await handle.write(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
