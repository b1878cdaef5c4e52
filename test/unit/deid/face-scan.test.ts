import { describe, expect, it } from 'vitest';
import {
  FaceScanSchedule,
  type FaceScanContext,
  type FaceScanPlan,
  type FaceScanReport,
  type FrameSignature,
} from '../../../agent/deid/face-scan.ts';
import { StreamScan } from '../../../agent/deid/stream-scan.ts';
import { deidParamsFor, defaultDeidConfig } from '../../../agent/deid/params.ts';

const signature: FrameSignature = {
  frameWidth: 64,
  frameHeight: 32,
  width: 8,
  height: 4,
  grey: new Uint8Array(32),
};

function report(over: Partial<FaceScanReport> = {}): FaceScanReport {
  return {
    confirmed: [],
    verdicts: [],
    signature,
    full: false,
    cut: false,
    changed: false,
    tilesScanned: 1,
    tilesTotal: 4,
    verifications: 0,
    screened: 0,
    plates: [],
    platesNear: [],
    motion: null,
    filled: { face: 0, plate: 0 },
    ...over,
  };
}

/** The plan's context, which a frame planned after every earlier frame reported has at once. */
function context(plan: FaceScanPlan | undefined): FaceScanContext {
  if (plan === undefined || plan.context === 'ask') throw new Error('expected a context in the plan');
  return plan.context;
}

describe('FaceScanSchedule', () => {
  const params = deidParamsFor({ ...defaultDeidConfig, faceSweepFrames: 3 });

  it('sweeps the fine tiles in turn and has no reference before the first report', () => {
    const s = new FaceScanSchedule(params);
    const first = s.next();
    expect(first.plan?.reference).toBeNull();
    expect(first.plan?.runPlates).toBe(true);
    s.apply(first.index, report());
    const phases = [1, 2, 3].map(() => s.next().plan?.sweep);
    expect(phases).toEqual([
      { phase: 1, of: 3 },
      { phase: 2, of: 3 },
      { phase: 0, of: 3 },
    ]);
  });

  it('holds a confirmed face for faceHoldFrames frames, then lets it go', () => {
    const s = new FaceScanSchedule(params);
    const box = { x: 10, y: 10, w: 8, h: 8 };
    s.apply(s.next().index, report({ confirmed: [{ box, score: 0.9 }] }));
    const held: number[] = [];
    for (let i = 0; i < params.faceHoldFrames + 2; i++) {
      const { index, plan } = s.next();
      held.push(context(plan).tracks.length);
      s.apply(index, report());
    }
    expect(held).toEqual([...Array(params.faceHoldFrames).fill(1), 0, 0]);
  });

  it('a cut drops faces and verdicts; plates found are held on the frames that skip the detector', () => {
    const s = new FaceScanSchedule(params);
    const plate = { x: 1, y: 2, w: 12, h: 3 };
    s.apply(
      s.next().index,
      report({
        confirmed: [{ box: { x: 10, y: 10, w: 8, h: 8 }, score: 0.9 }],
        verdicts: [{ box: plate, score: 0.4, face: false }],
        plates: [plate],
      }),
    );
    const skip = s.next();
    expect(skip.plan?.runPlates).toBe(false);
    expect(context(skip.plan).plates).toEqual({ run: false, tracks: [{ box: plate, score: 1, age: 0 }] });
    s.apply(skip.index, report({ cut: true, full: true, plates: null }));
    const after = s.next();
    expect(context(after.plan).tracks).toEqual([]);
    expect(context(after.plan).verdicts).toEqual([]);
  });

  it('a frame planned while the one before is in flight asks, and is answered once that frame tells', () => {
    const s = new FaceScanSchedule(params);
    const face = { box: { x: 10, y: 10, w: 8, h: 8 }, score: 0.9 };
    const f0 = s.next();
    const f1 = s.next();
    expect(f1.plan).toMatchObject({ reference: 'ask', context: 'ask' });
    expect(s.referenceFor(f1.index)).toBeUndefined();
    const early = { ...signature, grey: new Uint8Array(32).fill(7) };
    s.publish(f0.index, early);
    expect(s.referenceFor(f1.index)).toEqual({ ...early, frame: f0.index });
    expect(s.contextFor(f1.index)).toBeUndefined();
    s.apply(f0.index, report({ signature: early, confirmed: [face] }));
    expect(s.contextFor(f1.index)?.tracks).toEqual([{ ...face, age: 0 }]);
  });

  it('the plate run is taken by the frame whose turn it is; a frame after a failed run runs it itself', () => {
    // plateEveryFrames is 2: frames 0, 2, 4 … run the plate detector.
    const s = new FaceScanSchedule(params);
    const plate = { x: 1, y: 2, w: 12, h: 3 };
    const f0 = s.next();
    s.apply(f0.index, report({ plates: [plate] }));
    const f1 = s.next();
    expect(f1.plan?.runPlates).toBe(false);
    s.apply(f1.index, report({ plates: null }));
    const f2 = s.next();
    const f3 = s.next();
    expect([f2.plan?.runPlates, f3.plan?.runPlates]).toEqual([true, false]);
    // Frame 2 succeeds: frame 3 blurs its plates, and still the plate frame 0 found and frame 2 missed.
    const found = { x: 5, y: 6, w: 14, h: 4 };
    s.apply(f2.index, report({ plates: [found] }));
    expect(s.contextFor(f3.index)?.plates).toEqual({
      run: false,
      tracks: [
        { box: found, score: 1, age: 0 },
        { box: plate, score: 1, age: 2 },
      ],
    });
    s.apply(f3.index, report({ plates: null }));
    // Frame 4 (its turn) fails: frame 5, planned while it was in flight, runs the detector instead.
    const f4 = s.next();
    const f5 = s.next();
    expect(f5.plan?.runPlates).toBe(false);
    s.abandon(f4.index);
    expect(s.contextFor(f5.index)?.plates.run).toBe(true);
  });

  it('a frame that failed before its thumbnail leaves the latest one as the reference', () => {
    const s = new FaceScanSchedule(params);
    const f0 = s.next();
    s.apply(f0.index, report());
    const f1 = s.next();
    const f2 = s.next();
    s.abandon(f1.index);
    expect(s.referenceFor(f2.index)).toEqual({ ...signature, frame: f0.index });
  });

  it('plans nothing (scan all) when sweeping is off', () => {
    const s = new FaceScanSchedule(deidParamsFor({ ...defaultDeidConfig, faceSweepFrames: 1 }));
    expect(s.next().plan).toBeUndefined();
  });
});

