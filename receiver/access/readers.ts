// Named reader credentials for the read API and the dashboard. The readers file holds one JSON
// object a line, `{"name":"alice","role":"auditor","sha256":"<hex SHA-256 of the token>"}` (blank
// lines and lines starting with # are skipped): tokens are never stored in clear and never given on
// the command line. A request presents its token as a Bearer token or as the HTTP Basic password.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { RigcapError } from '../../agent/errors.ts';

/** What a role may read; each role may read everything the ones before it may. */
export const readerRoles = ['reader', 'auditor', 'admin'] as const;
export type ReaderRole = (typeof readerRoles)[number];

/** One named credential. */
export interface Reader {
  name: string;
  role: ReaderRole;
  /** Lowercase hex SHA-256 of the token's UTF-8 bytes. */
  sha256: string;
}

/** True when `role` may do what `needed` may. */
export function roleCovers(role: ReaderRole, needed: ReaderRole): boolean {
  return readerRoles.indexOf(role) >= readerRoles.indexOf(needed);
}

/** Lowercase hex SHA-256 of a token, as the readers file states it. */
export function tokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function readerProblems(value: unknown, where: string): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return [`${where}: not a JSON object`];
  const { name, role, sha256, ...rest } = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof name !== 'string' || !namePattern.test(name))
    problems.push(`${where}: name must be 1-128 letters, digits, '.', '_' or '-'`);
  if (!readerRoles.includes(role as ReaderRole))
    problems.push(`${where}: role must be one of ${readerRoles.join(', ')}`);
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))
    problems.push(`${where}: sha256 must be the lowercase hex SHA-256 of the token`);
  for (const key of Object.keys(rest)) problems.push(`${where}: unknown field ${key}`);
  return problems;
}

/** Parses a readers file's text; every problem is reported at once (RIGCAP_CONFIG_INVALID). */
export function parseReaders(text: string, file = 'readers file'): Reader[] {
  const readers: Reader[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      problems.push(`${where}: not JSON (${err.message})`);
      return;
    }
    const found = readerProblems(value, where);
    if (found.length > 0) problems.push(...found);
    else readers.push(value as Reader);
  });
  const names = new Set<string>();
  const digests = new Set<string>();
  for (const r of readers) {
    if (names.has(r.name)) problems.push(`${file}: reader ${r.name} is named twice`);
    if (digests.has(r.sha256)) problems.push(`${file}: two readers share one token (${r.name})`);
    names.add(r.name);
    digests.add(r.sha256);
  }
  if (readers.length === 0 && problems.length === 0) problems.push(`${file}: names no reader`);
  if (problems.length > 0) throw new RigcapError('RIGCAP_CONFIG_INVALID', problems.join('; '));
  return readers;
}

/** Reads and parses a readers file. */
export async function readReadersFile(path: string): Promise<Reader[]> {
  return parseReaders(await readFile(path, 'utf8'), path);
}

/** Readers keyed by their token's digest, compared in constant time. */
export class ReaderBook {
  readonly #readers: ReadonlyArray<{ reader: Reader; digest: Buffer }>;

  constructor(readers: readonly Reader[]) {
    this.#readers = readers.map((reader) => ({ reader, digest: Buffer.from(reader.sha256, 'hex') }));
  }

  get size(): number {
    return this.#readers.length;
  }

  /** The reader whose token this is, if any (every entry is compared, so timing names none). */
  identify(token: string): Reader | undefined {
    const seen = createHash('sha256').update(token, 'utf8').digest();
    let found: Reader | undefined;
    for (const { reader, digest } of this.#readers)
      if (timingSafeEqual(digest, seen) && found === undefined) found = reader;
    return found;
  }
}
