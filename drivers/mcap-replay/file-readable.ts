// An @mcap/core IReadable over a file handle, so the indexed reader reads only the summary.
import type { FileHandle } from 'node:fs/promises';
import type { McapTypes } from '@mcap/core';

/** Random-access reads from an open file for McapIndexedReader. */
export class FileReadable implements McapTypes.IReadable {
  readonly #handle: FileHandle;
  #sizeBytes: bigint | undefined;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  /** File size in bytes. */
  async size(): Promise<bigint> {
    this.#sizeBytes ??= BigInt((await this.#handle.stat()).size);
    return this.#sizeBytes;
  }

  /** Reads exactly `length` bytes at `offset`. */
  async read(offset: bigint, length: bigint): Promise<Uint8Array> {
    const buffer = new Uint8Array(Number(length));
    let done = 0;
    while (done < buffer.byteLength) {
      const { bytesRead } = await this.#handle.read(
        buffer,
        done,
        buffer.byteLength - done,
        Number(offset) + done,
      );
      if (bytesRead === 0) throw new Error(`short read at offset ${offset} (file shorter than expected)`);
      done += bytesRead;
    }
    return buffer;
  }
}
