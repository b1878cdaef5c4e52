import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, symlink, unlink } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Catalog } from '../../../agent/catalog/catalog.ts';
import { migrations } from '../../../agent/catalog/migrations.ts';
import { reconcile } from '../../../agent/catalog/reconcile.ts';
import { ChunkWriter } from '../../../agent/pipeline/chunk-writer.ts';
import type { CommittedChunk } from '../../../agent/pipeline/chunk-types.ts';
import { silentLogger } from '../../../agent/log.ts';
import { spoolSnapshot } from '../../../agent/cli/status.ts';
import { RetentionSweeper } from '../../../agent/sync/retention.ts';
import { chunking, sample, streams } from '../pipeline/helpers.ts';

let spool: string;
const catalogPath = (): string => join(spool, 'catalog.sqlite');
const relative = (c: CommittedChunk): string => `sessions/${c.sessionId}/${c.name}`;

beforeEach(async () => {
  spool = await mkdtemp(join(tmpdir(), 'rigcap-syncstate-'));
});
afterEach(async () => {
  await rm(spool, { recursive: true, force: true });
});

/** Chunks ending in 1970: older than any retention period. */
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

function reconcileSpool(catalog: Catalog): ReturnType<typeof reconcile> {
  return reconcile(catalog, { spoolDir: spool, logger: silentLogger(), rigId: 'rig', verify: 'size' });
}

