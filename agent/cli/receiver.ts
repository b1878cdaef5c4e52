// `rigcap receiver --listen HOST:PORT (--data DIR | --db URL --blobs s3://… --key FILE) …`
import { readFile } from 'node:fs/promises';
import type { DeviceQuotas } from '../../receiver/auth/quotas.ts';
import { RigcapError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { intFlag, parseFlags } from './args.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';

const usage = `usage: rigcap receiver --listen HOST:PORT --data DIR [--key FILE] [--enroll-token T]...
       rigcap receiver --listen HOST:PORT --db postgres://USER@HOST/DB [--db-password-file F]
                       (--blobs s3://BUCKET[/PREFIX] [--s3-endpoint URL] | --data DIR) --key FILE ...
                       [--tls-cert FILE --tls-key FILE] [--max-upload-bytes N] [--max-part-bytes N]

The reference central store: tus uploads, verify-on-arrival, a Merkle log with signed checkpoints,
custody receipts. DIR holds the store in the spool layout (verify it with \`rigcap verify DIR\`).
With --db the state lives in PostgreSQL and any number of receivers may share the database.

  --listen HOST:PORT     address to listen on (e.g. 127.0.0.1:8443, [::1]:8443)
  --data DIR             store root (state, blobs and files, unless --db / --blobs move them)
  --db URL               PostgreSQL state; the URL carries no password: PGPASSWORD, PGPASSFILE
                         (or ~/.pgpass) or --db-password-file supply it
  --db-password-file F   file holding the database password (one line)
  --blobs s3://B[/P]     blobs and tus uploads in an S3-compatible bucket (AWS credentials from
                         the environment or ~/.aws, never argv)
  --s3-endpoint URL      S3 endpoint (MinIO, Ceph RGW, ...); path-style addressing
  --key FILE             store private key (default DIR.secrets/store.key, created 0600; never inside
                         DIR); every receiver of one store uses the same key
  --enroll-token T       one-time token a device presents on its first device-key record (repeatable)
  --enroll-token-file F  tokens from a file, one a line (systemd LoadCredential=); each at least 32
                         characters (repeatable; argv is visible to every local user)
  --require-signatures   every upload and record request signed with an enrolled device key (RFC 9421)
  --devices FILE         registry of devices that may enrol (rigcap store devices --devices FILE);
                         default DIR.secrets/devices.json, or the database with --db
  --quota-bytes-per-day N  part bytes one device may send a UTC day (with --require-signatures)
  --quota-open-uploads N   uploads one device may have open at once
  --quota-upload-bytes N   largest upload one device may declare
  --ui-token-file F      serve the read-only dashboard at /ui/ to readers presenting a
                         token from F (one a line, at least 32 characters) as HTTP Basic password
                         or Bearer token (repeatable)
  --readers FILE         named reader credentials (README "Read API"): one JSON object a line,
                         {"name","role":"reader"|"auditor"|"admin","sha256":"<hex of the token>"};
                         serves the read API (/v1/sessions, records, blobs, exports) and the
                         dashboard (store files with --data, else the state's log and the
                         bucket); every read and refusal is a signed access entry
  --tls-cert/--tls-key   PEM certificate and key: serve HTTPS
  --max-upload-bytes N   largest blob accepted (default 4 GiB)
  --max-part-bytes N     largest tus PATCH body accepted (default 64 MiB)
  --region ID            the region this store holds data in, stated on GET /v1/store and in every
                         custody receipt (agents with sync.allowedRegions check it)
  --retention-policy F   store retention policy (JSON, README "Store retention"): expire blobs
                         past their retention hourly, each deletion a signed retention-action

exit: 0 after SIGINT/SIGTERM, 2 usage error`;

/** Tokens from `--enroll-token-file` files; an empty or short one is refused (exit 2). */
async function tokenFiles(paths: readonly string[] | undefined): Promise<string[]> {
  const { readTokenFile } = await import('../../receiver/auth/devices.ts');
  const tokens: string[] = [];
  for (const path of paths ?? []) tokens.push(...(await readTokenFile(path)));
  return tokens;
}

/** Named readers from a `--readers` file (exit 2 on any problem in it). */
async function readersFile(path: string) {
  const { readReadersFile } = await import('../../receiver/access/readers.ts');
  return readReadersFile(path);
}

/** Splits HOST:PORT, accepting [v6]:port. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):([0-9]{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (m === null || !(port >= 0 && port <= 65535))
    throw new RigcapError('RIGCAP_USAGE', `rigcap receiver: --listen must be HOST:PORT, got ${value}`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

/** Checks a --db URL: postgres:// or postgresql://, and no password (argv is visible to every user). */
export function parseDbUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err; // new URL() throws a TypeError on what is not a URL
    throw new RigcapError('RIGCAP_USAGE', 'rigcap receiver: --db must be a postgres:// URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new RigcapError('RIGCAP_USAGE', 'rigcap receiver: --db must be a postgres:// URL');
  if (url.password !== '' || url.searchParams.has('password'))
    throw new RigcapError(
      'RIGCAP_USAGE',
      'rigcap receiver: --db must not carry a password (the process list shows it); use PGPASSWORD, PGPASSFILE or --db-password-file',
    );
  return value;
}

type Flags = ReturnType<typeof parseReceiverFlags>['values'];

function parseReceiverFlags(argv: readonly string[]) {
  return parseFlags('receiver', argv, {
    listen: { type: 'string' },
    data: { type: 'string' },
    db: { type: 'string' },
    'db-password-file': { type: 'string' },
    blobs: { type: 'string' },
    's3-endpoint': { type: 'string' },
    key: { type: 'string' },
    'enroll-token': { type: 'string', multiple: true },
    'enroll-token-file': { type: 'string', multiple: true },
    'require-signatures': { type: 'boolean' },
    devices: { type: 'string' },
    'quota-bytes-per-day': { type: 'string' },
    'quota-open-uploads': { type: 'string' },
    'quota-upload-bytes': { type: 'string' },
    'ui-token-file': { type: 'string', multiple: true },
    readers: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'max-upload-bytes': { type: 'string' },
    'max-part-bytes': { type: 'string' },
    region: { type: 'string' },
    'retention-policy': { type: 'string' },
  });
}

function checkCombination(values: Flags): void {
  const fail = (message: string): never => {
    throw new RigcapError('RIGCAP_USAGE', `rigcap receiver: ${message}`);
  };
  if (values.listen === undefined) fail('--listen is required');
  if (values.data === undefined && values.db === undefined) fail('--data or --db is required');
  if (values.data === undefined && values.blobs === undefined)
    fail('without --data, --blobs names where blobs live');
  if (values.data === undefined && values.key === undefined) fail('without --data, --key is required');
  if (values['s3-endpoint'] !== undefined && values.blobs === undefined)
    fail('--s3-endpoint goes with --blobs');
  if (values['db-password-file'] !== undefined && values.db === undefined)
    fail('--db-password-file goes with --db');
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined))
    fail('--tls-cert and --tls-key go together');
  if (values.region !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(values.region))
    fail(`--region ${values.region}: an id of letters, digits, '.', '_' or '-'`);
}

