// The store's log as published C2SP tlog-tiles: a writer that lays tiles, entry bundles and the
// signed checkpoint into a directory any static server can serve, and an audit source that reads
// them back from a directory or over HTTP and computes proofs from the tiles alone.
import { createPublicKey } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { openNote, parseCheckpoint } from '../../agent/records/checkpoint.ts';
import type { MerkleTree } from '../../agent/records/merkle.ts';
import {
  encodeEntryBundle,
  encodeTile,
  entryBundlePath,
  TILE_WIDTH,
  tilePath,
  tilesChanged,
  treeFromTiles,
  type TileReader,
} from '../../agent/records/tlog-tiles.ts';
import { AuditFinding, type AuditSource } from '../log-audit.ts';

async function put(root: string, path: string, bytes: Uint8Array | string): Promise<void> {
  const file = join(root, path);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

/**
 * Writes the tiles and entry bundles that changed between `fromSize` and the tree's size, then the
 * signed checkpoint note last (a reader never sees a checkpoint whose tiles are not there yet).
 */
export async function publishTilesToDir(options: {
  dir: string;
  tree: MerkleTree;
  entries: readonly Uint8Array[];
  fromSize: number;
  checkpointNote: string;
}): Promise<void> {
  const { dir, tree, entries, fromSize } = options;
  for (const tile of tilesChanged(fromSize, tree.size)) {
    await put(dir, tilePath(tile.level, tile.index, tile.width), encodeTile(tree, tile));
    if (tile.level !== 0) continue;
    const lo = tile.index * TILE_WIDTH;
    await put(
      dir,
      entryBundlePath(tile.index, tile.width),
      encodeEntryBundle(entries.slice(lo, lo + tile.width)),
    );
  }
  await put(dir, 'checkpoint', options.checkpointNote);
}

/** Reads published files from a directory. */
export function dirTileReader(dir: string): TileReader {
  return async (path) => {
    try {
      return await readFile(join(dir, path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
}

/** Reads published files over HTTP from a base URL (404 is absent). */
export function httpTileReader(baseUrl: string): TileReader {
  const base = baseUrl.replace(/\/+$/, '');
  return async (path) => {
    const res = await fetch(`${base}/${path}`);
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  };
}

/** The tree from published tiles; a missing or malformed tile is a finding, not a crash. */
async function treeFromTilesOrFinding(read: TileReader, size: number): Promise<MerkleTree> {
  try {
    return await treeFromTiles(read, size);
  } catch (err) {
    if (err instanceof RangeError) throw new AuditFinding('tampered', err.message);
    throw err;
  }
}

/** An audit source over published tiles; the checkpoint must be signed by `publicKeyPem` as `origin`. */
export function tilesAuditSource(read: TileReader, origin: string, publicKeyPem: string): AuditSource {
  const key = createPublicKey(publicKeyPem);
  let size = -1;
  return {
    origin,
    publicKeyPem,
    async checkpoint() {
      const note = await read('checkpoint');
      const body =
        note === undefined
          ? undefined
          : openNote(Buffer.from(note).toString('utf8'), { name: origin, publicKey: key });
      const cp = body === undefined ? undefined : parseCheckpoint(body);
      if (cp === undefined || cp.origin !== origin)
        throw new AuditFinding('bad-signature', 'the published checkpoint is not signed by the store key');
      const tree = await treeFromTilesOrFinding(read, cp.size);
      if (!tree.root().equals(cp.root))
        throw new AuditFinding('tampered', `the tiles do not hash to the checkpoint root at ${cp.size}`);
      size = cp.size;
      return cp;
    },
    async consistency(first, second) {
      if (second !== size) throw new RangeError('consistency is proved up to the checkpoint just read');
      return (await treeFromTilesOrFinding(read, second)).consistencyProof(first, second);
    },
  };
}
