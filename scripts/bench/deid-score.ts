// Scores what de-identification blurred against the synthetic video's ground truth: recall per size
// bucket (a face or plate counts as found when the blurred regions cover 60 % of its visible pixels)
// and the share of the frame blurred where there is nothing to blur.
import { dilateBox, type Detection, type PixelBox } from '../../agent/deid/geometry.ts';
import { inQuad } from './deid-raster.ts';
import type { GroundTruth } from './deid-video.ts';

/** A labelled thing counts as found when blurred regions cover at least this share of it. */
export const foundCoverage = 0.6;

/** A recall figure: its name, the sizes it counts (label `sizePx`), its target. */
export interface RecallBucket {
  readonly name: string;
  readonly kind: 'face' | 'plate';
  readonly min: number;
  readonly max: number;
  readonly target: number | null;
}

export const recallBuckets: readonly RecallBucket[] = [
  { name: 'face_recall_ge32', kind: 'face', min: 32, max: Infinity, target: 0.95 },
  { name: 'face_recall_24_32', kind: 'face', min: 24, max: 32, target: 0.85 },
  { name: 'face_recall_16_24', kind: 'face', min: 16, max: 24, target: null },
  { name: 'plate_recall_ge40', kind: 'plate', min: 40, max: Infinity, target: 0.9 },
  { name: 'plate_recall_15_40', kind: 'plate', min: 15, max: 40, target: null },
];

/** Found and total per bucket, plus over-blur summed over frames with nothing to blur. */
export class DeidScore {
  readonly hits = new Map<string, { found: number; total: number }>();
  /** Found and total per tag (night, occluded, format:us, …), over all sizes >= 15 px. */
  readonly byTag = new Map<string, { found: number; total: number }>();
  #overblur = 0;
  #negatives = 0;

  /** Adds one frame: its labels, whether it is empty, and the detections the pipeline blurred. */
  add(
    frame: { width: number; height: number; labels: readonly GroundTruth[]; negative: boolean },
    detections: readonly Detection[],
    marginRatio: number,
  ): void {
    const regions = detections.map((d) => dilateBox(d.box, marginRatio, frame));
    if (frame.negative) {
      this.#overblur += unionShare(regions, frame);
      this.#negatives++;
    }
    for (const label of frame.labels) {
      if (!label.inFrame) continue;
      const bucket = recallBuckets.find(
        (b) => b.kind === label.kind && label.sizePx >= b.min && label.sizePx < b.max,
      );
      if (bucket === undefined) continue;
      const found = coverage(label, regions) >= foundCoverage;
      count(this.hits, bucket.name, found);
      count(this.byTag, `${label.kind}:all`, found);
      for (const tag of label.tags) count(this.byTag, `${label.kind}:${angleClass(tag)}`, found);
    }
  }

  /** Mean share of the frame blurred on frames with no face and no plate. */
  get overblur(): number {
    return this.#overblur / Math.max(1, this.#negatives);
  }

  get negativeFrames(): number {
    return this.#negatives;
  }
}

/** Angles in two classes (roll: in-plane; yaw: turned away), other tags as they are. */
function angleClass(tag: string): string {
  const [name, value] = tag.split(':');
  if (name !== 'roll' && name !== 'yaw') return tag;
  const deg = Math.abs(Number(value));
  const split = name === 'roll' ? 15 : 25;
  return deg >= split ? `${name}>=${split}` : `${name}<${split}`;
}

function count(map: Map<string, { found: number; total: number }>, key: string, found: boolean): void {
  const t = map.get(key) ?? { found: 0, total: 0 };
  t.total++;
  if (found) t.found++;
  map.set(key, t);
}

/** Share of a label's visible pixels (inside its quad, outside the part hidden by a post) covered by `regions`. */
export function coverage(
  label: Pick<GroundTruth, 'box' | 'quad' | 'hidden'>,
  regions: readonly PixelBox[],
): number {
  const [bx, by, bw, bh] = label.box;
  let visible = 0;
  let covered = 0;
  for (let y = Math.floor(by); y < Math.ceil(by + bh); y++) {
    for (let x = Math.floor(bx); x < Math.ceil(bx + bw); x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      if (!inQuad(label.quad, px, py)) continue;
      if (label.hidden !== null && inQuad(label.hidden, px, py)) continue;
      visible++;
      if (regions.some((r) => px >= r.x && px < r.x + r.w && py >= r.y && py < r.y + r.h)) covered++;
    }
  }
  return visible > 0 ? covered / visible : 0;
}

/** Share of the frame inside the union of regions. */
function unionShare(regions: readonly PixelBox[], frame: { width: number; height: number }): number {
  if (regions.length === 0) return 0;
  const mask = new Uint8Array(frame.width * frame.height);
  let n = 0;
  for (const r of regions) {
    const x0 = Math.max(0, Math.floor(r.x));
    const y0 = Math.max(0, Math.floor(r.y));
    const x1 = Math.min(frame.width, Math.ceil(r.x + r.w));
    const y1 = Math.min(frame.height, Math.ceil(r.y + r.h));
    for (let y = y0; y < y1; y++)
      for (let x = x0; x < x1; x++) {
        const i = y * frame.width + x;
        if (mask[i] === 0) {
          mask[i] = 1;
          n++;
        }
      }
  }
  return n / (frame.width * frame.height);
}
