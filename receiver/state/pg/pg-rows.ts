// Rows of the PostgreSQL state as the driver returns them, and their port types.
import type { KeyRow, RecordRow } from '../../state.ts';

export interface RawRecord {
  signer_id: string;
  seq: string;
  payload_sha256: string;
  prev: string | null;
  predicate: string;
  log_index: string;
  receipt_json: string;
  envelope_json: string;
  session_id: string | null;
  chunk_name: string | null;
  blob_sha256: string | null;
  receipt_log_index: string | null;
  checkpoint: string | null;
  inclusion_proof: string[] | null;
}

export interface RawKey {
  keyid: string;
  signer_id: string;
  public_pem: string;
  valid_from_seq: string;
  revoked_from_seq: string | null;
}

export function toRecord(r: RawRecord): RecordRow {
  return {
    signerId: r.signer_id,
    seq: Number(r.seq),
    payloadSha256: r.payload_sha256,
    prev: r.prev,
    predicate: r.predicate,
    logIndex: Number(r.log_index),
    receiptJson: r.receipt_json,
    envelopeJson: r.envelope_json,
    sessionId: r.session_id,
    chunkName: r.chunk_name,
    blobSha256: r.blob_sha256,
    receiptLogIndex: r.receipt_log_index === null ? null : Number(r.receipt_log_index),
    checkpoint: r.checkpoint,
    inclusionProof: r.inclusion_proof,
  };
}

export function toKey(r: RawKey): KeyRow {
  return {
    keyid: r.keyid,
    signerId: r.signer_id,
    publicPem: r.public_pem,
    validFromSeq: Number(r.valid_from_seq),
    revokedFromSeq: r.revoked_from_seq === null ? null : Number(r.revoked_from_seq),
  };
}

export const keyColumns = 'keyid, signer_id, public_pem, valid_from_seq, revoked_from_seq';
