// One stream's face scan schedule shared by the workers its frames are on. A frame gets its plan
// when a worker takes it (not when it is queued), so it is planned from everything done by then;
// what the frame before it has not yet told (its thumbnail, its faces) the frame's worker asks for
// when it needs it, and gets as soon as the earlier frames can tell. With lookahead, a frame's
// blur also waits for the frames after it, to fill what its detector missed between sightings.
import type { FaceScanContext, FaceScanPlan, FaceScanReport, FrameSignature } from './face-scan.ts';
import { FaceScanSchedule } from './face-scan.ts';
import type { DeidParams } from './params.ts';
import { LookaheadFill, type FrameFill } from './track-fill.ts';

/** How a stream's frames may use each other. */
export interface StreamScanOptions {
  /**
   * 0 (default, inline): a frame uses only the frames before it. k > 0: a frame's blur waits until
   * the k frames after it have been scanned (or `flush()` says none will come), and a face or plate
   * seen within k frames on both sides but missed in it is blurred at the box interpolated between
   * the sightings. For a pass over frames already held (nothing waits on each frame): the caller
   * keeps at least k + 1 frames of the stream submitted, or calls `flush()` after the last.
   */
  readonly lookaheadFrames?: number;
}

const noFill: FrameFill = { face: [], plate: [] };

/** One frame's part in its stream's schedule, from dispatch to its report. */
export interface FrameScan {
  readonly plan: FaceScanPlan | undefined;
  signature(signature: FrameSignature): void;
  reference(): Promise<FrameSignature | null>;
  context(): Promise<FaceScanContext>;
  /**
   * With lookahead: boxes between sightings before and after the frame that it lacks; once
   * `fillWaitMs` (see `begin`) has passed, from the frames done by then.
   */
  fill(): Promise<FrameFill>;
  /** Whether asking now would wait for another frame still in flight. */
  waits(need: 'reference' | 'context' | 'fill'): boolean;
  /** The frame's report, or undefined when it failed; later calls are ignored. */
  finish(report: FaceScanReport | undefined): void;
}

/** Hands frames of one stream their plans and answers their questions. */
export class StreamScan {
  readonly #schedule: FaceScanSchedule;
  readonly #fill: LookaheadFill | undefined;
  /** Questions not answerable yet; each returns true once it has been answered. */
  #waiting: Array<() => boolean> = [];
  #begun = 0;
  /** Every frame below this one is reported or given up; of those above it, the ones in `#done`. */
  #doneBelow = 0;
  readonly #done = new Set<number>();
  /** Frames begun before the last flush: none after them will come for their fill. */
  #flushedBelow = 0;

  constructor(
    params: Pick<DeidParams, 'faceSweepFrames' | 'faceHoldFrames' | 'plateEveryFrames' | 'plateHoldFrames'>,
    options: StreamScanOptions = {},
  ) {
    this.#schedule = new FaceScanSchedule(params);
    const k = Math.max(0, Math.floor(options.lookaheadFrames ?? 0));
    this.#fill = k > 0 ? new LookaheadFill({ lookaheadFrames: k }) : undefined;
  }

  /**
   * Plans the next frame; call when a worker takes it, and finish it whatever becomes of it.
   * `last`: no frame of the stream follows this one (for now), so no fill waits for one.
   * `fillWaitMs`: its fill waits at most this long from now for the frames after it (a frame
   * must never run into its deadline for frames that are slow to come).
   */
  begin(options: { last?: boolean; fillWaitMs?: number } = {}): FrameScan {
    const { index, plan: planned } = this.#schedule.next();
    const fillBy = options.fillWaitMs === undefined ? undefined : performance.now() + options.fillWaitMs;
    this.#begun = index + 1;
    if (options.last === true) this.#flushedBelow = this.#begun;
    const plan =
      planned !== undefined && this.#fill !== undefined ? { ...planned, fill: 'ask' as const } : planned;
    let finished = false;
    return {
      plan,
      signature: (signature) => {
        this.#schedule.publish(index, signature);
        this.#wake();
      },
      reference: () => this.#when(() => this.#schedule.referenceFor(index)),
      context: () => this.#when(() => this.#schedule.contextFor(index)),
      fill: () =>
        this.#when(
          () => this.#fillFor(index),
          fillBy === undefined
            ? undefined
            : { byMs: fillBy, known: () => this.#fill?.fillFor(index) ?? noFill },
        ),
      waits: (need) =>
        (need === 'reference'
          ? this.#schedule.referenceFor(index)
          : need === 'context'
            ? this.#schedule.contextFor(index)
            : this.#fillFor(index)) === undefined,
      finish: (report) => {
        if (finished) return;
        finished = true;
        this.#done.add(index);
        while (this.#done.delete(this.#doneBelow)) this.#doneBelow++;
        if (report === undefined) this.#schedule.abandon(index);
        else {
          this.#schedule.apply(index, report);
          this.#fill?.record(index, {
            motion: report.motion,
            face: report.confirmed.map((c) => c.box),
            plate: report.plates ?? (report.platesNear.length > 0 ? report.platesNear : null),
          });
          // A frame asks for its fill a moment after it reports: keep some frames more than the reach.
          this.#fill?.forgetBefore(this.#doneBelow - this.#fill.lookaheadFrames - 16);
        }
        this.#wake();
      },
    };
  }

  /** No frame after those begun so far will come soon: frames waiting for lookahead are filled from what is known now. */
  flush(): void {
    this.#flushedBelow = this.#begun;
    this.#wake();
  }

  /** The frame's fill once every frame within reach after it is done (or will not come); undefined until then. */
  #fillFor(index: number): FrameFill | undefined {
    const fill = this.#fill;
    if (fill === undefined) return noFill;
    for (let j = index + 1; j <= index + fill.lookaheadFrames; j++) {
      const done = j < this.#doneBelow || this.#done.has(j);
      const none = index < this.#flushedBelow && j >= this.#flushedBelow;
      if (!done && !none) return undefined;
    }
    return fill.fillFor(index) ?? noFill;
  }

  /** `answer()` once it is known; with `late`, what `late.known()` says at `late.byMs` if it is not by then. */
  #when<T>(answer: () => T | undefined, late?: { byMs: number; known: () => T }): Promise<T> {
    const now = answer();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      if (late !== undefined) {
        timer = setTimeout(
          () => {
            settled = true;
            resolve(answer() ?? late.known());
            this.#wake();
          },
          Math.max(0, late.byMs - performance.now()),
        );
        // The job's own deadline timer keeps the process up while the frame is in flight.
        timer.unref();
      }
      this.#waiting.push(() => {
        if (settled) return true;
        const value = answer();
        if (value === undefined) return false;
        clearTimeout(timer);
        resolve(value);
        return true;
      });
    });
  }

  #wake(): void {
    this.#waiting = this.#waiting.filter((answered) => !answered());
  }
}

/** The scan of `stream` in `scans`, made on first use (with lookahead `lookaheadFrames`). */
export function scanFor(
  scans: Map<string, StreamScan>,
  stream: string,
  params: ConstructorParameters<typeof StreamScan>[0],
  lookaheadFrames = 0,
): StreamScan {
  let scan = scans.get(stream);
  if (scan === undefined) {
    scan = new StreamScan(params, { lookaheadFrames });
    scans.set(stream, scan);
  }
  return scan;
}
