// Decompressors for MCAP chunks: zstd from node:zlib (Node 22.15+); lz4 has no pure-JS decoder
// among the installed packages, so it fails with a coded error that says what to do.
import zlib from 'node:zlib';
import type { McapTypes } from '@mcap/core';
import { DriverError } from '../errors.ts';

/** Handlers for McapStreamReader / McapIndexedReader `decompressHandlers`. */
export function mcapDecompressHandlers(): McapTypes.DecompressHandlers {
  return {
    zstd: (buffer, decompressedSize) => {
      const out = zlib.zstdDecompressSync(buffer, { maxOutputLength: Number(decompressedSize) });
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    },
    lz4: () => {
      throw new DriverError(
        'RIGCAP_DRIVER_UNAVAILABLE',
        'lz4-compressed MCAP chunks are not supported (no lz4 decoder installed); recompress with `mcap convert --compression zstd`',
      );
    },
  };
}
