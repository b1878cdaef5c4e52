// The catalog: SQLite (WAL) holding sessions, chunks, records, upload state and small key/value
// state. It is the sole source of truth for *state*; the files are the truth for *content*, and
// `reconcile()` brings the two together on start. No SQL lives outside agent/catalog/.
//
// Durability: `synchronous=NORMAL` by default. In WAL mode that survives a process crash and
// never corrupts, but a power loss may drop the last transactions; that is fine for rows that
// reconcile rebuilds from files (chunks) or that are idempotent to redo (upload offsets: the tus
// server has the truth). Transitions that later allow deleting data or must never go backwards
// (a record's seq, `synced`, `deleted`) commit with `synchronous=FULL`.
import Database from 'better-sqlite3';
import type { Logger } from '../log.ts';
import { RigcapError } from '../errors.ts';
import type { CommittedChunk, StreamChunkStats } from '../pipeline/chunk-types.ts';
import type { DropCause } from '../../drivers/types.ts';
import { migrations } from './migrations.ts';

export type SessionState = 'open' | 'closed' | 'interrupted' | 'recovered';
export type ChunkState = 'committed' | 'sealed' | 'synced' | 'deleted';
export type ChunkOrigin = 'writer' | 'salvage' | 'reconcile';
export type ChunkFlag = 'missing' | 'size_mismatch' | 'sha_mismatch';
export type UploadState = 'pending' | 'uploading' | 'uploaded' | 'receipted' | 'failed';

export interface SessionRow {
  id: string;
  rigId: string;
  startedNs: bigint;
  endedNs: bigint | undefined;
  state: SessionState;
}

/** Drops per stream and cause, as recorded with a chunk. */
export type ChunkDrops = Record<string, Partial<Record<DropCause, number>>>;

export interface ChunkRow {
  sessionId: string;
  chunkIndex: number;
  name: string;
  /** Path relative to the spool root (`sessions/<id>/chunk-000001.mcap`). */
  path: string;
  bytes: number;
  sha256: string;
  startNs: bigint;
  endNs: bigint;
  messages: number;
  streams: StreamChunkStats[];
  drops: ChunkDrops;
  state: ChunkState;
  origin: ChunkOrigin;
  recordSeq: number | undefined;
  flag: ChunkFlag | undefined;
}

export interface RecordRow {
  signerId: string;
  seq: number;
  path: string;
  sha256: string;
  kind: string;
}

export interface UploadRow {
  blobSha256: string;
  path: string;
  bytes: number;
  offsetBytes: number;
  uploadUrl: string | undefined;
  state: UploadState;
  attempts: number;
  lastError: string | undefined;
  updatedMs: number;
}

export interface CatalogOptions {
  /** Database file (`:memory:` in tests). */
  path: string;
  logger: Logger;
}

type Row = Record<string, unknown>;

