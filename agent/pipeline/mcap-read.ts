// Read-side adapters for @mcap/core readers: a file or a buffer as an IReadable, an indexed open
// that maps failures to RIGCAP_MCAP_INVALID, and the facts a committed chunk carries about itself.
import { McapIndexedReader, type IReadable } from '@mcap/core';
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { RigcapError } from '../errors.ts';
import { decompressHandlers } from './chunk-compression.ts';

/** A buffer as a random-access readable. */
export function bufferReadable(bytes: Uint8Array): IReadable {
  return {
    size: () => Promise.resolve(BigInt(bytes.byteLength)),
    read: (offset, size) => Promise.resolve(bytes.subarray(Number(offset), Number(offset + size))),
  };
}

/** An open file as a random-access readable; close the handle when done. */
export function fileReadable(handle: FileHandle, sizeBytes: number): IReadable {
  return {
    size: () => Promise.resolve(BigInt(sizeBytes)),
    read: async (offset, size) => {
      const out = new Uint8Array(Number(size));
      const { bytesRead } = await handle.read(out, 0, out.byteLength, Number(offset));
      return out.subarray(0, bytesRead);
    },
  };
}

/** Opens an MCAP file with its summary/index and runs `use` on the reader. */
export async function withIndexedReader<T>(
  path: string,
  use: (reader: McapIndexedReader) => Promise<T>,
): Promise<T> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    let reader: McapIndexedReader;
    try {
      reader = await McapIndexedReader.Initialize({
        readable: fileReadable(handle, size),
        decompressHandlers,
      });
    } catch (err) {
      throw new RigcapError('RIGCAP_MCAP_INVALID', `${path}: ${String(err)}`, {
        cause: err,
        details: { path },
      });
    }
    return await use(reader);
  } finally {
    await handle.close();
  }
}

/** One channel of a chunk file with what its messages show. */
export interface ChunkChannelFacts {
  /** The rigcap stream name (channel metadata `stream`, else the topic). */
  stream: string;
  topic: string;
  /** Schema name (ROS type or JSON Schema id). */
  type: string;
  latched: boolean;
  count: number;
  bytes: number;
  /**
   * Latched values re-written at the file's start: stamped with the file's start as log time and
   * their original capture time as publish time, where a fresh sample has both equal.
   */
  latchedReplays: number;
}

/** What a chunk file itself says about how it was captured (read back after a crash). */
export interface ChunkFileFacts {
  /** `calibration/<sensor>.yaml` attachments in file order, each with the SHA-256 of its bytes. */
  calibration: Array<{ sensor: string; sha256: string }>;
  /** Metadata records by name (the last one wins for a repeated name, e.g. `rigcap.timesync`). */
  metadata: Map<string, ReadonlyMap<string, string>>;
  /** Channels in id order. */
  channels: ChunkChannelFacts[];
  messages: number;
  /** Smallest and largest log time of any message (0 and 0 for none). */
  startNs: bigint;
  endNs: bigint;
}

const calibrationAttachment = /^calibration\/(.+)\.yaml$/;

/**
 * Reads a committed chunk's calibration attachments (hashed as the verifier hashes them), its
 * metadata records and per-channel message counts through the file's own index.
 */
export async function readChunkFacts(path: string): Promise<ChunkFileFacts> {
  return withIndexedReader(path, async (reader) => {
    // By sensor, the last attachment winning, exactly as the verifier compares them.
    const calibration = new Map<string, string>();
    for await (const a of reader.readAttachments()) {
      const sensor = calibrationAttachment.exec(a.name)?.[1];
      if (sensor !== undefined) calibration.set(sensor, createHash('sha256').update(a.data).digest('hex'));
    }
    const metadata = new Map<string, ReadonlyMap<string, string>>();
    for await (const m of reader.readMetadata()) metadata.set(m.name, m.metadata);
    const byId = new Map<number, ChunkChannelFacts>();
    for (const ch of [...reader.channelsById.values()].sort((a, b) => a.id - b.id)) {
      byId.set(ch.id, {
        stream: ch.metadata.get('stream') ?? ch.topic,
        topic: ch.topic,
        type: reader.schemasById.get(ch.schemaId)?.name ?? '',
        latched: ch.metadata.get('latched') === 'true',
        count: 0,
        bytes: 0,
        latchedReplays: 0,
      });
    }
    let messages = 0;
    let startNs: bigint | undefined;
    let endNs = 0n;
    for await (const m of reader.readMessages()) {
      const ch = byId.get(m.channelId);
      if (ch !== undefined) {
        ch.count += 1;
        ch.bytes += m.data.byteLength;
        if (ch.latched && m.publishTime !== m.logTime) ch.latchedReplays += 1;
      }
      messages += 1;
      if (startNs === undefined || m.logTime < startNs) startNs = m.logTime;
      if (m.logTime > endNs) endNs = m.logTime;
    }
    return {
      calibration: [...calibration].map(([sensor, sha256]) => ({ sensor, sha256 })),
      metadata,
      channels: [...byId.values()],
      messages,
      startNs: startNs ?? 0n,
      endNs,
    };
  });
}
