// Decodes a serialised record back into its statement, refusing every byte-level variation from
// what rigcap writes, so that any single-byte change to a record file is caught.
import { fromCanonicalBase64, inTotoPayloadType, parseEnvelope, type DsseEnvelope } from './dsse.ts';
import { canonicalText, sha256Hex } from './jcs.ts';
import type { ChainFields, PredicateName } from './predicates.ts';
import { statementType, type ResourceDescriptor } from './statement.ts';
import { predicateProblems, upgradePredicate } from './validate.ts';

/** A record file decoded and schema-checked (the signature is checked by the chain pass). */
export interface DecodedRecord {
  bytes: Uint8Array;
  envelope: DsseEnvelope;
  payload: Uint8Array;
  payloadSha256: string;
  name: PredicateName;
  subject: ResourceDescriptor[];
  /** The predicate lifted to the current version. */
  predicate: Record<string, unknown> & { chain: ChainFields };
  chain: ChainFields;
  keyId: string;
  signature: Uint8Array;
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
  const problems = predicateProblems(upgraded.name, upgraded.body);
  if (problems.length > 0)
    return {
      ok: false,
      code: 'VERIFY_SCHEMA',
      reason: `${upgraded.name}: ${problems.slice(0, 3).join('; ')}`,
    };
  const predicate = upgraded.body as Record<string, unknown> & { chain: ChainFields };
  return {
    ok: true,
    record: {
      bytes,
      envelope,
      payload,
      payloadSha256: sha256Hex(payload),
      name: upgraded.name,
      subject,
      predicate,
      chain: predicate.chain,
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
