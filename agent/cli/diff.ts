// `rigcap diff [PATH] S1 S2 [--json]`: what changed between two sessions, from their signed records.
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { RigcapError } from '../errors.ts';
import { FsSource } from '../keys/index.ts';
import { gatherSession, readChains, type SessionRecords } from '../records/index.ts';
import { diffSessions, type SessionChange } from '../records/session-diff.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type Command } from './command.ts';

const usage = `usage: rigcap diff [PATH] S1 S2 [--json]

Compares two sessions by their signed records: config keys (the secret-free snapshot in the
session-open record, checked against its configDigest), message definitions (a schema digest per
stream), calibration versions, rigcap version, de-id models and parameters, capture context.

  PATH   spool or store root holding both sessions (default: the current folder)
  S1 S2  session ids under PATH, or session folders (…/sessions/<id>) in any spool or store
  --json one JSON document: { from, to, changes: [{ kind, key, from, to }], unknown: [..] }`;

/** Where a session argument points: a session folder, or an id under the root. */
function locate(arg: string, root: string, cwd: string): { root: string; sessionId: string } {
  const path = resolve(cwd, arg);
  if (existsSync(join(path, 'session.dsse.json')) && statSync(path).isDirectory())
    return { root: dirname(dirname(path)), sessionId: basename(path) };
  return { root, sessionId: arg };
}

async function load(where: { root: string; sessionId: string }): Promise<SessionRecords> {
  const session = gatherSession(where.sessionId, await readChains(new FsSource(where.root)));
  if (session === undefined)
    throw new RigcapError('RIGCAP_NOT_FOUND', `no records of session ${where.sessionId} under ${where.root}`);
  return session;
}

const show = (v: unknown): string =>
  v === null ? '(absent)' : typeof v === 'string' ? v : JSON.stringify(v);

function formatChange(c: SessionChange): string {
  return `  ${c.kind.padEnd(18)} ${c.key}: ${show(c.from)} -> ${show(c.to)}`;
}

const command: Command = {
  name: 'diff',
  summary: 'what changed between two sessions (config, message definitions, calibration, de-id, version)',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseFlags('diff', argv, { json: { type: 'boolean' } });
    if (positionals.length !== 2 && positionals.length !== 3)
      throw new RigcapError('RIGCAP_USAGE', 'rigcap diff: expected [PATH] S1 S2');
    const [s1, s2] = positionals.slice(-2) as [string, string];
    const root = resolve(io.cwd, positionals.length === 3 ? positionals[0]! : '.');
    const a = await load(locate(s1, root, io.cwd));
    const b = await load(locate(s2, root, io.cwd));
    const diff = diffSessions(a, b);
    if (values.json === true) writeJson(io.stdout, diff);
    else {
      const lines = [
        `${diff.from} -> ${diff.to}: ${diff.changes.length === 0 ? 'no changes' : `${diff.changes.length} change${diff.changes.length === 1 ? '' : 's'}`}`,
        ...diff.changes.map(formatChange),
        ...diff.unknown.map((u) => `  not comparable: ${u}`),
      ];
      io.stdout.write(`${lines.join('\n')}\n`);
    }
    return ExitCode.ok;
  },
};

export default command;
