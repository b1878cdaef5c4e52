// The last step of the camera motion estimate: a similarity found from block matches, polished on
// the grey values of the whole view. Pure.
import { applyAffine, type Affine } from './affine.ts';
import type { GreyThumbnail } from './global-motion.ts';

/** Pixels whose grey disagrees by more than this after the warp (something moved on its own) do not pull the fit. */
const outlierGrey = 40;

/**
 * The fit polished on every second pixel of the view (Gauss-Newton on the grey differences, with
 * far-off pixels left out): block matches fix it to about a fifth of a pixel, this to a few
 * hundredths where the blocks alone are few or sit on repetitive texture. A step that would move
 * the view's corners by more than a pixel is not taken.
 */
export function refineSimilarity(reference: GreyThumbnail, current: GreyThumbnail, start: Affine): Affine {
  const { width, height } = current;
  const cx = width / 2;
  const cy = height / 2;
  // Centred parameters: x̃' = p x̃ − q ỹ + u, ỹ' = q x̃ + p ỹ + v, with x̃ = x − cx.
  let p = start.a;
  let q = start.d;
  let u = start.a * cx + start.b * cy + start.c - cx;
  let v = start.d * cx + start.e * cy + start.f - cy;
  // The current view's grey and gradients, sampled bilinearly at the warped positions.
  const grey = Float32Array.from(current.grey);
  const gradX = new Float32Array(width * height);
  const gradY = new Float32Array(width * height);
  for (let y = 1; y < height - 1; y++)
    for (let x = 1, i = y * width + 1; x < width - 1; x++, i++) {
      gradX[i] = (grey[i + 1]! - grey[i - 1]!) / 2;
      gradY[i] = (grey[i + width]! - grey[i - width]!) / 2;
    }
  const sample = (g: Float32Array, i: number, fx: number, fy: number): number =>
    (g[i]! * (1 - fx) + g[i + 1]! * fx) * (1 - fy) + (g[i + width]! * (1 - fx) + g[i + width + 1]! * fx) * fy;
  for (let iteration = 0; iteration < 2; iteration++) {
    const h = new Float64Array(16);
    const b = new Float64Array(4);
    let used = 0;
    for (let y = 2; y < height - 2; y += 2) {
      for (let x = 2 + (y & 2) / 2; x < width - 2; x += 3) {
        const xt = x - cx;
        const yt = y - cy;
        const wx = p * xt - q * yt + u + cx;
        const wy = q * xt + p * yt + v + cy;
        if (wx < 1 || wy < 1 || wx >= width - 2 || wy >= height - 2) continue;
        const x0 = Math.floor(wx);
        const y0 = Math.floor(wy);
        const i = y0 * width + x0;
        const r = sample(grey, i, wx - x0, wy - y0) - reference.grey[y * width + x]!;
        if (Math.abs(r) > outlierGrey) continue;
        const gx = sample(gradX, i, wx - x0, wy - y0);
        const gy = sample(gradY, i, wx - x0, wy - y0);
        const j = [gx * xt + gy * yt, -gx * yt + gy * xt, gx, gy] as const;
        for (let m = 0; m < 4; m++) {
          b[m] = b[m]! - j[m]! * r;
          for (let n = 0; n < 4; n++) h[m * 4 + n] = h[m * 4 + n]! + j[m]! * j[n]!;
        }
        used++;
      }
    }
    const step = used >= 64 ? solve4(h, b) : undefined;
    if (step === undefined) break;
    p += step[0]!;
    q += step[1]!;
    u += step[2]!;
    v += step[3]!;
  }
  const refined: Affine = {
    a: p,
    b: -q,
    c: u + cx - p * cx + q * cy,
    d: q,
    e: p,
    f: v + cy - q * cx - p * cy,
  };
  let moved = 0;
  for (const [x, y] of [
    [0, 0],
    [width - 1, 0],
    [0, height - 1],
    [width - 1, height - 1],
  ] as const) {
    const [a, c] = applyAffine(refined, x, y);
    const [s, t] = applyAffine(start, x, y);
    moved = Math.max(moved, Math.hypot(a - s, c - t));
  }
  return Number.isFinite(moved) && moved <= 1 ? refined : start;
}

/** Solves the 4 x 4 system h·x = b (Gaussian elimination, partial pivoting); undefined when singular. */
function solve4(h: Float64Array, b: Float64Array): number[] | undefined {
  const m = Array.from({ length: 4 }, (_, r) => [
    h[r * 4]!,
    h[r * 4 + 1]!,
    h[r * 4 + 2]!,
    h[r * 4 + 3]!,
    b[r]!,
  ]);
  for (let col = 0; col < 4; col++) {
    let pivot = col;
    for (let r = col + 1; r < 4; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    if (!(Math.abs(m[pivot]![col]!) > 1e-9)) return undefined;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let r = 0; r < 4; r++) {
      if (r === col) continue;
      const k = m[r]![col]! / m[col]![col]!;
      for (let c = col; c < 5; c++) m[r]![c] = m[r]![c]! - k * m[col]![c]!;
    }
  }
  return m.map((row, r) => row[4]! / row[r]!);
}
