// `rigcap mark "text" [--tag T]… [--config FILE] [--url URL] [--json]`: drops an event marker into
// the running agent's open chunk via its local ops endpoint (POST /marks).
import { parseArgs } from 'node:util';
import { RigcapError, errnoCode } from '../errors.ts';
import { parseMarkRequest } from '../ops/markers.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';
import { defaultConfig, defaultListen, opsBaseUrl } from './ops-url.ts';

const mark: Command = {
  name: 'mark',
  summary: 'drop an event marker into the running capture',
  usage: [
    'usage: rigcap mark TEXT [--tag TAG]… [--operator NAME] [--config FILE | --url URL] [--json]',
    '',
    'Sends TEXT (and tags) to the running agent, which writes it into the open chunk as MCAP',
    'metadata `rigcap.marker` and signs it into the record chain. In snapshot mode a mark also',
    'releases the pre-trigger window.',
    '  --operator NAME  who makes the mark (signed into its event-marker record)',
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
          operator: { type: 'string' },
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
    const request = parseMarkRequest({
      text: positionals[0],
      tags: values.tag ?? [],
      ...(values.operator === undefined ? {} : { operator: values.operator }),
    });
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
    // An answer that is not JSON (a proxy's error page) reads as an empty body: the status says the rest.
    const body = (await res.json().catch((err: unknown) => {
      if (!(err instanceof SyntaxError)) throw err;
      return {};
    })) as {
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
