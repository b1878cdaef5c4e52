// The predicate bodies of rigcap's signed records (in-toto predicates, `https://rigcap.dev/<name>/v<n>`).
// Nanosecond times and byte sizes are decimal strings; seq, indexes and counts are JSON numbers.
// capture-chunk and session are at v2 (capture context, config snapshot); the others are at v1.

/** Names of the predicates, as they appear in the predicateType URI. */
export const predicateNames = [
  'capture-chunk',
  'session',
  'heartbeat',
  'device-key',
  'custody-receipt',
  'retention-action',
  'event-marker',
  'access',
] as const;
export type PredicateName = (typeof predicateNames)[number];

/** Current version of each predicate: what this rigcap writes, and what older records are lifted to. */
export const currentPredicateVersions: Readonly<Record<PredicateName, number>> = {
  'capture-chunk': 2,
  session: 2,
  heartbeat: 1,
  'device-key': 1,
  'custody-receipt': 1,
  'retention-action': 1,
  'event-marker': 1,
  access: 1,
};

/** `https://rigcap.dev/<name>/v<version>` (the current version unless given). */
export function predicateTypeOf(
  name: PredicateName,
  version: number = currentPredicateVersions[name],
): string {
  return `https://rigcap.dev/${name}/v${version}`;
}

/** Splits a predicateType URI into name and version, or undefined for foreign types. */
export function parsePredicateType(uri: string): { name: PredicateName; version: number } | undefined {
  const m = /^https:\/\/rigcap\.dev\/([a-z-]+)\/v([1-9][0-9]*)$/.exec(uri);
  if (m === null) return undefined;
  const name = predicateNames.find((n) => n === m[1]);
  return name === undefined ? undefined : { name, version: Number(m[2]) };
}

/** Position of a record in its signer's chain. */
export interface ChainFields {
  /** The signer id: a device id, or a store id for custody receipts. */
  deviceId: string;
  keyId: string;
  seq: number;
  /** Hex SHA-256 of the previous record's JCS payload bytes; null for seq 1. */
  prev: string | null;
  bootId: string;
  monoNs: string;
  wallNs: string;
}

export interface StreamSummary {
  topic: string;
  type: string;
  count: number;
  /** Samples dropped inside the agent, by cause (`queue_full`, `oversize`, `deid_backpressure`, …). */
  drops: Record<string, number>;
  /** Samples lost before the agent saw them (publisher sequence gaps). */
  upstreamLoss: number;
  /** How many of `count` are latched values re-written at the chunk's start (absent = 0). */
  latchedReplays?: number;
  /** Hex SHA-256 of the stream's message definition (MCAP schema data); absent when unknown. */
  schemaSha256?: string;
}

export interface ClockInterval {
  state: 'locked' | 'holdover' | 'unsynced';
  startNs: string;
  endNs: string;
}

/** min/max/mean/p95 of a nanosecond quantity, as signed decimal strings. */
export interface NsStatistics {
  min: string;
  max: string;
  mean: string;
  p95: string;
}

/** The clock's sync state over a chunk's time window (agent/timesync builds it). */
export interface TimesyncSummary {
  source: 'chrony' | 'ptp' | 'none';
  startNs: string;
  endNs: string;
  intervals: ClockInterval[];
  /** Offset from the reference clock; null when no sample fell in the window. */
  offsetNs: NsStatistics | null;
  dispersionNs: NsStatistics | null;
  samples: number;
  /** Clock steps seen during the chunk. */
  steps: Array<{ atNs: string; stepNs: string }>;
  stateAtEnd: 'locked' | 'holdover' | 'unsynced';
}

export interface CalibrationRef {
  sensor: string;
  /** Hex SHA-256 (optionally `sha256:`-prefixed) of the `calibration/<sensor>.yaml` attachment. */
  digest: string;
  version: string | number;
}

/** A de-identification (or other) transform's lineage; free-form beyond `kind`. */
export interface TransformLineage {
  kind: string;
  [field: string]: unknown;
}

/** A sensor's identity as the config (or its driver) knows it. */
export interface SensorIdentity {
  stream: string;
  serial?: string;
  firmware?: string;
}

/**
 * Who captured the data, where, and on what terms (config `policy.*`, v2). null = not configured,
 * or unknown in a record lifted from v1.
 */
export interface CaptureContext {
  owner: string | null;
  site: { id: string; name: string } | null;
  /** SPDX licence identifier or expression (`CC-BY-4.0`, `LicenseRef-acme-internal`). */
  licence: string | null;
  legalBasis: string | null;
  consentRef: string | null;
  purpose: string | null;
  sensors: SensorIdentity[];
}

export interface CaptureChunkPredicate {
  chain: ChainFields;
  sessionId: string;
  chunkIndex: number;
  startNs: string;
  endNs: string;
  bytes: string;
  streams: StreamSummary[];
  timesync: TimesyncSummary;
  calibration: CalibrationRef[];
  transforms: TransformLineage[];
  producer: { rigcapVersion: string; configDigest: string };
  /**
   * `owner` is absent in records written before it was signed; `allowedRegions` (store regions the
   * data may be sent to) is absent when the config sets none.
   */
  policy: {
    residency: string;
    retentionDays: number;
    purpose: string;
    owner?: string;
    allowedRegions?: string[];
  };
  /**
   * v2: capture context; the agent always writes it (a v1 record lifted to v2 carries what its
   * policy knew, the rest null). Absent only in records other tools build by hand.
   */
  context?: CaptureContext;
  /**
   * v2: ids of the geofences the rig was inside during the chunk (GNSS), in order of first entry;
   * absent when the config has no geofences. Never coordinates.
   */
  regions?: string[];
  /** v2: windows the rig's GNSS fixes lay outside every geofence (absent without geofences). */
  outsideGeofences?: Array<{ startNs: string; endNs: string }>;
}

