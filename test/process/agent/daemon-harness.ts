// Helpers for agent-level process tests: `rigcap run` as a child with its JSON log lines parsed,
// bounded waits, the ops endpoint, and a whole-spool consistency check (MCAP, catalog, verifier).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog } from '../../../agent/catalog/catalog.ts';
import { sha256OfFile } from '../../../agent/catalog/reconcile.ts';
import { FsSource } from '../../../agent/keys/fs-source.ts';
import { silentLogger } from '../../../agent/log.ts';
import type { AgentSnapshot } from '../../../agent/ops/snapshot.ts';
import { withIndexedReader } from '../../../agent/pipeline/mcap-read.ts';
import { verifyTree, type VerifyReport } from '../../../agent/records/index.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
export const rigcapBin = join(repo, 'bin', 'rigcap.js');

/** One parsed pino line of the child. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/** A running `rigcap run`. */
export interface DaemonChild {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Parsed stdout JSON lines so far. */
  readonly logs: LogLine[];
  /** stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal name) once the child is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits (bounded) for a log line matching `match`. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

/** Starts `rigcap run --config FILE` (JSON logs on stdout); `env` adds to (or, undefined, removes from) the child's. */
export function startDaemon(
  configFile: string,
  extraArgs: readonly string[] = [],
  options: { env?: Record<string, string | undefined> } = {},
): DaemonChild {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RIGCAP_LOG_LEVEL: 'info',
    NOTIFY_SOCKET: '',
    WATCHDOG_USEC: '',
  };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const proc = spawn(process.execPath, [rigcapBin, 'run', '--config', configFile, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const logs: LogLine[] = [];
  const waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let partial = '';
  proc.stdout?.on('data', (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const text of lines) {
      if (text.trim() === '') continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text };
      }
      logs.push(line);
      for (const w of waiters.splice(0)) {
        if (w.match(line)) w.resolve(line);
        else waiters.push(w);
      }
    }
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    proc,
    pid: proc.pid ?? -1,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog(match, timeoutMs = 30_000) {
      const found = logs.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise<LogLine>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no matching log line within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}; last lines: ${JSON.stringify(logs.slice(-5))}`,
              ),
            ),
          timeoutMs,
        );
        const done = (l: LogLine): void => {
          clearTimeout(timer);
          resolve(l);
        };
        waiters.push({ match, resolve: done });
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(
            new Error(
              `rigcap exited (${code ?? signal}) before the log line appeared; stderr: ${stderr.slice(-2000)}; last lines: ${JSON.stringify(logs.slice(-5))}`,
            ),
          );
        });
      });
    },
  };
}

/** Kills the child if it still runs and waits for it (afterEach). */
export async function killDaemon(child: DaemonChild | undefined): Promise<void> {
  if (child === undefined || child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGKILL');
  await child.exited;
}

/**
 * The child's exit, or 'hung' when it is still running after `timeoutMs`: a generous bound that
 * detects a process that never ends, not a performance figure.
 */
export function exitWithin(
  child: DaemonChild,
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    child.exited,
    new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** True when no process with this pid exists any more (Node reaps a child before its exit event). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as { code?: string }).code === 'ESRCH';
  }
  return false;
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The ops endpoint URL the child logged. */
export async function opsUrl(child: DaemonChild): Promise<string> {
  const line = await child.waitForLog((l) => l.msg === 'ops endpoint listening');
  return String(line['url']);
}

/** GET /status.json. */
export async function statusJson(url: string): Promise<AgentSnapshot> {
  const res = await fetch(new URL('status.json', url), { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`status.json answered ${res.status}`);
  return (await res.json()) as AgentSnapshot;
}

/** Resident set size of a process in bytes (Linux /proc). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

/** Decoded statements of a JSON Lines file of DSSE envelopes (session.dsse.json). */
export async function sessionStatements(
  spool: string,
  sessionId: string,
): Promise<Array<{ predicateType: string; predicate: Record<string, unknown> }>> {
  const text = await readFile(join(spool, 'sessions', sessionId, 'session.dsse.json'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map(
      (line) =>
        JSON.parse(
          Buffer.from((JSON.parse(line) as { payload: string }).payload, 'base64').toString('utf8'),
        ) as { predicateType: string; predicate: Record<string, unknown> },
    );
}

/** The decoded capture-chunk predicate of a chunk's sidecar. */
export async function chunkPredicate(
  spool: string,
  sessionId: string,
  name: string,
): Promise<Record<string, unknown>> {
  const env = JSON.parse(await readFile(join(spool, 'sessions', sessionId, `${name}.dsse.json`), 'utf8')) as {
    payload: string;
  };
  return (
    JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicate: Record<string, unknown> }
  ).predicate;
}

/** What checkSpool found; every list is empty on a consistent spool. */
export interface SpoolCheck {
  chunks: number;
  sessions: string[];
  /** `path: problem` for every chunk that does not open or does not match its catalog row. */
  chunkProblems: string[];
  /** Files left in session folders that are not committed chunks, sidecars or the session file. */
  strayFiles: string[];
  /** `*.mcap` files under quarantine/ (never allowed). */
  quarantinedMcap: string[];
  /** Every file under quarantine/ (informative). */
  quarantined: string[];
  verify: VerifyReport;
}

/** Checks a stopped spool: chunks open indexed and match the catalog byte for byte; the verifier runs over it all. */
export async function checkSpool(spool: string): Promise<SpoolCheck> {
  const catalog = Catalog.open({ path: join(spool, 'catalog.sqlite'), logger: silentLogger() });
  const chunkProblems: string[] = [];
  const strayFiles: string[] = [];
  let chunks = 0;
  const sessions = (await readdir(join(spool, 'sessions'))).sort();
  try {
    for (const sessionId of sessions) {
      const rows = new Map(catalog.listChunks({ sessionId }).map((r) => [r.name, r]));
      for (const name of (await readdir(join(spool, 'sessions', sessionId))).sort()) {
        if (name === 'session.dsse.json' || /^chunk-\d{6}\.mcap\.dsse\.json$/.test(name)) continue;
        if (!/^chunk-\d{6}\.mcap$/.test(name)) {
          strayFiles.push(`sessions/${sessionId}/${name}`);
          continue;
        }
        chunks++;
        const rel = `sessions/${sessionId}/${name}`;
        const path = join(spool, rel);
        try {
          const messages = await withIndexedReader(path, async (reader) => {
            let n = 0;
            for await (const _ of reader.readMessages()) n++;
            return n;
          });
          const row = rows.get(name);
          if (row === undefined) {
            chunkProblems.push(`${rel}: no catalog row`);
            continue;
          }
          const size = (await stat(path)).size;
          if (row.bytes !== size)
            chunkProblems.push(`${rel}: catalog says ${row.bytes} bytes, file has ${size}`);
          const sha = await sha256OfFile(path);
          if (row.sha256 !== sha) chunkProblems.push(`${rel}: catalog sha256 ${row.sha256} != file ${sha}`);
          if (row.messages !== messages)
            chunkProblems.push(`${rel}: catalog says ${row.messages} messages, file has ${messages}`);
          if (row.state !== 'sealed') chunkProblems.push(`${rel}: catalog state ${row.state}, want sealed`);
        } catch (err) {
          chunkProblems.push(`${rel}: ${String(err)}`);
        }
      }
    }
  } finally {
    catalog.close();
  }
  const quarantined = await listFiles(join(spool, 'quarantine'));
  const verify = await verifyTree(new FsSource(spool));
  return {
    chunks,
    sessions,
    chunkProblems,
    strayFiles,
    quarantinedMcap: quarantined.filter((f) => f.endsWith('.mcap')),
    quarantined,
    verify,
  };
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(join(dir, entry.name), rel)));
    else out.push(rel);
  }
  return out;
}
