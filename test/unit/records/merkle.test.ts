import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  nodeHash,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
} from '../../../agent/records/merkle.ts';
import { formatCheckpoint, openNote, parseCheckpoint, signNote } from '../../../agent/records/checkpoint.ts';

const leavesOf = (n: number): Buffer[] =>
  Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`entry-${i}`)));

describe('Merkle tree (RFC 6962)', () => {
  it('matches the RFC 6962 definition for small trees', () => {
    const l = leavesOf(3);
    expect(treeRoot(l).equals(nodeHash(nodeHash(l[0]!, l[1]!), l[2]!))).toBe(true);
    expect(treeRoot([]).toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('inclusion proofs verify for every leaf and fail for a wrong leaf', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.nat(), (size, pick) => {
        const l = leavesOf(size);
        const index = pick % size;
        const root = treeRoot(l);
        const proof = inclusionProof(l, index, size);
        expect(verifyInclusion({ leaf: l[index]!, index, size, proof, root })).toBe(true);
        expect(verifyInclusion({ leaf: leafHash(Buffer.from('x')), index, size, proof, root })).toBe(false);
      }),
    );
  });

  it('consistency proofs verify between any two sizes and fail against a rewritten history', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 0, max: 70 }),
        fc.nat(),
        (second, extra, tamper) => {
          const l = leavesOf(second + extra);
          const first = Math.max(1, second - (tamper % second));
          const proof = consistencyProof(l, first, second);
          const ok = verifyConsistency({
            firstSize: first,
            firstRoot: treeRoot(l, first),
            secondSize: second,
            secondRoot: treeRoot(l, second),
            proof,
          });
          expect(ok).toBe(true);
          if (first < second) {
            const forked = [...l];
            forked[tamper % first] = leafHash(Buffer.from('forged'));
            const bad = verifyConsistency({
              firstSize: first,
              firstRoot: treeRoot(forked, first),
              secondSize: second,
              secondRoot: treeRoot(l, second),
              proof,
            });
            expect(bad).toBe(false);
          }
        },
      ),
    );
  });

  it('refuses a shrinking log', () => {
    const l = leavesOf(8);
    expect(
      verifyConsistency({
        firstSize: 8,
        firstRoot: treeRoot(l),
        secondSize: 5,
        secondRoot: treeRoot(l, 5),
        proof: [],
      }),
    ).toBe(false);
  });
});

describe('checkpoint signed note (C2SP)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  it('round-trips and rejects a changed body or another key', () => {
    const body = formatCheckpoint({ origin: 'rigcap.store/test', size: 3, root: treeRoot(leavesOf(3)) });
    const note = signNote(body, { name: 'rigcap.store/test', privateKey });
    expect(note).toMatch(
      /^rigcap\.store\/test\n3\n[A-Za-z0-9+/]{43}=\n\n\u2014 rigcap\.store\/test [A-Za-z0-9+/=]+\n$/,
    );
    expect(openNote(note, { name: 'rigcap.store/test', publicKey })).toBe(body);
    expect(parseCheckpoint(body)?.size).toBe(3);
    expect(
      openNote(note.replace('\n3\n', '\n4\n'), { name: 'rigcap.store/test', publicKey }),
    ).toBeUndefined();
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(openNote(note, { name: 'rigcap.store/test', publicKey: other })).toBeUndefined();
  });
});
