// Runs the CLI in-process with captured stdout/stderr (integration tests of subcommands).
import { PassThrough } from 'node:stream';
import { main } from '../../agent/main.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `rigcap ...argv` in this process; env is minimal unless given. */
export async function runCli(
  argv: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; signal?: AbortSignal } = {},
): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main(argv, {
    stdout,
    stderr,
    env: options.env ?? { RIGCAP_LOG_LEVEL: 'silent' },
    cwd: options.cwd ?? process.cwd(),
    signal: options.signal ?? new AbortController().signal,
  });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
