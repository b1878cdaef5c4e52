// Log proofs carried by an in-toto bundle so it verifies without the store: one trailing JSON line
// per device record, `{"logProof":{ signer, seq, storeId, logIndex, checkpoint, inclusionProof }}`,
// holding the store's signed checkpoint note and the RFC 9162 inclusion proof of the record's
// envelope in it (what the store answered when it took the record). Checked with the store key
// from the store's enrol record in the bundle; the proof arithmetic is merkle.ts's.
import { createPublicKey } from 'node:crypto';
import { openNote, parseCheckpoint } from './checkpoint.ts';
import { serializeEnvelope } from './dsse.ts';
import { leafHash, verifyInclusion } from './merkle.ts';
import type { DecodedRecord } from './record-decode.ts';
import type { VerifyFailure } from './verify-codes.ts';

/** A record's place in a store's log, as the store answered it. */
export interface LogProof {
  signer: string;
  seq: number;
  storeId: string;
  logIndex: number;
  /** C2SP signed note of the checkpoint, origin `rigcap.store/<storeId>`. */
  checkpoint: string;
  /** base64 hashes. */
  inclusionProof: string[];
}

/** The bundle line carrying one proof. */
export function logProofLine(proof: LogProof): string {
  return JSON.stringify({ logProof: proof });
}

function parseProofLine(line: string): LogProof | undefined {
  try {
    const p = (JSON.parse(line) as { logProof?: Partial<LogProof> }).logProof;
    const ok =
      typeof p?.signer === 'string' &&
      typeof p.storeId === 'string' &&
      typeof p.checkpoint === 'string' &&
      Number.isSafeInteger(p.seq) &&
      Number.isSafeInteger(p.logIndex) &&
      Array.isArray(p.inclusionProof) &&
      p.inclusionProof.every((h) => typeof h === 'string');
    return ok ? (p as LogProof) : undefined;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** Splits a bundle into its envelope lines and its log-proof lines (which come last). */
export function splitBundle(bytes: Uint8Array): { envelopes: Uint8Array; proofs: LogProof[] } {
  const keep: string[] = [];
  const proofs: LogProof[] = [];
  for (const line of new TextDecoder().decode(bytes).split('\n')) {
    const proof = line.startsWith('{"logProof":') ? parseProofLine(line) : undefined;
    // A line that is not a well-formed proof stays with the envelopes, where it is VERIFY_MALFORMED.
    if (proof === undefined) keep.push(line);
    else proofs.push(proof);
  }
  return { envelopes: new TextEncoder().encode(keep.join('\n')), proofs };
}

function storeKeys(records: readonly DecodedRecord[]): Map<string, string> {
  const keys = new Map<string, string>();
  for (const r of records) {
    if (
      r.name === 'device-key' &&
      r.predicate.action === 'enrol' &&
      typeof r.predicate.publicKey === 'string'
    )
      keys.set(r.chain.deviceId, r.predicate.publicKey);
  }
  return keys;
}

/** Why one proof does not place its record in a checkpoint the store signed, or undefined. */
function proofProblem(
  proof: LogProof,
  record: DecodedRecord | undefined,
  storeKeyPem: string | undefined,
): string | undefined {
  if (record === undefined) return 'names a record the bundle does not carry';
  if (storeKeyPem === undefined) return `no enrol record of store ${proof.storeId} in the bundle`;
  const origin = `rigcap.store/${proof.storeId}`;
  const body = openNote(proof.checkpoint, { name: origin, publicKey: createPublicKey(storeKeyPem) });
  const cp = body === undefined ? undefined : parseCheckpoint(body);
  if (cp === undefined || cp.origin !== origin) return 'checkpoint is not signed by the store';
  const ok = verifyInclusion({
    leaf: leafHash(serializeEnvelope(record.envelope)),
    index: proof.logIndex,
    size: cp.size,
    proof: proof.inclusionProof.map((h) => Buffer.from(h, 'base64')),
    root: cp.root,
  });
  return ok
    ? undefined
    : `record is not included at log index ${proof.logIndex} of checkpoint size ${cp.size}`;
}

/**
 * Checks every log proof of a bundle offline, and that every chunk record has a custody receipt
 * and a proof. `lineOf` names records in failures.
 */
export function checkLogProofs(
  records: readonly DecodedRecord[],
  proofs: readonly LogProof[],
  lineOf: (r: DecodedRecord) => string,
): VerifyFailure[] {
  const failures: VerifyFailure[] = [];
  const key = (signer: string, seq: number): string => `${signer}#${seq}`;
  const byKey = new Map(records.map((r) => [key(r.chain.deviceId, r.chain.seq), r]));
  const keys = storeKeys(records);
  const proved = new Set<string>();
  for (const proof of proofs) {
    const record = byKey.get(key(proof.signer, proof.seq));
    const problem = proofProblem(proof, record, keys.get(proof.storeId));
    const file = record === undefined ? `${proof.signer}#${proof.seq}` : lineOf(record);
    if (problem === undefined) proved.add(key(proof.signer, proof.seq));
    else failures.push({ file, code: 'VERIFY_LOG_PROOF', reason: `log proof: ${problem}` });
  }
  const receipted = new Set<string>();
  for (const r of records) {
    if (r.name !== 'custody-receipt') continue;
    receipted.add(key(r.predicate.record.signer, r.predicate.record.seq));
  }
  for (const r of records) {
    if (r.name !== 'capture-chunk') continue;
    const k = key(r.chain.deviceId, r.chain.seq);
    if (!receipted.has(k))
      failures.push({
        file: lineOf(r),
        code: 'VERIFY_NO_RECEIPT',
        reason: 'chunk record has no custody receipt',
      });
    else if (!proved.has(k) && !failures.some((f) => f.file === lineOf(r)))
      failures.push({ file: lineOf(r), code: 'VERIFY_LOG_PROOF', reason: 'chunk record has no log proof' });
  }
  return failures;
}
