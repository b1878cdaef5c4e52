// Faces and plates followed from frame to frame, so that one the detector misses for a frame or
// two (turned away, motion blur, an occluder) is still blurred there. A track lives in the pixels
// of the latest frame it was carried to: the camera's motion carries it, its own velocity moves it
// on, and it ends a fixed number of frames after it was last detected, so it leaves no ghost. Pure.
import type { FrameMotion } from './frame-change.ts';
import { dilateBox, iou, type Detection, type PixelBox } from './geometry.ts';
import { identityAffine, invertAffine, thenAffine, warpBox } from './affine.ts';

/** A face or plate last detected in frame `frame`, carried to the schedule's current frame. */
export interface Track {
  /** The box where it was last detected, carried by the camera's motion since. */
  readonly anchor: PixelBox;
  readonly score: number;
  /** The stream frame it was last detected in. */
  readonly frame: number;
  /** Its own motion per frame (camera motion removed), frame pixels. */
  readonly velocity: { readonly x: number; readonly y: number };
}

/** `box` moved by `dx`, `dy`. */
export function shiftBox(box: PixelBox, dx: number, dy: number): PixelBox {
  return { x: box.x + dx, y: box.y + dy, w: box.w, h: box.h };
}

/** Where the track is expected in frame `index` (in the pixels it is carried in). */
export function predictTrack(track: Track, index: number): PixelBox {
  const gap = index - track.frame;
  return shiftBox(track.anchor, track.velocity.x * gap, track.velocity.y * gap);
}

/** The box carried into the next frame's pixels by the camera motion (unchanged when there is none). */
export function carryBox(box: PixelBox, motion: FrameMotion | null): PixelBox {
  return motion === null ? box : warpBox(motion.affine, box);
}

/** Whether a detection is the same thing as a predicted box: overlapping, or its centre inside it. */
export function sameThing(predicted: PixelBox, found: PixelBox): boolean {
  if (iou(predicted, found) > 0.2) return true;
  const cx = found.x + found.w / 2;
  const cy = found.y + found.h / 2;
  const similarSize = found.h < predicted.h * 2 && predicted.h < found.h * 2;
  return (
    similarSize &&
    cx >= predicted.x &&
    cx <= predicted.x + predicted.w &&
    cy >= predicted.y &&
    cy <= predicted.y + predicted.h
  );
}

/**
 * The tracks after frame `index`'s detections: matched tracks move to the detection (their velocity
 * learnt from the move), new detections start tracks, and tracks not detected for more than
 * `holdFrames` frames end. The tracks must already be carried into frame `index`'s pixels.
 */
export function updateTracks(
  tracks: readonly Track[],
  found: ReadonlyArray<{ readonly box: PixelBox; readonly score: number }>,
  index: number,
  holdFrames: number,
): Track[] {
  const taken = new Set<Track>();
  const out: Track[] = [];
  for (const f of found) {
    let match: Track | undefined;
    let best = -1;
    for (const t of tracks) {
      if (taken.has(t)) continue;
      const predicted = predictTrack(t, index);
      if (!sameThing(predicted, f.box)) continue;
      const overlap = iou(predicted, f.box);
      if (overlap > best) {
        best = overlap;
        match = t;
      }
    }
    if (match === undefined) {
      out.push({ anchor: f.box, score: f.score, frame: index, velocity: { x: 0, y: 0 } });
      continue;
    }
    taken.add(match);
    out.push({ anchor: f.box, score: f.score, frame: index, velocity: learnVelocity(match, f.box, index) });
  }
  for (const t of tracks) if (!taken.has(t) && index - t.frame <= holdFrames) out.push(t);
  return out;
}

/** Damped velocity from a track's move, capped at half its size a frame (a detection's jitter is not motion). */
function learnVelocity(track: Track, box: PixelBox, index: number): { x: number; y: number } {
  const gap = Math.max(1, index - track.frame);
  const mx = (box.x + box.w / 2 - (track.anchor.x + track.anchor.w / 2)) / gap;
  const my = (box.y + box.h / 2 - (track.anchor.y + track.anchor.h / 2)) / gap;
  const cap = Math.max(box.w, box.h) / 2;
  const clamp = (v: number): number => Math.max(-cap, Math.min(cap, v));
  return { x: clamp((track.velocity.x + mx) / 2), y: clamp((track.velocity.y + my) / 2) };
}

/** Every track's anchor carried into the next frame's pixels. */
export function carryTracks(tracks: readonly Track[], motion: FrameMotion | null): Track[] {
  if (motion === null) return [...tracks];
  return tracks.map((t) => ({ ...t, anchor: carryBox(t.anchor, motion) }));
}

/** The box between two sightings of one thing, linear in time: `before` at frame fb, `after` at fa. */
export function interpolateBox(
  before: PixelBox,
  fb: number,
  after: PixelBox,
  fa: number,
  index: number,
): PixelBox {
  const k = fa === fb ? 0 : (index - fb) / (fa - fb);
  const mix = (p: number, q: number): number => p + (q - p) * k;
  return {
    x: mix(before.x, after.x),
    y: mix(before.y, after.y),
    w: mix(before.w, after.w),
    h: mix(before.h, after.h),
  };
}

/**
 * Boxes to blur for tracks this frame's detector did not find again (every track where it did not
 * look, the missed ones where it did), each grown by `marginRatio`; `filled` counts the missed ones.
 */
