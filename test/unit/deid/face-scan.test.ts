import { describe, expect, it } from 'vitest';
import { FaceScanSchedule, type FaceScanReport, type FrameSignature } from '../../../agent/deid/face-scan.ts';
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
    plates: [],
    ...over,
  };
}

describe('FaceScanSchedule', () => {
  const params = deidParamsFor({ ...defaultDeidConfig, faceSweepFrames: 3 });

  it('sweeps the fine tiles in turn and has no reference before the first report', () => {
    const s = new FaceScanSchedule(params);
    const first = s.next();
    expect(first.plan?.reference).toBeNull();
    expect(first.plan?.plates.run).toBe(true);
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
      held.push(plan?.tracks.length ?? 0);
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
    expect(skip.plan?.plates).toEqual({ run: false, held: [plate] });
    s.apply(skip.index, report({ cut: true, full: true, plates: null }));
    const after = s.next();
    expect(after.plan?.tracks).toEqual([]);
    expect(after.plan?.verdicts).toEqual([]);
  });

  it('with a plate run in flight, the next frame holds plates one frame older; without one it runs', () => {
    // plateEveryFrames is 2: frames 0, 2, 4 … run the plate detector.
    const s = new FaceScanSchedule(params);
    const plate = { x: 1, y: 2, w: 12, h: 3 };
    const f0 = s.next();
    s.apply(f0.index, report({ plates: [plate] }));
    const f1 = s.next();
    const f2 = s.next();
    expect(f2.plan?.plates.run).toBe(true);
    s.apply(f1.index, report({ plates: null }));
    // Frame 3 is planned while frame 2 (a plate run) is still in flight: frame 0's plates stand in.
    expect(s.next().plan?.plates).toEqual({ run: false, held: [plate] });
    // Frame 2 failed and never reported: frame 5 is not held from frame 0.
    s.next();
    expect(s.next().plan?.plates.run).toBe(true);
  });

  it('plans nothing (scan all) when sweeping is off', () => {
    const s = new FaceScanSchedule(deidParamsFor({ ...defaultDeidConfig, faceSweepFrames: 1 }));
    expect(s.next().plan).toBeUndefined();
  });
});
