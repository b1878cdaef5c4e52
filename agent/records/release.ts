// Signed dataset releases: a `dataset-release` statement signed with the store's key naming every
// chunk digest of the release, the records they came from and an RFC 6962 Merkle root over the
// digests (leaf = SHA-256(0x00 || raw digest), in the order listed, as a session root is). The
// release file is JSON Lines: the release envelope, then the store's enrol record (the public key
// its signature needs), so it verifies on its own against the blobs.
import { createHash } from 'node:crypto';
import {
  fromCanonicalBase64,
  inTotoPayloadType,
  parseEnvelope,
  preAuthEncoding,
  serializeEnvelope,
  toBase64,
} from './dsse.ts';
import type { DsseEnvelope } from './dsse.ts';
import { keyIdOf, spkiBlocksOfPem, verifySignature, type Signer } from './ed25519.ts';
import { canonicalBytes } from './jcs.ts';
import { MerkleTree, leafHash } from './merkle.ts';
import { statementType } from './statement.ts';
import type { VerifyFailure } from './verify-codes.ts';

export const releasePredicateType = 'https://rigcap.dev/dataset-release/v1';

/** One chunk of a release and the signed record it came from. */
export interface ReleaseChunk {
  session: string;
  name: string;
  sha256: string;
  bytes: string;
  record: { signer: string; seq: number; sha256: string };
}

/** The predicate of a `dataset-release` statement. */
export interface ReleasePredicate {
  name: string;
  storeId: string;
  createdAt: string;
  sessions: string[];
  count: number;
  /** Hex Merkle root over the chunk digests in `chunks` order. */
  root: string;
  chunks: ReleaseChunk[];
}

/** Hex RFC 6962 root over hex SHA-256 digests, in order. */
export function releaseRoot(digestsHex: readonly string[]): string {
  const tree = new MerkleTree(digestsHex.map((d) => leafHash(Buffer.from(d, 'hex'))));
  return tree.root().toString('hex');
}

/** Builds the release file (JSON Lines): the signed release envelope, then the store's enrol record. */
export function buildReleaseFile(options: {
  name: string;
  storeId: string;
  sessions: string[];
  chunks: ReleaseChunk[];
  signer: Signer;
  enrolRecord: Uint8Array;
  createdAt: string;
}): { text: string; predicate: ReleasePredicate } {
  const { chunks, signer } = options;
  const predicate: ReleasePredicate = {
    name: options.name,
    storeId: options.storeId,
    createdAt: options.createdAt,
    sessions: options.sessions,
    count: chunks.length,
    root: releaseRoot(chunks.map((c) => c.sha256)),
    chunks,
  };
  const statement = {
    _type: statementType,
    subject: chunks.map((c) => ({ name: `${c.session}/${c.name}`, digest: { sha256: c.sha256 } })),
    predicateType: releasePredicateType,
    predicate,
  };
  const payload = canonicalBytes(statement);
  const envelope: DsseEnvelope = {
    payloadType: inTotoPayloadType,
    payload: toBase64(payload),
    signatures: [
      { keyid: signer.keyId, sig: toBase64(signer.sign(preAuthEncoding(inTotoPayloadType, payload))) },
    ],
  };
  const lines = [
    Buffer.from(serializeEnvelope(envelope)).toString('utf8').trim(),
    Buffer.from(options.enrolRecord).toString('utf8').trim(),
  ];
  return { text: `${lines.join('\n')}\n`, predicate };
}

/** What `verifyRelease` found. */
export interface ReleaseReport {
  ok: boolean;
  root: string | undefined;
  chunks: number;
  failures: VerifyFailure[];
}

