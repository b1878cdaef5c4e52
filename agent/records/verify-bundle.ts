// Verifies an exported in-toto bundle (JSON Lines of DSSE envelopes) on its own, without the spool:
// each envelope's form and predicate schema, its signature by a key the bundle's own device-key
// records establish (or that --trust roots), key validity at that seq, prev links between
// consecutive seqs, and each session's close root against its chunk records.
import { inTotoPayloadType, preAuthEncoding } from './dsse.ts';
import { keyIdOf, spkiBlocksOfPem, verifySignature } from './ed25519.ts';
import type { SessionPredicate } from './predicates.ts';
import { decodeRecord, isRecordOf, sessionIdOf, type DecodedRecord } from './record-decode.ts';

type SessionClose = Extract<SessionPredicate, { phase: 'close' }>;
import { sessionRoot } from './session-root.ts';
import type { VerifyFailure } from './verify-codes.ts';
import type { VerifyReport } from './verify.ts';

interface KeyRange {
  spki: Uint8Array;
  /** First seq the key may sign (its enrolment or rotation record's seq). */
  fromSeq: number;
  /** First seq it may no longer sign (rotation away or revocation). */
  untilSeq: number;
}

/** Verifies a bundle's envelopes; `file` in failures is `line N` (1-based). */
export function verifyBundle(
  bytes: Uint8Array,
  options: { trustedKeys?: readonly Uint8Array[] } = {},
): VerifyReport {
  const failures: VerifyFailure[] = [];
  const lines: Array<{ line: number; record: DecodedRecord }> = [];
  const text = new TextDecoder().decode(bytes);
  const encoder = new TextEncoder();
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    const decoded = decodeRecord(encoder.encode(`${raw}\n`));
    if (decoded.ok) lines.push({ line: i + 1, record: decoded.record });
    else failures.push({ file: `line ${i + 1}`, code: decoded.code, reason: decoded.reason });
  });
  const lineOf = new Map(lines.map((l) => [l.record, l.line]));
  const fail: Fail = (r, code, reason) => {
    failures.push({ file: `line ${lineOf.get(r) ?? 0}`, code, reason });
  };

  const bySigner = new Map<string, DecodedRecord[]>();
  for (const { record } of lines) {
    const list = bySigner.get(record.chain.deviceId) ?? [];
    list.push(record);
    bySigner.set(record.chain.deviceId, list);
  }
  const trusted =
    options.trustedKeys === undefined ? undefined : new Set(options.trustedKeys.map((k) => keyIdOf(k)));
  for (const [signer, records] of bySigner) {
    records.sort((a, b) => a.chain.seq - b.chain.seq);
    checkSigner(signer, records, { trusted, fail });
  }
  const { sessions, chunks } = checkSessions(
    lines.map((l) => l.record),
    fail,
  );
  return {
    ok: failures.length === 0,
    checked: { chunks, records: lines.length, sessions },
    failures,
    trust: trusted === undefined ? 'given' : 'pinned',
    signers: [...bySigner].map(([id, records]) => ({ id, headSeq: records.at(-1)?.chain.seq ?? 0 })),
  };
}

type Fail = (r: DecodedRecord, code: VerifyFailure['code'], reason: string) => void;

/** Keys per signer, from the bundle's own device-key records (`records` in seq order). */
function keyRanges(records: readonly DecodedRecord[]): Map<string, KeyRange> {
  const keys = new Map<string, KeyRange>();
  for (const r of records.filter(isRecordOf('device-key'))) {
    const p = r.predicate;
    if (p.action === 'enrol') {
      const spki = spkiBlocksOfPem(p.publicKey)[0];
      if (spki !== undefined) keys.set(keyIdOf(spki), { spki, fromSeq: r.chain.seq, untilSeq: Infinity });
    } else if (p.action === 'rotate') {
      const spki = spkiBlocksOfPem(p.newPublicKey)[0];
      const old = keys.get(p.keyId);
      if (old !== undefined) old.untilSeq = Math.min(old.untilSeq, r.chain.seq + 1);
      if (spki !== undefined) keys.set(keyIdOf(spki), { spki, fromSeq: r.chain.seq + 1, untilSeq: Infinity });
    } else {
      const k = keys.get(p.keyId);
      if (k !== undefined) k.untilSeq = Math.min(k.untilSeq, p.invalidFromSeq);
    }
  }
  return keys;
}

