// Face scanning across the frames of one video stream. Every frame scans the coarse tile levels;
// the finest level (small faces) is swept over `faceSweepFrames` frames, except that tiles whose
// content changed beyond the camera's own motion are scanned at once, and a cut, or motion that
// cannot be measured, gets a full scan. Faces and plates found are tracks, carried by the camera's
// motion: one not found again stays blurred for a few frames after it was last detected. The plate
// detector runs every `plateEveryFrames` frames; in between its tracks stay blurred. Pure: the
// stage keeps one schedule per stream (see stream-scan.ts) and sends each frame's plan to whichever
// worker takes it; with frames in flight at once, a frame asks for what the one before it has not
// yet told, so two workers on one stream do the same work as one.
import { RigcapError } from '../errors.ts';
import type { FrameMotion } from './frame-change.ts';
import type { PixelBox } from './geometry.ts';
import type { DeidParams } from './params.ts';
import {
  carryBox,
  carryTracks,
  predictTrack,
  updateTracks,
  type FrameFill,
  type Track,
} from './track-fill.ts';

/** A verification outcome at one place, reusable by later frames for a while. */
export interface FaceVerdict {
  readonly box: PixelBox;
  /** The tile score of the candidate that was verified. */
  readonly score: number;
  readonly face: boolean;
}

/** A face confirmed in an earlier frame, or a plate found there. */
export interface FaceTrack {
  /** Where it is expected in the planned frame (its own motion applied), in the context frame's pixels. */
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
  /** The stream frame it is of; set by the schedule when it hands it on as a reference. */
  readonly frame?: number;
}

/** What the frames before this one tell its scan once they are done. */
export interface FaceScanContext {
  /** The stream frame whose pixels the boxes below are in (-1: none yet). */
  readonly frame: number;
  readonly tracks: readonly FaceTrack[];
  readonly verdicts: readonly FaceVerdict[];
  /**
   * Plates: `run` when the latest detector result is too old to stand in for this frame (the
   * detector must run); the tracks are blurred either way, where the detector does not find them again.
   */
  readonly plates: { readonly run: boolean; readonly tracks: readonly FaceTrack[] };
}

/**
 * What one frame's face scan may skip and reuse. Absent: scan everything (a still image). With
 * several frames of a stream in flight at once, what an earlier frame has not yet told is `'ask'`:
 * the scan asks for it (see FaceScanPeer) when it needs it, and gets it once that frame can tell.
 */
export interface FaceScanPlan {
  /** Which share of the finest tiles to sweep in this frame: tiles with index % of === phase. */
  readonly sweep: { readonly phase: number; readonly of: number };
  /** The previous frame's thumbnail (change detection); needed before the tiles are scanned. */
  readonly reference: FrameSignature | null | 'ask';
  /** This frame's turn to run the plate detector (decided when it is dispatched). */
  readonly runPlates: boolean;
  /** Needed after the tiles are scanned, to verify candidates and blur what is held. */
  readonly context: FaceScanContext | 'ask';
  /** With lookahead (see StreamScanOptions): before its blur, the frame asks what to fill from the frames around it. */
  readonly fill?: 'ask';
}

/** How a frame's scan talks to the frames around it while several are in flight. */
export interface FaceScanPeer {
  /** Hands this frame's thumbnail on as soon as it exists: the next frame compares against it. */
  signature(signature: FrameSignature): void;
  reference(): Promise<FrameSignature | null>;
  context(): Promise<FaceScanContext>;
  /** Hands on what this frame found as soon as it is known, before its blur and encode. */
  report(report: FaceScanReport): void;
  /** Boxes between sightings before and after this frame that it lacks (asked only with lookahead). */
  fill(): Promise<FrameFill>;
}

/** `peer`, which a plan that asks needs: a frame redacted on its own has nothing to ask. */
export function askPeer(peer: FaceScanPeer | undefined): FaceScanPeer {
  if (peer !== undefined) return peer;
  throw new RigcapError(
    'RIGCAP_DEID_INFERENCE',
    'the face scan plan asks about earlier frames of its stream, but nothing can answer',
  );
}

