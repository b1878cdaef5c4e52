import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../../agent/catalog/catalog.ts';
import { errnoCode } from '../../../agent/errors.ts';
import { silentLogger } from '../../../agent/log.ts';
import { DiskBudget } from '../../../agent/sync/disk-budget.ts';
import { RetentionSweeper } from '../../../agent/sync/retention.ts';
import type { CommittedChunk } from '../../../agent/pipeline/chunk-types.ts';

/** A chunk row as the writer would add it (the retention sweep reads chunk state from the catalog). */
function chunkRow(sessionId: string, index: number, bytes: number, endNs: bigint): CommittedChunk {
  const name = `chunk-${String(index).padStart(6, '0')}.mcap`;
  return {
    sessionId,
    chunkIndex: index,
    name,
    path: name,
    bytes,
    sha256: index.toString(16).padStart(64, '0'),
    startNs: endNs - 1_000_000_000n,
    endNs,
    messages: 1,
    streams: [],
    reason: 'size',
  };
}

/** A 2 MiB tmpfs when this machine lets us mount one (root); otherwise undefined. */
function mountTmpfs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('disk budget on a full filesystem', () => {
  let root: string;
  let spool: string;
  let mounted = false;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'rigcap-disk-'));
    spool = join(root, 'spool');
    mkdirSync(spool);
    mounted = mountTmpfs(spool);
  });
  afterAll(() => {
    if (mounted) execFileSync('umount', [spool]);
    rmSync(root, { recursive: true, force: true });
  });

  it('sheds, then pauses on ENOSPC without crashing, deletes only synced expired chunks, and resumes', async (ctx) => {
    if (!mounted) ctx.skip();
    const catalog = Catalog.open({ path: join(root, 'catalog.sqlite'), logger: silentLogger() });
    const state = catalog.syncLedger();
    const changes: string[] = [];
    const budget = new DiskBudget({
      spoolDir: spool,
      budgetBytes: 1_800_000,
      minFreeBytes: 100_000,
      log: silentLogger(),
      onChange: (s) => changes.push(s.pressure),
    });
    const dir = join(spool, 'sessions', 's1');
    mkdirSync(dir, { recursive: true });
    const oldNs = BigInt(Date.now() - 40 * 86_400_000) * 1_000_000n;

    // Capture stand-in: 100 kB chunks from a high (1) and a low (7) priority stream until the pipeline is told to stop.
    let written = 0;
    let enospc = 0;
    let shedLow = 0;
    for (let i = 1; i <= 40; i++) {
      await budget.check();
      const priority = i % 2 === 0 ? 7 : 1;
      if (!budget.admits(priority)) {
        if (priority === 7 && budget.snapshot().pressure === 'shed') shedLow += 1;
        continue;
      }
      const name = `chunk-${String(i).padStart(6, '0')}.mcap`;
      try {
        writeFileSync(join(dir, name), Buffer.alloc(100_000, i));
      } catch (err) {
        expect(errnoCode(err)).toBe('ENOSPC');
        enospc += 1;
        budget.reportEnospc();
        break;
      }
      written = i;
      const row = chunkRow('s1', i, 100_000, oldNs);
      catalog.addChunk(row, { relativePath: `sessions/s1/${name}`, origin: 'writer' });
      catalog.markChunkSealed('s1', i, i);
      state.add({
        signerId: 'dev',
        seq: i,
        predicate: 'capture-chunk',
        recordPath: `records/dev/${i}`,
        blobPath: `sessions/s1/${name}`,
        blobSha256: row.sha256,
        blobBytes: 100_000,
        priority,
      });
      // Odd chunks have receipts; even ones are still unsynced.
      if (i % 2 === 1) state.synced('dev', i, { receiptJson: '{}', logIndex: i, nowMs: Date.now() });
    }
    expect(budget.snapshot().pressure).toBe('paused');
    expect(changes).toContain('paused');
    expect(shedLow + enospc).toBeGreaterThan(0);
    expect(written).toBeGreaterThan(4);

    const signed: Array<{ name: string }> = [];
    const sweeper = new RetentionSweeper({
      ledger: state,
      spoolDir: spool,
      retentionDays: 30,
      log: silentLogger(),
      recorder: { retention: async (o) => void signed.push(...o.deleted) },
    });
    const deleted = await sweeper.sweep();
    expect(deleted).toBeGreaterThan(0);
    for (let i = 1; i <= written; i++) {
      const path = join(dir, `chunk-${String(i).padStart(6, '0')}.mcap`);
      const item = state.get('dev', i);
      if (item === undefined) continue;
      // Never an unsynced chunk; every deleted one is named in a signed retention-action and is
      // `deleted` in the catalog (so a restart does not take it for missing).
      if (item.state !== 'synced') expect(existsSync(path)).toBe(true);
      else {
        expect(signed.map((d) => d.name)).toContain(`chunk-${String(i).padStart(6, '0')}.mcap`);
        expect(catalog.getChunk('s1', i)?.state).toBe('deleted');
      }
    }
    const after = await budget.check();
    expect(after.pressure).not.toBe('paused');
    expect(budget.admits(1)).toBe(true);
    catalog.close();
  });

  it('never deletes a chunk that is synced but younger than the retention period', async () => {
    const catalog = Catalog.open({ path: ':memory:', logger: silentLogger() });
    const state = catalog.syncLedger();
    const row = chunkRow('s', 1, 1, BigInt(Date.now()) * 1_000_000n);
    catalog.addChunk(row, { relativePath: 'sessions/s/chunk-000001.mcap', origin: 'writer' });
    catalog.markChunkSealed('s', 1, 1);
    state.add({
      signerId: 'd',
      seq: 1,
      predicate: 'capture-chunk',
      recordPath: 'r',
      blobPath: 'sessions/s/chunk-000001.mcap',
      blobSha256: row.sha256,
      blobBytes: 1,
      priority: 1,
    });
    state.synced('d', 1, { receiptJson: '{}', logIndex: 0, nowMs: Date.now() });
    expect(catalog.getChunk('s', 1)?.state).toBe('synced');
    const sweeper = new RetentionSweeper({
      ledger: state,
      spoolDir: root,
      retentionDays: 30,
      log: silentLogger(),
      recorder: { retention: async () => expect.fail('no record expected') },
    });
    expect(await sweeper.sweep()).toBe(0);
    catalog.close();
  });
});
