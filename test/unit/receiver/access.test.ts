// Readers files and access records without a receiver: every problem of a readers file is reported
// at once, tokens are matched by digest only, roles nest, and a full access record of the longest
// entries the schema allows still fits one tlog-tiles entry (64 KiB).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RigcapError } from '../../../agent/errors.ts';
import { buildRecord, generateKeyPair, nodeSigner, serializeEnvelope } from '../../../agent/records/index.ts';
import type { AccessEntry } from '../../../agent/records/predicates.ts';
import { predicateProblems } from '../../../agent/records/validate.ts';
import { ReaderBook, parseReaders, roleCovers, tokenSha256 } from '../../../receiver/access/readers.ts';
import { accessSubject, maxEntriesPerRecord, recordBatchSize } from '../../../receiver/access/recorder.ts';

const line = (o: unknown): string => JSON.stringify(o);

describe('readers file', () => {
  it('reads named readers with their role and token digest; comments and blank lines are skipped', () => {
    const text = [
      '# readers of the depot store',
      '',
      line({ name: 'alice', role: 'reader', sha256: tokenSha256('alice-token') }),
      line({ name: 'bob.audit', role: 'auditor', sha256: tokenSha256('bob-token') }),
    ].join('\n');
    const book = new ReaderBook(parseReaders(text));
    expect(book.identify('alice-token')?.name).toBe('alice');
    expect(book.identify('bob-token')?.role).toBe('auditor');
    expect(book.identify('alice-token ')).toBeUndefined();
    expect(book.identify(tokenSha256('alice-token'))).toBeUndefined();
  });

  it('reports every problem at once as RIGCAP_CONFIG_INVALID', () => {
    const text = [
      '{not json',
      line({ name: 'has space', role: 'reader', sha256: tokenSha256('a') }),
      line({ name: 'carol', role: 'root', sha256: 'ABC' }),
      line({ name: 'dave', role: 'reader', sha256: tokenSha256('d'), token: 'd' }),
      line({ name: 'erin', role: 'reader', sha256: tokenSha256('e') }),
      line({ name: 'erin', role: 'admin', sha256: tokenSha256('e') }),
    ].join('\n');
    let caught: unknown;
    try {
      parseReaders(text, 'readers.jsonl');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RigcapError);
    const message = (caught as RigcapError).message;
    expect((caught as RigcapError).code).toBe('RIGCAP_CONFIG_INVALID');
    for (const part of [
      'readers.jsonl:1: not JSON',
      'readers.jsonl:2: name',
      'readers.jsonl:3: role',
      'readers.jsonl:3: sha256',
      'readers.jsonl:4: unknown field token',
      'reader erin is named twice',
      'two readers share one token',
    ])
      expect(message).toContain(part);
    expect(() => parseReaders('# nobody\n')).toThrow(/names no reader/);
  });

  it('roles nest: reader < auditor < admin', () => {
    expect(roleCovers('reader', 'reader')).toBe(true);
    expect(roleCovers('reader', 'auditor')).toBe(false);
    expect(roleCovers('auditor', 'reader')).toBe(true);
    expect(roleCovers('admin', 'auditor')).toBe(true);
    expect(roleCovers('auditor', 'admin')).toBe(false);
  });

  it('any token identifies only the reader whose digest it has (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 5 }),
        (tokens) => {
          const book = new ReaderBook(
            tokens.map((t, i) => ({ name: `r${i}`, role: 'reader' as const, sha256: tokenSha256(t) })),
          );
          tokens.forEach((t, i) => expect(book.identify(t)?.name).toBe(`r${i}`));
          expect(book.identify(`${tokens[0]}x`)?.name).toBe(
            tokens.includes(`${tokens[0]}x`) ? `r${tokens.indexOf(`${tokens[0]}x`)}` : undefined,
          );
        },
      ),
    );
  });
});

describe('access records', () => {
  const longest = (i: number): AccessEntry => ({
    reader: 'r'.repeat(128),
    role: 'auditor',
    action: 'export',
    route: '/'.padEnd(256, 'x'),
    object: 'o'.repeat(256),
    sha256: (i % 10).toString().repeat(64),
    sessionId: 's'.repeat(256),
    purpose: '\u{1F600}'.repeat(200),
    atNs: '1764763290000000000',
    status: 599,
    outcome: 'failed',
    code: 'RIGCAP_'.padEnd(64, 'X'),
  });

  it('a full record of the longest entries the schema allows fits one tlog-tiles entry', () => {
    const all = Array.from({ length: 60 }, (_, i) => longest(i));
    const entries = all.slice(0, recordBatchSize(all));
    expect(entries.length).toBeGreaterThan(0);
    expect(recordBatchSize(all.map((e) => ({ ...e, purpose: null, object: 'o', sessionId: null })))).toBe(
      maxEntriesPerRecord,
    );
    expect(predicateProblems('access', { chain: chainFields(), entries })).toEqual([]);
    const record = buildRecord({
      name: 'access',
      subject: accessSubject(entries),
      body: { entries },
      link: { seq: 2, prev: 'a'.repeat(64) },
      context: { signerId: 'store-0123456789abcdef', bootId: 'b', monoNs: 1n, wallNs: 1n },
      signer: nodeSigner(generateKeyPair().privateKeyPem),
    });
    const bytes = serializeEnvelope(record.envelope).length;
    console.log(`largest access record: ${entries.length} entries, ${bytes} bytes of 65535`);
    expect(bytes).toBeLessThanOrEqual(65535);
  });

  it('the schema refuses content-sized fields and unknown outcomes', () => {
    const entry = longest(0);
    const bad = [
      { ...entry, object: 'o'.repeat(257) },
      { ...entry, outcome: 'leaked' },
      { ...entry, body: 'the bytes read' },
    ];
    for (const e of bad)
      expect(predicateProblems('access', { chain: chainFields(), entries: [e] })).not.toEqual([]);
  });

  it('its subject names each digest sent once, or the empty digest when none was', () => {
    const a = { ...longest(1), object: 'blob-1' };
    const none = { ...longest(2), sha256: null };
    expect(accessSubject([a, a, none]).map((d) => d.name)).toEqual(['blob-1']);
    expect(accessSubject([none])).toEqual([{ name: 'access-none', digest: { sha256: tokenSha256('') } }]);
  });
});

function chainFields() {
  return {
    deviceId: 'store-0123456789abcdef',
    keyId: 'a'.repeat(64),
    seq: 2,
    prev: 'b'.repeat(64),
    bootId: 'b',
    monoNs: '1',
    wallNs: '1',
  };
}
