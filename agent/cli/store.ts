// `rigcap store migrate --from DIR --to-db URL [--to-blobs s3://… [--s3-endpoint URL]]`: operator
// commands on a central store.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { RigcapError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';
import type { BlobWriter } from '../../receiver/state/migrate-store.ts';
import { parseDbUrl } from './receiver.ts';

const usage = `usage: rigcap store migrate --from DIR --to-db postgres://USER@HOST/DB [--db-password-file F]
                           [--to-blobs s3://BUCKET[/PREFIX] [--s3-endpoint URL]] [--json]
       rigcap store devices add ID | list | remove ID (--data DIR | --db URL | --devices FILE) [--token-file F]
       rigcap store hold | release-hold --session S (--data DIR | --db URL --key FILE)
       rigcap store expire --data DIR --policy FILE [--now ISO-8601]
         legal holds and retention expiry: README "Store retention and legal hold"

  migrate   copies an embedded store (rigcap receiver --data DIR) into PostgreSQL: keys, used
            tokens, records with their receipts, the log and the store's chain head, so the log
            root and every receipt stay valid, and the devices registered on DIR (same tokens);
            with --to-blobs its blobs go to the bucket first
            (each checked against its digest). Run it with the receivers stopped; running it
            again after success changes nothing. Then start receivers with --db (and --blobs, or
            --data DIR for the files) and the same --key.

  --db-password-file F   file holding the database password (or PGPASSWORD / PGPASSFILE)

exit: 0 migrated (or already), 1 the target holds another store, 2 usage error`;

/** The object store's blob writer (the S3 blob store has one). */
function blobWriterOf(blobs: object): BlobWriter {
  if (!('writeBlob' in blobs) || typeof blobs.writeBlob !== 'function')
    throw new RigcapError('RIGCAP_INTERNAL', 'the object store cannot write blobs');
  return blobs as BlobWriter;
}

async function migrate(argv: readonly string[], io: CliIO): Promise<number> {
  const { values } = parseFlags('store migrate', argv, {
    from: { type: 'string' },
    'to-db': { type: 'string' },
    'to-blobs': { type: 'string' },
    's3-endpoint': { type: 'string' },
    'db-password-file': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.from === undefined || values['to-db'] === undefined)
    throw new RigcapError('RIGCAP_USAGE', 'rigcap store migrate: --from DIR and --to-db URL are required');
  if (values['s3-endpoint'] !== undefined && values['to-blobs'] === undefined)
    throw new RigcapError('RIGCAP_USAGE', 'rigcap store migrate: --s3-endpoint goes with --to-blobs');
  const url = parseDbUrl(values['to-db']);
  const passwordFile = values['db-password-file'];
  const password =
    passwordFile === undefined ? undefined : (await readFile(passwordFile, 'utf8')).replace(/\r?\n$/, '');
  const level = io.env['RIGCAP_LOG_LEVEL'];
  const log = createLogger({ fd: 2, json: true, level: level ?? 'warn' });
  const { migrateStore } = await import('../../receiver/state/migrate-store.ts');
  const objects =
    values['to-blobs'] === undefined
      ? undefined
      : await (
          await import('../../receiver/backends/s3/open.ts')
        ).openS3Backends({
          url: values['to-blobs'],
          log,
          ...(values['s3-endpoint'] === undefined ? {} : { endpoint: values['s3-endpoint'] }),
        });
  try {
    const result = await migrateStore({
      fromDir: resolve(io.cwd, values.from),
      to: password === undefined ? { url } : { url, password },
      log,
      ...(objects === undefined ? {} : { blobs: blobWriterOf(objects.blobs) }),
    });
    const { migrateDeviceRegistry } = await import('../../receiver/auth/migrate-devices.ts');
    const devices = await migrateDeviceRegistry({
      fromDir: resolve(io.cwd, values.from),
      to: password === undefined ? { url } : { url, password },
      log,
    });
    if (values.json === true) writeJson(io.stdout, { ok: true, ...result, devicesRegistered: devices });
    else
      io.stdout.write(
        `${result.alreadyMigrated ? 'already migrated' : 'migrated'}: ${result.records} records, ${result.logEntries} log entries, root ${result.logRootHex}, blobs ${result.blobsCopied} copied / ${result.blobsPresent} present, ${devices} devices registered\n`,
      );
    return ExitCode.ok;
  } finally {
    await objects?.close();
  }
}

const command: Command = {
  name: 'store',
  summary: 'central store operations: migrate to PostgreSQL (+ S3), devices, legal hold, retention expiry',
  usage,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === 'migrate') return migrate(rest, io);
    if (sub === 'devices') return (await import('./store-devices.ts')).runDevices(rest, io);
    if (sub === 'hold' || sub === 'release-hold' || sub === 'expire')
      return (await import('./store-retention.ts')).runRetention(sub, rest, io);
    throw new RigcapError(
      'RIGCAP_USAGE',
      `rigcap store: unknown subcommand ${sub ?? '(none)'}; see rigcap store --help`,
    );
  },
};

export default command;