describe('chunk state has one owner: the catalog', () => {
  it('a restart after retention marks nothing missing: deleted chunks stay deleted', async () => {
    const chunks = await writeChunks('s1', 3);
    let catalog = Catalog.open({ path: catalogPath(), logger: silentLogger() });
    catalog.openSession({ id: 's1', rigId: 'rig', startedNs: 1n });
    const ledger = catalog.syncLedger();
    for (const [i, c] of chunks.entries()) {
      catalog.addChunk(c, { relativePath: relative(c), origin: 'writer' });
      catalog.markChunkSealed('s1', c.chunkIndex, i + 1);
      ledger.add({
        signerId: 'dev',
        seq: i + 1,
        predicate: 'capture-chunk',
        recordPath: `records/dev/${String(i + 1).padStart(12, '0')}.dsse.json`,
        blobPath: relative(c),
        blobSha256: c.sha256,
        blobBytes: c.bytes,
        priority: 1,
      });
    }
    // Receipts for the first two; the third is still unsynced.
    ledger.synced('dev', 1, { receiptJson: '{"r":1}', logIndex: 0, nowMs: 1 });
    ledger.synced('dev', 2, { receiptJson: '{"r":2}', logIndex: 1, nowMs: 2 });

    const signed: string[] = [];
    const sweeper = new RetentionSweeper({
      ledger,
      spoolDir: spool,
      retentionDays: 30,
      log: silentLogger(),
      recorder: { retention: async (o) => void signed.push(...o.deleted.map((d) => d.name)) },
    });
    expect(await sweeper.sweep()).toBe(2);
    expect(signed).toEqual([chunks[0]!.name, chunks[1]!.name]);
    expect(existsSync(chunks[0]!.path)).toBe(false);
    expect(existsSync(chunks[1]!.path)).toBe(false);
    expect(existsSync(chunks[2]!.path)).toBe(true);
    // Nothing left for a second sweep: the deletions are recorded, not rediscovered.
    expect(await sweeper.sweep()).toBe(0);
    catalog.close();

    // `rigcap status` on the stopped spool: only the unsynced chunk is backlog, and the last receipt shows.
    const status = spoolSnapshot(spool, 1 << 30);
    expect(status.sync).toMatchObject({ backlogChunks: 1, backlogBytes: chunks[2]!.bytes });
    expect(status.sync.lastReceiptAt).toBe(new Date(2).toISOString());

    catalog = Catalog.open({ path: catalogPath(), logger: silentLogger() });
    const report = await reconcileSpool(catalog);
    expect(report.flagged).toEqual([]);
    expect(report.checked).toBe(1);
    expect(catalog.listChunks().map((c) => [c.chunkIndex, c.state, c.flag])).toEqual([
      [1, 'deleted', undefined],
      [2, 'deleted', undefined],
      [3, 'sealed', undefined],
    ]);
    catalog.close();
  });

  it('imports a former sync.sqlite once: offsets, receipts, checkpoints and retention deletions survive the upgrade', async () => {
    const chunks = await writeChunks('s1', 3);
    const [gone, synced, pending] = chunks as [CommittedChunk, CommittedChunk, CommittedChunk];
    // The spool as the previous version left it: a catalog at schema 1 whose chunks never left
    // `sealed`, retention having deleted the first chunk and a restart having flagged it missing.
    await unlink(gone.path);
    const old = new Database(catalogPath());
    old.exec(migrations[0]!);
    old.pragma('user_version = 1');
    old
      .prepare("INSERT INTO sessions (id, rig_id, started_ns, state) VALUES ('s1', 'rig', 1, 'closed')")
      .run();
    for (const c of chunks)
      old
        .prepare(
          `INSERT INTO chunks (session_id, chunk_index, name, path, bytes, sha256, start_ns, end_ns, messages,
                               streams_json, state, origin, record_seq, flag)
           VALUES ('s1', ?, ?, ?, ?, ?, ?, ?, ?, '[]', 'sealed', 'writer', ?, ?)`,
        )
        .run(
          c.chunkIndex,
          c.name,
          relative(c),
          c.bytes,
          c.sha256,
          c.startNs,
          c.endNs,
          c.messages,
          c.chunkIndex + 1,
          c === gone ? 'missing' : null,
        );
    old.close();
    const legacy = new Database(join(spool, 'sync.sqlite'));
    legacy.pragma('journal_mode = WAL');
    legacy.exec(formerSyncSchema);
    const insert = legacy.prepare(
      `INSERT INTO sync_items (signer_id, seq, predicate, record_path, blob_path, blob_sha256, blob_bytes, priority,
                               state, upload_url, upload_offset, attempts, receipt_json, log_index, synced_ms, end_ns, deleted)
       VALUES (@signer, @seq, @predicate, @record, @blob, @sha, @bytes, @priority, @state, @url, @offset, @attempts,
               @receipt, @logIndex, @syncedMs, @endNs, @deleted)`,
    );
    const item = (
      seq: number,
      c: CommittedChunk | undefined,
      state: string,
      extra: Partial<Record<string, unknown>> = {},
    ) =>
      insert.run({
        signer: 'dev',
        seq,
        predicate: c === undefined ? 'device-key' : 'capture-chunk',
        record: `records/dev/${String(seq).padStart(12, '0')}.dsse.json`,
        blob: c === undefined ? null : relative(c),
        sha: c?.sha256 ?? null,
        bytes: c?.bytes ?? 0,
        priority: c === undefined ? -1 : 1,
        state,
        url: null,
        offset: 0,
        attempts: 0,
        receipt: state === 'synced' ? `{"seq":${seq}}` : null,
        logIndex: state === 'synced' ? seq : null,
        syncedMs: state === 'synced' ? 1000 + seq : null,
        endNs: c?.endNs.toString() ?? null,
        deleted: 0,
        ...extra,
      });
    item(1, undefined, 'synced');
    item(2, gone, 'synced', { deleted: 1 });
    item(3, synced, 'synced');
    item(4, pending, 'pending', { url: 'http://store/u/4', offset: 4096, attempts: 2 });
    legacy.prepare("INSERT INTO sync_meta (key, value) VALUES ('store.publicKeyPem', 'PEM')").run();
    legacy.close();

    let catalog = Catalog.open({ path: catalogPath(), logger: silentLogger() });
    expect(catalog.schemaVersion).toBe(3);
    expect(existsSync(join(spool, 'sync.sqlite'))).toBe(false);
    expect(existsSync(join(spool, 'sync.sqlite.imported'))).toBe(true);
    const ledger = catalog.syncLedger();
    expect(catalog.listChunks().map((c) => [c.chunkIndex, c.state, c.flag])).toEqual([
      [1, 'deleted', undefined],
      [2, 'synced', undefined],
      [3, 'sealed', undefined],
    ]);
    // Nothing receipted is sent again; the pending upload resumes from its confirmed offset.
    expect(ledger.due(Date.now(), 10, new Set()).map((i) => i.seq)).toEqual([4]);
    expect(ledger.get('dev', 4)).toMatchObject({
      uploadUrl: 'http://store/u/4',
      uploadOffset: 4096,
      attempts: 2,
    });
    expect(ledger.get('dev', 3)).toMatchObject({ state: 'synced', receiptJson: '{"seq":3}', logIndex: 3 });
    expect(ledger.lastReceipt()).toEqual({ signerId: 'dev', seq: 3, logIndex: 3, syncedMs: 1003 });
    expect(ledger.backlog()).toEqual({ records: 1, chunks: 1, bytes: pending.bytes - 4096, refused: 0 });
    expect(ledger.meta('store.publicKeyPem')).toBe('PEM');

    const report = await reconcileSpool(catalog);
    expect(report.flagged).toEqual([]);
    ledger.failed('dev', 4, { error: 'later', nextAttemptMs: 5 });
    catalog.close();
    // A second start does not import again (the progress made since stays).
    catalog = Catalog.open({ path: catalogPath(), logger: silentLogger() });
    expect(catalog.syncLedger().get('dev', 4)?.attempts).toBe(3);
    catalog.close();
  });
  it('imports rows a killed process left only in the WAL of sync.sqlite', async () => {
    const legacyPath = join(spool, 'sync.sqlite');
    // The former rigcap killed (-9) with its last writes not yet checkpointed.
    const script = `
      const db = new (require('better-sqlite3'))(process.argv[1]);
      db.pragma('journal_mode = WAL');
      db.pragma('wal_autocheckpoint = 0');
      db.exec(process.argv[2]);
      const add = db.prepare("INSERT INTO sync_items (signer_id, seq, predicate, record_path, priority, state, receipt_json, log_index, synced_ms) VALUES ('dev', ?, 'heartbeat', 'r', 0, 'synced', '{}', ?, ?)");
      for (let seq = 1; seq <= 20; seq++) add.run(seq, seq, seq);
      process.kill(process.pid, 'SIGKILL');`;
    const child = spawnSync(process.execPath, ['-e', script, legacyPath, formerSyncSchema], {
      cwd: process.cwd(),
    });
    expect(child.signal).toBe('SIGKILL');
    expect(existsSync(`${legacyPath}-wal`)).toBe(true);
    const catalog = Catalog.open({ path: catalogPath(), logger: silentLogger() });
    expect(catalog.syncLedger().lastReceipt()).toEqual({
      signerId: 'dev',
      seq: 20,
      logIndex: 20,
      syncedMs: 20,
    });
    expect(catalog.syncLedger().backlog().records).toBe(0);
    catalog.close();
    expect(existsSync(`${legacyPath}-wal`)).toBe(false);
    expect(existsSync(`${legacyPath}.imported`)).toBe(true);
  });
});

