// The fleet store as an operator runs it: `rigcap receiver --db postgres://… --blobs s3://…` child
// processes on one PostgreSQL and one RGW bucket, each on a fixed loopback port so a restart comes
// back at the same address. Each instance's RSS is sampled (VmRSS and the kernel's high-water mark
// VmHWM) for the whole run, across restarts; its stderr (JSON logs) goes to a file.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll } from 'vitest';
import { rigcapBin } from './daemon.ts';
import { startPostgres, type PostgresEngine } from './engines/postgres.ts';
import { startRgw, type RgwEngine } from './engines/rgw.ts';
import { waitFor } from './wait.ts';
import { freePort } from '../../scripts/engines/engines.ts';

export { freePort } from '../../scripts/engines/engines.ts';

/** kB field of /proc/PID/status (VmRSS, VmHWM), or 0 once the process is gone. */
export function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? 0 : Number(m[1]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH')
      return 0;
    throw err;
  }
}

/** The last lines of a log file, for an assertion message. */
export function logTail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '(no log)';
    throw err;
  }
}

/** How to run one receiver instance. */
export interface ReceiverArgs {
  /** Arguments after `receiver --listen 127.0.0.1:PORT`. */
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  /** stderr (JSON logs) of every life of the instance is appended here. */
  logFile: string;
}

/** One receiver instance that can be killed and started again at the same port. */
export class ReceiverInstance {
  readonly port: number;
  readonly url: string;
  readonly #o: ReceiverArgs;
  #proc: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #sampler: NodeJS.Timeout | undefined;
  /** Highest VmHWM seen over every life, in kB. */
  peakRssKb = 0;
  starts = 0;

  constructor(port: number, o: ReceiverArgs) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.#o = o;
  }

  get pid(): number | undefined {
    return this.#proc?.exitCode === null ? this.#proc.pid : undefined;
  }

  /** Starts the process and resolves once it says it listens (bounded). */
  async start(): Promise<void> {
    const proc = spawn(
      process.execPath,
      [rigcapBin, 'receiver', '--listen', `127.0.0.1:${this.port}`, ...this.#o.args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, RIGCAP_LOG_LEVEL: 'info', ...this.#o.env },
      },
    );
    this.#proc = proc;
    this.starts += 1;
    const log = createWriteStream(this.#o.logFile, { flags: 'a' });
    proc.stderr!.pipe(log);
    let listening = false;
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.includes('listening on')) listening = true;
    });
    this.#exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    this.#sampler ??= setInterval(() => this.sample(), 100);
    await waitFor(
      () => {
        if (proc.exitCode !== null || proc.signalCode !== null)
          throw new Error(`receiver on ${this.port} exited on start: ${logTail(this.#o.logFile)}`);
        return listening;
      },
      { timeoutMs: 60_000, what: `receiver on port ${this.port} to listen` },
    );
  }

  /** Reads the current process's high-water mark into `peakRssKb`. */
  sample(): void {
    const pid = this.pid;
    if (pid !== undefined) this.peakRssKb = Math.max(this.peakRssKb, procStatusKb(pid, 'VmHWM'));
  }

  /** SIGKILL now, and resolves once the process is gone. */
  async kill9(): Promise<void> {
    this.sample();
    this.#proc?.kill('SIGKILL');
    await this.#exited;
  }

  /** SIGTERM (graceful stop), then SIGKILL after 30 s. */
  async stop(): Promise<void> {
    this.sample();
    clearInterval(this.#sampler);
    this.#sampler = undefined;
    const proc = this.#proc;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Whether the process is alive. */
  alive(): boolean {
    return this.pid !== undefined;
  }
}

/** `n` receivers on one database and bucket, started one after the other (the first creates the key). */
export async function startReceivers(
  n: number,
  o: { dir: string; args: readonly string[]; env: Readonly<Record<string, string>> },
): Promise<ReceiverInstance[]> {
  const out: ReceiverInstance[] = [];
  for (let i = 0; i < n; i++) {
    const r = new ReceiverInstance(await freePort(), {
      args: o.args,
      env: o.env,
      logFile: join(o.dir, `receiver-${i}.log`),
    });
    await r.start();
    out.push(r);
  }
  return out;
}

/** Arguments for a fleet receiver on PostgreSQL + S3, with tokens from a file and signed requests. */
export function fleetArgs(o: {
  dir: string;
  dbUrl: string;
  /** s3://BUCKET/PREFIX and its endpoint; without them, `extra` names `--data DIR`. */
  blobs?: string;
  endpoint?: string;
  tokens: readonly string[];
  extra?: readonly string[];
}): string[] {
  const tokenFile = join(o.dir, 'enroll-tokens');
  writeFileSync(tokenFile, `${o.tokens.join('\n')}\n`, { mode: 0o600 });
  return [
    '--db',
    o.dbUrl,
    ...(o.blobs === undefined ? [] : ['--blobs', o.blobs, '--s3-endpoint', o.endpoint ?? '']),
    '--key',
    join(o.dir, 'store.key'),
    '--enroll-token-file',
    tokenFile,
    '--require-signatures',
    ...(o.extra ?? []),
  ];
}

/** What a fleet suite's tests use; pg, rgw and root throw before beforeAll has run. */
export interface FleetSuite {
  readonly pg: PostgresEngine;
  readonly rgw: RgwEngine;
  readonly root: string;
  /** The receivers a test started; stopped after the suite. */
  receivers: ReceiverInstance[];
}

/**
 * Registers beforeAll (PostgreSQL and RGW started side by side, a temp dir named by `prefix`) and
 * afterAll (receivers stopped, then the engines, dir removed); call it inside describe.
 */
export function fleetSuite(prefix: string): FleetSuite {
  let pg: PostgresEngine | undefined;
  let rgw: RgwEngine | undefined;
  let root: string | undefined;
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the fleet suite has not started yet (used outside a test)');
    return value;
  };
  const suite: FleetSuite = {
    get pg() {
      return started(pg);
    },
    get rgw() {
      return started(rgw);
    },
    get root() {
      return started(root);
    },
    receivers: [],
  };
  beforeAll(async () => {
    [pg, rgw] = await Promise.all([startPostgres(), startRgw()]);
    root = mkdtempSync(join(tmpdir(), prefix));
  }, 240_000);
  afterAll(async () => {
    for (const r of suite.receivers) await r.stop();
    await Promise.all([pg?.stop(), rgw?.stop()]);
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  }, 120_000);
  return suite;
}
