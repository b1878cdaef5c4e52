// `rigcap bench deid`: de-identification measured through the production pipeline (the config the
// agent loads, its DeidStage and Capture with the agent's in-flight window, inline mode) on the
// synthetic evaluation video; recall on the tuning video is printed apart as `*_tuning`. Spill mode's
// figures come from a real-time two-camera rig when the tree has spill mode.
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../agent/log.ts';
import { DeidScore, recallBuckets } from './deid-score.ts';
import {
  rigConfig,
  runInline,
  stageWorkers,
  startDeidStage,
  TapListener,
  transformWindowFor,
} from './deid-pipeline.ts';
import { runSpillRig } from './deid-spill.ts';
import { deidVideo, type DeidSetName, type SyntheticFrame } from './deid-video.ts';

/** One figure. `value` is null when it was not measured (`notMeasured` says why). */
export interface DeidFigure {
  readonly name: string;
  readonly value: number | null;
  readonly unit: string;
  readonly target: number | null;
  readonly better: 'higher' | 'lower';
  readonly notMeasured?: string;
}

export interface DeidBenchReport {
  readonly bench: 'deid';
  readonly figures: DeidFigure[];
  readonly details: Record<string, unknown>;
}

export interface DeidBenchOptions {
  readonly log: Logger;
  /** Progress lines (stderr in the CLI). */
  readonly progress?: (line: string) => void;
  /** Frames of each set's video (default 180 = 12 s at 15 fps). */
  readonly frames?: number;
  /** Frames per segment of the video (default 45). */
  readonly segmentFrames?: number;
  /** Length of the spill-mode rig in seconds (default 60). */
  readonly spillSeconds?: number;
  /** deid.timeoutMs instead of the default: only for tests on a machine too loaded for production's. */
  readonly timeoutMs?: number;
}

/** Runs the bench; figures as `rigcap bench deid --json` prints them. */
/** How the inline figures are measured (in the report's details). */
const inlineMethod =
  'The config the agent loads for two compressed-image cameras (defaults; deid.workers 0 = one per core; mode inline), ' +
  "its DeidStage and Capture with the agent's in-flight window; a replay driver keeps two frames queued so nothing is dropped. " +
  'fps: evaluation video, timed from the write of the first frame per worker to the last write. ' +
  'Recall: a face or plate counts when the blurred regions (detections grown by deid.marginRatio) cover 60 % of its visible pixels; ' +
  'sizes are the face side or plate height in frame pixels. Over-blur: blurred share of frames with no face or plate.';

export async function runDeidBench(o: DeidBenchOptions): Promise<DeidBenchReport> {
  const progress = o.progress ?? (() => undefined);
  const frames = o.frames ?? 180;
  const segmentFrames = o.segmentFrames ?? 45;
  const timeout = o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs };
  const videos = await makeVideos(frames, segmentFrames, progress);
  const spoolDir = await mkdtemp(join(tmpdir(), 'rigcap-bench-deid-'));
  const figures: DeidFigure[] = [];
  const details: Record<string, unknown> = {};
  const tap = new TapListener();
  try {
    const config = rigConfig({ cameras: 2, spoolDir, mode: 'inline', ...timeout });
    progress('deid: starting the de-id stage (models load and self-test in every worker)');
    const stage = await startDeidStage(config, o.log);
    const workers = stageWorkers(stage);
    const window = transformWindowFor(stage);
    const scores = {} as Record<DeidSetName, DeidScore>;
    const fps = {} as Record<DeidSetName, number>;
    try {
      for (const [i, set] of (['evaluation', 'tuning'] as const).entries()) {
        const video = videos[set];
        const firstTag = i * 1_000_000;
        const run = await runInline({
          stage,
          config,
          stream: config.streams[i]!,
          frames: video.map((f) => f.jpeg),
          firstTag,
          warmFrames: Math.max(1, workers),
          log: o.log,
          onWritten: (n) => {
            if (n % 30 === 0)
              progress(`deid: ${set} video through the pipeline, ${n}/${video.length} frames`);
          },
        });
        const tags = video.map((f) => firstTag + f.index);
        await tap.waitFor(tags, 10_000);
        const { score, unreported } = scoreVideo(tap, video, firstTag, config.deid.marginRatio);
        if (run.dropped > 0 || unreported > 0)
          details[`${set}Incomplete`] = { dropped: run.dropped, unscored: unreported };
        scores[set] = score;
        fps[set] = run.fps;
        progress(`deid: ${set}: ${run.fps.toFixed(2)} fps`);
      }
    } finally {
      await stage.close();
    }
    figures.push({
      name: 'fps_1080p_2workers',
      value: round(fps.evaluation),
      unit: `frames/s (${workers} workers on ${availableParallelism()} cores, ${window} frames in flight, inline, ${frames}-frame 1080p evaluation video)`,
      target: 8,
      better: 'higher',
    });
    pushScoreFigures(figures, details, scores);
    details['fpsTuningVideo'] = round(fps.tuning);
    details['method'] = inlineMethod;

    // Spill mode: a rig faster than de-id, every frame kept (held sealed, blurred late).
    const seconds = o.spillSeconds ?? 60;
    progress(
      `deid: spill mode, two 1080p cameras at 15 fps for ${seconds} s on ${availableParallelism()} cores`,
    );
    const rig = await runSpillRig({
      spoolDir,
      seconds,
      frames: videos.evaluation,
      log: o.log,
      progress,
      ...timeout,
    });
    figures.push(...spillFigures(rig, fps.evaluation, seconds));
    details['spill'] = rig.details;
  } finally {
    tap.close();
    await rm(spoolDir, { recursive: true, force: true });
  }
  return { bench: 'deid', figures, details };
}

