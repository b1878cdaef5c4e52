// What changed between two sessions, from their signed records alone (pure): config keys (the
// session-open snapshot), message definitions (schema digest per stream), calibration versions,
// rigcap version, de-id models and parameters, and the capture context.
import { chunkOf, contextOfSession, openOfSession, type SessionRecords } from './exports.ts';
import { canonicalText, sha256Hex } from './jcs.ts';
import type { TransformLineage } from './predicates.ts';

export type SessionChangeKind =
  | 'config'
  | 'message-definition'
  | 'calibration'
  | 'rigcap-version'
  | 'deid-model'
  | 'deid-parameter'
  | 'context';

/** One difference: `key` names what changed; null on one side = absent there. */
export interface SessionChange {
  kind: SessionChangeKind;
  key: string;
  from: unknown;
  to: unknown;
}

export interface SessionDiff {
  from: string;
  to: string;
  changes: SessionChange[];
  /** Things the records cannot answer (v1 records carry no config snapshot or schema digests). */
  unknown: string[];
}

/** The facts of one session the diff compares. */
interface SessionProfile {
  config: Record<string, unknown> | null;
  configDigest: string | null;
  rigcapVersion: string | null;
  schemas: Map<string, string>;
  calibration: Map<string, string>;
  deidModels: Map<string, string>;
  deidParams: string | null;
  context: Record<string, unknown>;
  problems: string[];
}

/** Compares two gathered sessions; changes are sorted by kind, then key. */
export function diffSessions(a: SessionRecords, b: SessionRecords): SessionDiff {
  const pa = profile(a);
  const pb = profile(b);
  const changes: SessionChange[] = [];
  const unknown = [
    ...pa.problems.map((p) => `${a.sessionId}: ${p}`),
    ...pb.problems.map((p) => `${b.sessionId}: ${p}`),
  ];

  let deidConfigChanged = false;
  if (pa.config !== null && pb.config !== null) {
    for (const c of diffMaps(flatten(pa.config), flatten(pb.config))) {
      const deid = c.key === 'deid' || c.key.startsWith('deid.');
      if (deid) deidConfigChanged = true;
      changes.push({ kind: deid ? 'deid-parameter' : 'config', ...c });
    }
  } else if (pa.configDigest !== pb.configDigest) {
    changes.push({ kind: 'config', key: '(configDigest)', from: pa.configDigest, to: pb.configDigest });
  }
  for (const c of diffMaps(pa.schemas, pb.schemas)) changes.push({ kind: 'message-definition', ...c });
  for (const c of diffMaps(pa.calibration, pb.calibration)) changes.push({ kind: 'calibration', ...c });
  if (pa.rigcapVersion !== pb.rigcapVersion)
    changes.push({
      kind: 'rigcap-version',
      key: 'rigcapVersion',
      from: pa.rigcapVersion,
      to: pb.rigcapVersion,
    });
  for (const c of diffMaps(pa.deidModels, pb.deidModels)) changes.push({ kind: 'deid-model', ...c });
  // The parameters digest restates the de-id config: named keys say more, so it shows only alone.
  if (!deidConfigChanged && pa.deidParams !== pb.deidParams)
    changes.push({ kind: 'deid-parameter', key: 'paramsDigest', from: pa.deidParams, to: pb.deidParams });
  for (const c of diffMaps(new Map(Object.entries(pa.context)), new Map(Object.entries(pb.context))))
    changes.push({ kind: 'context', ...c });
  changes.sort((x, y) => (x.kind === y.kind ? x.key.localeCompare(y.key) : x.kind.localeCompare(y.kind)));
  return { from: a.sessionId, to: b.sessionId, changes, unknown };
}

function profile(s: SessionRecords): SessionProfile {
  const problems: string[] = [];
  const open = openOfSession(s);
  const chunks = s.chunks.map(chunkOf);
  const first = chunks[0];
  let config = open?.config ?? null;
  const configDigest = open?.producer?.configDigest ?? first?.producer.configDigest ?? null;
  if (config === null) problems.push('no config snapshot in the records (written before v2)');
  else if (
    configDigest !== null &&
    sha256Hex(new TextEncoder().encode(canonicalText(config))) !== configDigest
  ) {
    problems.push('the config snapshot does not match its configDigest; keys not compared');
    config = null;
  }
  const schemas = new Map<string, string>();
  const calibration = new Map<string, string>();
  const deidModels = new Map<string, string>();
  let deidParams: string | null = null;
  let schemaless = false;
  for (const c of chunks) {
    for (const st of c.streams) {
      if (st.schemaSha256 === undefined) schemaless = true;
      else schemas.set(`${st.topic} (${st.type})`, st.schemaSha256);
    }
    for (const cal of c.calibration)
      calibration.set(cal.sensor, `version ${String(cal.version)}, ${cal.digest}`);
    for (const t of c.transforms) {
      if (t.kind !== 'de-identification') continue;
      for (const [name, sha] of deidModelsOf(t)) deidModels.set(name, sha);
      if (typeof t['paramsDigest'] === 'string') deidParams = t['paramsDigest'];
    }
  }
  if (schemaless) problems.push('some streams have no message-definition digest (written before v2)');
  const ctx = contextOfSession(s);
  const context: Record<string, unknown> =
    ctx === null
      ? {}
      : Object.fromEntries(
          Object.entries(ctx)
            .filter(([k]) => k !== 'sensors')
            .map(([k, v]) => [k, v]),
        );
  for (const sensor of ctx?.sensors ?? [])
    context[`sensor.${sensor.stream}`] = { serial: sensor.serial ?? null, firmware: sensor.firmware ?? null };
  return {
    config,
    configDigest,
    rigcapVersion: open?.producer?.rigcapVersion ?? first?.producer.rigcapVersion ?? null,
    schemas,
    calibration,
    deidModels,
    deidParams,
    context,
    problems,
  };
}

function deidModelsOf(t: TransformLineage): Array<[string, string]> {
  const models = t['models'];
  if (Array.isArray(models))
    return models
      .filter(
        (m): m is { name: string; sha256: string } =>
          typeof m?.name === 'string' && typeof m?.sha256 === 'string',
      )
      .map((m) => [m.name, m.sha256]);
  const digests = t['modelDigests'];
  if (typeof digests === 'object' && digests !== null)
    return Object.entries(digests as Record<string, unknown>).map(([k, v]) => [k, String(v)]);
  return [];
}

/** Dotted keys of a JSON value; lists of named objects are keyed by name (`streams.imu.queue.size`). */
export function flatten(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (Array.isArray(value)) {
    const named = value.every(
      (v) =>
        typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)['name'] === 'string',
    );
    const names = named ? value.map((v) => (v as { name: string }).name) : [];
    if (value.length > 0 && named && new Set(names).size === names.length) {
      value.forEach((v, i) => flatten(v, `${prefix}.${names[i]!}`, out));
    } else out.set(prefix, value);
  } else if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) out.set(prefix, value);
    for (const [k, v] of entries) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else out.set(prefix, value);
  return out;
}

function diffMaps(
  a: ReadonlyMap<string, unknown>,
  b: ReadonlyMap<string, unknown>,
): Array<{ key: string; from: unknown; to: unknown }> {
  const out: Array<{ key: string; from: unknown; to: unknown }> = [];
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const from = a.has(key) ? a.get(key) : null;
    const to = b.has(key) ? b.get(key) : null;
    if (canonicalText(from ?? null) !== canonicalText(to ?? null))
      out.push({ key, from: from ?? null, to: to ?? null });
  }
  return out;
}
