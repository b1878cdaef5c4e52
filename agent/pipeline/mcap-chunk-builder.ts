// Builds the records of one inner MCAP chunk (Message records) and its Message Index records.
// Small messages are copied into a shared slab, so a chunk of many small messages is a few large
// parts: one CRC pass and one writev per chunk, and no allocation per message. Large payloads
// (camera frames) are kept as their own part and never copied.
import { Opcode } from '@mcap/core';
import { crc32 } from 'node:zlib';

/** Opcode, record length, channel id, sequence, log time, publish time. */
export const MESSAGE_HEADER_BYTES = 1 + 8 + 2 + 4 + 8 + 8;
/** Payloads up to this size are copied into the slab; larger ones are referenced. */
const INLINE_MAX_BYTES = 64 * 1024;
const MESSAGE_INDEX_HEADER_BYTES = 1 + 8 + 2 + 4;
const TWO_POW_32 = 4294967296;

/** Message Index entries of one channel, kept in their on-disk form (log time, offset). */
class ChannelIndex {
  entries: Uint8Array;
  view: DataView;
  count = 0;

  constructor(capacity: number) {
    this.entries = Buffer.allocUnsafe(capacity * 16);
    this.view = new DataView(this.entries.buffer, this.entries.byteOffset, this.entries.byteLength);
  }

  add(logTimeNs: bigint, offset: number): void {
    let at = this.count * 16;
    if (at + 16 > this.entries.byteLength) {
      const grown = Buffer.allocUnsafe(this.entries.byteLength * 2);
      grown.set(this.entries.subarray(0, at));
      this.entries = grown;
      this.view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
    }
    const view = this.view;
    view.setBigUint64(at, logTimeNs, true);
    view.setUint32((at += 8), offset >>> 0, true);
    view.setUint32(at + 4, Math.floor(offset / TWO_POW_32), true);
    this.count += 1;
  }
}

/** The records of one finished chunk, ready to compress and write. */
export interface BuiltChunk {
  /** Message records in order (slab segments and referenced payloads). */
  parts: Uint8Array[];
  byteLength: number;
  startNs: bigint;
  endNs: bigint;
  messageCount: number;
  /** Per-channel Message Index entries, by channel id. */
  indexes: Map<number, { entries: Uint8Array; count: number }>;
}

/**
 * Appends Message records into slabs; `take()` hands over the finished chunk and starts a new one.
 * A slab holds a whole chunk of small messages, so such a chunk is one contiguous part (compressed
 * without a concatenating copy); a slab's free tail serves the next chunk when it still fits one.
 */
export class ChunkBuilder {
  readonly #slabBytes: number;
  /** Slab bytes the open chunk used; a chunk mostly of small messages starts on a fresh slab. */
  #chunkSlabBytes = 0;
  #wholeSlab = false;
  #slab: Buffer;
  #view: DataView;
  #used = 0;
  /** Start of the slab segment not yet moved into `#parts`. */
  #segmentStart = 0;
  #parts: Uint8Array[] = [];
  #indexes: Array<ChannelIndex | undefined> = [];
  /** Index capacity per channel from the previous chunk, so a steady stream rarely regrows. */
  #capacityHint: number[] = [];
  byteLength = 0;
  messageCount = 0;
  startNs = 0n;
  endNs = 0n;

  /** `chunkBytes`: the size at which the caller closes a chunk. */
  constructor(chunkBytes: number) {
    // A chunk closes at chunkBytes, so it overshoots by at most one inlined message.
    this.#slabBytes = chunkBytes + MESSAGE_HEADER_BYTES + INLINE_MAX_BYTES;
    this.#slab = Buffer.allocUnsafe(this.#slabBytes);
    this.#view = new DataView(this.#slab.buffer, this.#slab.byteOffset, this.#slab.byteLength);
  }

