// The readable port for @mcap/core's McapIndexedReader over a file handle, plus the zstd
// decompressor that every reader of rigcap chunks needs.
import { open, type FileHandle } from 'node:fs/promises';
import { zstdDecompressSync } from 'node:zlib';
import { McapIndexedReader } from '@mcap/core';
import type { McapTypes } from '@mcap/core';

/** Decompressors for chunk compressions rigcap writes or reads. */
export const decompressHandlers: McapTypes.DecompressHandlers = {
  zstd: (buffer, decompressedSize) => {
    const out = zstdDecompressSync(buffer);
    if (BigInt(out.byteLength) !== decompressedSize) {
      throw new Error(`zstd chunk decompressed to ${out.byteLength} bytes, expected ${decompressedSize}`);
    }
    return out;
  },
};

/** An McapIndexedReader opened on a file; `close()` releases the handle. */
export async function openIndexedMcap(path: string): Promise<{ reader: McapIndexedReader; close(): Promise<void> }> {
  const handle: FileHandle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const readable = {
      size: async () => BigInt(size),
      read: async (offset: bigint, length: bigint): Promise<Uint8Array> => {
        const buf = new Uint8Array(Number(length));
        const { bytesRead } = await handle.read(buf, 0, buf.byteLength, Number(offset));
        if (bytesRead !== buf.byteLength) throw new Error(`short read at ${offset}: ${bytesRead} of ${length}`);
        return buf;
      },
    };
    const reader = await McapIndexedReader.Initialize({ readable, decompressHandlers });
    return { reader, close: () => handle.close() };
  } catch (err) {
    await handle.close();
    throw err;
  }
}
