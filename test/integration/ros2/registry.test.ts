import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createDrivers } from '../../../drivers/registry.ts';
import type { Ros2DriverStream } from '../../../drivers/stream-config.ts';

// The real registry and the real driver module, in a process where rclnodejs is not installed.
describe('ros2 through the driver registry', () => {
  const streams: Ros2DriverStream[] = [
    {
      name: 'scan',
      driver: 'ros2',
      topic: '/scan',
      type: 'sensor_msgs/msg/LaserScan',
      encoding: 'cdr',
      latched: false,
      maxMessageBytes: 1 << 20,
    },
  ];
  const log = pino({ level: 'silent' });

  it('builds the driver without loading rclnodejs, then fails open with the environment code and fix', async () => {
    const [driver] = await createDrivers(streams, { log });
    expect(driver?.name).toBe('ros2');
    const saved = { distro: process.env['ROS_DISTRO'], prefix: process.env['AMENT_PREFIX_PATH'] };
    delete process.env['ROS_DISTRO'];
    delete process.env['AMENT_PREFIX_PATH'];
    try {
      await expect(driver?.open(new AbortController().signal)).rejects.toMatchObject({
        code: 'RIGCAP_ROS2_ENV_MISSING',
      });
    } finally {
      if (saved.distro !== undefined) process.env['ROS_DISTRO'] = saved.distro;
      if (saved.prefix !== undefined) process.env['AMENT_PREFIX_PATH'] = saved.prefix;
    }
  });

  it('fails open with RIGCAP_ROS2_UNAVAILABLE in a sourced environment without rclnodejs', async () => {
    const [driver] = await createDrivers(streams, { log });
    const saved = { distro: process.env['ROS_DISTRO'], prefix: process.env['AMENT_PREFIX_PATH'] };
    process.env['ROS_DISTRO'] = 'jazzy';
    process.env['AMENT_PREFIX_PATH'] = '/opt/ros/jazzy';
    try {
      await expect(driver?.open(new AbortController().signal)).rejects.toMatchObject({
        code: 'RIGCAP_ROS2_UNAVAILABLE',
      });
    } finally {
      if (saved.distro === undefined) delete process.env['ROS_DISTRO'];
      else process.env['ROS_DISTRO'] = saved.distro;
      if (saved.prefix === undefined) delete process.env['AMENT_PREFIX_PATH'];
      else process.env['AMENT_PREFIX_PATH'] = saved.prefix;
    }
  });
});
