// The PostgreSQL state adapter: any number of receivers share one database. Every admission is
// one transaction that first takes a transaction-scoped advisory lock on the log, so the log
// index, the store's chain head and each device's chain advance by exactly one writer at a time
// across all instances; the lock is released by COMMIT or ROLLBACK, also when a receiver dies.
import pg from 'pg';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { RigcapError } from '../../../agent/errors.ts';
import type { Logger } from '../../../agent/log.ts';
import type {
  BatchRead,
  BatchReadResult,
  BatchWrite,
  KeyRow,
  LogEntryRow,
  ReceiverState,
  RecordRow,
  StateTx,
} from '../../state.ts';
import type { StateDatabase } from '../open.ts';
import { loadMigrations, migrate, type Migration } from './migrate.ts';
import { readBatch, writeBatch } from './pg-batch.ts';
import { keyColumns, toKey, toRecord, type RawKey, type RawRecord } from './pg-rows.ts';

/** Advisory lock key of the log's admission ('rigcaplg' as a 64-bit number). */
export const admissionLockKey = '7163770740014510695';

type Queryable = Pick<Pool | PoolClient, 'query'>;

/** Reads and writes on one connection (the pool outside a transaction, a client inside). */
class PgStateOps implements StateTx {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  async #rows<R extends QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    return (await this.#db.query<R>(sql, params)).rows;
  }

  async key(keyid: string): Promise<KeyRow | undefined> {
    const [r] = await this.#rows<RawKey>(`SELECT ${keyColumns} FROM receiver_keys WHERE keyid = $1`, [keyid]);
    return r === undefined ? undefined : toKey(r);
  }

  async keysOf(signerId: string): Promise<KeyRow[]> {
    const rows = await this.#rows<RawKey>(
      `SELECT ${keyColumns} FROM receiver_keys WHERE signer_id = $1 ORDER BY valid_from_seq, added`,
      [signerId],
    );
    return rows.map(toKey);
  }

  async isEnrolled(signerId: string): Promise<boolean> {
    return (
      (await this.#rows('SELECT 1 FROM receiver_keys WHERE signer_id = $1 LIMIT 1', [signerId])).length > 0
    );
  }

  async record(signerId: string, seq: number): Promise<RecordRow | undefined> {
    const [r] = await this.#rows<RawRecord>(
      'SELECT * FROM receiver_records WHERE signer_id = $1 AND seq = $2',
      [signerId, seq],
    );
    return r === undefined ? undefined : toRecord(r);
  }

  async sessionRecords(sessionId: string): Promise<RecordRow[]> {
    const rows = await this.#rows<RawRecord>(
      "SELECT * FROM receiver_records WHERE session_id = $1 AND predicate = 'session' ORDER BY signer_id, seq",
      [sessionId],
    );
    return rows.map(toRecord);
  }

  async meta(key: string): Promise<string | undefined> {
    const [r] = await this.#rows<{ value: string }>('SELECT value FROM receiver_meta WHERE key = $1', [key]);
    return r?.value;
  }

  async leavesFrom(index: number): Promise<Buffer[]> {
    const rows = await this.#rows<{ leaf_hash: Buffer }>(
      'SELECT leaf_hash FROM receiver_log WHERE idx >= $1 ORDER BY idx',
      [index],
    );
    return rows.map((r) => r.leaf_hash);
  }

  async addKey(row: KeyRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO receiver_keys (${keyColumns}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (keyid) DO NOTHING`,
      [row.keyid, row.signerId, row.publicPem, row.validFromSeq, row.revokedFromSeq],
    );
  }

  async revokeKey(keyid: string, fromSeq: number): Promise<void> {
    await this.#db.query(
      'UPDATE receiver_keys SET revoked_from_seq = LEAST(COALESCE(revoked_from_seq, $2), $2) WHERE keyid = $1',
      [keyid, fromSeq],
    );
  }

  async consumeToken(tokenSha256: string, signerId: string): Promise<boolean> {
    const r = await this.#db.query(
      'INSERT INTO receiver_tokens (token_sha256, used_by) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [tokenSha256, signerId],
    );
    return r.rowCount === 1;
  }

  async insertRecord(row: RecordRow): Promise<void> {
    await this.#db.query(
      `INSERT INTO receiver_records (signer_id, seq, payload_sha256, prev, predicate, log_index, receipt_json,
         envelope_json, session_id, chunk_name, blob_sha256, receipt_log_index, checkpoint, inclusion_proof)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
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
      ],
    );
  }

  async appendLeaf(index: number, leaf: Uint8Array, entry?: Uint8Array): Promise<void> {
    await this.#db.query('INSERT INTO receiver_log (idx, leaf_hash, entry) VALUES ($1, $2, $3)', [
      index,
      Buffer.from(leaf),
      entry === undefined ? null : Buffer.from(entry),
    ]);
  }

  async entriesFrom(index: number, limit: number): Promise<LogEntryRow[]> {
    const rows = await this.#rows<{ idx: string; leaf_hash: Buffer; entry: Buffer | null }>(
      'SELECT idx, leaf_hash, entry FROM receiver_log WHERE idx >= $1 ORDER BY idx LIMIT $2',
      [index, limit],
    );
    return rows.map((r) => ({ index: Number(r.idx), leaf: r.leaf_hash, entry: r.entry }));
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.#db.query(
      'INSERT INTO receiver_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
      [key, value],
    );
  }

  readBatch(query: BatchRead): Promise<BatchReadResult> {
    return readBatch(this.#db, query);
  }

  writeBatch(writes: BatchWrite): Promise<void> {
    return writeBatch(this.#db, writes);
  }

  async allKeys(): Promise<KeyRow[]> {
    return (await this.#rows<RawKey>(`SELECT ${keyColumns} FROM receiver_keys ORDER BY added`, [])).map(
      toKey,
    );
  }

  async usedTokens(): Promise<Array<{ tokenSha256: string; signerId: string }>> {
    const rows = await this.#rows<{ token_sha256: string; used_by: string }>(
      'SELECT token_sha256, used_by FROM receiver_tokens ORDER BY token_sha256',
      [],
    );
    return rows.map((r) => ({ tokenSha256: r.token_sha256, signerId: r.used_by }));
  }

  async allRecords(): Promise<RecordRow[]> {
    return (await this.#rows<RawRecord>('SELECT * FROM receiver_records ORDER BY log_index', [])).map(
      toRecord,
    );
  }
}

