// The camera's own motion between two frames of a stream, from their grey thumbnails: a similarity
// (zoom, roll, pan) fitted robustly to block displacements, so that parallax and moving objects
// are outliers and not part of the fit. The change detection compares a frame with the previous
// one warped by it; boxes found earlier are carried along by it. Pure.
import {
  applyAffine,
  identityAffine,
  invertAffine,
  similarityOf,
  thenAffine,
  type Affine,
} from './affine.ts';
import { refineSimilarity } from './motion-refine.ts';

/** A grey image (a frame's thumbnail) and the frame it stands for. */
export interface GreyThumbnail {
  readonly frameWidth: number;
  readonly frameHeight: number;
  readonly width: number;
  readonly height: number;
  readonly grey: Uint8Array;
}

/** How the camera moved from the reference frame to the current one. */
export interface MotionEstimate {
  /** Reference frame pixels → current frame pixels. */
  readonly frameAffine: Affine;
  /** The same map in thumbnail pixels (pixel centres at integer coordinates). */
  readonly thumbAffine: Affine;
  /** False when the fit cannot be trusted: the caller must not reuse anything through it. */
  readonly reliable: boolean;
  /** Blocks with enough texture to be matched, and how many agree with the fit. */
  readonly blocks: number;
  readonly inliers: number;
  /** Root mean square disagreement of the inliers with the fit, in thumbnail pixels. */
  readonly residualPx: number;
}

/** Side of a matched block, thumbnail pixels. */
const blockPx = 10;
/** Matching search reach around the predicted displacement, thumbnail pixels: wide, then around the fit. */
const blockReach = [4, 2] as const;
/** Smallest structure-tensor eigenvalue (per pixel) for a block to be matched: a corner, not an edge. */
const minCornerness = 10;

/**
 * The camera motion from `reference` to `current` (same frame and thumbnail size): a coarse shift
 * on a half-size thumbnail, then blocks with two-way texture matched around it, a similarity fitted
 * to them with outliers (parallax, moving things) dropped, and the blocks matched again around the
 * fit. Reliable only when enough blocks spread over the view agree closely with a plausible fit.
 */
export function estimateMotion(reference: GreyThumbnail, current: GreyThumbnail): MotionEstimate {
  const { width, height } = current;
  const coarse = coarseShift(reference, current);
  const blocks = texturedBlocks(current);
  let fit: Affine = { ...identityAffine, c: coarse.dx, f: coarse.dy };
  let matches: Match[] = [];
  let inliers: Match[] = [];
  let residual = Infinity;
  // Two rounds: around the coarse shift (zoom and roll leave blocks away from it), then around the fit.
  for (let round = 0; round < 2; round++) {
    matches = [];
    for (const b of blocks) {
      const [px, py] = applyAffine(invertAffine(fit), b.cx, b.cy);
      const m = matchBlock(reference, current, b, { dx: b.cx - px, dy: b.cy - py }, blockReach[round]!);
      if (m !== undefined) matches.push(m);
    }
    const robust = robustSimilarity(matches);
    if (robust === undefined) break;
    fit = robust.fit;
    inliers = robust.inliers;
    residual = robust.residualPx;
  }
  if (inliers.length >= 3) fit = refineSimilarity(reference, current, fit);
  const { scale, rotation } = similarityOf(fit);
  const quadrants = new Set(inliers.map((m) => (m.cx < width / 2 ? 0 : 1) + (m.cy < height / 2 ? 0 : 2)));
  const reliable =
    blocks.length > 0 &&
    inliers.length >= Math.max(8, 0.5 * blocks.length) &&
    quadrants.size >= 3 &&
    residual <= 0.6 &&
    scale > 0.85 &&
    scale < 1.18 &&
    Math.abs(rotation) < 0.1;
  return {
    frameAffine: thumbToFrame(fit, current),
    thumbAffine: fit,
    reliable,
    blocks: blocks.length,
    inliers: inliers.length,
    residualPx: Number.isFinite(residual) ? residual : 0,
  };
}

/** A thumbnail-pixel map as a frame-pixel map (thumbnail pixel i covers frame [i·s, (i+1)·s)). */
function thumbToFrame(m: Affine, t: GreyThumbnail): Affine {
  const sx = t.frameWidth / t.width;
  const sy = t.frameHeight / t.height;
  // frame → thumb: x = X/sx − 0.5; thumb → frame: X = (x + 0.5)·sx.
  const toThumb: Affine = { a: 1 / sx, b: 0, c: -0.5, d: 0, e: 1 / sy, f: -0.5 };
  const toFrame: Affine = { a: sx, b: 0, c: 0.5 * sx, d: 0, e: sy, f: 0.5 * sy };
  return thenAffine(thenAffine(toThumb, m), toFrame);
}

/**
 * `reference` warped into `current`'s view by a thumbnail-pixel map. Where the reference did not
 * see (`valid` 0) its edge is repeated: what enters the view is then compared with what was next
 * to it, so it reads as change when it differs (a face walking in), not merely for being new.
 */
