// Process glue for the CLI: signals to an AbortSignal, the exit code to process.exitCode. A signal
// ends the process in every state: the first one asks the command to stop (the daemon's ordered
// shutdown), a second one while it stops exits at once, and one that arrives after the command
// returned exits at once too. Whatever a command left open cannot keep the process alive.
// Interactive commands, and any command under the Node-22 re-exec wrapper, die with their launcher.
import { constants } from 'node:os';
import { main } from './main.ts';
import { reexecParentEnv, watchParent } from './ops/parent-watch.ts';

/** Commands a user runs from a terminal (or npx): they end with whatever launched them. */
const interactive = new Set(['demo', 'ingest']);

/**
 * Ends this process like the `kill -9` that hit its launcher: no ordered shutdown, what is on disk
 * is left for the next start's recovery, and the spool claim is stale the moment this pid is gone.
 * `rigcap run` started directly (systemd, nohup) never follows its parent; under the wrapper it does.
 */
function followLauncher(argv: readonly string[]): void {
  const underWrapper = process.env[reexecParentEnv] === String(process.ppid);
  const name = argv[0] ?? '';
  if (interactive.has(name) || underWrapper) startWatch(name);
  // Not passed on: a process this one starts is not the wrapper's child.
  delete process.env[reexecParentEnv];
}

function startWatch(name: string): void {
  watchParent({
    through: interactive.has(name) ? 'launchers' : 'own-parent',
    onOrphaned: ({ pid, parentAtStart }) => {
      try {
        process.stderr.write(
          `rigcap ${name}: launcher gone (parent ${parentAtStart} of pid ${pid} ended); stopping like it\n`,
        );
      } finally {
        process.kill(process.pid, 'SIGKILL');
      }
    },
  });
}

/** How long the process may linger after the command returned before it exits regardless. */
const lingerMs = 1500;

/** 128 + the signal number, the shell's convention for "ended by this signal". */
function signalExitCode(sig: NodeJS.Signals): number {
  return 128 + (constants.signals[sig] ?? 2);
}

/** Runs `rigcap` in this process with process.argv. */
export async function runCli(): Promise<void> {
  // Before reading the environment into the command's io, which then no longer names the wrapper.
  followLauncher(process.argv.slice(2));
  const controller = new AbortController();
  let signals = 0;
  let returned = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals += 1;
    // After the command returned nothing is left to finish; a second signal means "now".
    if (returned) process.exit(process.exitCode ?? signalExitCode(sig));
    if (signals > 1) process.exit(signalExitCode(sig));
    controller.abort(new Error(`received ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const code = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
  });
  process.exitCode = code;
  returned = true;
  // Normally nothing is open any more and the process ends now (worker threads may take a moment to
  // wind down); if a handle leaked, name it, and exit regardless.
  const linger = setTimeout(() => {
    const open = process
      .getActiveResourcesInfo()
      .filter((r) => r !== 'Timeout' && r !== 'TTYWrap' && r !== 'PipeWrap');
    if (open.length > 0)
      process.stderr.write(
        `rigcap: exiting with code ${code}; still open ${lingerMs} ms after the command returned: ${open.join(', ')}\n`,
      );
    process.exit(code);
  }, lingerMs);
  linger.unref();
}
