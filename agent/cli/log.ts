// `rigcap log audit URL|DIR [--state FILE] [--json]`: checks a store's log never forks or shrinks
// between audits.
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errnoCode, RigcapError } from '../errors.ts';
import { writeFileAtomic } from '../fsutil/atomic-file.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';

const usage = `usage: rigcap log audit URL|DIR [--state FILE] [--json]
       rigcap log audit --tiles --key PEM URL|DIR [--state FILE] [--json]
       rigcap log prove --key PEM URL|DIR ENTRY-FILE [--index N] [--json]

  audit   fetches the store's latest checkpoint (URL: a running receiver, verified against its
          store key; DIR: an embedded store, root computed from its log) and checks it extends
          the checkpoint kept in --state from the last audit (consistency proof); the state
          file is then advanced. Without --state only the current checkpoint is checked.
          --tiles: URL|DIR is published C2SP tlog-tiles (checkpoint, tile/…); the checkpoint
          must be signed by the store public key in --key (PEM) and the tiles must hash to it.
  prove   proves from published tiles at URL|DIR alone that ENTRY-FILE (a record's exact bytes,
          e.g. records/<device>/<seq>.dsse.json of a spool) is in the log, at --index N (the
          receipt's log index) or anywhere; the checkpoint is verified as for audit --tiles.

exit: 0 consistent (audit) or included (prove), 1 fork, shrink, changed store key/origin,
tampered tiles or not included, 2 usage error`;

/** The one store signer of a store directory (records/store-…). */
function storeIdOf(dir: string): string {
  let names: string[];
  try {
    names = readdirSync(join(dir, 'records')).filter((n) => n.startsWith('store-'));
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    names = [];
  }
  const [only, ...more] = names;
  if (only === undefined || more.length > 0)
    throw new RigcapError(
      'RIGCAP_USAGE',
      `rigcap log audit: ${dir} holds ${names.length} store chains, not one`,
    );
  return only;
}

async function readState(file: string | undefined): Promise<unknown> {
  if (file === undefined) return undefined;
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new RigcapError('RIGCAP_USAGE', `rigcap log audit: --state ${file} is not an audit state file`);
  }
}

/** Published tiles at a URL or in a directory, checked against the store key in `keyFile`. */
async function tilesSource(target: string, keyFile: string | undefined, io: CliIO) {
  if (keyFile === undefined)
    throw new RigcapError('RIGCAP_USAGE', 'rigcap log audit --tiles: give the store public key with --key');
  const pem = await readFile(resolve(io.cwd, keyFile), 'utf8');
  const t = await import('../../receiver/log-tiles/tiles-source.ts');
  const read = /^https?:\/\//.test(target)
    ? t.httpTileReader(target)
    : t.dirTileReader(resolve(io.cwd, target));
  const note = await read('checkpoint');
  if (note === undefined)
    throw new RigcapError('RIGCAP_USAGE', `rigcap log audit --tiles: no checkpoint at ${target}`);
  const origin = Buffer.from(note).toString('utf8').split('\n', 1)[0] ?? '';
  return t.tilesAuditSource(read, origin, pem);
}

async function prove(argv: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('log prove', argv, {
    key: { type: 'string' },
    index: { type: 'string' },
    json: { type: 'boolean' },
  });
  const [target, file, ...extra] = positionals;
  if (target === undefined || file === undefined || extra.length > 0)
    throw new RigcapError('RIGCAP_USAGE', 'rigcap log prove: give the tiles URL|DIR and one entry file');
  const index = values.index === undefined ? undefined : Number(values.index);
  if (index !== undefined && !Number.isSafeInteger(index))
    throw new RigcapError('RIGCAP_USAGE', 'rigcap log prove: --index is a log index');
  const source = await tilesSource(target, values.key, io);
  const t = await import('../../receiver/log-tiles/tiles-source.ts');
  const { proveEntryFromTiles } = await import('../../receiver/log-tiles/prove.ts');
  const read = /^https?:\/\//.test(target)
    ? t.httpTileReader(target)
    : t.dirTileReader(resolve(io.cwd, target));
  const report = await proveEntryFromTiles(read, {
    origin: source.origin,
    publicKeyPem: source.publicKeyPem ?? '',
    entry: await readFile(resolve(io.cwd, file)),
    ...(index === undefined ? {} : { index }),
  });
  if (values.json === true) writeJson(io.stdout, report);
  else if (report.ok)
    io.stdout.write(`entry ${report.index} is in log ${report.origin} of ${report.size} entries\n`);
  else io.stderr.write(`log ${report.origin}: ${report.problem ?? 'failed'}: ${report.reason ?? ''}\n`);
  return report.ok ? ExitCode.ok : ExitCode.failed;
}

async function audit(argv: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('log audit', argv, {
    state: { type: 'string' },
    json: { type: 'boolean' },
    tiles: { type: 'boolean' },
    key: { type: 'string' },
  });
  const [target, ...extra] = positionals;
  if (target === undefined || extra.length > 0)
    throw new RigcapError('RIGCAP_USAGE', 'rigcap log audit: give one URL or store directory');
  const { auditLog, directoryAuditSource, httpAuditSource } = await import('../../receiver/log-audit.ts');
  const stateFile = values.state === undefined ? undefined : resolve(io.cwd, values.state);
  const previous = (await readState(stateFile)) as Parameters<typeof auditLog>[1];
  const source =
    values.tiles === true
      ? await tilesSource(target, values.key, io)
      : /^https?:\/\//.test(target)
        ? await httpAuditSource(target)
        : directoryAuditSource(resolve(io.cwd, target), storeIdOf(resolve(io.cwd, target)));
  const { report, next } = await auditLog(source, previous);
  if (next !== undefined && stateFile !== undefined)
    await writeFileAtomic(stateFile, `${JSON.stringify(next, null, 2)}\n`, { onExisting: 'replace' });
  if (values.json === true) writeJson(io.stdout, report);
  else if (report.ok)
    io.stdout.write(`log ${report.origin}: ${report.size} entries, consistent with the last audit\n`);
  else io.stderr.write(`log ${report.origin}: ${report.problem ?? 'failed'}: ${report.reason ?? ''}\n`);
  return report.ok ? ExitCode.ok : ExitCode.failed;
}

const command: Command = {
  name: 'log',
  summary: "audit a store's log (never forked or shrunk) and prove entries from its published tiles",
  usage,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === 'audit') return audit(rest, io);
    if (sub === 'prove') return prove(rest, io);
    throw new RigcapError(
      'RIGCAP_USAGE',
      `rigcap log: unknown subcommand ${sub ?? '(none)'}; see rigcap log --help`,
    );
  },
};

export default command;