/** Receiver state on PostgreSQL; open it with `openPgReceiverState`. */
export class PgReceiverState implements ReceiverState {
  readonly kind = 'postgres';
  readonly #pool: Pool;
  readonly #reads: PgStateOps;
  #closed: Promise<void> | undefined;
  #inFlight = new Set<Promise<unknown>>();

  constructor(pool: Pool) {
    this.#pool = pool;
    this.#reads = new PgStateOps(pool);
  }

  /** The connection pool (other PostgreSQL users of the store, such as the tus Locker, share it). */
  get pool(): Pool {
    return this.#pool;
  }

  admit<T>(fn: (tx: StateTx) => Promise<T>): Promise<T> {
    if (this.#closed !== undefined)
      return Promise.reject(
        new RigcapError('RIGCAP_STORE_STATE_UNAVAILABLE', 'the receiver state is closed'),
      );
    const run = this.#admit(fn);
    this.#inFlight.add(run);
    void run.then(
      () => this.#inFlight.delete(run),
      () => this.#inFlight.delete(run),
    );
    return run;
  }

  async #admit<T>(fn: (tx: StateTx) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken = false;
    try {
      // One round trip: the lock key is a constant, so both statements go as one simple query.
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${admissionLockKey})`);
      try {
        const result = await fn(new PgStateOps(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw err;
      }
    } finally {
      // A connection whose ROLLBACK failed is in an unknown state: the pool must not hand it out.
      client.release(broken);
    }
  }

  key = (keyid: string): Promise<KeyRow | undefined> => this.#reads.key(keyid);
  keysOf = (signerId: string): Promise<KeyRow[]> => this.#reads.keysOf(signerId);
  isEnrolled = (signerId: string): Promise<boolean> => this.#reads.isEnrolled(signerId);
  record = (signerId: string, seq: number): Promise<RecordRow | undefined> =>
    this.#reads.record(signerId, seq);
  sessionRecords = (sessionId: string): Promise<RecordRow[]> => this.#reads.sessionRecords(sessionId);
  meta = (key: string): Promise<string | undefined> => this.#reads.meta(key);
  leavesFrom = (index: number): Promise<Buffer[]> => this.#reads.leavesFrom(index);
  entriesFrom = (index: number, limit: number): Promise<LogEntryRow[]> =>
    this.#reads.entriesFrom(index, limit);
  allRecords = (): Promise<RecordRow[]> => this.#reads.allRecords();
  allKeys = (): Promise<KeyRow[]> => this.#reads.allKeys();
  usedTokens = (): Promise<Array<{ tokenSha256: string; signerId: string }>> => this.#reads.usedTokens();

  close(): Promise<void> {
    return (this.#closed ??= Promise.allSettled([...this.#inFlight]).then(() => this.#pool.end()));
  }
}

/** Where and how to connect, and what to migrate with. */
export interface PgConnectOptions extends StateDatabase {
  /** Migrations to apply (default the shipped ones). */
  migrations?: readonly Migration[];
  log?: Logger;
}

/** Opens the pool, applies pending migrations and returns the state. */
export async function openPgReceiverState(options: PgConnectOptions): Promise<PgReceiverState> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    ...(options.password === undefined ? {} : { password: options.password }),
  });
  // An idle client losing its server (PostgreSQL restarted) must not crash the receiver.
  pool.on('error', (err: Error & { code?: string }) =>
    // Not `{ err }`: pg's errors carry the whole client object.
    options.log?.warn({ code: err.code, reason: err.message }, 'idle database connection lost'),
  );
  try {
    await migrate(pool, { migrations: options.migrations ?? (await loadMigrations()) });
  } catch (err) {
    await pool.end();
    if (err instanceof RigcapError) throw err;
    throw new RigcapError(
      'RIGCAP_STORE_STATE_UNAVAILABLE',
      `cannot open the store database: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return new PgReceiverState(pool);
}
