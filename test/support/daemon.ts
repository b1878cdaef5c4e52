// The one harness for `rigcap run` as a child process: writes its config, starts it with JSON logs on
// stdout (parsed line by line), and gives a test what it waits on: log lines as they arrive, the
// ops endpoint's /status.json, the exit. Stop and kill are bounded, and every wait names its event.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import type { AgentSnapshot } from '../../agent/ops/snapshot.ts';
import { settledWithin, waitFor, WaitTimeoutError } from './wait.ts';

const repo = join(import.meta.dirname, '..', '..');
/** The CLI entry (`node bin/rigcap.js …`, as the unit's ExecStart runs it). */
export const rigcapBin = join(repo, 'bin', 'rigcap.js');

/** One parsed pino line of the child (a line that is not JSON is kept as `{ msg }`). */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/** How a child ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Generous bounds for a loaded machine: hang detectors, not speed figures. */
const defaultLogWaitMs = 60_000;
const defaultStatusWaitMs = 60_000;
const defaultStopMs = 60_000;

/** A bounded wait for a log line. */
export interface LogWaitOptions {
  timeoutMs?: number;
  /** What the line means, for the timeout error ("capture started"). */
  what?: string;
  /** Index into `logs` from which lines count (lines before it are ignored); 0 unless given. */
  from?: number;
}

/** A bounded wait for a status the test needs. */
export interface StatusWaitOptions {
  what: string;
  timeoutMs?: number;
  everyMs?: number;
}

/** A running `rigcap run`. */
export interface Daemon {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Parsed stdout lines so far, in order. */
  readonly logs: LogLine[];
  /** stderr so far. */
  stderr(): string;
  /** Resolves once the child is gone. */
  readonly exited: Promise<Exit>;
  /** The first line (at or after `from`) that `match` accepts; rejects on timeout or when the child exits first. */
  waitForLog(match: (line: LogLine) => boolean, options?: LogWaitOptions): Promise<LogLine>;
  /** The ops endpoint URL the child logged once listening. */
  opsUrl(): Promise<string>;
  /** GET /status.json now. */
  status(): Promise<AgentSnapshot>;
  /** Polls /status.json until `check` accepts it; the timeout error carries the last status and log lines. */
  waitForStatus(check: (s: AgentSnapshot) => boolean, options: StatusWaitOptions): Promise<AgentSnapshot>;
  /** The exit, or 'hung' when the child still runs after `timeoutMs`. */
  exitWithin(timeoutMs: number): Promise<Exit | 'hung'>;
  /** Sends `signal` (SIGTERM unless given) and returns the exit, or 'hung' after `timeoutMs`. */
  stop(options?: { signal?: NodeJS.Signals; timeoutMs?: number }): Promise<Exit | 'hung'>;
  /** SIGKILL, and the exit once the child is gone (nothing sent when it already ended). */
  kill(): Promise<Exit>;
  /** The last `n` log lines and stderr's tail, for assertion messages. */
  tail(n?: number): string;
}

/** How to start the daemon. */
export interface StartOptions {
  /** Arguments after `run --config FILE`. */
  args?: readonly string[];
  /** Added to the child's environment; an undefined value removes the variable. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Writes `config` (an object, stringified as YAML, or YAML text) to `file` and returns `file`. */
export async function writeDaemonConfig(
  file: string,
  config: Record<string, unknown> | string,
): Promise<string> {
  await writeFile(file, typeof config === 'string' ? config : stringify(config));
  return file;
}

/**
 * Starts `node bin/rigcap.js run --config FILE` with JSON logs at info level. systemd's variables
 * (NOTIFY_SOCKET, WATCHDOG_*) are removed unless `env` sets them, so a test run under systemd
 * does not notify its own manager.
 */
export function startDaemon(configFile: string, options: StartOptions = {}): Daemon {
  const env: NodeJS.ProcessEnv = { ...process.env, RIGCAP_LOG_LEVEL: 'info' };
  for (const key of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) delete env[key];
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const proc = spawn(process.execPath, [rigcapBin, 'run', '--config', configFile, ...(options.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const logs: LogLine[] = [];
  const listeners = new Set<() => void>();
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    if (text.trim() === '') return;
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text };
    }
    logs.push(line);
    for (const listener of [...listeners]) listener();
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close' follows 'exit' once stdout is drained, so every line the child wrote is in `logs` by then.
  const exited = new Promise<Exit>((resolve) => {
    proc.once('close', (code, signal) => resolve({ code, signal }));
  });
  const gone = (): boolean => proc.exitCode !== null || proc.signalCode !== null;
  const tail = (n = 6): string =>
    `last lines: ${JSON.stringify(logs.slice(-n)).slice(-4000)}; stderr: ${stderr.slice(-2000)}`;

  const waitForLog = (match: (line: LogLine) => boolean, options: LogWaitOptions = {}): Promise<LogLine> => {
    const timeoutMs = options.timeoutMs ?? defaultLogWaitMs;
    const what = options.what ?? 'a matching log line';
    const from = options.from ?? 0;
    let seen = from;
    return new Promise<LogLine>((resolve, reject) => {
      const check = (): void => {
        for (; seen < logs.length; seen++) {
          const line = logs[seen]!;
          if (!match(line)) continue;
          done();
          resolve(line);
          return;
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for log: ${what}; ${tail()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      void exited.then(({ code, signal }) => {
        check();
        if (!listeners.has(check)) return;
        done();
        reject(new Error(`rigcap exited (${code ?? signal}) before the log line (${what}); ${tail()}`));
      });
      check();
    });
  };

  let url: Promise<string> | undefined;
  const opsUrl = (): Promise<string> =>
    (url ??= waitForLog((l) => l.msg === 'ops endpoint listening', { what: 'ops endpoint listening' }).then(
      (line) => String(line['url']),
    ));

  const status = async (): Promise<AgentSnapshot> => statusJson(await opsUrl());

  const exitWithin = (timeoutMs: number): Promise<Exit | 'hung'> =>
    settledWithin(exited, timeoutMs, 'hung' as const);

  return {
    proc,
    pid: proc.pid ?? -1,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog,
    opsUrl,
    status,
    async waitForStatus(check, options) {
      const base = await opsUrl();
      let last: AgentSnapshot | undefined;
      return waitFor(
        async () => {
          if (gone()) throw new Error(`rigcap exited before ${options.what}; ${tail()}`);
          last = await statusJson(base);
          return check(last) ? last : undefined;
        },
        {
          what: options.what,
          timeoutMs: options.timeoutMs ?? defaultStatusWaitMs,
          everyMs: options.everyMs ?? 250,
          detail: () => `last status: ${JSON.stringify(last)}; ${tail()}`,
        },
      );
    },
    exitWithin,
    stop({ signal = 'SIGTERM', timeoutMs = defaultStopMs } = {}) {
      if (!gone()) proc.kill(signal);
      return exitWithin(timeoutMs);
    },
    async kill() {
      if (!gone()) proc.kill('SIGKILL');
      return exited;
    },
    tail,
  };
}

/** Kills the daemon if it still runs and waits for it (afterEach). */
export async function killDaemon(daemon: Daemon | undefined): Promise<void> {
  await daemon?.kill();
}

/** GET /status.json of the ops endpoint at `url`. */
export async function statusJson(url: string): Promise<AgentSnapshot> {
  const res = await fetch(new URL('status.json', url), { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`status.json answered ${res.status}`);
  return (await res.json()) as AgentSnapshot;
}

/** True when no process with this pid exists any more (Node reaps a child before its exit event). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  return false;
}

/** Resident set size of a process in bytes (Linux /proc). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}
