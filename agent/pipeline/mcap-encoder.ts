// The MCAP file encoder: bytes in, bytes out through a sink port (like @mcap/core's IWritable),
// so it runs against memory in tests and against a hashing file at the edge. It writes the same
// records as @mcap/core's McapWriter (built with its McapRecordBuilder), with three differences
// that keep 1 MiB frames near the raw write+hash rate:
//  - a finished inner chunk is compressed on the thread pool while the next one fills, and writes
//    run in order on a promise chain (at most `maxChunksInFlight` chunks held);
//  - large payloads (frames) are written from the original buffers, never copied; small ones are
//    packed into shared slabs, so a chunk is a few large parts (see mcap-chunk-builder.ts);
//  - the data-section CRC is left 0 ("not computed", as the spec allows): the file's SHA-256,
//    computed while writing and signed, already covers every byte. Each chunk keeps its CRC, which
//    is what salvage uses to stop at a torn chunk after a crash.
// Schemas and channels are written to the data section (outside chunks) when registered, so a
// streaming reader of a truncated file knows every channel before its first message.
import { McapRecordBuilder, Opcode } from '@mcap/core';
import type { Attachment, ChunkIndex, Message, Metadata, Schema, Channel, Statistics } from '@mcap/core';
import { crc32 } from 'node:zlib';
import type { ChunkCompressor } from './chunk-compression.ts';
import { ChunkBuilder, crc32Parts, messageIndexRecords, type BuiltChunk } from './mcap-chunk-builder.ts';

/** Where encoded bytes go. `position()` counts bytes accepted by `write` so far. */
export interface McapSink {
  write(parts: readonly Uint8Array[]): Promise<void>;
  position(): bigint;
}

/** A sink that keeps everything in memory (tests, tools). */
export class MemorySink implements McapSink {
  readonly parts: Uint8Array[] = [];
  #length = 0n;

  write(parts: readonly Uint8Array[]): Promise<void> {
    for (const part of parts) {
      this.parts.push(part);
      this.#length += BigInt(part.byteLength);
    }
    return Promise.resolve();
  }

  position(): bigint {
    return this.#length;
  }

  /** Everything written, as one buffer. */
  bytes(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

export interface McapEncoderOptions {
  sink: McapSink;
  compressor: ChunkCompressor;
  /** Uncompressed size at which an inner MCAP chunk is closed (the unit lost at most in a crash). */
  chunkBytes: number;
  /** Finished chunks that may wait for compression/writing before `addMessage` waits. */
  maxChunksInFlight?: number;
  profile: string;
  library: string;
}

/** What the encoder wrote, known after `end()`. */
export interface McapEncoderSummary {
  statistics: Statistics;
  fileBytes: bigint;
}

/** Writes one MCAP file: header, schemas/channels, chunked messages with indexes, summary, footer. */
export class McapEncoder {
  readonly #options: McapEncoderOptions;
  readonly #maxInFlight: number;
  #tail: Promise<void> = Promise.resolve();
  #failure: unknown;
  #inFlight: Promise<void>[] = [];
  #inFlightBytes = 0;
  readonly #chunk: ChunkBuilder;
  /** Messages per channel id (ids are dense from 0; undefined = not registered). */
  readonly #channelMessageCounts: number[] = [];
  #messageCount = 0;
  #schemas = new Map<number, Schema>();
  #channels = new Map<number, Channel>();
  #chunkIndexes: ChunkIndex[] = [];
  #attachmentIndexes: Array<{
    offset: bigint;
    length: bigint;
    logTime: bigint;
    createTime: bigint;
    dataSize: bigint;
    name: string;
    mediaType: string;
  }> = [];
  #metadataIndexes: Array<{ offset: bigint; length: bigint; name: string }> = [];
  #stats: Statistics = {
    messageCount: 0n,
    schemaCount: 0,
    channelCount: 0,
    attachmentCount: 0,
    metadataCount: 0,
    chunkCount: 0,
    messageStartTime: 0n,
    messageEndTime: 0n,
    channelMessageCounts: new Map(),
  };
  #started = false;
  #ended = false;

  constructor(options: McapEncoderOptions) {
    this.#options = options;
    this.#maxInFlight = Math.max(1, options.maxChunksInFlight ?? 2);
    this.#chunk = new ChunkBuilder(options.chunkBytes);
  }

  /** Upper bound of the file size so far: written plus held (uncompressed) bytes. */
  get estimatedBytes(): bigint {
    return this.#options.sink.position() + BigInt(this.#inFlightBytes + this.#chunk.byteLength);
  }

