import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { croissantRai, datasetCard, gatherSession, sessionFacts } from '../../../agent/records/index.ts';
import {
  readinessFactors,
  readinessProfileProblems,
  scoreSession,
  type ReadinessProfile,
} from '../../../agent/records/readiness.ts';
import {
  buildSession,
  chainsOf,
  fixtureSessionId,
  type FixtureOptions,
} from '../../support/readiness-fixture.ts';

const profiles = parse(
  readFileSync(new URL('../../../config/readiness/profiles.yaml', import.meta.url), 'utf8'),
) as Record<string, ReadinessProfile>;
const training = profiles['training']!;

function score(o: FixtureOptions = {}) {
  const session = gatherSession(fixtureSessionId, chainsOf(buildSession(o)));
  if (session === undefined) throw new Error('fixture session not found');
  return { session, readiness: scoreSession(session, training) };
}

describe('provenance readiness', () => {
  it('the shipped profiles are well-formed (weights sum to 100)', () => {
    for (const [name, p] of Object.entries(profiles)) expect(readinessProfileProblems(name, p)).toEqual([]);
    expect(readinessProfileProblems('x', { minScore: 50 })).not.toEqual([]);
  });

  it('a clean session scores 100 with every factor at no cost, and its card says "no gaps"', () => {
    const { session, readiness } = score();
    expect(readiness.factors.map((f) => f.name)).toEqual([...readinessFactors]);
    for (const f of readiness.factors)
      expect({ name: f.name, cost: f.cost, value: f.value }).toEqual({ name: f.name, cost: 0, value: 1 });
    expect(readiness.score).toBe(100);
    const card = datasetCard(sessionFacts(session), { croissantFile: 'x.jsonld' });
    expect(card).toContain('## Gaps and loss\n\nno gaps\n');
    expect(croissantRai(sessionFacts(session))['rai:dataCollectionMissingData']).toBe('No gaps.');
  });

  const cases: Array<[string, FixtureOptions, string, RegExp]> = [
    ['an unsynced clock', { unsynced: true }, 'clock', /locked 0 s of 3 min 0 s \(0 %\), unsynced 3 min 0 s/],
    [
      'a sensor stream without calibration',
      { noRearCalibration: true },
      'calibration',
      /no calibration for \/camera\/rear\/image\/compressed/,
    ],
    ['a de-id failure window', { deidFailure: true }, 'deid', /degraded: 3 deid failed/],
    [
      'a missing custody receipt',
      { missingReceipt: true },
      'receipts',
      /1 of 4 chunk and close records have no custody receipt/,
    ],
    ['drops', { drops: true }, 'loss', /\/camera\/front\/image\/compressed 50 of 1850/],
    ['a chain gap', { chainGap: true }, 'chain', /VERIFY_SESSION_ROOT|chunk record 2 missing/],
    ['an empty owner', { noOwner: true }, 'policy', /not filled: owner/],
  ];
  for (const [what, options, factor, reason] of cases)
    it(`${what} lowers exactly the ${factor} factor and names it`, () => {
      const { readiness } = score(options);
      const hit = readiness.factors.filter((f) => f.cost > 0);
      expect(hit.map((f) => f.name)).toEqual([factor]);
      expect(hit[0]!.reason).toMatch(reason);
      expect(hit[0]!.value).toBeLessThan(1);
      expect(readiness.score).toBeLessThan(100);
      expect(readiness.score).toBe(Math.floor(100 - hit[0]!.cost));
    });

  it('the card of a session with drops and an unsynced clock lists those gaps, in human units', () => {
    const { session } = score({ drops: true, unsynced: true });
    const facts = sessionFacts(session);
    const card = datasetCard(facts, { croissantFile: 'x.jsonld' });
    const section = card.slice(card.indexOf('## Gaps and loss'));
    expect(section).not.toContain('no gaps');
    expect(section).toMatch(
      /2025-12-03T12:00:00.000Z – 2025-12-03T12:03:00.000Z \(3 min 0 s\): clock unsynced/,
    );
    expect(section).toMatch(
      /2025-12-03T12:01:00.000Z – 2025-12-03T12:02:00.000Z \(1 min 0 s\): samples dropped on \/camera\/front\/image\/compressed: 50 queue full/,
    );
    expect(card).toContain('locked 0 s (0 %), holdover 0 s (0 %), unsynced 3 min 0 s (100 %)');
    expect(card).toMatch(
      /\| \/camera\/front\/image\/compressed \| sensor_msgs\/msg\/CompressedImage \| 1800 \| 50 \(2.7 %\) \|/,
    );
    // Exact values stay in the JSON.
    const unsynced = facts.gaps.find((g) => g.kind === 'clock_unsynced')!;
    expect(unsynced).toMatchObject({
      startNs: '1764763200000000000',
      endNs: '1764763380000000000',
      cause: 'unsynced',
    });
    expect(facts.gaps.find((g) => g.kind === 'loss')).toMatchObject({
      stream: '/camera/front/image/compressed',
      counts: { queue_full: 50 },
    });
    const rai = croissantRai(facts);
    expect(rai['rai:dataCollectionMissingData']).toMatch(/clock unsynced/);
    expect((rai['rai:dataLimitations'] as string[]).join('\n')).toMatch(/50 queue full/);
  });

  it('the audit profile is stricter than training for the same session', () => {
    const session = gatherSession(fixtureSessionId, chainsOf(buildSession({ drops: true })))!;
    const audit = scoreSession(session, profiles['audit']!);
    const t = scoreSession(session, training);
    expect(audit.score).toBeLessThan(t.score);
  });
});
