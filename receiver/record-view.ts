// What the receiver reads from a submitted envelope before it trusts anything in it: the decoded
// payload, the statement, and the chain position. Parsing only; signatures are checked in ingest.
import {
  fromCanonicalBase64,
  inTotoPayloadType,
  parseEnvelope,
  serializeEnvelope,
  type DsseEnvelope,
} from '../agent/records/dsse.ts';
import { isSha256Hex, sha256Hex } from '../agent/records/jcs.ts';
import { parsePredicateType, type ChainFields, type PredicateName } from '../agent/records/predicates.ts';
import { statementType, type ResourceDescriptor } from '../agent/records/statement.ts';
import { RigcapError } from '../agent/errors.ts';

/** A parsed, not yet verified, record. */
export interface RecordView {
  envelope: DsseEnvelope;
  /** The envelope exactly as it is written to records/ and the sidecar. */
  envelopeBytes: Uint8Array;
  payloadBytes: Uint8Array;
  payloadSha256: string;
  predicateName: PredicateName;
  subject: ResourceDescriptor[];
  predicate: Record<string, unknown>;
  chain: ChainFields;
}

/** Signer ids, session ids and file names: one safe path segment, never `.`/`..`. */
export const safeSegment = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** True when `name` can be used as one path segment under the store root. */
export function isSafeSegment(name: unknown): name is string {
  return typeof name === 'string' && safeSegment.test(name) && !name.includes('..');
}

function bad(message: string): RigcapError {
  return new RigcapError('RIGCAP_RECEIVER_BAD_RECORD', message);
}

function parseChain(value: unknown): ChainFields {
  if (typeof value !== 'object' || value === null) throw bad('predicate.chain is missing');
  const c = value as Record<string, unknown>;
  if (!isSafeSegment(c['deviceId']))
    throw new RigcapError('RIGCAP_RECEIVER_BAD_NAME', 'chain.deviceId is not a safe name');
  if (!isSha256Hex(c['keyId'])) throw bad('chain.keyId must be lowercase hex SHA-256');
  const seq = c['seq'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1)
    throw bad('chain.seq must be an integer ≥ 1');
  const prev = c['prev'];
  if (seq === 1 ? prev !== null : !isSha256Hex(prev))
    throw bad('chain.prev must be null at seq 1 and a SHA-256 after');
  for (const f of ['bootId', 'monoNs', 'wallNs'] as const) {
    if (typeof c[f] !== 'string') throw bad(`chain.${f} must be a string`);
  }
  return {
    deviceId: c['deviceId'] as string,
    keyId: c['keyId'] as string,
    seq,
    prev: prev as string | null,
    bootId: c['bootId'] as string,
    monoNs: c['monoNs'] as string,
    wallNs: c['wallNs'] as string,
  };
}

/** Parses envelope bytes into a RecordView; throws RIGCAP_RECEIVER_BAD_RECORD / _BAD_NAME. */
export function viewRecord(bytes: Uint8Array): RecordView {
  const parsed = parseEnvelope(bytes);
  if (parsed === undefined) throw bad('body is not a DSSE envelope');
  const { envelope } = parsed;
  // The store logs the envelope as it re-serialises it; a tlog-tiles entry is at most 65535 bytes.
  const logged = serializeEnvelope(envelope).length;
  if (logged > 0xffff)
    throw bad(`the record is ${logged} bytes as logged; the store's log takes records of at most 65535`);
  if (envelope.payloadType !== inTotoPayloadType) throw bad(`payloadType must be ${inTotoPayloadType}`);
  if (envelope.signatures.length !== 1) throw bad('a record carries exactly one signature');
  const payloadBytes = fromCanonicalBase64(envelope.payload);
  if (payloadBytes === undefined) throw bad('payload is not canonical base64');
  let statement: unknown;
  try {
    statement = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payloadBytes));
  } catch (err) {
    // The fatal decoder throws a TypeError on bad UTF-8, JSON.parse a SyntaxError.
    if (!(err instanceof TypeError || err instanceof SyntaxError)) throw err;
    throw bad('payload is not JSON');
  }
  const s = statement as Record<string, unknown>;
  if (s['_type'] !== statementType) throw bad(`_type must be ${statementType}`);
  const type = typeof s['predicateType'] === 'string' ? parsePredicateType(s['predicateType']) : undefined;
  if (type === undefined) throw bad('predicateType is not a rigcap predicate');
  const predicate = s['predicate'];
  if (typeof predicate !== 'object' || predicate === null) throw bad('predicate is missing');
  const subject = s['subject'];
  if (
    !Array.isArray(subject) ||
    !subject.every((d: unknown) => {
      const r = d as Record<string, unknown> | null;
      return (
        typeof r?.['name'] === 'string' &&
        isSha256Hex((r['digest'] as Record<string, unknown> | undefined)?.['sha256'])
      );
    })
  ) {
    throw bad('subject must be a list of { name, digest: { sha256 } }');
  }
  const chain = parseChain((predicate as Record<string, unknown>)['chain']);
  const signature = envelope.signatures[0];
  if (signature?.keyid !== chain.keyId) throw bad('the signature keyid is not chain.keyId');
  return {
    envelope,
    envelopeBytes: serializeEnvelope(envelope),
    payloadBytes,
    payloadSha256: sha256Hex(payloadBytes),
    predicateName: type.name,
    subject: subject as ResourceDescriptor[],
    predicate: predicate as Record<string, unknown>,
    chain,
  };
}
