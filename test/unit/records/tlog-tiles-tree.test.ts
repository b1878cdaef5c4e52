import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MerkleTree } from '../../../agent/records/merkle.ts';
import { encodeTile, tilesForSize } from '../../../agent/records/tlog-tiles.ts';
import { TileTree } from '../../../agent/records/tlog-tiles-tree.ts';

const leaf = (i: number): Buffer => createHash('sha256').update(`leaf ${i}`).digest();

describe('TileTree', () => {
  it('gives the same root and tiles as the full Merkle tree, across tile levels', () => {
    const full = new MerkleTree();
    const tiles = new TileTree();
    const checkAt = new Set([0, 1, 2, 3, 255, 256, 257, 511, 512, 513, 1000, 65_535, 65_536, 65_537, 70_001]);
    for (let i = 0; i <= 70_001; i++) {
      if (checkAt.has(i)) {
        expect(tiles.size).toBe(i);
        expect(tiles.root().equals(full.root()), `root at ${i}`).toBe(true);
        for (const tile of tilesForSize(i).filter((t) => t.level > 0))
          expect(
            tiles.encodeTile(tile).equals(encodeTile(full, tile)),
            `tile ${tile.level}/${tile.index} at ${i}`,
          ).toBe(true);
      }
      full.append(leaf(i));
      tiles.append(leaf(i));
    }
  });

  it('refuses level-0 tiles and tiles beyond the tree', () => {
    const tiles = new TileTree();
    for (let i = 0; i < 300; i++) tiles.append(leaf(i));
    expect(() => tiles.encodeTile({ level: 0, index: 0, width: 256 })).toThrow(RangeError);
    expect(() => tiles.encodeTile({ level: 1, index: 0, width: 2 })).toThrow(RangeError);
    expect(tiles.encodeTile({ level: 1, index: 0, width: 1 })).toHaveLength(32);
  });
});