export function warpThumbnail<T extends GreyThumbnail>(
  reference: T,
  thumbAffine: Affine,
): { thumbnail: T; valid: Uint8Array } {
  const { width, height, grey: src } = reference;
  const inv = invertAffine(thumbAffine);
  const grey = new Uint8Array(width * height);
  const valid = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    let sx = inv.b * y + inv.c;
    let sy = inv.e * y + inv.f;
    for (let x = 0, i = y * width; x < width; x++, i++, sx += inv.a, sy += inv.d) {
      const cx = Math.min(width - 1, Math.max(0, sx));
      const cy = Math.min(height - 1, Math.max(0, sy));
      const x0 = Math.min(width - 2, Math.floor(cx));
      const y0 = Math.min(height - 2, Math.floor(cy));
      const fx = cx - x0;
      const fy = cy - y0;
      const j = y0 * width + x0;
      const top = src[j]! * (1 - fx) + src[j + 1]! * fx;
      const bottom = src[j + width]! * (1 - fx) + src[j + width + 1]! * fx;
      grey[i] = Math.round(top * (1 - fy) + bottom * fy);
      // Half a pixel of slack at the border: the edge pixel itself is still seen.
      if (sx >= -0.5 && sy >= -0.5 && sx <= width - 0.5 && sy <= height - 0.5) valid[i] = 1;
    }
  }
  return { thumbnail: { ...reference, grey }, valid };
}

/** The shift (within ±16 thumbnail pixels, to 4 pixels) that best lines up two quarter-size thumbnails. */
function coarseShift(reference: GreyThumbnail, current: GreyThumbnail): { dx: number; dy: number } {
  const r = halve(halve(reference));
  const c = halve(halve(current));
  const reach = 4;
  let best = { dx: 0, dy: 0, cost: Infinity };
  for (let dy = -reach; dy <= reach; dy++) {
    for (let dx = -reach; dx <= reach; dx++) {
      let sum = 0;
      let n = 0;
      const y0 = Math.max(0, dy);
      const y1 = Math.min(c.height, c.height + dy);
      const x0 = Math.max(0, dx);
      const x1 = Math.min(c.width, c.width + dx);
      for (let y = y0; y < y1; y++) {
        for (let x = x0, i = y * c.width + x0, j = (y - dy) * c.width + x0 - dx; x < x1; x++, i++, j++) {
          sum += Math.abs(c.grey[i]! - r.grey[j]!);
          n++;
        }
      }
      const cost = n > 0 ? sum / n : Infinity;
      // Ties go to the smaller shift, so a still scene stays unshifted.
      if (
        cost < best.cost ||
        (cost === best.cost && Math.abs(dx) + Math.abs(dy) < Math.abs(best.dx) + Math.abs(best.dy))
      )
        best = { dx, dy, cost };
    }
  }
  return { dx: best.dx * 4, dy: best.dy * 4 };
}

function halve(t: { width: number; height: number; grey: Uint8Array }): {
  width: number;
  height: number;
  grey: Uint8Array;
} {
  const width = t.width >> 1;
  const height = t.height >> 1;
  const grey = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 2 * y * t.width + 2 * x;
      grey[y * width + x] =
        (t.grey[i]! + t.grey[i + 1]! + t.grey[i + t.width]! + t.grey[i + t.width + 1]! + 2) >> 2;
    }
  }
  return { width, height, grey };
}

interface Block {
  readonly x: number;
  readonly y: number;
  readonly cx: number;
  readonly cy: number;
}

/** One block's displacement: the block centred at (cx, cy) in the current frame came from (cx − dx, cy − dy). */
interface Match {
  readonly cx: number;
  readonly cy: number;
  readonly dx: number;
  readonly dy: number;
}

/** Blocks kept per cell of a 4 x 3 grid over the view: the most textured, spread over all of it. */
const blocksPerCell = 5;

/**
 * Blocks whose texture varies both ways (an edge alone only fixes one direction), the strongest
 * few of each part of the view.
 */
function texturedBlocks(t: GreyThumbnail): Block[] {
  const { width, height, grey } = t;
  const cells: Array<Array<Block & { strength: number }>> = Array.from({ length: 12 }, () => []);
  const step = blockPx + 2;
  const margin = 2;
  for (let y = margin; y + blockPx + margin <= height; y += step) {
    for (let x = margin; x + blockPx + margin <= width; x += step) {
      let ixx = 0;
      let iyy = 0;
      let ixy = 0;
      for (let v = y; v < y + blockPx; v++) {
        for (let u = x, i = v * width + x; u < x + blockPx; u++, i++) {
          const gx = (grey[i + 1]! - grey[i - 1]!) / 2;
          const gy = (grey[i + width]! - grey[i - width]!) / 2;
          ixx += gx * gx;
          iyy += gy * gy;
          ixy += gx * gy;
        }
      }
      const n = blockPx * blockPx;
      const half = (ixx + iyy) / 2;
      const minEigen = (half - Math.sqrt(((ixx - iyy) / 2) ** 2 + ixy * ixy)) / n;
      if (minEigen < minCornerness) continue;
      const cx = x + (blockPx - 1) / 2;
      const cy = y + (blockPx - 1) / 2;
      const cell = Math.min(3, Math.floor((cx / width) * 4)) + 4 * Math.min(2, Math.floor((cy / height) * 3));
      cells[cell]!.push({ x, y, cx, cy, strength: minEigen });
    }
  }
  return cells.flatMap((c) => c.sort((p, q) => q.strength - p.strength).slice(0, blocksPerCell));
}

