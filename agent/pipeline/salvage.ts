// Recovery of `*.mcap.partial` files left by a crash. A partial is read with a streaming reader,
// which yields a chunk's messages only once the whole chunk record is present and its CRC checks,
// so everything up to the last complete inner chunk is recovered and a torn tail is not. The
// recovered records are rewritten into a new committed chunk under the same index; a partial with
// nothing to recover goes to `quarantine/<sessionId>/` as `*.mcap.corrupt`. Nothing is deleted
// silently and nothing in quarantine is ever named `*.mcap`.
//
// Crash-safe order: write `.mcap.salvaging` → fsync → rename to `.mcap` → fsync dir → move the
// source partial to quarantine. A restart deletes any `.salvaging` (incomplete) and, when the
// `.mcap` already exists next to a `.partial`, only finishes the move.
import { readdir, mkdir, stat, unlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { storeUncompressed, type ChunkCompressor } from './chunk-compression.ts';
import { fsyncDir } from '../fsutil/atomic-file.ts';
import { HashingFile, durableRename } from './chunk-file.ts';
import { McapEncoder } from './mcap-encoder.ts';
import { chunkFileName, parseChunkIndex, type CommittedChunk } from './chunk-types.ts';
import { SalvageCopy, copyPartial } from './salvage-copy.ts';
import { isErrno } from '../errors.ts';

export interface SalvageOptions {
  spoolDir: string;
  logger: Logger;
  /** Keep the source partial in quarantine after a successful salvage (default true). */
  keepSalvagedSource?: boolean;
  /** Inner MCAP chunk size of the rewritten file (default 4 MiB). */
  mcapChunkBytes?: number;
  /** Default stores chunks uncompressed (recovery favours speed and simplicity). */
  compressor?: ChunkCompressor;
  /** Called after each salvaged chunk is committed (the sealer signs it). */
  onCommit?: (chunk: CommittedChunk) => void | Promise<void>;
}

/** What happened to one leftover partial. */
export interface SalvageResult {
  sessionId: string;
  chunkIndex: number;
  /** The partial as found. */
  sourcePath: string;
  sourceBytes: number;
  outcome: 'salvaged' | 'quarantined';
  /** Messages and payload bytes recovered (0 when quarantined). */
  messages: number;
  payloadBytes: number;
  /** Bytes of the source after the last record that could be read. */
  lostTailBytes: number;
  /** Where the source partial now lives (absent when not kept). */
  quarantinePath?: string;
  /** The new committed chunk, when salvaged. */
  chunk?: CommittedChunk;
  /** Why reading stopped early, if it did (a parse or CRC error). */
  stopReason?: string;
}

/** Name of the MCAP metadata record a salvaged chunk carries about its source partial. */
export const salvageMetadataName = 'rigcap.salvage';

/** Salvages or quarantines every leftover partial in the spool; returns one result per partial. */
export async function salvageSpool(options: SalvageOptions): Promise<SalvageResult[]> {
  const log = options.logger.child({ component: 'salvage' });
  const sessionsDir = join(options.spoolDir, 'sessions');
  const results: SalvageResult[] = [];
  let sessions: string[];
  try {
    sessions = await readdir(sessionsDir);
  } catch (err) {
    // No sessions folder yet: nothing to salvage. Any other failure is not absence.
    if (!isErrno(err, 'ENOENT')) throw err;
    return results;
  }
  for (const sessionId of sessions.sort()) {
    const dir = join(sessionsDir, sessionId);
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (err) {
      // A stray file among the sessions, or a folder removed meanwhile.
      if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
      continue;
    }
    for (const entry of entries.filter((e) => e.endsWith('.mcap.salvaging'))) await unlink(join(dir, entry));
    for (const entry of entries.filter((e) => e.endsWith('.mcap.partial')).sort()) {
      const result = await salvagePartial({ ...options, sessionId, partialPath: join(dir, entry) });
      log.warn(
        {
          sessionId,
          chunk: entry,
          outcome: result.outcome,
          messages: result.messages,
          payloadBytes: result.payloadBytes,
          lostTailBytes: result.lostTailBytes,
          stopReason: result.stopReason,
        },
        'leftover partial chunk recovered',
      );
      results.push(result);
    }
  }
  return results;
}

/** Salvages one partial file of a session. */
export async function salvagePartial(
  options: SalvageOptions & { sessionId: string; partialPath: string },
): Promise<SalvageResult> {
  const { spoolDir, sessionId, partialPath } = options;
  const dir = join(spoolDir, 'sessions', sessionId);
  const baseName = partialPath.slice(dir.length + 1, -'.partial'.length);
  const chunkIndex = parseChunkIndex(baseName) ?? 0;
  const finalName = chunkFileName(chunkIndex);
  const finalPath = join(dir, finalName);
  const sourceBytes = (await stat(partialPath)).size;
  const base = { sessionId, chunkIndex, sourcePath: partialPath, sourceBytes };

  // A previous run committed the salvaged chunk but crashed before moving the source away.
  if (await exists(finalPath)) {
    const quarantinePath = await quarantine(options, partialPath, `${finalName}.partial`);
    return {
      ...base,
      outcome: 'salvaged',
      messages: 0,
      payloadBytes: 0,
      lostTailBytes: 0,
      quarantinePath,
      stopReason: 'already salvaged',
    };
  }

  const tmpPath = `${finalPath}.salvaging`;
  const file = await HashingFile.create(tmpPath);
  const encoder = new McapEncoder({
    sink: file,
    compressor: options.compressor ?? storeUncompressed,
    chunkBytes: options.mcapChunkBytes ?? 4 * 1024 * 1024,
    profile: 'ros2',
    library: 'rigcap-salvage',
  });
  await encoder.start();
  const copy = new SalvageCopy(encoder);
  const { consumedBytes, stopReason } = await copyPartial(partialPath, copy);
  const { messages, payloadBytes } = copy;
  const lostTailBytes = sourceBytes - consumedBytes;

  if (messages === 0) {
    await file.destroy();
    await rm(tmpPath, { force: true });
    const quarantinePath = await quarantine(options, partialPath, `${finalName}.corrupt`);
    return {
      ...base,
      outcome: 'quarantined',
      messages: 0,
      payloadBytes: 0,
      lostTailBytes,
      quarantinePath,
      ...(stopReason === undefined ? {} : { stopReason }),
    };
  }

  const chunk = await commitSalvaged(
    { encoder, file, tmpPath, copy },
    { sessionId, chunkIndex, dir, finalName, sourceBytes, lostTailBytes },
  );
  await options.onCommit?.(chunk);
  let quarantinePath: string | undefined;
  if (options.keepSalvagedSource === false) {
    await unlink(partialPath);
    await fsyncDir(dir);
  } else {
    quarantinePath = await quarantine(options, partialPath, `${finalName}.partial`);
  }
  return {
    ...base,
    outcome: 'salvaged',
    messages,
    payloadBytes,
    lostTailBytes,
    chunk,
    ...(quarantinePath === undefined ? {} : { quarantinePath }),
    ...(stopReason === undefined ? {} : { stopReason }),
  };
}

/** Ends the rewritten chunk with its salvage metadata, syncs it and renames it into place. */
async function commitSalvaged(
  w: { encoder: McapEncoder; file: HashingFile; tmpPath: string; copy: SalvageCopy },
  c: {
    sessionId: string;
    chunkIndex: number;
    dir: string;
    finalName: string;
    sourceBytes: number;
    lostTailBytes: number;
  },
): Promise<CommittedChunk> {
  const { encoder, file, copy } = w;
  const finalPath = join(c.dir, c.finalName);
  await encoder.addMetadata({
    name: salvageMetadataName,
    metadata: new Map([
      ['source', `${c.finalName}.partial`],
      ['sourceBytes', String(c.sourceBytes)],
      ['recoveredMessages', String(copy.messages)],
      ['lostTailBytes', String(c.lostTailBytes)],
    ]),
  });
  const summary = await encoder.end();
  await file.sync();
  await file.close();
  await durableRename(w.tmpPath, finalPath, { fromDir: c.dir, toDir: c.dir });
  return {
    sessionId: c.sessionId,
    chunkIndex: c.chunkIndex,
    path: finalPath,
    name: c.finalName,
    bytes: Number(summary.fileBytes),
    sha256: file.sha256(),
    startNs: copy.startNs ?? 0n,
    endNs: copy.endNs,
    messages: copy.messages,
    streams: [...copy.stats.values()],
    reason: 'salvage',
  };
}

async function quarantine(
  options: { spoolDir: string; sessionId: string },
  from: string,
  name: string,
): Promise<string> {
  const qdir = join(options.spoolDir, 'quarantine', options.sessionId);
  await mkdir(qdir, { recursive: true });
  let target = join(qdir, name);
  for (let n = 1; await exists(target); n++) target = join(qdir, `${name}.${n}`);
  await durableRename(from, target, {
    fromDir: join(options.spoolDir, 'sessions', options.sessionId),
    toDir: qdir,
  });
  return target;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
    return false;
  }
}
