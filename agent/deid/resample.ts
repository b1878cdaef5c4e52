// Scaling pixels. Whole levels go through sharp (libvips' SIMD is several times faster than JS on
// a million pixels); crops for the face model are sampled in JS, since for an output this small a
// sharp pipeline's set-up and thread hand-offs cost more than the work and scale worse when every
// core runs a worker.
import sharp from 'sharp';
import type { RgbFrame } from './frame.ts';

/** A rectangle of a frame: [left, right) × [top, bottom), in whole pixels inside the frame. */
export interface Region {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

/**
 * Float scratch buffers reused across calls (by slot): the functions that use them are synchronous
 * and done with their scratch before they return, so frames interleaved in one worker cannot share
 * one mid-use, and a few MB a frame stay out of the garbage collector's way.
 */
const scratchBuffers: Float32Array[] = [];
function scratch(slot: number, length: number): Float32Array {
  let buf = scratchBuffers[slot];
  if (buf === undefined || buf.length < length) {
    buf = new Float32Array(length);
    scratchBuffers[slot] = buf;
  }
  return buf.subarray(0, length);
}

/** RGB samples as floats (0-255), row-major. */
interface FloatImage {
  readonly width: number;
  readonly height: number;
  readonly data: ArrayLike<number>;
}

/**
 * The region scaled to w × h, as float RGB (0-255). A region more than twice the output is first
 * averaged down by a whole factor (as libvips shrinks before it reduces), then sampled bilinearly
 * with pixel centres mapped to pixel centres. The result is scratch: valid until the next call.
 */
function resampleRegion(frame: RgbFrame, region: Region, w: number, h: number): Float32Array {
  let src: FloatImage | RgbFrame = frame;
  let { left, top, right, bottom } = region;
  const m = Math.floor(Math.min((right - left) / w, (bottom - top) / h));
  if (m >= 2) {
    src = shrink(frame, region, m);
    left = 0;
    top = 0;
    right = src.width;
    bottom = src.height;
  }
  const kx = (right - left) / w;
  const ky = (bottom - top) / h;
  // Columns are worked out once.
  const x0s = new Int32Array(w);
  const x1s = new Int32Array(w);
  const fxs = new Float32Array(w);
  for (let u = 0; u < w; u++) {
    const p = Math.min(right - 1, Math.max(left, left + (u + 0.5) * kx - 0.5));
    const p0 = Math.floor(p);
    x0s[u] = p0 * 3;
    x1s[u] = Math.min(right - 1, p0 + 1) * 3;
    fxs[u] = p - p0;
  }
  const { width, data } = src;
  const out = scratch(0, w * h * 3);
  let dst = 0;
  for (let v = 0; v < h; v++) {
    const p = Math.min(bottom - 1, Math.max(top, top + (v + 0.5) * ky - 0.5));
    const y0 = Math.floor(p);
    const r0 = y0 * width * 3;
    const r1 = Math.min(bottom - 1, y0 + 1) * width * 3;
    const fy = p - y0;
    const gy = 1 - fy;
    for (let u = 0; u < w; u++) {
      const a = r0 + x0s[u]!;
      const b = r0 + x1s[u]!;
      const c = r1 + x0s[u]!;
      const d = r1 + x1s[u]!;
      const fx = fxs[u]!;
      const gx = 1 - fx;
      for (let ch = 0; ch < 3; ch++)
        out[dst++] =
          (data[a + ch]! * gx + data[b + ch]! * fx) * gy + (data[c + ch]! * gx + data[d + ch]! * fx) * fy;
    }
  }
  return out;
}

/** The frame resized to w × h by sharp (linear kernel): for whole levels, where libvips' SIMD wins. */
export async function resizeRgb(frame: RgbFrame, w: number, h: number): Promise<RgbFrame> {
  const data = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .resize(w, h, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  return { width: w, height: h, data };
}

/**
 * Scales the region to w × h straight into a model's NHWC input at `at`, normalised to [-1, 1];
 * input pixels outside stay at -1 (black).
 */
export function fillCrop(
  input: Float32Array,
  frame: RgbFrame,
  region: Region,
  size: { w: number; h: number },
  at: { x: number; y: number },
  tilePx: number,
): void {
  input.fill(-1);
  const { w, h } = size;
  const samples = resampleRegion(frame, region, w, h);
  const norm = 1 / 127.5;
  for (let v = 0, src = 0; v < h; v++) {
    let dst = ((at.y + v) * tilePx + at.x) * 3;
    for (const end = dst + w * 3; dst < end;) input[dst++] = samples[src++]! * norm - 1;
  }
}

/** The region averaged over m × m blocks (the last partial row and column dropped). */
function shrink(frame: RgbFrame, region: Region, m: number): FloatImage {
  const { left, top, right, bottom } = region;
  const width = Math.floor((right - left) / m);
  const height = Math.floor((bottom - top) / m);
  const sum = scratch(1, width * height * 3).fill(0);
  for (let y = 0; y < height * m; y++) {
    let s = ((top + y) * frame.width + left) * 3;
    const row = Math.floor(y / m) * width * 3;
    for (let x = 0; x < width; x++) {
      const o = row + x * 3;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let dx = 0; dx < m; dx++, s += 3) {
        r += frame.data[s]!;
        g += frame.data[s + 1]!;
        b += frame.data[s + 2]!;
      }
      sum[o] = sum[o]! + r;
      sum[o + 1] = sum[o + 1]! + g;
      sum[o + 2] = sum[o + 2]! + b;
    }
  }
  const inv = 1 / (m * m);
  for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! * inv;
  return { width, height, data: sum };
}
