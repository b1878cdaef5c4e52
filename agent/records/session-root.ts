// A session's root: the RFC 6962 Merkle tree hash over its chunk digests, in chunkIndex order.
// leaf = SHA-256(0x00 || raw 32-byte chunk digest); node = SHA-256(0x01 || left || right), split at
// the largest power of two below n; the empty session's root is SHA-256("").
import { createHash } from 'node:crypto';

function leaf(digest: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0)).update(digest).digest();
}

function node(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(1)).update(left).update(right).digest();
}

function mth(leaves: readonly Buffer[], lo: number, hi: number): Buffer {
  const n = hi - lo;
  if (n === 1) return leaves[lo] as Buffer;
  let k = 1;
  while (k * 2 < n) k *= 2;
  return node(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

/** Hex root over hex SHA-256 chunk digests (chunkIndex order). */
export function sessionRoot(chunkDigestsHex: readonly string[]): string {
  if (chunkDigestsHex.length === 0) return createHash('sha256').digest('hex');
  const leaves = chunkDigestsHex.map((d) => {
    if (!/^[0-9a-f]{64}$/.test(d)) throw new TypeError(`not a sha256 hex digest: ${d}`);
    return leaf(Buffer.from(d, 'hex'));
  });
  return mth(leaves, 0, leaves.length).toString('hex');
}
