// How an inner MCAP chunk is compressed. zstd at level 3 runs near 180 MB/s on one core while
// SHA-256 runs near 1.7 GB/s, so compressing camera frames (JPEG, already compressed) on the main
// thread would cap capture far below the raw write+hash rate. Two measures keep it off the
// critical path: compression runs on libuv's thread pool (node:zlib async), pipelined behind the
// chunk being filled; and a small probe decides per chunk whether zstd saves anything at all, so
// incompressible chunks are stored as-is (MCAP allows `compression: ""` per chunk).
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';

const zstdCompressAsync = promisify(zlib.zstdCompress);

/** The compressed form of one chunk's records. */
export interface CompressedChunk {
  /** MCAP compression name: `zstd`, or '' when stored uncompressed. */
  compression: '' | 'zstd';
  /** The chunk's record bytes in order; a stored chunk keeps the caller's parts (no copy). */
  parts: readonly Uint8Array[];
  byteLength: number;
}

/** Port for chunk compression (bytes in, bytes out), so the encoder runs without zlib in tests. */
export interface ChunkCompressor {
  compress(records: readonly Uint8Array[], byteLength: number): Promise<CompressedChunk>;
}

/** Stores every chunk uncompressed. */
export const storeUncompressed: ChunkCompressor = {
  compress: (parts, byteLength) => Promise.resolve({ compression: '', parts, byteLength }),
};

export interface AdaptiveZstdOptions {
  /** zstd level (1–22; 0 stores every chunk uncompressed). */
  level: number;
  /** Store uncompressed when the probe saves less than this share of bytes. */
  minSavingsRatio?: number;
  /** Bytes sampled (in four slices across the chunk) to decide. */
  probeBytes?: number;
}

/** Compresses chunks with zstd off the main thread, skipping chunks that would not shrink. */
export class AdaptiveZstdCompressor implements ChunkCompressor {
  readonly #level: number;
  readonly #minSavingsRatio: number;
  readonly #probeBytes: number;
  #stored = 0;
  #compressed = 0;

  constructor(options: AdaptiveZstdOptions) {
    this.#level = options.level;
    this.#minSavingsRatio = options.minSavingsRatio ?? 0.05;
    this.#probeBytes = options.probeBytes ?? 16 * 1024;
  }

  /** Chunks stored vs compressed so far (for status and the bench). */
  counts(): { stored: number; compressed: number } {
    return { stored: this.#stored, compressed: this.#compressed };
  }

  async compress(parts: readonly Uint8Array[], byteLength: number): Promise<CompressedChunk> {
    if (this.#level <= 0) return this.#store(parts, byteLength);
    if (byteLength > this.#probeBytes * 2) {
      // The probe is small enough (~0.1 ms) to run inline; a thread-pool round trip costs more.
      const probe = probeSlices(parts, byteLength, this.#probeBytes);
      const probed = zlib.zstdCompressSync(probe, {
        params: { [zlib.constants.ZSTD_c_compressionLevel]: this.#level },
      });
      if (probed.byteLength > probe.byteLength * (1 - this.#minSavingsRatio))
        return this.#store(parts, byteLength);
    }
    // A chunk of small messages is already one slab segment: no copy needed.
    const data = await this.#zstd(
      parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts, byteLength),
    );
    if (data.byteLength > byteLength * (1 - this.#minSavingsRatio)) return this.#store(parts, byteLength);
    this.#compressed += 1;
    return { compression: 'zstd', parts: [data], byteLength: data.byteLength };
  }

  #store(parts: readonly Uint8Array[], byteLength: number): CompressedChunk {
    this.#stored += 1;
    return { compression: '', parts, byteLength };
  }

  async #zstd(data: Uint8Array): Promise<Uint8Array> {
    return zstdCompressAsync(data, {
      params: {
        [zlib.constants.ZSTD_c_compressionLevel]: this.#level,
        [zlib.constants.ZSTD_c_contentSizeFlag]: 1,
      },
    });
  }
}

/** Four slices spread over the buffer, so a chunk of mixed streams is judged as a whole. */
function probeSlices(parts: readonly Uint8Array[], byteLength: number, probeBytes: number): Uint8Array {
  const sliceBytes = Math.floor(probeBytes / 4);
  const out = new Uint8Array(sliceBytes * 4);
  const stride = Math.floor((byteLength - sliceBytes) / 3);
  for (let i = 0; i < 4; i++) copyRange(parts, i * stride, sliceBytes, out, i * sliceBytes);
  return out;
}

/** Copies `length` bytes starting at `offset` of the concatenation of `parts` into `out`. */
function copyRange(
  parts: readonly Uint8Array[],
  offset: number,
  length: number,
  out: Uint8Array,
  outOffset: number,
): void {
  let skip = offset;
  let left = length;
  let at = outOffset;
  for (const part of parts) {
    if (left === 0) return;
    if (skip >= part.byteLength) {
      skip -= part.byteLength;
      continue;
    }
    const take = Math.min(part.byteLength - skip, left);
    out.set(part.subarray(skip, skip + take), at);
    at += take;
    left -= take;
    skip = 0;
  }
}

/** Decompress handlers for @mcap/core readers (zstd via node:zlib). */
export const decompressHandlers = {
  zstd: (buffer: Uint8Array, _decompressedSize: bigint): Uint8Array => zlib.zstdDecompressSync(buffer),
};
