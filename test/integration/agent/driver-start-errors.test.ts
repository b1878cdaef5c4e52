// A driver that cannot be loaded or opened fails the agent's start with the driver's own code (not
// RIGCAP_INTERNAL, not a generic open failure), and the start releases what it had opened.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../../agent/agent.ts';
import { parseConfig } from '../../../agent/config/load.ts';
import { isRigcapError } from '../../../agent/errors.ts';
import { silentLogger } from '../../../agent/log.ts';
import { createDrivers } from '../../../drivers/registry.ts';
import { simAgentConfigYaml } from './sim-config.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function agentWith(
  create: AgentCreate,
  extraStreams: Array<Record<string, unknown>> = [],
): Promise<Agent> {
  dir = await mkdtemp(join(tmpdir(), 'rigcap-driver-errors-'));
  const loaded = parseConfig(
    simAgentConfigYaml({
      spoolDir: join(dir, 'spool'),
      keysDir: join(dir, 'secrets'),
      endpoint: 'tcp://127.0.0.1:1',
      sensors: { frontCamera: false, rearCamera: false, lidar: false, imu: true, gnss: false, tf: false },
      extraStreams,
    }),
    { baseDir: dir },
  );
  return new Agent({
    config: loaded.config,
    configDigest: loaded.digest,
    log: silentLogger(),
    createDrivers: create,
  });
}
type AgentCreate = typeof createDrivers;

describe('driver failures during start keep their code', () => {
  it('a driver module that cannot be loaded: RIGCAP_DRIVER_UNAVAILABLE, catalog closed', async () => {
    const agent = await agentWith((streams, deps) =>
      createDrivers(streams, deps, {
        loaders: { zmq: () => Promise.reject(new Error("Cannot find module 'zeromq'")) },
      }),
    );
    const failure = await agent.start(new AbortController().signal).catch((err: unknown) => err);
    expect(isRigcapError(failure, 'RIGCAP_DRIVER_UNAVAILABLE')).toBe(true);
    expect((failure as Error).message).toContain("driver 'zmq' could not be loaded");
    expect(agent.catalog).toBeUndefined();
  });

  it('a driver constructor that throws something uncoded: RIGCAP_DRIVER_OPEN_FAILED naming it', async () => {
    const agent = await agentWith(() => Promise.reject(new TypeError('endpoint is not a string')));
    const failure = await agent.start(new AbortController().signal).catch((err: unknown) => err);
    expect(isRigcapError(failure, 'RIGCAP_DRIVER_OPEN_FAILED')).toBe(true);
    expect((failure as Error).message).toContain('could not be created: endpoint is not a string');
  });

  it('a ROS 2 stream without a sourced ROS 2: RIGCAP_ROS2_ENV_MISSING, not a generic open failure', async () => {
    const saved = { distro: process.env['ROS_DISTRO'], prefix: process.env['AMENT_PREFIX_PATH'] };
    delete process.env['ROS_DISTRO'];
    delete process.env['AMENT_PREFIX_PATH'];
    try {
      const agent = await agentWith(createDrivers, [
        { name: 'scan', driver: 'ros2', topic: '/scan', type: 'sensor_msgs/msg/LaserScan' },
      ]);
      const failure = await agent.start(new AbortController().signal).catch((err: unknown) => err);
      expect(isRigcapError(failure, 'RIGCAP_ROS2_ENV_MISSING')).toBe(true);
      expect(agent.catalog).toBeUndefined();
    } finally {
      if (saved.distro !== undefined) process.env['ROS_DISTRO'] = saved.distro;
      if (saved.prefix !== undefined) process.env['AMENT_PREFIX_PATH'] = saved.prefix;
    }
  });
});
