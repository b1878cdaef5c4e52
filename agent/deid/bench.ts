// `rigcap bench deid`: recall by size on the labelled eval set, blurred area on scenes with no
// faces or plates, and frames per second at 1080p through the real worker pool.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { DeidConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import { decodeImageSample } from './image-codec.ts';
import { dilateBox, type DetectionKind, type PixelBox } from './geometry.ts';
import { loadLocalRedactor } from './local-redactor.ts';
import { modelSpecsFor } from './models.ts';
import { deidParamsFor, defaultDeidConfig } from './params.ts';
import { DeidWorkerPool } from './worker-pool.ts';

/** One printed figure; `better` says which direction is good. */
export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly target: number | null;
  readonly better: 'higher' | 'lower';
}

export interface DeidBenchOptions {
  readonly log: Logger;
  readonly config?: DeidConfig;
  /** Folder with `labels.json` and its images (default: the repo's test/fixtures/deid/eval). */
  readonly evalDir?: URL;
  /** Frames timed per worker count (more is steadier, slower). */
  readonly framesPerRun?: number;
}

interface EvalLabels {
  scenes: Array<{ file: string; labels: Array<{ kind: DetectionKind; box: [number, number, number, number] }> }>;
  negatives: string[];
}

/** A labelled box counts as found when the blurred regions cover at least this share of it. */
const foundCoverage = 0.6;

const buckets: Record<DetectionKind, Array<{ name: string; min: number; max: number; target: number | null }>> = {
  face: [
    { name: 'face_recall_16_24', min: 16, max: 24, target: null },
    { name: 'face_recall_24_32', min: 24, max: 32, target: 0.85 },
    { name: 'face_recall_ge32', min: 32, max: Infinity, target: 0.95 },
  ],
  plate: [
    { name: 'plate_recall_15_40', min: 15, max: 40, target: null },
    { name: 'plate_recall_ge40', min: 40, max: Infinity, target: 0.9 },
  ],
};

/** Share of `box` covered by the union of `regions` (counted per pixel). */
function coverage(box: PixelBox, regions: readonly PixelBox[]): number {
  const x0 = Math.round(box.x);
  const y0 = Math.round(box.y);
  const w = Math.round(box.w);
  const h = Math.round(box.h);
  let covered = 0;
  for (let y = y0; y < y0 + h; y++) {
    for (let x = x0; x < x0 + w; x++) {
      if (regions.some((r) => x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h)) covered++;
    }
  }
  return w * h > 0 ? covered / (w * h) : 0;
}

/** Fraction of the frame inside the union of regions. */
function areaShare(frame: { width: number; height: number }, regions: readonly PixelBox[]): number {
  return coverage({ x: 0, y: 0, w: frame.width, h: frame.height }, regions);
}

/** Runs the de-id bench and returns its figures. */
export async function runDeidBench(opts: DeidBenchOptions): Promise<{ figures: BenchFigure[] }> {
  const config = opts.config ?? defaultDeidConfig;
  const evalDir = opts.evalDir ?? new URL('../../test/fixtures/deid/eval/', import.meta.url);
  const labels = JSON.parse(await readFile(new URL('labels.json', evalDir), 'utf8')) as EvalLabels;
  const redactor = await loadLocalRedactor({ config });
  const figures: BenchFigure[] = [];

  const hits = new Map<string, { found: number; total: number }>();
  for (const scene of labels.scenes) {
    const data = await readFile(new URL(scene.file, evalDir));
    const image = await decodeImageSample({ encoding: 'jpeg', schemaRef: '', data }, { jpegQuality: config.jpegQuality });
    const detections = await redactor.detector.detect(image.frame);
    const regions = detections.map((d) => dilateBox(d.box, config.marginRatio, image.frame));
    for (const label of scene.labels) {
      const [x, y, w, h] = label.box;
      const bucket = buckets[label.kind].find((b) => h >= b.min && h < b.max);
      if (bucket === undefined) continue;
      const tally = hits.get(bucket.name) ?? { found: 0, total: 0 };
      tally.total++;
      if (coverage({ x, y, w, h }, regions) >= foundCoverage) tally.found++;
      hits.set(bucket.name, tally);
    }
  }
  for (const bucket of [...buckets.face, ...buckets.plate]) {
    const tally = hits.get(bucket.name);
    if (tally === undefined) continue;
    figures.push({ name: bucket.name, value: round(tally.found / tally.total), unit: `ratio of ${tally.total}`, target: bucket.target, better: 'higher' });
  }

  let overblur = 0;
  for (const file of labels.negatives) {
    const data = await readFile(new URL(file, evalDir));
    const image = await decodeImageSample({ encoding: 'jpeg', schemaRef: '', data }, { jpegQuality: config.jpegQuality });
    const detections = await redactor.detector.detect(image.frame);
    overblur += areaShare(image.frame, detections.map((d) => dilateBox(d.box, config.marginRatio, image.frame)));
  }
  figures.push({ name: 'overblur_area', value: round(overblur / Math.max(1, labels.negatives.length)), unit: 'ratio', target: 0.05, better: 'lower' });

  const first = labels.scenes[0];
  if (first !== undefined) {
    const frame = new Uint8Array(await readFile(new URL(first.file, evalDir)));
    const frames = opts.framesPerRun ?? 8;
    for (const workers of [1, 2]) {
      const fps = await measureFps({ config, log: opts.log, workers, frames, jpeg: frame });
      const name = workers === 1 ? 'fps_1080p_1worker' : 'fps_1080p_2workers';
      figures.push({ name, value: round(fps), unit: `frames/s (${availableParallelism()} cores)`, target: workers === 2 ? 8 : null, better: 'higher' });
    }
  }
  return { figures };
}

/** Frames per second through a real pool kept full, timed from first submit to last result. */
async function measureFps(o: { config: DeidConfig; log: Logger; workers: number; frames: number; jpeg: Uint8Array }): Promise<number> {
  const pool = new DeidWorkerPool({
    size: o.workers,
    maxPending: o.frames,
    timeoutMs: 60_000,
    init: { specs: modelSpecsFor(o.config), params: deidParamsFor(o.config), intraOpThreads: 1 },
    log: o.log,
  });
  await pool.start();
  try {
    // One warm-up frame per worker, untimed: first inferences pay for allocation.
    await Promise.all(Array.from({ length: o.workers }, () => pool.submit({ encoding: 'jpeg', schemaRef: '', data: o.jpeg })));
    const started = performance.now();
    const outcomes = await Promise.all(Array.from({ length: o.frames }, () => pool.submit({ encoding: 'jpeg', schemaRef: '', data: o.jpeg })));
    const seconds = (performance.now() - started) / 1000;
    const done = outcomes.filter((x) => x.kind === 'done').length;
    return done / seconds;
  } finally {
    await pool.close();
  }
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
