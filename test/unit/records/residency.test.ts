// Residency rule: a region is allowed only when the signed list names it; "unknown" never is.
import { describe, expect, it } from 'vitest';
import { regionRefusal } from '../../../agent/records/residency.ts';

describe('regionRefusal', () => {
  it('admits any store without a list, and a listed region with one', () => {
    expect(regionRefusal(undefined, undefined)).toBeUndefined();
    expect(regionRefusal(undefined, 'us-east-1')).toBeUndefined();
    expect(regionRefusal(['eu-west', 'eu-central'], 'eu-central')).toBeUndefined();
  });

  it('refuses an unlisted region, a store stating none, and everything under an empty list', () => {
    expect(regionRefusal(['eu-west'], 'us-east-1')).toMatch(/us-east-1 is not among .*eu-west/);
    expect(regionRefusal(['eu-west'], undefined)).toMatch(/unknown/);
    expect(regionRefusal(['eu-west'], 'unknown')).toMatch(/unknown/);
    expect(regionRefusal([], 'eu-west')).toBeDefined();
  });
});
