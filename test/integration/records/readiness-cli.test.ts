import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { buildSession, fixtureSessionId, writeSpool, writeStore } from '../../support/readiness-fixture.ts';

interface ReadinessJson {
  profile: string;
  minScore: number;
  sessions: Array<{
    sessionId: string;
    score: number;
    belowProfile: boolean;
    factors: Array<{ name: string; value: number; cost: number; reason: string }>;
  }>;
}

async function readiness(path: string, ...flags: string[]): Promise<{ code: number; doc: ReadinessJson }> {
  const r = await runCli(['readiness', path, '--json', ...flags]);
  return { code: r.code, doc: JSON.parse(r.stdout) as ReadinessJson };
}

/** The same session as a spool (receipts in its SQLite), a store, and a bundle exported from the store. */
async function threeWays(options: Parameters<typeof buildSession>[0]) {
  const s = buildSession(options);
  const spool = await writeSpool(s);
  const store = await writeStore(s);
  const bundle = join(store, 'session.intoto.jsonl');
  const exported = await runCli([
    'export',
    fixtureSessionId,
    '--format',
    'intoto',
    '--out',
    bundle,
    '--spool',
    store,
  ]);
  expect(exported.code).toBe(0);
  return { spool, store, bundle };
}

describe('rigcap readiness', () => {
  it('scores the same session identically from its spool, its store and an exported in-toto bundle', async () => {
    for (const options of [{}, { missingReceipt: true, drops: true, unsynced: true }]) {
      const { spool, store, bundle } = await threeWays(options);
      const fromSpool = await readiness(spool);
      const fromStore = await readiness(store);
      const fromBundle = await readiness(bundle);
      expect(fromSpool.doc.sessions).toHaveLength(1);
      expect(fromStore.doc).toEqual(fromSpool.doc);
      expect(fromBundle.doc).toEqual(fromSpool.doc);
      expect(fromStore.code).toBe(fromSpool.code);
      expect(fromBundle.code).toBe(fromSpool.code);
    }
  });

  it('a clean session scores 100 and exits 0; the receipts the spool keeps count', async () => {
    const { spool } = await threeWays({});
    const { code, doc } = await readiness(spool, '--session', fixtureSessionId, '--profile', 'audit');
    expect(code).toBe(0);
    expect(doc.sessions[0]).toMatchObject({ sessionId: fixtureSessionId, score: 100, belowProfile: false });
    expect(doc.sessions[0]!.factors.find((f) => f.name === 'receipts')).toMatchObject({ value: 1, cost: 0 });
  });

  it('exits 1 when a session is below its profile, and says which factors cost what', async () => {
    const { store } = await threeWays({ chainGap: true, unsynced: true });
    const { code, doc } = await readiness(store, '--profile', 'audit');
    expect(code).toBe(1);
    expect(doc.sessions[0]!.belowProfile).toBe(true);
    expect(doc.sessions[0]!.factors.filter((f) => f.cost > 0).map((f) => f.name)).toEqual(['chain', 'clock']);
    const human = await runCli(['readiness', store, '--profile', 'audit']);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/below profile/);
    expect(human.stdout).toMatch(/clock +-15 +locked 0 s of 2 min 0 s/);
  });

  it('an unknown session is RIGCAP_SESSION_UNKNOWN (exit 2); a bad profile or no PATH is a usage error', async () => {
    const { store } = await threeWays({});
    const unknown = await runCli(['readiness', store, '--session', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/RIGCAP_SESSION_UNKNOWN/);
    expect((await runCli(['readiness', store, '--profile', 'lenient'])).code).toBe(2);
    expect((await runCli(['readiness'])).code).toBe(2);
    expect((await runCli(['readiness', join(store, 'missing')])).code).toBe(2);
  });

  it('the card exported from that store lists the unsynced clock and the drops', async () => {
    const { store } = await threeWays({ drops: true, unsynced: true });
    const out = join(store, 'card.md');
    expect(
      (await runCli(['export', fixtureSessionId, '--format', 'card', '--out', out, '--spool', store])).code,
    ).toBe(0);
    const gaps = (await readFile(out, 'utf8')).split('## Gaps and loss')[1]!;
    expect(gaps).toMatch(/\(3 min 0 s\): clock unsynced/);
    expect(gaps).toMatch(/samples dropped on \/camera\/front\/image\/compressed: 50 queue full/);
    expect(gaps).not.toMatch(/no gaps/);
  });
});