/** Typed access to the catalog database. */
export class Catalog {
  readonly #db: Database.Database;

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Opens (creating if needed) and migrates the catalog. */
  static open(options: CatalogOptions): Catalog {
    const log = options.logger.child({ component: 'catalog' });
    let db: Database.Database;
    try {
      db = new Database(options.path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      db.defaultSafeIntegers(true);
      const version = Number(db.pragma('user_version', { simple: true }));
      if (version > migrations.length) {
        throw new Error(`catalog schema version ${version} is newer than this rigcap (${migrations.length})`);
      }
      for (let v = version; v < migrations.length; v++) {
        db.transaction(() => {
          db.exec(migrations[v] ?? '');
          db.pragma(`user_version = ${v + 1}`);
        })();
        log.info({ version: v + 1 }, 'catalog migrated');
      }
    } catch (err) {
      throw new RigcapError('RIGCAP_CATALOG_CORRUPT', `cannot open catalog ${options.path}: ${String(err)}`, {
        cause: err,
      });
    }
    return new Catalog(db);
  }

  /** Current schema version. */
  get schemaVersion(): number {
    return Number(this.#db.pragma('user_version', { simple: true }));
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  // ── sessions ────────────────────────────────────────────────────────────────────────────────

  /** Adds a session (state `open`); an existing id is left as it is. */
  openSession(session: { id: string; rigId: string; startedNs: bigint; state?: SessionState }): void {
    this.#db
      .prepare('INSERT OR IGNORE INTO sessions (id, rig_id, started_ns, state) VALUES (?, ?, ?, ?)')
      .run(session.id, session.rigId, session.startedNs, session.state ?? 'open');
  }

  /** Marks a session ended. */
  endSession(id: string, endedNs: bigint, state: Exclude<SessionState, 'open'> = 'closed'): void {
    this.#db.prepare('UPDATE sessions SET ended_ns = ?, state = ? WHERE id = ?').run(endedNs, state, id);
  }

  getSession(id: string): SessionRow | undefined {
    const row = this.#db.prepare('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined;
    return row === undefined ? undefined : toSession(row);
  }

  listSessions(): SessionRow[] {
    return (this.#db.prepare('SELECT * FROM sessions ORDER BY started_ns, id').all() as Row[]).map(toSession);
  }

  // ── chunks ──────────────────────────────────────────────────────────────────────────────────

  /** Records a committed chunk; re-adding the same chunk is a no-op (crash between rename and insert). */
  addChunk(
    chunk: CommittedChunk,
    options: { relativePath: string; origin: ChunkOrigin; drops?: ChunkDrops },
  ): void {
    this.#db
      .prepare(
        `INSERT INTO chunks (session_id, chunk_index, name, path, bytes, sha256, start_ns, end_ns, messages,
                             streams_json, drops_json, state, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'committed', ?)
         ON CONFLICT (session_id, chunk_index) DO NOTHING`,
      )
      .run(
        chunk.sessionId,
        chunk.chunkIndex,
        chunk.name,
        options.relativePath,
        chunk.bytes,
        chunk.sha256,
        chunk.startNs,
        chunk.endNs,
        chunk.messages,
        JSON.stringify(chunk.streams),
        JSON.stringify(options.drops ?? {}),
        options.origin,
      );
  }

  getChunk(sessionId: string, chunkIndex: number): ChunkRow | undefined {
    const row = this.#db
      .prepare('SELECT * FROM chunks WHERE session_id = ? AND chunk_index = ?')
      .get(sessionId, chunkIndex) as Row | undefined;
    return row === undefined ? undefined : toChunk(row);
  }

  /** Chunks in (session, index) order, optionally of one session and/or state. */
  listChunks(filter: { sessionId?: string; state?: ChunkState } = {}): ChunkRow[] {
    const rows = this.#db
      .prepare(
        `SELECT * FROM chunks WHERE (@sessionId IS NULL OR session_id = @sessionId) AND (@state IS NULL OR state = @state)
         ORDER BY session_id, chunk_index`,
      )
      .all({ sessionId: filter.sessionId ?? null, state: filter.state ?? null }) as Row[];
    return rows.map(toChunk);
  }

  /** The chunk's record is written (its chain seq). */
  markChunkSealed(sessionId: string, chunkIndex: number, recordSeq: number): void {
    this.#durably(() =>
      this.#db
        .prepare(
          `UPDATE chunks SET state = 'sealed', record_seq = ? WHERE session_id = ? AND chunk_index = ? AND state = 'committed'`,
        )
        .run(recordSeq, sessionId, chunkIndex),
    );
  }

  /** A custody receipt arrived: only now may retention delete the chunk. */
  markChunkSynced(sessionId: string, chunkIndex: number): void {
    this.#durably(() =>
      this.#db
        .prepare(
          `UPDATE chunks SET state = 'synced' WHERE session_id = ? AND chunk_index = ? AND state IN ('sealed', 'synced')`,
        )
        .run(sessionId, chunkIndex),
    );
  }

  /** Retention deleted the file (only a synced chunk may be deleted). */
  markChunkDeleted(sessionId: string, chunkIndex: number): void {
    const result = this.#durably(() =>
      this.#db
        .prepare(
          `UPDATE chunks SET state = 'deleted' WHERE session_id = ? AND chunk_index = ? AND state = 'synced'`,
        )
        .run(sessionId, chunkIndex),
    );
    if (result.changes === 0) {
      throw new RigcapError(
        'RIGCAP_INTERNAL',
        `chunk ${sessionId}/${chunkIndex} is not synced; it may not be deleted`,
      );
    }
  }

  /** Flags (or clears, with undefined) a disagreement between a row and its file. */
  flagChunk(sessionId: string, chunkIndex: number, flag: ChunkFlag | undefined): void {
    this.#db
      .prepare('UPDATE chunks SET flag = ? WHERE session_id = ? AND chunk_index = ?')
      .run(flag ?? null, sessionId, chunkIndex);
  }

  // ── records ─────────────────────────────────────────────────────────────────────────────────

  /** Records a signed record of a signer's chain. */
  addRecord(record: RecordRow): void {
    this.#durably(() =>
      this.#db
        .prepare('INSERT INTO records (signer_id, seq, path, sha256, kind) VALUES (?, ?, ?, ?, ?)')
        .run(record.signerId, record.seq, record.path, record.sha256, record.kind),
    );
  }

