// Whether the records a trace answer is copied from can be trusted (pure): the session's records
// verify as a bundle, receipts carry the store's signature, no record file is missing or altered,
// and the traced chunk's file hashes to what its record signs.
import { inTotoPayloadType, preAuthEncoding } from './dsse.ts';
import { keyIdOf, spkiBlocksOfPem, verifySignature } from './ed25519.ts';
import { intotoBundle, type SessionRecords } from './exports.ts';
import type { CaptureChunkPredicate } from './predicates.ts';
import { recordFileName } from './predicates.ts';
import type { DecodedRecord, DecodedRecordOf } from './record-decode.ts';
import type { VerifyFailure } from './verify-codes.ts';
import { verifyBundle } from './verify-bundle.ts';

const chunkOf = (r: DecodedRecordOf<'capture-chunk'>): CaptureChunkPredicate => r.predicate;

/** The store's key from its device-key records in the session, or undefined (a spool). */
function storeKeys(s: SessionRecords, storeId: string): Map<string, Uint8Array> {
  const keys = new Map<string, Uint8Array>();
  for (const k of s.keys) {
    if (k.chain.deviceId !== storeId) continue;
    const p = k.predicate;
    const pem = p.action === 'enrol' ? p.publicKey : p.action === 'rotate' ? p.newPublicKey : undefined;
    const spki = pem === undefined ? undefined : spkiBlocksOfPem(pem)[0];
    if (spki !== undefined) keys.set(keyIdOf(spki), spki);
  }
  return keys;
}

/** Whether a receipt verifies with the store's key; undefined when the records hold no store key. */
export function receiptSignature(s: SessionRecords, storeId: string, r: DecodedRecord): boolean | undefined {
  const keys = storeKeys(s, storeId);
  if (keys.size === 0) return undefined;
  const spki = keys.get(r.keyId);
  return (
    spki !== undefined && verifySignature(spki, preAuthEncoding(inTotoPayloadType, r.payload), r.signature)
  );
}

/** What the traced chunk's file looked like in PATH (the CLI hashes it; records do no I/O). */
export type ChunkFileEvidence =
  | { kind: 'present'; sha256: string; bytes: number; sidecar: Uint8Array | undefined }
  | { kind: 'absent'; deletedByRetention: boolean }
  | { kind: 'not-in-bundle' };

/**
 * Failures of the session's records that forbid any answer: the device records as a bundle
 * (signatures, keys, links, close root) and the receipts (with the store's key when PATH has it).
 */
export function sessionRecordFailures(s: SessionRecords): VerifyFailure[] {
  const device = { ...s, keys: s.keys.filter((k) => k.chain.deviceId === s.deviceId), receipts: [] };
  const failures = verifyBundle(new TextEncoder().encode(intotoBundle(device))).failures.map((f) => ({
    ...f,
    file: `session ${s.sessionId} records, ${f.file}`,
  }));
  for (const { storeId, record } of s.receipts) {
    if (receiptSignature(s, storeId, record) === false)
      failures.push({
        file: `records/${storeId}/${recordFileName(record.chain.seq)}`,
        code: 'VERIFY_BAD_SIGNATURE',
        reason: `custody receipt seq ${record.chain.seq} of ${storeId} does not verify with the store's key`,
      });
  }
  return failures;
}

/**
 * A signer's record files that did not decode, and seqs missing below its highest: a record altered
 * on disk is dropped by the reader, so its absence must fail verification rather than shrink the answer.
 */
export function chainFileFailures(
  signer: string,
  names: readonly string[],
  decodedSeqs: ReadonlySet<number>,
): VerifyFailure[] {
  const failures: VerifyFailure[] = [];
  const onDisk = new Set<number>();
  for (const name of names) {
    const m = /^([0-9]{12})\.dsse\.json$/.exec(name);
    if (m === null) continue;
    const seq = Number(m[1]);
    onDisk.add(seq);
    if (!decodedSeqs.has(seq))
      failures.push({
        file: `records/${signer}/${name}`,
        code: 'VERIFY_MALFORMED',
        reason: 'the record file does not decode as the exact envelope rigcap writes',
      });
  }
  const max = Math.max(0, ...onDisk);
  for (let seq = 1; seq < max; seq++)
    if (!onDisk.has(seq))
      failures.push({
        file: `records/${signer}/${recordFileName(seq)}`,
        code: 'VERIFY_CHAIN_GAP',
        reason: `seq ${seq} of ${signer} is missing`,
      });
  return failures;
}

/** Failures of the traced chunk's file: its hash and size, its sidecar, or its absence. */
export function chunkFileFailures(
  s: SessionRecords,
  chunk: DecodedRecordOf<'capture-chunk'>,
  file: ChunkFileEvidence,
): VerifyFailure[] {
  const failures: VerifyFailure[] = [];
  const name = chunk.subject[0]?.name ?? '';
  const want = chunk.subject[0]?.digest.sha256 ?? '';
  const path = `sessions/${s.sessionId}/${name}`;
  if (file.kind === 'present') {
    if (file.sha256 !== want || String(file.bytes) !== chunkOf(chunk).bytes)
      failures.push({
        file: path,
        code: 'VERIFY_DIGEST_MISMATCH',
        reason: `${name} hashes to ${file.sha256.slice(0, 12)}… (${file.bytes} bytes), its record signs ${want.slice(0, 12)}… (${chunkOf(chunk).bytes} bytes)`,
      });
    if (file.sidecar !== undefined && !Buffer.from(file.sidecar).equals(Buffer.from(chunk.bytes)))
      failures.push({
        file: `${path}.dsse.json`,
        code: 'VERIFY_SIDECAR_MISMATCH',
        reason: 'the sidecar is not byte-identical to the chain copy of the record',
      });
  } else if (file.kind === 'absent' && !file.deletedByRetention)
    failures.push({
      file: path,
      code: 'VERIFY_CHUNK_MISSING',
      reason: `${name} is absent and no retention-action record deleted it`,
    });
  return failures;
}

/** Everything that forbids an answer about this chunk: the session's records and the chunk file. */
export function traceEvidenceFailures(
  s: SessionRecords,
  chunk: DecodedRecordOf<'capture-chunk'>,
  file: ChunkFileEvidence,
): VerifyFailure[] {
  return [...sessionRecordFailures(s), ...chunkFileFailures(s, chunk, file)];
}
