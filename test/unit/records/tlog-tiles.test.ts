import { describe, expect, it } from 'vitest';
import { MerkleTree, leafHash, verifyInclusion, verifyConsistency } from '../../../agent/records/merkle.js';
import {
  decodeEntryBundle,
  decodeTile,
  encodeEntryBundle,
  encodeTile,
  entryBundlePath,
  tilePath,
  tilesChanged,
  tilesForSize,
  treeFromTiles,
} from '../../../agent/records/tlog-tiles.js';

function treeOf(n: number): { tree: MerkleTree; entries: Buffer[] } {
  const entries = Array.from({ length: n }, (_, i) => Buffer.from(`entry ${i}`));
  return { tree: new MerkleTree(entries.map((e) => leafHash(e))), entries };
}

function publish(tree: MerkleTree): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const t of tilesForSize(tree.size))
    files.set(tilePath(t.level, t.index, t.width), encodeTile(tree, t));
  return files;
}

describe('tlog-tiles paths', () => {
  it('follows the C2SP examples', () => {
    expect(tilePath(0, 1234067)).toBe('tile/0/x001/x234/067');
    expect(tilePath(1, 0, 5)).toBe('tile/1/000.p/5');
    expect(tilePath(0, 1000)).toBe('tile/0/x001/000');
    expect(entryBundlePath(1234067, 8)).toBe('tile/entries/x001/x234/067.p/8');
  });

  it('lists full and partial tiles at every level', () => {
    expect(tilesForSize(0)).toEqual([]);
    expect(tilesForSize(70000)).toEqual([
      ...Array.from({ length: 273 }, (_, i) => ({ level: 0, index: i, width: 256 })),
      { level: 0, index: 273, width: 112 },
      { level: 1, index: 0, width: 256 },
      { level: 1, index: 1, width: 17 },
      { level: 2, index: 0, width: 1 },
    ]);
    expect(tilesChanged(256, 257)).toEqual([{ level: 0, index: 1, width: 1 }]);
  });
});

describe('tlog-tiles encoding', () => {
  it('level-1 hashes are the roots of 256-leaf subtrees', () => {
    const { tree } = treeOf(600);
    const files = publish(tree);
    const l1 = decodeTile(files.get('tile/1/000.p/2') ?? Buffer.alloc(0), 2);
    expect(l1?.[0]?.equals(tree.subtree(0, 256))).toBe(true);
    expect(l1?.[1]?.equals(tree.subtree(256, 512))).toBe(true);
    const l0 = files.get('tile/0/002.p/88');
    expect(l0?.subarray(0, 32).equals(leafHash(Buffer.from('entry 512')))).toBe(true);
  });

  it('entry bundles are uint16-length-prefixed and round-trip', () => {
    const bundle = encodeEntryBundle([Buffer.from('ab'), Buffer.alloc(0), Buffer.from('xyz')]);
    expect(bundle.toString('hex')).toBe('00026162' + '0000' + '000378797a');
    expect(decodeEntryBundle(bundle)?.map((b) => b.toString())).toEqual(['ab', '', 'xyz']);
    expect(decodeEntryBundle(bundle.subarray(0, 5))).toBeUndefined();
  });
});

describe('proofs from tiles', () => {
  it('rebuilds the root and proves inclusion and consistency from tiles alone', async () => {
    const { tree } = treeOf(700);
    const files = publish(tree);
    const rebuilt = await treeFromTiles(async (p) => files.get(p), 700);
    expect(rebuilt.root().equals(tree.root())).toBe(true);
    const proof = rebuilt.inclusionProof(333, 700);
    expect(
      verifyInclusion({
        leaf: leafHash(Buffer.from('entry 333')),
        index: 333,
        size: 700,
        proof,
        root: tree.root(),
      }),
    ).toBe(true);
    const cons = rebuilt.consistencyProof(300, 700);
    expect(
      verifyConsistency({
        firstSize: 300,
        secondSize: 700,
        firstRoot: tree.root(300),
        secondRoot: tree.root(),
        proof: cons,
      }),
    ).toBe(true);
  });

  it('a rewritten tile yields a root that no longer matches (fork), a missing tile throws', async () => {
    const { tree } = treeOf(300);
    const files = publish(tree);
    const forked = Buffer.from(files.get('tile/0/000') ?? Buffer.alloc(0));
    forked[0] = (forked[0] ?? 0) ^ 1;
    files.set('tile/0/000', forked);
    const rebuilt = await treeFromTiles(async (p) => files.get(p), 300);
    expect(rebuilt.root().equals(tree.root())).toBe(false);
    files.delete('tile/0/001.p/44');
    await expect(treeFromTiles(async (p) => files.get(p), 300)).rejects.toThrow(/001\.p\/44/);
  });
});
