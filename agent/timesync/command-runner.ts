// Runs a time-service CLI (chronyc, pmc) without a shell and without blocking the event loop. The
// only process spawning in agent/timesync lives here; parsers never see a child process.
import { execFile } from 'node:child_process';
import { RigcapError, errnoCode } from '../errors.ts';

export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/** Port for running a command; tests substitute a fake that returns captured outputs. */
export interface CommandRunner {
  run(
    file: string,
    args: readonly string[],
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<CommandOutput>;
}

/** Runs commands with child_process.execFile: no shell, C locale, killed on timeout. */
export class ExecFileCommandRunner implements CommandRunner {
  /** Runs `file args…`; rejects with RIGCAP_TIMESYNC_UNAVAILABLE if missing, failing or too slow. */
  run(
    file: string,
    args: readonly string[],
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<CommandOutput> {
    return new Promise((resolve, reject) => {
      execFile(
        file,
        [...args],
        {
          timeout: options.timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: 1024 * 1024,
          // C locale so numbers and state names are printed the way the parsers expect.
          env: { ...process.env, LC_ALL: 'C' },
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        },
        (err, stdout, stderr) => {
          if (err === null) {
            resolve({ stdout, stderr });
            return;
          }
          const errno = errnoCode(err);
          const detail =
            errno === 'ENOENT'
              ? 'not found'
              : (err as { killed?: boolean }).killed === true
                ? `no answer within ${options.timeoutMs} ms`
                : `${firstLine(stderr) || firstLine(stdout) || err.message}`;
          reject(
            new RigcapError('RIGCAP_TIMESYNC_UNAVAILABLE', `${file} ${args.join(' ')}: ${detail}`, {
              cause: err,
            }),
          );
        },
      );
    });
  }
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? ''
  );
}
