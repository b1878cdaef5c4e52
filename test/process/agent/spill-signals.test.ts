// Signals while frames are held for de-id. kill -9: their key died with the process, so at restart
// the ciphertext is deleted unread and the session's close record names the loss (count and capture
// window) as a gap; nothing readable of those frames remains in the spool. SIGTERM with de-id far
// behind: a bounded stop still accounts every frame, the held ones it could not blur as lost.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import type { SessionPredicate } from '../../../agent/records/predicates.ts';
import { writeImageRecording } from '../../support/image-recording.ts';
import { readLines } from '../../support/lines.ts';
import { spillAgent } from '../../support/spill-agent.ts';

const child = join(import.meta.dirname, 'spill-child.ts');
let root: string | undefined;
afterAll(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

async function spoolBytes(spool: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const e of await readdir(spool, { recursive: true, withFileTypes: true }))
    if (e.isFile()) out.push(await readFile(join(e.parentPath, e.name)));
  return out;
}

describe('spill mode and signals', () => {
  it(
    'held frames of a killed agent are counted as a gap at restart and nothing readable of them remains',
    { timeout: 240_000 },
    async () => {
      root = await mkdtemp(join(tmpdir(), 'rigcap-spill-kill9-'));
      const bag = join(root, 'front.mcap');
      const recording = await writeImageRecording(bag, { frames: 150, periodMs: 33 });
      const dir = join(root, 'agent');
      const spool = join(dir, 'spool');
      const proc = spawn(process.execPath, [child, dir, bag], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, RIGCAP_TEST_DEID_DELAY_MS: '150' },
      });
      const exited = new Promise((r) => proc.once('exit', r));
      const { sessionId } = JSON.parse(
        await readLines(proc).next({ what: 'the child to hold five frames', timeoutMs: 120_000 }),
      ) as { sessionId: string };
      proc.kill('SIGKILL');
      await exited;

      const held = await readdir(join(spool, 'holding', sessionId));
      expect(held.length).toBeGreaterThanOrEqual(5);
      const marks = recording.jpegs.map((j) => j.subarray(j.length - 100, j.length - 2));
      const before = await spoolBytes(spool);
      for (const f of before) for (const m of marks) expect(f.includes(m)).toBe(false);

      // Restart: recovery finds the holding folder, deletes it, and closes the session with the gap.
      const agent = spillAgent({ dir, bag, deid: { mode: 'spill' }, log: silentLogger() });
      await agent.start(new AbortController().signal);
      await agent.stop({ timeoutMs: 200 });
      expect((await readdir(join(spool, 'holding'))).filter((n) => n === sessionId)).toEqual([]);
      expect(agent.recentErrors.some((e) => e.code === 'RIGCAP_DEID_HELD_LOST')).toBe(true);

      const lines = (await readFile(join(spool, 'sessions', sessionId, 'session.dsse.json'), 'utf8'))
        .trim()
        .split('\n');
      const close = (
        JSON.parse(
          Buffer.from((JSON.parse(lines.at(-1)!) as { payload: string }).payload, 'base64').toString('utf8'),
        ) as { predicate: Extract<SessionPredicate, { phase: 'close' }> }
      ).predicate;
      expect(close.phase).toBe('close');
      expect(close.reason).toBe('interrupted');
      const heldGaps = close.gaps.filter((g) => g.counts?.['deid_held_lost'] !== undefined);
      expect(heldGaps).toHaveLength(1);
      const gap = heldGaps[0]!;
      expect(gap).toMatchObject({ kind: 'deid', counts: { deid_held_lost: held.length } });
      // The agent was down from its last signed record to this recovery: named too.
      expect(close.gaps.some((g) => g.kind === 'downtime')).toBe(true);
      const first = recording.publishNs[0]!;
      const last = recording.publishNs.at(-1)!;
      expect(BigInt(gap.startNs)).toBeGreaterThanOrEqual(first);
      expect(BigInt(gap.endNs)).toBeLessThanOrEqual(last);
      expect(BigInt(gap.startNs)).toBeLessThanOrEqual(BigInt(gap.endNs));

      for (const f of await spoolBytes(spool)) for (const m of marks) expect(f.includes(m)).toBe(false);
    },
  );

  it(
    'SIGTERM while de-id is far behind still accounts every frame, the held ones as lost',
    { timeout: 240_000 },
    async () => {
      root ??= await mkdtemp(join(tmpdir(), 'rigcap-spill-kill9-'));
      const bag = join(root, 'term.mcap');
      await writeImageRecording(bag, { frames: 150, periodMs: 33 });
      const dir = join(root, 'term');
      const proc = spawn(process.execPath, [child, dir, bag], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, RIGCAP_TEST_DEID_DELAY_MS: '150' },
      });
      const lines = readLines(proc);
      JSON.parse(await lines.next({ what: 'the child to hold five frames', timeoutMs: 120_000 }));
      proc.kill('SIGTERM');
      const counts = JSON.parse(
        await lines.next({ what: "the stopped child's counts", timeoutMs: 60_000 }),
      ) as {
        received: number;
        written: number;
        drops: Record<string, number>;
      };
      const dropped = Object.values(counts.drops).reduce((n, c) => n + c, 0);
      expect(counts.drops['deid_held_lost'] ?? 0).toBeGreaterThan(0);
      expect(counts.written + dropped).toBe(counts.received);
      expect(await readdir(join(dir, 'spool', 'holding'))).toEqual([]);
    },
  );
});