/** What a gap is: lost samples, paused capture, degraded de-id, downtime, clock or calibration. */
export type GapKind =
  | 'loss'
  | 'capture_paused'
  | 'deid'
  | 'downtime'
  | 'clock_unsynced'
  | 'clock_holdover'
  | 'clock_step'
  | 'calibration_missing'
  | 'geofence_exit';

/**
 * A window of a session whose data is missing or of lesser quality. `cause` is a short machine
 * reason; `kind`, `stream`, `counts` and `stepNs` are absent in records written before they existed.
 */
export interface SessionGap {
  startNs: string;
  endNs: string;
  cause: string;
  kind?: GapKind;
  /** The stream it concerns (absent for session-wide gaps: clock, downtime). */
  stream?: string;
  /** Samples lost in the window, by cause. */
  counts?: Record<string, number>;
  /** A clock step's size (signed decimal ns). */
  stepNs?: string;
}

/** The session's config with secrets removed; SHA-256 of its JCS bytes is `producer.configDigest`. */
export type ConfigSnapshot = Record<string, unknown>;

export type SessionPredicate =
  | {
      chain: ChainFields;
      sessionId: string;
      phase: 'open';
      rigId: string;
      startNs: string;
      /** v2 (the agent always writes them); null in a record lifted from v1. */
      context?: CaptureContext | null;
      producer?: { rigcapVersion: string; configDigest: string } | null;
      config?: ConfigSnapshot | null;
    }
  | {
      chain: ChainFields;
      sessionId: string;
      phase: 'close';
      rigId: string;
      startNs: string;
      endNs: string;
      chunks: number;
      /** RFC 6962 Merkle root over the session's chunk digests (see session-root.ts). */
      root: string;
      gaps: SessionGap[];
      reason: string;
    };

export interface HeartbeatPredicate {
  chain: ChainFields;
  sessionId: string | null;
  uptimeNs: string;
  /** Free-form health summary (backlog, disk, clock state). */
  status: Record<string, unknown>;
}

export type DeviceKeyPredicate =
  | { chain: ChainFields; action: 'enrol'; keyId: string; publicKey: string; region?: string }
  | { chain: ChainFields; action: 'rotate'; keyId: string; newKeyId: string; newPublicKey: string }
  | { chain: ChainFields; action: 'revoke'; keyId: string; invalidFromSeq: number; reason: string };

export interface CustodyReceiptPredicate {
  chain: ChainFields;
  /** The device record the store took custody of. */
  record: { signer: string; seq: number; sha256: string };
  /** The blob it names, when the record is a chunk record. */
  blob: { name: string; sha256: string; bytes: string } | null;
  receivedWallNs: string;
  log: { index: number; size: number; root: string };
  /** The store's region, when it states one (absent = unknown: outside any allowedRegions). */
  region?: string;
}

export interface RetentionActionPredicate {
  chain: ChainFields;
  deleted: Array<{ session: string; name: string; sha256: string }>;
  reason: string;
}

export interface EventMarkerPredicate {
  chain: ChainFields;
  sessionId: string | null;
  label: string;
  note: string;
  atNs: string;
  operator: string;
}

/** One request to the store's read API or dashboard: who, what digest, why, when; never content. */
export interface AccessEntry {
  /** The reader's name from the readers file (null: no known credential was presented). */
  reader: string | null;
  role: 'reader' | 'auditor' | 'admin' | null;
  /** `read`, `export` or `list`: what the route does. */
  action: 'read' | 'export' | 'list';
  /** The route pattern asked for (e.g. `/v1/sessions/:sessionId`). */
  route: string;
  /** What was asked for (`session-<id>`, `record-<signer>-<seq>`, `blob-<sha256>`, …). */
  object: string;
  /** SHA-256 of the bytes the reader received (null when nothing was sent). */
  sha256: string | null;
  sessionId: string | null;
  purpose: string | null;
  atNs: string;
  status: number;
  /** `read` (2xx), `refused` (401/403), `not-found` (404), `invalid` (other 4xx), `failed` (5xx). */
  outcome: 'read' | 'refused' | 'not-found' | 'invalid' | 'failed';
  /** The error code answered, when not a read. */
  code: string | null;
}

/** Store-signed: a batch of read-API and dashboard requests, in the order they were answered. */
export interface AccessPredicate {
  chain: ChainFields;
  entries: AccessEntry[];
}

/** Predicate body type by name. */
export interface PredicateByName {
  'capture-chunk': CaptureChunkPredicate;
  session: SessionPredicate;
  heartbeat: HeartbeatPredicate;
  'device-key': DeviceKeyPredicate;
  'custody-receipt': CustodyReceiptPredicate;
  'retention-action': RetentionActionPredicate;
  'event-marker': EventMarkerPredicate;
  access: AccessPredicate;
}

/** A predicate body without its chain fields (what callers supply; the chain fills the rest). */
export type PredicateBody<N extends PredicateName> = PredicateByName[N] extends infer P
  ? P extends { chain: ChainFields }
    ? Omit<P, 'chain'>
    : never
  : never;

/** `chunk-000001.mcap` for chunk index 1. */
export function chunkFileName(chunkIndex: number): string {
  return `chunk-${String(chunkIndex).padStart(6, '0')}.mcap`;
}

/** `000000000042.dsse.json` for seq 42. */
export function recordFileName(seq: number): string {
  return `${String(seq).padStart(12, '0')}.dsse.json`;
}
