// A signer's hash chain: every record names its seq (1, 2, …) and the SHA-256 of the previous
// record's payload bytes. ChainState is the pure head; buildRecord makes and signs the next record.
import { inTotoPayloadType, preAuthEncoding, toBase64, type DsseEnvelope } from './dsse.ts';
import type { Signer } from './ed25519.ts';
import { canonicalBytes, sha256Hex } from './jcs.ts';
import type { ChainFields, PredicateBody, PredicateByName, PredicateName } from './predicates.ts';
import { buildStatement, type ResourceDescriptor, type Statement } from './statement.ts';
import { predicateProblems } from './validate.ts';

/** The seq and prev the next record must carry. */
export interface ChainLink {
  seq: number;
  prev: string | null;
}

/** The last record of a chain: its seq and the hex SHA-256 of its payload bytes. */
export interface ChainHead {
  seq: number;
  payloadSha256: string;
}

/** Pure chain head: hands out the next link and advances only once a record is committed. */
export class ChainState {
  #head: ChainHead | null;

  constructor(head: ChainHead | null) {
    this.#head = head;
  }

  /** The head, or null before the first record. */
  get head(): ChainHead | null {
    return this.#head;
  }

  /** The link the next record carries. */
  next(): ChainLink {
    return this.#head === null
      ? { seq: 1, prev: null }
      : { seq: this.#head.seq + 1, prev: this.#head.payloadSha256 };
  }

  /** Moves the head to a committed record; refuses anything but the next seq (no forks). */
  advance(committed: ChainHead): void {
    const expected = this.next().seq;
    if (committed.seq !== expected)
      throw new RangeError(`chain expected seq ${expected}, got ${committed.seq}`);
    this.#head = { ...committed };
  }
}

/** Where and when a record is made (all but the link and keyId of its chain fields). */
export interface ChainContext {
  signerId: string;
  bootId: string;
  monoNs: bigint;
  wallNs: bigint;
}

/** A signed record and the facts the chain and stores need about it. */
export interface SignedRecord<N extends PredicateName = PredicateName> {
  envelope: DsseEnvelope;
  statement: Statement<PredicateByName[N]>;
  payload: Uint8Array;
  payloadSha256: string;
  seq: number;
}

/** Builds, validates and signs one record at `link` of the chain. */
export function buildRecord<N extends PredicateName>(options: {
  name: N;
  body: PredicateBody<N>;
  subject: ResourceDescriptor[];
  link: ChainLink;
  context: ChainContext;
  signer: Signer;
}): SignedRecord<N> {
  const { name, body, subject, link, context, signer } = options;
  const chain: ChainFields = {
    deviceId: context.signerId,
    keyId: signer.keyId,
    seq: link.seq,
    prev: link.prev,
    bootId: context.bootId,
    monoNs: context.monoNs.toString(),
    wallNs: context.wallNs.toString(),
  };
  const predicate = { chain, ...(body as object) } as PredicateByName[N];
  const problems = predicateProblems(name, predicate);
  if (problems.length > 0) throw new TypeError(`${name} predicate invalid: ${problems.join('; ')}`);
  const statement = buildStatement(name, subject, predicate);
  const payload = canonicalBytes(statement);
  const sig = signer.sign(preAuthEncoding(inTotoPayloadType, payload));
  const envelope: DsseEnvelope = {
    payloadType: inTotoPayloadType,
    payload: toBase64(payload),
    signatures: [{ keyid: signer.keyId, sig: toBase64(sig) }],
  };
  return { envelope, statement, payload, payloadSha256: sha256Hex(payload), seq: link.seq };
}

/** Subject of a heartbeat or marker: the previous record (`record-<seq>`, its payload digest). */
export function previousRecordSubject(link: ChainLink): ResourceDescriptor[] {
  if (link.prev === null) return [{ name: 'record-0', digest: { sha256: sha256Hex(new Uint8Array()) } }];
  return [{ name: `record-${link.seq - 1}`, digest: { sha256: link.prev } }];
}