export function heldBoxes(
  tracks: ReadonlyArray<{ readonly box: PixelBox; readonly score: number }>,
  found: readonly PixelBox[],
  o: { looked: boolean; marginRatio: number; frame: { width: number; height: number } },
): { held: Array<{ box: PixelBox; score: number }>; filled: number } {
  const held: Array<{ box: PixelBox; score: number }> = [];
  let filled = 0;
  for (const t of tracks) {
    if (found.some((f) => sameThing(t.box, f))) continue;
    if (o.looked) filled++;
    held.push({ box: dilateBox(t.box, o.marginRatio, o.frame), score: t.score });
  }
  return { held, filled };
}

/** The fill's boxes the frame does not already blur, grown by `marginRatio`, as detections (score 0). */
export function fillDetections(
  detections: readonly Detection[],
  fill: FrameFill,
  o: { marginRatio: number; frame: { width: number; height: number } },
): Detection[] {
  const out: Detection[] = [];
  for (const kind of ['face', 'plate'] as const) {
    const have = detections.filter((d) => d.kind === kind).map((d) => d.box);
    for (const box of fill[kind]) {
      if (have.some((b) => sameThing(box, b) || sameThing(b, box))) continue;
      out.push({ kind, box: dilateBox(box, o.marginRatio, o.frame), score: 0 });
    }
  }
  return out;
}

/** What one frame's detectors found, and how the camera moved to it (for filling frames around it). */
export interface FrameFindings {
  readonly motion: FrameMotion | null;
  readonly face: readonly PixelBox[];
  /** Null when the plate detector did not run on the frame. */
  readonly plate: readonly PixelBox[] | null;
}

/** Boxes between sightings before and after a frame, in that frame's pixels. */
export interface FrameFill {
  readonly face: readonly PixelBox[];
  readonly plate: readonly PixelBox[];
}

/**
 * Fills a frame from frames on both sides of it: a face or plate seen within `lookaheadFrames`
 * before and within as many after, but not in the frame itself, is blurred there at the box
 * interpolated between the two sightings (both carried into the frame's pixels by the camera
 * motion between). A thing seen on one side only is not filled: no ghost outlives its track.
 */
export class LookaheadFill {
  readonly #reach: number;
  readonly #frames = new Map<number, FrameFindings>();

  constructor(options: { lookaheadFrames: number }) {
    this.#reach = Math.max(0, Math.floor(options.lookaheadFrames));
  }

  get lookaheadFrames(): number {
    return this.#reach;
  }

  /** Takes in what frame `index` found. */
  record(index: number, findings: FrameFindings): void {
    this.#frames.set(index, findings);
  }

  /** Forgets frames no later frame can need (before `index` − lookahead). */
  forgetBefore(index: number): void {
    for (const f of this.#frames.keys()) if (f < index - this.#reach) this.#frames.delete(f);
  }

  /** The boxes frame `index` lacks between sightings around it (undefined: its own findings are unknown). */
  fillFor(index: number): FrameFill | undefined {
    const own = this.#frames.get(index);
    if (own === undefined) return undefined;
    return { face: this.#fill(index, 'face'), plate: this.#fill(index, 'plate') };
  }

  #fill(index: number, kind: 'face' | 'plate'): PixelBox[] {
    const own = [...(this.#frames.get(index)?.[kind] ?? [])];
    const out: PixelBox[] = [];
    for (let q = index + 1; q <= index + this.#reach; q++) {
      const later = this.#frames.get(q)?.[kind];
      const toHere = this.#map(q, index);
      if (later == null || toHere === undefined) continue;
      for (const seen of later) {
        const after = toHere(seen);
        if ([...own, ...out].some((b) => sameThing(after, b) || sameThing(b, after))) continue;
        const before = this.#sightingBefore(index, after, kind);
        if (before !== undefined) out.push(interpolateBox(before.box, before.frame, after, q, index));
      }
    }
    return out;
  }

  /** The latest sighting within reach before `index` of the thing at `at` (in `index`'s pixels). */
  #sightingBefore(
    index: number,
    at: PixelBox,
    kind: 'face' | 'plate',
  ): { box: PixelBox; frame: number } | undefined {
    for (let p = index - 1; p >= index - this.#reach; p--) {
      const earlier = this.#frames.get(p)?.[kind];
      const toHere = this.#map(p, index);
      if (earlier == null || toHere === undefined) continue;
      for (const seen of earlier) {
        const box = toHere(seen);
        if (sameThing(box, at) || sameThing(at, box)) return { box, frame: p };
      }
    }
    return undefined;
  }

  /** Frame `from`'s pixels → frame `to`'s, through the measured motion of every frame between; undefined if a link is missing. */
  #map(from: number, to: number): ((box: PixelBox) => PixelBox) | undefined {
    let affine = identityAffine;
    if (from < to) {
      for (let f = from + 1; f <= to; f++) {
        const m = this.#frames.get(f)?.motion;
        if (m == null || m.from !== f - 1) return undefined;
        affine = thenAffine(affine, m.affine);
      }
    } else {
      for (let f = from; f > to; f--) {
        const m = this.#frames.get(f)?.motion;
        if (m == null || m.from !== f - 1) return undefined;
        affine = thenAffine(affine, invertAffine(m.affine));
      }
    }
    return (box) => warpBox(affine, box);
  }
}
