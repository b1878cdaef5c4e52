// Process glue for the CLI: signals to an AbortSignal, the exit code to process.exitCode. A signal
// ends the process in every state: the first one asks the command to stop (the daemon's ordered
// shutdown), a second one while it stops exits at once, and one that arrives after the command
// returned exits at once too. Whatever a command left open cannot keep the process alive.
import { constants } from 'node:os';
import { main } from './main.ts';

/** How long the process may linger after the command returned before it exits regardless. */
const lingerMs = 1500;

/** 128 + the signal number, the shell's convention for "ended by this signal". */
function signalExitCode(sig: NodeJS.Signals): number {
  return 128 + (constants.signals[sig] ?? 2);
}

/** Runs `rigcap` in this process with process.argv. */
export async function runCli(): Promise<void> {
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
