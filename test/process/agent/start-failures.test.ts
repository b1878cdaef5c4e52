// `rigcap run` that cannot start: each failure point exits non-zero with its own code and fix,
// releases what it opened (ops endpoint, control socket, catalog, workers) and leaves no process
// behind. The bounds below only detect a process that never ends; they are not speed figures.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { errorCatalogue, type ErrorCode } from '../../../agent/errors.ts';
import { simAgentConfig } from '../../integration/agent/sim-config.ts';
import { runCli } from '../../support/cli.ts';
import {
  killDaemon,
  processGone,
  startDaemon,
  writeDaemonConfig,
  type Daemon,
} from '../../support/daemon.ts';

/** Hang detector for a failing start (de-id model loading included on a loaded machine). */
const exitBoundMs = 60_000;

let dir: string;
let child: Daemon | undefined;
const mounts: string[] = [];
const blockers: Server[] = [];

afterEach(async () => {
  await killDaemon(child);
  child = undefined;
  for (const server of blockers.splice(0)) await new Promise((r) => server.close(r));
  for (const m of mounts.splice(0)) execFileSync('umount', [m], { stdio: 'ignore' });
  if (dir !== undefined) {
    // Undo read-only modes so the folder can be removed.
    execFileSync('chmod', ['-R', 'u+w', dir], { stdio: 'ignore' });
    await rm(dir, { recursive: true, force: true });
  }
});

/** Listens on a loopback port; port 0 picks a free one. */
async function listenOn(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}

/** A loopback port free right now. */
async function freePort(): Promise<number> {
  const server = await listenOn(0);
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** True when `port` can be bound again (nothing of the child holds it). */
async function portBindable(port: number): Promise<boolean> {
  try {
    const server = await listenOn(port);
    await new Promise((r) => server.close(r));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return false;
    throw err;
  }
}

/**
 * Makes `folder` unwritable for this process: a read-only tmpfs when running as root (root ignores
 * modes), mode 0555 otherwise. Returns the errno the agent will see, or undefined when neither works.
 */
function makeUnwritable(folder: string): 'EROFS' | 'EACCES' | undefined {
  mkdirSync(folder, { recursive: true });
  if (process.getuid?.() === 0) {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', folder], { stdio: 'ignore' });
    } catch {
      return undefined;
    }
    mounts.push(folder);
    return 'EROFS';
  }
  chmodSync(folder, 0o555);
  return 'EACCES';
}

interface Rig {
  configFile: string;
  config: Record<string, unknown>;
  port: number;
  spool: string;
  keys: string;
}

/** A small zmq config (no publisher needed: SUB sockets connect lazily) with its own ops port. */
async function rigConfig(
  edit: (config: Record<string, unknown>, rig: Omit<Rig, 'config'>) => void = () => {},
): Promise<Rig> {
  dir = await mkdtemp(join(tmpdir(), 'rigcap-start-fail-'));
  const port = await freePort();
  const spool = join(dir, 'spool');
  const keys = join(dir, 'secrets');
  const config = simAgentConfig({
    spoolDir: spool,
    keysDir: keys,
    endpoint: `tcp://127.0.0.1:${await freePort()}`,
    sensors: { frontCamera: false, rearCamera: false, lidar: false, imu: true, gnss: false, tf: false },
    listen: `127.0.0.1:${port}`,
  });
  (config['ops'] as Record<string, unknown>)['controlEndpoint'] = `ipc://${join(dir, 'run', 'control.sock')}`;
  const configFile = join(dir, 'rigcap.yaml');
  edit(config, { configFile, port, spool, keys });
  await writeDaemonConfig(configFile, config);
  return { configFile, config, port, spool, keys };
}

/** Runs the daemon to its failed start and checks everything a failed start must leave behind. */
async function expectStartFailure(
  rig: Rig,
  code: ErrorCode,
  messagePart: string | RegExp,
  options: { portHeldByTest?: boolean; exitCode?: number } = {},
): Promise<Daemon> {
  const started = startDaemon(rig.configFile);
  child = started;
  const exit = await started.exitWithin(exitBoundMs);
  const stderr = started.stderr();
  expect(exit, stderr).toEqual({ code: options.exitCode ?? 1, signal: null });
  expect(stderr).toContain(`${code}: `);
  expect(stderr).toMatch(messagePart);
  expect(stderr).toContain(`fix: ${errorCatalogue[code]}`);
  // Released by the failed start itself, not by the exit that follows a leak.
  expect(stderr).not.toContain('still open');
  expect(started.logs.find((l) => l.msg === 'start failed')?.['code']).toBe(code);
  expect(processGone(started.pid)).toBe(true);
  if (options.portHeldByTest !== true) expect(await portBindable(rig.port)).toBe(true);
  return started;
}