describe('StreamScan', () => {
  const params = deidParamsFor({ ...defaultDeidConfig, faceSweepFrames: 3 });

  it("answers a frame's questions when the frame before it publishes and reports, and stops waiting for a failed one", async () => {
    const scan = new StreamScan(params);
    const a = scan.begin();
    const b = scan.begin();
    const c = scan.begin();
    expect(b.waits('reference')).toBe(true);
    const reference = b.reference();
    const bContext = b.context();
    a.signature(signature);
    expect(await reference).toEqual({ ...signature, frame: 0 });
    let answered = false;
    void bContext.then(() => (answered = true));
    await Promise.resolve();
    expect(answered).toBe(false);
    a.finish(report({ confirmed: [{ box: { x: 1, y: 1, w: 8, h: 8 }, score: 0.9 }] }));
    expect((await bContext).tracks).toHaveLength(1);
    // b fails: c's context no longer waits for it.
    const cContext = c.context();
    b.finish(undefined);
    expect((await cContext).tracks).toHaveLength(1);
    // Finishing twice is ignored.
    b.finish(report());
    expect(c.waits('context')).toBe(false);
  });
});

describe('StreamScan with lookahead', () => {
  const params = deidParamsFor({ ...defaultDeidConfig, faceSweepFrames: 3 });
  const face = (x: number) => ({ box: { x, y: 100, w: 40, h: 40 }, score: 0.9 });
  const still = (from: number) => ({ from, affine: { a: 1, b: 0, c: 0, d: 0, e: 1, f: 0 } });

  it('answers a frame its fill once the frames within reach after it have reported, interpolating a miss', async () => {
    const scan = new StreamScan(params, { lookaheadFrames: 2 });
    const frames = [0, 1, 2, 3].map(() => scan.begin());
    expect(frames[0]!.plan?.fill).toBe('ask');
    frames[0]!.finish(report({ confirmed: [face(100)] }));
    // Frame 1 misses the face that frames 0 and 2 see.
    frames[1]!.finish(report({ confirmed: [], motion: still(0) }));
    let answered = false;
    const fill = frames[1]!.fill().then((f) => ((answered = true), f));
    frames[2]!.finish(report({ confirmed: [face(120)], motion: still(1) }));
    await Promise.resolve();
    expect(answered).toBe(false);
    expect(frames[1]!.waits('fill')).toBe(true);
    frames[3]!.finish(undefined);
    expect((await fill).face).toEqual([{ x: 110, y: 100, w: 40, h: 40 }]);
  });

  it('the last frame of a stream, or a flush, ends the wait for frames that will not come', async () => {
    const scan = new StreamScan(params, { lookaheadFrames: 3 });
    const a = scan.begin();
    const b = scan.begin({ last: true });
    a.finish(report());
    b.finish(report({ motion: still(0) }));
    expect(await a.fill()).toEqual({ face: [], plate: [] });
    expect(await b.fill()).toEqual({ face: [], plate: [] });
    const c = scan.begin();
    c.finish(report({ motion: still(1) }));
    expect(c.waits('fill')).toBe(true);
    scan.flush();
    expect(c.waits('fill')).toBe(false);
  });

  it('a fill waits no longer than fillWaitMs for frames that are slow to come, then fills from those done', async () => {
    const scan = new StreamScan(params, { lookaheadFrames: 3 });
    const a = scan.begin({ fillWaitMs: 60_000 });
    const b = scan.begin({ fillWaitMs: 20 });
    const c = scan.begin({ fillWaitMs: 60_000 });
    a.finish(report({ confirmed: [face(100)] }));
    // b misses the face that a and c see; the frames after c never report.
    b.finish(report({ confirmed: [], motion: still(0) }));
    c.finish(report({ confirmed: [face(120)], motion: still(1) }));
    scan.begin();
    expect(b.waits('fill')).toBe(true);
    expect((await b.fill()).face).toEqual([{ x: 110, y: 100, w: 40, h: 40 }]);
    // Without its bound passed, c still waits for the frames after it.
    let answered = false;
    void c.fill().then(() => (answered = true));
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(answered).toBe(false);
  });

  it('a fill with a bound is answered as soon as the frames after it report', async () => {
    const scan = new StreamScan(params, { lookaheadFrames: 1 });
    const a = scan.begin({ fillWaitMs: 60_000 });
    const b = scan.begin({ fillWaitMs: 60_000 });
    a.finish(report({ confirmed: [face(100)] }));
    const fill = a.fill();
    b.finish(report({ confirmed: [face(100)], motion: still(0) }));
    expect(await fill).toEqual({ face: [], plate: [] });
  });

  it('without lookahead a frame neither asks nor waits for a fill', () => {
    const frame = new StreamScan(params).begin();
    expect(frame.plan?.fill).toBeUndefined();
    expect(frame.waits('fill')).toBe(false);
  });
});
