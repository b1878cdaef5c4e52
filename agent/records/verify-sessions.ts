// Sessions and chunks: every signed chunk is present (or deleted by retention), hashes to its
// digest, carries its calibration, has a byte-identical sidecar; session files mirror the chain;
// close records match the Merkle root of the session's chunks; copies never run past the chain.
import { createHash } from 'node:crypto';
import {
  chunkFileName,
  recordFileName,
  type CaptureChunkPredicate,
  type CustodyReceiptPredicate,
  type RetentionActionPredicate,
  type SessionPredicate,
} from './predicates.ts';
import { decodeRecord, type DecodedRecord } from './record-decode.ts';
import { sessionRoot } from './session-root.ts';
import { calibrationAttachmentDigests } from './verify-mcap.ts';
import type { FileSource } from './verify-source.ts';
import type { VerifyFailure } from './verify-codes.ts';

/** A decoded record with the signer whose chain it is in. */
export interface ChainRecord {
  signerId: string;
  record: DecodedRecord;
}

export interface SessionsInput {
  source: FileSource;
  /** Every decoded record of every signer, by signer then seq. */
  chains: ReadonlyMap<string, ReadonlyMap<number, DecodedRecord>>;
  /** Highest seq with a file, by signer. */
  heads: ReadonlyMap<string, number>;
  onChunk?: (file: string) => void;
}

export interface SessionsResult {
  failures: VerifyFailure[];
  chunks: number;
  sessions: number;
}

