// The store bench's receivers: `rigcap receiver` child processes on one PostgreSQL and one bucket,
// each on its own loopback port, with their peak RSS read from /proc before they stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../engines/engines.ts';

const rigcapJs = join(import.meta.dirname, '..', '..', 'bin', 'rigcap.js');

/** A running receiver process. */
export interface ReceiverProcess {
  readonly baseUrl: string;
  readonly pid: number;
  /** Peak resident set (VmHWM) so far, MiB. */
  peakRssMb(): Promise<number>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/** Where the receivers keep state and blobs, and what they enrol with. */
export interface ReceiverSetup {
  dbUrl: string;
  blobs: string;
  s3Endpoint: string | undefined;
  keyFile: string;
  tokenFile: string;
  env: NodeJS.ProcessEnv;
}

async function readyOrExit(child: ChildProcess, baseUrl: string, output: () => string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`receiver exited with ${child.exitCode} before it listened: ${output()}`);
    const ok = await fetch(`${baseUrl}/v1/store`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`receiver did not listen within 120 s: ${output()}`);
}

/** Starts one `rigcap receiver --db … --blobs …` and waits until it answers. */
export async function startReceiverProcess(s: ReceiverSetup): Promise<ReceiverProcess> {
  const port = await freePort();
  const args = [rigcapJs, 'receiver', '--listen', `127.0.0.1:${port}`, '--db', s.dbUrl, '--blobs', s.blobs];
  if (s.s3Endpoint !== undefined) args.push('--s3-endpoint', s.s3Endpoint);
  args.push('--key', s.keyFile, '--enroll-token-file', s.tokenFile, '--require-signatures');
  const child = spawn(process.execPath, args, { env: s.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr?.on('data', (b: Buffer) => {
    tail = (tail + b.toString('utf8')).slice(-4000);
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await readyOrExit(child, baseUrl, () => tail);
  const pid = child.pid ?? 0;
  return {
    baseUrl,
    pid,
    async peakRssMb() {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 'NaN');
      return kb / 1024;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
