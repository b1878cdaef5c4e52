import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { createDrivers, groupStreams } from '../../../drivers/registry.ts';
import type { DriverStreamConfig } from '../../../drivers/stream-config.ts';

const common = {
  type: 'sensor_msgs/msg/Imu',
  encoding: 'cdr',
  latched: false,
  maxMessageBytes: 1024,
} as const;
const streams: DriverStreamConfig[] = [
  {
    ...common,
    name: 'a',
    topic: '/a',
    driver: 'zmq',
    endpoint: 'tcp://127.0.0.1:5555',
    socket: 'sub',
    bind: false,
  },
  {
    ...common,
    name: 'b',
    topic: '/b',
    driver: 'zmq',
    endpoint: 'tcp://127.0.0.1:5555',
    socket: 'sub',
    bind: false,
  },
  {
    ...common,
    name: 'c',
    topic: '/c',
    driver: 'zmq',
    endpoint: 'tcp://127.0.0.1:5556',
    socket: 'pull',
    bind: true,
  },
  { ...common, name: 'd', topic: '/d', driver: 'mcap-replay', file: 'x.mcap', speed: 'max' },
];

describe('driver registry', () => {
  it('puts streams sharing an endpoint and socket into one driver', async () => {
    expect([...groupStreams(streams).values()].map((g) => g.map((s) => s.name))).toEqual([
      ['a', 'b'],
      ['c'],
      ['d'],
    ]);
    const drivers = await createDrivers(streams, { log: silentLogger() });
    expect(drivers.map((d) => d.name)).toEqual([
      'zmq:sub:tcp://127.0.0.1:5555',
      'zmq:pull:tcp://127.0.0.1:5556',
      'mcap-replay:x.mcap',
    ]);
  });

  it('rejects an unknown driver name with a code', async () => {
    const bad = [{ ...streams[0], driver: 'carrier-pigeon' }] as unknown as DriverStreamConfig[];
    await expect(createDrivers(bad, { log: silentLogger() })).rejects.toMatchObject({
      code: 'RIGCAP_DRIVER_UNKNOWN',
    });
  });

  it('turns a driver module that fails to load into RIGCAP_DRIVER_UNAVAILABLE, and loads nothing it does not need', async () => {
    const ros2: DriverStreamConfig = { ...common, name: 'r', topic: '/r', driver: 'ros2' };
    let zmqLoaded = false;
    const loaders = {
      ros2: () => Promise.reject(new Error("Cannot find package 'rclnodejs'")),
      zmq: () => {
        zmqLoaded = true;
        return Promise.reject(new Error('unused'));
      },
    };
    await expect(createDrivers([ros2], { log: silentLogger() }, { loaders })).rejects.toMatchObject({
      code: 'RIGCAP_DRIVER_UNAVAILABLE',
      message: expect.stringContaining('rclnodejs'),
    });
    expect(zmqLoaded).toBe(false);
    await expect(
      createDrivers([ros2], { log: silentLogger() }, { loaders: { ros2: () => Promise.resolve({}) } }),
    ).rejects.toMatchObject({ code: 'RIGCAP_DRIVER_UNAVAILABLE' });
  });
});
