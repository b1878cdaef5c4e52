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
import { McapStreamReader } from '@mcap/core';
import { open, readdir, mkdir, stat, unlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { decompressHandlers, storeUncompressed, type ChunkCompressor } from './chunk-compression.ts';
import { fsyncDir } from '../keys/atomic-file.ts';
import { HashingFile, durableRename } from './chunk-file.ts';
import { McapEncoder } from './mcap-encoder.ts';
import { chunkFileName, parseChunkIndex, type CommittedChunk, type StreamChunkStats } from './chunk-types.ts';
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

const READ_PIECE_BYTES = 1024 * 1024;

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
  const schemaIds = new Map<number, number>();
  const schemaNames = new Map<number, string>();
  const channelIds = new Map<number, number>();
  const stats = new Map<number, StreamChunkStats>();
  let messages = 0;
  let payloadBytes = 0;
  let startNs: bigint | undefined;
  let endNs = 0n;
  let stopReason: string | undefined;
  let consumedBytes = 0;
  const reader = new McapStreamReader({ decompressHandlers, validateCrcs: true });
  const handle = await open(partialPath, 'r');
  try {
    await encoder.start();
    const piece = new Uint8Array(READ_PIECE_BYTES);
    let offset = 0;
    reading: for (;;) {
      const { bytesRead } = await handle.read(piece, 0, piece.byteLength, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      reader.append(piece.slice(0, bytesRead));
      for (;;) {
        let record;
        try {
          record = reader.nextRecord();
        } catch (err) {
          stopReason = String(err);
          break reading;
        }
        if (record === undefined) break;
        consumedBytes = offset - reader.bytesRemaining();
        switch (record.type) {
          case 'Schema':
            if (!schemaIds.has(record.id)) {
              schemaNames.set(record.id, record.name);
              schemaIds.set(
                record.id,
                encoder.registerSchema({ name: record.name, encoding: record.encoding, data: record.data }),
              );
            }
            break;
          case 'Channel': {
            if (channelIds.has(record.id)) break;
            const schemaId = schemaIds.get(record.schemaId) ?? 0;
            channelIds.set(
              record.id,
              encoder.registerChannel({
                schemaId,
                topic: record.topic,
                messageEncoding: record.messageEncoding,
                metadata: record.metadata,
              }),
            );
            stats.set(record.id, {
              stream: record.metadata.get('stream') ?? record.topic,
              topic: record.topic,
              type: schemaNames.get(record.schemaId) ?? '',
              count: 0,
              bytes: 0,
              latchedReplays: 0,
            });
            break;
          }
          case 'Message': {
            const channelId = channelIds.get(record.channelId);
            const s = stats.get(record.channelId);
            if (channelId === undefined || s === undefined) break;
            await encoder.addMessage({ ...record, channelId });
            messages += 1;
            payloadBytes += record.data.byteLength;
            s.count += 1;
            s.bytes += record.data.byteLength;
            if (startNs === undefined || record.logTime < startNs) startNs = record.logTime;
            if (record.logTime > endNs) endNs = record.logTime;
            break;
          }
          case 'Attachment':
            await encoder.addAttachment(record);
            break;
          case 'Metadata':
            await encoder.addMetadata(record);
            break;
          default:
            break;
        }
      }
    }
  } finally {
    await handle.close();
  }
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

  await encoder.addMetadata({
    name: salvageMetadataName,
    metadata: new Map([
      ['source', `${finalName}.partial`],
      ['sourceBytes', String(sourceBytes)],
      ['recoveredMessages', String(messages)],
      ['lostTailBytes', String(lostTailBytes)],
    ]),
  });
  const summary = await encoder.end();
  await file.sync();
  await file.close();
  await durableRename(tmpPath, finalPath, { fromDir: dir, toDir: dir });
  const chunk: CommittedChunk = {
    sessionId,
    chunkIndex,
    path: finalPath,
    name: finalName,
    bytes: Number(summary.fileBytes),
    sha256: file.sha256(),
    startNs: startNs ?? 0n,
    endNs,
    messages,
    streams: [...stats.values()],
    reason: 'salvage',
  };
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
