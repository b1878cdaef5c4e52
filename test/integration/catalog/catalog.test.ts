import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFile, mkdtemp, rm, unlink, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../../../agent/catalog/catalog.ts';
import { reconcile } from '../../../agent/catalog/reconcile.ts';
import { ChunkWriter } from '../../../agent/pipeline/chunk-writer.ts';
import type { CommittedChunk } from '../../../agent/pipeline/chunk-types.ts';
import { isRigcapError } from '../../../agent/errors.ts';
import { silentLogger } from '../../../agent/log.ts';
import { chunking, sample, streams } from '../pipeline/helpers.ts';

let spool: string;
let catalog: Catalog;

beforeEach(async () => {
  spool = await mkdtemp(join(tmpdir(), 'rigcap-cat-'));
  catalog = Catalog.open({ path: join(spool, 'catalog.db'), logger: silentLogger() });
});
afterEach(async () => {
  catalog.close();
  await rm(spool, { recursive: true, force: true });
});

async function writeChunks(sessionId: string, count: number): Promise<CommittedChunk[]> {
  const commits: CommittedChunk[] = [];
  const w = new ChunkWriter({
    spoolDir: spool,
    sessionId,
    chunking: chunking(),
    logger: silentLogger(),
    onCommit: (c) => void commits.push(c),
  });
  for (const s of streams) w.addStream(s);
  for (let i = 0; i < count; i++) {
    await w.write(sample(streams[0]!, i, BigInt(i + 1) * 1_000_000n));
    await w.rotate('test');
  }
  await w.close();
  return commits;
}

