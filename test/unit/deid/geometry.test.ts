import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { clipBox, dilateBox, mergeDetections } from '../../../agent/deid/geometry.ts';
import { canonicalJson, deidParamsFor, defaultDeidConfig, paramsDigest } from '../../../agent/deid/params.ts';
import { planFaceTiles } from '../../../agent/deid/tiling.ts';

describe('de-id geometry', () => {
  it('merges the same face seen by two tiles into one box and keeps separate faces apart', () => {
    const merged = mergeDetections(
      [
        { kind: 'face', score: 0.9, box: { x: 100, y: 100, w: 40, h: 40 } },
        { kind: 'face', score: 0.8, box: { x: 104, y: 102, w: 40, h: 40 } },
        { kind: 'face', score: 0.7, box: { x: 400, y: 100, w: 40, h: 40 } },
        { kind: 'plate', score: 0.9, box: { x: 100, y: 100, w: 40, h: 40 } },
      ],
      { iouThreshold: 0.3 },
    );
    expect(merged.filter((d) => d.kind === 'face')).toHaveLength(2);
    expect(merged.filter((d) => d.kind === 'plate')).toHaveLength(1);
  });

  it('dilates and clips boxes to whole pixels inside the frame', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -50, max: 700 }),
        fc.integer({ min: -50, max: 500 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 300 }),
        (x, y, w, h) => {
          const frame = { width: 640, height: 480 };
          const b = dilateBox({ x, y, w, h }, 0.2, frame);
          expect(b.x).toBeGreaterThanOrEqual(0);
          expect(b.y).toBeGreaterThanOrEqual(0);
          expect(b.x + b.w).toBeLessThanOrEqual(640);
          expect(b.y + b.h).toBeLessThanOrEqual(480);
          expect(Number.isInteger(b.x) && Number.isInteger(b.w)).toBe(true);
          const c = clipBox({ x, y, w, h }, frame);
          expect(b.w).toBeGreaterThanOrEqual(c.w);
        },
      ),
    );
  });

  it('tiles cover the whole frame at every level with the requested overlap', () => {
    const levels = planFaceTiles(
      { width: 1920, height: 1080 },
      { tilePx: 256, scales: [0.55, 0.22], overlapPx: 40 },
    );
    expect(levels.length).toBe(3);
    for (const level of levels) {
      const right = Math.max(...level.tiles.map((t) => t.x + t.w));
      const bottom = Math.max(...level.tiles.map((t) => t.y + t.h));
      expect(right).toBeGreaterThanOrEqual(level.scaledWidth);
      expect(bottom).toBeGreaterThanOrEqual(level.scaledHeight);
    }
    expect(levels.at(-1)?.tiles).toHaveLength(1);
  });
});

describe('de-id params digest', () => {
  it('is canonical: key order does not change it, any value change does', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 'x', c: 0.5 }] })).toBe('{"a":[2,{"c":0.5,"d":"x"}],"b":1}');
    const params = deidParamsFor(defaultDeidConfig);
    const reordered = Object.fromEntries(Object.entries(params).reverse()) as typeof params;
    expect(paramsDigest(reordered)).toBe(paramsDigest(params));
    expect(paramsDigest({ ...params, marginRatio: params.marginRatio + 0.01 })).not.toBe(
      paramsDigest(params),
    );
    expect(paramsDigest(params)).toMatch(/^[0-9a-f]{64}$/);
  });
});
