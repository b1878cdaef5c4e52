// Each bench's report carries the figures other tools read by name. Run tiny (sizes via options):
// these tests check the shape and the accounting of a run, never its timing.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import type { BenchReport } from '../../../scripts/bench/figures.ts';
import { captureReport, signReport } from '../../../scripts/bench/reports.ts';
import { shapedLinkUnavailable, syncFigures, syncReport } from '../../../scripts/bench/sync-bench.ts';
import { runCli } from '../../support/cli.ts';

const kib = 1024;
const log = silentLogger();

function figureNames(r: BenchReport): string[] {
  return r.figures.map((f) => f.name);
}

function expectMeasured(r: BenchReport): void {
  for (const f of r.figures) {
    expect(Number.isFinite(f.value), f.name).toBe(true);
    expect(f.value, f.name).toBeGreaterThan(0);
    expect(f.failed, f.name).toBeUndefined();
  }
}

describe('rigcap bench capture', () => {
  it('reports camera and lidar throughput and msg rate, with chunks committed inside every agent run', async () => {
    const r = await captureReport({
      log,
      frames: 12,
      frameBytes: 64 * kib,
      pairs: 2,
      messages: 1500,
      chunkBytes: 256 * kib,
    });
    expect(r.bench).toBe('capture');
    expect(figureNames(r)).toEqual([
      'throughput_1mib_ratio',
      'throughput_1mib_compressible_ratio',
      'msgrate_1kib_ratio',
    ]);
    expectMeasured(r);
    const details = r.details as Record<string, { pairRatios: number[]; chunksPerRun: number[] }>;
    for (const part of ['camera', 'lidar', 'msgrate']) {
      expect(details[part]!.pairRatios).toHaveLength(2);
      // 768 KiB of frames (1.5 MiB of messages) in 256 KiB files: commits by size, then the last at stop.
      for (const chunks of details[part]!.chunksPerRun) expect(chunks).toBeGreaterThanOrEqual(2);
    }
  }, 180_000);
});

describe('rigcap bench sign', () => {
  it('reports the share for both reference rigs, each at the chunk its traffic makes under the limits', async () => {
    const r = await signReport({
      log,
      records: 3,
      chunking: { maxBytes: 4 * 1024 * kib, maxDurationMs: 2000, zstdLevel: 3, mcapChunkBytes: 1024 * kib },
    });
    expect(figureNames(r)).toEqual([
      'sign_cpu_share',
      'sign_cpu_share_camera_rig',
      'sign_cpu_share_imu_gnss_rig',
    ]);
    expectMeasured(r);
    const [worst, camera, imu] = r.figures.map((f) => f.value);
    expect(worst).toBe(Math.max(camera!, imu!));
    const details = r.details as Record<string, { closedBy: string; chunkSeconds: number }>;
    // Cameras and lidar fill 4 MiB long before 2 s; an IMU and a GNSS receiver never do.
    expect(details['cameraRig']!.closedBy).toBe('size');
    expect(details['imuGnssRig']!.closedBy).toBe('duration');
    expect(details['imuGnssRig']!.chunkSeconds).toBeGreaterThanOrEqual(1.9);
  }, 180_000);
});

describe('rigcap bench sync', () => {
  const unavailable = shapedLinkUnavailable();
  it.skipIf(unavailable !== undefined)(
    `reports goodput over the shaped link once every chunk is receipted${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`,
    async () => {
      const r = await syncReport({
        log,
        chunks: 2,
        chunkBytes: 512 * kib,
        partBytes: 128 * kib,
        interruptions: 2,
        stallMs: 500,
        timeoutMs: 60_000,
      });
      expect(figureNames(r)).toEqual(['goodput_ratio', 'resent_parts_per_interruption']);
      expect(r.figures[0]!.failed).toBeUndefined();
      expect(r.figures[0]!.value).toBeGreaterThan(0);
      expect(r.details).toMatchObject({ chunks: 2, receipted: 2, interruptions: 2 });
    },
    120_000,
  );

  it('without unshare or tc says so and exits 1, with no figure', async () => {
    const r = await runCli(['bench', 'sync', '--json'], { env: { PATH: '/nonexistent' } });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ bench: 'sync', figures: [] });
    expect(r.stderr).toContain('bench sync: cannot run here: unshare is not installed (Debian: util-linux)');
  });

  it('fails both figures when a chunk was not receipted, and reports no goodput for it', () => {
    const r = syncFigures({
      payloadBytes: 4 * 1024 * kib,
      elapsedMs: 2000,
      rateBytesPerSec: 2_500_000,
      chunks: 4,
      receipted: 3,
      interruptions: 1,
      bytesSent: 5 * 1024 * kib,
      partBytes: 1024 * kib,
      shapedBytes: null,
    });
    expect(r.figures.map((f) => f.failed)).toEqual([
      '1 of 4 chunks not synced and receipted',
      '1 of 4 chunks not synced and receipted',
    ]);
    expect(r.figures[0]!.value).toBe(0);
    expect(r.figures[1]!.value).toBe(1);
  });
});
