import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('rigcap selftest', () => {
  it('runs the de-id, keys, disk, SQLite, sd_notify and clock checks and passes on a healthy machine', async () => {
    const run = await runCli(['selftest', '--json']);
    const report = JSON.parse(run.stdout) as {
      ok: boolean;
      checks: Array<{ name: string; ok: boolean; detail: string }>;
    };
    expect(report.checks.map((c) => c.name)).toEqual([
      'deid-models',
      'keys',
      'disk',
      'sqlite',
      'sd-notify',
      'clocks',
    ]);
    expect(report.checks.find((c) => c.name === 'deid-models')?.detail).toContain(' loaded on cpu; ');
    expect(report.checks.find((c) => c.name === 'deid-models')?.detail).toMatch(
      /[1-9]\d* face\(s\), [1-9]\d* plate\(s\)/,
    );
    expect(report.ok).toBe(true);
    expect(run.code).toBe(0);
  });

  it('fails with the stable code when the configured device key is missing', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-selftest-'));
    const config = join(dir, 'rigcap.yaml');
    await writeFile(
      config,
      `version: 1\nrig: { id: rig-1 }\nspool: { dir: ${join(dir, 'spool')} }\nkeys: { dir: ${join(dir, 'secrets')} }\ntimesync: { chrony: false }\nstreams:\n  - { name: imu, driver: zmq, endpoint: tcp://127.0.0.1:5999, topic: /imu, type: sensor_msgs/msg/Imu }\n`,
    );
    const run = await runCli(['selftest', '--config', config, '--json']);
    const report = JSON.parse(run.stdout) as {
      ok: boolean;
      checks: Array<{ name: string; ok: boolean; code?: string }>;
    };
    expect(run.code).toBe(1);
    expect(report.checks.find((c) => c.name === 'keys')).toMatchObject({
      ok: false,
      code: 'RIGCAP_KEY_MISSING',
    });
    expect(report.checks.find((c) => c.name === 'disk')?.ok).toBe(true);
  });
});
