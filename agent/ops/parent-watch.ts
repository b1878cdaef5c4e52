// An interactive rigcap dies with its launcher. `kill -9` of `npx rigcap demo` kills only npx: the
// `sh -c` it ran and the capture process under it would run on, reparented, holding the spool. The
// watch notes at start the parent of this process and of each launcher between it and the user (a
// `sh -c`, the Node-22 re-exec wrapper of bin/rigcap.js), and reports when any of them changes.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { isErrno } from '../errors.ts';

/** Environment variable the re-exec wrapper sets to its own pid, so its child can follow it. */
export const reexecParentEnv = 'RIGCAP_REEXEC_PARENT';

/** What a launcher's death looks like: the pid whose parent changed, and the parents. */
export interface Orphaning {
  pid: number;
  parentAtStart: number;
  parentNow: number | undefined;
}

export interface ParentWatchOptions {
  /** Called once when a watched parent changes. */
  onOrphaned: (orphaning: Orphaning) => void;
  /** Also watch the parents of launchers above this process (interactive commands), not only its own. */
  through: 'own-parent' | 'launchers';
  /** Poll period (default 250 ms). */
  intervalMs?: number;
}

/** A running watch; `stop()` (idempotent) ends it. */
export interface ParentWatch {
  /** The pids whose parent is watched, nearest first. */
  readonly watched: readonly number[];
  stop(): void;
}

/** Parent pid of `pid` from /proc (undefined once it is gone or without /proc). */
export function parentOf(pid: number): number | undefined {
  if (pid === process.pid) return process.ppid;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch (err) {
    // Gone (ENOENT, ESRCH while it exits), or hidden from this user (hidepid: EACCES).
    if (!isErrno(err, 'ENOENT', 'ESRCH', 'EACCES')) throw err;
    return undefined;
  }
}

function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch (err) {
    if (!isErrno(err, 'ENOENT', 'ESRCH', 'EACCES')) throw err;
    return [];
  }
}

const shells = new Set(['sh', 'dash', 'bash', 'ash', 'zsh', 'ksh', 'busybox']);

/** A process that only launched the one below it: `sh -c …` (npm's script shell) or the re-exec wrapper. */
export function isLauncher(pid: number, child: number, env: NodeJS.ProcessEnv = process.env): boolean {
  if (child === process.pid && env[reexecParentEnv] === String(pid)) return true;
  const argv = commandLine(pid);
  const [arg0, arg1] = argv;
  if (arg0 === undefined) return false;
  return shells.has(basename(arg0)) && arg1 === '-c';
}

/** Pids whose parent the watch follows: this process, then each launcher above it while `through` allows. */
export function watchedChain(through: ParentWatchOptions['through']): number[] {
  const chain = [process.pid];
  if (through === 'own-parent') return chain;
  let child = process.pid;
  let parent = process.ppid;
  // A few levels at most: npx → sh → wrapper → rigcap.
  for (let depth = 0; depth < 4 && parent > 1 && isLauncher(parent, child); depth++) {
    chain.push(parent);
    child = parent;
    const next = parentOf(parent);
    if (next === undefined) break;
    parent = next;
  }
  return chain;
}

/** Starts watching; the timer never keeps the process alive by itself. */
export function watchParent(options: ParentWatchOptions): ParentWatch {
  const watched = watchedChain(options.through);
  const start = new Map(watched.map((pid) => [pid, parentOf(pid)]));
  let fired = false;
  const timer = setInterval(() => {
    for (const pid of watched) {
      const now = parentOf(pid);
      const then = start.get(pid);
      if (now === then) continue;
      fired = true;
      clearInterval(timer);
      options.onOrphaned({ pid, parentAtStart: then ?? -1, parentNow: now });
      return;
    }
  }, options.intervalMs ?? 250);
  timer.unref();
  return {
    watched,
    stop: () => {
      if (!fired) clearInterval(timer);
    },
  };
}
