// A test child's stdout read line by line, so a test can wait for the next line the child prints
// (its state, a report) instead of for a fixed time or a first 'data' chunk that may hold half a line.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { WaitTimeoutError } from './wait.ts';

/** Lines of one child's stdout, in order. */
export interface LineReader {
  /** Every line read so far. */
  readonly lines: readonly string[];
  /** The next line not yet taken by `next`; rejects on timeout or when stdout closes first. */
  next(options: { timeoutMs: number; what: string }): Promise<string>;
}

/** Starts reading `proc`'s stdout (it must be a pipe). */
export function readLines(proc: ChildProcess): LineReader {
  if (proc.stdout === null) throw new Error('readLines needs the child started with stdout as a pipe');
  const lines: string[] = [];
  let taken = 0;
  let closed = false;
  const listeners = new Set<() => void>();
  const input = createInterface({ input: proc.stdout });
  input.on('line', (line) => {
    lines.push(line);
    for (const listener of [...listeners]) listener();
  });
  input.once('close', () => {
    closed = true;
    for (const listener of [...listeners]) listener();
  });
  return {
    lines,
    next({ timeoutMs, what }) {
      return new Promise<string>((resolve, reject) => {
        const check = (): void => {
          if (taken < lines.length) {
            done();
            resolve(lines[taken++]!);
          } else if (closed) {
            done();
            reject(
              new Error(`the child's output ended before ${what} (exit ${proc.exitCode ?? proc.signalCode})`),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}
