import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errnoCode } from '../../../agent/errors.ts';
import { silentLogger } from '../../../agent/log.ts';
import { DiskBudget } from '../../../agent/sync/disk-budget.ts';
import { RetentionSweeper } from '../../../agent/sync/retention.ts';
import { SyncState } from '../../../agent/sync/state.ts';

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
    const db = new Database(join(root, 'sync.sqlite'));
    const state = new SyncState(db);
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
      state.add({
        signerId: 'dev',
        seq: i,
        predicate: 'capture-chunk',
        recordPath: `records/dev/${i}`,
        blobPath: `sessions/s1/${name}`,
        blobSha256: 'a'.repeat(64),
        blobBytes: 100_000,
        priority,
        endNs: oldNs,
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
      state,
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
      // Never an unsynced chunk; every deleted one is named in a signed retention-action.
      if (item.state !== 'synced') expect(existsSync(path)).toBe(true);
      else expect(signed.map((d) => d.name)).toContain(`chunk-${String(i).padStart(6, '0')}.mcap`);
    }
    const after = await budget.check();
    expect(after.pressure).not.toBe('paused');
    expect(budget.admits(1)).toBe(true);
    db.close();
  });

  it('never deletes a chunk that is synced but younger than the retention period', async () => {
    const db = new Database(':memory:');
    const state = new SyncState(db);
    state.add({
      signerId: 'd',
      seq: 1,
      predicate: 'capture-chunk',
      recordPath: 'r',
      blobPath: 'sessions/s/chunk-000001.mcap',
      blobSha256: 'b'.repeat(64),
      blobBytes: 1,
      priority: 1,
      endNs: BigInt(Date.now()) * 1_000_000n,
    });
    state.synced('d', 1, { receiptJson: '{}', logIndex: 0, nowMs: Date.now() });
    const sweeper = new RetentionSweeper({
      state,
      spoolDir: root,
      retentionDays: 30,
      log: silentLogger(),
      recorder: { retention: async () => expect.fail('no record expected') },
    });
    expect(await sweeper.sweep()).toBe(0);
    db.close();
  });
});
