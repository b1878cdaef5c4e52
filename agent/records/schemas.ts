// JSON Schemas (draft 2020-12) of every predicate. Strict where a verifier or an export relies on a
// field, open (additionalProperties) where lineage and health summaries evolve. Written `as const`,
// so predicates.ts derives the predicate types from them (json-schema-to-ts).
import type { PredicateName } from './predicates.ts';

const decimal = { type: 'string', pattern: '^(0|[1-9][0-9]*)$' } as const;
const signedDecimal = { type: 'string', pattern: '^(0|-?[1-9][0-9]*)$' } as const;
const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const id = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' } as const;
const count = { type: 'integer', minimum: 0 } as const;
const text = { type: 'string', maxLength: 4096 } as const;

const chain = {
  type: 'object',
  additionalProperties: false,
  required: ['deviceId', 'keyId', 'seq', 'prev', 'bootId', 'monoNs', 'wallNs'],
  properties: {
    deviceId: id,
    keyId: hex64,
    seq: { type: 'integer', minimum: 1 },
    prev: { anyOf: [hex64, { type: 'null' }] },
    bootId: { type: 'string', maxLength: 128 },
    monoNs: decimal,
    wallNs: decimal,
  },
} as const;

/** An object schema with these required properties and no others. */
function object<const R extends readonly string[], const P extends Record<string, unknown>>(
  required: R,
  properties: P,
) {
  return { type: 'object', additionalProperties: false, required, properties } as const;
}

/** An object schema that also admits properties it does not name (lineage evolves). */
function openObject<const R extends readonly string[], const P extends Record<string, unknown>>(
  required: R,
  properties: P,
) {
  return { type: 'object', additionalProperties: true, required, properties } as const;
}

/** min/max/mean/p95 of a nanosecond quantity (signed decimal strings). */
const nsStatistics = object(['min', 'max', 'mean', 'p95'], {
  min: signedDecimal,
  max: signedDecimal,
  mean: signedDecimal,
  p95: signedDecimal,
});

const nullable = <const S>(schema: S) => ({ anyOf: [schema, { type: 'null' }] }) as const;

/** An SPDX licence id or expression: ids joined by AND/OR/WITH, optional parentheses. */
export const spdxExpressionPattern =
  '^\\(?[A-Za-z0-9][A-Za-z0-9.+-]*\\)?( (AND|OR|WITH) \\(?[A-Za-z0-9][A-Za-z0-9.+-]*\\)?)*$';

const captureContext = object(
  ['owner', 'site', 'licence', 'legalBasis', 'consentRef', 'purpose', 'sensors'],
  {
    owner: nullable(text),
    site: nullable(object(['id', 'name'], { id, name: text })),
    licence: nullable({ type: 'string', maxLength: 256, pattern: spdxExpressionPattern }),
    legalBasis: nullable(text),
    consentRef: nullable(text),
    purpose: nullable(text),
    sensors: {
      type: 'array',
      items: object(['stream'], {
        stream: text,
        serial: { type: 'string', maxLength: 256 },
        firmware: { type: 'string', maxLength: 256 },
      }),
    },
  },
);

const regionIds = { type: 'array', items: id } as const;

const captureChunk = object(
  [
    'chain',
    'sessionId',
    'chunkIndex',
    'startNs',
    'endNs',
    'bytes',
    'streams',
    'timesync',
    'calibration',
    'transforms',
    'producer',
    'policy',
  ],
  {
    chain,
    sessionId: id,
    chunkIndex: { type: 'integer', minimum: 1 },
    startNs: decimal,
    endNs: decimal,
    bytes: decimal,
    streams: {
      type: 'array',
      items: object(['topic', 'type', 'count', 'drops', 'upstreamLoss'], {
        topic: text,
        type: text,
        count,
        drops: {
          type: 'object',
          additionalProperties: count,
          propertyNames: { pattern: '^[a-z0-9_]{1,64}$' },
        },
        upstreamLoss: count,
        latchedReplays: count,
        schemaSha256: hex64,
      }),
    },
    timesync: object(
      [
        'source',
        'startNs',
        'endNs',
        'intervals',
        'offsetNs',
        'dispersionNs',
        'samples',
        'steps',
        'stateAtEnd',
      ],
      {
        source: { enum: ['chrony', 'ptp', 'none'] },
        startNs: decimal,
        endNs: decimal,
        intervals: {
          type: 'array',
          items: object(['state', 'startNs', 'endNs'], {
            state: { enum: ['locked', 'holdover', 'unsynced'] },
            startNs: decimal,
            endNs: decimal,
          }),
        },
        offsetNs: { anyOf: [nsStatistics, { type: 'null' }] },
        dispersionNs: { anyOf: [nsStatistics, { type: 'null' }] },
        samples: count,
        steps: { type: 'array', items: object(['atNs', 'stepNs'], { atNs: decimal, stepNs: signedDecimal }) },
        stateAtEnd: { enum: ['locked', 'holdover', 'unsynced'] },
      },
    ),
    calibration: {
      type: 'array',
      items: object(['sensor', 'digest', 'version'], {
        sensor: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' },
        digest: { type: 'string', pattern: '^(sha256:)?[0-9a-f]{64}$' },
        version: {
          anyOf: [
            { type: 'string', maxLength: 128 },
            { type: 'integer', minimum: 0 },
          ],
        },
      }),
    },
    transforms: {
      type: 'array',
      items: openObject(['kind'], { kind: { type: 'string', maxLength: 64 } }),
    },
    producer: object(['rigcapVersion', 'configDigest'], { rigcapVersion: text, configDigest: text }),
    policy: object(['residency', 'retentionDays', 'purpose'], {
      residency: text,
      retentionDays: count,
      purpose: text,
      owner: text,
      allowedRegions: regionIds,
    }),
    context: captureContext,
    regions: regionIds,
    outsideGeofences: {
      type: 'array',
      items: object(['startNs', 'endNs'], { startNs: decimal, endNs: decimal }),
    },
  },
);

