// The validated, frozen shape of a rigcap config (version 1). The JSON Schema in schema.ts is the
// source of truth for what is accepted; these types mirror it for the code.
import type { Geofence } from '../records/geofence.ts';

export type DropPolicy = 'drop-oldest' | 'drop-newest';
export type BudgetPolicy = 'shed-low-priority' | 'pause';

export interface QueueConfig {
  /** Max samples held between driver and writer. */
  size: number;
  /** Max bytes held between driver and writer. */
  maxBytes: number;
  dropPolicy: DropPolicy;
}

export interface StreamDeidConfig {
  /** true only for streams explicitly exempt from de-identification (recorded in every chunk record). */
  exempt: boolean;
  /** What to do when the de-id pool cannot keep up. */
  onBackpressure: 'drop';
}

interface StreamCommon {
  /** Stream name, unique in the config; used in metrics, status and records. */
  name: string;
  /** Topic as written to MCAP (channel topic). */
  topic: string;
  /** ROS 2 type (`sensor_msgs/msg/Imu`) or JSON schema id for json streams. */
  type: string;
  encoding: 'cdr' | 'json' | 'jpeg' | 'raw-rgb8' | 'raw-bgr8' | 'bytes';
  queue: QueueConfig;
  /** Latched topics (tf_static, camera_info) are re-written at the start of every chunk. */
  latched: boolean;
  /** Samples larger than this are dropped as `oversize`. */
  maxMessageBytes: number;
  /** 0 (highest) … 9 (lowest): sync order and which streams are shed first on a full disk. */
  priority: number;
  /** Image streams only. */
  deid: StreamDeidConfig;
  /** Use the header stamp in the CDR message as capture time instead of the publisher's header. */
  headerTime: boolean;
  /** The sensor's serial and firmware, when the config knows them (signed into chunk records). */
  sensor?: { serial?: string; firmware?: string };
  /** Snapshot mode: hold the last `preMs` in a bounded ring, write only from preMs before to postMs after a marker. */
  snapshot?: { preMs: number; postMs: number; maxBytes: number };
}

export interface ZmqStreamConfig extends StreamCommon {
  driver: 'zmq';
  endpoint: string;
  socket: 'sub' | 'pull';
  /** Bind instead of connect. */
  bind: boolean;
}

export interface McapReplayStreamConfig extends StreamCommon {
  driver: 'mcap-replay';
  file: string;
  /** `recorded` keeps the recorded inter-message timing; `max` plays as fast as possible. */
  speed: 'recorded' | 'max';
  /** Topic in the source file (defaults to `topic`). */
  sourceTopic: string;
}

export interface Ros2StreamConfig extends StreamCommon {
  driver: 'ros2';
  qos: {
    reliability: 'auto' | 'reliable' | 'best_effort';
    durability: 'auto' | 'volatile' | 'transient_local';
    depth: number;
  };
}

export type StreamConfig = ZmqStreamConfig | McapReplayStreamConfig | Ros2StreamConfig;

export interface Ros2DiscoveryConfig {
  /** Subscribe to topics matching include and not exclude, including ones that appear later. */
  enabled: boolean;
  include: string[];
  exclude: string[];
  discoveryIntervalMs: number;
  nodeName: string;
}

export interface ChunkingConfig {
  maxBytes: number;
  maxDurationMs: number;
  zstdLevel: number;
  /** Size of one MCAP chunk record inside a file (the unit of salvage after a crash). */
  mcapChunkBytes: number;
}

export interface PolicyConfig {
  /** Where data may be stored (ISO 3166 code or a named region), carried in every record. */
  residency: string;
  retentionDays: number;
  purpose: string;
  /** Who owns the data ('' = not stated); signed into session and chunk records. */
  owner: string;
  /** Where the data is captured; absent = not stated. */
  site?: { id: string; name: string };
  /** SPDX licence id or expression ('' = not stated). */
  licence: string;
  /** Legal basis of the capture (e.g. "GDPR Art. 6(1)(f)"), '' = not stated. */
  legalBasis: string;
  /** Reference to the consent or agreement covering the capture, '' = none. */
  consentRef: string;
  /** Capture regions: GNSS fixes are placed in these polygons; chunk records sign the ids only. */
  geofences: Geofence[];
  /** A GeoJSON FeatureCollection of Polygon features (`properties.id`) added to `geofences` at load; '' = none. */
  geofencesFile: string;
}

