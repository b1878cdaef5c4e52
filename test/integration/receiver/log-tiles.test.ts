import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatCheckpoint, signNote } from '../../../agent/records/checkpoint.js';
import { MerkleTree, leafHash, verifyInclusion } from '../../../agent/records/merkle.js';
import { treeFromTiles } from '../../../agent/records/tlog-tiles.js';
import { auditLog, type AuditState } from '../../../receiver/log-audit.js';
import {
  dirTileReader,
  httpTileReader,
  publishTilesToDir,
  tilesAuditSource,
} from '../../../receiver/log-tiles/tiles-source.js';
import { runCli } from '../../support/cli.ts';

const origin = 'rigcap.store/test-store';
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();

function entriesOf(n: number, tag = 'e'): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.from(`${tag} ${i}`));
}

async function publish(dir: string, entries: Buffer[], fromSize: number): Promise<MerkleTree> {
  const tree = new MerkleTree(entries.map((e) => leafHash(e)));
  const note = signNote(formatCheckpoint({ origin, size: tree.size, root: tree.root() }), {
    name: origin,
    privateKey,
  });
  await publishTilesToDir({ dir, tree, entries, fromSize, checkpointNote: note });
  return tree;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rigcap-tiles-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('log audit over published tiles', () => {
  it('accepts growth and finds a fork and a shrink in a directory', async () => {
    const source = tilesAuditSource(dirTileReader(dir), origin, pem);
    await publish(dir, entriesOf(300), 0);
    const first = await auditLog(source, undefined);
    expect(first.report.ok).toBe(true);
    await publish(dir, entriesOf(600), 300);
    const grown = await auditLog(source, first.next);
    expect(grown.report).toMatchObject({ ok: true, size: 600, previous: { size: 300 } });
    const seen = grown.next as AuditState;

    await publish(dir, [...entriesOf(200), ...entriesOf(500, 'forked')], 0);
    expect((await auditLog(source, seen)).report).toMatchObject({ ok: false, problem: 'fork' });

    await rm(dir, { recursive: true, force: true });
    await publish(dir, entriesOf(400), 0);
    expect((await auditLog(source, seen)).report).toMatchObject({ ok: false, problem: 'shrink' });
  });

  it('refuses tiles that do not hash to the signed checkpoint', async () => {
    await publish(dir, entriesOf(300, 'other'), 0);
    const otherCheckpoint = await readFile(join(dir, 'checkpoint'), 'utf8');
    await publish(dir, entriesOf(300), 0);
    await writeFile(join(dir, 'checkpoint'), otherCheckpoint);
    const source = tilesAuditSource(dirTileReader(dir), origin, pem);
    const { report, next } = await auditLog(source, undefined);
    expect(report).toMatchObject({ ok: false, problem: 'tampered' });
    expect(report.reason).toMatch(/do not hash to the checkpoint root/);
    expect(next).toBeUndefined();
  });

  it('rigcap log audit --tiles exits 0 on growth and 1 on a fork, keeping state in a file', async () => {
    const keyFile = join(dir, 'store.pub.pem');
    const state = join(dir, 'audit-state.json');
    const tiles = join(dir, 'published');
    await writeFile(keyFile, pem);
    await publish(tiles, entriesOf(10), 0);
    const audit = (): ReturnType<typeof runCli> =>
      runCli(['log', 'audit', '--tiles', '--key', keyFile, tiles, '--state', state, '--json']);
    expect((await audit()).code).toBe(0);
    await publish(tiles, entriesOf(20), 10);
    expect((await audit()).code).toBe(0);
    await publish(tiles, entriesOf(30, 'forked'), 0);
    const forked = await audit();
    expect(forked.code).toBe(1);
    expect(forked.stdout).toContain('fork');
  });

  describe('over HTTP', () => {
    let server: Server;
    afterEach(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it('audits and proves a receipt entry from tiles served by a static server', async () => {
      const read = dirTileReader(dir);
      server = createServer((req, res) => {
        void read((req.url ?? '/').slice(1)).then((bytes) => {
          res.statusCode = bytes === undefined ? 404 : 200;
          res.end(bytes);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const entries = entriesOf(520);
      const tree = await publish(dir, entries, 0);
      const { report } = await auditLog(tilesAuditSource(httpTileReader(url), origin, pem), undefined);
      expect(report).toMatchObject({ ok: true, size: 520 });

      const fromTiles = await treeFromTiles(httpTileReader(url), 520);
      const proof = fromTiles.inclusionProof(517, 520);
      expect(proof).toEqual(tree.inclusionProof(517, 520));
      const leaf = leafHash(entries[517] ?? Buffer.alloc(0));
      expect(verifyInclusion({ leaf, index: 517, size: 520, proof, root: tree.root() })).toBe(true);
    });
  });
});
