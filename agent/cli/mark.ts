// `rigcap mark "text" [--tag T]… [--config FILE] [--url URL] [--json]`: drops an event marker into
// the running agent's open chunk via its local ops endpoint (POST /marks).
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.ts';
import { RigcapError, errnoCode } from '../errors.ts';
import { parseMarkRequest } from '../ops/markers.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';

const defaultConfig = '/etc/rigcap/rigcap.yaml';
const defaultListen = '127.0.0.1:9464';

/** The ops base URL: --url, else the config's `ops.listen`, else the default port on loopback. */
function opsBaseUrl(values: { url?: string | undefined; config?: string | undefined }, io: CliIO): string {
  if (values.url !== undefined) return values.url.replace(/\/?$/, '/');
  const file =
    values.config ??
    (io.env['RIGCAP_CONFIG'] || undefined) ??
    (existsSync(defaultConfig) ? defaultConfig : undefined);
  const listen = file === undefined ? defaultListen : loadConfigFile(file).config.ops.listen;
  if (listen === '')
    throw new RigcapError('RIGCAP_AGENT_UNREACHABLE', 'the ops endpoint is disabled (`ops.listen` is empty)');
  // A wildcard bind is reached on loopback.
  const reachable = listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
  return `http://${reachable}/`;
}

const mark: Command = {
  name: 'mark',
  summary: 'drop an event marker into the running capture',
  usage: [
    'usage: rigcap mark TEXT [--tag TAG]… [--config FILE | --url URL] [--json]',
    '',
    'Sends TEXT (and tags) to the running agent, which writes it into the open chunk as MCAP',
    'metadata `rigcap.marker` and signs it into the record chain. In snapshot mode a mark also',
    'releases the pre-trigger window.',
    `  --config FILE  agent config, for \`ops.listen\` (default ${defaultConfig} if present, else ${defaultListen})`,
    '  --url URL      ops endpoint base URL instead of the config',
    '  --json         print the accepted mark as JSON',
  ].join('\n'),
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        allowPositionals: true,
        options: {
          tag: { type: 'string', multiple: true },
          config: { type: 'string' },
          url: { type: 'string' },
          json: { type: 'boolean' },
        },
      });
    } catch (err) {
      throw new RigcapError('RIGCAP_USAGE', (err as Error).message);
    }
    const { values, positionals } = parsed;
    if (positionals.length !== 1)
      throw new RigcapError('RIGCAP_USAGE', 'rigcap mark takes exactly one TEXT argument (quote it)');
    const request = parseMarkRequest({ text: positionals[0], tags: values.tag ?? [] });
    const url = new URL('marks', opsBaseUrl(values, io));
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...request, wallNs: (BigInt(Date.now()) * 1_000_000n).toString() }),
        signal: AbortSignal.any([io.signal, AbortSignal.timeout(10_000)]),
      });
    } catch (err) {
      const cause = errnoCode((err as { cause?: unknown }).cause) ?? String(err);
      throw new RigcapError('RIGCAP_AGENT_UNREACHABLE', `no agent answers at ${url.origin} (${cause})`, {
        cause: err,
      });
    }
    const body = (await res.json().catch(() => ({}))) as {
      ok?: boolean;
      mark?: { id?: string };
      error?: { code?: string; message?: string };
    };
    if (!res.ok || body.ok !== true) {
      if (body.error?.code === 'RIGCAP_MARK_INVALID')
        throw new RigcapError('RIGCAP_MARK_INVALID', body.error.message ?? 'rejected');
      throw new RigcapError(
        'RIGCAP_AGENT_UNREACHABLE',
        `the agent at ${url.origin} answered HTTP ${res.status}: ${body.error?.message ?? ''}`,
      );
    }
    if (values.json === true) io.stdout.write(`${JSON.stringify({ ok: true, mark: body.mark })}\n`);
    else io.stderr.write(`marked: ${request.text} (${body.mark?.id ?? '?'})\n`);
    return ExitCode.ok;
  },
};

export default mark;