  /** `estimatedBytes` as a number, cheap enough to check after every message. */
  get estimatedByteCount(): number {
    return Number(this.#options.sink.position()) + this.#inFlightBytes + this.#chunk.byteLength;
  }

  get messageCount(): bigint {
    return BigInt(this.#messageCount);
  }

  /** Writes magic and header. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const b = new McapRecordBuilder();
    b.writeMagic();
    b.writeHeader({ profile: this.#options.profile, library: this.#options.library });
    await this.#enqueue(() => this.#options.sink.write([b.buffer]));
  }

  /** Registers a schema and returns its id; its record is written now, outside any chunk. */
  registerSchema(info: Omit<Schema, 'id'>): number {
    const id = this.#schemas.size + 1;
    const schema = { ...info, id };
    this.#schemas.set(id, schema);
    this.#stats.schemaCount += 1;
    const b = new McapRecordBuilder();
    b.writeSchema(schema);
    this.#enqueue(() => this.#options.sink.write([b.buffer])).catch(() => undefined);
    return id;
  }

  /** Registers a channel and returns its id; its record is written now, outside any chunk. */
  registerChannel(info: Omit<Channel, 'id'>): number {
    const id = this.#channels.size;
    const channel = { ...info, id };
    this.#channels.set(id, channel);
    this.#channelMessageCounts[id] = 0;
    this.#stats.channelCount += 1;
    const b = new McapRecordBuilder();
    b.writeChannel(channel);
    this.#enqueue(() => this.#options.sink.write([b.buffer])).catch(() => undefined);
    return id;
  }

  /** Adds a message to the open chunk; waits only when too many finished chunks are in flight. */
  async addMessage(message: Message): Promise<void> {
    const flushed = this.append(
      message.channelId,
      message.sequence,
      message.logTime,
      message.publishTime,
      message.data,
    );
    if (flushed !== undefined) await flushed;
  }

  /**
   * `addMessage` without a promise per message: returns undefined, or, when the message filled the
   * chunk, the pending flush to await before the next call.
   */
  append(
    channelId: number,
    sequence: number,
    logTimeNs: bigint,
    publishTimeNs: bigint,
    data: Uint8Array,
  ): Promise<void> | undefined {
    this.#throwIfFailed();
    const counts = this.#channelMessageCounts;
    const channelCount = counts[channelId];
    if (channelCount === undefined)
      throw new Error(`McapEncoder: message for unregistered channel ${channelId}`);
    counts[channelId] = channelCount + 1;
    const stats = this.#stats;
    if (this.#messageCount === 0) {
      stats.messageStartTime = logTimeNs;
      stats.messageEndTime = logTimeNs;
    } else if (logTimeNs < stats.messageStartTime) stats.messageStartTime = logTimeNs;
    else if (logTimeNs > stats.messageEndTime) stats.messageEndTime = logTimeNs;
    this.#messageCount += 1;
    const chunk = this.#chunk;
    chunk.append(channelId, sequence, logTimeNs, publishTimeNs, data);
    return chunk.byteLength >= this.#options.chunkBytes ? this.flushChunk() : undefined;
  }

  /** Writes an attachment record (outside chunks) and indexes it. */
  async addAttachment(attachment: Attachment): Promise<void> {
    this.#throwIfFailed();
    this.#stats.attachmentCount += 1;
    const b = new McapRecordBuilder();
    const length = b.writeAttachment(attachment);
    await this.#enqueue(async () => {
      this.#attachmentIndexes.push({
        offset: this.#options.sink.position(),
        length,
        logTime: attachment.logTime,
        createTime: attachment.createTime,
        dataSize: BigInt(attachment.data.byteLength),
        name: attachment.name,
        mediaType: attachment.mediaType,
      });
      await this.#options.sink.write([b.buffer]);
    });
  }

  /** Writes a metadata record (outside chunks) and indexes it. */
  async addMetadata(metadata: Metadata): Promise<void> {
    this.#throwIfFailed();
    this.#stats.metadataCount += 1;
    const b = new McapRecordBuilder();
    const length = b.writeMetadata(metadata);
    await this.#enqueue(async () => {
      this.#metadataIndexes.push({ offset: this.#options.sink.position(), length, name: metadata.name });
      await this.#options.sink.write([b.buffer]);
    });
  }

  /** Closes the open inner chunk (if it has messages) and queues it for compression and writing. */
  async flushChunk(): Promise<void> {
    this.#throwIfFailed();
    if (this.#chunk.messageCount === 0) return;
    const chunk = this.#chunk.take();
    this.#stats.chunkCount += 1;
    // Inline: zlib's crc32 runs at about three times SHA-256's speed, so it is a small share.
    const crc = crc32Parts(chunk.parts);
    const compressed = this.#options.compressor.compress(chunk.parts, chunk.byteLength);
    // Attach a handler now so a failure before the write step runs is not reported as unhandled.
    compressed.catch(() => undefined);
    this.#inFlightBytes += chunk.byteLength;
    const done = this.#enqueue(async () => {
      const { compression, parts, byteLength } = await compressed;
      await this.#writeChunk(chunk, crc, compression, parts, byteLength);
      this.#inFlightBytes -= chunk.byteLength;
    });
    // Held only to wait on; a failure is rethrown by #throwIfFailed below and by every later call.
    this.#inFlight.push(done.catch(() => undefined));
    while (this.#inFlight.length > this.#maxInFlight) {
      await this.#inFlight.shift();
    }
    this.#throwIfFailed();
  }

  /** Writes the last chunk, the data end, the summary and the footer; returns statistics. */
  async end(): Promise<McapEncoderSummary> {
    if (this.#ended) throw new Error('McapEncoder: end() called twice');
    await this.flushChunk();
    await this.#tail;
    this.#throwIfFailed();
    this.#ended = true;
    this.#stats.messageCount = BigInt(this.#messageCount);
    this.#channelMessageCounts.forEach((count, channelId) => {
      if (count > 0) this.#stats.channelMessageCounts.set(channelId, BigInt(count));
    });
    const sink = this.#options.sink;
    const dataEnd = new McapRecordBuilder();
    dataEnd.writeDataEnd({ dataSectionCrc: 0 });
    const dataEndBytes = dataEnd.buffer;
    const summaryStart = sink.position() + BigInt(dataEndBytes.byteLength);

    const b = new McapRecordBuilder();
    const groups: Array<{ groupOpcode: number; groupStart: bigint; groupLength: bigint }> = [];
    const group = (opcode: number, writeAll: () => void): void => {
      const before = b.length;
      writeAll();
      if (b.length > before) {
        groups.push({
          groupOpcode: opcode,
          groupStart: summaryStart + BigInt(before),
          groupLength: BigInt(b.length - before),
        });
      }
    };
    group(Opcode.SCHEMA, () => this.#schemas.forEach((s) => b.writeSchema(s)));
    group(Opcode.CHANNEL, () => this.#channels.forEach((c) => b.writeChannel(c)));
    group(Opcode.STATISTICS, () => b.writeStatistics(this.#stats));
    group(Opcode.METADATA_INDEX, () => this.#metadataIndexes.forEach((m) => b.writeMetadataIndex(m)));
    group(Opcode.ATTACHMENT_INDEX, () => this.#attachmentIndexes.forEach((a) => b.writeAttachmentIndex(a)));
    group(Opcode.CHUNK_INDEX, () => this.#chunkIndexes.forEach((c) => b.writeChunkIndex(c)));
    const summaryOffsetStart = summaryStart + BigInt(b.length);
    for (const g of groups) b.writeSummaryOffset(g);
    const footerPrefix = new Uint8Array(1 + 8 + 8 + 8);
    const fv = new DataView(footerPrefix.buffer);
    fv.setUint8(0, Opcode.FOOTER);
    fv.setBigUint64(1, 20n, true);
    fv.setBigUint64(9, summaryStart, true);
    fv.setBigUint64(17, summaryOffsetStart, true);
    const summaryCrc = crc32(footerPrefix, crc32(b.buffer));
    b.writeFooter({ summaryStart, summaryOffsetStart, summaryCrc });
    b.writeMagic();
    await sink.write([dataEndBytes, b.buffer]);
    return { statistics: this.#stats, fileBytes: sink.position() };
  }

  async #writeChunk(
    chunk: BuiltChunk,
    crc: number,
    compression: string,
    parts: readonly Uint8Array[],
    byteLength: number,
  ): Promise<void> {
    const sink = this.#options.sink;
    const compressionBytes = Buffer.from(compression, 'utf8');
    const headerBytes = 1 + 8 + 8 + 8 + 8 + 4 + 4 + compressionBytes.byteLength + 8;
    const header = new Uint8Array(headerBytes);
    const view = new DataView(header.buffer);
    const recordLength = BigInt(headerBytes - 9 + byteLength);
    let at = 0;
    view.setUint8(at, Opcode.CHUNK);
    view.setBigUint64((at += 1), recordLength, true);
    view.setBigUint64((at += 8), chunk.startNs, true);
    view.setBigUint64((at += 8), chunk.endNs, true);
    view.setBigUint64((at += 8), BigInt(chunk.byteLength), true);
    view.setUint32((at += 8), crc, true);
    view.setUint32((at += 4), compressionBytes.byteLength, true);
    header.set(compressionBytes, (at += 4));
    view.setBigUint64((at += compressionBytes.byteLength), BigInt(byteLength), true);

    const chunkStartOffset = sink.position();
    const chunkLength = BigInt(headerBytes + byteLength);
    const messageIndexStart = chunkStartOffset + chunkLength;
    const messageIndex = messageIndexRecords(chunk, messageIndexStart);
    this.#chunkIndexes.push({
      messageStartTime: chunk.startNs,
      messageEndTime: chunk.endNs,
      chunkStartOffset,
      chunkLength,
      messageIndexOffsets: messageIndex.offsets,
      messageIndexLength: BigInt(messageIndex.byteLength),
      compression,
      compressedSize: BigInt(byteLength),
      uncompressedSize: BigInt(chunk.byteLength),
    });
    await sink.write([header, ...parts, ...messageIndex.parts]);
  }

  #enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.#tail.then(async () => {
      if (this.#failure !== undefined) throw this.#failure;
      await step();
    });
    // The chain itself never rejects, so one failure does not become many unhandled rejections;
    // the first failure is kept and rethrown to every later caller.
    this.#tail = run.catch((err: unknown) => {
      this.#failure ??= err;
    });
    return this.#tail.then(() => this.#throwIfFailed());
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}
