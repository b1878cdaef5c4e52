import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../../agent/cli/status.ts';
import { fakeSnapshot } from '../../fixtures/ops/fake-snapshot.ts';

describe('rigcap status, de-id holding area', () => {
  it('shows the mode, what is held against its budget, what was blurred late and what was lost', () => {
    const base = fakeSnapshot();
    const text = formatStatus({
      ...base,
      running: true,
      source: 'agent',
      deid: {
        ...base.deid,
        holding: {
          mode: 'spill',
          heldFrames: 42,
          heldBytes: 12 * 1024 * 1024,
          budgetBytes: 2048 * 1024 * 1024,
          drop: 'oldest',
          oldestHeldNs: '1741946400000000000',
          blurredLate: 310,
          maxDelayNs: '2500000000',
          lost: { deid_holding_full: 1, deid_held_lost: 4 },
        },
      },
    });
    expect(text).toContain(
      'de-id hold   spill: 42 frames held (12.0 MiB of 2048.0 MiB, drops oldest when full), 310 blurred late (max 2.5 s), lost 5',
    );
  });
});