/** One signer's records: signatures and key validity, links between adjacent seqs, and trust. */
function checkSigner(
  signer: string,
  records: readonly DecodedRecord[],
  o: { trusted: ReadonlySet<string> | undefined; fail: Fail },
): void {
  const { fail, trusted } = o;
  const keys = keyRanges(records);
  for (const r of records) {
    const key = keys.get(r.keyId);
    if (key === undefined) {
      fail(
        r,
        'VERIFY_UNKNOWN_KEY',
        `keyid ${r.keyId.slice(0, 12)}… of ${signer} is not established by a device-key record in the bundle`,
      );
      continue;
    }
    if (keyIdOf(key.spki) !== r.keyId)
      fail(r, 'VERIFY_KEYID_MISMATCH', 'keyid does not name the verifying key');
    if (!verifySignature(key.spki, preAuthEncoding(inTotoPayloadType, r.payload), r.signature)) {
      fail(r, 'VERIFY_BAD_SIGNATURE', `signature of ${signer} seq ${r.chain.seq} does not verify`);
    } else if (r.chain.seq < key.fromSeq || r.chain.seq >= key.untilSeq) {
      fail(
        r,
        r.chain.seq >= key.untilSeq ? 'VERIFY_KEY_REVOKED' : 'VERIFY_KEY_NOT_VALID',
        `key not valid at seq ${r.chain.seq}`,
      );
    }
  }
  // A bundle holds a subset of the chain: links are checked where two seqs are adjacent.
  for (let i = 1; i < records.length; i++) {
    const a = records[i - 1]!;
    const b = records[i]!;
    if (b.chain.seq === a.chain.seq) fail(b, 'VERIFY_CHAIN_FORK', `two records with seq ${b.chain.seq}`);
    else if (b.chain.seq === a.chain.seq + 1 && b.chain.prev !== a.payloadSha256)
      fail(b, 'VERIFY_CHAIN_FORK', `prev of seq ${b.chain.seq} is not the digest of seq ${a.chain.seq}`);
  }
  // Trust: the signer's first key must be rooted in --trust (later keys follow from rotations).
  if (trusted !== undefined) {
    const first = [...keys.entries()].sort((x, y) => x[1].fromSeq - y[1].fromSeq)[0];
    if (first === undefined || !trusted.has(first[0])) {
      const r = records[0]!;
      fail(r, 'VERIFY_UNKNOWN_KEY', `the keys of ${signer} are not rooted in the --trust keys`);
    }
  }
}

/** Sessions: the close record's root over the chunk digests the bundle holds. */
function checkSessions(records: readonly DecodedRecord[], fail: Fail): { sessions: number; chunks: number } {
  let sessions = 0;
  let chunks = 0;
  const bySession = new Map<
    string,
    { chunks: Map<number, string>; close?: { record: DecodedRecord; predicate: SessionClose } }
  >();
  for (const record of records) {
    const sessionId = sessionIdOf(record);
    if (typeof sessionId !== 'string') continue;
    const s = bySession.get(sessionId) ?? { chunks: new Map<number, string>() };
    if (record.name === 'capture-chunk') {
      chunks++;
      s.chunks.set(record.predicate.chunkIndex, record.subject[0]?.digest['sha256'] ?? '');
    } else if (record.name === 'session' && record.predicate.phase === 'close')
      s.close = { record, predicate: record.predicate };
    bySession.set(sessionId, s);
  }
  for (const [sessionId, s] of bySession) {
    sessions++;
    if (s.close === undefined) continue;
    const close = s.close.predicate;
    const digests = [...s.chunks.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    if (close.chunks !== digests.length)
      fail(
        s.close.record,
        'VERIFY_SESSION_ROOT',
        `session ${sessionId} closes with ${close.chunks} chunks, the bundle has ${digests.length}`,
      );
    else if (sessionRoot(digests) !== close.root)
      fail(
        s.close.record,
        'VERIFY_SESSION_ROOT',
        `session ${sessionId}: root over the bundle's chunk digests differs from the close record`,
      );
  }
  return { sessions, chunks };
}