  /** The highest-seq record of a signer. */
  lastRecord(signerId: string): RecordRow | undefined {
    const row = this.#db
      .prepare('SELECT * FROM records WHERE signer_id = ? ORDER BY seq DESC LIMIT 1')
      .get(signerId) as Row | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  listRecords(signerId: string): RecordRow[] {
    return (
      this.#db.prepare('SELECT * FROM records WHERE signer_id = ? ORDER BY seq').all(signerId) as Row[]
    ).map(toRecord);
  }

  // ── uploads ─────────────────────────────────────────────────────────────────────────────────

  /** Adds a blob to upload (state `pending`); an existing blob is left as it is. */
  addUpload(upload: { blobSha256: string; path: string; bytes: number; nowMs: number }): void {
    this.#db
      .prepare(
        `INSERT OR IGNORE INTO uploads (blob_sha256, path, bytes, state, updated_ms) VALUES (?, ?, ?, 'pending', ?)`,
      )
      .run(upload.blobSha256, upload.path, upload.bytes, upload.nowMs);
  }

  /** Updates upload progress; fields left out keep their value. */
  updateUpload(
    blobSha256: string,
    change: {
      state?: UploadState;
      offsetBytes?: number;
      uploadUrl?: string;
      attempts?: number;
      lastError?: string;
      nowMs: number;
    },
  ): void {
    const run = (): Database.RunResult =>
      this.#db
        .prepare(
          `UPDATE uploads SET state = COALESCE(@state, state), offset_bytes = COALESCE(@offsetBytes, offset_bytes),
             upload_url = COALESCE(@uploadUrl, upload_url), attempts = COALESCE(@attempts, attempts),
             last_error = COALESCE(@lastError, last_error), updated_ms = @nowMs
           WHERE blob_sha256 = @blobSha256`,
        )
        .run({
          blobSha256,
          state: change.state ?? null,
          offsetBytes: change.offsetBytes ?? null,
          uploadUrl: change.uploadUrl ?? null,
          attempts: change.attempts ?? null,
          lastError: change.lastError ?? null,
          nowMs: change.nowMs,
        });
    if (change.state === 'receipted') this.#durably(run);
    else run();
  }

  getUpload(blobSha256: string): UploadRow | undefined {
    const row = this.#db.prepare('SELECT * FROM uploads WHERE blob_sha256 = ?').get(blobSha256) as
      Row | undefined;
    return row === undefined ? undefined : toUpload(row);
  }

  listUploads(filter: { state?: UploadState } = {}): UploadRow[] {
    const rows = this.#db
      .prepare(
        'SELECT * FROM uploads WHERE (@state IS NULL OR state = @state) ORDER BY updated_ms, blob_sha256',
      )
      .all({ state: filter.state ?? null }) as Row[];
    return rows.map(toUpload);
  }

  // ── key/value ───────────────────────────────────────────────────────────────────────────────

  getKv(key: string): string | undefined {
    const row = this.#db.prepare('SELECT value FROM kv WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value;
  }

  setKv(key: string, value: string): void {
    this.#db
      .prepare(
        'INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  /** Runs `fn` in a transaction committed with synchronous=FULL. */
  #durably<T>(fn: () => T): T {
    this.#db.pragma('synchronous = FULL');
    try {
      return this.#db.transaction(fn)();
    } finally {
      this.#db.pragma('synchronous = NORMAL');
    }
  }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}
function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : Number(v);
}
function big(v: unknown): bigint {
  return typeof v === 'bigint' ? v : BigInt(v as number);
}
function optNum(v: unknown): number | undefined {
  return v === null || v === undefined ? undefined : num(v);
}
function optStr(v: unknown): string | undefined {
  return v === null || v === undefined ? undefined : str(v);
}

function toSession(r: Row): SessionRow {
  return {
    id: str(r['id']),
    rigId: str(r['rig_id']),
    startedNs: big(r['started_ns']),
    endedNs: r['ended_ns'] === null ? undefined : big(r['ended_ns']),
    state: str(r['state']) as SessionState,
  };
}

function toChunk(r: Row): ChunkRow {
  return {
    sessionId: str(r['session_id']),
    chunkIndex: num(r['chunk_index']),
    name: str(r['name']),
    path: str(r['path']),
    bytes: num(r['bytes']),
    sha256: str(r['sha256']),
    startNs: big(r['start_ns']),
    endNs: big(r['end_ns']),
    messages: num(r['messages']),
    streams: JSON.parse(str(r['streams_json'])) as StreamChunkStats[],
    drops: JSON.parse(str(r['drops_json'])) as ChunkDrops,
    state: str(r['state']) as ChunkState,
    origin: str(r['origin']) as ChunkOrigin,
    recordSeq: optNum(r['record_seq']),
    flag: optStr(r['flag']) as ChunkFlag | undefined,
  };
}

function toRecord(r: Row): RecordRow {
  return {
    signerId: str(r['signer_id']),
    seq: num(r['seq']),
    path: str(r['path']),
    sha256: str(r['sha256']),
    kind: str(r['kind']),
  };
}

function toUpload(r: Row): UploadRow {
  return {
    blobSha256: str(r['blob_sha256']),
    path: str(r['path']),
    bytes: num(r['bytes']),
    offsetBytes: num(r['offset_bytes']),
    uploadUrl: optStr(r['upload_url']),
    state: str(r['state']) as UploadState,
    attempts: num(r['attempts']),
    lastError: optStr(r['last_error']),
    updatedMs: num(r['updated_ms']),
  };
}
