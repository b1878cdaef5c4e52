import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CalibrationRegistry } from '../../../agent/calib/calibration-registry.ts';
import { openSpoolCalibrationHistory } from '../../../agent/calib/history-store.ts';
import calib from '../../../agent/cli/calib.ts';
import type { CliIO } from '../../../agent/cli/command.ts';
import { silentLogger } from '../../../agent/log.ts';

const simDir = join(import.meta.dirname, '../../../config/calibration/sim');
const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

function io(cwd: string): { io: CliIO; out: () => string } {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  return {
    io: { stdout, stderr: new PassThrough(), env: {}, cwd, signal: new AbortController().signal },
    out: () => Buffer.concat(chunks).toString('utf8'),
  };
}

describe('rigcap calib history', () => {
  it('shows each version of an extrinsic with its movement, as a table and as JSON', async () => {
    const spool = mkdtempSync(join(tmpdir(), 'rigcap-calib-cli-'));
    temps.push(spool);
    const lidar = join(spool, 'lidar.yaml');
    copyFileSync(join(simDir, 'lidar.yaml'), lidar);
    const history = openSpoolCalibrationHistory(spool, { readonly: false });
    let now = 1_800_000_000_000_000_000n;
    const registry = new CalibrationRegistry({
      logger: silentLogger(),
      store: history.store,
      wallNs: () => now,
    });
    await registry.load([lidar]);
    writeFileSync(lidar, readFileSync(lidar, 'utf8').replace('[0.812, 0.0, 1.934]', '[0.815, 0.004, 1.934]'));
    now += 3_600_000_000_000n;
    await registry.checkForChange({ onChange: () => undefined });
    history.close();

    const table = io(spool);
    expect(await calib.run(['history', '--spool', '.'], table.io)).toBe(0);
    const lines = table.out().trim().split('\n');
    expect(lines[1]).toMatch(/^sensor\s+pair\s+version\s+time \(UTC\)\s+Δt mm\s+Δr deg$/);
    expect(lines[2]).toMatch(/^lidar\s+base_link→lidar\s+1\s+2027-01-15T08:00:00.000Z\s+—\s+—$/);
    expect(lines[3]).toMatch(/^lidar\s+base_link→lidar\s+2\s+2027-01-15T09:00:00.000Z\s+5.00\s+0.000$/);

    const json = io(spool);
    expect(await calib.run(['history', '--spool', spool, '--json'], json.io)).toBe(0);
    const doc = JSON.parse(json.out()) as {
      ok: boolean;
      entries: Array<{ version: number; atNs: string; translationMm: number | null }>;
    };
    expect(doc.ok).toBe(true);
    expect(doc.entries.map((e) => [e.version, e.atNs])).toEqual([
      [1, String(1_800_000_000_000_000_000n)],
      [2, String(1_800_003_600_000_000_000n)],
    ]);
    expect(doc.entries[1]?.translationMm).toBeCloseTo(5, 9);
  });

  it('is a usage error without exactly one of --config/--spool, and not-found for a spool without history', async () => {
    const { io: cli } = io(tmpdir());
    await expect(calib.run(['history'], cli)).rejects.toMatchObject({ code: 'RIGCAP_USAGE' });
    await expect(calib.run(['history', '--spool', 'a', '--config', 'b'], cli)).rejects.toMatchObject({
      code: 'RIGCAP_USAGE',
    });
    await expect(calib.run(['bogus'], cli)).rejects.toMatchObject({ code: 'RIGCAP_USAGE' });
    const empty = mkdtempSync(join(tmpdir(), 'rigcap-calib-cli-'));
    temps.push(empty);
    await expect(calib.run(['history', '--spool', empty], cli)).rejects.toMatchObject({
      code: 'RIGCAP_NOT_FOUND',
    });
  });
});
