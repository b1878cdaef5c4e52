// `rigcap release create --store DIR --sessions a,b --name NAME --out FILE`: a dataset release signed
// with the store's key (README "Dataset releases"), verified later by `rigcap verify FILE --blobs DIR`.
import { access, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RigcapError, errnoCode } from '../errors.ts';
import { FsSource } from '../keys/index.ts';
import { readChains } from '../records/read-chains.ts';
import type { CaptureChunkPredicate } from '../records/predicates.ts';
import { isRecordOf, type DecodedRecord } from '../records/record-decode.ts';
import { buildReleaseFile, type ReleaseChunk } from '../records/release.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type Command } from './command.ts';

const usage = `usage: rigcap release create --store DIR (--sessions A,B[,…] | --query K=V[,K=V…]) --name NAME --out FILE [--key FILE] [--json]

Writes a dataset release: a dataset-release record signed with the store's key naming every chunk
digest of the sessions, the records they came from and a Merkle root over the digests, followed by
the store's enrol record (JSON Lines), and a release card next to it (FILE with .md). A chunk whose
blob is absent, or that a retention-action record deleted, cannot be released.

  --store DIR   the store's data directory (records/, blobs/)
  --query       the sessions with a chunk record matching every term, in session id order; keys:
                purpose, site (id), owner, licence, device
  --key FILE    the store key (default DIR.secrets/store.key)

exit: 0 written, 1 a chunk cannot be released, 2 usage error`;

