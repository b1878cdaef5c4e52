// A tus Locker on PostgreSQL advisory locks, so that receiver instances sharing one database never
// write one upload at the same time. Every lock of one process is a session-level advisory lock on
// one long-lived connection (the one that LISTENs for release requests), so uploads in flight take
// no connections from the pool that admission and authentication share; within the process, a map
// of the uploads held keeps one request per upload (advisory locks are re-entrant within a session).
// A request that wants a lock another request holds asks the holder to let go (tus: a stale PATCH
// from a half-open connection must not block the resume): in this process directly, in another
// through NOTIFY on one channel that every instance LISTENs to; the holder's request is then
// cancelled by @tus/server and its lock released. When the connection is lost, its locks are gone
// with it: every request holding one is asked to let go, and the next lock opens a new connection.
import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/server';
import type { Logger } from '../../agent/log.ts';

/** NOTIFY channel carrying the ids of uploads whose holder is asked to release them. */
export const releaseChannel = 'rigcap_tus_release';
/** First advisory-lock key: a namespace for tus uploads ('rgtu'), so other locks never collide. */
const lockNamespace = 0x72677475;

/** The two int4 keys of an upload's advisory lock. */
export function advisoryKeys(id: string): [number, number] {
  return [lockNamespace, createHash('sha256').update(id).digest().readInt32BE(0)];
}

export interface PgLockerOptions {
  pool: Pool;
  log: Logger;
  /** Give up acquiring after this long (default 30 s, as @tus/server's MemoryLocker). */
  acquireTimeoutMs?: number;
  /** Poll interval while the lock is held elsewhere (default 100 ms). */
  pollMs?: number;
}

/** The connection holding this process's locks; `lost` once it failed (its locks went with it). */
interface LockSession {
  client: PoolClient;
  lost: boolean;
}

function askToRelease(release: RequestRelease): void {
  void Promise.resolve(release()).catch(() => undefined);
}

export class PgLocker implements Locker {
  readonly pool: Pool;
  readonly log: Logger;
  readonly acquireTimeoutMs: number;
  readonly pollMs: number;
  /** Locks this process holds: upload id → how to ask its request to let go. */
  readonly holders = new Map<string, RequestRelease>();
  /** Uploads whose lock a request of this process is asking the database for right now. */
  readonly claiming = new Set<string>();
  #session: Promise<LockSession> | undefined;
  #closed = false;

  constructor(o: PgLockerOptions) {
    this.pool = o.pool;
    this.log = o.log;
    this.acquireTimeoutMs = o.acquireTimeoutMs ?? 30_000;
    this.pollMs = o.pollMs ?? 100;
  }

  newLock(id: string): Lock {
    return new PgLock(id, this);
  }

  /** LISTENs on the release channel (once; again after the connection was lost). */
  async listen(): Promise<void> {
    if (this.#closed) return;
    await this.session();
  }

  /** The live lock connection, opened (and LISTENing) on first use or after the last one was lost. */
  async session(): Promise<LockSession> {
    if (this.#closed) throw new Error('the tus locker is closed');
    const current = this.#session;
    if (current !== undefined) {
      const s = await current.catch(() => undefined);
      if (s !== undefined && !s.lost) return s;
      if (this.#session === current) this.#session = undefined;
    }
    this.#session ??= this.#connect();
    const opening = this.#session;
    try {
      return await opening;
    } catch (err) {
      if (this.#session === opening) this.#session = undefined;
      throw err;
    }
  }

  async #connect(): Promise<LockSession> {
    const client = await this.pool.connect();
    const session: LockSession = { client, lost: false };
    const drop = (err: Error): void => {
      // A lost connection can report more than one error (the server's FATAL, then EPIPE).
      if (session.lost) return;
      session.lost = true;
      this.log.warn({ err, held: this.holders.size }, 'tus lock connection lost; its locks went with it');
      client.release(err);
      for (const release of this.holders.values()) askToRelease(release);
    };
    client.on('error', drop);
    client.on('notification', (msg) => {
      if (msg.channel !== releaseChannel || msg.payload === undefined) return;
      const release = this.holders.get(msg.payload);
      if (release !== undefined) askToRelease(release);
    });
    try {
      await client.query(`LISTEN ${releaseChannel}`);
    } catch (err) {
      drop(err as Error);
      throw err;
    }
    return session;
  }

  /** Asks whoever holds `id` to let go: a request of this process directly, others by NOTIFY. */
  async requestRelease(id: string, session: LockSession): Promise<void> {
    const local = this.holders.get(id);
    if (local !== undefined) askToRelease(local);
    else if (!this.claiming.has(id))
      await session.client.query('SELECT pg_notify($1, $2)', [releaseChannel, id]);
  }

  /** Stops listening and closes the lock connection; locks still held go with it. */
  async close(): Promise<void> {
    this.#closed = true;
    const opening = this.#session;
    this.#session = undefined;
    if (opening === undefined) return;
    try {
      const session = await opening;
      if (session.lost) return;
      session.lost = true;
      session.client.release(true);
    } catch (err) {
      // The connection never opened: nothing to release.
      this.log.debug({ err }, 'tus lock connection never opened; nothing to release');
    }
  }
}

class PgLock implements Lock {
  readonly #id: string;
  readonly #locker: PgLocker;
  #session: LockSession | undefined;

  constructor(id: string, locker: PgLocker) {
    this.#id = id;
    this.#locker = locker;
  }

  /** Takes the lock on the session if no request of this process holds or is taking it. */
  async #tryTake(session: LockSession): Promise<boolean> {
    const locker = this.#locker;
    if (locker.holders.has(this.#id) || locker.claiming.has(this.#id)) return false;
    const [k1, k2] = advisoryKeys(this.#id);
    locker.claiming.add(this.#id);
    try {
      const { rows } = await session.client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock($1::int4, $2::int4) AS ok',
        [k1, k2],
      );
      return rows[0]?.ok === true && !session.lost;
    } finally {
      locker.claiming.delete(this.#id);
    }
  }

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const locker = this.#locker;
    const deadline = Date.now() + locker.acquireTimeoutMs;
    let lastAsk = 0;
    for (;;) {
      const session = await locker.session();
      if (await this.#tryTake(session)) {
        this.#session = session;
        locker.holders.set(this.#id, requestRelease);
        return;
      }
      if (signal.aborted || Date.now() >= deadline) throw ERRORS.ERR_LOCK_TIMEOUT;
      if (Date.now() - lastAsk >= 1000) {
        lastAsk = Date.now();
        await locker.requestRelease(this.#id, session);
      }
      await new Promise((resolve) => setTimeout(resolve, locker.pollMs));
    }
  }

  async unlock(): Promise<void> {
    const session = this.#session;
    if (session === undefined) throw new Error('Releasing an unlocked lock!');
    this.#session = undefined;
    this.#locker.holders.delete(this.#id);
    // A lost connection took the session's advisory locks with it; a newer one never held this.
    if (session.lost) return;
    const [k1, k2] = advisoryKeys(this.#id);
    try {
      await session.client.query('SELECT pg_advisory_unlock($1::int4, $2::int4)', [k1, k2]);
    } catch (err) {
      this.#locker.log.warn({ err, upload: this.#id }, 'tus lock released with its lost connection');
    }
  }
}
