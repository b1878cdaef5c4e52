// The embedded state adapter: one SQLite file in the store's log/ directory. One IMMEDIATE
// transaction per admission makes a kill -9 leave either all of a record or none of it; admissions
// in this process queue behind each other, since a SQLite connection holds one transaction.
import Database from 'better-sqlite3';
import type {
  BatchRead,
  BatchReadResult,
  BatchWrite,
  KeyRow,
  LogEntryRow,
  ReceiverState,
  RecordRow,
  StateTx,
} from '../state.ts';

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

/** Columns added after the first release of the store; added in place to older files. */
const addedRecordColumns: ReadonlyArray<readonly [string, string]> = [
  ['receipt_log_index', 'INTEGER'],
  ['checkpoint', 'TEXT'],
  ['inclusion_proof', 'TEXT'],
];

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
  receipt_log_index: number | null;
  checkpoint: string | null;
  inclusion_proof: string | null;
}

interface RawKey {
  keyid: string;
  signer_id: string;
  public_pem: string;
  valid_from_seq: number;
  revoked_from_seq: number | null;
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
    receiptLogIndex: r.receipt_log_index,
    checkpoint: r.checkpoint,
    inclusionProof: r.inclusion_proof === null ? null : (JSON.parse(r.inclusion_proof) as string[]),
  };
}

function toKey(r: RawKey): KeyRow {
  return {
    keyid: r.keyid,
    signerId: r.signer_id,
    publicPem: r.public_pem,
    validFromSeq: r.valid_from_seq,
    revokedFromSeq: r.revoked_from_seq,
  };
}

/** Receiver state in one SQLite file (better-sqlite3). */
export class EmbeddedReceiverState implements ReceiverState, StateTx {
  readonly kind = 'embedded';
  readonly #db: Database.Database;
  #queue: Promise<unknown> = Promise.resolve();
  #closed: Promise<void> | undefined;

  constructor(path: string) {
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.exec(schema);
    const have = new Set(
      (this.#db.prepare('PRAGMA table_info(receiver_records)').all() as Array<{ name: string }>).map(
        (c) => c.name,
      ),
    );
    for (const [name, type] of addedRecordColumns) {
      if (!have.has(name)) this.#db.exec(`ALTER TABLE receiver_records ADD COLUMN ${name} ${type}`);
    }
    const logColumns = this.#db.prepare('PRAGMA table_info(receiver_log)').all() as Array<{ name: string }>;
    if (!logColumns.some((c) => c.name === 'entry'))
      this.#db.exec('ALTER TABLE receiver_log ADD COLUMN entry BLOB');
  }

  admit<T>(fn: (tx: StateTx) => Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this);
        this.#db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw err;
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async key(keyid: string): Promise<KeyRow | undefined> {
    const r = this.#db
      .prepare(
        'SELECT keyid, signer_id, public_pem, valid_from_seq, revoked_from_seq FROM receiver_keys WHERE keyid = ?',
      )
      .get(keyid) as RawKey | undefined;
    return r === undefined ? undefined : toKey(r);
  }

  async keysOf(signerId: string): Promise<KeyRow[]> {
    return (
      this.#db
        .prepare(
          'SELECT keyid, signer_id, public_pem, valid_from_seq, revoked_from_seq FROM receiver_keys WHERE signer_id = ? ORDER BY valid_from_seq, rowid',
        )
        .all(signerId) as RawKey[]
    ).map(toKey);
  }

  async isEnrolled(signerId: string): Promise<boolean> {
    return (
      this.#db.prepare('SELECT 1 FROM receiver_keys WHERE signer_id = ? LIMIT 1').get(signerId) !== undefined
    );
  }

  async addKey(row: KeyRow): Promise<void> {
    this.#db
      .prepare(
        'INSERT OR IGNORE INTO receiver_keys (keyid, signer_id, public_pem, valid_from_seq, revoked_from_seq) VALUES (?, ?, ?, ?, ?)',
      )
      .run(row.keyid, row.signerId, row.publicPem, row.validFromSeq, row.revokedFromSeq);
  }

  async revokeKey(keyid: string, fromSeq: number): Promise<void> {
    this.#db
      .prepare(
        'UPDATE receiver_keys SET revoked_from_seq = MIN(COALESCE(revoked_from_seq, ?), ?) WHERE keyid = ?',
      )
      .run(fromSeq, fromSeq, keyid);
  }

  async consumeToken(tokenSha256: string, signerId: string): Promise<boolean> {
    const r = this.#db
      .prepare('INSERT OR IGNORE INTO receiver_tokens (token_sha256, used_by) VALUES (?, ?)')
      .run(tokenSha256, signerId);
    return r.changes === 1;
  }

