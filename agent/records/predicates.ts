// The predicate bodies of rigcap's signed records (in-toto predicates, `https://rigcap.dev/<name>/v<n>`).
// Nanosecond times and byte sizes are decimal strings; seq, indexes and counts are JSON numbers.
// capture-chunk and session are at v2 (capture context, config snapshot); the others are at v1.
import type { FromSchema } from 'json-schema-to-ts';
import type { PredicateSchemas } from './schemas.ts';

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

// The predicate types are derived from the schemas in schemas.ts (json-schema-to-ts), so a field a
// schema gains appears here; the named parts below are views into them.

/** A predicate body as its schema states it. */
type FromPredicateSchema<N extends PredicateName> = FromSchema<PredicateSchemas[N]>;

export type CaptureChunkPredicate = FromPredicateSchema<'capture-chunk'>;
/** An open record (capture context, producer, config snapshot; null when lifted from v1) or a close. */
export type SessionPredicate = FromPredicateSchema<'session'>;
export type HeartbeatPredicate = FromPredicateSchema<'heartbeat'>;
/** enrol (a store's enrol states its region), rotate or revoke. */
export type DeviceKeyPredicate = FromPredicateSchema<'device-key'>;
/** The store took custody of a device record (and the blob it names) at a log index. */
export type CustodyReceiptPredicate = FromPredicateSchema<'custody-receipt'>;
export type RetentionActionPredicate = FromPredicateSchema<'retention-action'>;
export type EventMarkerPredicate = FromPredicateSchema<'event-marker'>;
/** Store-signed: a batch of read-API and dashboard requests, in the order they were answered. */
export type AccessPredicate = FromPredicateSchema<'access'>;

/** Position of a record in its signer's chain (the signer is a device, or a store for receipts). */
export type ChainFields = CaptureChunkPredicate['chain'];
/** Per stream of a chunk: counts, drops by cause, upstream loss, latched replays, definition digest. */
export type StreamSummary = CaptureChunkPredicate['streams'][number];
/** The clock's sync state over a chunk's time window (agent/timesync builds it). */
export type TimesyncSummary = CaptureChunkPredicate['timesync'];
export type ClockInterval = TimesyncSummary['intervals'][number];
/** min/max/mean/p95 of a nanosecond quantity, as signed decimal strings. */
export type NsStatistics = NonNullable<TimesyncSummary['offsetNs']>;
/** A sensor's calibration in a chunk: the digest of its `calibration/<sensor>.yaml` attachment. */
export type CalibrationRef = CaptureChunkPredicate['calibration'][number];
/** A de-identification (or other) transform's lineage; free-form beyond `kind`. */
export type TransformLineage = CaptureChunkPredicate['transforms'][number];
/** Who captured the data, where, and on what terms (config `policy.*`); null = not stated. */
export type CaptureContext = NonNullable<CaptureChunkPredicate['context']>;
/** A sensor's identity as the config (or its driver) knows it. */
export type SensorIdentity = CaptureContext['sensors'][number];
/** A window of a session whose data is missing or of lesser quality. */
export type SessionGap = Extract<SessionPredicate, { phase: 'close' }>['gaps'][number];
/** What a gap is: lost samples, paused capture, degraded de-id, downtime, clock or calibration. */
export type GapKind = NonNullable<SessionGap['kind']>;
/** The session's config with secrets removed; SHA-256 of its JCS bytes is `producer.configDigest`. */
export type ConfigSnapshot = NonNullable<Extract<SessionPredicate, { phase: 'open' }>['config']>;
/** One request to the store's read API or dashboard: who, what digest, why, when; never content. */
export type AccessEntry = AccessPredicate['entries'][number];

/** Predicate body type by name (an interface, so generic code indexes it without re-deriving). */
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
