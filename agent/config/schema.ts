// JSON Schema (draft 2020-12) for rigcap config version 1. Defaults live here, so a minimal config
// (rig id, spool dir, streams) is complete after validation. `rigcap config schema` exports it.
import { policySchema } from './schema-policy.ts';

/** A byte size as the config file writes it; config/types.ts types it as the number it loads to. */
export const byteSize = {
  description: 'Bytes: an integer, or a string with a unit (e.g. "64MiB", "2GB").',
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*(B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\\s*$' },
  ],
} as const;

const queue = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    size: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 256 },
    maxBytes: { ...byteSize, default: 64 * 1024 * 1024 },
    dropPolicy: { enum: ['drop-oldest', 'drop-newest'], default: 'drop-oldest' },
  },
} as const;

const streamCommon = {
  name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'Unique stream name.' },
  driver: { enum: ['zmq', 'mcap-replay', 'ros2'] },
  topic: { type: 'string', pattern: '^/?[A-Za-z0-9_/~.-]{1,200}$' },
  type: { type: 'string', minLength: 1, description: 'ROS 2 type (pkg/msg/Type) or a JSON schema id.' },
  encoding: { enum: ['cdr', 'json', 'jpeg', 'raw-rgb8', 'raw-bgr8', 'bytes'], default: 'cdr' },
  queue,
  latched: { type: 'boolean', default: false },
  maxMessageBytes: { ...byteSize, default: 32 * 1024 * 1024 },
  priority: { type: 'integer', minimum: 0, maximum: 9, default: 5 },
  headerTime: { type: 'boolean', default: false },
  sensor: {
    type: 'object',
    additionalProperties: false,
    description: 'The sensor behind the stream, signed into every chunk record (capture context).',
    properties: {
      serial: { type: 'string', minLength: 1, maxLength: 256 },
      firmware: { type: 'string', minLength: 1, maxLength: 256 },
    },
  },
  snapshot: {
    description: 'Snapshot mode: keep the last preMs in memory and write only around event markers.',
    type: 'object',
    additionalProperties: false,
    required: ['preMs', 'postMs'],
    properties: {
      preMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
      postMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
      maxBytes: { ...byteSize, default: 256 * 1024 * 1024 },
    },
  },
  deid: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      exempt: { type: 'boolean', default: false },
      onBackpressure: { enum: ['drop'], default: 'drop' },
    },
  },
  // driver-specific keys, checked per driver below
  endpoint: { type: 'string', pattern: '^(tcp|ipc|inproc)://.+' },
  socket: { enum: ['sub', 'pull'] },
  bind: { type: 'boolean' },
  file: { type: 'string', minLength: 1 },
  speed: { enum: ['recorded', 'max'] },
  sourceTopic: { type: 'string' },
  qos: {
    type: 'object',
    additionalProperties: false,
    properties: {
      reliability: { enum: ['auto', 'reliable', 'best_effort'], default: 'auto' },
      durability: { enum: ['auto', 'volatile', 'transient_local'], default: 'auto' },
      depth: { type: 'integer', minimum: 1, maximum: 10000, default: 10 },
    },
  },
} as const;

const stream = {
  type: 'object',
  required: ['name', 'driver', 'topic', 'type'],
  additionalProperties: false,
  properties: streamCommon,
  allOf: [
    {
      if: { properties: { driver: { const: 'zmq' } } },
      then: {
        required: ['endpoint'],
        properties: { socket: { default: 'sub' }, bind: { default: false } },
      },
    },
    {
      if: { properties: { driver: { const: 'mcap-replay' } } },
      then: { required: ['file'], properties: { speed: { default: 'max' } } },
    },
    {
      if: { properties: { driver: { const: 'ros2' } } },
      then: { properties: { qos: { default: {} } } },
    },
  ],
} as const;

