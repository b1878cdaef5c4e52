// Every example config in config/ starts for real outside systemd: `rigcap run` on a copy whose
// machine paths (/var/lib, /run, /etc) point into a temp folder, with the control socket's folder
// missing as /run/rigcap is before systemd makes it. A config with ROS 2 streams, on this machine
// without a sourced ROS 2, fails with the ROS 2 code and fix and exits; the others capture and stop
// on SIGINT with exit 0.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { errorCatalogue } from '../../../agent/errors.ts';
import { killDaemon, processGone, startDaemon, type Daemon } from '../../support/daemon.ts';

const configDir = join(import.meta.dirname, '..', '..', '..', 'config');
const examples = readdirSync(configDir).filter((f) => f.endsWith('.yaml'));

let dir: string | undefined;
let child: Daemon | undefined;
afterEach(async () => {
  await killDaemon(child);
  child = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

type Yaml = Record<string, unknown>;

/**
 * The example with its machine paths moved under `root`: spool, keys, the ops port (any free one),
 * the control socket (its folder left missing), sync's CA and store key files; calibration files made absolute
 * because the copy lives elsewhere; the de-id frame bound raised for this machine. Everything else
 * is the example as shipped.
 */
function localCopy(example: string, root: string): { config: Yaml; syncFiles: string[] } {
  const config = parse(readFileSync(join(configDir, example), 'utf8')) as Yaml;
  const section = (name: string): Yaml => (config[name] ??= {}) as Yaml;
  section('spool')['dir'] = join(root, 'var', 'lib', 'rigcap', 'spool');
  section('keys')['dir'] = join(root, 'var', 'lib', 'rigcap', 'secrets');
  const ops = section('ops');
  ops['listen'] = '127.0.0.1:0';
  const control = typeof ops['controlEndpoint'] === 'string' ? ops['controlEndpoint'] : '';
  if (control.startsWith('ipc:///'))
    ops['controlEndpoint'] = `ipc://${join(root, control.slice('ipc://'.length))}`;
  // Not a path: the self-test's per-frame bound, raised because a loaded 2-core test machine runs
  // four de-id workers far slower than the rig the example is written for.
  section('deid')['timeoutMs'] = 60_000;
  const calibration = config['calibration'] as Yaml | undefined;
  if (Array.isArray(calibration?.['files']))
    calibration['files'] = (calibration['files'] as string[]).map((f) =>
      isAbsolute(f) ? f : resolve(configDir, f),
    );
  const sync = (config['sync'] ?? {}) as Yaml;
  const syncFiles: string[] = [];
  for (const key of ['caFile', 'storeKey']) {
    if (typeof sync[key] !== 'string' || sync[key] === '') continue;
    sync[key] = join(root, String(sync[key]));
    syncFiles.push(String(sync[key]));
  }
  return { config, syncFiles };
}

function usesRos2(config: Yaml): boolean {
  const streams = (config['streams'] as Yaml[] | undefined) ?? [];
  return (
    streams.some((s) => s['driver'] === 'ros2') || (config['ros2'] as Yaml | undefined)?.['enabled'] === true
  );
}

describe('the example configs start outside systemd', () => {
  it('config/ holds examples', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  for (const example of examples) {
    it(`${example}`, { timeout: 240_000 }, async () => {
      dir = await mkdtemp(join(tmpdir(), 'rigcap-example-'));
      const { config, syncFiles } = localCopy(example, dir);
      for (const file of syncFiles) {
        // The CA and store key files only have to be readable here: nothing connects before the
        // start fails or stops.
        mkdirSync(join(file, '..'), { recursive: true });
        await writeFile(file, '');
      }
      const configFile = join(dir, example);
      await writeFile(configFile, stringify(config));
      const control = String((config['ops'] as Yaml)['controlEndpoint'] ?? '');
      const controlFolder = control.startsWith('ipc://')
        ? join(control.slice('ipc://'.length), '..')
        : undefined;
      if (controlFolder !== undefined) expect(existsSync(controlFolder)).toBe(false);

      // No ROS 2 here: the environment a sourced setup.bash would give is removed on purpose.
      child = startDaemon(configFile, { env: { ROS_DISTRO: undefined, AMENT_PREFIX_PATH: undefined } });
      const started = child;
      if (usesRos2(config)) {
        const exit = await started.exitWithin(180_000);
        expect(exit, started.stderr()).toEqual({ code: 1, signal: null });
        expect(started.stderr()).toContain('RIGCAP_ROS2_ENV_MISSING: ');
        expect(started.stderr()).toContain(`fix: ${errorCatalogue.RIGCAP_ROS2_ENV_MISSING}`);
        expect(started.stderr()).not.toContain('still open');
      } else {
        await started.waitForLog((l) => l.msg === 'capture started', {
          what: 'capture started',
          timeoutMs: 180_000,
        });
        expect(await started.stop({ signal: 'SIGINT', timeoutMs: 60_000 }), started.tail()).toEqual({
          code: 0,
          signal: null,
        });
        expect(started.logs.at(-1)?.msg).toBe('stopped');
      }
      // The control socket's missing folder was made before anything failed, as systemd would have.
      if (controlFolder !== undefined) expect(statSync(controlFolder).mode & 0o777).toBe(0o750);
      expect(processGone(started.pid)).toBe(true);
    });
  }
});
