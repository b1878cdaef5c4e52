// Where face tiles are cut. A fine level finds small faces, coarser levels and one whole-frame pass
// find large ones; every level is a handful of model-sized tiles instead of a dense native grid.
import type { PixelBox } from './geometry.ts';

/** One scale of the pyramid and the tiles cut from the frame resized to it. */
export interface TileLevel {
  /** Resized frame = native frame × scale. */
  readonly scale: number;
  readonly scaledWidth: number;
  readonly scaledHeight: number;
  /** Tile rectangles in scaled pixels; a tile may hang over the edge (padded). */
  readonly tiles: readonly PixelBox[];
}

/** Positions `count` windows of `tile` along `length` evenly, first at 0 and last flush with the end. */
function axisOffsets(length: number, tile: number, overlap: number): number[] {
  if (length <= tile) return [0];
  const count = Math.ceil((length - overlap) / (tile - overlap));
  const stride = (length - tile) / (count - 1);
  return Array.from({ length: count }, (_, i) => Math.round(i * stride));
}

/** The tile pyramid for a frame: the given scales (finest first) then a whole-frame pass. */
export function planFaceTiles(
  frame: { width: number; height: number },
  options: { tilePx: number; scales: readonly number[]; overlapPx: number },
): TileLevel[] {
  const { tilePx } = options;
  const wholeScale = Math.min(tilePx / frame.width, tilePx / frame.height, 1);
  const levels: TileLevel[] = [];
  for (const scale of options.scales) {
    // A level whose tiles would be no finer than the whole-frame pass adds nothing.
    if (scale <= wholeScale * 1.2) continue;
    const s = Math.min(scale, 1);
    const w = Math.round(frame.width * s);
    const h = Math.round(frame.height * s);
    const tiles: PixelBox[] = [];
    for (const y of axisOffsets(h, tilePx, options.overlapPx)) {
      for (const x of axisOffsets(w, tilePx, options.overlapPx)) tiles.push({ x, y, w: tilePx, h: tilePx });
    }
    levels.push({ scale: s, scaledWidth: w, scaledHeight: h, tiles });
  }
  const w = Math.max(1, Math.round(frame.width * wholeScale));
  const h = Math.max(1, Math.round(frame.height * wholeScale));
  levels.push({
    scale: wholeScale,
    scaledWidth: w,
    scaledHeight: h,
    tiles: [{ x: 0, y: 0, w: tilePx, h: tilePx }],
  });
  return levels;
}
