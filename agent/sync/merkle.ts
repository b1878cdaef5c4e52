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

function leafAt(leaves: readonly Uint8Array[], i: number): Uint8Array {
  const leaf = leaves[i];
  if (leaf === undefined) throw new RangeError(`leaf ${i} out of range`);
  return leaf;
}

/** Merkle tree hash MTH(D[lo:hi]) over already-hashed leaves. */
export function subtreeRoot(leaves: readonly Uint8Array[], lo: number, hi: number): Buffer {
  const n = hi - lo;
  if (n === 0) return emptyRoot();
  if (n === 1) return Buffer.from(leafAt(leaves, lo));
  const k = splitPoint(n);
  return nodeHash(subtreeRoot(leaves, lo, lo + k), subtreeRoot(leaves, lo + k, hi));
}

/** Tree head over the first `size` leaves. */
export function treeRoot(leaves: readonly Uint8Array[], size: number = leaves.length): Buffer {
  if (size > leaves.length || size < 0) throw new RangeError(`tree size ${size} beyond ${leaves.length} leaves`);
  return subtreeRoot(leaves, 0, size);
}

/** Audit path PATH(index, D[0:size]) proving leaf `index` is in the tree of `size` leaves. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number, size: number): Buffer[] {
  if (index < 0 || index >= size || size > leaves.length) throw new RangeError(`no leaf ${index} in a tree of ${size}`);
  const path = (m: number, lo: number, hi: number): Buffer[] => {
    const n = hi - lo;
    if (n <= 1) return [];
    const k = splitPoint(n);
    return m < k
      ? [...path(m, lo, lo + k), subtreeRoot(leaves, lo + k, hi)]
      : [...path(m - k, lo + k, hi), subtreeRoot(leaves, lo, lo + k)];
  };
  return path(index, 0, size);
}

/** Consistency proof PROOF(first, D[0:second]) that the tree of `first` leaves is a prefix of `second`. */
export function consistencyProof(leaves: readonly Uint8Array[], first: number, second: number): Buffer[] {
  if (first < 0 || first > second || second > leaves.length) throw new RangeError(`no consistency from ${first} to ${second}`);
  if (first === 0 || first === second) return [];
  const sub = (m: number, lo: number, hi: number, whole: boolean): Buffer[] => {
    const n = hi - lo;
    if (m === n) return whole ? [] : [subtreeRoot(leaves, lo, hi)];
    const k = splitPoint(n);
    return m <= k
      ? [...sub(m, lo, lo + k, whole), subtreeRoot(leaves, lo + k, hi)]
      : [...sub(m - k, lo + k, hi, false), subtreeRoot(leaves, lo, lo + k)];
  };
  return sub(first, 0, second, true);
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
