// One live rigcap per spool. Recovery salvages `.partial` files and signs what it finds unsigned,
// which would wreck the work of another process still writing the same spool: a `kill -9` that hit
// only a wrapper (npx, a shell, the Node-version re-exec) leaves the real process running. The
// claim is `<spool>/agent.pid` (pid, boot id, start time); a claim whose process is gone, or that
// was made before a reboot, is stale and taken over. Released at stop, or when this process exits.
// A start that finds a live holder waits a bounded time for it to go: a killed launcher's capture
// process notices its launcher is gone and ends within a second (agent/ops/parent-watch.ts).
import { readFileSync, unlinkSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RigcapError, errnoCode } from './errors.ts';
import type { Logger } from './log.ts';

/** File name of the claim inside the spool. */
export const spoolClaimFileName = 'agent.pid';

interface ClaimBody {
  pid: number;
  bootId: string;
  startedAt: string;
}

export interface SpoolClaimOptions {
  log: Logger;
  /** Whether a process is alive and is a rigcap (injectable for tests). */
  isRigcap?: (pid: number) => boolean;
  /** This machine's boot id (injectable for tests). */
  bootId?: string;
  /** How long to wait for a live holder to release the spool before RIGCAP_SPOOL_BUSY (default 15 s). */
  waitMs?: number;
  /** Told once when the wait for a live holder begins (default: a line on stderr). */
  onWaiting?: (holderPid: number) => void;
}

/** Default bound on the wait for a live holder. */
export const spoolClaimWaitMs = 15_000;
const pollMs = 200;

/** A held claim; `release()` (idempotent) gives the spool up before this process exits. */
export interface SpoolClaim {
  release(): void;
}

/** Claims the spool for this process; throws RIGCAP_SPOOL_BUSY while another live rigcap holds it. */
export async function claimSpool(spoolDir: string, options: SpoolClaimOptions): Promise<SpoolClaim> {
  const path = join(spoolDir, spoolClaimFileName);
  const bootId = options.bootId ?? readBootId();
  const isRigcap = options.isRigcap ?? isLiveRigcap;
  const live = (c: ClaimBody | undefined): boolean =>
    c !== undefined && c.pid !== process.pid && c.bootId === bootId && isRigcap(c.pid);
  let held = await readClaim(path);
  if (held !== undefined && live(held)) {
    const waitMs = options.waitMs ?? spoolClaimWaitMs;
    const deadline = Date.now() + waitMs;
    const firstPid = held.pid;
    if (waitMs > 0) {
      (options.onWaiting ?? waitingOnStderr)(firstPid);
      options.log.warn({ holderPid: firstPid, waitMs }, 'spool claimed by a live rigcap: waiting for it');
    }
    while (live(held) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
      held = await readClaim(path);
    }
    if (held !== undefined && live(held))
      throw new RigcapError(
        'RIGCAP_SPOOL_BUSY',
        `spool ${spoolDir} is in use by rigcap pid ${held.pid} (since ${held.startedAt})` +
          (waitMs > 0 ? `; still held after waiting ${Math.round(waitMs / 1000)} s` : ''),
        { details: { pid: held.pid } },
      );
  }
  if (held !== undefined && held.pid !== process.pid)
    options.log.warn(
      { holderPid: held.pid, startedAt: held.startedAt },
      'took over the claim of a process that ended',
    );
  const body: ClaimBody = { pid: process.pid, bootId, startedAt: new Date().toISOString() };
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const handle = await open(tmp, 'w', 0o644);
    try {
      await handle.writeFile(`${JSON.stringify(body)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    const errno = errnoCode(err);
    if (errno !== 'ENOSPC' && errno !== 'EDQUOT') throw err;
    // A full spool must still start (to sync and free space): unclaimed, and said so.
    await rm(tmp, { force: true });
    options.log.warn({ code: 'RIGCAP_DISK_FULL', errno }, 'spool full: started without claiming it');
    return { release: () => undefined };
  }
  // Two starters that both found a stale claim: the last rename wins and the other stands down.
  const now = await readClaim(path);
  if (now?.pid !== process.pid)
    throw new RigcapError(
      'RIGCAP_SPOOL_BUSY',
      `spool ${spoolDir} was claimed by rigcap pid ${now?.pid ?? '?'}`,
      {
        details: { pid: now?.pid },
      },
    );
  releaseAtExit(path);
  return {
    release: () => {
      if (claimed.delete(path)) releaseOne(path);
    },
  };
}

function waitingOnStderr(holderPid: number): void {
  process.stderr.write(`rigcap: waiting for pid ${holderPid} to release the spool\n`);
}

async function readClaim(path: string): Promise<ClaimBody | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<ClaimBody>;
    if (typeof parsed.pid !== 'number' || typeof parsed.bootId !== 'string') return undefined;
    return { pid: parsed.pid, bootId: parsed.bootId, startedAt: String(parsed.startedAt ?? '?') };
  } catch (err) {
    // A claim torn by a crash mid-write names no process: stale.
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** Alive and running rigcap (a reused pid of another program does not hold the spool). */
function isLiveRigcap(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errnoCode(err) === 'ESRCH') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('rigcap');
  } catch (err) {
    // Without /proc (or gone in between): alive is all that is known.
    return errnoCode(err) !== 'ENOENT';
  }
}

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch (err) {
    return `unknown (${errnoCode(err) ?? 'unreadable'})`;
  }
}

const claimed = new Set<string>();

let exitHookSet = false;

function releaseAtExit(path: string): void {
  if (!exitHookSet) process.once('exit', releaseAll);
  exitHookSet = true;
  claimed.add(path);
}

function releaseAll(): void {
  for (const path of claimed) releaseOne(path);
  claimed.clear();
}

function releaseOne(path: string): void {
  try {
    const body = JSON.parse(readFileSync(path, 'utf8')) as Partial<ClaimBody>;
    if (body.pid === process.pid) unlinkSync(path);
  } catch (err) {
    // Already gone or replaced: nothing of ours to release.
    if (!(err instanceof SyntaxError) && errnoCode(err) !== 'ENOENT') throw err;
  }
}