/** The block's displacement near `predicted`, to a fraction of a pixel; undefined when it is not pinned down. */
function matchBlock(
  reference: GreyThumbnail,
  current: GreyThumbnail,
  block: Block,
  predicted: { dx: number; dy: number },
  reach: number,
): Match | undefined {
  const { width, height } = current;
  const px = Math.round(predicted.dx);
  const py = Math.round(predicted.dy);
  const side = 2 * reach + 1;
  const costs = new Float64Array(side * side).fill(Infinity);
  let best = -1;
  for (let j = 0; j < side; j++) {
    const dy = py + j - reach;
    const ry = block.y - dy;
    if (ry < 0 || ry + blockPx > height) continue;
    for (let i = 0; i < side; i++) {
      const dx = px + i - reach;
      const rx = block.x - dx;
      if (rx < 0 || rx + blockPx > width) continue;
      let sum = 0;
      for (let v = 0; v < blockPx; v++) {
        const a = (block.y + v) * width + block.x;
        const b = (ry + v) * width + rx;
        for (let u = 0; u < blockPx; u++) sum += Math.abs(current.grey[a + u]! - reference.grey[b + u]!);
      }
      const k = j * side + i;
      costs[k] = sum;
      if (best < 0 || sum < costs[best]!) best = k;
    }
  }
  if (best < 0) return undefined;
  const bi = best % side;
  const bj = Math.floor(best / side);
  // A minimum on the edge of the search may lie beyond it.
  if (bi === 0 || bj === 0 || bi === side - 1 || bj === side - 1) return undefined;
  const c0 = costs[best]!;
  // Equiangular line fit: a sum of absolute differences is V-shaped around its minimum, not a parabola.
  const vertex = (l: number, r: number): number => {
    const den = 2 * (Math.max(l, r) - c0);
    return Number.isFinite(den) && den > 0 ? Math.max(-0.5, Math.min(0.5, (l - r) / den)) : 0;
  };
  const fx = vertex(costs[best - 1]!, costs[best + 1]!);
  const fy = vertex(costs[best - side]!, costs[best + side]!);
  return {
    cx: block.cx,
    cy: block.cy,
    dx: px + bi - reach + fx,
    dy: py + bj - reach + fy,
  };
}

/** Least-squares similarity through the matches, refitted on those that agree with it. */
function robustSimilarity(
  matches: readonly Match[],
): { fit: Affine; inliers: Match[]; residualPx: number } | undefined {
  let inliers = [...matches];
  let fit: Affine | undefined;
  let residualPx = Infinity;
  for (let round = 0; round < 4; round++) {
    if (inliers.length < 3) return undefined;
    fit = similarityThrough(inliers);
    if (fit === undefined) return undefined;
    const errors = matches.map((m) => errorOf(fit!, m));
    const sorted = [...errors].sort((p, q) => p - q);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const limit = Math.max(0.75, 2.5 * median);
    inliers = matches.filter((_, i) => errors[i]! <= limit);
  }
  if (fit === undefined || inliers.length < 3) return undefined;
  fit = similarityThrough(inliers) ?? fit;
  const sq = inliers.reduce((s, m) => s + errorOf(fit!, m) ** 2, 0);
  residualPx = Math.sqrt(sq / inliers.length);
  return { fit, inliers, residualPx };
}

function errorOf(fit: Affine, m: Match): number {
  const [x, y] = applyAffine(fit, m.cx - m.dx, m.cy - m.dy);
  return Math.hypot(x - m.cx, y - m.cy);
}

/** x' = p x − q y + tx, y' = q x + p y + ty through the matches (reference point → current point). */
function similarityThrough(matches: readonly Match[]): Affine | undefined {
  // Centred, so the normal equations separate: p and q from the spread, the shift from the means.
  const n = matches.length;
  let mx = 0;
  let my = 0;
  let mu = 0;
  let mv = 0;
  for (const m of matches) {
    mx += m.cx - m.dx;
    my += m.cy - m.dy;
    mu += m.cx;
    mv += m.cy;
  }
  mx /= n;
  my /= n;
  mu /= n;
  mv /= n;
  let sxx = 0;
  let sp = 0;
  let sq = 0;
  for (const m of matches) {
    const x = m.cx - m.dx - mx;
    const y = m.cy - m.dy - my;
    const u = m.cx - mu;
    const v = m.cy - mv;
    sxx += x * x + y * y;
    sp += x * u + y * v;
    sq += x * v - y * u;
  }
  if (!(sxx > 0)) return undefined;
  const p = sp / sxx;
  const q = sq / sxx;
  return { a: p, b: -q, c: mu - p * mx + q * my, d: q, e: p, f: mv - q * mx - p * my };
}
