// `rigcap bench store` run tiny: two simulated devices through two receivers on PostgreSQL and Ceph
// RGW started for the run. Checks the report's shape and that every phase really ran, never timing.
import { describe, expect, it } from 'vitest';
import type { BenchReport } from '../../../scripts/bench/figures.ts';
import { runCli } from '../../support/cli.ts';
import { postgresSkipReason } from '../../support/engines/postgres.ts';
import { rgwSkipReason } from '../../support/engines/rgw.ts';

const skip = postgresSkipReason ?? rgwSkipReason;

describe.skipIf(skip !== undefined)('rigcap bench store', () => {
  it('reports records_per_s, ingest_goodput_ratio, receipt_p99_ms and receiver_rss_mb from one run', async () => {
    const run = await runCli(['bench', 'store', '--quick', '--devices', '2', '--seconds', '5', '--json'], {
      env: { ...process.env, RIGCAP_LOG_LEVEL: 'silent' },
    });
    expect(run.code, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout) as BenchReport;
    expect(r.bench).toBe('store');
    expect(r.figures.map((f) => f.name)).toEqual([
      'records_per_s',
      'ingest_goodput_ratio',
      'receipt_p99_ms',
      'receiver_rss_mb',
    ]);
    for (const f of r.figures) {
      expect(Number.isFinite(f.value), f.name).toBe(true);
      expect(f.value, f.name).toBeGreaterThan(0);
      expect(f.failed, f.name).toBeUndefined();
    }
    expect(r.figures.find((f) => f.name === 'records_per_s')?.target).toBe(1000);
    expect(r.figures.find((f) => f.name === 'ingest_goodput_ratio')?.target).toBe(0.8);
    const d = r.details as {
      devices: number;
      receivers: number;
      records_admitted: number;
      receiver_rss_mb_each: number[];
    };
    expect(d).toMatchObject({ devices: 2, receivers: 2 });
    // At least both enrolments were admitted, and both receivers were measured.
    expect(d.records_admitted).toBeGreaterThanOrEqual(2);
    expect(d.receiver_rss_mb_each).toHaveLength(2);
  }, 600_000);
});
