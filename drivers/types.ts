// The boundary between transports and the agent. Drivers produce Samples and know nothing else;
// this folder never imports from agent/.

/** Payload encodings a driver may hand over. */
export type SampleEncoding = 'cdr' | 'jpeg' | 'png' | 'raw-rgb8' | 'raw-bgr8' | 'json' | 'bytes';

/** One message as it left the sensor, the unit that flows through the agent. */
export interface Sample {
  /** Stream name from config (e.g. `front_camera`). */
  readonly stream: string;
  /** Topic as published (e.g. `/camera/front/image/compressed`). */
  readonly topic: string;
  /** Publisher sequence number (per stream, from 0 or 1; gaps mean upstream loss). */
  readonly seq: number;
  /** Capture time, wall clock, ns since the Unix epoch. */
  readonly captureNs: bigint;
  /** Receive time on the monotonic clock, ns. */
  readonly monoNs: bigint;
  readonly encoding: SampleEncoding;
  /** Schema reference: ROS type name (`sensor_msgs/msg/CompressedImage`) or a JSON Schema id. */
  readonly schemaRef: string;
  readonly data: Uint8Array;
}

/** Why a sample was not kept. Every drop is counted under one of these. */
export type DropCause =
  | 'queue_full'
  | 'decode_error'
  | 'oversize'
  | 'unknown_topic'
  | 'malformed_frame'
  | 'type_mismatch'
  | 'upstream_loss'
  | 'middleware_lost'
  | 'deid_backpressure'
  | 'deid_failed'
  | 'disk_budget'
  | 'disk_full'
  | 'write_error'
  | 'snapshot_window'
  /** A frame held for late de-id that was never blurred (stop budget spent, process ended, torn file). */
  | 'deid_held_lost'
  /** A frame that found the de-id holding area full (its drop policy chose it). */
  | 'deid_holding_full'
  /** A sample still queued when a stop ran out of time. */
  | 'stop_abandoned';

/** Per-stream counters a driver reports. */
export interface DriverStreamStats {
  received: number;
  bytes: number;
  drops: Partial<Record<DropCause, number>>;
}

export interface DriverStats {
  /** Keyed by stream name. */
  streams: Record<string, DriverStreamStats>;
  /** Drops that belong to no configured stream (unknown topic, a frame too large or too broken to name its topic). */
  unattributed?: Partial<Record<DropCause, number>>;
}

/** Description of one stream's schema, so the ChunkWriter can register an MCAP schema/channel. */
export interface StreamSchema {
  /** MCAP schema name (`sensor_msgs/msg/Image`). */
  name: string;
  /** MCAP schema encoding: `ros2msg`, `jsonschema`, or '' for none. */
  encoding: string;
  /** Schema text bytes (ros2msg with dependencies concatenated, or a JSON Schema). */
  data: Uint8Array;
  /** MCAP message encoding: `cdr`, `json`, or another registered name. */
  messageEncoding: string;
  /** MCAP channel metadata (ROS 2: `offered_qos_profiles`, rosbag2's YAML, so `ros2 bag play` keeps QoS). */
  channelMetadata?: Record<string, string>;
}

/** A drop the driver saw before a sample existed (bad frame, unknown topic, upstream gap). */
export interface DriverDrop {
  /** Stream name, or '' when the drop belongs to no configured stream (see DriverStats.unattributed). */
  stream: string;
  cause: DropCause;
  count: number;
  detail?: string;
}

/**
 * A transport. `open` connects (cancellable); `samples` yields until `close`; `close` finishes
 * in-flight work, `destroy` abandons it. Both are idempotent.
 */
export interface Driver {
  readonly name: string;
  open(signal: AbortSignal): Promise<void>;
  samples(): AsyncIterable<Sample>;
  /**
   * Optional push form of `samples` for high-rate transports: calls `onSample` for each sample as
   * it arrives and settles when iteration would end, without a promise per sample.
   */
  deliver?(onSample: (sample: Sample) => void): Promise<void>;
  /** Schemas for the streams this driver serves (known after open; may grow on discovery). */
  schemas(): ReadonlyMap<string, StreamSchema>;
  /** Register a listener for drops detected inside the driver. */
  onDrop(listener: (drop: DriverDrop) => void): void;
  stats(): DriverStats;
  close(): Promise<void>;
  destroy(err?: Error): void;
}
