import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { runDeidBench } from '../../../scripts/bench/deid.ts';

const named = [
  'fps_1080p_2workers',
  'face_recall_ge32',
  'face_recall_24_32',
  'face_recall_16_24',
  'plate_recall_ge40',
  'plate_recall_15_40',
  'overblur_area',
  'face_recall_ge32_tuning',
  'face_recall_24_32_tuning',
  'face_recall_16_24_tuning',
  'plate_recall_ge40_tuning',
  'plate_recall_15_40_tuning',
  'overblur_area_tuning',
  'spill_catchup_ratio',
  'frames_lost',
];

describe('rigcap bench deid', () => {
  it('reports every named figure through the production pipeline, each a number or saying why not', async () => {
    const progress: string[] = [];
    const report = await runDeidBench({
      log: silentLogger(),
      frames: 5,
      segmentFrames: 5,
      spillSeconds: 0.4,
      // Other tests share the cores: a self-test frame may take longer than production's 5 s here.
      timeoutMs: 120_000,
      progress: (line) => progress.push(line),
    });
    expect(report.bench).toBe('deid');
    expect(report.figures.map((f) => f.name).sort()).toEqual([...named].sort());
    for (const f of report.figures) {
      if (f.value === null) expect(f.notMeasured, f.name).toMatch(/\w/);
      else expect(Number.isFinite(f.value), f.name).toBe(true);
      expect(['higher', 'lower']).toContain(f.better);
    }
    const fps = report.figures.find((f) => f.name === 'fps_1080p_2workers')!;
    expect(fps.value).toBeGreaterThan(0);
    // Serialises as the documented JSON document.
    expect(JSON.parse(JSON.stringify(report))).toMatchObject({ bench: 'deid', figures: expect.any(Array) });
    expect(progress.some((l) => l.includes('evaluation'))).toBe(true);
  }, 300_000);
});
