// `rigcap bench deid`: recall by size on the labelled eval set, blurred area on scenes with no
// faces or plates, and frames per second at 1080p through the real worker pool, all measured on a
// video made from the eval images (the pipeline schedules face scans across frames of a stream).
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { DeidConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import { decodeImageSample } from './image-codec.ts';
import sharp from 'sharp';
import { dilateBox, type Detection, type DetectionKind, type PixelBox } from './geometry.ts';
import { loadLocalRedactor } from './local-redactor.ts';
import { modelSpecsFor } from './models.ts';
import { deidParamsFor, defaultDeidConfig } from './params.ts';
import { StreamScan } from './stream-scan.ts';
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
  /** Frames of each labelled scene in the bench video (more is steadier, slower). */
  readonly framesPerRun?: number;
}

interface EvalLabels {
  scenes: Array<{
    file: string;
    labels: Array<{ kind: DetectionKind; box: [number, number, number, number] }>;
  }>;
  negatives: string[];
}

/** A labelled box counts as found when the blurred regions cover at least this share of it. */
const foundCoverage = 0.6;

const buckets: Record<
  DetectionKind,
  Array<{ name: string; min: number; max: number; target: number | null }>
> = {
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

/** One frame of the bench video: its JPEG, its labels (shifted with the picture), and what it is for. */
export interface VideoFrame {
  readonly jpeg: Uint8Array;
  readonly labels: ReadonlyArray<{ kind: DetectionKind; box: PixelBox }>;
  readonly negative: boolean;
}

/** Pixels the camera pans per frame in the bench video (right and down). */
const panPx = { x: 2, y: 1 } as const;

/**
 * The bench video, one stream: for every labelled scene, a few frames of its empty background and
 * then the scene (so faces and plates appear mid-stream without a cut), the camera panning
 * throughout; a clip of a background no scene uses comes last. Frames are JPEG like a camera's.
 */
export async function buildVideo(o: {
  evalDir: URL;
  labels: EvalLabels;
  backgroundFrames: number;
  sceneFrames: number;
}): Promise<VideoFrame[]> {
  const frames: VideoFrame[] = [];
  const used = new Set<string>();
  for (const scene of o.labels.scenes) {
    const background = backgroundOf(scene.file, o.labels.negatives);
    let t = 0;
    if (background !== undefined) {
      used.add(background);
      const bytes = await readFile(new URL(background, o.evalDir));
      for (let i = 0; i < o.backgroundFrames; i++, t++)
        frames.push({ jpeg: await shifted(bytes, t), labels: [], negative: true });
    }
    const bytes = await readFile(new URL(scene.file, o.evalDir));
    for (let i = 0; i < o.sceneFrames; i++, t++) {
      const labels = scene.labels.map((l) => ({
        kind: l.kind,
        box: { x: l.box[0] + panPx.x * t, y: l.box[1] + panPx.y * t, w: l.box[2], h: l.box[3] },
      }));
      frames.push({ jpeg: await shifted(bytes, t), labels, negative: false });
    }
  }
  for (const file of o.labels.negatives.filter((f) => !used.has(f))) {
    const bytes = await readFile(new URL(file, o.evalDir));
    for (let t = 0; t < o.sceneFrames; t++)
      frames.push({ jpeg: await shifted(bytes, t), labels: [], negative: true });
  }
  return frames;
}

/** The negative scene with the same background (make-eval-set.ts pastes onto the same photos). */
function backgroundOf(scene: string, negatives: readonly string[]): string | undefined {
  const byPrefix: Record<string, string> = {
    street: 'empty-04.jpg',
    vehicle: 'empty-05.jpg',
    field: 'empty-03.jpg',
    launch: 'empty-02.jpg',
  };
  const file = byPrefix[scene.split('-')[0] ?? ''];
  return file !== undefined && negatives.includes(file) ? file : undefined;
}

/** The picture moved by t pan steps (content moves right and down; the edge is repeated). */
export async function shifted(jpeg: Uint8Array, t: number): Promise<Uint8Array> {
  const meta = await sharp(jpeg).metadata();
  const dx = panPx.x * t;
  const dy = panPx.y * t;
  // Two pipelines: within one, sharp would crop before extending.
  const moved = await sharp(jpeg)
    .extend({ left: dx, top: dy, extendWith: 'copy' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const buf = await sharp(moved.data, {
    raw: { width: moved.info.width, height: moved.info.height, channels: moved.info.channels },
  })
    .extract({ left: 0, top: 0, width: meta.width, height: meta.height })
    .jpeg({ quality: 82 })
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Per-bucket hit counts and over-blurred area from per-frame detections. */
function score(
  frames: readonly VideoFrame[],
  detections: ReadonlyArray<readonly Detection[]>,
  o: { marginRatio: number; width: number; height: number },
): { hits: Map<string, { found: number; total: number }>; overblur: number } {
  const hits = new Map<string, { found: number; total: number }>();
  let overblur = 0;
  let negatives = 0;
  const frame = { width: o.width, height: o.height };
  for (const [i, f] of frames.entries()) {
    const regions = (detections[i] ?? []).map((d) => dilateBox(d.box, o.marginRatio, frame));
    if (f.negative) {
      overblur += areaShare(frame, regions);
      negatives++;
    }
    for (const label of f.labels) tally(hits, label, regions);
  }
  return { hits, overblur: overblur / Math.max(1, negatives) };
}

function tally(
  hits: Map<string, { found: number; total: number }>,
  label: { kind: DetectionKind; box: PixelBox },
  regions: readonly PixelBox[],
): void {
  const bucket = buckets[label.kind].find((b) => label.box.h >= b.min && label.box.h < b.max);
  if (bucket === undefined) return;
  const t = hits.get(bucket.name) ?? { found: 0, total: 0 };
  t.total++;
  if (coverage(label.box, regions) >= foundCoverage) t.found++;
  hits.set(bucket.name, t);
}

/** Runs the de-id bench and returns its figures and how they were measured. */
export async function runDeidBench(
  opts: DeidBenchOptions,
): Promise<{ figures: BenchFigure[]; details: Record<string, unknown> }> {
  const config = opts.config ?? defaultDeidConfig;
  const params = deidParamsFor(config);
  const evalDir = opts.evalDir ?? new URL('../../test/fixtures/deid/eval/', import.meta.url);
  const labels = JSON.parse(await readFile(new URL('labels.json', evalDir), 'utf8')) as EvalLabels;
  const figures: BenchFigure[] = [];

  // Still images: every image scanned whole, as `rigcap deid` does.
  const redactor = await loadLocalRedactor({ config });
  const still = new Map<string, { found: number; total: number }>();
  let stillOverblur = 0;
  for (const scene of [...labels.scenes, ...labels.negatives.map((file) => ({ file, labels: [] }))]) {
    const data = await readFile(new URL(scene.file, evalDir));
    const image = await decodeImageSample(
      { encoding: 'jpeg', schemaRef: '', data },
      { jpegQuality: config.jpegQuality },
    );
    const detections = await redactor.detector.detect(image.frame);
    const regions = detections.map((d) => dilateBox(d.box, config.marginRatio, image.frame));
    for (const l of scene.labels)
      tally(still, { kind: l.kind, box: { x: l.box[0], y: l.box[1], w: l.box[2], h: l.box[3] } }, regions);
    if (scene.labels.length === 0) stillOverblur += areaShare(image.frame, regions) / labels.negatives.length;
  }

  // Video: the real pool and per-stream scan schedule, recall and over-blur on every frame.
  const sceneFrames = opts.framesPerRun ?? 12;
  const video = await buildVideo({
    evalDir,
    labels,
    backgroundFrames: Math.max(1, sceneFrames >> 2),
    sceneFrames,
  });
  const runs: Array<{ workers: number; run: VideoRun }> = [];
  for (const workers of [1, 2])
    runs.push({ workers, run: await runVideo({ config, log: opts.log, workers, frames: video }) });
  const two = runs[1]!.run;
  const scored = score(video, two.detections, { marginRatio: config.marginRatio, width: 1920, height: 1080 });
  for (const bucket of [...buckets.face, ...buckets.plate]) {
    const t = scored.hits.get(bucket.name);
    if (t !== undefined)
      figures.push({
        name: bucket.name,
        value: round(t.found / t.total),
        unit: `ratio of ${t.total} labels x frames`,
        target: bucket.target,
        better: 'higher',
      });
  }
  figures.push({
    name: 'overblur_area',
    value: round(scored.overblur),
    unit: 'ratio',
    target: 0.05,
    better: 'lower',
  });
  for (const { workers, run } of runs) {
    const name = workers === 1 ? 'fps_1080p_1worker' : 'fps_1080p_2workers';
    figures.push({
      name,
      value: round(run.fps),
      unit: `frames/s (${availableParallelism()} cores, ${video.length}-frame 1080p video)`,
      target: workers === 2 ? 8 : null,
      better: 'higher',
    });
  }
  for (const bucket of [...buckets.face, ...buckets.plate]) {
    const t = still.get(bucket.name);
    if (t !== undefined)
      figures.push({
        name: `still_${bucket.name}`,
        value: round(t.found / t.total),
        unit: `ratio of ${t.total}`,
        target: null,
        better: 'higher',
      });
  }
  figures.push({
    name: 'still_overblur_area',
    value: round(stillOverblur),
    unit: 'ratio',
    target: null,
    better: 'lower',
  });

  const one = score(video, runs[0]!.run.detections, {
    marginRatio: config.marginRatio,
    width: 1920,
    height: 1080,
  });
  return {
    figures,
    details: {
      method:
        `fps: one 1920x1080 JPEG stream of ${video.length} frames (per labelled scene ${Math.max(1, sceneFrames >> 2)} frames of its empty background, then ${sceneFrames} of the scene, ` +
        `panning ${panPx.x},${panPx.y} px a frame; then the unused background), sent through the real worker pool with the stage's per-stream face scan schedule, ` +
        'two frames submitted per worker (a worker whose frame waits for the frame before it takes the next one meanwhile), timed from the first submit to the last result after one untimed warm-up frame per worker; decode, detection, blur and re-encode included. ' +
        'Recall and over-blur: on every frame of the 2-worker run (labels move with the pan; a label counts when blurred regions cover 60 % of it). still_*: each image scanned whole on its own.',
      faceSweepFrames: params.faceSweepFrames,
      plateInputMaxSide: params.plateInputMaxSide,
      frames: video.length,
      fullScans: runs.map(({ workers, run }) => ({
        workers,
        fullScans: run.fullScans,
        meanTilesScanned: round(run.tilesScanned / video.length),
        meanVerifications: round(run.verifications / video.length),
        meanScreened: round(run.screened / video.length),
        plateRuns: run.plateRuns,
        meanMs: round(run.meanMs),
      })),
      oneWorkerRecall: Object.fromEntries([...one.hits].map(([k, v]) => [k, round(v.found / v.total)])),
      oneWorkerOverblur: round(one.overblur),
    },
  };
}

interface VideoRun {
  readonly fps: number;
  readonly detections: ReadonlyArray<readonly Detection[]>;
  readonly fullScans: number;
  readonly tilesScanned: number;
  readonly verifications: number;
  /** Verifications the screening model settled alone. */
  readonly screened: number;
  /** Frames the plate detector ran on. */
  readonly plateRuns: number;
  readonly meanMs: number;
}

/** Streams the video through a real pool with the stage's per-stream face scan schedule. */
async function runVideo(o: {
  config: DeidConfig;
  log: Logger;
  workers: number;
  frames: readonly VideoFrame[];
}): Promise<VideoRun> {
  const params = deidParamsFor(o.config);
  // Two frames submitted per worker, as a camera faster than the pool keeps its queue filled: a
  // worker takes the next as soon as it is free, or while its frame waits for the one before it.
  const inFlight = o.workers * 2;
  const pool = new DeidWorkerPool({
    size: o.workers,
    maxPending: inFlight,
    timeoutMs: 60_000,
    init: { specs: modelSpecsFor(o.config), params, intraOpThreads: 1 },
    log: o.log,
  });
  await pool.start();
  try {
    const first = o.frames[0];
    // One warm-up frame per worker, untimed: first inferences pay for allocation.
    if (first !== undefined)
      await Promise.all(
        Array.from({ length: o.workers }, () =>
          pool.submit({ encoding: 'jpeg', schemaRef: '', data: first.jpeg }),
        ),
      );
    const scan = new StreamScan(params);
    const detections: Array<readonly Detection[]> = [];
    let next = 0;
    let fullScans = 0;
    let tilesScanned = 0;
    let verifications = 0;
    let screened = 0;
    let plateRuns = 0;
    let ms = 0;
    const started = performance.now();
    const lane = async (): Promise<void> => {
      while (next < o.frames.length) {
        const i = next++;
        const outcome = await pool.submit({ encoding: 'jpeg', schemaRef: '', data: o.frames[i]!.jpeg, scan });
        if (outcome.kind !== 'done')
          throw new Error(
            `bench frame ${i}: ${outcome.kind === 'failed' ? outcome.error.message : 'backpressure'}`,
          );
        detections[i] = outcome.detections;
        ms += outcome.ms;
        if (outcome.faceScan !== undefined) {
          if (outcome.faceScan.full) fullScans++;
          tilesScanned += outcome.faceScan.tilesScanned;
          verifications += outcome.faceScan.verifications;
          screened += outcome.faceScan.screened;
          if (outcome.faceScan.plates !== null) plateRuns++;
        }
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    const seconds = (performance.now() - started) / 1000;
    return {
      fps: o.frames.length / seconds,
      detections,
      fullScans,
      tilesScanned,
      verifications,
      screened,
      plateRuns,
      meanMs: ms / Math.max(1, o.frames.length),
    };
  } finally {
    await pool.close();
  }
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
