// Obscures boxes in a frame: each (dilated) box is blurred (in JS, on the region alone) or pixelated
// (sharp, on the region alone) hard enough that nothing inside can be recognised, and its pixels are
// written back into a copy of the frame.
import sharp, { type Sharp } from 'sharp';
import type { RgbFrame } from './frame.ts';
import { dilateBox, type PixelBox } from './geometry.ts';

/** How boxes are obscured and by how much they grow first. */
export interface BlurOptions {
  readonly kind: 'gaussian' | 'pixelate';
  readonly marginRatio: number;
}

/** A copy of the frame with every box (grown by the margin) obscured; pixels outside stay as they were. */
export async function blurBoxes(
  frame: RgbFrame,
  boxes: readonly PixelBox[],
  options: BlurOptions,
): Promise<RgbFrame> {
  const regions = boxes
    .map((b) => dilateBox(b, options.marginRatio, frame))
    .filter((b) => b.w >= 1 && b.h >= 1);
  if (regions.length === 0) return frame;
  const raw = { width: frame.width, height: frame.height, channels: 3 } as const;
  const patches = await Promise.all(
    regions.map(async (r) => ({
      r,
      data:
        options.kind === 'pixelate'
          ? await pixelate(
              sharp(frame.data, { raw }).extract({ left: r.x, top: r.y, width: r.w, height: r.h }),
              r,
            )
          : gaussian(frame, r),
    })),
  );
  // Patches are written straight into a copy of the frame: cheaper than a full-frame composite.
  const data = Uint8Array.from(frame.data);
  for (const { r, data: patch } of patches) {
    for (let y = 0; y < r.h; y++)
      data.set(patch.subarray(y * r.w * 3, (y + 1) * r.w * 3), ((r.y + y) * frame.width + r.x) * 3);
  }
  return { width: frame.width, height: frame.height, data };
}

/**
 * A Gaussian blur of sigmaFor(r), in JS on the region alone: the region is averaged down so that
 * three box passes of radius 2 (sigma about 2.45 px there) give the wanted sigma, then scaled back
 * bilinearly. A sharp pipeline per region cost more in set-up than the blur itself.
 */
function gaussian(frame: RgbFrame, r: PixelBox): Uint8Array {
  const shrink = Math.max(1, Math.round(sigmaFor(r) / 2.45));
  const sw = Math.ceil(r.w / shrink);
  const sh = Math.ceil(r.h / shrink);
  // Area average into the small image.
  const small = new Float32Array(sw * sh * 3);
  const count = new Float32Array(sw * sh);
  for (let y = 0; y < r.h; y++) {
    const row = Math.floor(y / shrink) * sw;
    let src = ((r.y + y) * frame.width + r.x) * 3;
    for (let x = 0; x < r.w; x++, src += 3) {
      const i = row + Math.floor(x / shrink);
      for (let c = 0; c < 3; c++) small[i * 3 + c] = small[i * 3 + c]! + frame.data[src + c]!;
      count[i] = count[i]! + 1;
    }
  }
  for (let i = 0; i < count.length; i++)
    for (let c = 0; c < 3; c++) small[i * 3 + c] = small[i * 3 + c]! / count[i]!;
  const tmp = new Float32Array(small.length);
  for (let pass = 0; pass < 3; pass++) {
    boxPass(small, tmp, { n: sw, lines: sh, step: 3, lineStep: sw * 3 });
    boxPass(tmp, small, { n: sh, lines: sw, step: sw * 3, lineStep: 3 });
  }
  // Bilinear back to the region size (sample centres aligned).
  const out = new Uint8Array(r.w * r.h * 3);
  for (let y = 0; y < r.h; y++) {
    const fy = Math.min(sh - 1, Math.max(0, (y + 0.5) / shrink - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(sh - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < r.w; x++) {
      const fx = Math.min(sw - 1, Math.max(0, (x + 0.5) / shrink - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(sw - 1, x0 + 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const top = small[(y0 * sw + x0) * 3 + c]! * (1 - wx) + small[(y0 * sw + x1) * 3 + c]! * wx;
        const bottom = small[(y1 * sw + x0) * 3 + c]! * (1 - wx) + small[(y1 * sw + x1) * 3 + c]! * wx;
        out[(y * r.w + x) * 3 + c] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return out;
}

/** One box filter of radius 2 along every line (edges repeat), from `src` into `dst`. */
function boxPass(
  src: Float32Array,
  dst: Float32Array,
  o: { n: number; lines: number; step: number; lineStep: number },
): void {
  const radius = 2;
  const last = o.n - 1;
  for (let line = 0; line < o.lines; line++) {
    const base = line * o.lineStep;
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < o.n; i++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++)
          sum += src[base + Math.min(last, Math.max(0, i + k)) * o.step + c]!;
        dst[base + i * o.step + c] = sum / (2 * radius + 1);
      }
    }
  }
}

/** Strong enough to erase features at any box size: a quarter of the shorter side, at least 4 px. */
function sigmaFor(r: PixelBox): number {
  return Math.max(4, Math.min(r.w, r.h) / 4);
}

/** Averages the region down to at most 6 blocks across its shorter side, then scales back without smoothing. */
async function pixelate(region: Sharp, r: PixelBox): Promise<Buffer> {
  const block = Math.max(2, Math.ceil(Math.min(r.w, r.h) / 6));
  const small = await region
    .resize(Math.max(1, Math.ceil(r.w / block)), Math.max(1, Math.ceil(r.h / block)), {
      kernel: 'cubic',
      fit: 'fill',
    })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return sharp(small.data, { raw: { width: small.info.width, height: small.info.height, channels: 3 } })
    .resize(r.w, r.h, { kernel: 'nearest', fit: 'fill' })
    .raw()
    .toBuffer();
}
