// The parent watch behind "an interactive rigcap dies with its launcher", on a light child: kill -9
// of the top of `node → sh -c → child` ends the child when it follows launchers; a child that
// follows only its own parent outlives the same kill (its parent, the shell, lives on), and ends
// when that parent is killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parentOf } from '../../../agent/ops/parent-watch.ts';
import { delay, waitFor } from '../../support/wait.ts';

/** Ended: no such process, or a zombie nobody reaped yet (its command line is empty). */
function ended(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === '';
  } catch {
    return true;
  }
}

const child = join(import.meta.dirname, 'parent-watch-child.ts');

interface Tree {
  top: ChildProcess;
  /** The watching child's first line: its pid and the pids whose parent it watches. */
  first: Promise<{ pid: number; watched: number[] }>;
}

/** `node -e <launcher>` → `sh -c '<node child through>; exit $?'` → child, like npx → sh → rigcap. */
function startTree(through: string): Tree {
  const cmd = `'${process.execPath}' '${child}' ${through}; exit $?`;
  const launcher = `const c = require('node:child_process').spawn('sh', ['-c', process.argv[1]], { stdio: 'inherit' }); c.on('exit', (code) => process.exit(code ?? 1));`;
  const top = spawn(process.execPath, ['-e', launcher, cmd], { stdio: ['ignore', 'pipe', 'ignore'] });
  const first = new Promise<{ pid: number; watched: number[] }>((resolve, reject) => {
    let text = '';
    top.stdout?.on('data', (d: Buffer) => {
      text += d.toString();
      const line = text.split('\n')[0];
      if (text.includes('\n') && line !== undefined)
        resolve(JSON.parse(line) as { pid: number; watched: number[] });
    });
    top.once('exit', () => reject(new Error('launcher ended before the child reported')));
  });
  return { top, first };
}

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

describe('parent watch', () => {
  it('following launchers, the child ends when the top of node → sh -c → child is killed', async () => {
    const tree = startTree('launchers');
    const { pid, watched } = await tree.first;
    started.push(pid);
    // The child and the `sh -c` between it and the launcher.
    expect(watched).toHaveLength(2);
    expect(watched[0]).toBe(pid);
    tree.top.kill('SIGKILL');
    await waitFor(() => ended(pid), { what: 'the child to end', timeoutMs: 60_000 });
  });

  it('following its own parent only, the child outlives the same kill, and ends when its parent does', async () => {
    const tree = startTree('own-parent');
    const { pid, watched } = await tree.first;
    started.push(pid);
    expect(watched).toEqual([pid]);
    const shell = parentOf(pid)!;
    started.push(shell);
    tree.top.kill('SIGKILL');
    // Still running well after several poll periods: an absence, which no event can show.
    await delay(1000);
    expect(ended(pid)).toBe(false);
    process.kill(shell, 'SIGKILL');
    await waitFor(() => ended(pid), { what: 'the child to end', timeoutMs: 60_000 });
  });
});
