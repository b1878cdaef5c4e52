// The contract every subcommand file in agent/cli/ follows. main.ts imports the file named by the
// first argument lazily, so a command's dependencies load only when it runs.

/** Where a command writes: stdout carries `--json` documents, stderr carries human output. */
export interface CliIO {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
}

/** Exit codes: 0 ok, 1 the check or work failed, 2 usage or config error. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface Command {
  readonly name: string;
  /** One line for `rigcap --help`. */
  readonly summary: string;
  /** Full usage text for `rigcap <name> --help`. */
  readonly usage: string;
  run(argv: readonly string[], io: CliIO): Promise<number>;
}