const gap = object(['startNs', 'endNs', 'cause'], {
  startNs: decimal,
  endNs: decimal,
  cause: text,
  kind: {
    enum: [
      'loss',
      'capture_paused',
      'deid',
      'downtime',
      'clock_unsynced',
      'clock_holdover',
      'clock_step',
      'calibration_missing',
      'geofence_exit',
    ],
  },
  stream: text,
  counts: { type: 'object', additionalProperties: count, propertyNames: { pattern: '^[a-z0-9_]{1,64}$' } },
  stepNs: signedDecimal,
});

const session = {
  oneOf: [
    object(['chain', 'sessionId', 'phase', 'rigId', 'startNs'], {
      chain,
      sessionId: id,
      phase: { const: 'open' },
      rigId: text,
      startNs: decimal,
      context: nullable(captureContext),
      producer: nullable(
        object(['rigcapVersion', 'configDigest'], { rigcapVersion: text, configDigest: text }),
      ),
      config: nullable({ type: 'object' }),
    }),
    object(['chain', 'sessionId', 'phase', 'rigId', 'startNs', 'endNs', 'chunks', 'root', 'gaps', 'reason'], {
      chain,
      sessionId: id,
      phase: { const: 'close' },
      rigId: text,
      startNs: decimal,
      endNs: decimal,
      chunks: count,
      root: hex64,
      gaps: { type: 'array', items: gap },
      reason: text,
    }),
  ],
} as const;

const heartbeat = object(['chain', 'sessionId', 'uptimeNs', 'status'], {
  chain,
  sessionId: { anyOf: [id, { type: 'null' }] },
  uptimeNs: decimal,
  status: { type: 'object' },
});

const deviceKey = {
  oneOf: [
    object(['chain', 'action', 'keyId', 'publicKey'], {
      chain,
      action: { const: 'enrol' },
      keyId: hex64,
      publicKey: text,
      // A store's enrol record states the region it holds data in (rigcap receiver --region).
      region: id,
    }),
    object(['chain', 'action', 'keyId', 'newKeyId', 'newPublicKey'], {
      chain,
      action: { const: 'rotate' },
      keyId: hex64,
      newKeyId: hex64,
      newPublicKey: text,
    }),
    object(['chain', 'action', 'keyId', 'invalidFromSeq', 'reason'], {
      chain,
      action: { const: 'revoke' },
      keyId: hex64,
      invalidFromSeq: { type: 'integer', minimum: 1 },
      reason: text,
    }),
  ],
} as const;

const custodyReceipt = object(['chain', 'record', 'blob', 'receivedWallNs', 'log'], {
  chain,
  record: object(['signer', 'seq', 'sha256'], {
    signer: id,
    seq: { type: 'integer', minimum: 1 },
    sha256: hex64,
  }),
  blob: {
    anyOf: [
      { type: 'null' },
      object(['name', 'sha256', 'bytes'], { name: text, sha256: hex64, bytes: decimal }),
    ],
  },
  receivedWallNs: decimal,
  log: object(['index', 'size', 'root'], { index: count, size: count, root: hex64 }),
  region: id,
});

const retentionAction = object(['chain', 'deleted', 'reason'], {
  chain,
  deleted: {
    type: 'array',
    items: object(['session', 'name', 'sha256'], { session: id, name: text, sha256: hex64 }),
  },
  reason: text,
});

const eventMarker = object(['chain', 'sessionId', 'label', 'note', 'atNs', 'operator'], {
  chain,
  sessionId: { anyOf: [id, { type: 'null' }] },
  label: { type: 'string', minLength: 1, maxLength: 256 },
  note: text,
  atNs: decimal,
  operator: text,
});

const short = { type: 'string', maxLength: 256 } as const;

const accessEntry = object(
  [
    'reader',
    'role',
    'action',
    'route',
    'object',
    'sha256',
    'sessionId',
    'purpose',
    'atNs',
    'status',
    'outcome',
    'code',
  ],
  {
    reader: nullable(id),
    role: nullable({ enum: ['reader', 'auditor', 'admin'] }),
    action: { enum: ['read', 'export', 'list'] },
    route: short,
    object: short,
    sha256: nullable(hex64),
    sessionId: nullable(short),
    purpose: nullable(short),
    atNs: decimal,
    status: { type: 'integer', minimum: 100, maximum: 599 },
    outcome: { enum: ['read', 'refused', 'not-found', 'invalid', 'failed'] },
    code: nullable({ type: 'string', maxLength: 64 }),
  },
);

const access = object(['chain', 'entries'], {
  chain,
  entries: { type: 'array', minItems: 1, maxItems: 64, items: accessEntry },
});

const schemas = {
  'capture-chunk': captureChunk,
  session,
  heartbeat,
  'device-key': deviceKey,
  'custody-receipt': custodyReceipt,
  'retention-action': retentionAction,
  'event-marker': eventMarker,
  access,
} as const satisfies Record<PredicateName, object>;

/** The schemas' literal types, by predicate name: what the predicate types are derived from. */
export type PredicateSchemas = typeof schemas;

/** JSON Schema of each predicate at the current version. */
export const predicateSchemas: Readonly<Record<PredicateName, Record<string, unknown>>> = schemas;