function decodePayload(
  line: string,
): { envelope: DsseEnvelope; payload: Uint8Array; json: unknown } | undefined {
  const parsed = parseEnvelope(Buffer.from(line, 'utf8'));
  if (parsed === undefined) return undefined;
  const payload = fromCanonicalBase64(parsed.envelope.payload);
  if (payload === undefined) return undefined;
  try {
    return { envelope: parsed.envelope, payload, json: JSON.parse(Buffer.from(payload).toString('utf8')) };
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** Checks the release envelope's signature against the public key of the enrol record after it. */
function signatureFailure(
  release: { envelope: DsseEnvelope; payload: Uint8Array },
  enrolLine: string | undefined,
  trustedKeys: readonly Uint8Array[] | undefined,
): VerifyFailure | undefined {
  const enrol = enrolLine === undefined ? undefined : decodePayload(enrolLine);
  const pem = (enrol?.json as { predicate?: { publicKey?: unknown } } | undefined)?.predicate?.publicKey;
  const spki = typeof pem === 'string' ? spkiBlocksOfPem(pem)[0] : undefined;
  if (spki === undefined)
    return {
      file: 'line 2',
      code: 'VERIFY_UNKNOWN_KEY',
      reason: "no store enrol record with the release's public key",
    };
  if (trustedKeys !== undefined && !trustedKeys.some((k) => keyIdOf(k) === keyIdOf(spki)))
    return {
      file: 'line 2',
      code: 'VERIFY_UNKNOWN_KEY',
      reason: 'the store key is not among the --trust keys',
    };
  const sig = release.envelope.signatures[0];
  if (sig === undefined || sig.keyid !== keyIdOf(spki))
    return {
      file: 'line 1',
      code: 'VERIFY_KEYID_MISMATCH',
      reason: 'the release is not signed by the enrolled store key',
    };
  const raw = fromCanonicalBase64(sig.sig);
  const good =
    raw !== undefined && verifySignature(spki, preAuthEncoding(inTotoPayloadType, release.payload), raw);
  return good
    ? undefined
    : { file: 'line 1', code: 'VERIFY_BAD_SIGNATURE', reason: 'the release signature does not verify' };
}

/**
 * Verifies a release file against the blobs: its signature, the root re-derived from the digests
 * it names, and every chunk present with that digest. `readBlob` returns undefined when absent;
 * with `trustedKeys` the store key must be one of them.
 */
export async function verifyRelease(
  text: string,
  readBlob: (sha256: string) => Promise<Uint8Array | undefined>,
  options: { trustedKeys?: readonly Uint8Array[] } = {},
): Promise<ReleaseReport> {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const release = lines[0] === undefined ? undefined : decodePayload(lines[0]);
  const statement = release?.json as { predicateType?: unknown; predicate?: ReleasePredicate } | undefined;
  if (
    release === undefined ||
    statement?.predicateType !== releasePredicateType ||
    statement.predicate === undefined
  )
    return {
      ok: false,
      root: undefined,
      chunks: 0,
      failures: [{ file: 'line 1', code: 'VERIFY_MALFORMED', reason: 'not a dataset-release envelope' }],
    };
  const p = statement.predicate;
  const failures: VerifyFailure[] = [];
  const sigFailure = signatureFailure(release, lines[1], options.trustedKeys);
  if (sigFailure !== undefined) failures.push(sigFailure);
  const root = releaseRoot(p.chunks.map((c) => c.sha256));
  if (root !== p.root || p.count !== p.chunks.length)
    failures.push({
      file: 'line 1',
      code: 'VERIFY_RELEASE_ROOT',
      reason: `root re-derived over ${p.chunks.length} chunks is ${root}, the release signs ${p.root} over ${p.count}`,
    });
  for (const c of p.chunks) {
    const bytes = await readBlob(c.sha256);
    const file = `${c.session}/${c.name}`;
    if (bytes === undefined) {
      failures.push({
        file,
        code: 'VERIFY_RELEASE_CHUNK_MISSING',
        reason: `blob ${c.sha256} is not among the blobs`,
      });
      continue;
    }
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== c.sha256 || String(bytes.length) !== c.bytes)
      failures.push({
        file,
        code: 'VERIFY_DIGEST_MISMATCH',
        reason: `blob hashes to ${got} (${bytes.length} bytes), the release names ${c.sha256} (${c.bytes} bytes)`,
      });
  }
  return { ok: failures.length === 0, root, chunks: p.chunks.length, failures };
}
