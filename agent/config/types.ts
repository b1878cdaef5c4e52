// The validated, frozen shape of a rigcap config (version 1), derived from the JSON Schema in
// schema.ts (json-schema-to-ts), so a field the schema gains appears here, required when it has a
// default. Loading (load.ts) adds what the schema cannot state in a type: byte sizes parsed to
// numbers, each stream narrowed by its driver (the schema's if/then), keys.dir and an mcap-replay
// stream's sourceTopic filled in.
import type { FromSchema } from 'json-schema-to-ts';
import type { Geofence } from '../records/geofence.ts';
import type { byteSize, configSchema } from './schema.ts';

/** The config as the schema accepts it, defaults applied; byte sizes are still `64MiB` or a number. */
export type ValidatedConfig = FromSchema<typeof configSchema>;

/** The same shape with every byte size (schema.ts `byteSize`) a number of bytes. */
type ParsedConfig = FromSchema<
  typeof configSchema,
  { deserialize: [{ pattern: { anyOf: (typeof byteSize)['anyOf'] }; output: number }] }
>;

/** Flattens intersections so editors show one object. */
type Flat<T> = { [K in keyof T]: T[K] };

/** A stream entry as the schema states it: every driver's keys optional. */
export type ValidatedStream = ValidatedConfig['streams'][number];
type SchemaStream = ParsedConfig['streams'][number];
type DriverKey = 'driver' | 'endpoint' | 'socket' | 'bind' | 'file' | 'speed' | 'sourceTopic' | 'qos';
type StreamCommon = Omit<SchemaStream, DriverKey>;

/** A zmq stream: the schema requires `endpoint` and defaults `socket` and `bind` for this driver. */
export type ZmqStreamConfig = Flat<
  StreamCommon & { driver: 'zmq' } & Required<Pick<SchemaStream, 'endpoint' | 'socket' | 'bind'>>
>;
/** An mcap-replay stream: `file` required, `speed` defaulted, `sourceTopic` defaults to `topic`. */
export type McapReplayStreamConfig = Flat<
  StreamCommon & { driver: 'mcap-replay' } & Required<Pick<SchemaStream, 'file' | 'speed' | 'sourceTopic'>>
>;
/** A ros2 stream: `qos` defaulted for this driver. */
export type Ros2StreamConfig = Flat<StreamCommon & { driver: 'ros2' } & Required<Pick<SchemaStream, 'qos'>>>;

export type StreamConfig = ZmqStreamConfig | McapReplayStreamConfig | Ros2StreamConfig;

export type QueueConfig = StreamCommon['queue'];
export type DropPolicy = QueueConfig['dropPolicy'];
export type StreamDeidConfig = StreamCommon['deid'];

export type SpoolConfig = ParsedConfig['spool'];
export type BudgetPolicy = SpoolConfig['onBudget'];
/** `dir` is always set after load: the configured folder, else `secrets/` beside the spool. */
export type KeysConfig = { dir: string };
export type Ros2DiscoveryConfig = ParsedConfig['ros2'];
export type ChunkingConfig = ParsedConfig['chunking'];
/** Geofences from the config and from `geofencesFile`, merged at load. */
export type PolicyConfig = Flat<Omit<ParsedConfig['policy'], 'geofences'> & { geofences: Geofence[] }>;
export type CalibrationConfig = ParsedConfig['calibration'];
export type TimesyncConfig = ParsedConfig['timesync'];
export type DeidConfig = ParsedConfig['deid'];
export type SyncConfig = ParsedConfig['sync'];
export type OpsConfig = ParsedConfig['ops'];

export type RigcapConfig = Flat<
  Omit<ParsedConfig, 'streams' | 'keys' | 'policy'> & {
    streams: StreamConfig[];
    keys: KeysConfig;
    policy: PolicyConfig;
  }
>;
