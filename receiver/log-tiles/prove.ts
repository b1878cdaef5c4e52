// Proves from published tiles alone that an entry (a record's exact bytes, as a device keeps them in
// its spool) is in the store's log: the checkpoint is signed by the store key, the tiles hash to its
// root, the entry bundle holds those bytes at the index, and the inclusion proof computed from the
// tiles verifies. Offline and years later, given the tiles and the store's public key.
import { leafHash, verifyInclusion } from '../../agent/records/merkle.ts';
import {
  decodeEntryBundle,
  entryBundlePath,
  TILE_WIDTH,
  treeFromTiles,
  type TileReader,
} from '../../agent/records/tlog-tiles.ts';
import { AuditFinding } from '../log-audit.ts';
import { tilesAuditSource } from './tiles-source.ts';

/** The result of one proof. */
export interface InclusionReport {
  ok: boolean;
  origin: string;
  /** Index of the entry in the log (-1 when not found). */
  index: number;
  /** Size and base64 root of the checkpoint it was proved in. */
  size: number;
  root: string;
  /** Inclusion proof, base64 hashes. */
  proof: string[];
  problem?: string;
  reason?: string;
}

/** Entries of the bundle holding `index` in a tree of `size`. */
async function bundleOf(read: TileReader, index: number, size: number): Promise<Buffer[]> {
  const tile = Math.floor(index / TILE_WIDTH);
  const width = Math.min(TILE_WIDTH, size - tile * TILE_WIDTH);
  const path = entryBundlePath(tile, width);
  const bytes = await read(path);
  const entries = bytes === undefined ? undefined : decodeEntryBundle(bytes);
  if (entries?.length !== width)
    throw new AuditFinding('tampered', `entry bundle ${path} missing or malformed`);
  return entries;
}

/** The first index of `entry` in the log, scanning every bundle; -1 when absent. */
async function findEntry(read: TileReader, entry: Buffer, size: number): Promise<number> {
  for (let lo = 0; lo < size; lo += TILE_WIDTH) {
    const at = (await bundleOf(read, lo, size)).findIndex((e) => e.equals(entry));
    if (at >= 0) return lo + at;
  }
  return -1;
}

/** Proves `entry` is at `index` (or anywhere, when no index is given) in the published log. */
export async function proveEntryFromTiles(
  read: TileReader,
  options: { origin: string; publicKeyPem: string; entry: Uint8Array; index?: number },
): Promise<InclusionReport> {
  const entry = Buffer.from(options.entry);
  const base = {
    ok: false,
    origin: options.origin,
    index: options.index ?? -1,
    size: 0,
    root: '',
    proof: [],
  };
  try {
    const source = tilesAuditSource(read, options.origin, options.publicKeyPem);
    const cp = await source.checkpoint();
    const at = { ...base, size: cp.size, root: cp.root.toString('base64') };
    const index = options.index ?? (await findEntry(read, entry, cp.size));
    if (index < 0 || index >= cp.size)
      return {
        ...at,
        index,
        problem: 'not-found',
        reason: `the entry is not in the log of ${cp.size} entries`,
      };
    const held = (await bundleOf(read, index, cp.size))[index % TILE_WIDTH];
    if (held === undefined || !held.equals(entry))
      return { ...at, index, problem: 'not-found', reason: `entry ${index} of the log holds other bytes` };
    const proof = (await treeFromTiles(read, cp.size)).inclusionProof(index, cp.size);
    const ok = verifyInclusion({ leaf: leafHash(entry), index, size: cp.size, proof, root: cp.root });
    return {
      ...at,
      ok,
      index,
      proof: proof.map((h) => h.toString('base64')),
      ...(ok ? {} : { problem: 'tampered', reason: 'the inclusion proof does not verify' }),
    };
  } catch (err) {
    if (!(err instanceof AuditFinding)) throw err;
    return { ...base, problem: err.problem, reason: err.message };
  }
}
