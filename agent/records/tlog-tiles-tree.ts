// The RFC 6962 tree as a tile publisher needs it, in memory of about one hash per 256 leaves: the
// roots of complete 256-leaf subtrees (tile level 1), of complete 65536-leaf subtrees (level 2), …,
// plus the leaves of the last, incomplete level-0 tile. Level-0 tiles are written from the leaves as
// they are read; every higher tile and the root come from what is kept here.
import { emptyRoot, nodeHash } from './merkle.ts';
import { TILE_WIDTH, type TileRef } from './tlog-tiles.ts';

/** MTH of a power-of-two count of hashes that are roots of equal, aligned subtrees. */
function perfectRoot(hashes: readonly Buffer[]): Buffer {
  let level = [...hashes];
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(nodeHash(level[i] as Buffer, level[i + 1] as Buffer));
    level = next;
  }
  const [root] = level;
  if (root === undefined) throw new RangeError('no hashes');
  return root;
}

/** Tile-level hashes of a growing tree. */
export class TileTree {
  /** full[L] (L ≥ 1): roots of the complete 256^L-leaf subtrees, left to right. */
  readonly #full: Buffer[][] = [[]];
  /** Leaves after the last complete 256-leaf subtree. */
  #tail: Buffer[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Appends one leaf hash. */
  append(leaf: Uint8Array): void {
    if (leaf.length !== 32) throw new RangeError('a leaf hash is 32 bytes');
    this.#tail.push(Buffer.from(leaf));
    this.#size++;
    if (this.#tail.length < TILE_WIDTH) return;
    const root = perfectRoot(this.#tail);
    this.#tail = [];
    this.#push(1, root);
  }

  #push(level: number, hash: Buffer): void {
    const row = (this.#full[level] ??= []);
    row.push(hash);
    if (row.length % TILE_WIDTH === 0) this.#push(level + 1, perfectRoot(row.slice(-TILE_WIDTH)));
  }

  /** Bytes of one hash tile at level ≥ 1 of the current tree (level 0 is written from the leaves). */
  encodeTile(tile: TileRef): Buffer {
    if (tile.level < 1) throw new RangeError('level-0 tiles are the leaves themselves');
    const row = this.#full[tile.level] ?? [];
    const lo = tile.index * TILE_WIDTH;
    if (lo + tile.width > row.length)
      throw new RangeError(`tile ${tile.level}/${tile.index} beyond the tree`);
    return Buffer.concat(row.slice(lo, lo + tile.width));
  }

  /** The root of the whole current tree. */
  root(): Buffer {
    const parts: Buffer[] = [];
    let offset = 0;
    for (let k = 52; k >= 0; k--) {
      const span = 2 ** k;
      if (this.#size - offset < span) continue;
      parts.push(this.#subtree(offset, k));
      offset += span;
    }
    let root = parts.pop() ?? emptyRoot();
    while (parts.length > 0) root = nodeHash(parts.pop() as Buffer, root);
    return root;
  }

  /** Root of the complete subtree of 2^k leaves at `offset` (aligned, inside the tree). */
  #subtree(offset: number, k: number): Buffer {
    const level = Math.floor(k / 8);
    const count = 2 ** (k - 8 * level);
    const from = offset / TILE_WIDTH ** level;
    if (level === 0) {
      const lo = from - (this.#size - this.#tail.length);
      return perfectRoot(this.#tail.slice(lo, lo + count));
    }
    return perfectRoot((this.#full[level] ?? []).slice(from, from + count));
  }
}
