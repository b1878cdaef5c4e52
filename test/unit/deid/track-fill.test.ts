import { describe, expect, it } from 'vitest';
import { contextInFrame, FaceScanSchedule, type FaceScanReport } from '../../../agent/deid/face-scan.ts';
import type { FrameMotion } from '../../../agent/deid/frame-change.ts';
import { containment, type PixelBox } from '../../../agent/deid/geometry.ts';
import { thenAffine, warpBox, type Affine } from '../../../agent/deid/affine.ts';
import { deidParamsFor, defaultDeidConfig } from '../../../agent/deid/params.ts';
import { heldBoxes, LookaheadFill } from '../../../agent/deid/track-fill.ts';
import { stepAffine } from '../../support/ego-motion.ts';

const frame = { width: 1920, height: 1080 };
const params = deidParamsFor(defaultDeidConfig);
const signature = { frameWidth: 1920, frameHeight: 1080, width: 8, height: 4, grey: new Uint8Array(32) };
/** The camera zooms in, rolls and pans a little every frame. */
const step: Affine = stepAffine({ zoom: 1.01, rotateDeg: 0.3, panPx: { x: 12, y: -5 } }, frame);

/** Where a thing first at `start` is in frame t: carried by the camera, and walking 3 px a frame on its own. */
function truthAt(start: PixelBox, t: number): PixelBox {
  let view: Affine = { a: 1, b: 0, c: 0, d: 0, e: 1, f: 0 };
  for (let i = 0; i < t; i++) view = thenAffine(view, step);
  const box = warpBox(view, start);
  return { ...box, x: box.x + 3 * t };
}

function motionAt(t: number): FrameMotion | null {
  return t === 0 ? null : { from: t - 1, affine: step };
}

function report(t: number, over: Partial<FaceScanReport>): FaceScanReport {
  return {
    confirmed: [],
    verdicts: [],
    signature,
    full: t === 0,
    cut: false,
    changed: false,
    tilesScanned: 1,
    tilesTotal: 31,
    verifications: 0,
    screened: 0,
    plates: null,
    platesNear: [],
    motion: motionAt(t),
    filled: { face: 0, plate: 0 },
    ...over,
  };
}

/** Whether the blurred boxes (grown by the blur margin) cover at least 60 % of `box`, as the bench counts it. */
function blurred(box: PixelBox, boxes: readonly PixelBox[]): boolean {
  const grown = boxes.map((b) => ({
    x: b.x - b.w * params.marginRatio,
    y: b.y - b.h * params.marginRatio,
    w: b.w * (1 + 2 * params.marginRatio),
    h: b.h * (1 + 2 * params.marginRatio),
  }));
  return grown.some((b) => containment(box, b) >= 0.6);
}

/**
 * Runs a moving-camera stream through the schedule, the detector answering the truth except on
 * `missed` frames and after `lastSeen`; returns per frame whether the truth was blurred, how many
 * boxes were blurred and how many filled.
 */
function stream(o: { kind: 'face' | 'plate'; frames: number; missed: readonly number[]; lastSeen: number }) {
  const s = new FaceScanSchedule(params);
  const start = { x: 900, y: 500, w: o.kind === 'face' ? 40 : 90, h: o.kind === 'face' ? 40 : 22 };
  const out: Array<{ covered: boolean; boxes: number; filled: number }> = [];
  for (let t = 0; t < o.frames; t++) {
    const { index } = s.next();
    const told = s.contextFor(index);
    if (told === undefined) throw new Error('every earlier frame has reported');
    const context = contextInFrame(told, motionAt(t));
    const truth = truthAt(start, t);
    const found = t <= o.lastSeen && !o.missed.includes(t) ? [truth] : [];
    // Faces are looked for on every frame; the plate detector runs on every other frame.
    const looked = o.kind === 'face' || index % params.plateEveryFrames === 0;
    const tracks = o.kind === 'face' ? context.tracks : context.plates.tracks;
    const { held, filled } = heldBoxes(tracks, looked ? found : [], {
      looked,
      marginRatio: o.kind === 'face' ? params.faceHoldMarginRatio : params.plateHoldMarginRatio,
      frame,
    });
    const boxes = [...(looked ? found : []), ...held.map((h) => h.box)];
    out.push({ covered: t > o.lastSeen || blurred(truth, boxes), boxes: boxes.length, filled });
    s.apply(
      index,
      report(
        t,
        o.kind === 'face'
          ? { confirmed: found.map((box) => ({ box, score: 0.9 })) }
          : { plates: looked ? found : null },
      ),
    );
  }
  return out;
}

