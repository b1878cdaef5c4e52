// `rigcap demo` as a child process for the kill -9 tests: started in its own process group (so a
// kill of the group reaches every process of it), with its output captured and its exit awaited.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rigcapBin } from '../../support/daemon.ts';

export interface DemoChild {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `command ...args` in its own process group, output captured (the demo's launchers use it too). */
export function spawnTracked(command: string, args: readonly string[]): DemoChild {
  const proc = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, RIGCAP_LOG_LEVEL: 'info' },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { proc, stdout: () => stdout, stderr: () => stderr, exited };
}

/** The arguments of `rigcap demo --out DIR --seconds N --json` after the bin path. */
export function demoArgs(dir: string, seconds: number): string[] {
  return ['demo', '--out', dir, '--seconds', String(seconds), '--json'];
}

/** `rigcap demo --out DIR --seconds N --json` in its own process group (so a kill reaches every process of it). */
export function startDemo(dir: string, seconds: number): DemoChild {
  return spawnTracked(process.execPath, [rigcapBin, ...demoArgs(dir, seconds)]);
}

/** SIGKILL to the child's whole process group (nothing when it already ended). */
export function killGroup(child: DemoChild): void {
  if (child.proc.pid === undefined || child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  try {
    process.kill(-child.proc.pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Whether the demo's log (DIR/demo.log, shared by every run) has `msg` from this process. */
export async function logged(dir: string, pid: number, msg: string): Promise<true | undefined> {
  const text = await readFile(join(dir, 'demo.log'), 'utf8').catch(() => '');
  const needle = `"pid":${pid},`;
  for (const line of text.split('\n')) {
    if (!line.includes(needle) || !line.includes(msg)) continue;
    const parsed = JSON.parse(line) as { pid?: number; msg?: string };
    if (parsed.pid === pid && parsed.msg === msg) return true;
  }
  return undefined;
}
