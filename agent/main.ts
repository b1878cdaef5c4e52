// Composition root of the CLI: picks the subcommand, loads it lazily, maps errors to exit codes.
import { ExitCode, type CliIO, type Command } from './cli/command.ts';
import { asRigcapError, type RigcapError } from './errors.ts';

/** Subcommands and the file that implements each (loaded only when used). */
const commands: Record<string, () => Promise<{ default: Command }>> = {
  run: () => import('./cli/run.ts'),
  demo: () => import('./cli/demo.ts'),
  status: () => import('./cli/status.ts'),
  verify: () => import('./cli/verify.ts'),
  export: () => import('./cli/export.ts'),
  diff: () => import('./cli/diff.ts'),
  readiness: () => import('./cli/readiness.ts'),
  trace: () => import('./cli/trace.ts'),
  ingest: () => import('./cli/ingest.ts'),
  inspect: () => import('./cli/inspect.ts'),
  keys: () => import('./cli/keys.ts'),
  deid: () => import('./cli/deid.ts'),
  receiver: () => import('./cli/receiver.ts'),
  store: () => import('./cli/store.ts'),
  log: () => import('./cli/log.ts'),
  'access-log': () => import('./cli/access-log.ts'),
  sync: () => import('./cli/sync.ts'),
  selftest: () => import('./cli/selftest.ts'),
  bench: () => import('./cli/bench.ts'),
  calib: () => import('./cli/calib.ts'),
  mark: () => import('./cli/mark.ts'),
  bundle: () => import('./cli/bundle.ts'),
  release: () => import('./cli/release.ts'),
};

async function loadCommand(name: string): Promise<Command | undefined> {
  const load = commands[name];
  if (load === undefined) return undefined;
  try {
    return (await load()).default;
  } catch (err) {
    if (
      (err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' &&
      String(err).includes(`/cli/${name}.ts`)
    ) {
      return undefined;
    }
    throw err;
  }
}

async function help(io: CliIO): Promise<void> {
  const lines = ['usage: rigcap <command> [options]', '', 'commands:'];
  for (const name of Object.keys(commands)) {
    // A command whose module fails to load (a missing native dependency) is listed with the reason.
    const cmd = await loadCommand(name).catch((err: unknown) =>
      err instanceof Error ? err : new Error(String(err)),
    );
    if (cmd instanceof Error) lines.push(`  ${name.padEnd(10)} (cannot load: ${cmd.message.split('\n')[0]})`);
    else if (cmd !== undefined) lines.push(`  ${name.padEnd(10)} ${cmd.summary}`);
  }
  lines.push('', 'Run `rigcap <command> --help` for its options.');
  io.stderr.write(`${lines.join('\n')}\n`);
}

/** Runs the CLI and returns the exit code. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    await help(io);
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (name === '--version') {
    const pkg = (await import('../package.json', { with: { type: 'json' } })).default as { version: string };
    io.stdout.write(`${pkg.version}\n`);
    return ExitCode.ok;
  }
  const cmd = await loadCommand(name);
  if (cmd === undefined) {
    io.stderr.write(`RIGCAP_USAGE: unknown command '${name}'\n`);
    await help(io);
    return ExitCode.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stderr.write(`${cmd.usage}\n`);
    return ExitCode.ok;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    const json = rest.includes('--json');
    // A coded error from below the agent (a DriverError from createDrivers) keeps its code.
    const rigErr = asRigcapError(err);
    if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: rigErr.toJSON() })}\n`);
    io.stderr.write(`${rigErr.format()}\n`);
    if (rigErr.code === 'RIGCAP_INTERNAL' && err instanceof Error && err.stack)
      io.stderr.write(`${err.stack}\n`);
    return exitCodeFor(rigErr);
  }
}

/** Usage and config errors exit 2; everything else that failed exits 1. */
export function exitCodeFor(err: RigcapError): number {
  return err.code === 'RIGCAP_USAGE' ||
    err.code === 'RIGCAP_SESSION_UNKNOWN' ||
    err.code === 'RIGCAP_TRACE_NOT_FOUND' ||
    err.code.startsWith('RIGCAP_CONFIG_')
    ? ExitCode.usage
    : ExitCode.failed;
}
