// What salvage recovers from a partial: a streaming reader yields only complete, CRC-checked records,
// and each is copied into the new chunk's encoder (schemas and channels once, ids remapped; messages
// with per-stream counts and their time window; attachments and metadata as they were).
import { McapStreamReader, type McapTypes } from '@mcap/core';
import { open } from 'node:fs/promises';
import { decompressHandlers } from './chunk-compression.ts';
import type { StreamChunkStats } from './chunk-types.ts';
import type { McapEncoder } from './mcap-encoder.ts';

const READ_PIECE_BYTES = 1024 * 1024;

/** The records copied so far and what they add up to. */
export class SalvageCopy {
  messages = 0;
  payloadBytes = 0;
  startNs: bigint | undefined;
  endNs = 0n;
  /** Per-stream counts, by the partial's channel id. */
  readonly stats = new Map<number, StreamChunkStats>();
  readonly #encoder: McapEncoder;
  readonly #schemaIds = new Map<number, number>();
  readonly #schemaNames = new Map<number, string>();
  readonly #channelIds = new Map<number, number>();

  constructor(encoder: McapEncoder) {
    this.#encoder = encoder;
  }

  /** Copies one record read from the partial; a message on an unknown channel is skipped. */
  async add(record: McapTypes.TypedMcapRecord): Promise<void> {
    const encoder = this.#encoder;
    switch (record.type) {
      case 'Schema':
        if (!this.#schemaIds.has(record.id)) {
          this.#schemaNames.set(record.id, record.name);
          this.#schemaIds.set(
            record.id,
            encoder.registerSchema({ name: record.name, encoding: record.encoding, data: record.data }),
          );
        }
        break;
      case 'Channel':
        this.#addChannel(record);
        break;
      case 'Message': {
        const channelId = this.#channelIds.get(record.channelId);
        const s = this.stats.get(record.channelId);
        if (channelId === undefined || s === undefined) break;
        await encoder.addMessage({ ...record, channelId });
        this.messages += 1;
        this.payloadBytes += record.data.byteLength;
        s.count += 1;
        s.bytes += record.data.byteLength;
        if (this.startNs === undefined || record.logTime < this.startNs) this.startNs = record.logTime;
        if (record.logTime > this.endNs) this.endNs = record.logTime;
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

  #addChannel(record: McapTypes.TypedMcapRecords['Channel']): void {
    if (this.#channelIds.has(record.id)) return;
    const schemaId = this.#schemaIds.get(record.schemaId) ?? 0;
    this.#channelIds.set(
      record.id,
      this.#encoder.registerChannel({
        schemaId,
        topic: record.topic,
        messageEncoding: record.messageEncoding,
        metadata: record.metadata,
      }),
    );
    this.stats.set(record.id, {
      stream: record.metadata.get('stream') ?? record.topic,
      topic: record.topic,
      type: this.#schemaNames.get(record.schemaId) ?? '',
      count: 0,
      bytes: 0,
      latchedReplays: 0,
    });
  }
}

/**
 * Reads a partial piece by piece and copies every record the reader yields; stops at the end or at
 * the first record that does not parse (a torn tail). Returns the bytes the copied records span.
 */
export async function copyPartial(
  partialPath: string,
  copy: SalvageCopy,
): Promise<{ consumedBytes: number; stopReason: string | undefined }> {
  let stopReason: string | undefined;
  let consumedBytes = 0;
  const reader = new McapStreamReader({ decompressHandlers, validateCrcs: true });
  const handle = await open(partialPath, 'r');
  try {
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
        await copy.add(record);
      }
    }
  } finally {
    await handle.close();
  }
  return { consumedBytes, stopReason };
}
