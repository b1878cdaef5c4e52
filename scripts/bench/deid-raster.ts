// Pixel work for the synthetic de-id video, in plain JS so every coordinate is exact and the result
// is the same on every machine: affine warps with bilinear sampling, sprite mip levels, noise.

/** An RGB (3 channels) or RGBA (4 channels) raster. */
export interface Raster {
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
  readonly data: Uint8Array;
}

/** x' = a·u + b·v + c, y' = d·u + e·v + f. */
export type Affine = readonly [a: number, b: number, c: number, d: number, e: number, f: number];

export type Point = readonly [x: number, y: number];

/** `outer` after `inner`. */
export function compose(outer: Affine, inner: Affine): Affine {
  const [a, b, c, d, e, f] = outer;
  const [A, B, C, D, E, F] = inner;
  return [a * A + b * D, a * B + b * E, a * C + b * F + c, d * A + e * D, d * B + e * E, d * C + e * F + f];
}

export function invert(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  return [e / det, -b / det, (b * f - c * e) / det, -d / det, a / det, (c * d - a * f) / det];
}

export function apply(m: Affine, p: Point): Point {
  return [m[0] * p[0] + m[1] * p[1] + m[2], m[3] * p[0] + m[4] * p[1] + m[5]];
}

/** Rotation by `rad` and uniform scale `s` about the origin, then a shift. */
export function similarity(s: number, rad: number, tx: number, ty: number): Affine {
  const c = Math.cos(rad) * s;
  const n = Math.sin(rad) * s;
  return [c, -n, tx, n, c, ty];
}

/** Geometric mean scale of an affine (output pixels per input pixel). */
export function scaleOf(m: Affine): number {
  return Math.sqrt(Math.abs(m[0] * m[4] - m[1] * m[3]));
}

/** How a layer's colours are changed as it is drawn: v' = (v - 128)·contrast + 128, then ·gain + offset. */
export interface Tone {
  readonly gain: number;
  readonly offset: number;
  readonly contrast: number;
}

export const neutralTone: Tone = { gain: 1, offset: 0, contrast: 1 };

/**
 * Draws `src` into `dst` (RGB) through `m` (src pixel centres → dst coordinates), bilinear, edges
 * clamped; an RGBA source is blended by its alpha and only its footprint is touched.
 */
export function warpInto(dst: Raster, src: Raster, m: Affine, tone: Tone = neutralTone): void {
  const inv = invert(m);
  let x0 = 0;
  let y0 = 0;
  let x1 = dst.width;
  let y1 = dst.height;
  const alpha = src.channels === 4;
  if (alpha) {
    const corners = [
      apply(m, [-0.5, -0.5]),
      apply(m, [src.width - 0.5, -0.5]),
      apply(m, [-0.5, src.height - 0.5]),
      apply(m, [src.width - 0.5, src.height - 0.5]),
    ];
    x0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[0]))));
    y0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[1]))));
    x1 = Math.min(dst.width, Math.ceil(Math.max(...corners.map((p) => p[0]))) + 1);
    y1 = Math.min(dst.height, Math.ceil(Math.max(...corners.map((p) => p[1]))) + 1);
  }
  const [ia, ib, ic, id, ie, iff] = inv;
  const sw = src.width;
  const sh = src.height;
  const sc = src.channels;
  const s = src.data;
  const d = dst.data;
  const k = tone.contrast * tone.gain;
  const o = (128 - 128 * tone.contrast) * tone.gain + tone.offset;
  for (let y = y0; y < y1; y++) {
    let u = ia * x0 + ib * y + ic;
    let v = id * x0 + ie * y + iff;
    let di = (y * dst.width + x0) * 3;
    for (let x = x0; x < x1; x++, u += ia, v += id, di += 3) {
      if (alpha && (u < -0.5 || v < -0.5 || u > sw - 0.5 || v > sh - 0.5)) continue;
      const uc = u < 0 ? 0 : u > sw - 1 ? sw - 1 : u;
      const vc = v < 0 ? 0 : v > sh - 1 ? sh - 1 : v;
      const u0 = Math.floor(uc);
      const v0 = Math.floor(vc);
      const u1 = u0 + 1 < sw ? u0 + 1 : u0;
      const v1 = v0 + 1 < sh ? v0 + 1 : v0;
      const fu = uc - u0;
      const fv = vc - v0;
      const w00 = (1 - fu) * (1 - fv);
      const w10 = fu * (1 - fv);
      const w01 = (1 - fu) * fv;
      const w11 = fu * fv;
      const p00 = (v0 * sw + u0) * sc;
      const p10 = (v0 * sw + u1) * sc;
      const p01 = (v1 * sw + u0) * sc;
      const p11 = (v1 * sw + u1) * sc;
      const a = alpha
        ? (s[p00 + 3]! * w00 + s[p10 + 3]! * w10 + s[p01 + 3]! * w01 + s[p11 + 3]! * w11) / 255
        : 1;
      if (a <= 0) continue;
      for (let c = 0; c < 3; c++) {
        const val = (s[p00 + c]! * w00 + s[p10 + c]! * w10 + s[p01 + c]! * w01 + s[p11 + c]! * w11) * k + o;
        const out = d[di + c]! * (1 - a) + val * a + 0.5;
        d[di + c] = out < 0 ? 0 : out > 255 ? 255 : out;
      }
    }
  }
}

/** Differently sized copies of a sprite so a warp never shrinks one by more than 1.5. */
export interface MipSprite {
  /** Level i is the sprite scaled by levels[i].scale (1 for the original). */
  readonly levels: ReadonlyArray<{ readonly scale: number; readonly raster: Raster }>;
}

/** The level to draw `m` (original sprite → dst) from, and the transform for that level. */
export function pickLevel(sprite: MipSprite, m: Affine): { raster: Raster; m: Affine } {
  const s = scaleOf(m);
  let best = sprite.levels[0]!;
  for (const level of sprite.levels) if (level.scale >= s && level.scale < best.scale) best = level;
  const k = 1 / best.scale;
  return { raster: best.raster, m: compose(m, [k, 0, 0, 0, k, 0]) };
}

/** A small fast seeded generator (mulberry32): the same seed gives the same video everywhere. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A table of unit-variance noise; frames read it from different offsets. */
export function noiseTable(seed: number, length = 1_048_573): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    // Sum of four uniforms: close enough to Gaussian for sensor noise, and cheap.
    out[i] = (r() + r() + r() + r() - 2) * Math.sqrt(3);
  }
  return out;
}

/** Adds noise of standard deviation `sigma` (grey levels) to every channel, from table offset `start`. */
export function addNoise(dst: Raster, table: Float32Array, sigma: number, start: number): void {
  const d = dst.data;
  const n = table.length;
  let j = start % n;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]! + table[j]! * sigma + 0.5;
    d[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    j = j + 1 === n ? 0 : j + 1;
  }
}

/** Whether point p lies inside the convex quad q (corners in order). */
export function inQuad(q: readonly Point[], x: number, y: number): boolean {
  let sign = 0;
  for (let i = 0; i < q.length; i++) {
    const a = q[i]!;
    const b = q[(i + 1) % q.length]!;
    const cross = (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]);
    if (cross !== 0) {
      const s = cross > 0 ? 1 : -1;
      if (sign === 0) sign = s;
      else if (s !== sign) return false;
    }
  }
  return true;
}
