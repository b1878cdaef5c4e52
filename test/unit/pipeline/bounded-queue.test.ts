import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BoundedQueue } from '../../../agent/pipeline/bounded-queue.ts';

interface Item {
  id: number;
  size: number;
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), size: fc.integer({ min: 0, max: 120 }) }),
  fc.record({ kind: fc.constant('shift' as const) }),
);

describe('BoundedQueue', () => {
  for (const dropPolicy of ['drop-oldest', 'drop-newest'] as const) {
    it(`${dropPolicy}: stays bounded and accounts for every item`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 1, max: 200 }),
          fc.array(op, { maxLength: 200 }),
          async (maxCount, maxBytes, ops) => {
            const dropped: Array<{ item: Item; cause: string }> = [];
            const q = new BoundedQueue<Item>({
              maxCount,
              maxBytes,
              dropPolicy,
              sizeOf: (i) => i.size,
              onDrop: (item, cause) => dropped.push({ item, cause }),
            });
            const delivered: Item[] = [];
            let next = 0;
            for (const o of ops) {
              if (o.kind === 'push') {
                const item = { id: next++, size: o.size };
                const accepted = q.push(item);
                if (o.size > maxBytes) {
                  expect(accepted).toBe(false);
                  expect(dropped.at(-1)).toEqual({ item, cause: 'oversize' });
                }
                if (dropPolicy === 'drop-oldest' && o.size <= maxBytes) expect(accepted).toBe(true);
              } else if (q.length > 0) {
                const item = await q.shift();
                if (item !== undefined) delivered.push(item);
              }
              expect(q.length).toBeLessThanOrEqual(maxCount);
              expect(q.bytes).toBeLessThanOrEqual(maxBytes);
            }
            q.close();
            for await (const item of q) delivered.push(item);
            const stats = q.stats();
            // Conservation: everything offered was delivered or dropped, nothing else.
            expect(delivered.length + dropped.length).toBe(next);
            expect(stats.offered).toBe(next);
            expect(stats.delivered).toBe(delivered.length);
            expect(stats.drops.queue_full + stats.drops.oversize).toBe(dropped.length);
            expect(stats.highWaterBytes).toBeLessThanOrEqual(maxBytes);
            // FIFO order for what was delivered.
            const ids = delivered.map((i) => i.id);
            expect(ids).toEqual([...ids].sort((a, b) => a - b));
            if (dropPolicy === 'drop-oldest') {
              // Oldest-first eviction keeps the newest: every queue_full victim is older than the last delivered.
              const lastId = ids.at(-1) ?? -1;
              for (const d of dropped.filter((x) => x.cause === 'queue_full'))
                expect(d.item.id).toBeLessThan(lastId + 1);
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it('drop-newest refuses the incoming item and keeps the queued ones', () => {
    const q = new BoundedQueue<Item>({
      maxCount: 2,
      maxBytes: 100,
      dropPolicy: 'drop-newest',
      sizeOf: (i) => i.size,
    });
    expect(q.push({ id: 1, size: 1 })).toBe(true);
    expect(q.push({ id: 2, size: 1 })).toBe(true);
    expect(q.push({ id: 3, size: 1 })).toBe(false);
    expect(q.stats().drops.queue_full).toBe(1);
    expect(q.length).toBe(2);
  });

  it('drop-oldest evicts by bytes as well as count', async () => {
    const q = new BoundedQueue<Item>({
      maxCount: 10,
      maxBytes: 10,
      dropPolicy: 'drop-oldest',
      sizeOf: (i) => i.size,
    });
    q.push({ id: 1, size: 4 });
    q.push({ id: 2, size: 4 });
    q.push({ id: 3, size: 7 });
    expect(q.stats().drops.queue_full).toBe(2);
    expect((await q.shift())?.id).toBe(3);
  });

  it('a waiting consumer gets the next push; close drains then ends; destroy wakes it', async () => {
    const q = new BoundedQueue<Item>({
      maxCount: 2,
      maxBytes: 100,
      dropPolicy: 'drop-oldest',
      sizeOf: (i) => i.size,
    });
    const waiting = q.shift();
    q.push({ id: 7, size: 1 });
    expect((await waiting)?.id).toBe(7);
    q.push({ id: 8, size: 1 });
    q.close();
    expect(q.push({ id: 9, size: 1 })).toBe(false);
    expect(q.stats().refusedClosed).toBe(1);
    expect((await q.shift())?.id).toBe(8);
    expect(await q.shift()).toBeUndefined();

    const q2 = new BoundedQueue<Item>({
      maxCount: 2,
      maxBytes: 100,
      dropPolicy: 'drop-oldest',
      sizeOf: (i) => i.size,
    });
    const pending = q2.shift();
    q2.destroy(new Error('gone'));
    await expect(pending).rejects.toThrow('gone');
    q2.destroy();
  });

  it('shift rejects when its signal aborts and leaves no waiter behind', async () => {
    const q = new BoundedQueue<Item>({
      maxCount: 2,
      maxBytes: 100,
      dropPolicy: 'drop-oldest',
      sizeOf: (i) => i.size,
    });
    const ac = new AbortController();
    const pending = q.shift(ac.signal);
    ac.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    q.push({ id: 1, size: 1 });
    expect(q.length).toBe(1);
  });

  it('batch side: whenReady wakes on push, takeInto takes in order, close and destroy end it', async () => {
    const q = new BoundedQueue<Item>({
      maxCount: 4,
      maxBytes: 100,
      dropPolicy: 'drop-oldest',
      sizeOf: (i) => i.size,
    });
    const ready = q.whenReady();
    for (let id = 1; id <= 6; id++) q.push({ id, size: 1 });
    expect(await ready).toBe(true);
    const out: Item[] = [];
    expect(q.takeInto(out, 3)).toBe(3);
    expect(q.takeInto(out, 10)).toBe(1);
    expect(out.map((i) => i.id)).toEqual([3, 4, 5, 6]);
    expect(q.stats()).toMatchObject({ delivered: 4, length: 0, bytes: 0, drops: { queue_full: 2 } });
    const closed = q.whenReady();
    q.close();
    expect(await closed).toBe(false);

    const q2 = new BoundedQueue<Item>({
      maxCount: 2,
      maxBytes: 100,
      dropPolicy: 'drop-oldest',
      sizeOf: (i) => i.size,
    });
    const pending = q2.whenReady();
    q2.destroy(new Error('gone'));
    await expect(pending).rejects.toThrow('gone');
  });
});
