// Turns the samples and steps of one chunk window into the plain-JSON TimesyncSummary, and flattens
// it into the string map MCAP metadata (`rigcap.timesync`) holds. Pure: no clocks, no I/O.
import type {
  ClockInterval,
  ClockSample,
  ClockState,
  ClockStep,
  NsStatistics,
  TimesyncSummary,
} from './types.ts';

/** Name of the MCAP metadata record that carries a chunk's time-sync summary. */
export const timesyncMetadataName = 'rigcap.timesync';

/** min/max/mean/p95 (nearest rank) of nanosecond values; null for none. */
export function nsStatistics(values: readonly bigint[]): NsStatistics | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const sum = sorted.reduce((acc, v) => acc + v, 0n);
  const p95 = sorted[Math.ceil(0.95 * sorted.length) - 1] ?? 0n;
  return {
    min: String(sorted[0]),
    max: String(sorted.at(-1)),
    mean: String(sum / BigInt(sorted.length)),
    p95: String(p95),
  };
}

export interface WindowInput {
  startNs: bigint;
  endNs: bigint;
  /** Samples in taking order. */
  samples: readonly ClockSample[];
  steps: ReadonlyArray<{ atNs: bigint; stepNs: bigint }>;
}

/** Builds the summary for [startNs, endNs]; the state before the first known sample is `unsynced`. */
export function summariseWindow(input: WindowInput): TimesyncSummary {
  const { startNs, endNs } = input;
  const before = input.samples.filter((s) => s.wallNs < startNs).at(-1);
  const inside = input.samples
    .filter((s) => s.wallNs >= startNs && s.wallNs <= endNs)
    .sort((a, b) => (a.wallNs < b.wallNs ? -1 : a.wallNs > b.wallNs ? 1 : 0));
  const intervals: ClockInterval[] = [];
  // Without a sample at or before the start nothing vouches for the clock there: say so.
  let state: ClockState = before?.state ?? 'unsynced';
  let cursor = startNs;
  for (const sample of inside) {
    if (sample.state === state) continue;
    if (sample.wallNs > cursor)
      intervals.push({ state, startNs: String(cursor), endNs: String(sample.wallNs) });
    state = sample.state;
    cursor = sample.wallNs;
  }
  if (endNs > cursor || intervals.length === 0)
    intervals.push({ state, startNs: String(cursor), endNs: String(endNs) });
  const last = inside.at(-1) ?? before;
  const steps: ClockStep[] = input.steps
    .filter((s) => s.atNs >= startNs && s.atNs <= endNs)
    .map((s) => ({ atNs: String(s.atNs), stepNs: String(s.stepNs) }));
  return {
    source: last?.source ?? 'none',
    startNs: String(startNs),
    endNs: String(endNs),
    intervals: mergeAdjacent(intervals),
    offsetNs: nsStatistics(inside.flatMap((s) => (s.offsetNs === null ? [] : [s.offsetNs]))),
    dispersionNs: nsStatistics(inside.flatMap((s) => (s.dispersionNs === null ? [] : [s.dispersionNs]))),
    samples: inside.length,
    steps,
    stateAtEnd: state,
  };
}

function mergeAdjacent(intervals: ClockInterval[]): ClockInterval[] {
  const merged: ClockInterval[] = [];
  for (const interval of intervals) {
    const prev = merged.at(-1);
    if (prev !== undefined && prev.state === interval.state && prev.endNs === interval.startNs)
      prev.endNs = interval.endNs;
    else merged.push({ ...interval });
  }
  return merged;
}

/** Flattens a summary into MCAP metadata strings; lists are JSON, statistics are dotted keys. */
export function timesyncMetadata(summary: TimesyncSummary): Map<string, string> {
  const map = new Map<string, string>([
    ['source', summary.source],
    ['stateAtEnd', summary.stateAtEnd],
    ['startNs', summary.startNs],
    ['endNs', summary.endNs],
    ['samples', String(summary.samples)],
    ['intervals', JSON.stringify(summary.intervals)],
    ['steps', JSON.stringify(summary.steps)],
  ]);
  for (const key of ['offsetNs', 'dispersionNs'] as const) {
    const stats = summary[key];
    if (stats === null) continue;
    for (const stat of ['min', 'max', 'mean', 'p95'] as const) map.set(`${key}.${stat}`, stats[stat]);
  }
  return map;
}

/** Reads a summary back from MCAP metadata (the inverse of timesyncMetadata). */
export function timesyncFromMetadata(map: ReadonlyMap<string, string>): TimesyncSummary {
  const stats = (key: 'offsetNs' | 'dispersionNs'): NsStatistics | null => {
    const min = map.get(`${key}.min`);
    const max = map.get(`${key}.max`);
    const mean = map.get(`${key}.mean`);
    const p95 = map.get(`${key}.p95`);
    return min === undefined || max === undefined || mean === undefined || p95 === undefined
      ? null
      : { min, max, mean, p95 };
  };
  return {
    source: (map.get('source') ?? 'none') as TimesyncSummary['source'],
    startNs: map.get('startNs') ?? '0',
    endNs: map.get('endNs') ?? '0',
    intervals: JSON.parse(map.get('intervals') ?? '[]') as ClockInterval[],
    offsetNs: stats('offsetNs'),
    dispersionNs: stats('dispersionNs'),
    samples: Number(map.get('samples') ?? '0'),
    steps: JSON.parse(map.get('steps') ?? '[]') as ClockStep[],
    stateAtEnd: (map.get('stateAtEnd') ?? 'unsynced') as ClockState,
  };
}

/** A window with no clock information (signed after a crash, benches, fixtures): `none`, unsynced throughout. */
export function unknownClockSummary(window: { startNs: bigint; endNs: bigint }): TimesyncSummary {
  return {
    source: 'none',
    startNs: window.startNs.toString(),
    endNs: window.endNs.toString(),
    intervals: [{ state: 'unsynced', startNs: window.startNs.toString(), endNs: window.endNs.toString() }],
    offsetNs: null,
    dispersionNs: null,
    samples: 0,
    steps: [],
    stateAtEnd: 'unsynced',
  };
}
