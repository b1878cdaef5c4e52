// Two-dimensional affine maps of pixels, as the camera's motion between frames is written, and
// the little algebra the de-id scan needs on them. Pure.
import type { PixelBox } from './geometry.ts';

/** A 2x3 affine map of pixels: [x', y'] = [a x + b y + c, d x + e y + f]. */
export interface Affine {
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: number;
  readonly e: number;
  readonly f: number;
}

export const identityAffine: Affine = { a: 1, b: 0, c: 0, d: 0, e: 1, f: 0 };

export function applyAffine(m: Affine, x: number, y: number): [number, number] {
  return [m.a * x + m.b * y + m.c, m.d * x + m.e * y + m.f];
}

/** `second` after `first`. */
export function thenAffine(first: Affine, second: Affine): Affine {
  return {
    a: second.a * first.a + second.b * first.d,
    b: second.a * first.b + second.b * first.e,
    c: second.a * first.c + second.b * first.f + second.c,
    d: second.d * first.a + second.e * first.d,
    e: second.d * first.b + second.e * first.e,
    f: second.d * first.c + second.e * first.f + second.f,
  };
}

export function invertAffine(m: Affine): Affine {
  const det = m.a * m.e - m.b * m.d;
  const a = m.e / det;
  const b = -m.b / det;
  const d = -m.d / det;
  const e = m.a / det;
  return { a, b, c: -(a * m.c + b * m.f), d, e, f: -(d * m.c + e * m.f) };
}

/** The bounding box of a box's corners mapped by `m`. */
export function warpBox(m: Affine, box: PixelBox): PixelBox {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const [x, y] of [
    [box.x, box.y],
    [box.x + box.w, box.y],
    [box.x, box.y + box.h],
    [box.x + box.w, box.y + box.h],
  ] as const) {
    const [u, v] = applyAffine(m, x, y);
    xs.push(u);
    ys.push(v);
  }
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, w: Math.max(...xs) - x, h: Math.max(...ys) - y };
}

/** The map's zoom factor and roll (radians), read as a similarity. */
export function similarityOf(m: Affine): { scale: number; rotation: number } {
  return { scale: Math.sqrt(Math.abs(m.a * m.e - m.b * m.d)), rotation: Math.atan2(m.d - m.b, m.a + m.e) };
}
