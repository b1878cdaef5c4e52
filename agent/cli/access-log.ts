// `rigcap access-log STORE [--session S] [--since TIME] [--json]` (or `--db URL`): the reads,
// exports and refusals the store recorded in its log as signed `access` records.
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { RigcapError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';
import { parseDbUrl } from './receiver.ts';

const usage = `usage: rigcap access-log STORE_DIR [--session S] [--since TIME] [--json]
       rigcap access-log --db postgres://USER@HOST/DB [--session S] [--since TIME] [--json]

Lists every request to the store's read API and dashboard that the store signed into its log:
who (reader name and role), what (route, object, SHA-256 of the bytes sent), why (purpose),
when, and the outcome (read, refused, not-found, invalid, failed). Content is never logged.

  --session S    only entries naming session S (S must be a session the store holds)
  --since TIME   only entries at or after TIME (RFC 3339, e.g. 2026-01-02T03:04:05Z)
  --db URL       the store's PostgreSQL state (password from PGPASSWORD / PGPASSFILE)
  --json         { storeId, logSize, entries: [{ logIndex, seq, reader, role, action, route,
                 object, sha256, sessionId, purpose, atNs, status, outcome, code }], unverified }

exit: 0 listed, 1 an access record in the log does not verify, 2 usage error or unknown session`;

function sinceNs(value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/i;
  const ms = iso.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw new RigcapError('RIGCAP_USAGE', `rigcap access-log: --since ${value}: not an RFC 3339 time`);
  return BigInt(ms) * 1_000_000n;
}

async function openState(target: { dir?: string; db?: string }, io: CliIO) {
  const log = createLogger({ fd: 2, json: true, level: io.env['RIGCAP_LOG_LEVEL'] ?? 'warn' });
  const { openReceiverState, embeddedStatePath } = await import('../../receiver/state/open.ts');
  if (target.db !== undefined)
    return (await openReceiverState({ log, db: { url: parseDbUrl(target.db) } })).state;
  const dataDir = resolve(io.cwd, target.dir ?? '.');
  try {
    await access(embeddedStatePath(dataDir));
  } catch (err) {
    throw new RigcapError('RIGCAP_USAGE', `rigcap access-log: ${dataDir} is not a store directory`, {
      cause: err,
    });
  }
  return (await openReceiverState({ log, dataDir })).state;
}

const iso = (ns: string): string => new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();

const command: Command = {
  name: 'access-log',
  summary: "list the store's signed read, export and refusal entries",
  usage,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseFlags('access-log', argv, {
      session: { type: 'string' },
      since: { type: 'string' },
      db: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [dir] = positionals;
    if (positionals.length > 1 || (dir === undefined) === (values.db === undefined))
      throw new RigcapError('RIGCAP_USAGE', usage);
    const since = sinceNs(values.since);
    const state = await openState(
      { ...(dir === undefined ? {} : { dir }), ...(values.db === undefined ? {} : { db: values.db }) },
      io,
    );
    try {
      const sessionId = values.session;
      if (sessionId !== undefined && (await state.sessionRecords(sessionId)).length === 0)
        throw new RigcapError(
          'RIGCAP_SESSION_UNKNOWN',
          `rigcap access-log: the store has no session ${sessionId}`,
        );
      const { readAccessLog } = await import('../../receiver/access/access-log.ts');
      const log = await readAccessLog(state, sessionId === undefined ? {} : { sessionId });
      if (since !== undefined) log.entries = log.entries.filter((e) => BigInt(e.atNs) >= since);
      if (values.json === true) writeJson(io.stdout, log);
      else {
        for (const e of log.entries)
          io.stdout.write(
            `${iso(e.atNs)}  ${e.outcome.padEnd(9)} ${String(e.status)}  ${(e.reader ?? '-').padEnd(12)} ${(e.role ?? '-').padEnd(7)} ${e.action.padEnd(6)} ${e.object}${e.sha256 === null ? '' : ` sha256:${e.sha256.slice(0, 16)}…`}  purpose: ${e.purpose ?? '-'}${e.code === null ? '' : `  ${e.code}`}  [log ${e.logIndex}]\n`,
          );
        io.stdout.write(
          `${log.entries.length} access entries (store ${log.storeId ?? 'with no records yet'}, log size ${log.logSize})\n`,
        );
        for (const index of log.unverified)
          io.stderr.write(`access record at log index ${index} does not verify against the store key\n`);
      }
      return log.unverified.length > 0 ? ExitCode.failed : ExitCode.ok;
    } finally {
      await state.close();
    }
  },
};

export default command;