/** Per-device quotas when any --quota-* flag is given (0: no limit). */
function quotasOf(values: Flags): { quotas?: DeviceQuotas } {
  const flags = ['quota-bytes-per-day', 'quota-open-uploads', 'quota-upload-bytes'] as const;
  if (flags.every((f) => values[f] === undefined)) return {};
  const [bytesPerDay, concurrentUploads, uploadBytes] = flags.map((f) =>
    intFlag('receiver', f, values[f], 0),
  );
  return {
    quotas: {
      bytesPerDay: bytesPerDay ?? 0,
      concurrentUploads: concurrentUploads ?? 0,
      uploadBytes: uploadBytes ?? 0,
    },
  };
}

async function passwordOf(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined;
  return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
}

const command: Command = {
  name: 'receiver',
  summary: 'run the reference central store (tus ingest, verification, Merkle log, receipts)',
  usage,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { values } = parseReceiverFlags(argv);
    checkCombination(values);
    const { host, port } = parseListen(values.listen ?? '');
    const dbUrl = values.db === undefined ? undefined : parseDbUrl(values.db);
    const password = await passwordOf(values['db-password-file']);
    const level = io.env['RIGCAP_LOG_LEVEL'];
    const log = createLogger({ fd: 2, json: true, ...(level === undefined ? {} : { level }) });
    const { startReceiver } = await import('../../receiver/server.ts');
    const tls =
      values['tls-cert'] === undefined || values['tls-key'] === undefined
        ? undefined
        : { cert: await readFile(values['tls-cert']), key: await readFile(values['tls-key']) };
    const endpoint = values['s3-endpoint'];
    const receiver = await startReceiver({
      host,
      port,
      enrollTokens: [...(values['enroll-token'] ?? []), ...(await tokenFiles(values['enroll-token-file']))],
      requireSignatures: values['require-signatures'] === true,
      ...(values.devices === undefined ? {} : { devicesFile: values.devices }),
      ...quotasOf(values),
      ...(values['ui-token-file'] === undefined
        ? {}
        : { uiReaderTokens: await tokenFiles(values['ui-token-file']) }),
      ...(values.readers === undefined ? {} : { readers: await readersFile(values.readers) }),
      log,
      maxUploadBytes: intFlag('receiver', 'max-upload-bytes', values['max-upload-bytes'], 4 * 1024 ** 3),
      maxPartBytes: intFlag('receiver', 'max-part-bytes', values['max-part-bytes'], 64 * 1024 ** 2),
      ...(values.data === undefined ? {} : { dataDir: values.data }),
      ...(dbUrl === undefined
        ? {}
        : { db: password === undefined ? { url: dbUrl } : { url: dbUrl, password } }),
      ...(values.blobs === undefined
        ? {}
        : { objectStore: endpoint === undefined ? { url: values.blobs } : { url: values.blobs, endpoint } }),
      ...(values.key === undefined ? {} : { keyFile: values.key }),
      ...(values.region === undefined ? {} : { region: values.region }),
      ...(values['retention-policy'] === undefined
        ? {}
        : { retentionPolicyFile: values['retention-policy'] }),
      ...(tls === undefined ? {} : { tls }),
    });
    io.stdout.write(
      `rigcap receiver listening on ${receiver.url} (store ${receiver.storeId}, key ${receiver.key.signer.keyId})\n`,
    );
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
