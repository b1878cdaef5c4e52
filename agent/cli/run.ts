// `rigcap run --config FILE [--check]`: the daemon (systemd Type=notify). SIGINT/SIGTERM run the
// ordered shutdown; a second signal abandons the drain.
import { loadConfigFile } from '../config/load.ts';
import { Daemon } from '../daemon.ts';
import { RigcapError, isRigcapError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { parseFlags } from './args.ts';
import { ExitCode, type Command } from './command.ts';
import { defaultConfig } from './ops-url.ts';

const command: Command = {
  name: 'run',
  summary: 'the capture daemon (systemd Type=notify)',
  usage: [
    'usage: rigcap run --config FILE [--check]',
    '  --config FILE   YAML config (default /etc/rigcap/rigcap.yaml or $RIGCAP_CONFIG)',
    '  --check         validate the config and exit (0 valid, 2 invalid)',
    'Stops on SIGINT/SIGTERM: stop intake, drain queues, seal the open chunk, close the session, exit 0.',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseFlags('run', argv, {
      config: { type: 'string' },
      check: { type: 'boolean', default: false },
      'stop-timeout-ms': { type: 'string' },
    });
    const file = values.config ?? io.env['RIGCAP_CONFIG'] ?? defaultConfig;
    const loaded = loadConfigFile(file);
    if (values.check) {
      io.stderr.write(
        `${file}: valid (version ${loaded.config.version}, ${loaded.config.streams.length} streams, digest ${loaded.digest.slice(0, 12)})\n`,
      );
      return ExitCode.ok;
    }
    const timeoutMs = values['stop-timeout-ms'] === undefined ? 30_000 : Number(values['stop-timeout-ms']);
    if (!Number.isFinite(timeoutMs))
      throw new RigcapError('RIGCAP_USAGE', '--stop-timeout-ms must be a number');
    const log = createLogger();
    const daemon = new Daemon({ config: loaded.config, configDigest: loaded.digest, log, env: io.env });
    // A failed start has released everything it opened (Daemon.start) before it is reported here.
    const starting = daemon.start(io.signal);
    let first: 'started' | 'signal';
    try {
      first = await Promise.race([starting.then(() => 'started' as const), aborted(io.signal)]);
    } catch (err) {
      if (io.signal.aborted) return cancelled(io.signal.reason);
      log.fatal(
        {
          code: isRigcapError(err) ? err.code : 'RIGCAP_INTERNAL',
          err,
        },
        'start failed',
      );
      throw err;
    }
    if (first === 'signal') {
      // A signal during start-up abandons the start: release what is open, then exit.
      await daemon.destroy(new Error('start cancelled by a signal'));
      await settledWithin(starting, cancelGraceMs);
      return cancelled(io.signal.reason);
    }
    await aborted(io.signal);
    log.info({ reason: String(io.signal.reason) }, 'shutting down');
    const stopping = daemon.stop({ timeoutMs, reason: 'signal' });
    // stop() abandons queued work after timeoutMs; past that plus a grace, abandon the rest too.
    if (!(await settledWithin(stopping, timeoutMs + cancelGraceMs))) {
      log.error({ timeoutMs }, 'ordered shutdown did not finish; abandoning it');
      await daemon.destroy(new Error('shutdown overran'));
      return ExitCode.failed;
    }
    await stopping;
    log.info({ sessionId: daemon.agent.sessionId, chunks: daemon.agent.sessionChunks }, 'stopped');
    return ExitCode.ok;

    function cancelled(reason: unknown): number {
      log.info({ reason: String(reason) }, 'start cancelled; stopped');
      return ExitCode.ok;
    }
  },
};

/** How long a cancelled start or an overrun stop may take to settle after everything was released. */
const cancelGraceMs = 2_000;

/** Resolves 'signal' once `signal` is aborted (at once if it already is). */
function aborted(signal: AbortSignal): Promise<'signal'> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve('signal');
    else signal.addEventListener('abort', () => resolve('signal'), { once: true });
  });
}

/** True when `work` settled (either way) within `ms`. */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const overdue = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      overdue,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export default command;
