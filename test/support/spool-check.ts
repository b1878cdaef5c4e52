// What a stopped spool holds, read the way a test checks it: session statements, chunk predicates,
// and a whole-spool consistency check (chunks open indexed, match the catalog, the verifier passes).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog } from '../../agent/catalog/catalog.ts';
import { sha256OfFile } from '../../agent/catalog/reconcile.ts';
import { FsSource } from '../../agent/keys/fs-source.ts';
import { silentLogger } from '../../agent/log.ts';
import { withIndexedReader } from '../../agent/pipeline/mcap-read.ts';
import { verifyTree, type VerifyReport } from '../../agent/records/index.ts';

/** Decoded statements of a JSON Lines file of DSSE envelopes (session.dsse.json). */
export async function sessionStatements(
  spool: string,
  sessionId: string,
): Promise<Array<{ predicateType: string; predicate: Record<string, unknown> }>> {
  const text = await readFile(join(spool, 'sessions', sessionId, 'session.dsse.json'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map(
      (line) =>
        JSON.parse(
          Buffer.from((JSON.parse(line) as { payload: string }).payload, 'base64').toString('utf8'),
        ) as { predicateType: string; predicate: Record<string, unknown> },
    );
}

/** The decoded capture-chunk predicate of a chunk's sidecar. */
export async function chunkPredicate(
  spool: string,
  sessionId: string,
  name: string,
): Promise<Record<string, unknown>> {
  const env = JSON.parse(await readFile(join(spool, 'sessions', sessionId, `${name}.dsse.json`), 'utf8')) as {
    payload: string;
  };
  return (
    JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicate: Record<string, unknown> }
  ).predicate;
}

/** What checkSpool found; every list is empty on a consistent spool. */
export interface SpoolCheck {
  chunks: number;
  sessions: string[];
  /** `path: problem` for every chunk that does not open or does not match its catalog row. */
  chunkProblems: string[];
  /** Files left in session folders that are not committed chunks, sidecars or the session file. */
  strayFiles: string[];
  /** `*.mcap` files under quarantine/ (never allowed). */
  quarantinedMcap: string[];
  /** Every file under quarantine/ (informative). */
  quarantined: string[];
  verify: VerifyReport;
}

/** Checks a stopped spool: chunks open indexed and match the catalog byte for byte; the verifier runs over it all. */
export async function checkSpool(spool: string): Promise<SpoolCheck> {
  const catalog = Catalog.open({ path: join(spool, 'catalog.sqlite'), logger: silentLogger() });
  const chunkProblems: string[] = [];
  const strayFiles: string[] = [];
  let chunks = 0;
  const sessions = (await readdir(join(spool, 'sessions'))).sort();
  try {
    for (const sessionId of sessions) {
      const rows = new Map(catalog.listChunks({ sessionId }).map((r) => [r.name, r]));
      for (const name of (await readdir(join(spool, 'sessions', sessionId))).sort()) {
        if (name === 'session.dsse.json' || /^chunk-\d{6}\.mcap\.dsse\.json$/.test(name)) continue;
        if (!/^chunk-\d{6}\.mcap$/.test(name)) {
          strayFiles.push(`sessions/${sessionId}/${name}`);
          continue;
        }
        chunks++;
        const rel = `sessions/${sessionId}/${name}`;
        const path = join(spool, rel);
        try {
          const messages = await withIndexedReader(path, async (reader) => {
            let n = 0;
            for await (const _ of reader.readMessages()) n++;
            return n;
          });
          const row = rows.get(name);
          if (row === undefined) {
            chunkProblems.push(`${rel}: no catalog row`);
            continue;
          }
          const size = (await stat(path)).size;
          if (row.bytes !== size)
            chunkProblems.push(`${rel}: catalog says ${row.bytes} bytes, file has ${size}`);
          const sha = await sha256OfFile(path);
          if (row.sha256 !== sha) chunkProblems.push(`${rel}: catalog sha256 ${row.sha256} != file ${sha}`);
          if (row.messages !== messages)
            chunkProblems.push(`${rel}: catalog says ${row.messages} messages, file has ${messages}`);
          if (row.state !== 'sealed') chunkProblems.push(`${rel}: catalog state ${row.state}, want sealed`);
        } catch (err) {
          chunkProblems.push(`${rel}: ${String(err)}`);
        }
      }
    }
  } finally {
    catalog.close();
  }
  const quarantined = await listFiles(join(spool, 'quarantine'));
  const verify = await verifyTree(new FsSource(spool));
  return {
    chunks,
    sessions,
    chunkProblems,
    strayFiles,
    quarantinedMcap: quarantined.filter((f) => f.endsWith('.mcap')),
    quarantined,
    verify,
  };
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(absentAsEmpty)) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(join(dir, entry.name), rel)));
    else out.push(rel);
  }
  return out;
}

/** A folder that is not there lists as empty (quarantine/ exists only once something was moved there). */
function absentAsEmpty(err: NodeJS.ErrnoException): [] {
  if (err.code === 'ENOENT') return [];
  throw err;
}
