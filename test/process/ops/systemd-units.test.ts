// The shipped units pass `systemd-analyze verify` without a warning and score at most 2.0 on
// `systemd-analyze security --offline=yes` (lower is more hardened).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findTool, missingTool } from './system-tools.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
const units = ['rigcap.service', 'rigcap-receiver.service'];
const analyze = findTool('systemd-analyze');
const work = mkdtempSync(join(tmpdir(), 'rigcap-units-'));

/** Copies a unit with /opt/rigcap pointed at a fake install (verify checks ExecStart exists). */
function stage(unit: string): string {
  const app = join(work, 'app');
  mkdirSync(join(app, 'node_modules/node/bin'), { recursive: true });
  writeFileSync(join(app, 'node_modules/node/bin/node'), '#!/bin/sh\n');
  chmodSync(join(app, 'node_modules/node/bin/node'), 0o755);
  const text = readFileSync(join(repo, 'systemd', unit), 'utf8').replaceAll('/opt/rigcap', app);
  const path = join(work, unit);
  writeFileSync(path, text);
  return path;
}

describe.skipIf(analyze === undefined)('systemd units', () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  for (const unit of units) {
    it(`${unit} verifies cleanly`, () => {
      const result = spawnSync('systemd-analyze', ['verify', stage(unit)], { encoding: 'utf8' });
      expect(result.status, result.stderr).toBe(0);
      // verify exits 0 on ignored lines too; any line naming our unit is a problem.
      expect(result.stderr.split('\n').filter((l) => l.includes(unit))).toEqual([]);
    });

    it(`${unit} exposure score is at most 2.0`, () => {
      const result = spawnSync('systemd-analyze', ['security', '--offline=yes', stage(unit)], {
        encoding: 'utf8',
      });
      const match = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(result.stdout);
      expect(match, result.stdout + result.stderr).not.toBeNull();
      expect(Number(match?.[1])).toBeLessThanOrEqual(2.0);
    });
  }

  it('rigcap.service is Type=notify with a watchdog and runs Node 22 directly', () => {
    const text = readFileSync(join(repo, 'systemd', 'rigcap.service'), 'utf8');
    expect(text).toMatch(/^Type=notify$/m);
    expect(text).toMatch(/^NotifyAccess=main$/m);
    expect(text).toMatch(/^WatchdogSec=\d+s$/m);
    expect(text).toMatch(
      /^ExecStart=\/opt\/rigcap\/node_modules\/node\/bin\/node \/opt\/rigcap\/bin\/rigcap\.js run --config \/etc\/rigcap\/rigcap\.yaml$/m,
    );
  });

  it('rigcap-receiver.service serves HTTPS with its certificate and key handed over by LoadCredential=', () => {
    const text = readFileSync(join(repo, 'systemd', 'rigcap-receiver.service'), 'utf8');
    expect(text).toMatch(/^LoadCredential=tls-cert:\/etc\/rigcap\/receiver-tls\.crt$/m);
    expect(text).toMatch(/^LoadCredential=tls-key:\/etc\/rigcap\/receiver-tls\.key$/m);
    const execStart = /^ExecStart=(.*)$/m.exec(text)?.[1] ?? '';
    expect(execStart).toContain('--tls-cert ${CREDENTIALS_DIRECTORY}/tls-cert');
    expect(execStart).toContain('--tls-key ${CREDENTIALS_DIRECTORY}/tls-key');
  });
});

if (!(analyze !== undefined))
  describe('systemd units (skipped)', () => {
    it.skip(missingTool('systemd-analyze', 'systemd'), () => {});
  });
