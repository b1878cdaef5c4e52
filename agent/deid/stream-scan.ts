// One stream's face scan schedule shared by the workers its frames are on. A frame gets its plan
// when a worker takes it (not when it is queued), so it is planned from everything done by then;
// what the frame before it has not yet told (its thumbnail, its faces) the frame's worker asks for
// when it needs it, and gets as soon as the earlier frames can tell.
import type { FaceScanContext, FaceScanPlan, FaceScanReport, FrameSignature } from './face-scan.ts';
import { FaceScanSchedule } from './face-scan.ts';
import type { DeidParams } from './params.ts';

/** One frame's part in its stream's schedule, from dispatch to its report. */
export interface FrameScan {
  readonly plan: FaceScanPlan | undefined;
  signature(signature: FrameSignature): void;
  reference(): Promise<FrameSignature | null>;
  context(): Promise<FaceScanContext>;
  /** Whether asking now would wait for an earlier frame still in flight. */
  waits(need: 'reference' | 'context'): boolean;
  /** The frame's report, or undefined when it failed; later calls are ignored. */
  finish(report: FaceScanReport | undefined): void;
}

/** Hands frames of one stream their plans and answers their questions. */
export class StreamScan {
  readonly #schedule: FaceScanSchedule;
  /** Questions not answerable yet; each returns true once it has been answered. */
  #waiting: Array<() => boolean> = [];

  constructor(
    params: Pick<DeidParams, 'faceSweepFrames' | 'faceHoldFrames' | 'plateEveryFrames' | 'plateHoldFrames'>,
  ) {
    this.#schedule = new FaceScanSchedule(params);
  }

  /** Plans the next frame; call when a worker takes it, and finish it whatever becomes of it. */
  begin(): FrameScan {
    const { index, plan } = this.#schedule.next();
    let finished = false;
    return {
      plan,
      signature: (signature) => {
        this.#schedule.publish(index, signature);
        this.#wake();
      },
      reference: () => this.#when(() => this.#schedule.referenceFor(index)),
      context: () => this.#when(() => this.#schedule.contextFor(index)),
      waits: (need) =>
        (need === 'reference' ? this.#schedule.referenceFor(index) : this.#schedule.contextFor(index)) ===
        undefined,
      finish: (report) => {
        if (finished) return;
        finished = true;
        if (report === undefined) this.#schedule.abandon(index);
        else this.#schedule.apply(index, report);
        this.#wake();
      },
    };
  }

  #when<T>(answer: () => T | undefined): Promise<T> {
    const now = answer();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve) => {
      this.#waiting.push(() => {
        const value = answer();
        if (value === undefined) return false;
        resolve(value);
        return true;
      });
    });
  }

  #wake(): void {
    this.#waiting = this.#waiting.filter((answered) => !answered());
  }
}
