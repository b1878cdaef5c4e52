// What the session and chunk pages show of verification: the session's records checked as a
// bundle (signatures, keys, links, close root, receipts) and each chunk file hashed against the
// digest its record signs (hashes cached by the reader).
import type { SessionRecords } from '../../agent/records/exports.ts';
import { intotoBundle } from '../../agent/records/exports.ts';
import type { CaptureChunkPredicate, CustodyReceiptPredicate } from '../../agent/records/predicates.ts';
import type { DecodedRecord, DecodedRecordOf } from '../../agent/records/record-decode.ts';
import type { VerifyFailure } from '../../agent/records/verify-codes.ts';
import { verifyBundle } from '../../agent/records/verify-bundle.ts';
import type { ChunkFileState, StoreReader } from './store-reader.ts';

export const chunkOf = (r: DecodedRecordOf<'capture-chunk'>): CaptureChunkPredicate => r.predicate;

export interface SessionVerify {
  failures: VerifyFailure[];
  files: Map<string, ChunkFileState & { deleted: boolean }>;
}

/** Verifies a session's records and its chunk files. */
export async function verifySession(reader: StoreReader, s: SessionRecords): Promise<SessionVerify> {
  const report = verifyBundle(new TextEncoder().encode(intotoBundle(s)));
  const failures: VerifyFailure[] = report.failures.map((f) => ({
    ...f,
    file: `session records, ${f.file}`,
  }));
  const files = new Map<string, ChunkFileState & { deleted: boolean }>();
  for (const r of s.chunks) {
    const name = r.subject[0]?.name ?? '';
    const path = `sessions/${s.sessionId}/${name}`;
    const deleted = reader.deletedByRetention(s.sessionId, name);
    const state = await reader.chunkFile(s.sessionId, name);
    files.set(name, { ...state, deleted });
    if (!state.present) {
      if (!deleted)
        failures.push({
          file: path,
          code: 'VERIFY_CHUNK_MISSING',
          reason: `${name} is absent; no retention action deleted it`,
        });
      continue;
    }
    if (state.sha256 !== r.subject[0]?.digest.sha256 || String(state.bytes) !== chunkOf(r).bytes)
      failures.push({
        file: path,
        code: 'VERIFY_DIGEST_MISMATCH',
        reason: `${name} does not hash to the digest its record signs`,
      });
    const sidecar = await reader.sidecar(s.sessionId, name);
    if (sidecar !== undefined && !Buffer.from(sidecar).equals(Buffer.from(r.bytes)))
      failures.push({
        file: `${path}.dsse.json`,
        code: 'VERIFY_SIDECAR_MISMATCH',
        reason: 'the sidecar differs from the chain copy of the record',
      });
  }
  return { failures, files };
}

/** The custody receipts that name this record (its seq and payload digest). */
export function receiptsOf(
  s: SessionRecords,
  r: DecodedRecord,
): Array<{ storeId: string; p: CustodyReceiptPredicate; seq: number }> {
  return s.receipts
    .map(({ storeId, record }) => ({
      storeId,
      p: record.predicate,
      seq: record.chain.seq,
    }))
    .filter((x) => x.p.record.seq === r.chain.seq && x.p.record.sha256 === r.payloadSha256);
}

/** A chunk file's state in words. */
export function fileCheck(v: SessionVerify, r: DecodedRecord): string {
  const name = r.subject[0]?.name ?? '';
  const f = v.files.get(name);
  if (f === undefined) return '—';
  if (!f.present) return f.deleted ? 'deleted by a signed retention action' : 'missing';
  const mine = v.failures.filter((x) => x.file.endsWith(`/${name}`) || x.file.endsWith(`/${name}.dsse.json`));
  return mine.length === 0 ? 'hash verified' : mine.map((x) => x.code).join(', ');
}
