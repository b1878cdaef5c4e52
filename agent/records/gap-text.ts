// What a person reads of gaps and sizes: human units (durations, sizes, percentages) and one line
// per gap. Exact values stay in the records; these are for cards, exports and the dashboard.
import type { SessionGap } from './predicates.ts';

/** "4 min 12 s", "350 ms", "2 h 5 min". */
export function formatDuration(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const sign = neg ? '-' : '';
  if (abs === 0n) return '0 s';
  if (abs < 1_000n) return `${sign}${abs} ns`;
  if (abs < 1_000_000n) return `${sign}${Number(abs) / 1e3} µs`.replace(/(\.\d)\d+/, '$1');
  if (abs < 1_000_000_000n) return `${sign}${Math.round(Number(abs) / 1e6)} ms`;
  const s = Number(abs / 1_000_000n) / 1000;
  if (s < 60) return `${sign}${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h > 0) return `${sign}${h} h ${m} min`;
  return `${sign}${m} min ${sec} s`;
}

/** "1.2 GiB", "512 B". */
export function formatBytes(bytes: bigint | number): string {
  const n = Number(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** "12.5 %" of part over whole; "0 %" for an empty whole. */
export function formatPercent(part: number, whole: number): string {
  if (whole <= 0 || part <= 0) return '0 %';
  const p = (100 * part) / whole;
  if (p >= 99.95 && part < whole) return '99.9 %';
  return `${p >= 10 ? Math.round(p) : p.toFixed(1)} %`;
}

const causeWords: Record<string, string> = {
  queue_full: 'queue full',
  upstream_loss: 'lost upstream',
  deid_backpressure: 'de-id could not keep up',
  deid_failed: 'de-id failed',
  deid_held_lost: 'held for de-id and never blurred',
  deid_holding_full: 'de-id holding area full',
  disk_budget: 'disk budget reached',
  disk_full: 'disk full',
  write_error: 'write failed',
  stop_abandoned: 'abandoned at stop',
};

const nsToIso = (ns: string): string => new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();

/** One line a person reads: window, duration, what and how much. */
export function describeGap(g: SessionGap): string {
  const durationNs = BigInt(g.endNs) - BigInt(g.startNs);
  const when =
    durationNs === 0n
      ? nsToIso(g.startNs)
      : `${nsToIso(g.startNs)} – ${nsToIso(g.endNs)} (${formatDuration(durationNs)})`;
  const counts =
    g.counts === undefined
      ? ''
      : Object.entries(g.counts)
          .sort((a, b) => b[1] - a[1])
          .map(([c, n]) => `${n} ${causeWords[c] ?? c.replaceAll('_', ' ')}`)
          .join(', ');
  const on = g.stream === undefined ? '' : ` on ${g.stream}`;
  switch (g.kind) {
    case 'loss':
      return `${when}: samples dropped${on}: ${counts}`;
    case 'capture_paused':
      return `${when}: capture paused${on} by the disk: ${counts}`;
    case 'deid':
      return `${when}: de-identification degraded${on}: ${counts} (frames never written)`;
    case 'downtime':
      return `${when}: agent down (no record from the last one before a crash to recovery)`;
    case 'clock_unsynced':
      return `${when}: clock unsynced`;
    case 'clock_holdover':
      return `${when}: clock in holdover`;
    case 'clock_step':
      return `${when}: clock stepped by ${formatDuration(BigInt(g.stepNs ?? '0'))}`;
    case 'calibration_missing':
      return `${when}: no calibration${on}`;
    case 'geofence_exit':
      return `${when}: outside every geofence (no capture region)`;
    default:
      return `${when}: ${g.cause}`;
  }
}
