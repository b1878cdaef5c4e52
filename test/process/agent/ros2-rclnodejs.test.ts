// Two things rclnodejs does that a daemon must handle, with the fake installed as a package the
// child `rigcap run` really imports (NODE_PATH): importing it adds a SIGINT listener that shuts its
// context down on its own, and init() writes generated message code into the package folder, which
// the hardened unit mounts read-only.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { errorCatalogue } from '../../../agent/errors.ts';
import { simAgentConfig } from '../../integration/agent/sim-config.ts';
import {
  writeFakeRclnodejsPackage,
  type FakeRclnodejsPackage,
} from '../../support/ros2/fake-rclnodejs-package.ts';
import {
  killDaemon,
  processGone,
  startDaemon,
  writeDaemonConfig,
  type Daemon,
} from '../../support/daemon.ts';
import { sessionStatements } from '../../support/spool-check.ts';
import { waitFor } from '../../support/wait.ts';

const ament = fileURLToPath(new URL('../../fixtures/ros2/ament', import.meta.url));

let dir: string | undefined;
let child: Daemon | undefined;
afterEach(async () => {
  await killDaemon(child);
  child = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A config with one ROS 2 stream, and the fake package the child will load. */
async function ros2Rig(
  fakeOptions: Parameters<typeof writeFakeRclnodejsPackage>[1],
  options: { listen?: string } = {},
): Promise<{ configFile: string; spool: string; fake: FakeRclnodejsPackage }> {
  dir = await mkdtemp(join(tmpdir(), 'rigcap-ros2-fake-'));
  const spool = join(dir, 'spool');
  const config = simAgentConfig({
    spoolDir: spool,
    keysDir: join(dir, 'secrets'),
    endpoint: 'tcp://127.0.0.1:1',
    sensors: { frontCamera: false, rearCamera: false, lidar: false, imu: false, gnss: false, tf: false },
    extraStreams: [{ name: 'chatter', driver: 'ros2', topic: '/chatter', type: 'std_msgs/msg/String' }],
    ...(options.listen === undefined ? {} : { listen: options.listen }),
  });
  const configFile = await writeDaemonConfig(join(dir, 'rigcap.yaml'), config);
  const fake = writeFakeRclnodejsPackage(dir, {
    publishers: [{ topic: '/chatter', type: 'std_msgs/msg/String' }],
    ...fakeOptions,
  });
  return { configFile, spool, fake };
}

function start(configFile: string, fake: FakeRclnodejsPackage): Daemon {
  child = startDaemon(configFile, {
    env: { NODE_PATH: fake.nodePath, ROS_DISTRO: 'jazzy', AMENT_PREFIX_PATH: ament },
  });
  return child;
}

describe('rigcap run with rclnodejs', () => {
  it(
    'SIGINT runs the ordered shutdown although rclnodejs added its own listener at import',
    { timeout: 120_000 },
    async () => {
      const { configFile, spool, fake } = await ros2Rig({});
      const daemon = start(configFile, fake);
      const started = await daemon.waitForLog((l) => l.msg === 'capture started', {
        what: 'capture started',
      });
      // init() generated the message code into the (writable, here) package folder.
      expect(existsSync(join(fake.generatedDir, 'generator.json'))).toBe(true);
      expect(await daemon.stop({ signal: 'SIGINT', timeoutMs: 60_000 }), daemon.tail()).toEqual({
        code: 0,
        signal: null,
      });
      expect(daemon.logs.at(-1)?.msg).toBe('stopped');
      const statements = await sessionStatements(spool, String(started['sessionId']));
      expect(statements.at(-1)?.predicate).toMatchObject({ phase: 'close', reason: 'signal' });

      // rclnodejs's listener was gone when the signal came, so it never shut the context down
      // under the driver: the driver destroyed its node, then released the context, once.
      const events = fake.events();
      expect(events).toContain('sigint:rclnodejs-listener-removed');
      expect(events).not.toContain('sigint:rclnodejs-listener-present');
      expect(events).not.toContain('shutdown:by-rclnodejs-listener');
      expect(events.filter((e) => e === 'shutdown')).toHaveLength(1);
      expect(events.indexOf('node-destroy')).toBeGreaterThan(events.indexOf('createNode:rigcap'));
      expect(events.indexOf('shutdown')).toBeGreaterThan(events.indexOf('node-destroy'));
    },
  );

  for (const errno of ['EROFS', 'EACCES'] as const) {
    it(
      `a generated folder init() cannot write (${errno}): RIGCAP_ROS2_GENERATED_READONLY, and the process exits`,
      { timeout: 120_000 },
      async () => {
        const { configFile, fake } = await ros2Rig({ generatedReadOnly: errno });
        const daemon = start(configFile, fake);
        const exit = await daemon.exitWithin(60_000);
        const stderr = daemon.stderr();
        expect(exit, stderr).toEqual({ code: 1, signal: null });
        expect(stderr).toContain('RIGCAP_ROS2_GENERATED_READONLY: ');
        expect(stderr).toContain(`(${errno})`);
        expect(stderr).toContain(`fix: ${errorCatalogue.RIGCAP_ROS2_GENERATED_READONLY}`);
        expect(stderr).not.toContain('still open');
        expect(fake.events()).toContain(`init-failed:${errno}`);
        expect(processGone(daemon.pid)).toBe(true);
      },
    );
  }

  it(
    'message code generated at install is used as is: init() writes nothing',
    { timeout: 120_000 },
    async () => {
      const { configFile, fake } = await ros2Rig({ pregenerated: true, generatedReadOnly: 'EROFS' });
      const daemon = start(configFile, fake);
      await daemon.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });
      expect(await daemon.stop({ signal: 'SIGTERM', timeoutMs: 60_000 }), daemon.tail()).toEqual({
        code: 0,
        signal: null,
      });
      expect(fake.events()).not.toContain('init-failed:EROFS');
    },
  );
});