describe('reconcile takes only ENOENT for absence', () => {
  it('a session folder that cannot be listed leaves its rows unflagged and is reported', async () => {
    const [c] = await writeChunks('s1', 1);
    const catalog = Catalog.open({ path: catalogPath(), logger: silentLogger() });
    catalog.addChunk(c!, { relativePath: relative(c!), origin: 'writer' });
    // A folder that exists but cannot be read (ELOOP here; EACCES below when not root).
    await rm(join(spool, 'sessions', 's1'), { recursive: true });
    await symlink(join(spool, 'sessions', 's1'), join(spool, 'sessions', 's1'));
    const report = await reconcileSpool(catalog);
    expect(report.flagged).toEqual([]);
    expect(report.unreadable).toEqual([{ path: join(spool, 'sessions', 's1'), reason: 'ELOOP' }]);
    expect(catalog.getChunk('s1', 1)?.flag).toBeUndefined();
    catalog.close();
  });

  it('a sessions folder that cannot be listed fails reconcile instead of marking every row missing', async () => {
    const [c] = await writeChunks('s1', 1);
    const catalog = Catalog.open({ path: catalogPath(), logger: silentLogger() });
    catalog.addChunk(c!, { relativePath: relative(c!), origin: 'writer' });
    await rm(join(spool, 'sessions'), { recursive: true });
    await symlink(join(spool, 'sessions'), join(spool, 'sessions'));
    await expect(reconcileSpool(catalog)).rejects.toMatchObject({ code: 'ELOOP' });
    expect(catalog.getChunk('s1', 1)?.flag).toBeUndefined();
    catalog.close();
  });

  it('EACCES on a session folder or a chunk file is reported, not taken for a missing file', async (ctx) => {
    // root reads through any mode bits, so EACCES cannot be produced for it.
    if (process.getuid?.() === 0) ctx.skip();
    const [a, b] = [...(await writeChunks('s1', 1)), ...(await writeChunks('s2', 1))];
    const catalog = Catalog.open({ path: catalogPath(), logger: silentLogger() });
    catalog.addChunk(a!, { relativePath: relative(a!), origin: 'writer' });
    catalog.addChunk(b!, { relativePath: relative(b!), origin: 'writer' });
    await chmod(join(spool, 'sessions', 's1'), 0o000);
    await chmod(b!.path, 0o000);
    try {
      const report = await reconcile(catalog, {
        spoolDir: spool,
        logger: silentLogger(),
        rigId: 'rig',
        verify: 'sha256',
      });
      expect(report.flagged).toEqual([]);
      expect(report.unreadable.map((u) => u.reason)).toEqual(['EACCES', 'EACCES']);
      expect(catalog.listChunks().map((c) => c.flag)).toEqual([undefined, undefined]);
    } finally {
      await chmod(join(spool, 'sessions', 's1'), 0o755);
      await mkdir(join(spool, 'sessions', 's1'), { recursive: true });
      catalog.close();
    }
  });
});

/** The schema rigcap kept in `<spool>/sync.sqlite` before the catalog held sync state. */
const formerSyncSchema = `
CREATE TABLE IF NOT EXISTS sync_items (
  signer_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  predicate TEXT NOT NULL,
  record_path TEXT NOT NULL,
  blob_path TEXT,
  blob_sha256 TEXT,
  blob_bytes INTEGER NOT NULL DEFAULT 0,
  priority INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  upload_url TEXT,
  upload_offset INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  receipt_json TEXT,
  log_index INTEGER,
  synced_ms INTEGER,
  end_ns TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (signer_id, seq)
);
CREATE INDEX IF NOT EXISTS sync_items_pending ON sync_items (state, priority, blob_bytes, seq);
CREATE TABLE IF NOT EXISTS sync_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;
