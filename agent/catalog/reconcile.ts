// Start-up reconciliation of the catalog (state) with the spool (content): committed chunk files
// the catalog does not know get rows (hashed, summarised from the MCAP index), rows whose file
// vanished or changed are flagged. Run it after salvage, before the sealer signs leftovers.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { errnoCode, isRigcapError } from '../errors.ts';
import { readChunkFacts, type ChunkFileFacts } from '../pipeline/mcap-read.ts';
import { parseChunkIndex, type CommittedChunk, type StreamChunkStats } from '../pipeline/chunk-types.ts';
import type { Catalog, ChunkFlag } from './catalog.ts';

export interface ReconcileOptions {
  spoolDir: string;
  logger: Logger;
  /** Rig id for sessions found only on disk. */
  rigId: string;
  /** `sha256` re-hashes every known chunk (slow on a big spool); `size` compares sizes only. */
  verify: 'size' | 'sha256';
}

export interface ReconcileReport {
  /** Chunk files on disk that had no row and got one. */
  added: CommittedChunk[];
  /** Rows flagged now, by flag. */
  flagged: Array<{ sessionId: string; chunkIndex: number; flag: ChunkFlag }>;
  /**
   * `*.mcap` files that do not open as MCAP (left in place, not catalogued), and session folders
   * that cannot be listed (their rows are left as they were, neither checked nor flagged).
   */
  unreadable: Array<{ path: string; reason: string }>;
  /** Rows checked against their files. */
  checked: number;
}

/** Brings catalog rows and chunk files into agreement; returns what changed. */
export async function reconcile(catalog: Catalog, options: ReconcileOptions): Promise<ReconcileReport> {
  const log = options.logger.child({ component: 'reconcile' });
  const report: ReconcileReport = { added: [], flagged: [], unreadable: [], checked: 0 };
  const sessionsDir = join(options.spoolDir, 'sessions');
  const onDisk = new Set<string>();
  /** Sessions whose folder could not be listed: absence of a file there proves nothing. */
  const unlisted = new Set<string>();
  let sessions: string[] = [];
  try {
    sessions = (await readdir(sessionsDir)).sort();
  } catch (err) {
    // No sessions folder yet: every row (if any) is missing. Any other failure is not absence.
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  for (const sessionId of sessions) {
    let names: string[];
    try {
      names = (await readdir(join(sessionsDir, sessionId))).sort();
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      unlisted.add(sessionId);
      report.unreadable.push({ path: join(sessionsDir, sessionId), reason: code ?? String(err) });
      log.error({ sessionId, err }, 'session folder cannot be listed: its chunks are left unchecked');
      continue;
    }
    for (const name of names) {
      const chunkIndex = parseChunkIndex(name);
      if (chunkIndex === undefined || !name.endsWith('.mcap')) continue;
      onDisk.add(`${sessionId}/${chunkIndex}`);
      if (catalog.getChunk(sessionId, chunkIndex) !== undefined) continue;
      const path = join(sessionsDir, sessionId, name);
      try {
        const chunk = await describeChunk(path, { sessionId, chunkIndex, name });
        if (catalog.getSession(sessionId) === undefined) {
          catalog.openSession({
            id: sessionId,
            rigId: options.rigId,
            startedNs: chunk.startNs,
            state: 'recovered',
          });
        }
        catalog.addChunk(chunk, { relativePath: `sessions/${sessionId}/${name}`, origin: 'reconcile' });
        report.added.push(chunk);
        log.warn(
          { sessionId, chunk: name, bytes: chunk.bytes },
          'committed chunk missing from the catalog: added',
        );
      } catch (err) {
        if (isRigcapError(err, 'RIGCAP_MCAP_INVALID')) {
          report.unreadable.push({ path, reason: err.message });
          log.error({ sessionId, chunk: name, code: err.code }, 'committed chunk does not open as MCAP');
          continue;
        }
        // A file that cannot be read (EACCES, EIO) stays where it is, uncatalogued, and is reported.
        const code = errnoCode(err);
        if (code === undefined) throw err;
        report.unreadable.push({ path, reason: code });
        log.error({ sessionId, chunk: name, errno: code }, 'committed chunk cannot be read');
      }
    }
  }

  await checkRows(catalog, options, log, report, { onDisk, unlisted });
  return report;
}

/**
 * Checks each row against its file: gone is `missing`, another size `size_mismatch`, with sha256
 * verify another hash `sha_mismatch`. Rows of sessions that could not be listed are left alone.
 */
async function checkRows(
  catalog: Catalog,
  options: ReconcileOptions,
  log: Logger,
  report: ReconcileReport,
  seen: { onDisk: ReadonlySet<string>; unlisted: ReadonlySet<string> },
): Promise<void> {
  const { onDisk, unlisted } = seen;
  for (const row of catalog.listChunks()) {
    if (row.state === 'deleted' || unlisted.has(row.sessionId)) continue;
    let flag: ChunkFlag | undefined;
    const path = join(options.spoolDir, row.path);
    try {
      const size = onDisk.has(`${row.sessionId}/${row.chunkIndex}`) ? await sizeOf(path) : undefined;
      if (size === undefined) flag = 'missing';
      else if (size !== row.bytes) flag = 'size_mismatch';
      else if (options.verify === 'sha256' && (await sha256OfFile(path)) !== row.sha256)
        flag = 'sha_mismatch';
    } catch (err) {
      // Present but unreadable is not missing: the row keeps its state and the failure is reported.
      const code = errnoCode(err);
      if (code === undefined) throw err;
      report.unreadable.push({ path, reason: code });
      log.error({ sessionId: row.sessionId, chunk: row.name, errno: code }, 'chunk file cannot be read');
      continue;
    }
    report.checked += 1;
    if (flag !== row.flag) {
      catalog.flagChunk(row.sessionId, row.chunkIndex, flag);
      if (flag !== undefined) {
        report.flagged.push({ sessionId: row.sessionId, chunkIndex: row.chunkIndex, flag });
        log.error(
          { sessionId: row.sessionId, chunk: row.name, flag },
          'chunk file disagrees with the catalog',
        );
      }
    }
  }
}

/** Size of a file; undefined when it is gone (other failures are thrown: they are not absence). */
async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Lowercase hex SHA-256 of a file, streamed. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path, { highWaterMark: 1024 * 1024 }))
    hash.update(piece as Buffer);
  return hash.digest('hex');
}

/** Summarises a committed chunk file as the writer would have (hash, time window, per-stream counts). */
export async function describeChunk(
  path: string,
  id: { sessionId: string; chunkIndex: number; name: string },
): Promise<CommittedChunk> {
  return (await describeChunkWithFacts(path, id)).chunk;
}

/** describeChunk, with the file's own facts (calibration, metadata, channels) read in the same pass. */
export async function describeChunkWithFacts(
  path: string,
  id: { sessionId: string; chunkIndex: number; name: string },
): Promise<{ chunk: CommittedChunk; facts: ChunkFileFacts }> {
  const sha256 = await sha256OfFile(path);
  const { size } = await stat(path);
  const facts = await readChunkFacts(path);
  const streams: StreamChunkStats[] = facts.channels.map((c) => ({
    stream: c.stream,
    topic: c.topic,
    type: c.type,
    count: c.count,
    bytes: c.bytes,
    latchedReplays: c.latchedReplays,
  }));
  return {
    chunk: {
      ...id,
      path,
      bytes: size,
      sha256,
      startNs: facts.startNs,
      endNs: facts.endNs,
      messages: facts.messages,
      streams,
      reason: 'reconcile',
    },
    facts,
  };
}
