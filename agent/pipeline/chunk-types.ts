// Shapes shared by the chunk writer, salvage and their callers (the sealer, the catalog).
import type { StreamSchema } from '../../drivers/types.ts';

/** A stream as the chunk writer registers it: one MCAP schema + channel per stream, in every file. */
export interface CaptureStream {
  /** Stream name from config. */
  name: string;
  /** MCAP channel topic. */
  topic: string;
  schema: StreamSchema;
  /** Latest value re-written at the start of every chunk (tf_static, camera_info). */
  latched: boolean;
  /** Offered QoS as a string (ROS 2 `offered_qos_profiles` YAML), if the transport knows it. */
  qos?: string;
}

/** How a batch write went: samples written from the start, and the error that stopped it, if any. */
export interface BatchWrite {
  written: number;
  /** Set when the sample after the `written` ones failed; the rest were not tried. */
  error?: unknown;
}

/** What one stream contributed to a chunk. */
export interface StreamChunkStats {
  stream: string;
  topic: string;
  /** Schema name (ROS type or JSON Schema id). */
  type: string;
  /** Messages in the file on this channel, latched replays included. */
  count: number;
  /** Payload bytes of those messages. */
  bytes: number;
  /** How many of `count` are re-written latched values. */
  latchedReplays: number;
}

/** A chunk file that is committed (renamed to `*.mcap`, directory fsynced). */
export interface CommittedChunk {
  sessionId: string;
  /** Counts from 1 per session. */
  chunkIndex: number;
  /** Absolute path of the `*.mcap` file. */
  path: string;
  /** File name (`chunk-000001.mcap`), the record's subject name. */
  name: string;
  bytes: number;
  /** Lowercase hex SHA-256 of the file, computed while writing. */
  sha256: string;
  /** Capture time of the first and last message (wall clock, ns). */
  startNs: bigint;
  endNs: bigint;
  messages: number;
  streams: StreamChunkStats[];
  /** Why the chunk closed: `size`, `duration`, `close`, `salvage`, or the reason given to rotate(). */
  reason: string;
}

/** An MCAP attachment to add to a chunk (e.g. `calibration/<sensor>.yaml`). */
export interface ChunkAttachment {
  name: string;
  mediaType: string;
  data: Uint8Array;
  logTimeNs?: bigint;
  createTimeNs?: bigint;
}

/** An MCAP metadata record to add to a chunk (e.g. `rigcap.timesync`). */
export interface ChunkMetadata {
  name: string;
  metadata: Readonly<Record<string, string>>;
}

/** Records a hook adds to a chunk. */
export interface ChunkExtras {
  attachments?: readonly ChunkAttachment[];
  metadata?: readonly ChunkMetadata[];
}

/** Known when a chunk file opens. */
export interface ChunkOpenInfo {
  sessionId: string;
  chunkIndex: number;
  name: string;
  /** Capture time of the sample that opened the chunk. */
  startNs: bigint;
}

/** Known just before a chunk file closes. */
export interface ChunkCloseInfo extends ChunkOpenInfo {
  endNs: bigint;
  messages: number;
  streams: StreamChunkStats[];
  reason: string;
}

/** Hooks the composition root uses to add calibration, time-sync state and markers to each chunk. */
export interface ChunkHooks {
  atOpen?: (info: ChunkOpenInfo) => ChunkExtras | Promise<ChunkExtras>;
  beforeClose?: (info: ChunkCloseInfo) => ChunkExtras | Promise<ChunkExtras>;
}

/** `chunk-000001.mcap` for index 1. */
export function chunkFileName(chunkIndex: number): string {
  return `chunk-${String(chunkIndex).padStart(6, '0')}.mcap`;
}

/** The chunk index in a `chunk-NNNNNN.mcap[...]` name, or undefined. */
export function parseChunkIndex(name: string): number | undefined {
  const match = /^chunk-(\d{6,})\.mcap/.exec(name);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}
