import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeqGapTracker } from '../../../drivers/zmq/seq-gap.ts';

describe('SeqGapTracker', () => {
  it('counts exactly the missing numbers between the first and last seq seen', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1000 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 200 }),
        (first, steps) => {
          const tracker = new SeqGapTracker();
          let seq = first;
          let lost = tracker.observe('/t', seq).lost;
          for (const step of steps) {
            seq += step;
            lost += tracker.observe('/t', seq).lost;
          }
          // received + lost = span of the sequence
          expect(lost + steps.length + 1).toBe(seq - first + 1);
        },
      ),
    );
  });

  it('keeps topics apart', () => {
    const tracker = new SeqGapTracker();
    tracker.observe('/a', 0);
    tracker.observe('/b', 10);
    expect(tracker.observe('/a', 3)).toEqual({ lost: 2, restarted: false });
    expect(tracker.observe('/b', 11)).toEqual({ lost: 0, restarted: false });
  });

  it('takes a seq that goes back or repeats as a publisher restart and counts nothing', () => {
    const tracker = new SeqGapTracker();
    tracker.observe('/a', 500);
    expect(tracker.observe('/a', 0)).toEqual({ lost: 0, restarted: true });
    expect(tracker.observe('/a', 2)).toEqual({ lost: 1, restarted: false });
    expect(tracker.observe('/a', 2)).toEqual({ lost: 0, restarted: true });
  });

  it('does not count loss before the first message it sees', () => {
    expect(new SeqGapTracker().observe('/a', 12345)).toEqual({ lost: 0, restarted: false });
  });
});
