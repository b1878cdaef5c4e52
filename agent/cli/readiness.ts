// `rigcap readiness PATH [--session S] [--profile training|audit] [--json]`: provenance readiness of
// each session in a spool, a store or an exported in-toto bundle, from its signed records only.
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { storedReceiptJson } from '../catalog/stored-receipts.ts';
import { RigcapError, errnoCode } from '../errors.ts';
import { FsSource } from '../keys/index.ts';
import { decodeRecord, gatherSession, type DecodedRecord } from '../records/index.ts';
import {
  readinessProfileProblems,
  scoreSession,
  type ReadinessProfile,
  type SessionReadiness,
} from '../records/readiness.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type Command } from './command.ts';

const profilesUrl = new URL('../../config/readiness/profiles.yaml', import.meta.url);

const usage = `usage: rigcap readiness PATH [--session S] [--profile training|audit] [--json]

  PATH        a spool, a store, or an exported in-toto bundle (rigcap export … --format intoto)
  --session   score only this session (default: every session in PATH)
  --profile   thresholds from config/readiness/profiles.yaml (default: training)

Scores each session 0–100 from its signed records; each factor says its value, the points it took
off and why. Exit 1 when a session scores below the profile's minScore, 2 on usage errors.
JSON: { profile, minScore, sessions: [{ sessionId, score, belowProfile, factors: [{ name, value, cost, reason }] }] }`;

/** Every signer's decoded records under a spool or store root. */
export async function chainsOfTree(root: string): Promise<Map<string, DecodedRecord[]>> {
  const source = new FsSource(root);
  const chains = new Map<string, DecodedRecord[]>();
  for (const signer of await source.list('records')) {
    const records: DecodedRecord[] = [];
    for (const name of await source.list(`records/${signer}`)) {
      if (!/^[0-9]{12}\.dsse\.json$/.test(name)) continue;
      const bytes = await source.readFile(`records/${signer}/${name}`);
      const decoded = bytes === undefined ? undefined : decodeRecord(bytes);
      if (decoded?.ok === true) records.push(decoded.record);
    }
    chains.set(signer, records);
  }
  for (const r of await spoolReceipts(root)) {
    const list = chains.get(r.chain.deviceId) ?? [];
    if (!list.some((x) => x.chain.seq === r.chain.seq)) list.push(r);
    chains.set(r.chain.deviceId, list);
  }
  for (const list of chains.values()) list.sort((a, b) => a.chain.seq - b.chain.seq);
  return chains;
}

/** Custody receipts a spool keeps in its SQLite files (any table with a `receipt_json` column). */
async function spoolReceipts(root: string): Promise<DecodedRecord[]> {
  const out: DecodedRecord[] = [];
  for (const r of await storedReceiptJson(root)) {
    const decoded = decodeRecord(new TextEncoder().encode(r.endsWith('\n') ? r : `${r}\n`));
    if (decoded.ok && decoded.record.name === 'custody-receipt') out.push(decoded.record);
  }
  return out;
}

/** Records of an exported bundle, by signer. */
export function chainsOfBundle(bytes: Uint8Array): Map<string, DecodedRecord[]> {
  const chains = new Map<string, DecodedRecord[]>();
  const encoder = new TextEncoder();
  for (const line of new TextDecoder().decode(bytes).split('\n')) {
    if (line.trim() === '') continue;
    const decoded = decodeRecord(encoder.encode(`${line}\n`));
    if (!decoded.ok) continue;
    const list = chains.get(decoded.record.chain.deviceId) ?? [];
    list.push(decoded.record);
    chains.set(decoded.record.chain.deviceId, list);
  }
  for (const list of chains.values()) list.sort((a, b) => a.chain.seq - b.chain.seq);
  return chains;
}

async function loadProfile(name: string): Promise<ReadinessProfile> {
  const all = parseYaml(await readFile(profilesUrl, 'utf8')) as Record<string, unknown>;
  const value = all[name];
  if (value === undefined)
    throw new RigcapError(
      'RIGCAP_USAGE',
      `rigcap readiness: unknown --profile ${name} (known: ${Object.keys(all).join(', ')})`,
    );
  const problems = readinessProfileProblems(name, value);
  if (problems.length > 0)
    throw new RigcapError('RIGCAP_CONFIG_INVALID', `${profilesUrl.pathname}: ${problems.join('; ')}`);
  return value as ReadinessProfile;
}

function sessionIds(chains: ReadonlyMap<string, readonly DecodedRecord[]>): string[] {
  const ids = new Set<string>();
  for (const records of chains.values())
    for (const r of records)
      if (
        (r.name === 'session' || r.name === 'capture-chunk') &&
        typeof r.predicate['sessionId'] === 'string'
      )
        ids.add(r.predicate['sessionId']);
  return [...ids].sort();
}

function human(r: SessionReadiness & { belowProfile: boolean }): string {
  const lines = [`session ${r.sessionId}: ${r.score}/100${r.belowProfile ? ' — below profile' : ''}`];
  for (const f of r.factors)
    lines.push(`  ${f.name.padEnd(12)} ${f.cost === 0 ? '   0' : `-${f.cost}`.padStart(4)}  ${f.reason}`);
  return `${lines.join('\n')}\n`;
}

const command: Command = {
  name: 'readiness',
  summary: 'provenance readiness score (0–100, named factors) of each session in a spool, store or bundle',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseFlags('readiness', argv, {
      session: { type: 'string' },
      profile: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [path] = positionals;
    if (positionals.length !== 1 || path === undefined)
      throw new RigcapError('RIGCAP_USAGE', 'rigcap readiness: expected exactly one PATH');
    const profileName = values.profile ?? 'training';
    const profile = await loadProfile(profileName);
    const abs = resolve(io.cwd, path);
    const info = await stat(abs).catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT')
        throw new RigcapError('RIGCAP_USAGE', `rigcap readiness: ${abs} does not exist`);
      throw err;
    });
    const chains = info.isDirectory() ? await chainsOfTree(abs) : chainsOfBundle(await readFile(abs));
    const known = sessionIds(chains);
    if (values.session !== undefined && !known.includes(values.session))
      throw new RigcapError('RIGCAP_SESSION_UNKNOWN', `no records of session ${values.session} under ${abs}`);
    const sessions = (values.session === undefined ? known : [values.session]).map((id) => {
      const records = gatherSession(id, chains);
      // sessionIds found it, so gatherSession does too.
      const r = scoreSession(records!, profile);
      return { ...r, belowProfile: r.score < profile.minScore };
    });
    if (values.json === true)
      writeJson(io.stdout, { profile: profileName, minScore: profile.minScore, sessions });
    else {
      if (sessions.length === 0) io.stderr.write(`no sessions under ${abs}\n`);
      for (const s of sessions) io.stdout.write(human(s));
      io.stdout.write(`profile ${profileName}: minimum score ${profile.minScore}\n`);
    }
    return sessions.some((s) => s.belowProfile) ? ExitCode.failed : ExitCode.ok;
  },
};

export default command;
