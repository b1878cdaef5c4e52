// One live rigcap per spool: a second process is refused while the first runs, and a claim left by
// a process that ended (kill -9, reboot, torn write) is taken over.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isRigcapError } from '../../../agent/errors.ts';
import { silentLogger } from '../../../agent/log.ts';
import { claimSpool, spoolClaimFileName } from '../../../agent/spool-claim.ts';

const log = silentLogger();
let dir: string | undefined;
let holder: ChildProcess | undefined;
afterEach(async () => {
  holder?.kill('SIGKILL');
  holder = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function claimOf(spool: string): Promise<{ pid: number; bootId: string }> {
  return JSON.parse(await readFile(join(spool, spoolClaimFileName), 'utf8')) as {
    pid: number;
    bootId: string;
  };
}

/** A live process whose command line names rigcap (or not), standing in for another agent. */
async function liveProcess(argv0: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', argv0], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return child;
}

async function refused(spool: string, options: Parameters<typeof claimSpool>[1]): Promise<unknown> {
  return claimSpool(spool, options).then(
    () => undefined,
    (err: unknown) => err,
  );
}

describe('spool claim', () => {
  it('is taken on a fresh spool, taken again by the same process, and released at stop', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-claim-'));
    await claimSpool(dir, { log });
    expect((await claimOf(dir)).pid).toBe(process.pid);
    const again = await claimSpool(dir, { log });
    expect((await claimOf(dir)).pid).toBe(process.pid);
    // A stopped agent gives the spool up; releasing twice is harmless.
    again.release();
    again.release();
    await expect(readFile(join(dir, spoolClaimFileName))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a second process while a live rigcap holds the spool, and takes over once it is gone', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-claim-'));
    holder = await liveProcess('rigcap-agent-standin');
    const bootId = 'boot-a';
    await writeFile(
      join(dir, spoolClaimFileName),
      JSON.stringify({ pid: holder.pid, bootId, startedAt: '2026-01-01T00:00:00.000Z' }),
    );
    const waitedFor: number[] = [];
    const err = await refused(dir, { log, bootId, waitMs: 300, onWaiting: (pid) => waitedFor.push(pid) });
    expect(isRigcapError(err, 'RIGCAP_SPOOL_BUSY'), String(err)).toBe(true);
    expect((err as Error).message).toContain(`pid ${holder.pid}`);
    expect(waitedFor).toEqual([holder.pid]);
    expect((await claimOf(dir)).pid).toBe(holder.pid);
    // Without a wait the refusal is immediate and says nothing about waiting.
    const now = await refused(dir, { log, bootId, waitMs: 0, onWaiting: (pid) => waitedFor.push(pid) });
    expect(isRigcapError(now, 'RIGCAP_SPOOL_BUSY'), String(now)).toBe(true);
    expect(waitedFor).toEqual([holder.pid]);

    const gone = new Promise((r) => holder!.once('exit', r));
    holder.kill('SIGKILL');
    await gone;
    await claimSpool(dir, { log, bootId });
    expect(await claimOf(dir)).toMatchObject({ pid: process.pid, bootId });
  });

  it('a start that finds a live holder waits, and starts once the holder ends within the wait', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-claim-'));
    holder = await liveProcess('rigcap-agent-standin');
    const bootId = 'boot-a';
    await writeFile(
      join(dir, spoolClaimFileName),
      JSON.stringify({ pid: holder.pid, bootId, startedAt: '2026-01-01T00:00:00.000Z' }),
    );
    const h = holder;
    let waited: number | undefined;
    // The holder is killed only once the claimant says it waits: the claim must then be taken.
    const claim = claimSpool(dir, {
      log,
      bootId,
      waitMs: 20_000,
      onWaiting: (pid) => {
        waited = pid;
        h.kill('SIGKILL');
      },
    });
    await claim;
    expect(waited).toBe(h.pid);
    expect(await claimOf(dir)).toMatchObject({ pid: process.pid, bootId });
  });

  it('takes over a claim whose pid now runs another program, one made before a reboot, and a torn one', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-claim-'));
    holder = await liveProcess('some-other-program');
    const path = join(dir, spoolClaimFileName);
    await writeFile(path, JSON.stringify({ pid: holder.pid, bootId: 'boot-a', startedAt: 'x' }));
    await claimSpool(dir, { log, bootId: 'boot-a' });
    expect((await claimOf(dir)).pid).toBe(process.pid);

    await writeFile(path, JSON.stringify({ pid: holder.pid, bootId: 'boot-before', startedAt: 'x' }));
    await claimSpool(dir, { log, bootId: 'boot-a', isRigcap: () => true });
    expect((await claimOf(dir)).pid).toBe(process.pid);

    await writeFile(path, '{"pid": 12');
    await claimSpool(dir, { log, bootId: 'boot-a', isRigcap: () => true });
    expect((await claimOf(dir)).pid).toBe(process.pid);
  });

  it('a full spool starts unclaimed instead of failing', async (ctx) => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-claim-'));
    const spool = join(dir, 'full');
    await mkdir(spool);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', spool], { stdio: 'ignore' });
    } catch {
      ctx.skip(); // mounting a tmpfs needs root / CAP_SYS_ADMIN
    }
    try {
      // Fill it: the claim's write then fails with ENOSPC.
      await writeFile(join(spool, 'filler'), Buffer.alloc(64 * 1024)).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      });
      const claim = await claimSpool(spool, { log });
      await expect(readFile(join(spool, spoolClaimFileName))).rejects.toMatchObject({ code: 'ENOENT' });
      claim.release();
      expect((await readdir(spool)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    } finally {
      execFileSync('umount', [spool], { stdio: 'ignore' });
    }
  });
});