const same = (a: Uint8Array, b: Uint8Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Checks every session folder against the chains. */
export async function verifySessions(input: SessionsInput): Promise<SessionsResult> {
  const { source, chains, heads } = input;
  const failures: VerifyFailure[] = [];
  const chunkRecords = new Map<string, ChainRecord[]>();
  const sessionRecords = new Map<string, ChainRecord[]>();
  const deleted = new Set<string>();
  const lastOpenBySigner = new Map<string, string>();

  for (const [signerId, records] of chains) {
    for (const seq of [...records.keys()].sort((a, b) => a - b)) {
      const record = records.get(seq) as DecodedRecord;
      if (record.name === 'capture-chunk') {
        const sid = (record.predicate as unknown as CaptureChunkPredicate).sessionId;
        push(chunkRecords, sid, { signerId, record });
      } else if (record.name === 'session') {
        const p = record.predicate as unknown as SessionPredicate;
        push(sessionRecords, p.sessionId, { signerId, record });
        if (p.phase === 'open') lastOpenBySigner.set(signerId, p.sessionId);
      } else if (record.name === 'retention-action') {
        for (const d of (record.predicate as unknown as RetentionActionPredicate).deleted)
          deleted.add(`${d.session}/${d.name}`);
      } else if (record.name === 'custody-receipt') {
        failures.push(...checkReceipt(signerId, seq, record, chains, heads));
      }
    }
  }

  const sessionIds = new Set([
    ...(await source.list('sessions')),
    ...chunkRecords.keys(),
    ...sessionRecords.keys(),
  ]);
  let chunks = 0;
  for (const sid of [...sessionIds].sort()) {
    const dir = `sessions/${sid}`;
    const names = new Set(await source.list(dir));
    const signed = chunkRecords.get(sid) ?? [];
    const signedNames = new Set<string>();
    for (const { record } of signed) {
      const p = record.predicate as unknown as CaptureChunkPredicate;
      const expected = chunkFileName(p.chunkIndex);
      const subject = record.subject[0];
      const name = subject?.name ?? expected;
      signedNames.add(name);
      if (record.subject.length !== 1 || name !== expected) {
        failures.push({
          file: `${dir}/${name}`,
          code: 'VERIFY_SUBJECT_NAME',
          reason: `record seq ${record.chain.seq} names ${name}, chunkIndex ${p.chunkIndex} is ${expected}`,
        });
      }
      const file = `${dir}/${name}`;
      if (!names.has(name)) {
        if (!deleted.has(`${sid}/${name}`))
          failures.push({
            file,
            code: 'VERIFY_CHUNK_MISSING',
            reason: `signed at seq ${record.chain.seq}, not deleted by retention`,
          });
      } else {
        chunks++;
        input.onChunk?.(file);
        failures.push(...(await checkChunk(source, file, record, p)));
      }
      const sidecar = await source.readFile(`${file}.dsse.json`);
      if (sidecar === undefined) {
        if (names.has(name))
          failures.push({
            file: `${file}.dsse.json`,
            code: 'VERIFY_SIDECAR_MISMATCH',
            reason: 'sidecar missing',
          });
      } else if (!same(sidecar, record.bytes)) {
        failures.push({
          file: `${file}.dsse.json`,
          code: 'VERIFY_SIDECAR_MISMATCH',
          reason: `differs from records/${record.chain.deviceId}/${recordFileName(record.chain.seq)}`,
        });
      }
    }
    const current = isCurrentSession(sid, sessionRecords.get(sid) ?? [], lastOpenBySigner);
    for (const name of names) {
      if (!/\.mcap$/.test(name) || signedNames.has(name)) continue;
      failures.push(...(await checkOrphanChunk(source, `${dir}/${name}`, name, heads, { current })));
    }
    failures.push(
      ...(await checkSession(source, sid, sessionRecords.get(sid) ?? [], signed, lastOpenBySigner, heads)),
    );
  }
  return { failures, chunks, sessions: sessionIds.size };
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

async function checkChunk(
  source: FileSource,
  file: string,
  record: DecodedRecord,
  p: CaptureChunkPredicate,
): Promise<VerifyFailure[]> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const piece of source.stream(file)) {
    hash.update(piece);
    bytes += piece.byteLength;
  }
  const digest = hash.digest('hex');
  const want = record.subject[0]?.digest.sha256;
  if (digest !== want || String(bytes) !== p.bytes) {
    return [
      {
        file,
        code: 'VERIFY_DIGEST_MISMATCH',
        reason: `sha256 ${digest.slice(0, 12)}… (${bytes} bytes), record signs ${String(want).slice(0, 12)}… (${p.bytes} bytes)`,
      },
    ];
  }
  const found = await calibrationAttachmentDigests(source, file);
  if (!found.ok) return [{ file, code: 'VERIFY_CALIBRATION_MISMATCH', reason: found.reason }];
  const problems: string[] = [];
  for (const ref of p.calibration) {
    const have = found.digests.get(ref.sensor);
    const wantDigest = ref.digest.replace(/^sha256:/, '');
    if (have === undefined) problems.push(`calibration/${ref.sensor}.yaml missing`);
    else if (have !== wantDigest)
      problems.push(
        `calibration/${ref.sensor}.yaml hashes to ${have.slice(0, 12)}…, record says ${wantDigest.slice(0, 12)}…`,
      );
  }
  // A record signed after a crash may state that the calibration could not be read back; then an
  // attachment it does not name is what it said, not a mismatch (a ref it does name must still match).
  if (!statesUnrecovered(p, 'calibration')) {
    for (const sensor of found.digests.keys()) {
      if (!p.calibration.some((r) => r.sensor === sensor))
        problems.push(`calibration/${sensor}.yaml is not in the record`);
    }
  }
  return problems.length === 0
    ? []
    : [{ file, code: 'VERIFY_CALIBRATION_MISMATCH', reason: problems.join('; ') }];
}

/**
 * Whether a record's recovery lineage states that `field` could not be read back. A recovery entry
 * without an `unrecovered` list (an older agent) stated that no capture-time context was recorded.
 */
export function statesUnrecovered(p: Pick<CaptureChunkPredicate, 'transforms'>, field: string): boolean {
  return p.transforms.some((t) => {
    if (t.kind !== 'recovery') return false;
    const unrecovered = t['unrecovered'];
    return unrecovered === undefined || (Array.isArray(unrecovered) && unrecovered.includes(field));
  });
}

