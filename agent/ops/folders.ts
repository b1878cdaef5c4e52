// Making a folder with its parents and an honest reason when that fails: Node's recursive mkdir
// reports ENOENT where the real cause is a read-only filesystem (EROFS) or a parent the user may
// not write (EACCES), so the levels are made one at a time here.
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { errnoCode } from '../errors.ts';

/** A folder that could not be made: which level, and the errno that stopped it. */
export interface FolderFailure {
  /** The level whose mkdir failed (the first missing one). */
  folder: string;
  errno: string;
  cause: unknown;
}

/**
 * Makes `path` and its missing parents with `mode`. Returns the folders it made (outermost first),
 * or throws a FolderFailure naming the level that could not be made and why.
 */
export function makeFolder(path: string, mode: number): string[] {
  const missing: string[] = [];
  for (let at = path; ; at = dirname(at)) {
    try {
      if (!statSync(at).isDirectory()) throw folderFailure(at, 'ENOTDIR', new Error(`${at} is not a folder`));
      break;
    } catch (err) {
      if (isFolderFailure(err)) throw err;
      // ENOTDIR: a file further up is in the way; keep walking up to name it.
      const errno = errnoCode(err);
      if ((errno !== 'ENOENT' && errno !== 'ENOTDIR') || at === dirname(at))
        throw folderFailure(at, errno, err);
      missing.unshift(at);
    }
  }
  for (const folder of missing) {
    try {
      mkdirSync(folder, { mode });
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') continue;
      throw folderFailure(folder, errnoCode(err), err);
    }
  }
  return missing;
}

function folderFailure(folder: string, errno: string | undefined, cause: unknown): FolderFailure {
  return { folder, errno: errno ?? 'EUNKNOWN', cause };
}

/** Narrows a caught value to a FolderFailure. */
export function isFolderFailure(err: unknown): err is FolderFailure {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as Partial<FolderFailure>).folder === 'string' &&
    typeof (err as Partial<FolderFailure>).errno === 'string' &&
    !(err instanceof Error)
  );
}
