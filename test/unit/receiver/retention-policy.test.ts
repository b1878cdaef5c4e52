// The store retention policy: days per purpose and site, the longer rule wins, a default applies
// only when no rule matches, and every problem in a file is reported at once.
import { describe, expect, it } from 'vitest';
import { parseRetentionPolicy, retentionRuleFor } from '../../../receiver/retention/policy.ts';

const policyOf = (doc: unknown) => parseRetentionPolicy(Buffer.from(JSON.stringify(doc)));

describe('store retention policy', () => {
  const policy = policyOf({ purposes: { training: 7, audit: 30 }, sites: { 'depot-7': 90, lab: 1 } });

  it('takes the purpose rule, or the longer of a purpose and a site rule', () => {
    expect(retentionRuleFor(policy, { purpose: 'training', site: null })).toEqual({
      days: 7,
      rule: 'purpose training keeps 7 days',
    });
    expect(retentionRuleFor(policy, { purpose: 'training', site: 'depot-7' })?.days).toBe(90);
    expect(retentionRuleFor(policy, { purpose: 'audit', site: 'lab' })).toEqual({
      days: 30,
      rule: 'purpose audit keeps 30 days',
    });
  });

  it('keeps a chunk no rule matches unless a default is set', () => {
    expect(retentionRuleFor(policy, { purpose: 'other', site: 'elsewhere' })).toBeUndefined();
    const withDefault = policyOf({ defaultDays: 365, purposes: { training: 7 } });
    expect(retentionRuleFor(withDefault, { purpose: null, site: null })).toEqual({
      days: 365,
      rule: 'default keeps 365 days',
    });
  });

  it('names the file by its digest and lists every problem at once', () => {
    expect(policy.sha256).toMatch(/^[0-9a-f]{64}$/);
    let message = '';
    try {
      policyOf({ purposes: { training: -1, audit: 1.5 }, sites: [], retain: true });
    } catch (err) {
      expect(err).toMatchObject({ code: 'RIGCAP_CONFIG_INVALID' });
      message = (err as Error).message;
    }
    for (const part of ['purposes.training', 'purposes.audit', 'sites:', 'retain: unknown key'])
      expect(message).toContain(part);
    expect(() => parseRetentionPolicy(Buffer.from('{'))).toThrow(/not JSON/);
  });
});
