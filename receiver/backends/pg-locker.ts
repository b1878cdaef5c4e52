// A tus Locker on PostgreSQL advisory locks, so that receiver instances sharing one database never
// write one upload at the same time. A lock is a session-level advisory lock held on its own pooled
// connection for as long as the request holds it. A request that wants a lock another request holds
// asks the holder to let go (tus: a stale PATCH from a half-open connection must not block the
// resume) through NOTIFY on one channel that every instance LISTENs to; the holder's request is then
// cancelled by @tus/server and its lock released.
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

export class PgLocker implements Locker {
  readonly pool: Pool;
  readonly log: Logger;
  readonly acquireTimeoutMs: number;
  readonly pollMs: number;
  /** Locks this process holds: upload id → how to ask its request to let go. */
  readonly holders = new Map<string, RequestRelease>();
  #listener: Promise<PoolClient> | undefined;
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
    this.#listener ??= (async () => {
      const client = await this.pool.connect();
      let dropped = false;
      const drop = (err?: Error): void => {
        // A lost connection can report more than one error (the server's FATAL, then EPIPE).
        if (dropped) return;
        dropped = true;
        if (err !== undefined) this.log.warn({ err }, 'tus lock listener lost its connection');
        if (this.#listener !== undefined) this.#listener = undefined;
        client.release(err ?? true);
      };
      client.on('error', drop);
      client.on('notification', (msg) => {
        if (msg.channel !== releaseChannel || msg.payload === undefined) return;
        const release = this.holders.get(msg.payload);
        if (release !== undefined) void Promise.resolve(release()).catch(() => undefined);
      });
      try {
        await client.query(`LISTEN ${releaseChannel}`);
      } catch (err) {
        drop(err as Error);
        throw err;
      }
      return client;
    })();
    try {
      await this.#listener;
    } catch (err) {
      this.#listener = undefined;
      throw err;
    }
  }

  /** Stops listening. Locks still held are released by their requests. */
  async close(): Promise<void> {
    this.#closed = true;
    const listener = this.#listener;
    this.#listener = undefined;
    if (listener === undefined) return;
    try {
      const client = await listener;
      client.release(true);
    } catch (err) {
      // The listener never connected: nothing to release.
      this.log.debug({ err }, 'tus lock listener never connected; nothing to release');
    }
  }
}

class PgLock implements Lock {
  readonly #id: string;
  readonly #locker: PgLocker;
  #client: PoolClient | undefined;
  #onLost: ((err: Error) => void) | undefined;

  constructor(id: string, locker: PgLocker) {
    this.#id = id;
    this.#locker = locker;
  }

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const locker = this.#locker;
    const deadline = Date.now() + locker.acquireTimeoutMs;
    await locker.listen();
    const client = await locker.pool.connect();
    // A checked-out client has no listener of the pool's: without one, a server restart's error
    // on this connection would end the process. The session's advisory lock is gone with it, so a
    // request holding the lock is asked to let go, as when another instance asks for it.
    const onLost = (err: Error): void => {
      locker.log.warn({ err, upload: this.#id }, 'tus lock connection lost');
      const release = this.#client === client ? locker.holders.get(this.#id) : undefined;
      if (release !== undefined) void Promise.resolve(release()).catch(() => undefined);
    };
    client.on('error', onLost);
    const [k1, k2] = advisoryKeys(this.#id);
    let lastAsk = 0;
    try {
      for (;;) {
        const { rows } = await client.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock($1::int4, $2::int4) AS ok',
          [k1, k2],
        );
        if (rows[0]?.ok === true) break;
        if (signal.aborted || Date.now() >= deadline) throw ERRORS.ERR_LOCK_TIMEOUT;
        if (Date.now() - lastAsk >= 1000) {
          lastAsk = Date.now();
          await client.query('SELECT pg_notify($1, $2)', [releaseChannel, this.#id]);
        }
        await new Promise((resolve) => setTimeout(resolve, locker.pollMs));
      }
    } catch (err) {
      if (err === ERRORS.ERR_LOCK_TIMEOUT) client.off('error', onLost);
      client.release(err === ERRORS.ERR_LOCK_TIMEOUT ? undefined : (err as Error));
      throw err;
    }
    this.#client = client;
    this.#onLost = onLost;
    locker.holders.set(this.#id, requestRelease);
  }

  async unlock(): Promise<void> {
    const client = this.#client;
    if (client === undefined) throw new Error('Releasing an unlocked lock!');
    this.#client = undefined;
    this.#locker.holders.delete(this.#id);
    const [k1, k2] = advisoryKeys(this.#id);
    try {
      await client.query('SELECT pg_advisory_unlock($1::int4, $2::int4)', [k1, k2]);
      if (this.#onLost !== undefined) client.off('error', this.#onLost);
      client.release();
    } catch (err) {
      // The connection is gone, and the session's advisory locks with it.
      this.#locker.log.warn({ err, upload: this.#id }, 'tus lock released with its lost connection');
      client.release(err as Error);
    }
  }
}