/** Human-readable report lines (figures not measured say why). */
export function formatDeidReport(r: DeidBenchReport): string {
  const lines = [`bench ${r.bench}`];
  for (const f of r.figures) {
    if (f.value === null) {
      lines.push(`  ${f.name.padEnd(28)} not measured (${f.notMeasured ?? 'no data'})`);
      continue;
    }
    const met =
      f.target === null
        ? ''
        : `target ${f.better === 'higher' ? '>=' : '<='} ${f.target}  ${(f.better === 'higher' ? f.value >= f.target : f.value <= f.target) ? 'met' : 'NOT MET'}`;
    lines.push(`  ${f.name.padEnd(28)} ${String(f.value).padStart(8)}  ${met}  ${f.unit}`);
  }
  for (const [k, v] of Object.entries(r.details)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  return `${lines.join('\n')}\n`;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** `--quick`: short videos and a 10 s spill rig (a smoke test; the figures are not comparable). */
export const quickDeidBench = { frames: 36, segmentFrames: 12, spillSeconds: 10 } as const;

/** The evaluation and tuning videos, made once for the whole bench. */
async function makeVideos(
  frames: number,
  segmentFrames: number,
  progress: (line: string) => void,
): Promise<Record<DeidSetName, SyntheticFrame[]>> {
  const videos = {} as Record<DeidSetName, SyntheticFrame[]>;
  for (const set of ['evaluation', 'tuning'] as const) {
    videos[set] = [];
    for await (const f of deidVideo({ set, frames, segmentFrames })) {
      videos[set].push(f);
      if ((f.index + 1) % 30 === 0 || f.index + 1 === frames)
        progress(`deid: ${set} video ${f.index + 1}/${frames} frames made`);
    }
  }
  return videos;
}

/** Recall per size bucket and over-blur of each set, as figures (targets on the evaluation set). */
function pushScoreFigures(
  figures: DeidFigure[],
  details: Record<string, unknown>,
  scores: Record<DeidSetName, DeidScore>,
): void {
  for (const [set, suffix] of [
    ['evaluation', ''],
    ['tuning', '_tuning'],
  ] as const) {
    const score = scores[set];
    for (const bucket of recallBuckets) {
      const t = score.hits.get(bucket.name) ?? { found: 0, total: 0 };
      figures.push({
        name: `${bucket.name}${suffix}`,
        value: t.total === 0 ? null : round(t.found / t.total),
        unit: `ratio of ${t.total} labels x frames (${set} set)`,
        target: suffix === '' ? bucket.target : null,
        better: 'higher',
        ...(t.total === 0 ? { notMeasured: `no ${bucket.kind} of that size in the ${set} video` } : {}),
      });
    }
    figures.push({
      name: `overblur_area${suffix}`,
      value: round(score.overblur),
      unit: `share of ${score.negativeFrames} empty frames (${set} set)`,
      target: suffix === '' ? 0.05 : null,
      better: 'lower',
    });
    details[`recallByTag${suffix}`] = Object.fromEntries(
      [...score.byTag].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, `${v.found}/${v.total}`]),
    );
  }
}

/** The spill-mode figures: background catch-up against inline fps, and frames lost. */
function spillFigures(
  rig: Awaited<ReturnType<typeof runSpillRig>>,
  evaluationFps: number,
  seconds: number,
): DeidFigure[] {
  const fps = { evaluation: evaluationFps };
  const figures: DeidFigure[] = [];
  figures.push({
    name: 'spill_catchup_ratio',
    value: rig.catchupFps === null || !(fps.evaluation > 0) ? null : round(rig.catchupFps / fps.evaluation),
    unit: `background-pass frames/s (${rig.catchupFps === null ? '-' : round(rig.catchupFps)}) / inline fps`,
    target: null,
    better: 'higher',
    ...(rig.catchupFps === null
      ? { notMeasured: 'no frame was held' }
      : fps.evaluation > 0
        ? {}
        : { notMeasured: 'no inline fps to compare with' }),
  });
  figures.push({
    name: 'frames_lost',
    value: rig.framesLost,
    unit: `frames of ${rig.received} (2 cameras x 15 fps x ${seconds} s, spill mode)`,
    target: 0,
    better: 'lower',
  });
  return figures;
}

/** Scores each frame's detections as the tap saw them written; frames never written are counted apart. */
function scoreVideo(
  tap: TapListener,
  video: readonly SyntheticFrame[],
  firstTag: number,
  marginRatio: number,
): { score: DeidScore; unreported: number } {
  const score = new DeidScore();
  let unreported = 0;
  for (const f of video) {
    const detections = tap.detections(firstTag + f.index);
    // A frame de-id failed on was dropped, never written: a gap, not a leak, so not scored.
    if (detections === undefined) {
      unreported++;
      continue;
    }
    score.add(f, detections, marginRatio);
  }
  return { score, unreported };
}