export interface SpoolConfig {
  dir: string;
  /** Disk budget for the spool in bytes. */
  budgetBytes: number;
  /** Keep at least this much free on the filesystem. */
  minFreeBytes: number;
  onBudget: BudgetPolicy;
}

export interface KeysConfig {
  /** Folder with the device private key (mode 0700), never inside the spool. */
  dir: string;
}

export interface CalibrationConfig {
  /** Calibration YAML files, one per sensor (`camera_info` or Kalibr conventions). */
  files: string[];
  /** Re-read the files at this interval to detect changes during a session (0 = never). */
  watchIntervalMs: number;
}

export interface TimesyncConfig {
  chrony: boolean;
  ptp: boolean;
  sampleIntervalMs: number;
  /** Offset below which a synced clock counts as locked. */
  lockedMaxOffsetNs: number;
  chronycPath: string;
  pmcPath: string;
}

export interface DeidConfig {
  enabled: boolean;
  workers: number;
  /** onnxruntime execution provider for the models; one that cannot load fails start-up. */
  executionProvider: 'cpu' | 'cuda' | 'tensorrt';
  /** Run on the CPU when the configured provider cannot load (off: fail closed). */
  fallbackToCpu: boolean;
  blur: 'gaussian' | 'pixelate';
  marginRatio: number;
  jpegQuality: number;
  faceThreshold: number;
  /** Frames over which the finest face tiles of a video stream are swept (1 = every tile, every frame). */
  faceSweepFrames: number;
  plateThreshold: number;
  timeoutMs: number;
  /** Start-up bound on the self-test (workers' warm-up included), apart from the per-frame `timeoutMs`. */
  selfTestTimeoutMs: number;
  /** Frames waiting for a worker before `deid_backpressure` drops (inline) or spilling (spill) start. */
  maxPending: number;
  /** `inline`: a frame de-id cannot take in time is dropped; `spill`: it is sealed in the holding area until blurred. */
  mode: 'inline' | 'spill';
  /** Byte budget of the holding area (capped by spool.budgetBytes). */
  holdingBytes: number;
  /** Which frame goes when the holding area is full (counted as `deid_holding_full`). */
  holdingDrop: 'oldest' | 'newest';
  /** Spill mode: held frames after each held frame its blur waits for, to fill misses from both sides (0: past only). */
  lookaheadFrames: number;
  customModels: Array<{
    name: string;
    kind: 'face' | 'plate';
    path: string;
    sha256: string;
    inputSize: number;
    decoder: string;
  }>;
}

export interface SyncConfig {
  enabled: boolean;
  storeUrl: string;
  enrollToken: string;
  partBytes: number;
  /** Link cap in bytes/s (0 = uncapped). */
  bandwidthBytesPerSec: number;
  concurrency: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** PEM file of the store's public key, if pinned. */
  storeKeyFile: string;
  caFile: string;
  /** Store regions data may be sent to; absent = any store. A store stating no region is outside. */
  allowedRegions?: string[];
}

export interface OpsConfig {
  /** host:port for the status page and Prometheus metrics (loopback by default), '' to disable. */
  listen: string;
  heartbeatIntervalMs: number;
  /** ZeroMQ PULL endpoint for markers from the robot's software ('' = off). */
  controlEndpoint: string;
  watchdog: boolean;
}

export interface RigcapConfig {
  version: 1;
  rig: { id: string; description: string };
  spool: SpoolConfig;
  keys: KeysConfig;
  streams: StreamConfig[];
  ros2: Ros2DiscoveryConfig;
  chunking: ChunkingConfig;
  policy: PolicyConfig;
  calibration: CalibrationConfig;
  timesync: TimesyncConfig;
  deid: DeidConfig;
  sync: SyncConfig;
  ops: OpsConfig;
}
