import { describe, expect, it } from 'vitest';
import { RecentWindow } from '../../../agent/ops/recent-window.ts';

describe('RecentWindow', () => {
  it('a first look measures from the origin; later looks over the last window only', () => {
    const w = new RecentWindow<'n'>({ windowMs: 10_000, origin: { atMs: 0, values: { n: 0 } } });
    expect(w.look({ n: 50 }, 5_000)).toEqual({ spanMs: 5_000, delta: { n: 50 } });
    expect(w.look({ n: 100 }, 10_000)).toEqual({ spanMs: 10_000, delta: { n: 100 } });
    // A stall: nothing grew over the last 10 s, though the total since start is large.
    expect(w.look({ n: 100 }, 20_000)).toEqual({ spanMs: 10_000, delta: { n: 0 } });
    expect(w.look({ n: 130 }, 24_000)).toEqual({ spanMs: 14_000, delta: { n: 30 } });
  });

  it('without an origin the first look has no span, and rapid looks do not pile up', () => {
    const w = new RecentWindow<'a' | 'b'>({ windowMs: 1_000 });
    expect(w.look({ a: 5, b: 1 }, 100)).toEqual({ spanMs: 0, delta: { a: 0, b: 0 } });
    for (let t = 101; t < 200; t++) w.look({ a: 5 + t, b: 1 }, t);
    expect(w.look({ a: 400, b: 3 }, 1_200)).toEqual({ spanMs: 1_100, delta: { a: 395, b: 2 } });
  });
});
