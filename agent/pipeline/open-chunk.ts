// The state of the chunk file being written, and how streams, samples and hook extras enter it.
// chunk-writer.ts decides when files open, rotate and commit; this is what goes into one and how
// a finished one becomes a committed `*.mcap`.
import type { Sample } from '../../drivers/types.ts';
import { RigcapError, errnoCode, isRigcapError } from '../errors.ts';
import { diskError, durableRename, type ChunkFile } from './chunk-file.ts';
import type {
  CaptureStream,
  ChunkCloseInfo,
  ChunkExtras,
  CommittedChunk,
  StreamChunkStats,
} from './chunk-types.ts';
import type { McapEncoder } from './mcap-encoder.ts';

/** The open `*.mcap.partial` and what it holds so far. */
export interface OpenFile {
  chunkIndex: number;
  name: string;
  partialPath: string;
  finalPath: string;
  file: ChunkFile;
  encoder: McapEncoder;
  /** Per stream: its channel and its counts in this file. */
  lanes: Map<string, Lane>;
  stats: Map<string, StreamChunkStats>;
  startNs: bigint;
  endNs: bigint;
  /** Capture and receive (monotonic) time of the sample that opened the file: the duration anchors. */
  anchorNs: bigint;
  openedMonoNs: bigint;
  messages: number;
}

/** One stream's channel in the open file, with its counts. */
export interface Lane {
  stream: CaptureStream;
  channelId: number;
  stats: StreamChunkStats;
}

/** Registers a stream's schema and channel (with its metadata) in the open file. */
export function registerStream(current: OpenFile, stream: CaptureStream): void {
  const schemaId = current.encoder.registerSchema({
    name: stream.schema.name,
    encoding: stream.schema.encoding,
    data: stream.schema.data,
  });
  const metadata = new Map<string, string>([
    ['stream', stream.name],
    ['latched', String(stream.latched)],
  ]);
  if (stream.qos !== undefined) metadata.set('offered_qos_profiles', stream.qos);
  const channelId = current.encoder.registerChannel({
    schemaId,
    topic: stream.topic,
    messageEncoding: stream.schema.messageEncoding,
    metadata,
  });
  const stats: StreamChunkStats = {
    stream: stream.name,
    topic: stream.topic,
    type: stream.schema.name,
    count: 0,
    bytes: 0,
    latchedReplays: 0,
  };
  current.lanes.set(stream.name, { stream, channelId, stats });
  current.stats.set(stream.name, stats);
}

/** Adds a sample to the open file; returns the pending flush when it filled an inner chunk. */
export function addSample(
  current: OpenFile,
  lane: Lane,
  sample: Sample,
  logTimeNs: bigint,
  options: { replay: boolean },
): Promise<void> | undefined {
  const flushed = current.encoder.append(
    lane.channelId,
    sample.seq,
    logTimeNs,
    sample.captureNs,
    sample.data,
  );
  const stats = lane.stats;
  stats.count += 1;
  stats.bytes += sample.data.byteLength;
  if (options.replay) stats.latchedReplays += 1;
  current.messages += 1;
  if (logTimeNs > current.endNs) current.endNs = logTimeNs;
  // Replays are stamped at the file's start; a late sample from a slower stream widens the window back.
  if (!options.replay && logTimeNs < current.startNs) current.startNs = logTimeNs;
  return flushed;
}

/** Writes a hook's attachments and metadata records into the open file. */
export async function addExtras(encoder: McapEncoder, extras: ChunkExtras, timeNs: bigint): Promise<void> {
  for (const a of extras.attachments ?? []) {
    await encoder.addAttachment({
      name: a.name,
      mediaType: a.mediaType,
      data: a.data,
      logTime: a.logTimeNs ?? timeNs,
      createTime: a.createTimeNs ?? timeNs,
    });
  }
  for (const m of extras.metadata ?? []) {
    await encoder.addMetadata({ name: m.name, metadata: new Map(Object.entries(m.metadata)) });
  }
}

/**
 * Finishes a file whose last extras are in: ends the MCAP, fsyncs and closes the `.partial`, and
 * renames it to `*.mcap` with both directory fsyncs. What it returns is the close info plus where
 * the file now is, its size and its SHA-256.
 */
export async function finishFile(
  current: OpenFile,
  closeInfo: ChunkCloseInfo,
  sessionDir: string,
): Promise<CommittedChunk> {
  const summary = await current.encoder.end();
  await current.file.sync();
  await current.file.close();
  await durableRename(current.partialPath, current.finalPath, { fromDir: sessionDir, toDir: sessionDir });
  return {
    ...closeInfo,
    path: current.finalPath,
    bytes: Number(summary.fileBytes),
    sha256: current.file.sha256(),
  };
}

/** Maps a write failure to the error code that says what to do (disk full, unwritable spool). */
export function mapError(err: unknown): unknown {
  if (isRigcapError(err)) return err;
  const errno = errnoCode(err);
  if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS') {
    return new RigcapError('RIGCAP_SPOOL_UNWRITABLE', `cannot write the spool: ${errno}`, { cause: err });
  }
  const disk = diskError(err, 'spool');
  if (isRigcapError(disk)) return disk;
  return new RigcapError('RIGCAP_INTERNAL', `chunk writer failed: ${String(err)}`, { cause: err });
}
