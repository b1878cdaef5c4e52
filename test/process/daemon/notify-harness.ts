// Helpers for the daemon's systemd contract: a stand-in NOTIFY_SOCKET (the python receiver that reads
// the sender's PID like systemd), `rigcap run` as a child with chosen environment, and a loop-mounted
// ext4 spool that can be frozen to simulate a disk that stops answering.
import { spawn, spawnSync, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const repo = join(import.meta.dirname, '..', '..', '..');
const rigcapBin = join(repo, 'bin', 'rigcap.js');

/** python3, or undefined when it is not installed. */
export const python = spawnSync('python3', ['--version']).status === 0 ? 'python3' : undefined;

/** One datagram as systemd would see it. */
export interface Datagram {
  /** Sender PID from SCM_CREDENTIALS. */
  pid: number | null;
  message: string;
  /** Arrival time in the test (Date.now()). */
  atMs: number;
}

/** A bound notify socket and what it has received. */
export interface NotifyReceiver {
  readonly address: string;
  readonly datagrams: Datagram[];
  /** Waits (bounded) for a datagram matching `match` that arrives at index `from` or later. */
  waitFor(match: (d: Datagram) => boolean, timeoutMs: number, from?: number): Promise<Datagram>;
  /** Called synchronously for each datagram as it arrives (checks that must run "at that moment"). */
  onDatagram(listener: (d: Datagram) => void): void;
  close(): void;
}

/** Binds a unix datagram socket at `address` through test/fixtures/ops/notify-receiver.py. */
export async function startNotifyReceiver(address: string): Promise<NotifyReceiver> {
  const proc: ChildProcessWithoutNullStreams = spawn(python as string, [
    join(repo, 'test/fixtures/ops/notify-receiver.py'),
    address,
  ]);
  const datagrams: Datagram[] = [];
  const listeners: Array<(d: Datagram) => void> = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let listening!: () => void;
  let failed!: (err: Error) => void;
  const bound = new Promise<void>((resolve, reject) => {
    listening = resolve;
    failed = reject;
  });
  proc.once('exit', (code) => failed(new Error(`notify receiver exited (${code}): ${stderr}`)));
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const parsed = JSON.parse(line) as { pid: number | null; message: string; listening?: string };
    if (parsed.listening !== undefined) return listening();
    const d: Datagram = { pid: parsed.pid, message: parsed.message, atMs: Date.now() };
    datagrams.push(d);
    for (const l of listeners) l(d);
    for (const w of [...waiters]) w();
  });
  await bound;
  return {
    address,
    datagrams,
    onDatagram: (l) => listeners.push(l),
    waitFor(match, timeoutMs, from = 0) {
      return new Promise<Datagram>((resolve, reject) => {
        const check = (): void => {
          const found = datagrams.slice(from).find(match);
          if (found === undefined) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `no matching datagram within ${timeoutMs} ms; got ${JSON.stringify(datagrams.slice(-8).map((x) => x.message))}`,
            ),
          );
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close: () => {
      proc.kill();
    },
  };
}

/** One parsed pino line of the child. */
export type LogLine = Record<string, unknown> & { msg?: string };

/** A running `rigcap run` with the environment a test chose. */
export interface RunChild {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly logs: LogLine[];
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once a log line matches; rejects on timeout or exit. */
  waitForLog(match: (l: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
}

/**
 * Starts `node bin/rigcap.js run --config FILE` directly (as the unit's ExecStart does, so the
 * notifying process is the main PID). `env` entries set to undefined are removed.
 */
export function startRun(configFile: string, env: Readonly<Record<string, string | undefined>>): RunChild {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, RIGCAP_LOG_LEVEL: 'info' };
  for (const key of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) delete childEnv[key];
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key];
    else childEnv[key] = value;
  }
  const proc = spawn(process.execPath, [rigcapBin, 'run', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv,
  });
  const logs: LogLine[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: proc.stdout }).on('line', (text) => {
    if (text.trim() === '') return;
    try {
      logs.push(JSON.parse(text) as LogLine);
    } catch {
      logs.push({ msg: text });
    }
    for (const w of [...waiters]) w();
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    pid: proc.pid ?? -1,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog(match, timeoutMs) {
      return new Promise<LogLine>((resolve, reject) => {
        const describe = (): string =>
          `stderr: ${stderr.slice(-1500)}; last lines: ${JSON.stringify(logs.slice(-5))}`;
        const check = (): void => {
          const found = logs.find(match);
          if (found === undefined) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no matching log line within ${timeoutMs} ms; ${describe()}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        void exited.then(({ code, signal }) => {
          if (!waiters.has(check)) return;
          done();
          reject(new Error(`rigcap exited (${code ?? signal}) before the log line appeared; ${describe()}`));
        });
        check();
      });
    },
  };
}

/** SIGKILLs the child if it still runs and waits for it. */
export async function killRun(child: RunChild | undefined): Promise<void> {
  if (child === undefined || child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGKILL');
  await child.exited;
}

/** An ext4 file system on a loop device that the test can freeze (fsfreeze) and thaw. */
export interface FreezableDisk {
  readonly mountPoint: string;
  freeze(): void;
  thaw(): void;
  /** Thaws (a frozen fs would keep the child in D state) and unmounts; idempotent. */
  dispose(): void;
}

/**
 * Mounts a fresh ext4 image under `dir`, or returns the reason it cannot (not root, no loop
 * devices, no mkfs.ext4/fsfreeze): the caller skips with that message.
 */
export function mountFreezableDisk(dir: string, sizeMiB: number): FreezableDisk | string {
  const image = join(dir, 'spool.ext4');
  const mountPoint = join(dir, 'mnt');
  mkdirSync(mountPoint, { recursive: true });
  writeFileSync(image, '');
  const run = (cmd: string, args: string[]): string | null => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.error !== undefined) return `${cmd}: ${r.error.message}`;
    return r.status === 0 ? null : `${cmd} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`;
  };
  const problem =
    run('truncate', ['-s', `${sizeMiB}M`, image]) ??
    run('mkfs.ext4', ['-q', '-F', image]) ??
    run('mount', ['-o', 'loop', image, mountPoint]);
  if (problem !== null) {
    rmSync(image, { force: true });
    return problem;
  }
  let frozen = false;
  let mounted = true;
  const disk: FreezableDisk = {
    mountPoint,
    freeze() {
      const p = run('fsfreeze', ['-f', mountPoint]);
      if (p !== null) throw new Error(p);
      frozen = true;
    },
    thaw() {
      if (!frozen) return;
      const p = run('fsfreeze', ['-u', mountPoint]);
      if (p !== null) throw new Error(p);
      frozen = false;
    },
    dispose() {
      if (frozen) run('fsfreeze', ['-u', mountPoint]);
      frozen = false;
      if (mounted) run('umount', [mountPoint]);
      mounted = false;
      rmSync(image, { force: true });
    },
  };
  // Probe that this kernel freezes it (and thaws it) before a daemon depends on it.
  try {
    disk.freeze();
    disk.thaw();
  } catch (err) {
    disk.dispose();
    return String(err);
  }
  return disk;
}
