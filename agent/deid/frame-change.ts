// A frame's grey thumbnail and how it differs from the frame before it once the camera's own
// motion is undone: where it differs beyond that (parallax, something new), tiles are scanned
// again; where it does not, what the earlier frame found is carried over. Pure.
import type { FrameSignature } from './face-scan.ts';
import type { RgbFrame } from './frame.ts';
import type { PixelBox } from './geometry.ts';
import { identityAffine, type Affine } from './affine.ts';
import { estimateMotion, warpThumbnail } from './global-motion.ts';
import type { DeidParams } from './params.ts';

/** How the camera moved since the reference frame, in frame pixels. */
export interface FrameMotion {
  /** The stream frame the reference was taken from (its boxes are in that frame's pixels). */
  readonly from: number;
  /** That frame's pixels → this frame's pixels. */
  readonly affine: Affine;
}

/** What the comparison with the earlier frame decided. */
export interface FrameComparison {
  /** The earlier thumbnail warped into this frame's view; null when there was none to trust. */
  readonly reference: FrameSignature | null;
  /** The camera motion from the earlier frame; null when unknown (then nothing is carried over by it). */
  readonly motion: FrameMotion | null;
  /** Every tile must be scanned: nothing to compare with, an unreliable motion estimate, or a cut. */
  readonly full: boolean;
  /** The whole view changed: what earlier frames found says nothing about this one. */
  readonly cut: boolean;
  /** Some place changed more than `faceTileChangeGrey` beyond the camera's motion. */
  readonly changed: boolean;
  /** Where it changed (frame pixels, connected places merged); the whole frame when nothing could be compared. */
  readonly changedRegions: readonly PixelBox[];
}

/** Grey (Rec. 601 luma) of the whole-frame level, the frame's signature for change detection. */
export function signatureOf(frame: RgbFrame, image: RgbFrame): FrameSignature {
  const grey = new Uint8Array(image.width * image.height);
  for (let i = 0, s = 0; i < grey.length; i++, s += 3)
    grey[i] = (image.data[s]! * 77 + image.data[s + 1]! * 150 + image.data[s + 2]! * 29) >> 8;
  return {
    frameWidth: frame.width,
    frameHeight: frame.height,
    width: image.width,
    height: image.height,
    grey,
  };
}

/**
 * Compares a frame's thumbnail with the earlier one's. The camera motion is estimated first; when
 * it cannot be trusted the frame is scanned in full (a bad estimate never lets a scan be skipped).
 */
export function compareWithEarlier(
  earlier: FrameSignature | null,
  signature: FrameSignature,
  params: Pick<DeidParams, 'faceFrameChangeGrey' | 'faceTileChangeGrey'>,
): FrameComparison {
  const whole = { x: 0, y: 0, w: signature.frameWidth, h: signature.frameHeight };
  const none: FrameComparison = {
    reference: null,
    motion: null,
    full: true,
    cut: false,
    changed: true,
    changedRegions: [whole],
  };
  if (
    earlier === null ||
    earlier.frameWidth !== signature.frameWidth ||
    earlier.frameHeight !== signature.frameHeight ||
    earlier.width !== signature.width ||
    earlier.height !== signature.height
  )
    return none;
  const from = earlier.frame ?? -1;
  const estimate = estimateMotion(earlier, signature);
  let reference: FrameSignature | null = null;
  let motion: FrameMotion | null = null;
  if (estimate.reliable) {
    reference = warpThumbnail(earlier, estimate.thumbAffine).thumbnail;
    motion = { from, affine: estimate.frameAffine };
  } else if (
    estimate.blocks < 8 &&
    meanChange(signature, earlier, whole) <= 2 &&
    maxBlockChange(signature, earlier, whole) <= params.faceTileChangeGrey / 2
  ) {
    // Too little texture to measure motion, and nothing to see moving either: the view is still.
    reference = earlier;
    motion = { from, affine: identityAffine };
  }
  if (reference === null) {
    // Unknown motion: a full scan; a cut only if even the best fit leaves the whole view changed.
    const fitted = warpThumbnail(earlier, estimate.thumbAffine).thumbnail;
    const cut =
      Math.min(meanChange(signature, earlier, whole), meanChange(signature, fitted, whole)) >
      params.faceFrameChangeGrey;
    return { ...none, cut };
  }
  const full = meanChange(signature, reference, whole) > params.faceFrameChangeGrey;
  const changedRegions = full ? [whole] : changedPlaces(signature, reference, params.faceTileChangeGrey);
  return { reference, motion, full, cut: full, changed: changedRegions.length > 0, changedRegions };
}

