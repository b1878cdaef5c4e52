// `rigcap receiver --listen HOST:PORT --data DIR [--key FILE] [--enroll-token T]… [--tls-cert F --tls-key F]`
import { readFile } from 'node:fs/promises';
import { RigcapError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { intFlag, parseFlags } from './args.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';

const usage = `usage: rigcap receiver --listen HOST:PORT --data DIR [--key FILE] [--enroll-token T]...
                       [--tls-cert FILE --tls-key FILE] [--max-upload-bytes N] [--max-part-bytes N]

The reference central store: tus uploads, verify-on-arrival, a Merkle log with signed checkpoints,
custody receipts. DIR holds the store in the spool layout (verify it with \`rigcap verify DIR\`).

  --listen HOST:PORT     address to listen on (e.g. 127.0.0.1:8443, [::1]:8443)
  --data DIR             store root
  --key FILE             store private key (default DIR.secrets/store.key, created 0600; never inside DIR)
  --enroll-token T       one-time token a device presents on its first device-key record (repeatable)
  --tls-cert/--tls-key   PEM certificate and key: serve HTTPS
  --max-upload-bytes N   largest blob accepted (default 4 GiB)
  --max-part-bytes N     largest tus PATCH body accepted (default 64 MiB)

exit: 0 after SIGINT/SIGTERM, 2 usage error`;

/** Splits HOST:PORT, accepting [v6]:port. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):([0-9]{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (m === null || !(port >= 0 && port <= 65535))
    throw new RigcapError('RIGCAP_USAGE', `rigcap receiver: --listen must be HOST:PORT, got ${value}`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

const command: Command = {
  name: 'receiver',
  summary: 'run the reference central store (tus ingest, verification, Merkle log, receipts)',
  usage,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { values } = parseFlags('receiver', argv, {
      listen: { type: 'string' },
      data: { type: 'string' },
      key: { type: 'string' },
      'enroll-token': { type: 'string', multiple: true },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'max-upload-bytes': { type: 'string' },
      'max-part-bytes': { type: 'string' },
    });
    if (values.listen === undefined || values.data === undefined)
      throw new RigcapError('RIGCAP_USAGE', 'rigcap receiver: --listen and --data are required');
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
      throw new RigcapError('RIGCAP_USAGE', 'rigcap receiver: --tls-cert and --tls-key go together');
    }
    const { host, port } = parseListen(values.listen);
    const log = createLogger({ fd: 2, json: true });
    const { startReceiver } = await import('../../receiver/server.ts');
    const tls =
      values['tls-cert'] === undefined || values['tls-key'] === undefined
        ? undefined
        : { cert: await readFile(values['tls-cert']), key: await readFile(values['tls-key']) };
    const receiver = await startReceiver({
      dataDir: values.data,
      host,
      port,
      enrollTokens: values['enroll-token'] ?? [],
      log,
      maxUploadBytes: intFlag('receiver', 'max-upload-bytes', values['max-upload-bytes'], 4 * 1024 ** 3),
      maxPartBytes: intFlag('receiver', 'max-part-bytes', values['max-part-bytes'], 64 * 1024 ** 2),
      ...(values.key === undefined ? {} : { keyFile: values.key }),
      ...(tls === undefined ? {} : { tls }),
    });
    io.stdout.write(`rigcap receiver listening on ${receiver.url} (store ${receiver.storeId})\n`);
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) resolve();
      io.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await receiver.close();
    log.info('receiver stopped');
    return ExitCode.ok;
  },
};

export default command;