  async record(signerId: string, seq: number): Promise<RecordRow | undefined> {
    const r = this.#db
      .prepare('SELECT * FROM receiver_records WHERE signer_id = ? AND seq = ?')
      .get(signerId, seq) as RawRecord | undefined;
    return r === undefined ? undefined : toRecord(r);
  }

  async insertRecord(row: RecordRow): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO receiver_records (signer_id, seq, payload_sha256, prev, predicate, log_index, receipt_json,
           envelope_json, session_id, chunk_name, blob_sha256, receipt_log_index, checkpoint, inclusion_proof)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        row.receiptLogIndex,
        row.checkpoint,
        row.inclusionProof === null ? null : JSON.stringify(row.inclusionProof),
      );
  }

  async allRecords(): Promise<RecordRow[]> {
    return (this.#db.prepare('SELECT * FROM receiver_records ORDER BY log_index').all() as RawRecord[]).map(
      toRecord,
    );
  }

  async allKeys(): Promise<KeyRow[]> {
    return (
      this.#db
        .prepare(
          'SELECT keyid, signer_id, public_pem, valid_from_seq, revoked_from_seq FROM receiver_keys ORDER BY rowid',
        )
        .all() as RawKey[]
    ).map(toKey);
  }

  async usedTokens(): Promise<Array<{ tokenSha256: string; signerId: string }>> {
    return (
      this.#db.prepare('SELECT token_sha256, used_by FROM receiver_tokens ORDER BY rowid').all() as Array<{
        token_sha256: string;
        used_by: string;
      }>
    ).map((r) => ({ tokenSha256: r.token_sha256, signerId: r.used_by }));
  }

  async sessionRecords(sessionId: string): Promise<RecordRow[]> {
    return (
      this.#db
        .prepare(
          "SELECT * FROM receiver_records WHERE session_id = ? AND predicate = 'session' ORDER BY signer_id, seq",
        )
        .all(sessionId) as RawRecord[]
    ).map(toRecord);
  }

  async appendLeaf(index: number, leaf: Uint8Array, entry?: Uint8Array): Promise<void> {
    this.#db
      .prepare('INSERT INTO receiver_log (idx, leaf_hash, entry) VALUES (?, ?, ?)')
      .run(index, Buffer.from(leaf), entry === undefined ? null : Buffer.from(entry));
  }

  async entriesFrom(index: number, limit: number): Promise<LogEntryRow[]> {
    const rows = this.#db
      .prepare('SELECT idx, leaf_hash, entry FROM receiver_log WHERE idx >= ? ORDER BY idx LIMIT ?')
      .all(index, limit) as Array<{ idx: number; leaf_hash: Buffer; entry: Buffer | null }>;
    return rows.map((r) => ({ index: r.idx, leaf: r.leaf_hash, entry: r.entry }));
  }

  async leavesFrom(index: number): Promise<Buffer[]> {
    return (
      this.#db.prepare('SELECT leaf_hash FROM receiver_log WHERE idx >= ? ORDER BY idx').all(index) as Array<{
        leaf_hash: Buffer;
      }>
    ).map((r) => r.leaf_hash);
  }

  async meta(key: string): Promise<string | undefined> {
    const r = this.#db.prepare('SELECT value FROM receiver_meta WHERE key = ?').get(key) as
      { value: string } | undefined;
    return r?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.#db
      .prepare(
        'INSERT INTO receiver_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  // The batch calls of the port: SQLite runs in this process, so loops cost no round trips.
  async readBatch(q: BatchRead): Promise<BatchReadResult> {
    const records: RecordRow[] = [];
    for (const p of q.positions) {
      const row = await this.record(p.signerId, p.seq);
      if (row !== undefined) records.push(row);
    }
    const keys = new Map<string, KeyRow>();
    for (const signerId of q.signerIds) for (const k of await this.keysOf(signerId)) keys.set(k.keyid, k);
    for (const keyid of q.keyids) {
      const k = await this.key(keyid);
      if (k !== undefined) keys.set(k.keyid, k);
    }
    const meta = new Map<string, string>();
    for (const k of q.meta) {
      const v = await this.meta(k);
      if (v !== undefined) meta.set(k, v);
    }
    return { records, keys: [...keys.values()], meta, leaves: await this.leavesFrom(q.leavesFrom) };
  }

  async writeBatch(w: BatchWrite): Promise<void> {
    for (const [i, l] of w.leaves.entries()) await this.appendLeaf(w.leavesFrom + i, l.leaf, l.entry);
    for (const row of w.records) await this.insertRecord(row);
    for (const [k, v] of w.meta) await this.setMeta(k, v);
  }

  close(): Promise<void> {
    return (this.#closed ??= this.#queue.then(() => {
      this.#db.close();
    }));
  }
}
