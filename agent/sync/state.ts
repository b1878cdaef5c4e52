// Upload state in SQLite, the only place sync remembers anything: which records and blobs are
// pending, the tus URL and the offset the server confirmed, backoff, receipts, and the last
// checkpoint of the store's log. A restart reads this and resumes exactly where it stopped.
import type { Database } from 'better-sqlite3';

export type SyncItemState = 'pending' | 'synced' | 'refused';

/** One record to send, with the blob it names (chunk records). */
export interface SyncItem {
  signerId: string;
  seq: number;
  predicate: string;
  /** Record file, relative to the spool. */
  recordPath: string;
  /** Chunk file, relative to the spool (chunk records only). */
  blobPath: string | null;
  blobSha256: string | null;
  blobBytes: number;
  /** 0 first; device-key records −1 so keys reach the store before what they sign. */
  priority: number;
  state: SyncItemState;
  uploadUrl: string | null;
  uploadOffset: number;
  attempts: number;
  nextAttemptMs: number;
  lastError: string | null;
  receiptJson: string | null;
  logIndex: number | null;
  syncedMs: number | null;
  /** Chunk end time (wall ns) for retention; null for other records. */
  endNs: bigint | null;
  deleted: boolean;
}

const schema = `
CREATE TABLE IF NOT EXISTS sync_items (
  signer_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  predicate TEXT NOT NULL,
  record_path TEXT NOT NULL,
  blob_path TEXT,
  blob_sha256 TEXT,
  blob_bytes INTEGER NOT NULL DEFAULT 0,
  priority INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  upload_url TEXT,
  upload_offset INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  receipt_json TEXT,
  log_index INTEGER,
  synced_ms INTEGER,
  end_ns TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (signer_id, seq)
);
CREATE INDEX IF NOT EXISTS sync_items_pending ON sync_items (state, priority, blob_bytes, seq);
CREATE TABLE IF NOT EXISTS sync_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

interface Raw {
  signer_id: string;
  seq: number;
  predicate: string;
  record_path: string;
  blob_path: string | null;
  blob_sha256: string | null;
  blob_bytes: number;
  priority: number;
  state: SyncItemState;
  upload_url: string | null;
  upload_offset: number;
  attempts: number;
  next_attempt_ms: number;
  last_error: string | null;
  receipt_json: string | null;
  log_index: number | null;
  synced_ms: number | null;
  end_ns: string | null;
  deleted: number;
}

function toItem(r: Raw): SyncItem {
  return {
    signerId: r.signer_id,
    seq: r.seq,
    predicate: r.predicate,
    recordPath: r.record_path,
    blobPath: r.blob_path,
    blobSha256: r.blob_sha256,
    blobBytes: r.blob_bytes,
    priority: r.priority,
    state: r.state,
    uploadUrl: r.upload_url,
    uploadOffset: r.upload_offset,
    attempts: r.attempts,
    nextAttemptMs: r.next_attempt_ms,
    lastError: r.last_error,
    receiptJson: r.receipt_json,
    logIndex: r.log_index,
    syncedMs: r.synced_ms,
    endNs: r.end_ns === null ? null : BigInt(r.end_ns),
    deleted: r.deleted === 1,
  };
}

/** Backlog figures straight from the table. */
export interface BacklogCounts {
  records: number;
  chunks: number;
  /** Bytes still to send: unconfirmed blob bytes (records are small and not counted). */
  bytes: number;
  refused: number;
}

/** Typed access to the sync tables on a better-sqlite3 handle. */
export class SyncState {
  readonly db: Database;

  constructor(db: Database) {
    this.db = db;
    db.pragma('journal_mode = WAL');
    db.exec(schema);
  }

  /** Adds an item unless it is already known; true when added. */
  add(
    item: Pick<
      SyncItem,
      | 'signerId'
      | 'seq'
      | 'predicate'
      | 'recordPath'
      | 'blobPath'
      | 'blobSha256'
      | 'blobBytes'
      | 'priority'
      | 'endNs'
    >,
  ): boolean {
    const r = this.db
      .prepare(
        `INSERT OR IGNORE INTO sync_items (signer_id, seq, predicate, record_path, blob_path, blob_sha256, blob_bytes, priority, end_ns)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        item.signerId,
        item.seq,
        item.predicate,
        item.recordPath,
        item.blobPath,
        item.blobSha256,
        item.blobBytes,
        item.priority,
        item.endNs?.toString() ?? null,
      );
    return r.changes === 1;
  }

  has(signerId: string, seq: number): boolean {
    return (
      this.db.prepare('SELECT 1 FROM sync_items WHERE signer_id = ? AND seq = ?').get(signerId, seq) !==
      undefined
    );
  }

  get(signerId: string, seq: number): SyncItem | undefined {
    const r = this.db
      .prepare('SELECT * FROM sync_items WHERE signer_id = ? AND seq = ?')
      .get(signerId, seq) as Raw | undefined;
    return r === undefined ? undefined : toItem(r);
  }

  /**
   * Pending items due now, best first: priority, then small before large, then chain order. A record
   * waits while an earlier device-key record of its signer is pending (its key must be known first).
   */
  due(nowMs: number, limit: number, exclude: ReadonlySet<string>): SyncItem[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM sync_items i WHERE state = 'pending' AND next_attempt_ms <= ?
           AND NOT EXISTS (SELECT 1 FROM sync_items k WHERE k.signer_id = i.signer_id AND k.predicate = 'device-key'
                           AND k.state = 'pending' AND k.seq < i.seq)
         ORDER BY priority, blob_bytes, seq LIMIT ?`,
      )
      .all(nowMs, limit + exclude.size) as Raw[];
    return rows
      .map(toItem)
      .filter((i) => !exclude.has(itemKey(i)))
      .slice(0, limit);
  }

  /** Earliest next attempt among pending items, or undefined when none is pending. */
  nextDueMs(): number | undefined {
    const r = this.db
      .prepare("SELECT MIN(next_attempt_ms) AS m FROM sync_items WHERE state = 'pending'")
      .get() as { m: number | null };
    return r.m ?? undefined;
  }

  saveProgress(signerId: string, seq: number, progress: { uploadUrl: string; offset: number }): void {
    this.db
      .prepare('UPDATE sync_items SET upload_url = ?, upload_offset = ? WHERE signer_id = ? AND seq = ?')
      .run(progress.uploadUrl, progress.offset, signerId, seq);
  }

  failed(signerId: string, seq: number, options: { error: string; nextAttemptMs: number }): void {
    this.db
      .prepare(
        'UPDATE sync_items SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ? WHERE signer_id = ? AND seq = ?',
      )
      .run(options.nextAttemptMs, options.error, signerId, seq);
  }

  refused(signerId: string, seq: number, error: string): void {
    this.db
      .prepare("UPDATE sync_items SET state = 'refused', last_error = ? WHERE signer_id = ? AND seq = ?")
      .run(error, signerId, seq);
  }

  synced(
    signerId: string,
    seq: number,
    options: { receiptJson: string; logIndex: number; nowMs: number },
  ): void {
    this.db
      .prepare(
        "UPDATE sync_items SET state = 'synced', receipt_json = ?, log_index = ?, synced_ms = ?, last_error = NULL WHERE signer_id = ? AND seq = ?",
      )
      .run(options.receiptJson, options.logIndex, options.nowMs, signerId, seq);
  }

  markDeleted(signerId: string, seq: number): void {
    this.db.prepare('UPDATE sync_items SET deleted = 1 WHERE signer_id = ? AND seq = ?').run(signerId, seq);
  }

  /** Synced chunk items whose blob is still on disk and ended before `endBeforeNs`. */
  expiredChunks(endBeforeNs: bigint): SyncItem[] {
    const rows = this.db
      .prepare(
        "SELECT * FROM sync_items WHERE state = 'synced' AND blob_path IS NOT NULL AND deleted = 0 AND receipt_json IS NOT NULL AND end_ns IS NOT NULL",
      )
      .all() as Raw[];
    return rows.map(toItem).filter((i) => i.endNs !== null && i.endNs < endBeforeNs);
  }

  /** Whether the item holding `blobPath` is synced with a receipt (retention's guard). */
  isBlobSynced(blobPath: string): boolean {
    const r = this.db
      .prepare(
        "SELECT 1 FROM sync_items WHERE blob_path = ? AND state = 'synced' AND receipt_json IS NOT NULL",
      )
      .get(blobPath);
    return r !== undefined;
  }

  backlog(): BacklogCounts {
    const r = this.db
      .prepare(
        `SELECT COUNT(*) AS records,
                COALESCE(SUM(CASE WHEN blob_path IS NOT NULL THEN 1 ELSE 0 END), 0) AS chunks,
                COALESCE(SUM(CASE WHEN blob_path IS NOT NULL THEN blob_bytes - upload_offset ELSE 0 END), 0) AS bytes
           FROM sync_items WHERE state = 'pending'`,
      )
      .get() as { records: number; chunks: number; bytes: number };
    const refused = (
      this.db.prepare("SELECT COUNT(*) AS n FROM sync_items WHERE state = 'refused'").get() as { n: number }
    ).n;
    return { ...r, refused };
  }

  /** The most recent receipt (for status). */
  lastReceipt(): { signerId: string; seq: number; logIndex: number; syncedMs: number } | undefined {
    const r = this.db
      .prepare(
        "SELECT signer_id, seq, log_index, synced_ms FROM sync_items WHERE state = 'synced' ORDER BY synced_ms DESC, log_index DESC LIMIT 1",
      )
      .get() as { signer_id: string; seq: number; log_index: number; synced_ms: number } | undefined;
    return r === undefined
      ? undefined
      : { signerId: r.signer_id, seq: r.seq, logIndex: r.log_index, syncedMs: r.synced_ms };
  }

  meta(key: string): string | undefined {
    return (
      this.db.prepare('SELECT value FROM sync_meta WHERE key = ?').get(key) as { value: string } | undefined
    )?.value;
  }

  setMeta(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO sync_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }
}

/** Stable key of an item (`signer/seq`). */
export function itemKey(item: { signerId: string; seq: number }): string {
  return `${item.signerId}/${item.seq}`;
}