/** The device's current session: opened last by its signer and not closed. */
function isCurrentSession(
  sid: string,
  records: readonly ChainRecord[],
  lastOpenBySigner: ReadonlyMap<string, string>,
): boolean {
  const phases = records.map((r) => ({
    signerId: r.signerId,
    phase: (r.record.predicate as unknown as SessionPredicate).phase,
  }));
  const open = phases.find((r) => r.phase === 'open');
  return (
    open !== undefined &&
    !phases.some((r) => r.phase === 'close') &&
    lastOpenBySigner.get(open.signerId) === sid
  );
}

async function checkOrphanChunk(
  source: FileSource,
  file: string,
  name: string,
  heads: ReadonlyMap<string, number>,
  session: { current: boolean },
): Promise<VerifyFailure[]> {
  const sidecar = await source.readFile(`${file}.dsse.json`);
  const decoded = sidecar === undefined ? undefined : decodeRecord(sidecar);
  if (decoded === undefined || !decoded.ok)
    return [
      {
        file,
        code: 'VERIFY_UNSIGNED_CHUNK',
        reason: session.current
          ? "no record in the chain names this chunk; it is in the device's current session, committed after the chain's last record (the agent signs such a chunk when it starts next)"
          : 'no record in the chain names this chunk',
      },
    ];
  const { chain, subject } = decoded.record;
  const out: VerifyFailure[] = [];
  if (chain.seq > (heads.get(chain.deviceId) ?? 0)) {
    out.push({
      file: `${file}.dsse.json`,
      code: 'VERIFY_TAIL',
      reason: `names seq ${chain.seq} of ${chain.deviceId}, beyond the chain's end (${heads.get(chain.deviceId) ?? 0})`,
    });
  }
  if (subject[0]?.name !== name)
    out.push({ file, code: 'VERIFY_SUBJECT_NAME', reason: `its record signs ${subject[0]?.name ?? '?'}` });
  if (out.length === 0)
    out.push({ file, code: 'VERIFY_UNSIGNED_CHUNK', reason: 'its sidecar is not in the chain' });
  return out;
}