  /** Appends one Message record; `data` is copied when small, referenced when large. */
  append(
    channelId: number,
    sequence: number,
    logTimeNs: bigint,
    publishTimeNs: bigint,
    data: Uint8Array,
  ): void {
    const dataBytes = data.byteLength;
    const inline = dataBytes <= INLINE_MAX_BYTES;
    const need = MESSAGE_HEADER_BYTES + (inline ? dataBytes : 0);
    const room = this.#slab.byteLength - this.#used;
    if (need > room || (this.byteLength === 0 && this.#wholeSlab && room < this.#slabBytes))
      this.#newSlab(need);
    this.#chunkSlabBytes += need;
    const view = this.#view;
    let at = this.#used;
    const recordLength = MESSAGE_HEADER_BYTES - 9 + dataBytes;
    view.setUint8(at, Opcode.MESSAGE);
    view.setUint32(at + 1, recordLength >>> 0, true);
    view.setUint32(at + 5, Math.floor(recordLength / TWO_POW_32), true);
    view.setUint16(at + 9, channelId, true);
    view.setUint32(at + 11, sequence >>> 0, true);
    view.setBigUint64(at + 15, logTimeNs, true);
    view.setBigUint64(at + 23, publishTimeNs, true);
    at += MESSAGE_HEADER_BYTES;
    if (inline) {
      this.#slab.set(data, at);
      this.#used = at + dataBytes;
    } else {
      this.#used = at;
      this.#cut();
      this.#parts.push(data);
    }
    let index = this.#indexes[channelId];
    if (index === undefined)
      this.#indexes[channelId] = index = new ChannelIndex(this.#capacityHint[channelId] ?? 64);
    index.add(logTimeNs, this.byteLength);
    this.byteLength += MESSAGE_HEADER_BYTES + dataBytes;
    if (this.messageCount === 0) {
      this.startNs = logTimeNs;
      this.endNs = logTimeNs;
    } else if (logTimeNs < this.startNs) this.startNs = logTimeNs;
    else if (logTimeNs > this.endNs) this.endNs = logTimeNs;
    this.messageCount += 1;
  }

  /** The finished chunk; the builder starts empty again (the slab's free tail is kept). */
  take(): BuiltChunk {
    this.#cut();
    const indexes = new Map<number, { entries: Uint8Array; count: number }>();
    this.#indexes.forEach((index, channelId) => {
      if (index === undefined) return;
      indexes.set(channelId, { entries: index.entries, count: index.count });
      this.#capacityHint[channelId] = Math.max(64, index.count + (index.count >> 3));
    });
    const chunk: BuiltChunk = {
      parts: this.#parts,
      byteLength: this.byteLength,
      startNs: this.startNs,
      endNs: this.endNs,
      messageCount: this.messageCount,
      indexes,
    };
    this.#parts = [];
    this.#indexes = [];
    // Frames (referenced, not copied) need little slab: their chunks share one slab's tail.
    this.#wholeSlab = this.#chunkSlabBytes * 2 >= this.#slabBytes;
    this.#chunkSlabBytes = 0;
    this.byteLength = 0;
    this.messageCount = 0;
    this.startNs = 0n;
    this.endNs = 0n;
    return chunk;
  }

  #cut(): void {
    if (this.#used > this.#segmentStart)
      this.#parts.push(this.#slab.subarray(this.#segmentStart, this.#used));
    this.#segmentStart = this.#used;
  }

  #newSlab(need: number): void {
    this.#cut();
    // The old slab stays alive only through the segments that reference it.
    this.#slab = Buffer.allocUnsafe(Math.max(this.#slabBytes, need));
    this.#view = new DataView(this.#slab.buffer, this.#slab.byteOffset, this.#slab.byteLength);
    this.#used = 0;
    this.#segmentStart = 0;
  }
}

/** CRC-32 of the concatenation of `parts` (the chunk's uncompressed_crc). */
export function crc32Parts(parts: readonly Uint8Array[]): number {
  let crc = 0;
  for (const part of parts) crc = crc32(part, crc);
  return crc;
}

/**
 * Message Index records for `chunk`, in channel-id order, starting at file offset `start`; returns
 * the bytes and each channel's record offset (for the Chunk Index).
 */
export function messageIndexRecords(
  chunk: BuiltChunk,
  start: bigint,
): { parts: Uint8Array[]; byteLength: number; offsets: Map<number, bigint> } {
  const parts: Uint8Array[] = [];
  const offsets = new Map<number, bigint>();
  let byteLength = 0;
  for (const channelId of [...chunk.indexes.keys()].sort((x, y) => x - y)) {
    const index = chunk.indexes.get(channelId)!;
    const entriesBytes = index.count * 16;
    const header = new Uint8Array(MESSAGE_INDEX_HEADER_BYTES);
    const view = new DataView(header.buffer);
    view.setUint8(0, Opcode.MESSAGE_INDEX);
    view.setBigUint64(1, BigInt(2 + 4 + entriesBytes), true);
    view.setUint16(9, channelId, true);
    view.setUint32(11, entriesBytes, true);
    offsets.set(channelId, start + BigInt(byteLength));
    parts.push(header, index.entries.subarray(0, entriesBytes));
    byteLength += MESSAGE_INDEX_HEADER_BYTES + entriesBytes;
  }
  return { parts, byteLength, offsets };
}
