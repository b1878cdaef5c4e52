// Decodes a serialised record back into its statement, refusing every byte-level variation from
// what rigcap writes, so that any single-byte change to a record file is caught.
import { fromCanonicalBase64, inTotoPayloadType, parseEnvelope, type DsseEnvelope } from './dsse.ts';
import { canonicalText, sha256Hex } from './jcs.ts';
import type { ChainFields, PredicateByName, PredicateName } from './predicates.ts';
import { statementType, type ResourceDescriptor } from './statement.ts';
import { checkPredicate, upgradePredicate } from './validate.ts';

interface DecodedRecordFields {
  bytes: Uint8Array;
  envelope: DsseEnvelope;
  payload: Uint8Array;
  payloadSha256: string;
  subject: ResourceDescriptor[];
  chain: ChainFields;
  keyId: string;
  signature: Uint8Array;
}

/** A decoded record of one predicate: `name` says which, `predicate` is lifted to the current version. */
export type DecodedRecordOf<N extends PredicateName> = DecodedRecordFields & {
  name: N;
  predicate: PredicateByName[N];
};

/**
 * A record file decoded and schema-checked (the signature is checked by the chain pass): a union
 * discriminated on `name`, so `switch (record.name)` narrows `record.predicate`.
 */
export type DecodedRecord = { [N in PredicateName]: DecodedRecordOf<N> }[PredicateName];

/** A guard for `filter`/`find`: keeps the records of one predicate, typed as such. */
export const isRecordOf =
  <N extends PredicateName>(name: N) =>
  (r: DecodedRecord): r is Extract<DecodedRecord, { name: N }> =>
    r.name === name;

/** The session a record names (session, capture-chunk, heartbeat, event-marker); undefined otherwise. */
export function sessionIdOf(r: DecodedRecord): string | null | undefined {
  return 'sessionId' in r.predicate ? r.predicate.sessionId : undefined;
}

export type DecodeResult =
  | { ok: true; record: DecodedRecord }
  | { ok: false; code: 'VERIFY_MALFORMED' | 'VERIFY_SCHEMA'; reason: string };

/** Decodes one envelope (file bytes or one JSON line plus its newline). */
export function decodeRecord(bytes: Uint8Array): DecodeResult {
  const parsed = parseEnvelope(bytes);
  if (parsed === undefined) return { ok: false, code: 'VERIFY_MALFORMED', reason: 'not a DSSE envelope' };
  if (!parsed.canonical)
    return {
      ok: false,
      code: 'VERIFY_MALFORMED',
      reason: 'envelope bytes differ from the canonical serialisation',
    };
  const { envelope } = parsed;
  if (envelope.payloadType !== inTotoPayloadType)
    return { ok: false, code: 'VERIFY_MALFORMED', reason: `payloadType ${envelope.payloadType}` };
  const [sig, ...extra] = envelope.signatures;
  if (sig === undefined || extra.length > 0)
    return { ok: false, code: 'VERIFY_MALFORMED', reason: 'expected exactly one signature' };
  const signature = fromCanonicalBase64(sig.sig);
  const payload = fromCanonicalBase64(envelope.payload);
  if (signature === undefined || payload === undefined)
    return { ok: false, code: 'VERIFY_MALFORMED', reason: 'non-canonical base64' };
  let statement: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
    statement = JSON.parse(text);
  } catch (err) {
    // Not UTF-8 (TypeError from the fatal decoder) or not JSON (SyntaxError).
    if (!(err instanceof TypeError || err instanceof SyntaxError)) throw err;
    return { ok: false, code: 'VERIFY_MALFORMED', reason: 'payload is not JSON' };
  }
  if (canonicalText(statement) !== text)
    return { ok: false, code: 'VERIFY_MALFORMED', reason: 'payload is not JCS-canonical' };
  const s = statement as Record<string, unknown>;
  if (s['_type'] !== statementType)
    return { ok: false, code: 'VERIFY_SCHEMA', reason: `_type is not ${statementType}` };
  const subject = s['subject'];
  if (!isSubjectList(subject))
    return {
      ok: false,
      code: 'VERIFY_SCHEMA',
      reason: 'subject must be a non-empty list of {name, digest: {sha256}}',
    };
  const upgraded = upgradePredicate(String(s['predicateType']), s['predicate']);
  if (!upgraded.ok) return { ok: false, code: 'VERIFY_SCHEMA', reason: upgraded.reason };
  const checked = checkPredicate(upgraded.name, upgraded.body);
  if (!checked.ok)
    return {
      ok: false,
      code: 'VERIFY_SCHEMA',
      reason: `${upgraded.name}: ${checked.problems.slice(0, 3).join('; ')}`,
    };
  return {
    ok: true,
    record: {
      bytes,
      envelope,
      payload,
      payloadSha256: sha256Hex(payload),
      ...checked.value,
      subject,
      chain: checked.value.predicate.chain,
      keyId: sig.keyid,
      signature,
    },
  };
}

function isSubjectList(value: unknown): value is ResourceDescriptor[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((d: unknown) => {
      if (typeof d !== 'object' || d === null) return false;
      const r = d as Record<string, unknown>;
      const digest = r['digest'] as Record<string, unknown> | undefined;
      return (
        typeof r['name'] === 'string' &&
        typeof digest === 'object' &&
        digest !== null &&
        /^[0-9a-f]{64}$/.test(String(digest['sha256']))
      );
    })
  );
}
