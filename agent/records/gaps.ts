// A session's gaps, named from what its signed records and the running pipeline know: loss windows
// per stream with drops by cause, capture paused by the disk, degraded or lost de-id, downtime after
// a crash, clock unsynced/holdover intervals and steps, and sensor streams without calibration.
// Pure: bytes and numbers in, gap lists and human text out.
import type { CaptureChunkPredicate, GapKind, SessionGap, StreamSummary } from './predicates.ts';

/** Drop windows closer than this merge into one (1 s). */
export const gapMergeNs = 1_000_000_000n;

/** Drop causes that mean capture was paused by the disk (budget reached, disk full, write failed). */
const pausedCauses = new Set(['disk_budget', 'disk_full', 'write_error']);
/** Drop causes that mean de-identification could not keep up or failed. */
const deidCauses = new Set(['deid_backpressure', 'deid_failed', 'deid_holding_full', 'deid_held_lost']);

/** The gap kind a drop cause belongs to; undefined for samples left out by design (outside a snapshot window). */
export function kindOfDropCause(cause: string): GapKind | undefined {
  if (cause === 'snapshot_window') return undefined;
  if (pausedCauses.has(cause)) return 'capture_paused';
  if (deidCauses.has(cause)) return 'deid';
  return 'loss';
}

/** One stream's merged window of drops under one gap kind. */
export interface DropWindow {
  stream: string;
  kind: GapKind;
  startNs: bigint;
  endNs: bigint;
  counts: Record<string, number>;
}

/**
 * Per-stream windows in which drops happened, merged when closer than `mergeNs`. Memory is bounded:
 * past `maxWindowsPerStream` a stream's newest window absorbs further drops.
 */
export class DropWindows {
  readonly #open = new Map<string, DropWindow[]>();
  readonly #mergeNs: bigint;
  readonly #max: number;

  constructor(options: { mergeNs?: bigint; maxWindowsPerStream?: number } = {}) {
    this.#mergeNs = options.mergeNs ?? gapMergeNs;
    this.#max = options.maxWindowsPerStream ?? 64;
  }

