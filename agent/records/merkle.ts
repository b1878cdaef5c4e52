// RFC 6962 / RFC 9162 Merkle tree hashing over leaf hashes: tree heads, inclusion and consistency
// proofs and their verification. Pure (bytes in, bytes out) so the receiver's log and the agent's
// receipt check share one implementation that property tests can hammer.
import { createHash } from 'node:crypto';

/** SHA-256 of a log entry with the leaf prefix 0x00 (domain separation from interior nodes). */
export function leafHash(entry: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0)).update(entry).digest();
}

/** SHA-256 of two child hashes with the interior-node prefix 0x01. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(1)).update(left).update(right).digest();
}

/** Root of the empty tree: SHA-256 of the empty string. */
export function emptyRoot(): Buffer {
  return createHash('sha256').digest();
}

/** Largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** An append-only list of leaf hashes that caches every complete aligned subtree, so heads are O(log n). */
export class MerkleTree {
  readonly #leaves: Buffer[] = [];
  // Complete aligned subtrees never change once their last leaf exists, so caching them is safe.
  readonly #perfect = new Map<string, Buffer>();

  constructor(leaves: readonly Uint8Array[] = []) {
    for (const leaf of leaves) this.append(leaf);
  }

  get size(): number {
    return this.#leaves.length;
  }

  /** Appends one leaf hash and returns its index. */
  append(leaf: Uint8Array): number {
    if (leaf.length !== 32) throw new RangeError('a leaf hash is 32 bytes');
    this.#leaves.push(Buffer.from(leaf));
    return this.#leaves.length - 1;
  }

  /** Drops the leaves from `size` on, and every cached subtree that covers one of them. */
  truncate(size: number): void {
    if (size < 0 || size > this.#leaves.length) throw new RangeError(`cannot truncate to ${size}`);
    this.#leaves.length = size;
    for (const key of [...this.#perfect.keys()]) {
      const [lo, n] = key.split(':').map(Number);
      if ((lo ?? 0) + (n ?? 0) > size) this.#perfect.delete(key);
    }
  }

  /** The leaf hash at index. */
  leaf(index: number): Buffer {
    const leaf = this.#leaves[index];
    if (leaf === undefined) throw new RangeError(`leaf ${index} out of range`);
    return leaf;
  }

  /** Merkle tree hash MTH(D[lo:hi]). */
  subtree(lo: number, hi: number): Buffer {
    const n = hi - lo;
    if (n === 0) return emptyRoot();
    if (n === 1) return this.leaf(lo);
    const perfect = (n & (n - 1)) === 0 && hi <= this.#leaves.length;
    const key = `${lo}:${n}`;
    if (perfect) {
      const hit = this.#perfect.get(key);
      if (hit !== undefined) return hit;
    }
    const k = splitPoint(n);
    const h = nodeHash(this.subtree(lo, lo + k), this.subtree(lo + k, hi));
    if (perfect) this.#perfect.set(key, h);
    return h;
  }

  /** Tree head over the first `size` leaves. */
  root(size: number = this.size): Buffer {
    if (size > this.size || size < 0) throw new RangeError(`tree size ${size} beyond ${this.size} leaves`);
    return this.subtree(0, size);
  }

  /** Audit path PATH(index, D[0:size]). */
  inclusionProof(index: number, size: number): Buffer[] {
    if (index < 0 || index >= size || size > this.size)
      throw new RangeError(`no leaf ${index} in a tree of ${size}`);
    const path = (m: number, lo: number, hi: number): Buffer[] => {
      const n = hi - lo;
      if (n <= 1) return [];
      const k = splitPoint(n);
      return m < k
        ? [...path(m, lo, lo + k), this.subtree(lo + k, hi)]
        : [...path(m - k, lo + k, hi), this.subtree(lo, lo + k)];
    };
    return path(index, 0, size);
  }

  /** Consistency proof PROOF(first, D[0:second]). */
  consistencyProof(first: number, second: number): Buffer[] {
    if (first < 0 || first > second || second > this.size)
      throw new RangeError(`no consistency from ${first} to ${second}`);
    if (first === 0 || first === second) return [];
    const sub = (m: number, lo: number, hi: number, whole: boolean): Buffer[] => {
      const n = hi - lo;
      if (m === n) return whole ? [] : [this.subtree(lo, hi)];
      const k = splitPoint(n);
      return m <= k
        ? [...sub(m, lo, lo + k, whole), this.subtree(lo + k, hi)]
        : [...sub(m - k, lo + k, hi, false), this.subtree(lo, lo + k)];
    };
    return sub(first, 0, second, true);
  }
}

/** Tree head over the first `size` leaf hashes. */
export function treeRoot(leaves: readonly Uint8Array[], size: number = leaves.length): Buffer {
  return new MerkleTree(leaves.slice(0, size)).root(size);
}

/** Audit path proving leaf `index` is in the tree of `size` leaves. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number, size: number): Buffer[] {
  return new MerkleTree(leaves.slice(0, size)).inclusionProof(index, size);
}

/** Consistency proof that the tree of `first` leaves is a prefix of the tree of `second`. */
export function consistencyProof(leaves: readonly Uint8Array[], first: number, second: number): Buffer[] {
  return new MerkleTree(leaves.slice(0, second)).consistencyProof(first, second);
}

/** RFC 9162 §2.1.3.2: does `proof` place `leaf` (a leaf hash) at `index` in the tree with `root`? */
export function verifyInclusion(options: {
  leaf: Uint8Array;
  index: number;
  size: number;
  proof: readonly Uint8Array[];
  root: Uint8Array;
}): boolean {
  const { leaf, index, size, proof, root } = options;
  if (index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && Buffer.from(r).equals(Buffer.from(root));
}

/** RFC 9162 §2.1.4.2: does `proof` show the tree (firstSize, firstRoot) is a prefix of (secondSize, secondRoot)? */
export function verifyConsistency(options: {
  firstSize: number;
  firstRoot: Uint8Array;
  secondSize: number;
  secondRoot: Uint8Array;
  proof: readonly Uint8Array[];
}): boolean {
  const { firstSize, firstRoot, secondSize, secondRoot } = options;
  const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));
  if (firstSize < 0 || firstSize > secondSize) return false;
  if (firstSize === secondSize) return options.proof.length === 0 && same(firstRoot, secondRoot);
  // The empty tree is a prefix of every tree.
  if (firstSize === 0) return options.proof.length === 0;
  const proof = [...options.proof];
  if ((firstSize & (firstSize - 1)) === 0) proof.unshift(firstRoot);
  if (proof.length === 0) return false;
  let fn = firstSize - 1;
  let sn = secondSize - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Uint8Array = proof[0] as Uint8Array;
  let sr: Uint8Array = fr;
  for (const c of proof.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return same(fr, firstRoot) && same(sr, secondRoot) && sn === 0;
}
