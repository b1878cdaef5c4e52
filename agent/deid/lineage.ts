// The de-id transform record for one chunk: which models and parameters ran and what happened to
// the frames. Counts and digests only; never pixels, crops or plate text. In spill mode a chunk
// also says how many of its frames were blurred late (held, then blurred) and the longest delay.
import type { DetectionKind } from './geometry.ts';
import type { ModelSpec } from './models.ts';
import { paramsDigest, type DeidParams } from './params.ts';

/** Per-stream frame counts within one chunk. */
export interface DeidFrameCounts {
  /** Image frames offered to de-id. */
  in: number;
  /** Frames with at least one face or plate blurred. */
  withDetections: number;
  /** Dropped because detection failed, timed out or models were unusable. */
  failed: number;
  /** Dropped because the worker pool was full. */
  dropped: number;
  /** Frames of exempt streams, passed on unchanged. */
  exempt: number;
  /** Frames held in the holding area and blurred later (counted in `in` of the chunk they landed in). */
  blurredLate: number;
  /** Held frames that were never blurred (holding area full, stop budget spent, torn file). */
  heldLost: number;
}

/** The `transforms` entry of a capture-chunk record. */
export interface DeidLineage {
  readonly type: 'rigcap.deid';
  readonly version: 1;
  readonly enabled: boolean;
  readonly models: ReadonlyArray<{
    readonly name: string;
    readonly kind: DetectionKind;
    readonly sha256: string;
  }>;
  readonly params: DeidParams;
  readonly paramsDigest: string;
  readonly onFailure: 'drop';
  readonly onBackpressure: 'drop' | 'spill';
  /** Longest time a frame of this chunk waited in the holding area before it was blurred (decimal ns). */
  readonly maxLateDelayNs: string;
  readonly exemptStreams: readonly string[];
  readonly frames: DeidFrameCounts;
  readonly boxes: Readonly<Record<DetectionKind, number>>;
  /**
   * Of `boxes`, those filled from tracks where the frame's detector missed them (from earlier
   * frames inline; from frames on both sides for held frames blurred with lookahead).
   */
  readonly filled: Readonly<Record<DetectionKind, number>>;
  /** True when any frame in the chunk failed de-id (and was dropped). */
  readonly degraded: boolean;
  readonly streams: Readonly<Record<string, DeidFrameCounts>>;
}

/** What happened to one frame, as the accumulator counts it. */
export type FrameEvent =
  | {
      readonly kind: 'redacted';
      readonly boxes: Readonly<Record<DetectionKind, number>>;
      /** Set for a held frame: how long after it was held it was blurred. */
      readonly lateDelayNs?: bigint;
      /** Of `boxes`, those filled from tracks. */
      readonly filled?: Readonly<Record<DetectionKind, number>>;
    }
  | { readonly kind: 'heldLost' }
  | { readonly kind: 'failed' }
  | { readonly kind: 'dropped' }
  | { readonly kind: 'exempt' };

/** Boxes blurred in a frame, by kind. */
export function countBoxes(detections: readonly { kind: DetectionKind }[]): Record<DetectionKind, number> {
  const boxes = { face: 0, plate: 0 };
  for (const d of detections) boxes[d.kind]++;
  return boxes;
}

/** Of a frame's boxes, those its face scan filled from tracks (none when it had no scan). */
export function filledBoxes(
  report: { readonly filled: Readonly<Record<DetectionKind, number>> } | undefined,
): Record<DetectionKind, number> {
  return { face: report?.filled.face ?? 0, plate: report?.filled.plate ?? 0 };
}

function zeroCounts(): DeidFrameCounts {
  return { in: 0, withDetections: 0, failed: 0, dropped: 0, exempt: 0, blurredLate: 0, heldLost: 0 };
}

/** Counts frame outcomes until `take()` hands them over for a chunk and starts afresh. */
export class DeidLineageAccumulator {
  readonly #fixed: Pick<
    DeidLineage,
    'enabled' | 'models' | 'params' | 'paramsDigest' | 'exemptStreams' | 'onBackpressure'
  >;
  #maxLateDelayNs = 0n;
  #frames = zeroCounts();
  #boxes = { face: 0, plate: 0 };
  #filled = { face: 0, plate: 0 };
  #streams = new Map<string, DeidFrameCounts>();

  constructor(options: {
    enabled: boolean;
    models: readonly ModelSpec[];
    params: DeidParams;
    exemptStreams: readonly string[];
    /** `spill` when frames de-id cannot take in time are held rather than dropped. */
    onBackpressure?: 'drop' | 'spill';
  }) {
    this.#fixed = {
      enabled: options.enabled,
      models: options.models.map((m) => ({ name: m.name, kind: m.kind, sha256: m.sha256 })),
      params: options.params,
      paramsDigest: paramsDigest(options.params),
      exemptStreams: [...options.exemptStreams].sort(),
      onBackpressure: options.onBackpressure ?? 'drop',
    };
  }

  /** Counts one frame of a stream. */
  record(stream: string, event: FrameEvent): void {
    let perStream = this.#streams.get(stream);
    if (perStream === undefined) {
      perStream = zeroCounts();
      this.#streams.set(stream, perStream);
    }
    for (const counts of [this.#frames, perStream]) {
      counts.in++;
      if (event.kind === 'failed') counts.failed++;
      else if (event.kind === 'dropped') counts.dropped++;
      else if (event.kind === 'exempt') counts.exempt++;
      else if (event.kind === 'heldLost') counts.heldLost++;
      else {
        if (event.boxes.face + event.boxes.plate > 0) counts.withDetections++;
        if (event.lateDelayNs !== undefined) counts.blurredLate++;
      }
    }
    if (
      event.kind === 'redacted' &&
      event.lateDelayNs !== undefined &&
      event.lateDelayNs > this.#maxLateDelayNs
    )
      this.#maxLateDelayNs = event.lateDelayNs;
    if (event.kind === 'redacted') {
      this.#boxes.face += event.boxes.face;
      this.#boxes.plate += event.boxes.plate;
      this.#filled.face += event.filled?.face ?? 0;
      this.#filled.plate += event.filled?.plate ?? 0;
    }
  }

  /** The record for the chunk just closed (plain JSON); counting restarts at zero. */
  take(): DeidLineage {
    const lineage: DeidLineage = {
      type: 'rigcap.deid',
      version: 1,
      ...this.#fixed,
      onFailure: 'drop',
      maxLateDelayNs: this.#maxLateDelayNs.toString(),
      frames: this.#frames,
      boxes: this.#boxes,
      filled: this.#filled,
      degraded: this.#frames.failed > 0,
      streams: Object.fromEntries([...this.#streams].sort(([a], [b]) => (a < b ? -1 : 1))),
    };
    this.#frames = zeroCounts();
    this.#maxLateDelayNs = 0n;
    this.#boxes = { face: 0, plate: 0 };
    this.#filled = { face: 0, plate: 0 };
    this.#streams = new Map();
    return lineage;
  }
}
