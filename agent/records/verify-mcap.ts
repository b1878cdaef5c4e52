// Reads the calibration attachments of an MCAP chunk through the verifier's FileSource.
import { createHash } from 'node:crypto';
import { zstdDecompressSync } from 'node:zlib';
import { McapIndexedReader, type McapTypes } from '@mcap/core';
import type { FileSource } from './verify-source.ts';

const decompressHandlers: McapTypes.DecompressHandlers = {
  zstd: (buffer, decompressedSize) => {
    const out = zstdDecompressSync(buffer);
    if (BigInt(out.byteLength) !== decompressedSize)
      throw new Error(`zstd chunk decompressed to ${out.byteLength}, expected ${decompressedSize}`);
    return out;
  },
};

/** SHA-256 (hex) of every `calibration/<sensor>.yaml` attachment, by sensor. */
export async function calibrationAttachmentDigests(
  source: FileSource,
  file: string,
): Promise<{ ok: true; digests: Map<string, string> } | { ok: false; reason: string }> {
  const size = await source.size(file);
  if (size === undefined) return { ok: false, reason: 'missing' };
  try {
    const reader = await McapIndexedReader.Initialize({
      readable: {
        size: async () => BigInt(size),
        read: async (offset: bigint, length: bigint) =>
          source.readRange(file, Number(offset), Number(length)),
      },
      decompressHandlers,
    });
    const digests = new Map<string, string>();
    for await (const a of reader.readAttachments()) {
      const m = /^calibration\/(.+)\.yaml$/.exec(a.name);
      if (m?.[1] !== undefined) digests.set(m[1], createHash('sha256').update(a.data).digest('hex'));
    }
    return { ok: true, digests };
  } catch (err) {
    return { ok: false, reason: `not a readable indexed MCAP: ${(err as Error).message}` };
  }
}