/** sha256 digests a retention-action record of the store deleted. */
function expiredDigests(chains: Map<string, DecodedRecord[]>): Set<string> {
  const out = new Set<string>();
  for (const records of chains.values())
    for (const r of records) {
      if (r.name !== 'retention-action') continue;
      for (const d of r.predicate.deleted) out.add(d.sha256);
    }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/** The chunks of `sessions` in session then chunkIndex order, and those that cannot be released. */
async function releaseChunks(
  storeDir: string,
  chains: Map<string, DecodedRecord[]>,
  sessions: string[],
): Promise<{ chunks: ReleaseChunk[]; refused: string[] }> {
  const expired = expiredDigests(chains);
  const chunks: ReleaseChunk[] = [];
  const refused: string[] = [];
  for (const session of sessions) {
    const mine = [...chains.values()]
      .flat()
      .filter(isRecordOf('capture-chunk'))
      .map((r) => ({ r, p: r.predicate }))
      .filter((x) => x.p.sessionId === session)
      .sort((a, b) => a.p.chunkIndex - b.p.chunkIndex);
    if (mine.length === 0) refused.push(`${session}: no chunks in the store`);
    for (const { r, p } of mine) {
      const subject = r.subject[0];
      if (subject === undefined) continue;
      const sha256 = subject.digest.sha256;
      if (expired.has(sha256)) refused.push(`${session}/${subject.name}: deleted by retention`);
      else if (!(await exists(join(storeDir, 'blobs', 'sha256', sha256))))
        refused.push(`${session}/${subject.name}: blob ${sha256} absent`);
      else
        chunks.push({
          session,
          name: subject.name,
          sha256,
          bytes: p.bytes,
          record: { signer: r.chain.deviceId, seq: r.chain.seq, sha256: r.payloadSha256 },
        });
    }
  }
  return { chunks, refused };
}

function releaseCard(p: {
  name: string;
  root: string;
  storeId: string;
  sessions: string[];
  chunks: ReleaseChunk[];
}): string {
  const bytes = p.chunks.reduce((n, c) => n + BigInt(c.bytes), 0n);
  return [
    `# Dataset release ${p.name}`,
    '',
    `- Signed by store: ${p.storeId}`,
    `- Merkle root (RFC 6962, SHA-256 over chunk digests): \`${p.root}\``,
    `- Sessions: ${p.sessions.join(', ')}`,
    `- Chunks: ${p.chunks.length} (${bytes} bytes)`,
    '',
    'Verify with `rigcap verify ' + p.name + '.jsonl --blobs DIR`.',
    '',
    '| session | chunk | sha256 | bytes | record |',
    '| --- | --- | --- | --- | --- |',
    ...p.chunks.map(
      (c) => `| ${c.session} | ${c.name} | ${c.sha256} | ${c.bytes} | ${c.record.signer}#${c.record.seq} |`,
    ),
    '',
  ].join('\n');
}

const queryKeys = {
  purpose: (p: CaptureChunkPredicate) => p.context?.purpose ?? p.policy.purpose,
  site: (p: CaptureChunkPredicate) => p.context?.site?.id ?? null,
  owner: (p: CaptureChunkPredicate) => p.context?.owner ?? p.policy.owner ?? null,
  licence: (p: CaptureChunkPredicate) => p.context?.licence ?? null,
  device: (p: CaptureChunkPredicate) => p.chain.deviceId,
} as const;

function parseQuery(text: string): Array<[keyof typeof queryKeys, string]> {
  const terms = text.split(',').filter((t) => t !== '');
  return terms.map((t) => {
    const [k, ...rest] = t.split('=');
    if (k === undefined || !(k in queryKeys) || rest.length === 0)
      throw new RigcapError(
        'RIGCAP_USAGE',
        `rigcap release: --query term ${t}: expected KEY=VALUE with KEY one of ${Object.keys(queryKeys).join(', ')}`,
      );
    return [k as keyof typeof queryKeys, rest.join('=')];
  });
}

/** Sessions with a chunk record matching every term, in session id order. */
function sessionsMatching(
  chains: Map<string, DecodedRecord[]>,
  terms: Array<[keyof typeof queryKeys, string]>,
): string[] {
  const out = new Set<string>();
  for (const r of [...chains.values()].flat().filter(isRecordOf('capture-chunk')))
    if (terms.every(([k, v]) => queryKeys[k](r.predicate) === v)) out.add(r.predicate.sessionId);
  return [...out].sort();
}

const command: Command = {
  name: 'release',
  summary: 'sign a dataset release of stored sessions (chunk digests, Merkle root, card)',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseFlags('release', argv, {
      store: { type: 'string' },
      sessions: { type: 'string' },
      query: { type: 'string' },
      name: { type: 'string' },
      out: { type: 'string' },
      key: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (
      positionals[0] !== 'create' ||
      values.store === undefined ||
      (values.sessions === undefined) === (values.query === undefined)
    )
      throw new RigcapError('RIGCAP_USAGE', usage);
    if (values.name === undefined || values.out === undefined) throw new RigcapError('RIGCAP_USAGE', usage);
    const storeDir = resolve(io.cwd, values.store);
    const { defaultStoreKeyPath, loadOrCreateStoreKey } = await import('../../receiver/store-key.ts');
    const keyFile = values.key === undefined ? defaultStoreKeyPath(storeDir) : resolve(io.cwd, values.key);
    if (!(await exists(keyFile)))
      throw new RigcapError('RIGCAP_USAGE', `rigcap release: no store key at ${keyFile}`);
    const key = await loadOrCreateStoreKey({ keyFile, dataDir: storeDir });
    const enrolFile = join(storeDir, 'records', key.storeId, `${'1'.padStart(12, '0')}.dsse.json`);
    if (!(await exists(enrolFile)))
      throw new RigcapError(
        'RIGCAP_NOT_FOUND',
        `rigcap release: the store has no enrol record (${enrolFile})`,
      );
    const chains = await readChains(new FsSource(storeDir));
    const sessions =
      values.sessions !== undefined
        ? values.sessions.split(',').filter((s) => s !== '')
        : sessionsMatching(chains, parseQuery(values.query ?? ''));
    if (sessions.length === 0)
      throw new RigcapError('RIGCAP_NOT_FOUND', `rigcap release: no session matches --query ${values.query}`);
    const { chunks, refused } = await releaseChunks(storeDir, chains, sessions);
    if (refused.length > 0) {
      io.stderr.write(`rigcap release: cannot release:\n${refused.map((r) => `  ${r}`).join('\n')}\n`);
      return ExitCode.failed;
    }
    const { text, predicate } = buildReleaseFile({
      name: values.name,
      storeId: key.storeId,
      sessions,
      chunks,
      signer: key.signer,
      enrolRecord: await readFile(enrolFile),
      createdAt: new Date().toISOString(),
    });
    const out = resolve(io.cwd, values.out);
    await writeFile(out, text);
    await writeFile(out.replace(/(\.jsonl)?$/, '.md'), releaseCard(predicate));
    if (values.json === true)
      writeJson(io.stdout, { ok: true, out, root: predicate.root, chunks: chunks.length });
    else
      io.stdout.write(
        `released ${chunks.length} chunks as ${values.name}: root ${predicate.root} (${out})\n`,
      );
    return ExitCode.ok;
  },
};

export default command;
