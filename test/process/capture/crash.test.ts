// Kill -9 the capture loop at random moments; after each kill, recovery (salvage + reconcile)
// must leave only valid committed chunks, each matching its catalog row byte for byte.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../../../agent/catalog/catalog.ts';
import { reconcile, sha256OfFile } from '../../../agent/catalog/reconcile.ts';
import { salvageSpool } from '../../../agent/pipeline/salvage.ts';
import { withIndexedReader } from '../../../agent/pipeline/mcap-read.ts';
import { silentLogger } from '../../../agent/log.ts';
import { readLines } from '../../support/lines.ts';
import { delay } from '../../support/wait.ts';

const KILLS = 20;
const child = join(import.meta.dirname, 'crash-child.ts');

async function runAndKill(spool: string, sessionId: string, afterMs: number): Promise<void> {
  const proc = spawn(process.execPath, [child, spool, sessionId], { stdio: ['ignore', 'pipe', 'inherit'] });
  await readLines(proc).next({ what: 'the capture child to start writing', timeoutMs: 60_000 });
  // The kill point the test chose, not a wait for a state.
  await delay(afterMs);
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
}

describe('capture survives kill -9', () => {
  it(`recovers to valid, catalogued chunks after ${KILLS} kills`, { timeout: 180_000 }, async () => {
    const spool = await mkdtemp(join(tmpdir(), 'rigcap-crash-'));
    const logger = silentLogger();
    let salvaged = 0;
    let quarantined = 0;
    try {
      for (let k = 0; k < KILLS; k++) {
        await runAndKill(spool, `s${String(k).padStart(2, '0')}`, 20 + Math.floor(Math.random() * 250));
        const catalog = Catalog.open({ path: join(spool, 'catalog.db'), logger });
        try {
          const results = await salvageSpool({
            spoolDir: spool,
            logger,
            onCommit: (chunk) =>
              catalog.addChunk(chunk, {
                relativePath: `sessions/${chunk.sessionId}/${chunk.name}`,
                origin: 'salvage',
              }),
          });
          salvaged += results.filter((r) => r.outcome === 'salvaged').length;
          quarantined += results.filter((r) => r.outcome === 'quarantined').length;
          const report = await reconcile(catalog, {
            spoolDir: spool,
            logger,
            rigId: 'crash-rig',
            verify: 'sha256',
          });
          expect(report.flagged).toEqual([]);
          expect(report.unreadable).toEqual([]);

          const sessions = await readdir(join(spool, 'sessions'));
          for (const sessionId of sessions) {
            for (const name of await readdir(join(spool, 'sessions', sessionId))) {
              expect(name).toMatch(/^chunk-\d{6}\.mcap$/);
              const path = join(spool, 'sessions', sessionId, name);
              const row = catalog.listChunks({ sessionId }).find((c) => c.name === name);
              expect(row, path).toBeDefined();
              expect(row?.bytes).toBe((await stat(path)).size);
              expect(row?.sha256).toBe(await sha256OfFile(path));
              const count = await withIndexedReader(path, async (reader) => {
                let n = 0;
                for await (const _ of reader.readMessages()) n++;
                return n;
              });
              expect(count).toBe(row?.messages);
            }
          }
          for (const sessionId of await readdir(join(spool, 'quarantine')).catch(() => [])) {
            for (const name of await readdir(join(spool, 'quarantine', sessionId)))
              expect(name.endsWith('.mcap')).toBe(false);
          }
        } finally {
          catalog.close();
        }
      }
      // Informative only: how the kills landed.
      console.log(JSON.stringify({ kills: KILLS, salvaged, quarantined }));
    } finally {
      await rm(spool, { recursive: true, force: true });
    }
  });
});
