// Blurs boxes in a frame with sharp: each (dilated) box is cut out, blurred or pixelated hard
// enough that nothing inside can be recognised, and composited back.
import sharp, { type Sharp } from 'sharp';
import type { RgbFrame } from './frame.ts';
import { dilateBox, type PixelBox } from './geometry.ts';

/** How boxes are obscured and by how much they grow first. */
export interface BlurOptions {
  readonly kind: 'gaussian' | 'pixelate';
  readonly marginRatio: number;
}

/** A copy of the frame with every box (grown by the margin) obscured; pixels outside stay as they were. */
export async function blurBoxes(frame: RgbFrame, boxes: readonly PixelBox[], options: BlurOptions): Promise<RgbFrame> {
  const regions = boxes.map((b) => dilateBox(b, options.marginRatio, frame)).filter((b) => b.w >= 1 && b.h >= 1);
  if (regions.length === 0) return frame;
  const raw = { width: frame.width, height: frame.height, channels: 3 } as const;
  const patches = await Promise.all(
    regions.map(async (r) => {
      const region = sharp(frame.data, { raw }).extract({ left: r.x, top: r.y, width: r.w, height: r.h });
      const input = options.kind === 'pixelate' ? await pixelate(region, r) : await region.blur(sigmaFor(r)).raw().toBuffer();
      return { input, raw: { width: r.w, height: r.h, channels: 3 as const }, left: r.x, top: r.y };
    }),
  );
  const data = await sharp(frame.data, { raw }).composite(patches).removeAlpha().raw().toBuffer();
  return { width: frame.width, height: frame.height, data };
}

/** Strong enough to erase features at any box size: a quarter of the shorter side, at least 4 px. */
function sigmaFor(r: PixelBox): number {
  return Math.max(4, Math.min(r.w, r.h) / 4);
}

/** Averages the region down to at most 6 blocks across its shorter side, then scales back without smoothing. */
async function pixelate(region: Sharp, r: PixelBox): Promise<Buffer> {
  const block = Math.max(2, Math.ceil(Math.min(r.w, r.h) / 6));
  const small = await region
    .resize(Math.max(1, Math.ceil(r.w / block)), Math.max(1, Math.ceil(r.h / block)), { kernel: 'cubic', fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return sharp(small.data, { raw: { width: small.info.width, height: small.info.height, channels: 3 } })
    .resize(r.w, r.h, { kernel: 'nearest', fit: 'fill' })
    .raw()
    .toBuffer();
}