  /** `count` samples of `stream` dropped for `cause` at `atNs` (wall clock). */
  note(stream: string, cause: string, count: number, atNs: bigint): void {
    const kind = kindOfDropCause(cause);
    if (count <= 0 || kind === undefined) return;
    const key = `${kind} ${stream}`;
    let list = this.#open.get(key);
    if (list === undefined) this.#open.set(key, (list = []));
    const last = list.at(-1);
    if (last !== undefined && (atNs - last.endNs <= this.#mergeNs || list.length >= this.#max)) {
      if (atNs > last.endNs) last.endNs = atNs;
      if (atNs < last.startNs) last.startNs = atNs;
      last.counts[cause] = (last.counts[cause] ?? 0) + count;
      return;
    }
    list.push({ stream, kind, startNs: atNs, endNs: atNs, counts: { [cause]: count } });
  }

  /** Every window noted since the last call; starts afresh (one session at a time). */
  take(): DropWindow[] {
    const out = [...this.#open.values()].flat();
    this.#open.clear();
    return out;
  }
}

const sensorType =
  /^sensor_msgs\/msg\/(Image|CompressedImage|PointCloud2|PointCloud|LaserScan|Imu|NavSatFix|MagneticField|Range)$/;
const imageType = /^sensor_msgs\/msg\/(Image|CompressedImage)$/;

/** A stream whose data needs a calibration to be used (cameras, lidars, IMUs, GNSS). */
export function isSensorStream(s: Pick<StreamSummary, 'type'>): boolean {
  return sensorType.test(s.type);
}

/** A camera image stream (de-identification applies to it). */
export function isImageStream(s: Pick<StreamSummary, 'type'>): boolean {
  return imageType.test(s.type);
}

const aliases: Record<string, string> = { cam: 'camera', cameras: 'camera', gps: 'gnss', points: 'lidar' };

function tokens(text: string): Set<string> {
  return new Set(
    text
      .toLowerCase()
      .split(/[^a-z0-9]+|(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])/)
      .filter((t) => t !== '')
      .map((t) => aliases[t] ?? t),
  );
}

/**
 * Whether calibration `sensor` covers the stream on `topic`: every word of the sensor's name (with
 * `cam` read as `camera`, `gps` as `gnss`) is a word of the topic (`cam_front` ↔ `/camera/front/image`).
 */
export function calibrationCovers(sensor: string, topic: string): boolean {
  const want = tokens(sensor);
  const have = tokens(topic);
  return want.size > 0 && [...want].every((t) => have.has(t));
}

/** Sensor streams of a chunk no calibration ref covers. */
export function uncalibratedStreams(p: Pick<CaptureChunkPredicate, 'streams' | 'calibration'>): string[] {
  return p.streams
    .filter((s) => isSensorStream(s) && !p.calibration.some((c) => calibrationCovers(c.sensor, s.topic)))
    .map((s) => s.topic);
}

/** What the pipeline knows at close beyond the chunk records. */
export interface CloseGapInputs {
  /** Signed chunk records of the session (predicates), any order. */
  chunks: readonly CaptureChunkPredicate[];
  /** Drop windows the running pipeline tracked; without them drops are placed by chunk window. */
  dropWindows?: readonly DropWindow[];
  /** Frames held for de-id and never blurred, per stream, with their capture window when known. */
  heldLost?: ReadonlyArray<{
    stream: string;
    count: number;
    startNs: bigint | undefined;
    endNs: bigint | undefined;
  }>;
  /** The agent was down (crash) from the session's last signed record to recovery. */
  downtime?: { startNs: bigint; endNs: bigint };
  /** Stands in for an unknown held-frame window. */
  fallbackNs?: bigint;
}

function gapOf(w: {
  kind: GapKind;
  startNs: bigint;
  endNs: bigint;
  stream?: string;
  counts?: Record<string, number>;
  stepNs?: bigint;
}): SessionGap {
  const cause =
    w.counts !== undefined
      ? Object.keys(w.counts).sort().join(',')
      : w.kind === 'clock_unsynced'
        ? 'unsynced'
        : w.kind === 'clock_holdover'
          ? 'holdover'
          : w.kind === 'clock_step'
            ? 'step'
            : w.kind === 'calibration_missing'
              ? 'no_calibration'
              : w.kind === 'geofence_exit'
                ? 'outside_geofences'
                : w.kind;
  return {
    startNs: String(w.startNs),
    endNs: String(w.endNs),
    cause,
    kind: w.kind,
    ...(w.stream === undefined ? {} : { stream: w.stream }),
    ...(w.counts === undefined ? {} : { counts: { ...w.counts } }),
    ...(w.stepNs === undefined ? {} : { stepNs: String(w.stepNs) }),
  };
}

/** Merges same-kind, same-stream gaps closer than `mergeNs`, summing counts; sorted by start. */
export function mergeGaps(gaps: readonly SessionGap[], mergeNs: bigint = gapMergeNs): SessionGap[] {
  const sorted = [...gaps].sort((a, b) => {
    const d = BigInt(a.startNs) - BigInt(b.startNs);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  });
  const out: SessionGap[] = [];
  const lastOf = new Map<string, SessionGap>();
  for (const g of sorted) {
    // Steps and legacy gaps stand alone.
    const key = g.kind === undefined || g.kind === 'clock_step' ? undefined : `${g.kind} ${g.stream ?? ''}`;
    const last = key === undefined ? undefined : lastOf.get(key);
    if (last !== undefined && BigInt(g.startNs) - BigInt(last.endNs) <= mergeNs) {
      if (BigInt(g.endNs) > BigInt(last.endNs)) last.endNs = g.endNs;
      if (g.counts !== undefined) {
        const counts = { ...(last.counts ?? {}) };
        for (const [c, n] of Object.entries(g.counts)) counts[c] = (counts[c] ?? 0) + n;
        last.counts = counts;
        last.cause = Object.keys(counts).sort().join(',');
      }
      continue;
    }
    const copy: SessionGap = { ...g, ...(g.counts === undefined ? {} : { counts: { ...g.counts } }) };
    out.push(copy);
    if (key !== undefined) lastOf.set(key, copy);
  }
  return out;
}

/**
 * Unsynced and holdover runs over the session: a clock state holds until another is seen, so runs of
 * one state merge across the time between chunks' windows; a locked interval ends a run.
 */
function clockGaps(chunks: readonly CaptureChunkPredicate[]): SessionGap[] {
  const intervals = chunks
    .flatMap((p) => p.timesync.intervals)
    .map((i) => ({ state: i.state, startNs: BigInt(i.startNs), endNs: BigInt(i.endNs) }))
    .sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
  const out: SessionGap[] = [];
  let run: { state: 'holdover' | 'unsynced'; startNs: bigint; endNs: bigint } | undefined;
  const flush = (): void => {
    if (run !== undefined)
      out.push(gapOf({ kind: run.state === 'unsynced' ? 'clock_unsynced' : 'clock_holdover', ...run }));
    run = undefined;
  };
  for (const i of intervals) {
    if (i.state === 'locked' || (run !== undefined && run.state !== i.state)) flush();
    if (i.state === 'locked') continue;
    if (run === undefined) run = { state: i.state, startNs: i.startNs, endNs: i.endNs };
    else if (i.endNs > run.endNs) run.endNs = i.endNs;
  }
  flush();
  return out;
}

/** Per sensor stream, runs of chunks without its calibration (a chunk without the stream keeps a run open). */
function calibrationGaps(chunks: readonly CaptureChunkPredicate[]): SessionGap[] {
  const out: SessionGap[] = [];
  const runs = new Map<string, { startNs: bigint; endNs: bigint }>();
  const flush = (topic: string): void => {
    const run = runs.get(topic);
    if (run !== undefined) out.push(gapOf({ kind: 'calibration_missing', ...run, stream: topic }));
    runs.delete(topic);
  };
  for (const p of chunks) {
    const missing = new Set(uncalibratedStreams(p));
    for (const st of p.streams) {
      if (!isSensorStream(st)) continue;
      if (!missing.has(st.topic)) {
        flush(st.topic);
        continue;
      }
      const run = runs.get(st.topic);
      if (run === undefined) runs.set(st.topic, { startNs: BigInt(p.startNs), endNs: BigInt(p.endNs) });
      else run.endNs = BigInt(p.endNs);
    }
  }
  for (const topic of [...runs.keys()]) flush(topic);
  return out;
}

/** Every gap of a session, from its chunk records and what the pipeline adds at close. */
export function sessionGaps(inputs: CloseGapInputs): SessionGap[] {
  const gaps: SessionGap[] = [];
  const chunks = [...inputs.chunks].sort((a, b) => a.chunkIndex - b.chunkIndex);
  if (inputs.dropWindows !== undefined) {
    for (const w of inputs.dropWindows) {
      // Held frames never blurred are named from their capture window below, not when counted.
      const counts = Object.fromEntries(Object.entries(w.counts).filter(([c]) => c !== 'deid_held_lost'));
      if (Object.keys(counts).length > 0) gaps.push(gapOf({ ...w, counts }));
    }
  }
  for (const p of chunks) {
    const startNs = BigInt(p.startNs);
    const endNs = BigInt(p.endNs);
    if (inputs.dropWindows === undefined) {
      for (const s of p.streams) {
        const byKind = new Map<GapKind, Record<string, number>>();
        const add = (cause: string, n: number): void => {
          const kind = kindOfDropCause(cause);
          if (n <= 0 || kind === undefined) return;
          const counts = byKind.get(kind) ?? {};
          counts[cause] = (counts[cause] ?? 0) + n;
          byKind.set(kind, counts);
        };
        for (const [cause, n] of Object.entries(s.drops)) if (cause !== 'deid_held_lost') add(cause, n);
        add('upstream_loss', s.upstreamLoss);
        for (const [kind, counts] of byKind)
          gaps.push(gapOf({ kind, startNs, endNs, stream: s.topic, counts }));
      }
    }
    // Time outside every geofence: no region is stamped for it.
    for (const w of p.outsideGeofences ?? [])
      gaps.push(gapOf({ kind: 'geofence_exit', startNs: BigInt(w.startNs), endNs: BigInt(w.endNs) }));
    for (const st of p.timesync.steps)
      gaps.push(
        gapOf({
          kind: 'clock_step',
          startNs: BigInt(st.atNs),
          endNs: BigInt(st.atNs),
          stepNs: BigInt(st.stepNs),
        }),
      );
  }
  gaps.push(...clockGaps(chunks), ...calibrationGaps(chunks));
  const fallbackNs = inputs.fallbackNs ?? (chunks.length > 0 ? BigInt(chunks.at(-1)!.endNs) : 0n);
  for (const h of inputs.heldLost ?? []) {
    if (h.count <= 0) continue;
    gaps.push(
      gapOf({
        kind: 'deid',
        startNs: h.startNs ?? fallbackNs,
        endNs: h.endNs ?? fallbackNs,
        stream: h.stream,
        counts: { deid_held_lost: h.count },
      }),
    );
  }
  if (inputs.downtime !== undefined && inputs.downtime.endNs > inputs.downtime.startNs)
    gaps.push(gapOf({ kind: 'downtime', ...inputs.downtime }));
  return mergeGaps(gaps);
}
