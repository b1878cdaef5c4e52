// Scaling pixels in JS where a sharp pipeline would cost more than the work: crops for the face
// model and the coarse tile levels, which are small. Each sharp call pays for pipeline set-up and
// thread hand-offs, and those scale worse than plain loops when every core runs a worker.
import type { RgbFrame } from './frame.ts';

/** A rectangle of a frame: [left, right) × [top, bottom), in whole pixels inside the frame. */
export interface Region {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

/**
 * Float scratch buffers reused across calls (by slot): every function here is synchronous and
 * done with its scratch before it returns, so frames interleaved in one worker cannot share one
 * mid-use, and a few MB a frame stay out of the garbage collector's way.
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

/**
 * The whole frame shrunk to w × h (no larger than the frame) as an 8-bit RGB frame, each output
 * pixel the area-weighted mean of the source pixels it covers: no aliasing, so a thumbnail of a
 * panning camera does not shimmer into false change.
 */
export function shrinkRgb(frame: RgbFrame, w: number, h: number): RgbFrame {
  const cols = areaTaps(frame.width, w);
  const rows = areaTaps(frame.height, h);
  // Rows first: each source row once into w columns, then the rows into h.
  const across = scratch(0, frame.height * w * 3);
  for (let y = 0; y < frame.height; y++) {
    const src = y * frame.width * 3;
    let dst = y * w * 3;
    for (let u = 0; u < w; u++, dst += 3) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let t = cols.start[u]!; t < cols.start[u + 1]!; t++) {
        const i = src + cols.index[t]! * 3;
        const wt = cols.weight[t]!;
        r += frame.data[i]! * wt;
        g += frame.data[i + 1]! * wt;
        b += frame.data[i + 2]! * wt;
      }
      across[dst] = r;
      across[dst + 1] = g;
      across[dst + 2] = b;
    }
  }
  const data = new Uint8Array(w * h * 3);
  const line = w * 3;
  const acc = scratch(1, line);
  for (let v = 0; v < h; v++) {
    acc.fill(0);
    for (let t = rows.start[v]!; t < rows.start[v + 1]!; t++) {
      const src = rows.index[t]! * line;
      const wt = rows.weight[t]!;
      for (let i = 0; i < line; i++) acc[i] = acc[i]! + across[src + i]! * wt;
    }
    for (let i = 0, out = v * line; i < line; i++) data[out + i] = Math.round(acc[i]!);
  }
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

/**
 * For each of `n` output pixels along an axis of `length` source pixels: the source pixels it covers
 * (index) and the share of each (weight, summing to 1), flattened; output i's taps are
 * start[i] .. start[i + 1].
 */
function areaTaps(length: number, n: number): { start: Int32Array; index: Int32Array; weight: Float32Array } {
  const k = length / n;
  const start = new Int32Array(n + 1);
  const index: number[] = [];
  const weight: number[] = [];
  for (let i = 0; i < n; i++) {
    start[i] = index.length;
    const from = i * k;
    const to = Math.min(length, (i + 1) * k);
    for (let p = Math.floor(from); p < to; p++) {
      const share = Math.min(p + 1, to) - Math.max(p, from);
      if (share <= 0) continue;
      index.push(p);
      weight.push(share / k);
    }
  }
  start[n] = index.length;
  return { start, index: Int32Array.from(index), weight: Float32Array.from(weight) };
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
