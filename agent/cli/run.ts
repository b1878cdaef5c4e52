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
    const log = createLogger();
    const daemon = new Daemon({ config: loaded.config, configDigest: loaded.digest, log, env: io.env });
    try {
      await daemon.start(io.signal);
    } catch (err) {
      log.fatal(
        { code: isRigcapError(err) ? err.code : 'RIGCAP_INTERNAL', err: String(err) },
        'start failed',
      );
      throw err;
    }
    if (!io.signal.aborted)
      await new Promise<void>((resolve) =>
        io.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
    log.info({ reason: String(io.signal.reason) }, 'shutting down');
    const timeoutMs = values['stop-timeout-ms'] === undefined ? 30_000 : Number(values['stop-timeout-ms']);
    if (!Number.isFinite(timeoutMs))
      throw new RigcapError('RIGCAP_USAGE', '--stop-timeout-ms must be a number');
    await daemon.stop({ timeoutMs, reason: 'signal' });
    log.info({ sessionId: daemon.agent.sessionId, chunks: daemon.agent.sessionChunks }, 'stopped');
    return ExitCode.ok;
  },
};

export default command;
