// Derives how each extrinsic moved from version to version of its file. Pure over stored rows.
import { extrinsicDelta } from './extrinsic-math.ts';
import type { CalibrationVersionRow } from './history-store.ts';
import type { ExtrinsicDrift } from './types.ts';

/** One entry per extrinsic per version it appears in; the first has null deltas. */
export function extrinsicDrift(rows: readonly CalibrationVersionRow[]): ExtrinsicDrift[] {
  const drift: ExtrinsicDrift[] = [];
  const previous = new Map<string, CalibrationVersionRow['extrinsics'][number]>();
  for (const row of rows) {
    for (const e of row.extrinsics) {
      const key = `${row.sensor}\u0000${e.pair}`;
      const before = previous.get(key);
      const delta = before === undefined ? undefined : extrinsicDelta(before, e);
      // unchanged bytes never make a new version, but an unrelated edit can leave a pair as it was
      if (delta === undefined || delta.translationMm > 0 || delta.rotationDeg > 0) {
        drift.push({
          sensor: row.sensor,
          pair: e.pair,
          version: row.version,
          atNs: row.recordedAtNs,
          translationMm: delta?.translationMm ?? null,
          rotationDeg: delta?.rotationDeg ?? null,
        });
      }
      previous.set(key, e);
    }
  }
  return drift;
}
