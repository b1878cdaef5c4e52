// The catalog's side of sync and retention: the records table holds every record of the spool with
// its upload progress and receipt, and a receipt moves the chunk it names to `synced` in the same
// transaction, so chunk state has one owner. Retention reads and changes chunk rows only.
import type Database from 'better-sqlite3';
import { RigcapError } from '../errors.ts';
import type { LogProof } from '../records/bundle-proofs.ts';
import type {
  BacklogCounts,
  ExpiredChunk,
  LastReceipt,
  NewSyncItem,
  RetentionLedger,
  SyncItem,
  SyncItemState,
  SyncLedger,
} from '../sync/state.ts';
import { itemKey } from '../sync/state.ts';
import { durably } from './durably.ts';

type Row = Record<string, unknown>;

/** kv keys of sync values carry this prefix. */
const metaPrefix = 'sync.';

function num(v: unknown): number {
  return Number(v);
}
function optNum(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}
function optStr(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function toItem(r: Row): SyncItem {
  return {
    signerId: String(r['signer_id']),
    seq: num(r['seq']),
    predicate: String(r['kind']),
    recordPath: String(r['path']),
    blobPath: optStr(r['blob_path']),
    blobSha256: optStr(r['blob_sha256']),
    blobBytes: num(r['blob_bytes']),
    priority: num(r['priority']),
    state: String(r['sync_state']) as SyncItemState,
    uploadUrl: optStr(r['upload_url']),
    uploadOffset: num(r['upload_offset']),
    attempts: num(r['attempts']),
    nextAttemptMs: num(r['next_attempt_ms']),
    lastError: optStr(r['last_error']),
    receiptJson: optStr(r['receipt_json']),
    logIndex: optNum(r['log_index']),
    syncedMs: optNum(r['synced_ms']),
  };
}

/** SyncLedger and RetentionLedger on the catalog database. */
export class CatalogSyncLedger implements SyncLedger, RetentionLedger {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  add(item: NewSyncItem): boolean {
    const r = this.#db
      .prepare(
        `INSERT OR IGNORE INTO records (signer_id, seq, kind, path, blob_path, blob_sha256, blob_bytes, priority)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
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
      );
    return r.changes === 1;
  }

  has(signerId: string, seq: number): boolean {
    return (
      this.#db.prepare('SELECT 1 FROM records WHERE signer_id = ? AND seq = ?').get(signerId, seq) !==
      undefined
    );
  }

  get(signerId: string, seq: number): SyncItem | undefined {
    const r = this.#db.prepare('SELECT * FROM records WHERE signer_id = ? AND seq = ?').get(signerId, seq) as
      Row | undefined;
    return r === undefined ? undefined : toItem(r);
  }

  due(nowMs: number, limit: number, exclude: ReadonlySet<string>): SyncItem[] {
    const rows = this.#db
      .prepare(
        `SELECT * FROM records i WHERE sync_state = 'pending' AND next_attempt_ms <= ?
           AND NOT EXISTS (SELECT 1 FROM records k WHERE k.signer_id = i.signer_id AND k.kind = 'device-key'
                           AND k.sync_state = 'pending' AND k.seq < i.seq)
         ORDER BY priority, blob_bytes, seq LIMIT ?`,
      )
      .all(nowMs, limit + exclude.size) as Row[];
    return rows
      .map(toItem)
      .filter((i) => !exclude.has(itemKey(i)))
      .slice(0, limit);
  }

  nextDueMs(): number | undefined {
    const r = this.#db
      .prepare("SELECT MIN(next_attempt_ms) AS m FROM records WHERE sync_state = 'pending'")
      .get() as { m: unknown };
    return optNum(r.m) ?? undefined;
  }

  saveProgress(signerId: string, seq: number, progress: { uploadUrl: string; offset: number }): void {
    // NORMAL durability: a lost offset only costs a HEAD to the tus server, which holds the truth.
    this.#db
      .prepare('UPDATE records SET upload_url = ?, upload_offset = ? WHERE signer_id = ? AND seq = ?')
      .run(progress.uploadUrl, progress.offset, signerId, seq);
  }

  failed(signerId: string, seq: number, options: { error: string; nextAttemptMs: number }): void {
    this.#db
      .prepare(
        'UPDATE records SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ? WHERE signer_id = ? AND seq = ?',
      )
      .run(options.nextAttemptMs, options.error, signerId, seq);
  }

  refused(signerId: string, seq: number, error: string): void {
    this.#db
      .prepare("UPDATE records SET sync_state = 'refused', last_error = ? WHERE signer_id = ? AND seq = ?")
      .run(error, signerId, seq);
  }

  synced(
    signerId: string,
    seq: number,
    options: { receiptJson: string; logIndex: number; nowMs: number; logProof?: LogProof },
  ): void {
    durably(this.#db, () => {
      this.#db
        .prepare(
          `UPDATE records SET sync_state = 'synced', receipt_json = ?, log_index = ?, synced_ms = ?,
                  log_proof_json = ?, last_error = NULL
           WHERE signer_id = ? AND seq = ?`,
        )
        .run(
          options.receiptJson,
          options.logIndex,
          options.nowMs,
          options.logProof === undefined ? null : JSON.stringify(options.logProof),
          signerId,
          seq,
        );
      // Only a receipt lets a chunk count as synced (and so, later, be deleted by retention).
      this.#db
        .prepare(
          `UPDATE chunks SET state = 'synced'
           WHERE state IN ('committed', 'sealed')
             AND path = (SELECT blob_path FROM records WHERE signer_id = ? AND seq = ?)
             AND sha256 = (SELECT blob_sha256 FROM records WHERE signer_id = ? AND seq = ?)`,
        )
        .run(signerId, seq, signerId, seq);
    });
  }

  backlog(): BacklogCounts {
    const r = this.#db
      .prepare(
        `SELECT COUNT(*) AS records,
                COALESCE(SUM(CASE WHEN blob_path IS NOT NULL THEN 1 ELSE 0 END), 0) AS chunks,
                COALESCE(SUM(CASE WHEN blob_path IS NOT NULL THEN blob_bytes - upload_offset ELSE 0 END), 0) AS bytes
           FROM records WHERE sync_state = 'pending'`,
      )
      .get() as Row;
    const refused = this.#db
      .prepare("SELECT COUNT(*) AS n FROM records WHERE sync_state = 'refused'")
      .get() as Row;
    return {
      records: num(r['records']),
      chunks: num(r['chunks']),
      bytes: num(r['bytes']),
      refused: num(refused['n']),
    };
  }

  logProof(signerId: string, seq: number): LogProof | undefined {
    const r = this.#db
      .prepare('SELECT log_proof_json FROM records WHERE signer_id = ? AND seq = ?')
      .get(signerId, seq) as Row | undefined;
    const text = r?.['log_proof_json'];
    return typeof text === 'string' ? (JSON.parse(text) as LogProof) : undefined;
  }

  lastReceipt(): LastReceipt | undefined {
    const r = this.#db
      .prepare(
        `SELECT signer_id, seq, log_index, synced_ms FROM records WHERE sync_state = 'synced'
         ORDER BY synced_ms DESC, log_index DESC LIMIT 1`,
      )
      .get() as Row | undefined;
    return r === undefined
      ? undefined
      : {
          signerId: String(r['signer_id']),
          seq: num(r['seq']),
          logIndex: num(r['log_index']),
          syncedMs: num(r['synced_ms']),
        };
  }

  meta(key: string): string | undefined {
    const r = this.#db.prepare('SELECT value FROM kv WHERE key = ?').get(metaPrefix + key) as
      { value: string } | undefined;
    return r?.value;
  }

  setMeta(key: string, value: string): void {
    this.#db
      .prepare(
        'INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(metaPrefix + key, value);
  }

  // ── retention ───────────────────────────────────────────────────────────────────────────────

  expiredChunks(endBeforeNs: bigint, limit: number): ExpiredChunk[] {
    const rows = this.#db
      .prepare(
        `SELECT c.session_id, c.name, c.path, c.sha256 FROM chunks c
         WHERE c.state = 'synced' AND c.end_ns < ?
           AND EXISTS (SELECT 1 FROM records r WHERE r.blob_path = c.path AND r.blob_sha256 = c.sha256
                       AND r.sync_state = 'synced' AND r.receipt_json IS NOT NULL)
         ORDER BY c.end_ns, c.session_id, c.chunk_index LIMIT ?`,
      )
      .all(endBeforeNs, limit) as Row[];
    return rows.map((r) => ({
      sessionId: String(r['session_id']),
      name: String(r['name']),
      path: String(r['path']),
      sha256: String(r['sha256']),
    }));
  }

  isChunkSynced(path: string): boolean {
    return (
      this.#db
        .prepare(
          `SELECT 1 FROM chunks c WHERE c.path = ? AND c.state = 'synced'
             AND EXISTS (SELECT 1 FROM records r WHERE r.blob_path = c.path AND r.blob_sha256 = c.sha256
                         AND r.sync_state = 'synced' AND r.receipt_json IS NOT NULL)`,
        )
        .get(path) !== undefined
    );
  }

  markChunkDeleted(path: string): void {
    const result = durably(this.#db, () =>
      this.#db
        .prepare(`UPDATE chunks SET state = 'deleted', flag = NULL WHERE path = ? AND state = 'synced'`)
        .run(path),
    );
    if (result.changes === 0)
      throw new RigcapError('RIGCAP_INTERNAL', `chunk ${path} is not synced; it may not be deleted`);
  }
}