/**
 * The places (frame pixels) where blocks of 4x4 signature pixels, at a step of 2, changed more than
 * `limit`: touching blocks are merged into one box.
 */
export function changedPlaces(a: FrameSignature, b: FrameSignature, limit: number): PixelBox[] {
  const cols = Math.max(1, Math.floor((a.width - 2) / 2));
  const rows = Math.max(1, Math.floor((a.height - 2) / 2));
  const sx = a.frameWidth / a.width;
  const sy = a.frameHeight / a.height;
  const hot = new Uint8Array(cols * rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let sum = 0;
      for (let y = r * 2; y < r * 2 + 4 && y < a.height; y++)
        for (let x = c * 2, i = y * a.width + x; x < c * 2 + 4 && x < a.width; x++, i++)
          sum += Math.abs(a.grey[i]! - b.grey[i]!);
      if (sum / 16 > limit) hot[r * cols + c] = 1;
    }
  }
  const out: PixelBox[] = [];
  const stack: number[] = [];
  for (let start = 0; start < hot.length; start++) {
    if (hot[start] !== 1) continue;
    hot[start] = 2;
    stack.push(start);
    let c0 = cols;
    let r0 = rows;
    let c1 = -1;
    let r1 = -1;
    while (stack.length > 0) {
      const k = stack.pop()!;
      const c = k % cols;
      const r = (k - c) / cols;
      c0 = Math.min(c0, c);
      c1 = Math.max(c1, c);
      r0 = Math.min(r0, r);
      r1 = Math.max(r1, r);
      for (let dr = -1; dr <= 1; dr++)
        for (let dc = -1; dc <= 1; dc++) {
          const rr = r + dr;
          const cc = c + dc;
          if (rr < 0 || cc < 0 || rr >= rows || cc >= cols || hot[rr * cols + cc] !== 1) continue;
          hot[rr * cols + cc] = 2;
          stack.push(rr * cols + cc);
        }
    }
    out.push({ x: c0 * 2 * sx, y: r0 * 2 * sy, w: ((c1 - c0) * 2 + 4) * sx, h: ((r1 - r0) * 2 + 4) * sy });
  }
  return out;
}

/**
 * The largest mean absolute grey difference over blocks of about 4x4 signature pixels inside a
 * region (frame pixels): a small face appearing changes its block, not the region's mean.
 */
export function maxBlockChange(a: FrameSignature, b: FrameSignature, region: PixelBox): number {
  const blockPx = 4;
  const sx = a.frameWidth / a.width;
  const sy = a.frameHeight / a.height;
  let max = 0;
  const x1 = region.x + region.w;
  const y1 = region.y + region.h;
  // Blocks overlap by half so a small change on a block edge is not split in two.
  for (let y = region.y; y < y1; y += (blockPx / 2) * sy) {
    for (let x = region.x; x < x1; x += (blockPx / 2) * sx) {
      const change = meanChange(a, b, {
        x,
        y,
        w: Math.min(blockPx * sx, x1 - x),
        h: Math.min(blockPx * sy, y1 - y),
      });
      if (change > max) max = change;
    }
  }
  return max;
}

/** Mean absolute grey difference between two signatures over a region given in frame pixels. */
export function meanChange(a: FrameSignature, b: FrameSignature, region: PixelBox): number {
  const sx = a.width / a.frameWidth;
  const sy = a.height / a.frameHeight;
  const x0 = Math.max(0, Math.floor(region.x * sx));
  const y0 = Math.max(0, Math.floor(region.y * sy));
  const x1 = Math.min(a.width, Math.ceil((region.x + region.w) * sx));
  const y1 = Math.min(a.height, Math.ceil((region.y + region.h) * sy));
  let sum = 0;
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let i = y * a.width + x0, end = y * a.width + x1; i < end; i++, n++)
      sum += Math.abs(a.grey[i]! - b.grey[i]!);
  }
  return n > 0 ? sum / n : 0;
}
