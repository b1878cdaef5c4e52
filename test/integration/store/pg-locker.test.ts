// The tus Locker on PostgreSQL advisory locks: two receiver instances (two lockers on one database)
// never hold one upload's lock at once; a request waiting for a lock asks the holder to let go (a
// stale PATCH must not block a resume through another instance); locks of other uploads are
// independent; an instance holds all its locks on one connection and keeps a second request of
// its own out too; and a lock that cannot be had in time fails with tus's lock timeout.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '@tus/server';
import { silentLogger } from '../../../agent/log.ts';
import { PgLocker } from '../../../receiver/backends/pg-locker.ts';
import { postgresSkipReason, startPostgres, type PostgresEngine } from '../../support/engines/postgres.ts';

describe.skipIf(postgresSkipReason !== undefined)('tus locks on PostgreSQL advisory locks', () => {
  let engine: PostgresEngine;
  let poolA: pg.Pool;
  let poolB: pg.Pool;
  let a: PgLocker;
  let b: PgLocker;

  beforeAll(async () => {
    engine = await startPostgres();
    const url = await engine.createDatabase();
    poolA = new pg.Pool({ connectionString: url, max: 4 });
    poolB = new pg.Pool({ connectionString: url, max: 4 });
    a = new PgLocker({ pool: poolA, log: silentLogger(), pollMs: 20 });
    b = new PgLocker({ pool: poolB, log: silentLogger(), pollMs: 20, acquireTimeoutMs: 10_000 });
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await poolA?.end();
    await poolB?.end();
    await engine?.stop();
  });

  it('hands an upload to the other instance only after the holder let go, on its request', async () => {
    const held = a.newLock('0123456789abcdef0123456789abcdef');
    const events: string[] = [];
    await held.lock(new AbortController().signal, async () => {
      events.push('asked to release');
      await held.unlock();
      events.push('released');
    });
    const wanted = b.newLock('0123456789abcdef0123456789abcdef');
    await wanted.lock(new AbortController().signal, () => undefined);
    events.push('acquired by the other instance');
    expect(events).toEqual(['asked to release', 'released', 'acquired by the other instance']);
    await wanted.unlock();
  });

  it('keeps locks of different uploads independent', async () => {
    const one = a.newLock('11111111111111111111111111111111');
    const two = b.newLock('22222222222222222222222222222222');
    let asked = false;
    await one.lock(new AbortController().signal, () => {
      asked = true;
    });
    await two.lock(new AbortController().signal, () => undefined);
    expect(asked).toBe(false);
    await one.unlock();
    await two.unlock();
  });

  it('hands an upload between two requests of one instance only after the holder let go', async () => {
    // Every lock of an instance is on one session, where advisory locks are re-entrant: the
    // instance itself must keep a second request out.
    const held = a.newLock('44444444444444444444444444444444');
    const events: string[] = [];
    await held.lock(new AbortController().signal, async () => {
      events.push('asked to release');
      await held.unlock();
      events.push('released');
    });
    const wanted = a.newLock('44444444444444444444444444444444');
    await wanted.lock(new AbortController().signal, () => undefined);
    events.push('acquired by the second request');
    expect(events).toEqual(['asked to release', 'released', 'acquired by the second request']);
    // Held by this instance still: the other instance times out.
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    await expect(
      b.newLock('44444444444444444444444444444444').lock(stop.signal, () => undefined),
    ).rejects.toBe(ERRORS.ERR_LOCK_TIMEOUT);
    await wanted.unlock();
  });

  it('holds many uploads at once on one connection, leaving the rest of the pool free', async () => {
    const locks = Array.from({ length: 12 }, (_, i) => a.newLock(`5555555555555555555555555555${1000 + i}`));
    for (const lock of locks) await lock.lock(new AbortController().signal, () => undefined);
    // The pool has 4 connections: one holds every lock, the others still answer.
    expect(poolA.totalCount).toBeLessThanOrEqual(1);
    const answers = await Promise.all(
      [1, 2, 3].map((n) => poolA.query<{ n: number }>('SELECT $1::int AS n', [n])),
    );
    expect(answers.map((r) => r.rows[0]?.n)).toEqual([1, 2, 3]);
    // Each is held against the other instance.
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 200);
    await expect(
      b.newLock(`55555555555555555555555555551005`).lock(stop.signal, () => undefined),
    ).rejects.toBe(ERRORS.ERR_LOCK_TIMEOUT);
    for (const lock of locks) await lock.unlock();
  });

  it('gives up with the tus lock timeout when the holder does not let go in time', async () => {
    const stubborn = a.newLock('33333333333333333333333333333333');
    await stubborn.lock(new AbortController().signal, () => undefined);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    await expect(
      b.newLock('33333333333333333333333333333333').lock(stop.signal, () => undefined),
    ).rejects.toBe(ERRORS.ERR_LOCK_TIMEOUT);
    await stubborn.unlock();
    // Free again: the other instance gets it at once.
    const next = b.newLock('33333333333333333333333333333333');
    await next.lock(new AbortController().signal, () => undefined);
    await next.unlock();
  });
});
