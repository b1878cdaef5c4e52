import { describe, expect, it } from 'vitest';
import { DeidLineageAccumulator } from '../../../agent/deid/lineage.ts';
import { builtinModelSpecs } from '../../../agent/deid/models.ts';
import { deidParamsFor, defaultDeidConfig, paramsDigest } from '../../../agent/deid/params.ts';

describe('de-id lineage', () => {
  it('counts frames per chunk, names models by digest, and restarts after take()', () => {
    const params = deidParamsFor(defaultDeidConfig);
    const acc = new DeidLineageAccumulator({
      enabled: true,
      models: builtinModelSpecs(),
      params,
      exemptStreams: ['thermal'],
    });
    acc.record('front', { kind: 'redacted', boxes: { face: 2, plate: 1 } });
    acc.record('front', { kind: 'redacted', boxes: { face: 0, plate: 0 } });
    acc.record('front', { kind: 'failed' });
    acc.record('rear', { kind: 'dropped' });
    acc.record('thermal', { kind: 'exempt' });
    const lineage = acc.take();
    expect(lineage.frames).toEqual({
      in: 5,
      withDetections: 1,
      failed: 1,
      dropped: 1,
      exempt: 1,
      blurredLate: 0,
      heldLost: 0,
    });
    expect(lineage.boxes).toEqual({ face: 2, plate: 1 });
    expect(lineage.degraded).toBe(true);
    expect(lineage.onFailure).toBe('drop');
    expect(lineage.exemptStreams).toEqual(['thermal']);
    expect(lineage.paramsDigest).toBe(paramsDigest(params));
    expect(lineage.models.map((m) => m.sha256)).toEqual(builtinModelSpecs().map((m) => m.sha256));
    expect(lineage.streams['front']?.failed).toBe(1);
    // Plain JSON: survives a round trip unchanged.
    expect(JSON.parse(JSON.stringify(lineage))).toEqual(lineage);
    const next = acc.take();
    expect(next.frames.in).toBe(0);
    expect(next.degraded).toBe(false);
  });

  it('spill mode: counts frames blurred late and held frames lost, with the longest hold of the chunk', () => {
    const acc = new DeidLineageAccumulator({
      enabled: true,
      models: builtinModelSpecs(),
      params: deidParamsFor(defaultDeidConfig),
      exemptStreams: [],
      onBackpressure: 'spill',
    });
    acc.record('front', { kind: 'redacted', boxes: { face: 1, plate: 0 } });
    acc.record('front', { kind: 'redacted', boxes: { face: 0, plate: 0 }, lateDelayNs: 2_000_000_000n });
    acc.record('front', { kind: 'redacted', boxes: { face: 0, plate: 1 }, lateDelayNs: 500_000_000n });
    acc.record('front', { kind: 'heldLost' });
    const lineage = acc.take();
    expect(lineage.onBackpressure).toBe('spill');
    expect(lineage.frames).toMatchObject({ in: 4, withDetections: 2, blurredLate: 2, heldLost: 1 });
    expect(lineage.streams['front']).toMatchObject({ blurredLate: 2, heldLost: 1 });
    expect(lineage.maxLateDelayNs).toBe('2000000000');
    expect(JSON.parse(JSON.stringify(lineage))).toEqual(lineage);
    expect(acc.take().maxLateDelayNs).toBe('0');
  });
});
