// Boxes in image pixels and the few operations de-identification needs on them. Pure.

/** What a detection is of. */
export type DetectionKind = 'face' | 'plate';

/** An axis-aligned box in pixels: left, top, width, height. */
export interface PixelBox {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** One detector hit in frame pixels. */
export interface Detection {
  readonly kind: DetectionKind;
  readonly box: PixelBox;
  readonly score: number;
}

/** Area of a box (0 for degenerate boxes). */
export function boxArea(b: PixelBox): number {
  return Math.max(0, b.w) * Math.max(0, b.h);
}

/** Area of the intersection of two boxes. */
export function intersectionArea(a: PixelBox, b: PixelBox): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Intersection over union. */
export function iou(a: PixelBox, b: PixelBox): number {
  const inter = intersectionArea(a, b);
  const union = boxArea(a) + boxArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** Grows a box by `ratio` of its size on every side, then clips it to the frame. */
export function dilateBox(b: PixelBox, ratio: number, frame: { width: number; height: number }): PixelBox {
  const dx = b.w * ratio;
  const dy = b.h * ratio;
  return clipBox({ x: b.x - dx, y: b.y - dy, w: b.w + 2 * dx, h: b.h + 2 * dy }, frame);
}

/** Clips a box to the frame and snaps it outward to whole pixels. */
export function clipBox(b: PixelBox, frame: { width: number; height: number }): PixelBox {
  const x0 = Math.min(frame.width, Math.max(0, Math.floor(b.x)));
  const y0 = Math.min(frame.height, Math.max(0, Math.floor(b.y)));
  const x1 = Math.min(frame.width, Math.ceil(b.x + b.w));
  const y1 = Math.min(frame.height, Math.ceil(b.y + b.h));
  return { x: x0, y: y0, w: Math.max(0, x1 - x0), h: Math.max(0, y1 - y0) };
}

/**
 * Weighted non-maximum suppression: overlapping hits of one kind are merged into the
 * score-weighted mean box (as MediaPipe does), which is steadier than keeping the single best one
 * when the same face is seen by several tiles and scales.
 */
export function mergeDetections(hits: readonly Detection[], options: { iouThreshold: number }): Detection[] {
  const sorted = [...hits].sort((a, b) => b.score - a.score);
  const used = new Uint8Array(sorted.length);
  const out: Detection[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (used[i] === 1) continue;
    const head = sorted[i]!;
    let sx = 0;
    let sy = 0;
    let sw = 0;
    let sh = 0;
    let sScore = 0;
    for (let j = i; j < sorted.length; j++) {
      if (used[j] === 1) continue;
      const other = sorted[j]!;
      if (other.kind !== head.kind) continue;
      if (j !== i && iou(head.box, other.box) < options.iouThreshold) {
        // A tile cut through a face yields a partial box inside the full one: drop it, don't average it.
        if (containment(other.box, head.box) >= 0.8) used[j] = 1;
        continue;
      }
      used[j] = 1;
      sx += other.box.x * other.score;
      sy += other.box.y * other.score;
      sw += (other.box.x + other.box.w) * other.score;
      sh += (other.box.y + other.box.h) * other.score;
      sScore += other.score;
    }
    const x = sx / sScore;
    const y = sy / sScore;
    out.push({ kind: head.kind, score: head.score, box: { x, y, w: sw / sScore - x, h: sh / sScore - y } });
  }
  return out;
}

/** Share of `inner` that lies inside `outer`. */
export function containment(inner: PixelBox, outer: PixelBox): number {
  const a = boxArea(inner);
  return a > 0 ? intersectionArea(inner, outer) / a : 0;
}
