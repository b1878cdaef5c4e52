// The stream config as drivers see it. Declared here so drivers never import agent/; the agent's
// validated StreamConfig is structurally assignable to DriverStreamConfig (a test checks it).
import type { SampleEncoding } from './types.ts';

/** Fields every driver reads from a stream config. */
export interface DriverStreamCommon {
  /** Stream name, unique in the config. */
  readonly name: string;
  /** Topic as written to MCAP (and, for zmq, as published on the wire). */
  readonly topic: string;
  /** ROS 2 type (`sensor_msgs/msg/Imu`) or a JSON schema id for json streams. */
  readonly type: string;
  readonly encoding: SampleEncoding;
  readonly latched: boolean;
  /** Samples larger than this are dropped as `oversize`. */
  readonly maxMessageBytes: number;
  /** Take capture time from the CDR header stamp instead of the transport's time. */
  readonly headerTime?: boolean;
}

export interface ZmqDriverStream extends DriverStreamCommon {
  readonly driver: 'zmq';
  readonly endpoint: string;
  readonly socket: 'sub' | 'pull';
  /** Bind instead of connect. */
  readonly bind: boolean;
}

export interface McapReplayDriverStream extends DriverStreamCommon {
  readonly driver: 'mcap-replay';
  readonly file: string;
  readonly speed: 'recorded' | 'max';
  /** Topic in the source file (defaults to `topic`). */
  readonly sourceTopic?: string;
}

export interface Ros2DriverStream extends DriverStreamCommon {
  readonly driver: 'ros2';
  readonly qos?: {
    readonly reliability: 'auto' | 'reliable' | 'best_effort';
    readonly durability: 'auto' | 'volatile' | 'transient_local';
    readonly depth: number;
  };
}

export type DriverStreamConfig = ZmqDriverStream | McapReplayDriverStream | Ros2DriverStream;
