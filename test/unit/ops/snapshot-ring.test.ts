import { describe, expect, it } from 'vitest';
import { SnapshotRing } from '../../../agent/ops/snapshot-ring.ts';

interface Item {
  t: bigint;
  size: number;
}
const s = (sec: number): bigint => BigInt(Math.round(sec * 1e9));
const ring = (maxBytes = 1_000_000): SnapshotRing<Item> =>
  new SnapshotRing<Item>({ preNs: s(2), postNs: s(1), maxBytes, timeOf: (i) => i.t, sizeOf: (i) => i.size });
const feed = (r: SnapshotRing<Item>, fromSec: number, toSec: number, stepSec = 0.5, size = 10): Item[] => {
  const out: Item[] = [];
  for (let sec = fromSec; sec <= toSec + 1e-9; sec += stepSec) out.push(...r.push({ t: s(sec), size }));
  return out;
};

describe('SnapshotRing', () => {
  it('releases nothing without a marker and keeps only the pre-trigger span', () => {
    const r = ring();
    expect(feed(r, 0, 10)).toEqual([]);
    // 2 s at 0.5 s steps, inclusive of both ends: 8.0, 8.5, …, 10.0
    expect(r.held.items).toBe(5);
    expect(r.evicted).toBe(16);
    expect(r.windows).toEqual([]);
  });

  it('releases pre-window samples at a mark, streams the post-window, then holds again', () => {
    const r = ring();
    feed(r, 0, 10);
    const pre = r.mark('m1', s(10));
    expect(pre.map((i) => i.t)).toEqual([8, 8.5, 9, 9.5, 10].map(s));
    const post = feed(r, 10.5, 13);
    expect(post.map((i) => i.t)).toEqual([10.5, 11].map(s));
    expect(r.windows).toEqual([
      { markerIds: ['m1'], fromNs: s(8), toNs: s(11), items: 7, bytes: 70, preTruncated: false },
    ]);
    expect(r.held.items).toBeGreaterThan(0);
  });

  it('merges overlapping marks into one window and never releases a sample twice', () => {
    const r = ring();
    feed(r, 0, 10);
    const first = r.mark('m1', s(10));
    const during = feed(r, 10.5, 10.5);
    const second = r.mark('m2', s(10.5));
    const after = feed(r, 11, 12);
    const all = [...first, ...during, ...second, ...after].map((i) => i.t);
    expect(new Set(all).size).toBe(all.length);
    expect(r.windows).toHaveLength(1);
    expect(r.windows[0]?.markerIds).toEqual(['m1', 'm2']);
    expect(r.windows[0]?.toNs).toBe(s(11.5));
    expect(after.map((i) => i.t)).toEqual([11, 11.5].map(s));
  });

  it('honours the byte bound and records that the pre-trigger window was cut', () => {
    const r = ring(30);
    feed(r, 0, 10);
    expect(r.held.bytes).toBeLessThanOrEqual(30);
    const pre = r.mark('m1', s(10));
    expect(pre.map((i) => i.t)).toEqual([9, 9.5, 10].map(s));
    expect(r.windows[0]?.preTruncated).toBe(true);
  });

  it('keeps samples newer than a late mark’s window for a later one', () => {
    const r = ring();
    feed(r, 0, 10);
    const pre = r.mark('late', s(8.6));
    expect(pre.map((i) => i.t)).toEqual([8, 8.5, 9, 9.5].map(s));
    expect(r.held.items).toBe(1);
  });

  it('rejects a ring without a memory bound', () => {
    expect(
      () =>
        new SnapshotRing<Item>({
          preNs: 1n,
          postNs: 1n,
          maxBytes: 0,
          timeOf: (i) => i.t,
          sizeOf: (i) => i.size,
        }),
    ).toThrow(RangeError);
  });
});
