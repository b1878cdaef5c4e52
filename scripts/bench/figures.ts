// What every bench reports: named figures other tools read (`rigcap bench … --json`), plus details
// for people. Paired rounds: the baseline and the path under test run back to back, each pair
// gives one ratio, and the median ratio is the figure, so load that drifts during a run cancels.

/** One measured figure, as other tools read it. */
export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
  target: number | null;
  better: 'higher' | 'lower';
  /** Set when the run could not produce a valid figure (e.g. a chunk never synced); value is then 0. */
  failed?: string;
}

/** A bench's JSON document: `{ bench, figures, details }`. */
export interface BenchReport {
  bench: string;
  figures: BenchFigure[];
  details?: Record<string, unknown>;
}

/** Rounds `v` to `digits` decimals (figures are printed, not computed with). */
export function round(v: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** True when the figure meets its target (null when it has none or failed). */
export function targetMet(f: BenchFigure): boolean | null {
  if (f.target === null || f.failed !== undefined) return null;
  return f.better === 'higher' ? f.value >= f.target : f.value <= f.target;
}

/** One line per bench for logs and the README table: `bench capture: a=0.93 (>=0.9 met), …`. */
export function summaryLine(r: BenchReport): string {
  const parts = r.figures.map((f) => {
    if (f.failed !== undefined) return `${f.name}=FAILED (${f.failed})`;
    const met = targetMet(f);
    const target = f.target === null ? '' : ` ${f.better === 'higher' ? '>=' : '<='}${f.target}`;
    return `${f.name}=${f.value}${target === '' ? '' : ` (${target.trim()} ${met === true ? 'met' : 'NOT MET'})`}`;
  });
  return `bench ${r.bench}: ${parts.join(', ')}`;
}

/**
 * Runs `pairs` rounds of baseline (A) and subject (B), alternating which goes first so neither
 * always gets the warmer cache or the quieter moment; returns each pair's B/A ratio and the values.
 */
export async function pairedRounds(options: {
  pairs: number;
  baseline: (round: number) => Promise<number>;
  subject: (round: number) => Promise<number>;
}): Promise<{ ratios: number[]; baseline: number[]; subject: number[] }> {
  const ratios: number[] = [];
  const baseline: number[] = [];
  const subject: number[] = [];
  for (let round = 0; round < options.pairs; round++) {
    let a: number;
    let b: number;
    if (round % 2 === 0) {
      a = await options.baseline(round);
      b = await options.subject(round);
    } else {
      b = await options.subject(round);
      a = await options.baseline(round);
    }
    baseline.push(a);
    subject.push(b);
    ratios.push(b / a);
  }
  return { ratios, baseline, subject };
}
