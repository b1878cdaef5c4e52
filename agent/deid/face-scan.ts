// Face scanning across the frames of one video stream. Every frame scans the coarse tile levels;
// the finest level (small faces) is swept over `faceSweepFrames` frames, except that tiles around
// known faces and tiles whose content changed are scanned at once, and a cut or fast pan gets a
// full scan. Confirmed faces stay blurred for a few frames after they were last seen. The plate
// detector runs every `plateEveryFrames` frames; in between its last plates stay blurred. Pure: the
// stage keeps one schedule per stream and sends each frame's plan to whichever worker takes it.
import { iou, type PixelBox } from './geometry.ts';
import type { DeidParams } from './params.ts';

/** A verification outcome at one place, reusable by later frames for a while. */
export interface FaceVerdict {
  readonly box: PixelBox;
  /** The tile score of the candidate that was verified. */
  readonly score: number;
  readonly face: boolean;
}

/** A face confirmed in an earlier frame. */
export interface FaceTrack {
  readonly box: PixelBox;
  readonly score: number;
  /** Frames since it was last confirmed (0 = the frame just before). */
  readonly age: number;
}

/** A grey thumbnail of a frame (its coarse tile level), to tell which regions changed. */
export interface FrameSignature {
  readonly frameWidth: number;
  readonly frameHeight: number;
  readonly width: number;
  readonly height: number;
  readonly grey: Uint8Array;
}

/** What one frame's face scan may skip and reuse. Absent: scan everything (a still image). */
export interface FaceScanPlan {
  /** Which share of the finest tiles to sweep in this frame: tiles with index % of === phase. */
  readonly sweep: { readonly phase: number; readonly of: number };
  readonly tracks: readonly FaceTrack[];
  readonly verdicts: readonly FaceVerdict[];
  readonly reference: FrameSignature | null;
  /** Plates: run the detector on this frame, or blur the plates it found last time, grown for motion. */
  readonly plates: { readonly run: true } | { readonly run: false; readonly held: readonly PixelBox[] };
}

/** What a face scan did and found, for the schedule's next plans and for the bench. */
export interface FaceScanReport {
  /** Faces confirmed in this frame (by verification, a fresh verdict or a track). */
  readonly confirmed: ReadonlyArray<{ readonly box: PixelBox; readonly score: number }>;
  /** Verifications run in this frame. */
  readonly verdicts: readonly FaceVerdict[];
  readonly signature: FrameSignature;
  /** True when every tile of every level was scanned. */
  readonly full: boolean;
  /** True when the whole view changed since the reference: earlier faces and verdicts were dropped. */
  readonly cut: boolean;
  /** True when some place in the frame changed more than `faceTileChangeGrey` (something appeared). */
  readonly changed: boolean;
  readonly tilesScanned: number;
  readonly tilesTotal: number;
  readonly verifications: number;
  /** Plates found in this frame; null when the plate detector did not run on it. */
  readonly plates: readonly PixelBox[] | null;
}

/** Plans face scans for the frames of one stream and learns from their reports. */
export class FaceScanSchedule {
  readonly #sweepFrames: number;
  readonly #holdFrames: number;
  readonly #plateEvery: number;
  #next = 0;
  #applied = -1;
  #tracks: Array<{ box: PixelBox; score: number; frame: number }> = [];
  #verdicts: Array<FaceVerdict & { frame: number }> = [];
  #reference: FrameSignature | null = null;
  #plates: { frame: number; boxes: readonly PixelBox[] } | null = null;
  /** The latest frame planned to run the plate detector (its result may still be in flight). */
  #plateRun = -1;

  constructor(params: Pick<DeidParams, 'faceSweepFrames' | 'faceHoldFrames' | 'plateEveryFrames'>) {
    this.#sweepFrames = params.faceSweepFrames;
    this.#holdFrames = params.faceHoldFrames;
    this.#plateEvery = params.plateEveryFrames;
  }

  /** The plan for the next frame of the stream and its index (to hand back with the report). */
  next(): { index: number; plan: FaceScanPlan | undefined } {
    const index = this.#next++;
    if (this.#sweepFrames <= 1) return { index, plan: undefined };
    const tracks = this.#tracks
      .filter((t) => index - t.frame <= this.#holdFrames)
      .map((t) => ({ box: t.box, score: t.score, age: index - t.frame - 1 }));
    // A verdict is reused for at most one sweep (a rejection, which also needs the place unchanged, two),
    // so every place is verified again that often.
    const verdicts = this.#verdicts
      .filter((v) => index - v.frame < this.#sweepFrames * (v.face ? 1 : 2))
      .map(({ box, score, face }) => ({ box, score, face }));
    // Plates are skipped only when a result at most plateEvery frames old can stand in for them. With
    // frames in flight (workers > 1), a run planned after that result is still coming: the plates it
    // will find cover this frame's turn, so the last result may be one frame older. A frame where
    // something appeared still runs the detector itself (see detectPlanned).
    const last = this.#plates;
    const inFlightRun = last !== null && this.#plateRun > last.frame && this.#plateRun < index;
    const maxAge = this.#plateEvery + (inFlightRun ? 1 : 0);
    const run = index % this.#plateEvery === 0 || last === null || index - last.frame > maxAge;
    if (run) this.#plateRun = index;
    const plates = run ? { run: true as const } : { run: false as const, held: last.boxes };
    return {
      index,
      plan: {
        sweep: { phase: index % this.#sweepFrames, of: this.#sweepFrames },
        tracks,
        verdicts,
        reference: this.#reference,
        plates,
      },
    };
  }

  /** Takes in what the scan of frame `index` found. Reports may arrive out of order. */
  apply(index: number, report: FaceScanReport): void {
    if (report.cut && index > this.#applied) {
      this.#tracks = [];
      this.#verdicts = [];
    }
    if (report.plates !== null && (this.#plates === null || index > this.#plates.frame))
      this.#plates = { frame: index, boxes: report.plates };
    for (const v of report.verdicts) this.#verdicts.push({ ...v, frame: index });
    this.#verdicts = this.#verdicts.filter((v) => this.#next - v.frame <= this.#sweepFrames * 2);
    if (index <= this.#applied) return;
    this.#applied = index;
    this.#reference = report.signature;
    const kept = this.#tracks.filter(
      (t) => index - t.frame <= this.#holdFrames && !report.confirmed.some((c) => iou(c.box, t.box) > 0.2),
    );
    this.#tracks = [...kept, ...report.confirmed.map((c) => ({ box: c.box, score: c.score, frame: index }))];
  }
}
