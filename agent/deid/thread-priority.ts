// CPU priority of the calling thread. Linux keeps a nice value per thread (setpriority on a thread
// id changes that thread alone, and threads it starts later inherit it), so a de-id worker can step
// back behind the capture path without touching the rest of the process.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** The kernel id of the calling thread, or undefined off Linux. */
export function currentThreadId(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  // /proc/thread-self links to `<pid>/task/<tid>` of whichever thread reads it.
  const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
  return Number.isInteger(tid) && tid > 0 ? tid : undefined;
}

/**
 * Raises the calling thread's nice value by `niceness` (capped at 19); lowering priority needs no
 * privilege. Returns the nice value now in force, or undefined where threads cannot be reniced.
 */
export function lowerThreadPriority(niceness: number): number | undefined {
  const tid = currentThreadId();
  if (tid === undefined) return undefined;
  const target = Math.min(19, getPriority(tid) + Math.max(0, Math.trunc(niceness)));
  setPriority(tid, target);
  return getPriority(tid);
}
