import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { FrameSignature } from '../../../agent/deid/face-scan.ts';
import { compareWithEarlier } from '../../../agent/deid/frame-change.ts';
import type { RgbFrame } from '../../../agent/deid/frame.ts';
import { applyAffine, similarityOf, thenAffine, warpBox, type Affine } from '../../../agent/deid/affine.ts';
import { estimateMotion } from '../../../agent/deid/global-motion.ts';
import { deidParamsFor, defaultDeidConfig } from '../../../agent/deid/params.ts';
import { renderView, seeded, stepAffine, type CameraStep } from '../../support/ego-motion.ts';

// Thumbnails as the face scan makes them for a 1080p frame: 256 x 144 grey.
const thumb = { width: 256, height: 144 };
const frame = { width: 1920, height: 1080 };
const params = deidParamsFor(defaultDeidConfig);

async function sourceOf(file: string): Promise<RgbFrame> {
  const url = new URL(`../../fixtures/deid/eval/${file}`, import.meta.url);
  // A little larger than the thumbnail, so the camera can move without running off the picture.
  const { data, info } = await sharp(await readFile(url))
    .resize(320, 180)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

function greyOf(f: RgbFrame): FrameSignature {
  const grey = new Uint8Array(f.width * f.height);
  for (let i = 0; i < grey.length; i++)
    grey[i] = (f.data[i * 3]! * 77 + f.data[i * 3 + 1]! * 150 + f.data[i * 3 + 2]! * 29) >> 8;
  return { frameWidth: frame.width, frameHeight: frame.height, ...thumb, grey };
}

/** The thumbnails of two frames: the camera at `base`, then moved by `step` (thumbnail pixels). */
function pair(
  source: RgbFrame,
  step: CameraStep,
  seed = 1,
): { ref: FrameSignature; cur: FrameSignature; truth: Affine } {
  const base: Affine = { a: 1, b: 0, c: -32, d: 0, e: 1, f: -18 };
  const truth = stepAffine(step, thumb);
  const random = seeded(seed);
  const ref = greyOf(renderView(source, base, { ...thumb, noise: 1.5, random }));
  const cur = greyOf(renderView(source, thenAffine(base, truth), { ...thumb, noise: 1.5, random }));
  return { ref, cur, truth };
}

/** The largest disagreement between two maps at the thumbnail's corners, in thumbnail pixels. */
function cornerError(m: Affine, truth: Affine): number {
  let worst = 0;
  for (const [x, y] of [
    [0, 0],
    [thumb.width - 1, 0],
    [0, thumb.height - 1],
    [thumb.width - 1, thumb.height - 1],
  ] as const) {
    const [u, v] = applyAffine(m, x, y);
    const [p, q] = applyAffine(truth, x, y);
    worst = Math.max(worst, Math.hypot(u - p, v - q));
  }
  return worst;
}

describe('global motion between thumbnails', () => {
  const steps: Array<[string, CameraStep]> = [
    ['a still camera', { zoom: 1, rotateDeg: 0, panPx: { x: 0, y: 0 } }],
    ['a pan by a fraction of a pixel', { zoom: 1, rotateDeg: 0, panPx: { x: 1.3, y: -0.6 } }],
    ['a fast pan', { zoom: 1, rotateDeg: 0, panPx: { x: 11, y: 6 } }],
    ['a zoom in', { zoom: 1.025, rotateDeg: 0, panPx: { x: 0, y: 0 } }],
    ['a zoom out with a roll', { zoom: 0.98, rotateDeg: -0.8, panPx: { x: 0, y: 0 } }],
    ['zoom, roll and pan together', { zoom: 1.015, rotateDeg: 0.6, panPx: { x: -4.2, y: 2.5 } }],
  ];
  for (const [name, step] of steps) {
    it(`recovers ${name} to a fraction of a thumbnail pixel`, async () => {
      for (const file of ['street-01.jpg', 'vehicle-02.jpg', 'field-05.jpg']) {
        const { ref, cur, truth } = pair(await sourceOf(file), step);
        const estimate = estimateMotion(ref, cur);
        expect(estimate.reliable, file).toBe(true);
        expect(cornerError(estimate.thumbAffine, truth), file).toBeLessThan(0.4);
        const { scale, rotation } = similarityOf(estimate.thumbAffine);
        expect(scale).toBeCloseTo(step.zoom, 2);
        expect((rotation * 180) / Math.PI).toBeCloseTo(step.rotateDeg, 0);
      }
    });
  }

  it('maps frame pixels as it maps thumbnail pixels (7.5 frame pixels a thumbnail pixel)', async () => {
    const { ref, cur } = pair(await sourceOf('street-01.jpg'), {
      zoom: 1.02,
      rotateDeg: 0.5,
      panPx: { x: 3, y: -2 },
    });
    const estimate = estimateMotion(ref, cur);
    const box = { x: 600, y: 300, w: 75, h: 75 };
    const [tx, ty] = applyAffine(estimate.thumbAffine, (600 + 37.5) / 7.5 - 0.5, (300 + 37.5) / 7.5 - 0.5);
    const moved = warpBox(estimate.frameAffine, box);
    expect(moved.x + moved.w / 2).toBeCloseTo((tx + 0.5) * 7.5, 1);
    expect(moved.y + moved.h / 2).toBeCloseTo((ty + 0.5) * 7.5, 1);
    expect(moved.w).toBeGreaterThan(75);
  });

  it('ignores a part of the view that moves on its own (parallax, a passing car)', async () => {
    const step = { zoom: 1.01, rotateDeg: 0.3, panPx: { x: 2, y: 1 } };
    const { ref, cur, truth } = pair(await sourceOf('vehicle-02.jpg'), step);
    // A foreground patch a fifth of the width that moves 6 px further than the background.
    const grey = new Uint8Array(cur.grey);
    for (let y = 40; y < 110; y++)
      for (let x = 150; x < 200; x++) grey[y * 256 + x] = ref.grey[(y - 3) * 256 + (x - 6)]!;
    const estimate = estimateMotion(ref, { ...cur, grey });
    expect(estimate.reliable).toBe(true);
    expect(estimate.inliers).toBeLessThan(estimate.blocks);
    expect(cornerError(estimate.thumbAffine, truth)).toBeLessThan(0.5);
  });

  it('is unreliable between two unrelated views and on a view with nothing to match', async () => {
    const { cur: street } = pair(await sourceOf('street-01.jpg'), {
      zoom: 1,
      rotateDeg: 0,
      panPx: { x: 0, y: 0 },
    });
    const { cur: launch } = pair(await sourceOf('launch-06.jpg'), {
      zoom: 1,
      rotateDeg: 0,
      panPx: { x: 0, y: 0 },
    });
    expect(estimateMotion(street, launch).reliable).toBe(false);
    const random = seeded(5);
    const noise = (): FrameSignature => ({
      ...street,
      grey: Uint8Array.from({ length: street.grey.length }, () => 120 + Math.floor(random() * 6)),
    });
    expect(estimateMotion(noise(), noise()).reliable).toBe(false);
  });
});

describe('change detection against the warped reference', () => {
  it('a moving camera over a still scene is no change; something new in it is', async () => {
    const { ref, cur } = pair(await sourceOf('street-01.jpg'), {
      zoom: 1.02,
      rotateDeg: 0.7,
      panPx: { x: -3, y: 2 },
    });
    const moved = compareWithEarlier({ ...ref, frame: 4 }, cur, params);
    expect(moved).toMatchObject({ full: false, cut: false });
    expect(moved.motion?.from).toBe(4);
    // Only what came into view at the edges may read as change.
    const atEdge = (r: { x: number; y: number; w: number; h: number }): boolean =>
      r.x <= 0 || r.y <= 0 || r.x + r.w >= frame.width || r.y + r.h >= frame.height;
    expect(moved.changedRegions.every(atEdge)).toBe(true);
    // A bright square of 4 x 4 thumbnail pixels (30 frame px) appears.
    const grey = new Uint8Array(cur.grey);
    for (let y = 60; y < 64; y++) for (let x = 100; x < 104; x++) grey[y * 256 + x] = 255;
    const appeared = compareWithEarlier({ ...ref, frame: 4 }, { ...cur, grey }, params);
    expect(appeared).toMatchObject({ full: false, changed: true });
    const square = { x: 750, y: 450, w: 30, h: 30 };
    expect(
      appeared.changedRegions.some(
        (r) =>
          r.x <= square.x &&
          r.y <= square.y &&
          r.x + r.w >= square.x + square.w &&
          r.y + r.h >= square.y + square.h,
      ),
    ).toBe(true);
  });

  it('an unreliable estimate scans in full; a new view is a cut', async () => {
    const { cur: street } = pair(await sourceOf('street-01.jpg'), {
      zoom: 1,
      rotateDeg: 0,
      panPx: { x: 0, y: 0 },
    });
    const { cur: launch } = pair(await sourceOf('launch-06.jpg'), {
      zoom: 1,
      rotateDeg: 0,
      panPx: { x: 0, y: 0 },
    });
    expect(compareWithEarlier({ ...street, frame: 0 }, launch, params)).toMatchObject({
      reference: null,
      motion: null,
      full: true,
      cut: true,
    });
    expect(compareWithEarlier(null, launch, params)).toMatchObject({ full: true, cut: false, motion: null });
  });
});