describe('Catalog', () => {
  it('migrates to the latest version and reopens without re-running migrations', () => {
    expect(catalog.schemaVersion).toBe(3);
    catalog.syncLedger().setMeta('store.publicKeyPem', 'pem-1');
    catalog.close();
    catalog = Catalog.open({ path: join(spool, 'catalog.db'), logger: silentLogger() });
    expect(catalog.schemaVersion).toBe(3);
    expect(catalog.syncLedger().meta('store.publicKeyPem')).toBe('pem-1');
  });

  it('reports a database that is not SQLite as RIGCAP_CATALOG_CORRUPT', async () => {
    await writeFile(join(spool, 'bad.db'), 'this is not a database at all, not even close'.repeat(100));
    try {
      Catalog.open({ path: join(spool, 'bad.db'), logger: silentLogger() });
      expect.unreachable();
    } catch (err) {
      expect(isRigcapError(err, 'RIGCAP_CATALOG_CORRUPT')).toBe(true);
    }
  });

  it('keeps sessions and chunk state: sealed, synced only by a receipt, deleted only once synced', async () => {
    const [chunk] = await writeChunks('s1', 1);
    const path = 'sessions/s1/chunk-000001.mcap';
    catalog.openSession({ id: 's1', rigId: 'rig', startedNs: 5n * 10n ** 18n });
    catalog.addChunk(chunk!, { relativePath: path, origin: 'writer', drops: { imu: { queue_full: 2 } } });
    catalog.addChunk(chunk!, { relativePath: path, origin: 'writer' });
    const ledger = catalog.syncLedger();
    expect(() => ledger.markChunkDeleted(path)).toThrow(/not synced/);
    catalog.markChunkSealed('s1', 1, 7);
    expect(
      ledger.add({
        signerId: 'dev',
        seq: 7,
        predicate: 'capture-chunk',
        recordPath: 'records/dev/000000000007.dsse.json',
        blobPath: path,
        blobSha256: chunk!.sha256,
        blobBytes: chunk!.bytes,
        priority: 1,
      }),
    ).toBe(true);
    expect(ledger.isChunkSynced(path)).toBe(false);
    ledger.saveProgress('dev', 7, { uploadUrl: 'http://x/1', offset: 100 });
    expect(ledger.backlog()).toMatchObject({ records: 1, chunks: 1, bytes: chunk!.bytes - 100 });
    ledger.synced('dev', 7, { receiptJson: '{}', logIndex: 3, nowMs: 9 });
    expect(catalog.getChunk('s1', 1)?.state).toBe('synced');
    expect(ledger.isChunkSynced(path)).toBe(true);
    expect(ledger.lastReceipt()).toEqual({ signerId: 'dev', seq: 7, logIndex: 3, syncedMs: 9 });
    expect(ledger.backlog()).toMatchObject({ records: 0, chunks: 0, bytes: 0 });
    ledger.markChunkDeleted(path);
    const row = catalog.getChunk('s1', 1)!;
    expect(row).toMatchObject({
      state: 'deleted',
      recordSeq: 7,
      sha256: chunk!.sha256,
      drops: { imu: { queue_full: 2 } },
      origin: 'writer',
    });
    expect(row.streams.find((s) => s.stream === 'imu')?.count).toBe(1);
    catalog.endSession('s1', 6n * 10n ** 18n);
    expect(catalog.getSession('s1')).toMatchObject({
      state: 'closed',
      startedNs: 5n * 10n ** 18n,
      endedNs: 6n * 10n ** 18n,
    });
  });

  it('a chunk row rebuilt after its receipt arrived starts out synced', async () => {
    const [chunk] = await writeChunks('s3', 1);
    const path = 'sessions/s3/chunk-000001.mcap';
    const ledger = catalog.syncLedger();
    ledger.add({
      signerId: 'dev',
      seq: 2,
      predicate: 'capture-chunk',
      recordPath: 'records/dev/000000000002.dsse.json',
      blobPath: path,
      blobSha256: chunk!.sha256,
      blobBytes: chunk!.bytes,
      priority: 1,
    });
    ledger.synced('dev', 2, { receiptJson: '{}', logIndex: 0, nowMs: 1 });
    catalog.addChunk(chunk!, { relativePath: path, origin: 'reconcile' });
    expect(catalog.getChunk('s3', 1)?.state).toBe('synced');
  });

  it('reconcile adds committed chunks missing from the catalog and flags vanished or changed files', async () => {
    const chunks = await writeChunks('s2', 4);
    catalog.addChunk(chunks[0]!, { relativePath: 'sessions/s2/chunk-000001.mcap', origin: 'writer' });
    catalog.addChunk(chunks[1]!, { relativePath: 'sessions/s2/chunk-000002.mcap', origin: 'writer' });
    catalog.addChunk(chunks[2]!, { relativePath: 'sessions/s2/chunk-000003.mcap', origin: 'writer' });
    await unlink(chunks[0]!.path);
    await appendFile(chunks[1]!.path, 'x');
    const bytes = await readFile(chunks[2]!.path);
    bytes[bytes.length - 40] = (bytes[bytes.length - 40] ?? 0) ^ 0xff;
    await writeFile(chunks[2]!.path, bytes);

    const bySize = await reconcile(catalog, {
      spoolDir: spool,
      logger: silentLogger(),
      rigId: 'rig',
      verify: 'size',
    });
    expect(bySize.added.map((c) => c.chunkIndex)).toEqual([4]);
    expect(bySize.added[0]).toMatchObject({
      sha256: chunks[3]!.sha256,
      bytes: chunks[3]!.bytes,
      messages: chunks[3]!.messages,
    });
    expect(bySize.flagged).toEqual([
      { sessionId: 's2', chunkIndex: 1, flag: 'missing' },
      { sessionId: 's2', chunkIndex: 2, flag: 'size_mismatch' },
    ]);
    expect(catalog.getSession('s2')?.state).toBe('recovered');
    expect(catalog.getChunk('s2', 4)?.origin).toBe('reconcile');

    const byHash = await reconcile(catalog, {
      spoolDir: spool,
      logger: silentLogger(),
      rigId: 'rig',
      verify: 'sha256',
    });
    expect(byHash.added).toEqual([]);
    expect(byHash.flagged).toEqual([{ sessionId: 's2', chunkIndex: 3, flag: 'sha_mismatch' }]);
    expect(catalog.getChunk('s2', 3)?.flag).toBe('sha_mismatch');
    expect(byHash.checked).toBe(4);
  });
});