/** The config JSON Schema, version 1. */
export const configSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://rigcap.dev/schemas/config/v1.json',
  title: 'rigcap config',
  type: 'object',
  required: ['version', 'rig', 'spool'],
  additionalProperties: false,
  properties: {
    version: { const: 1 },
    rig: {
      type: 'object',
      required: ['id'],
      additionalProperties: false,
      properties: {
        id: {
          type: 'string',
          pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
          description: 'Device id: lowercase letters, digits, dashes.',
        },
        description: { type: 'string', default: '' },
      },
    },
    spool: {
      type: 'object',
      required: ['dir'],
      additionalProperties: false,
      properties: {
        dir: { type: 'string', minLength: 1 },
        budgetBytes: { ...byteSize, default: 32 * 1024 * 1024 * 1024 },
        minFreeBytes: { ...byteSize, default: 512 * 1024 * 1024 },
        onBudget: { enum: ['shed-low-priority', 'pause'], default: 'shed-low-priority' },
      },
    },
    keys: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { dir: { type: 'string', minLength: 1 } },
    },
    streams: { type: 'array', items: stream, default: [] },
    ros2: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: false },
        include: { type: 'array', items: { type: 'string', format: 'regex' }, default: [] },
        exclude: { type: 'array', items: { type: 'string', format: 'regex' }, default: [] },
        discoveryIntervalMs: { type: 'integer', minimum: 100, default: 2000 },
        nodeName: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', default: 'rigcap' },
      },
    },
    chunking: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxBytes: { ...byteSize, default: 256 * 1024 * 1024 },
        maxDurationMs: { type: 'integer', minimum: 100, default: 60_000 },
        zstdLevel: { type: 'integer', minimum: 0, maximum: 19, default: 3 },
        mcapChunkBytes: { ...byteSize, default: 4 * 1024 * 1024 },
      },
    },
    policy: policySchema,
    calibration: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        files: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
        watchIntervalMs: { type: 'integer', minimum: 0, default: 10_000 },
      },
    },
    timesync: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        chrony: { type: 'boolean', default: true },
        ptp: { type: 'boolean', default: false },
        sampleIntervalMs: { type: 'integer', minimum: 100, default: 2000 },
        lockedMaxOffsetNs: { type: 'integer', minimum: 0, default: 1_000_000 },
        chronycPath: { type: 'string', default: 'chronyc' },
        pmcPath: { type: 'string', default: 'pmc' },
      },
    },
    deid: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        workers: { type: 'integer', minimum: 0, maximum: 64, default: 0, description: '0 = one per core.' },
        executionProvider: {
          enum: ['cpu', 'cuda', 'tensorrt'],
          default: 'cpu',
          description:
            'onnxruntime execution provider for the de-id models; one that cannot load stops start-up (RIGCAP_DEID_PROVIDER_UNAVAILABLE).',
        },
        fallbackToCpu: {
          type: 'boolean',
          default: false,
          description:
            'Run the de-id models on the CPU when the configured GPU provider cannot load, instead of failing.',
        },
        blur: { enum: ['gaussian', 'pixelate'], default: 'gaussian' },
        marginRatio: { type: 'number', minimum: 0, maximum: 1, default: 0.15 },
        jpegQuality: { type: 'integer', minimum: 1, maximum: 100, default: 90 },
        faceThreshold: {
          type: 'number',
          minimum: 0,
          maximum: 1,
          default: 0.75,
          description: 'Score a face candidate needs on its second, close-up check.',
        },
        faceSweepFrames: {
          type: 'integer',
          minimum: 1,
          maximum: 30,
          default: 4,
          description:
            'Frames over which the finest face tiles of a video stream are swept (1 = every tile every frame).',
        },
        plateThreshold: { type: 'number', minimum: 0, maximum: 1, default: 0.6 },
        timeoutMs: { type: 'integer', minimum: 10, default: 30000 },
        selfTestTimeoutMs: {
          type: 'integer',
          minimum: 10,
          default: 60000,
          description:
            'Start-up bound on the de-id self-test (models warmed up, then the shipped image redacted); separate from the per-frame timeoutMs so a busy machine still starts.',
        },
        maxPending: { type: 'integer', minimum: 1, default: 8 },
        mode: {
          enum: ['inline', 'spill'],
          default: 'spill',
          description:
            'inline: a frame de-id cannot take in time is dropped (deid_backpressure); spill: it is sealed (AES-256-GCM, key in memory only) in the holding area until blurred.',
        },
        holdingBytes: {
          ...byteSize,
          default: 2 * 1024 * 1024 * 1024,
          description: 'Byte budget of the spill holding area (capped by spool.budgetBytes).',
        },
        holdingDrop: {
          enum: ['oldest', 'newest'],
          default: 'oldest',
          description: 'Which held frame goes when the holding area is full (counted as deid_holding_full).',
        },
        lookaheadFrames: {
          type: 'integer',
          minimum: 0,
          maximum: 30,
          default: 0,
          description:
            "Spill mode: a held frame's blur waits for this many held frames after it of its stream, and fills a face or plate the detector missed between sightings on both sides; 0: past frames only. Inline frames always use past frames only.",
        },
        customModels: {
          type: 'array',
          default: [],
          items: {
            type: 'object',
            required: ['name', 'kind', 'path', 'sha256', 'inputSize', 'decoder'],
            additionalProperties: false,
            properties: {
              name: { type: 'string', minLength: 1 },
              kind: { enum: ['face', 'plate'] },
              path: { type: 'string', minLength: 1 },
              sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
              inputSize: { type: 'integer', minimum: 16 },
              decoder: { type: 'string', minLength: 1 },
            },
          },
        },
      },
    },
    sync: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: false },
        storeUrl: { type: 'string', default: '' },
        enrollToken: { type: 'string', default: '' },
        partBytes: { ...byteSize, default: 8 * 1024 * 1024 },
        bandwidthBytesPerSec: { ...byteSize, default: 0 },
        concurrency: { type: 'integer', minimum: 1, maximum: 16, default: 2 },
        backoffMinMs: { type: 'integer', minimum: 10, default: 500 },
        backoffMaxMs: { type: 'integer', minimum: 100, default: 60_000 },
        storeKeyFile: { type: 'string', default: '' },
        storeKey: {
          type: 'string',
          default: '',
          description:
            "The store's public key the agent pins: a PEM file, or its keyid (64 hex, the SHA-256 of the key's SPKI). Without it (or storeKeyFile) sync refuses to start unless trustOnFirstUse is true.",
        },
        trustOnFirstUse: {
          type: 'boolean',
          default: false,
          description: 'Pin whatever key the store presents first (no storeKey). Off by default.',
        },
        caFile: { type: 'string', default: '' },
        allowedRegions: {
          type: 'array',
          items: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' },
          uniqueItems: true,
          description:
            'Store regions data may be sent to; a store outside them (or stating none) gets no byte. Unset: any.',
        },
      },
    },
    ops: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        listen: { type: 'string', pattern: '^$|^[^:]+:\\d{1,5}$', default: '127.0.0.1:9464' },
        heartbeatIntervalMs: { type: 'integer', minimum: 1000, default: 60_000 },
        controlEndpoint: {
          type: 'string',
          pattern: '^$|^(tcp|ipc)://.+',
          default: '',
          description:
            'ZeroMQ PULL socket for event markers from robot software, e.g. ipc:///run/rigcap/control.sock.',
        },
        watchdog: { type: 'boolean', default: true },
      },
    },
  },
} as const;

/** JSON pointer paths (with `*` for array items) of the byte-size fields normalised to numbers. */
export const byteSizePaths: readonly string[] = [
  'spool.budgetBytes',
  'spool.minFreeBytes',
  'chunking.maxBytes',
  'chunking.mcapChunkBytes',
  'sync.partBytes',
  'sync.bandwidthBytesPerSec',
  'streams.*.queue.maxBytes',
  'streams.*.maxMessageBytes',
  'streams.*.snapshot.maxBytes',
  'deid.holdingBytes',
];
