// A spool written by rigcap 0.1.0 (v1 capture-chunk and session records) keeps verifying: its
// records are lifted to v2 through the real migrations, not accepted as they are.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsSource } from '../../../agent/keys/index.ts';
import {
  decodeRecord,
  parsePredicateType,
  predicateProblems,
  upgradePredicate,
  verifyTree,
} from '../../../agent/records/index.ts';

const fixture = join(import.meta.dirname, '..', '..', 'fixtures', 'spool-v0.1');
const recordsDir = join(fixture, 'records', 'demo-rig');

function statements(): Array<{ predicateType: string; predicate: Record<string, unknown>; file: string }> {
  return readdirSync(recordsDir)
    .sort()
    .map((file) => {
      const env = JSON.parse(readFileSync(join(recordsDir, file), 'utf8')) as { payload: string };
      const s = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as {
        predicateType: string;
        predicate: Record<string, unknown>;
      };
      return { ...s, file };
    });
}

describe('a spool captured by rigcap 0.1.0', () => {
  it('holds v1 capture-chunk and session records and no private key', () => {
    const types = statements().map((s) => s.predicateType);
    expect(types).toContain('https://rigcap.dev/capture-chunk/v1');
    expect(types).toContain('https://rigcap.dev/session/v1');
    const files = readdirSync(join(fixture, 'keys'));
    expect(files.every((f) => f.endsWith('.pub.pem'))).toBe(true);
  });

  it('verifies with this rigcap: chunks, records and the closed session', async () => {
    const report = await verifyTree(new FsSource(fixture));
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checked).toEqual({ chunks: 2, records: 5, sessions: 1 });
  });

  it('lifts a v1 chunk record to v2 with the context its policy knew, and the rest unknown', () => {
    const chunk = statements().find((s) => s.predicateType.includes('capture-chunk'))!;
    const bytes = readFileSync(join(recordsDir, chunk.file));
    const decoded = decodeRecord(bytes);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.record.name).toBe('capture-chunk');
    if (decoded.record.name !== 'capture-chunk') return;
    expect(decoded.record.predicate.context).toEqual({
      owner: 'demo operator',
      site: null,
      licence: null,
      legalBasis: null,
      consentRef: null,
      purpose: 'rigcap demo',
      sensors: [],
    });
    expect(predicateProblems('capture-chunk', decoded.record.predicate)).toEqual([]);
  });

  it('lifts a v1 session open record to v2 with context, producer and config unknown', () => {
    const open = statements().find(
      (s) => s.predicateType.includes('/session/') && s.predicate['phase'] === 'open',
    )!;
    const up = upgradePredicate(open.predicateType, open.predicate);
    expect(up).toMatchObject({ ok: true, version: 2, body: { context: null, producer: null, config: null } });
    expect(parsePredicateType(open.predicateType)?.version).toBe(1);
  });

  it('is refused when no migration from v1 exists', () => {
    const chunk = statements().find((s) => s.predicateType.includes('capture-chunk'))!;
    expect(upgradePredicate(chunk.predicateType, chunk.predicate, { migrations: {} })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/no migration for capture-chunk from v1/),
    });
  });
});
