// The catalog: SQLite (WAL) holding sessions, chunks, records with their upload state and receipts,
// and small key/value state. It is the sole source of truth for *state*; the files are the truth
// for *content*, and `reconcile()` brings the two together on start. Sync and retention reach it
// through the ports in agent/sync/state.ts (`syncLedger()`). No SQL on the catalog's database lives
// outside agent/catalog/ (read-only tools use stored-receipts.ts; calibration history keeps its own
// file, agent/calib/history-store.ts).
//
// Durability: `synchronous=NORMAL` by default. In WAL mode that survives a process crash and
// never corrupts, but a power loss may drop the last transactions; that is fine for rows that
// reconcile rebuilds from files (chunks) or that are idempotent to redo (upload offsets: the tus
// server has the truth). Transitions that later allow deleting data or must never go backwards
// (a chunk's seal, a receipt making it `synced`, `deleted`) commit with `synchronous=FULL`.
import Database from 'better-sqlite3';
import type { Logger } from '../log.ts';
import { RigcapError } from '../errors.ts';
import type { CommittedChunk, StreamChunkStats } from '../pipeline/chunk-types.ts';
import type { DropCause } from '../../drivers/types.ts';
import { durably } from './durably.ts';
import { migrations } from './migrations.ts';
import { CatalogSyncLedger } from './sync-ledger.ts';
import { importLegacySyncState, legacySyncPath } from './sync-import.ts';

export type SessionState = 'open' | 'closed' | 'interrupted' | 'recovered';
export type ChunkState = 'committed' | 'sealed' | 'synced' | 'deleted';
export type ChunkOrigin = 'writer' | 'salvage' | 'reconcile';
export type ChunkFlag = 'missing' | 'size_mismatch' | 'sha_mismatch';

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
    const legacy = legacySyncPath(options.path);
    if (legacy !== undefined) {
      try {
        importLegacySyncState(db, legacy, log);
      } catch (err) {
        db.close();
        throw new RigcapError(
          'RIGCAP_CATALOG_CORRUPT',
          `cannot import the former sync state ${legacy} into the catalog (${err instanceof Error ? err.message : String(err)}); move it aside to start without it (sync then asks the store again)`,
          { cause: err, details: { path: legacy } },
        );
      }
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

  /**
   * Records a committed chunk; re-adding the same chunk is a no-op (crash between rename and insert).
   * A row rebuilt for a chunk whose record already holds a receipt starts out `synced`.
   */
  addChunk(
    chunk: CommittedChunk,
    options: { relativePath: string; origin: ChunkOrigin; drops?: ChunkDrops },
  ): void {
    this.#db
      .prepare(
        `INSERT INTO chunks (session_id, chunk_index, name, path, bytes, sha256, start_ns, end_ns, messages,
                             streams_json, drops_json, state, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                 CASE WHEN EXISTS (SELECT 1 FROM records WHERE blob_path = ? AND blob_sha256 = ?
                                     AND sync_state = 'synced' AND receipt_json IS NOT NULL)
                      THEN 'synced' ELSE 'committed' END, ?)
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
        options.relativePath,
        chunk.sha256,
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
    durably(this.#db, () =>
      this.#db
        .prepare(
          `UPDATE chunks SET state = 'sealed', record_seq = ? WHERE session_id = ? AND chunk_index = ? AND state = 'committed'`,
        )
        .run(recordSeq, sessionId, chunkIndex),
    );
  }

  /** Flags (or clears, with undefined) a disagreement between a row and its file. */
  flagChunk(sessionId: string, chunkIndex: number, flag: ChunkFlag | undefined): void {
    this.#db
      .prepare('UPDATE chunks SET flag = ? WHERE session_id = ? AND chunk_index = ?')
      .run(flag ?? null, sessionId, chunkIndex);
  }

  // ── sync and retention ──────────────────────────────────────────────────────────────────────

  /** The records table with upload state and receipts, and chunk deletion, as sync and retention see them. */
  syncLedger(): CatalogSyncLedger {
    return new CatalogSyncLedger(this.#db);
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