/**
 * The context's boxes in the pixels of the frame being scanned: carried by the camera motion when
 * it was measured from the frame they are in. Otherwise they stay where they were (the frame is
 * scanned in full then) and only verdicts that a face was there are kept: a rejection at a place
 * that may have moved would let a face go unverified.
 */
export function contextInFrame(context: FaceScanContext, motion: FrameMotion | null): FaceScanContext {
  if (motion === null || motion.from !== context.frame)
    return { ...context, verdicts: context.verdicts.filter((v) => v.face) };
  const carry = <T extends { readonly box: PixelBox }>(x: T): T => ({ ...x, box: carryBox(x.box, motion) });
  return {
    frame: context.frame,
    tracks: context.tracks.map(carry),
    verdicts: context.verdicts.map(carry),
    plates: { run: context.plates.run, tracks: context.plates.tracks.map(carry) },
  };
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
  /** Of those, candidates the screening model rejected without the full model. */
  readonly screened: number;
  /** Plates found in this frame; null when the plate detector did not run on the whole of it. */
  readonly plates: readonly PixelBox[] | null;
  /** Plates found where the view changed, on a frame whose turn it was not to run the plate detector. */
  readonly platesNear: readonly PixelBox[];
  /** The camera's motion from the reference frame; null when it could not be measured. */
  readonly motion: FrameMotion | null;
  /** Boxes blurred from a track where this frame's detector did not find them (faces: not confirmed; plates: the detector ran and missed). */
  readonly filled: { readonly face: number; readonly plate: number };
}

/** Plans face scans for the frames of one stream and learns from their reports. */
export class FaceScanSchedule {
  readonly #sweepFrames: number;
  readonly #holdFrames: number;
  readonly #plateEvery: number;
  readonly #plateHold: number;
  #next = 0;
  #applied = -1;
  /** Frames planned and not yet reported or given up. */
  readonly #inFlight = new Set<number>();
  /** Tracks and verdicts are in the pixels of this frame (the latest applied). */
  #coords = -1;
  #tracks: Track[] = [];
  #verdicts: Array<FaceVerdict & { frame: number }> = [];
  /** Recent thumbnails by frame, published early or reported. */
  #signatures: Array<{ frame: number; signature: FrameSignature }> = [];
  #plateTracks: Track[] = [];
  /** The latest frame the plate detector ran on, reported. */
  #platesFound = -Infinity;
  /** The latest frame planned (or found) to run the plate detector. */
  #plateRun = -Infinity;

  constructor(
    params: Pick<DeidParams, 'faceSweepFrames' | 'faceHoldFrames' | 'plateEveryFrames' | 'plateHoldFrames'>,
  ) {
    this.#sweepFrames = params.faceSweepFrames;
    this.#holdFrames = params.faceHoldFrames;
    this.#plateEvery = params.plateEveryFrames;
    this.#plateHold = params.plateHoldFrames;
  }

