// C2SP tlog-tiles (https://c2sp.org/tlog-tiles): the store's RFC 6962 tree cut into tiles of 256
// hashes, plus entry bundles, so any static server can publish the log. Pure: leaf hashes and entry
// bytes in, paths and tile bytes out; and back again, so an auditor rebuilds roots and proofs.
import { MerkleTree } from './merkle.ts';

/** Hashes (or entries) in one full tile. */
export const TILE_WIDTH = 256;

/** `x001/x234/067` for 1234067: the index zero-padded to a multiple of three digits in groups. */
export function tileIndexPath(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`bad tile index ${index}`);
  let digits = String(index);
  while (digits.length % 3 !== 0) digits = `0${digits}`;
  const groups = digits.match(/.{3}/g) ?? [];
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

/** `tile/<L>/<N>[.p/<W>]`; width below 256 names a partial tile. */
export function tilePath(level: number, index: number, width: number = TILE_WIDTH): string {
  if (!Number.isInteger(level) || level < 0 || level > 63) throw new RangeError(`bad tile level ${level}`);
  return `tile/${level}/${tileIndexPath(index)}${partialSuffix(width)}`;
}

/** `tile/entries/<N>[.p/<W>]`. */
export function entryBundlePath(index: number, width: number = TILE_WIDTH): string {
  return `tile/entries/${tileIndexPath(index)}${partialSuffix(width)}`;
}

function partialSuffix(width: number): string {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH)
    throw new RangeError(`bad tile width ${width}`);
  return width === TILE_WIDTH ? '' : `.p/${width}`;
}

/** One tile (hash tile or entry bundle) of a tree of some size. */
export interface TileRef {
  readonly level: number;
  readonly index: number;
  readonly width: number;
}

/** Hash count at tile level `level` (nodes at tree height 8·level) of a tree of `size` leaves. */
function nodesAtLevel(size: number, level: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/** Every hash tile of a tree of `size` leaves, lowest level first. */
export function tilesForSize(size: number): TileRef[] {
  const tiles: TileRef[] = [];
  for (let level = 0; nodesAtLevel(size, level) > 0; level++) {
    const nodes = nodesAtLevel(size, level);
    for (let index = 0; index * TILE_WIDTH < nodes; index++)
      tiles.push({ level, index, width: Math.min(TILE_WIDTH, nodes - index * TILE_WIDTH) });
  }
  return tiles;
}

/** The tiles that change when the tree grows from `from` to `to` leaves (new or wider). */
export function tilesChanged(from: number, to: number): TileRef[] {
  const before = new Set(tilesForSize(from).map((t) => `${t.level}/${t.index}/${t.width}`));
  return tilesForSize(to).filter((t) => !before.has(`${t.level}/${t.index}/${t.width}`));
}

/** Bytes of one hash tile: its `width` 32-byte hashes concatenated. */
export function encodeTile(tree: MerkleTree, tile: TileRef): Buffer {
  const span = TILE_WIDTH ** tile.level;
  const hashes: Buffer[] = [];
  for (let i = 0; i < tile.width; i++) {
    const lo = (tile.index * TILE_WIDTH + i) * span;
    hashes.push(tree.subtree(lo, lo + span));
  }
  return Buffer.concat(hashes);
}

/** Splits a hash tile's bytes into its hashes; undefined when the length is not `width`·32. */
export function decodeTile(bytes: Uint8Array, width: number): Buffer[] | undefined {
  if (bytes.length !== width * 32) return undefined;
  const out: Buffer[] = [];
  for (let i = 0; i < width; i++) out.push(Buffer.from(bytes.subarray(i * 32, i * 32 + 32)));
  return out;
}

/** Entry bundle bytes: each entry as a big-endian uint16 length then its bytes. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (entry.length > 0xffff) throw new RangeError('a tlog-tiles entry is at most 65535 bytes');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(entry.length);
    parts.push(len, Buffer.from(entry));
  }
  return Buffer.concat(parts);
}

/** Entries of a bundle; undefined when the bytes are truncated. */
export function decodeEntryBundle(bytes: Uint8Array): Buffer[] | undefined {
  const buf = Buffer.from(bytes);
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 2 > buf.length) return undefined;
    const len = buf.readUInt16BE(at);
    if (at + 2 + len > buf.length) return undefined;
    out.push(buf.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  return out;
}

/** Reads one tile's bytes by path (a file, an object, an HTTP GET); undefined when absent. */
export type TileReader = (path: string) => Promise<Uint8Array | undefined>;

/**
 * Rebuilds the tree of `size` leaves from its level-0 tiles, so roots, inclusion and consistency
 * proofs come from published tiles alone. Throws a RangeError naming the tile that is missing or
 * malformed.
 */
export async function treeFromTiles(read: TileReader, size: number): Promise<MerkleTree> {
  const tree = new MerkleTree();
  for (const tile of tilesForSize(size).filter((t) => t.level === 0)) {
    const path = tilePath(0, tile.index, tile.width);
    const bytes = await read(path);
    const hashes = bytes === undefined ? undefined : decodeTile(bytes, tile.width);
    if (hashes === undefined) throw new RangeError(`tile ${path} missing or malformed`);
    for (const h of hashes) tree.append(h);
  }
  return tree;
}