describe('signals end rigcap run in every state', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(
      `${signal} during start-up (rclnodejs.init() still running): start abandoned, everything released, exit 0`,
      { timeout: 120_000 },
      async () => {
        const { configFile, fake } = await ros2Rig({ initStallMs: 600_000 }, { listen: '127.0.0.1:0' });
        const daemon = start(configFile, fake);
        const url = await daemon.opsUrl();
        await waitFor(() => fake.events().includes('init'), {
          what: 'rclnodejs.init() to begin',
          timeoutMs: 60_000,
        });
        expect(await daemon.stop({ signal, timeoutMs: 60_000 }), daemon.tail()).toEqual({
          code: 0,
          signal: null,
        });
        expect(daemon.logs.some((l) => l.msg === 'start cancelled; stopped')).toBe(true);
        expect(daemon.logs.some((l) => l.msg === 'capture started')).toBe(false);
        expect(daemon.stderr()).not.toContain('still open');
        expect(processGone(daemon.pid)).toBe(true);
        // The ops endpoint went with it.
        await expect(fetch(url, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow();
      },
    );
  }

  it('a second SIGINT while the ordered stop runs exits at once with 130', { timeout: 120_000 }, async () => {
    // rclnodejs's teardown blocks for seconds inside the stop, so the second signal lands in it.
    const { configFile, fake } = await ros2Rig({ shutdownStallMs: 4_000 });
    const daemon = start(configFile, fake);
    await daemon.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });
    daemon.proc.kill('SIGINT');
    await daemon.waitForLog((l) => l.msg === 'shutting down', { what: 'the ordered stop to begin' });
    expect(await daemon.stop({ signal: 'SIGINT', timeoutMs: 60_000 }), daemon.tail()).toEqual({
      code: 130,
      signal: null,
    });
    expect(daemon.logs.some((l) => l.msg === 'stopped')).toBe(false);
    expect(processGone(daemon.pid)).toBe(true);
  });
});
