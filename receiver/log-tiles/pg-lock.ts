// The lock that lets one of several receivers on one database publish the log's tiles at a time:
// a session-level PostgreSQL advisory lock on a pooled connection of its own, tried (never waited
// for), so a receiver that finds it held leaves the pass to the holder. A lost connection drops it.
import type { Pool } from 'pg';
import type { Logger } from '../../agent/log.ts';
import type { PublishLock } from './publisher.ts';

/** Advisory-lock keys: a namespace for log tiles ('rgtl') and the one lock in it. */
const lockKeys = [0x7267746c, 1] as const;

/** A PublishLock on PostgreSQL advisory locks. */
export function pgPublishLock(pool: Pool, log: Logger): PublishLock {
  return async (fn) => {
    const client = await pool.connect();
    let broken = false;
    try {
      const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::int4, $2::int4) AS ok', [
        ...lockKeys,
      ]);
      if (r.rows[0]?.ok !== true) return false;
      try {
        await fn();
      } finally {
        await client
          .query('SELECT pg_advisory_unlock($1::int4, $2::int4)', [...lockKeys])
          .catch((err: unknown) => {
            // The session is gone or unusable: dropping the connection releases the lock.
            broken = true;
            log.warn({ err }, 'releasing the tile publishing lock failed; dropping its connection');
          });
      }
      return true;
    } finally {
      client.release(broken);
    }
  };
}
