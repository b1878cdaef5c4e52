// Entry point the driver registry imports lazily; importing it never loads rclnodejs.

import type { Logger } from 'pino';
import type { Ros2DriverStream } from '../stream-config.ts';
import { Ros2Driver, type Ros2DriverOptions } from './driver.ts';
import type { Ros2DiscoverySettings } from './topic-selection.ts';

export { Ros2Driver } from './driver.ts';
export type { Ros2DriverOptions, Ros2DriverWarning, Ros2StreamInfo } from './driver.ts';
export type { Ros2DriverClock } from './clock.ts';
export { Ros2DriverError, type Ros2DriverErrorCode } from './errors.ts';
export { Ros2SchemaResolver, type ResolvedSchema } from './message-definitions.ts';
export { offeredQosProfilesYaml, chooseSubscriptionQos } from './qos.ts';
export { readLeadingStampNs, cdrByteOrder } from './cdr-header-stamp.ts';
export { discoveredStreamName, TopicSelector, type Ros2DiscoverySettings } from './topic-selection.ts';
export { loadInstalledRclnodejs, readRos2Environment } from './rclnodejs-loader.ts';
export type * from './rclnodejs-api.ts';

/** Discovery off: only the configured streams are tapped. */
export const DISCOVERY_DISABLED: Ros2DiscoverySettings = {
  enabled: false,
  include: [],
  exclude: [],
  discoveryIntervalMs: 2000,
  nodeName: 'rigcap',
};

/** Builds the ROS 2 driver from fully assembled options (tests, ingest tools). */
export function createRos2Driver(options: Ros2DriverOptions): Ros2Driver {
  return new Ros2Driver(options);
}

/**
 * The registry's entry point: one driver (one ROS node) for every ros2 stream, plus the config's
 * `ros2:` section as `deps.ros2` so discovery works even with no stream configured.
 */
export function createDriver(
  streams: readonly Ros2DriverStream[],
  deps: { log: Logger; ros2?: Ros2DiscoverySettings },
): Ros2Driver {
  return new Ros2Driver({
    streams,
    discovery: deps.ros2 ?? DISCOVERY_DISABLED,
    onWarning: (warning) =>
      deps.log.warn({ stream: warning.stream, topic: warning.topic, driver: 'ros2' }, warning.message),
  });
}