describe('filling detector misses from earlier frames (inline)', () => {
  it('a face the detector misses on single frames of a moving camera is still blurred there', () => {
    const run = stream({ kind: 'face', frames: 12, missed: [4, 7, 8], lastSeen: 11 });
    expect(run.map((f) => f.covered)).toEqual(Array(12).fill(true));
    expect(run.map((f) => f.filled)).toEqual([0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0]);
  });

  it('a plate the detector misses on one of its runs is still blurred on that frame and the next', () => {
    const run = stream({ kind: 'plate', frames: 12, missed: [4], lastSeen: 11 });
    expect(run.map((f) => f.covered)).toEqual(Array(12).fill(true));
    expect(run[4]!.filled).toBe(1);
  });

  it('a track that ends leaves no box beyond its hold', () => {
    const faces = stream({ kind: 'face', frames: 14, missed: [], lastSeen: 5 });
    const facesAfter = faces.slice(6).map((f) => f.boxes);
    expect(facesAfter).toEqual([
      ...Array(params.faceHoldFrames).fill(1),
      ...Array(8 - params.faceHoldFrames).fill(0),
    ]);
    const plates = stream({ kind: 'plate', frames: 14, missed: [], lastSeen: 6 });
    const platesAfter = plates.slice(7).map((f) => f.boxes);
    expect(platesAfter).toEqual([
      ...Array(params.plateHoldFrames).fill(1),
      ...Array(7 - params.plateHoldFrames).fill(0),
    ]);
  });

  it('a cut ends every track at once', () => {
    const s = new FaceScanSchedule(params);
    const box = { x: 10, y: 10, w: 40, h: 40 };
    s.apply(s.next().index, report(0, { confirmed: [{ box, score: 0.9 }], plates: [box] }));
    s.apply(s.next().index, report(1, { cut: true, full: true, motion: null }));
    const after = s.contextFor(s.next().index)!;
    expect([after.tracks, after.plates.tracks]).toEqual([[], []]);
  });
});

describe('filling detector misses from frames on both sides (lookahead)', () => {
  const start = { x: 600, y: 300, w: 40, h: 40 };
  /** Findings of a moving-camera stream: the face seen on `seen` frames. */
  function findings(frames: number, seen: (t: number) => boolean, reach: number): LookaheadFill {
    const fill = new LookaheadFill({ lookaheadFrames: reach });
    for (let t = 0; t < frames; t++)
      fill.record(t, { motion: motionAt(t), face: seen(t) ? [truthAt(start, t)] : [], plate: null });
    return fill;
  }

  it('interpolates a box missed on one frame or two between sightings within reach', () => {
    const fill = findings(12, (t) => t !== 5 && t !== 6, 2);
    for (const t of [5, 6]) {
      const boxes = fill.fillFor(t)!.face;
      expect(boxes).toHaveLength(1);
      expect(containment(truthAt(start, t), boxes[0]!)).toBeGreaterThan(0.8);
    }
    expect(fill.fillFor(4)!.face).toEqual([]);
  });

  it('does not fill past the end of a track, nor across a gap longer than its reach', () => {
    const ended = findings(12, (t) => t <= 5, 3);
    for (let t = 6; t < 12; t++) expect(ended.fillFor(t)!.face).toEqual([]);
    const gap = findings(12, (t) => t < 3 || t > 7, 2);
    for (let t = 3; t <= 7; t++) expect(gap.fillFor(t)!.face).toEqual([]);
  });

  it('does not interpolate across a frame whose camera motion is unknown', () => {
    const fill = new LookaheadFill({ lookaheadFrames: 2 });
    for (let t = 0; t < 8; t++)
      fill.record(t, {
        motion: t === 5 ? null : motionAt(t),
        face: t === 4 ? [] : [truthAt(start, t)],
        plate: null,
      });
    expect(fill.fillFor(4)!.face).toEqual([]);
    expect(fill.fillFor(9)).toBeUndefined();
  });
});
