// Read-side adapters for @mcap/core readers: a file or a buffer as an IReadable, and an indexed
// open that maps failures to RIGCAP_MCAP_INVALID.
import { McapIndexedReader, type IReadable } from '@mcap/core';
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