async function checkSession(
  source: FileSource,
  sid: string,
  records: readonly ChainRecord[],
  chunks: readonly ChainRecord[],
  lastOpenBySigner: ReadonlyMap<string, string>,
  heads: ReadonlyMap<string, number>,
): Promise<VerifyFailure[]> {
  const file = `sessions/${sid}/session.dsse.json`;
  const out: VerifyFailure[] = [];
  const open = records.find((r) => (r.record.predicate as unknown as SessionPredicate).phase === 'open');
  const close = records.find((r) => (r.record.predicate as unknown as SessionPredicate).phase === 'close');
  if (records.length === 0 && chunks.length === 0) return out;
  if (open === undefined)
    out.push({ file, code: 'VERIFY_SESSION_ROOT', reason: 'no session open record in the chain' });
  if (open !== undefined && open.record.subject[0]?.digest.sha256 !== sessionRoot([])) {
    out.push({ file, code: 'VERIFY_SESSION_ROOT', reason: 'open record subject must be the empty root' });
  }
  const openSeq = open?.record.chain.seq ?? 0;
  const closeSeq = close?.record.chain.seq ?? Number.POSITIVE_INFINITY;
  for (const c of chunks) {
    const seq = c.record.chain.seq;
    if (seq < openSeq || seq > closeSeq)
      out.push({
        file,
        code: 'VERIFY_SESSION_ROOT',
        reason: `chunk record seq ${seq} lies outside the session's open..close`,
      });
  }
  if (close !== undefined) {
    const p = close.record.predicate as unknown as Extract<SessionPredicate, { phase: 'close' }>;
    const inside = chunks
      .filter((c) => c.record.chain.seq < closeSeq)
      .map((c) => ({
        index: (c.record.predicate as unknown as CaptureChunkPredicate).chunkIndex,
        digest: c.record.subject[0]?.digest.sha256 ?? '',
      }))
      .sort((a, b) => a.index - b.index);
    const root = sessionRoot(inside.map((c) => c.digest));
    if (p.chunks !== inside.length || p.root !== root || close.record.subject[0]?.digest.sha256 !== p.root) {
      out.push({
        file,
        code: 'VERIFY_SESSION_ROOT',
        reason: `close signs ${p.chunks} chunks / root ${p.root.slice(0, 12)}…, chain has ${inside.length} / ${root.slice(0, 12)}…`,
      });
    }
  } else if (open !== undefined && lastOpenBySigner.get(open.signerId) !== sid) {
    out.push({
      file,
      code: 'VERIFY_SESSION_UNCLOSED',
      reason: 'no close record, and a later session was opened',
    });
  }

  const text = await source.readFile(file);
  const lines = text === undefined ? [] : splitLines(text);
  if (text === undefined && records.length > 0)
    out.push({ file, code: 'VERIFY_SESSION_FILE', reason: 'missing' });
  const inFile = new Set<string>();
  lines.forEach((line, i) => {
    const decoded = decodeRecord(line);
    if (!decoded.ok) {
      out.push({ file, code: 'VERIFY_SESSION_FILE', reason: `line ${i + 1}: ${decoded.reason}` });
      return;
    }
    const { chain } = decoded.record;
    const twin = records.find((r) => r.signerId === chain.deviceId && r.record.chain.seq === chain.seq);
    inFile.add(`${chain.deviceId}/${chain.seq}`);
    if (twin !== undefined) {
      if (!same(twin.record.bytes, line))
        out.push({
          file,
          code: 'VERIFY_SESSION_FILE',
          reason: `line ${i + 1} differs from the chain copy of seq ${chain.seq}`,
        });
    } else if (chain.seq > (heads.get(chain.deviceId) ?? 0)) {
      out.push({
        file,
        code: 'VERIFY_TAIL',
        reason: `line ${i + 1} names seq ${chain.seq}, beyond the chain's end`,
      });
    } else {
      out.push({
        file,
        code: 'VERIFY_SESSION_FILE',
        reason: `line ${i + 1} (seq ${chain.seq}) is not a session record of the chain`,
      });
    }
  });
  for (const r of records) {
    if (!inFile.has(`${r.signerId}/${r.record.chain.seq}`) && text !== undefined)
      out.push({ file, code: 'VERIFY_SESSION_FILE', reason: `lacks seq ${r.record.chain.seq}` });
  }
  const firstLine = lines[0];
  const lastLine = lines.at(-1);
  if (open !== undefined && firstLine !== undefined && !same(firstLine, open.record.bytes))
    out.push({ file, code: 'VERIFY_SESSION_FILE', reason: 'first line is not the open record' });
  if (close !== undefined && lastLine !== undefined && !same(lastLine, close.record.bytes))
    out.push({ file, code: 'VERIFY_SESSION_FILE', reason: 'last line is not the close record' });
  return out;
}

/** Lines of a JSON Lines file, each with its newline (the unit compared to a chain copy). */
function splitLines(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < bytes.byteLength; i++) {
    if (bytes[i] === 0x0a) {
      out.push(bytes.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < bytes.byteLength) out.push(bytes.subarray(start));
  return out;
}

function checkReceipt(
  storeId: string,
  seq: number,
  record: DecodedRecord,
  chains: ReadonlyMap<string, ReadonlyMap<number, DecodedRecord>>,
  heads: ReadonlyMap<string, number>,
): VerifyFailure[] {
  const p = record.predicate as unknown as CustodyReceiptPredicate;
  const device = chains.get(p.record.signer);
  const file = `records/${storeId}/${recordFileName(seq)}`;
  // Receipts for devices whose records are not in this tree cannot be cross-checked here.
  if (device === undefined) return [];
  const twin = device.get(p.record.seq);
  if (twin !== undefined) {
    return twin.payloadSha256 === p.record.sha256
      ? []
      : [
          {
            file,
            code: 'VERIFY_RECEIPT_MISMATCH',
            reason: `receipt for ${p.record.signer} seq ${p.record.seq} names another digest`,
          },
        ];
  }
  if (p.record.seq > (heads.get(p.record.signer) ?? 0)) {
    return [
      {
        file,
        code: 'VERIFY_TAIL',
        reason: `receipt for ${p.record.signer} seq ${p.record.seq}, beyond that chain's end`,
      },
    ];
  }
  return [];
}