describe('rigcap run: a failed start exits with its code and leaves nothing behind', () => {
  it('a key folder group/other can read: RIGCAP_KEY_PERMISSIONS', { timeout: 120_000 }, async () => {
    const rig = await rigConfig();
    const init = await runCli(['keys', 'init', '--config', rig.configFile]);
    expect(init.code, init.stderr).toBe(0);
    chmodSync(rig.keys, 0o755);
    await expectStartFailure(rig, 'RIGCAP_KEY_PERMISSIONS', /has mode 755; it must be 700/);
  });

  it('the ops port taken: RIGCAP_OPS_LISTEN_FAILED with the port text', { timeout: 120_000 }, async () => {
    const rig = await rigConfig();
    const blocker = await listenOn(rig.port);
    blockers.push(blocker);
    const failed = await expectStartFailure(rig, 'RIGCAP_OPS_LISTEN_FAILED', /EADDRINUSE/, {
      portHeldByTest: true,
    });
    // The test's listener owned the port; once it closes, nothing else holds it.
    await new Promise((r) => blocker.close(r));
    blockers.splice(blockers.indexOf(blocker), 1);
    expect(await portBindable(rig.port)).toBe(true);
    expect(failed.logs.some((l) => l.msg === 'marker control socket bound')).toBe(false);
  });

  it(
    'the control socket folder missing: made (0750), the daemon starts and stops on SIGINT',
    { timeout: 120_000 },
    async () => {
      const rig = await rigConfig((config, r) => {
        (config['ops'] as Record<string, unknown>)['controlEndpoint'] =
          `ipc://${join(r.configFile, '..', 'run', 'rigcap', 'control.sock')}`;
      });
      const folder = join(rig.configFile, '..', 'run', 'rigcap');
      const started = startDaemon(rig.configFile);
      child = started;
      await started.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });
      expect(statSync(folder).mode & 0o777).toBe(0o750);
      expect(await started.stop({ signal: 'SIGINT', timeoutMs: exitBoundMs }), started.tail()).toEqual({
        code: 0,
        signal: null,
      });
      expect(started.logs.at(-1)?.msg).toBe('stopped');
      expect(processGone(started.pid)).toBe(true);
      expect(await portBindable(rig.port)).toBe(true);
    },
  );

  it(
    'the control socket folder cannot be made: RIGCAP_OPS_CONTROL_DIR names the folder and why',
    { timeout: 120_000 },
    async (ctx) => {
      let errno: string | undefined;
      const rig = await rigConfig((config, r) => {
        const parent = join(r.configFile, '..', 'run');
        errno = makeUnwritable(parent);
        (config['ops'] as Record<string, unknown>)['controlEndpoint'] =
          `ipc://${join(parent, 'rigcap', 'control.sock')}`;
      });
      if (errno === undefined) ctx.skip();
      const folder = join(rig.configFile, '..', 'run', 'rigcap');
      const failed = await expectStartFailure(
        rig,
        'RIGCAP_OPS_CONTROL_DIR',
        `folder ${folder} cannot be made (${errno}`,
      );
      expect(failed.stderr()).not.toContain(errorCatalogue.RIGCAP_OPS_LISTEN_FAILED);
      // Nothing of capture was started after the control socket failed.
      expect(failed.logs.some((l) => l.msg === 'catalog migrated')).toBe(false);
    },
  );

  it(
    'a sync CA file that is not there: RIGCAP_CONFIG_UNREADABLE (exit 2) before capture starts',
    { timeout: 120_000 },
    async () => {
      const rig = await rigConfig((config, r) => {
        config['sync'] = {
          enabled: true,
          storeUrl: 'https://127.0.0.1:9/',
          caFile: join(r.configFile, '..', 'etc', 'store-ca.pem'),
        };
      });
      const failed = await expectStartFailure(
        rig,
        'RIGCAP_CONFIG_UNREADABLE',
        /sync\.caFile .*store-ca\.pem cannot be read \(ENOENT\)/,
        {
          exitCode: 2,
        },
      );
      expect(failed.logs.some((l) => l.msg === 'catalog migrated')).toBe(false);
    },
  );

  it(
    'sync with no store key pinned and no trustOnFirstUse: RIGCAP_SYNC_STORE_KEY_UNPINNED before capture starts',
    { timeout: 120_000 },
    async () => {
      const rig = await rigConfig((config) => {
        config['sync'] = { enabled: true, storeUrl: 'https://127.0.0.1:9/' };
      });
      const failed = await expectStartFailure(rig, 'RIGCAP_SYNC_STORE_KEY_UNPINNED', /sync\.storeKey/, {
        exitCode: 1,
      });
      expect(failed.logs.some((l) => l.msg === 'catalog migrated')).toBe(false);
    },
  );

  it('a read-only spool: RIGCAP_SPOOL_UNWRITABLE', { timeout: 120_000 }, async (ctx) => {
    let errno: string | undefined;
    const rig = await rigConfig((_config, r) => {
      errno = makeUnwritable(r.spool);
    });
    if (errno === undefined) ctx.skip();
    await expectStartFailure(rig, 'RIGCAP_SPOOL_UNWRITABLE', `is not writable (${errno}`);
  });

  it(
    'a de-id model missing: RIGCAP_DEID_MODEL_MISSING, workers and catalog released',
    { timeout: 120_000 },
    async () => {
      const rig = await rigConfig((config, r) => {
        // One camera stream that must be blurred, and a custom model whose file is not there.
        const streams = config['streams'] as Array<Record<string, unknown>>;
        streams.push({
          name: 'front_camera',
          driver: 'zmq',
          endpoint: (streams[0] as { endpoint: string }).endpoint,
          socket: 'sub',
          topic: '/camera/front/image/compressed',
          type: 'sensor_msgs/msg/CompressedImage',
          encoding: 'cdr',
        });
        config['deid'] = {
          enabled: true,
          workers: 1,
          customModels: [
            {
              name: 'site-faces',
              kind: 'face',
              path: join(r.configFile, '..', 'models', 'site-faces.onnx'),
              sha256: '0'.repeat(64),
              inputSize: 128,
              decoder: 'blazeface',
            },
          ],
        };
      });
      await expectStartFailure(
        rig,
        'RIGCAP_DEID_MODEL_MISSING',
        /model 'site-faces' cannot be read at .*\(ENOENT\)/,
      );
    },
  );
});
