// An admission batch's reads and writes on PostgreSQL, one round trip each: every read the batch's
// checks need (new log leaves, the records around each record, the keys, the store's chain head)
// comes back as one row of aggregates, and every write goes as one statement of data-modifying CTEs.
import type { Pool, PoolClient } from 'pg';
import type { BatchRead, BatchReadResult, BatchWrite } from '../../state.ts';
import { keyColumns, toKey, toRecord, type RawKey, type RawRecord } from './pg-rows.ts';

type Queryable = Pick<Pool | PoolClient, 'query'>;

const readSql = `SELECT
  (SELECT coalesce(json_agg(r.*), '[]'::json) FROM receiver_records r
     JOIN unnest($1::text[], $2::bigint[]) AS q(signer_id, seq) ON r.signer_id = q.signer_id AND r.seq = q.seq) AS records,
  (SELECT coalesce(json_agg(k.*), '[]'::json) FROM (SELECT ${keyColumns} FROM receiver_keys
     WHERE keyid = ANY($3::text[]) OR signer_id = ANY($4::text[]) ORDER BY valid_from_seq, added) k) AS keys,
  (SELECT coalesce(json_agg(m.*), '[]'::json) FROM receiver_meta m WHERE m.key = ANY($5::text[])) AS meta,
  (SELECT coalesce(array_agg(leaf_hash ORDER BY idx), '{}'::bytea[]) FROM receiver_log WHERE idx >= $6) AS leaves`;

/** One round trip for everything a batch reads. */
export async function readBatch(db: Queryable, q: BatchRead): Promise<BatchReadResult> {
  const { rows } = await db.query<{
    records: RawRecord[];
    keys: RawKey[];
    meta: Array<{ key: string; value: string }>;
    leaves: Buffer[];
  }>(readSql, [
    q.positions.map((p) => p.signerId),
    q.positions.map((p) => p.seq),
    q.keyids,
    q.signerIds,
    q.meta,
    q.leavesFrom,
  ]);
  const row = rows[0];
  return {
    records: (row?.records ?? []).map(toRecord),
    keys: (row?.keys ?? []).map(toKey),
    meta: new Map((row?.meta ?? []).map((m) => [m.key, m.value])),
    leaves: row?.leaves ?? [],
  };
}

const writeSql = `WITH
  l AS (INSERT INTO receiver_log (idx, leaf_hash, entry)
          SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])),
  r AS (INSERT INTO receiver_records (signer_id, seq, payload_sha256, prev, predicate, log_index, receipt_json,
          envelope_json, session_id, chunk_name, blob_sha256, receipt_log_index, checkpoint, inclusion_proof)
        SELECT signer_id, seq, payload_sha256, prev, predicate, log_index, receipt_json, envelope_json,
          session_id, chunk_name, blob_sha256, receipt_log_index, checkpoint, inclusion_proof
        FROM jsonb_to_recordset($4::jsonb) AS x(signer_id text, seq bigint, payload_sha256 text, prev text,
          predicate text, log_index bigint, receipt_json text, envelope_json text, session_id text,
          chunk_name text, blob_sha256 text, receipt_log_index bigint, checkpoint text, inclusion_proof jsonb)),
  m AS (INSERT INTO receiver_meta (key, value) SELECT * FROM unnest($5::text[], $6::text[])
          ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value)
SELECT 1`;

/** One statement for everything a batch writes (leaves, records, meta). */
export async function writeBatch(db: Queryable, w: BatchWrite): Promise<void> {
  const records = w.records.map((row) => ({
    signer_id: row.signerId,
    seq: row.seq,
    payload_sha256: row.payloadSha256,
    prev: row.prev,
    predicate: row.predicate,
    log_index: row.logIndex,
    receipt_json: row.receiptJson,
    envelope_json: row.envelopeJson,
    session_id: row.sessionId,
    chunk_name: row.chunkName,
    blob_sha256: row.blobSha256,
    receipt_log_index: row.receiptLogIndex,
    checkpoint: row.checkpoint,
    inclusion_proof: row.inclusionProof,
  }));
  await db.query(writeSql, [
    w.leaves.map((_, i) => w.leavesFrom + i),
    w.leaves.map((l) => Buffer.from(l.leaf)),
    w.leaves.map((l) => Buffer.from(l.entry)),
    JSON.stringify(records),
    w.meta.map(([k]) => k),
    w.meta.map(([, v]) => v),
  ]);
}