  /** The plan for the next frame of the stream and its index (to hand back with the report). */
  next(): { index: number; plan: FaceScanPlan | undefined } {
    const index = this.#next++;
    if (this.#sweepFrames <= 1) return { index, plan: undefined };
    this.#inFlight.add(index);
    // Decided from the frames planned so far, done or not: a frame does not run the detector when an
    // earlier one already runs it within plateEvery frames (its plates reach this frame via the context).
    const runPlates = index % this.#plateEvery === 0 || index - this.#plateRun > this.#plateEvery;
    if (runPlates) this.#plateRun = index;
    const reference = this.referenceFor(index);
    return {
      index,
      plan: {
        sweep: { phase: index % this.#sweepFrames, of: this.#sweepFrames },
        // null is an answer (nothing to compare with); undefined is not yet known.
        reference: reference === undefined ? 'ask' : reference,
        runPlates,
        context: this.contextFor(index) ?? 'ask',
      },
    };
  }

  /** The previous frame's thumbnail; undefined while that frame is in flight and has not published it. */
  referenceFor(index: number): FrameSignature | null | undefined {
    let latest: { frame: number; signature: FrameSignature } | undefined;
    for (const s of this.#signatures)
      if (s.frame < index && (latest === undefined || s.frame > latest.frame)) latest = s;
    if (latest?.frame === index - 1) return latest.signature;
    // A previous frame that failed before its thumbnail leaves the latest one there is.
    if (this.#inFlight.has(index - 1)) return undefined;
    return latest?.signature ?? null;
  }

  /** What the earlier frames found, once all of them are done (undefined until then). */
  contextFor(index: number): FaceScanContext | undefined {
    for (const f of this.#inFlight) if (f < index) return undefined;
    const view = (hold: number) => (t: Track[]) =>
      t
        .filter((t) => index - t.frame <= hold)
        .map((t) => ({ box: predictTrack(t, index), score: t.score, age: index - t.frame - 1 }));
    const tracks = view(this.#holdFrames)(this.#tracks);
    // A verdict is reused for at most one sweep (a rejection, which also needs the place unchanged, two),
    // so every place is verified again that often.
    const verdicts = this.#verdicts
      .filter((v) => index - v.frame < this.#sweepFrames * (v.face ? 1 : 2))
      .map(({ box, score, face }) => ({ box, score, face }));
    // Plates may stand in from a result at most plateEvery frames old; an older one (the frame that
    // was to run the detector failed) makes this frame run it.
    const run = index - this.#platesFound > this.#plateEvery;
    return {
      frame: this.#coords,
      tracks,
      verdicts,
      plates: { run, tracks: view(this.#plateHold)(this.#plateTracks) },
    };
  }

  /** Takes in a frame's thumbnail before its scan is done, for the frame after it. */
  publish(index: number, signature: FrameSignature): void {
    if (this.#signatures.some((s) => s.frame === index)) return;
    this.#signatures.push({ frame: index, signature: { ...signature, frame: index } });
    // Only the newest few can still be asked for: at most one per frame in flight, and the latest done.
    if (this.#signatures.length > this.#inFlight.size + 2) {
      this.#signatures.sort((a, b) => a.frame - b.frame);
      this.#signatures.splice(0, this.#signatures.length - this.#inFlight.size - 2);
    }
  }

  /** A frame that will not report (failed, timed out, refused): later frames stop waiting for it. */
  abandon(index: number): void {
    this.#inFlight.delete(index);
  }

  /** Takes in what the scan of frame `index` found. Reports may arrive out of order. */
  apply(index: number, report: FaceScanReport): void {
    this.#inFlight.delete(index);
    this.publish(index, report.signature);
    if (report.plates !== null) this.#plateRun = Math.max(this.#plateRun, index);
    // Reports come in frame order (a frame's context waits for every frame before it); a late one
    // (its frame already given up on) has nothing left to tell.
    if (index <= this.#applied) return;
    this.#applied = index;
    if (report.cut) {
      this.#tracks = [];
      this.#verdicts = [];
      this.#plateTracks = [];
    } else {
      // Carried by the camera's motion when it was measured from the frame they are in; otherwise
      // (the frame was scanned in full) they stay where they were, as a hold.
      const motion = report.motion !== null && report.motion.from === this.#coords ? report.motion : null;
      this.#tracks = carryTracks(this.#tracks, motion);
      this.#plateTracks = carryTracks(this.#plateTracks, motion);
      this.#verdicts = this.#verdicts.map((v) => ({ ...v, box: carryBox(v.box, motion) }));
    }
    this.#coords = index;
    for (const v of report.verdicts) this.#verdicts.push({ ...v, frame: index });
    // Kept while a frame still to be planned or answered could reuse them (see contextFor).
    let oldest = this.#next;
    for (const f of this.#inFlight) oldest = Math.min(oldest, f);
    this.#verdicts = this.#verdicts.filter((v) => oldest - v.frame < this.#sweepFrames * 2);
    this.#tracks = updateTracks(this.#tracks, report.confirmed, index, this.#holdFrames);
    if (report.plates !== null) {
      this.#platesFound = index;
      this.#plateTracks = updateTracks(
        this.#plateTracks,
        report.plates.map((box) => ({ box, score: 1 })),
        index,
        this.#plateHold,
      );
    } else
      this.#plateTracks = updateTracks(
        this.#plateTracks,
        report.platesNear.map((box) => ({ box, score: 1 })),
        index,
        this.#plateHold,
      );
  }
}
