// The receiver's own bookkeeping in SQLite: enrolled signers and their keys, every accepted record
// with its log index and receipt, the Merkle log leaves and the store's chain head. One
// transaction per accepted record makes a kill -9 leave either all of it or none of it.
import type { Database } from 'better-sqlite3';

export interface KeyRow {
  keyid: string;
  signerId: string;
  publicPem: string;
  /** First chain seq this key may sign. */
  validFromSeq: number;
  /** First chain seq this key may no longer sign (null = still valid). */
  revokedFromSeq: number | null;
}

export interface RecordRow {
  signerId: string;
  seq: number;
  payloadSha256: string;
  prev: string | null;
  predicate: string;
  logIndex: number;
  /** The store's custody-receipt envelope as JSON text. */
  receiptJson: string;
  /** The submitted envelope as JSON text (the exact bytes written to records/). */
  envelopeJson: string;
  sessionId: string | null;
  chunkName: string | null;
  blobSha256: string | null;
}

const schema = `
CREATE TABLE IF NOT EXISTS receiver_keys (
  keyid TEXT PRIMARY KEY,
  signer_id TEXT NOT NULL,
  public_pem TEXT NOT NULL,
  valid_from_seq INTEGER NOT NULL,
  revoked_from_seq INTEGER
);
CREATE TABLE IF NOT EXISTS receiver_records (
  signer_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  payload_sha256 TEXT NOT NULL,
  prev TEXT,
  predicate TEXT NOT NULL,
  log_index INTEGER NOT NULL UNIQUE,
  receipt_json TEXT NOT NULL,
  envelope_json TEXT NOT NULL,
  session_id TEXT,
  chunk_name TEXT,
  blob_sha256 TEXT,
  PRIMARY KEY (signer_id, seq)
);
CREATE TABLE IF NOT EXISTS receiver_log (
  idx INTEGER PRIMARY KEY,
  leaf_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS receiver_tokens (
  token_sha256 TEXT PRIMARY KEY,
  used_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS receiver_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

interface RawRecord {
  signer_id: string;
  seq: number;
  payload_sha256: string;
  prev: string | null;
  predicate: string;
  log_index: number;
  receipt_json: string;
  envelope_json: string;
  session_id: string | null;
  chunk_name: string | null;
  blob_sha256: string | null;
}

function toRecord(r: RawRecord): RecordRow {
  return {
    signerId: r.signer_id,
    seq: r.seq,
    payloadSha256: r.payload_sha256,
    prev: r.prev,
    predicate: r.predicate,
    logIndex: r.log_index,
    receiptJson: r.receipt_json,
    envelopeJson: r.envelope_json,
    sessionId: r.session_id,
    chunkName: r.chunk_name,
    blobSha256: r.blob_sha256,
  };
}

/** Typed access to the receiver tables on a better-sqlite3 handle. */
export class ReceiverState {
  readonly db: Database;

  constructor(db: Database) {
    this.db = db;
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(schema);
  }

  /** Runs fn in one IMMEDIATE transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  key(keyid: string): KeyRow | undefined {
    const r = this.db
      .prepare(
        'SELECT keyid, signer_id, public_pem, valid_from_seq, revoked_from_seq FROM receiver_keys WHERE keyid = ?',
      )
      .get(keyid) as
      | {
          keyid: string;
          signer_id: string;
          public_pem: string;
          valid_from_seq: number;
          revoked_from_seq: number | null;
        }
      | undefined;
    return r === undefined
      ? undefined
      : {
          keyid: r.keyid,
          signerId: r.signer_id,
          publicPem: r.public_pem,
          validFromSeq: r.valid_from_seq,
          revokedFromSeq: r.revoked_from_seq,
        };
  }

  /** Keys of one signer, oldest first. */
  keysOf(signerId: string): KeyRow[] {
    const rows = this.db
      .prepare('SELECT keyid FROM receiver_keys WHERE signer_id = ? ORDER BY valid_from_seq, rowid')
      .all(signerId) as Array<{ keyid: string }>;
    return rows.map((r) => this.key(r.keyid)).filter((k): k is KeyRow => k !== undefined);
  }

  isEnrolled(signerId: string): boolean {
    return (
      this.db.prepare('SELECT 1 FROM receiver_keys WHERE signer_id = ? LIMIT 1').get(signerId) !== undefined
    );
  }

  addKey(row: KeyRow): void {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO receiver_keys (keyid, signer_id, public_pem, valid_from_seq, revoked_from_seq) VALUES (?, ?, ?, ?, ?)',
      )
      .run(row.keyid, row.signerId, row.publicPem, row.validFromSeq, row.revokedFromSeq);
  }

  revokeKey(keyid: string, fromSeq: number): void {
    this.db
      .prepare(
        'UPDATE receiver_keys SET revoked_from_seq = MIN(COALESCE(revoked_from_seq, ?), ?) WHERE keyid = ?',
      )
      .run(fromSeq, fromSeq, keyid);
  }

  /** Marks an enrolment token as used; false when it was used before. */
  consumeToken(tokenSha256: string, signerId: string): boolean {
    const r = this.db
      .prepare('INSERT OR IGNORE INTO receiver_tokens (token_sha256, used_by) VALUES (?, ?)')
      .run(tokenSha256, signerId);
    return r.changes === 1;
  }

  record(signerId: string, seq: number): RecordRow | undefined {
    const r = this.db
      .prepare('SELECT * FROM receiver_records WHERE signer_id = ? AND seq = ?')
      .get(signerId, seq) as RawRecord | undefined;
    return r === undefined ? undefined : toRecord(r);
  }

  insertRecord(row: RecordRow): void {
    this.db
      .prepare(
        `INSERT INTO receiver_records (signer_id, seq, payload_sha256, prev, predicate, log_index, receipt_json, envelope_json, session_id, chunk_name, blob_sha256)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        row.signerId,
        row.seq,
        row.payloadSha256,
        row.prev,
        row.predicate,
        row.logIndex,
        row.receiptJson,
        row.envelopeJson,
        row.sessionId,
        row.chunkName,
        row.blobSha256,
      );
  }

  /** Every accepted record, in log order (startup repair of the file layout). */
  allRecords(): RecordRow[] {
    return (this.db.prepare('SELECT * FROM receiver_records ORDER BY log_index').all() as RawRecord[]).map(
      toRecord,
    );
  }

  /** Session records of one session in chain order (session.dsse.json is rebuilt from them). */
  sessionRecords(sessionId: string): RecordRow[] {
    return (
      this.db
        .prepare(
          "SELECT * FROM receiver_records WHERE session_id = ? AND predicate = 'session' ORDER BY signer_id, seq",
        )
        .all(sessionId) as RawRecord[]
    ).map(toRecord);
  }

  appendLeaf(index: number, leaf: Uint8Array): void {
    this.db.prepare('INSERT INTO receiver_log (idx, leaf_hash) VALUES (?, ?)').run(index, Buffer.from(leaf));
  }

  leaves(): Buffer[] {
    return (
      this.db.prepare('SELECT leaf_hash FROM receiver_log ORDER BY idx').all() as Array<{ leaf_hash: Buffer }>
    ).map((r) => r.leaf_hash);
  }

  meta(key: string): string | undefined {
    const r = this.db.prepare('SELECT value FROM receiver_meta WHERE key = ?').get(key) as
      { value: string } | undefined;
    return r?.value;
  }

  setMeta(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO receiver_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }
}
