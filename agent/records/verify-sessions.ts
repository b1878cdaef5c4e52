// Sessions and chunks: every signed chunk is present (or deleted by retention), hashes to its
// digest, carries its calibration, has a byte-identical sidecar; session files mirror the chain;
// close records match the Merkle root of the session's chunks; copies never run past the chain.
import { chunkFileName, recordFileName, type PredicateName, type SessionPredicate } from './predicates.ts';
import type { DecodedRecord, DecodedRecordOf } from './record-decode.ts';

type SessionClose = Extract<SessionPredicate, { phase: 'close' }>;
import { receiptRegionRefusal } from './residency.ts';
import { sessionRoot } from './session-root.ts';
import { checkChunk, checkOrphanChunk } from './verify-chunk.ts';
import { checkSessionFile, same } from './verify-session-file.ts';
import type { FileSource } from './verify-source.ts';
import type { VerifyFailure } from './verify-codes.ts';

export { statesUnrecovered } from './verify-chunk.ts';

/** A decoded record with the signer whose chain it is in. */
export interface ChainRecord<N extends PredicateName = PredicateName> {
  signerId: string;
  record: DecodedRecordOf<N>;
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

/** Checks every session folder against the chains. */
export async function verifySessions(input: SessionsInput): Promise<SessionsResult> {
  const { source, heads } = input;
  const index = indexChains(input.chains, heads);
  const { failures, chunkRecords, sessionRecords, lastOpenBySigner } = index;

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
      const checked = await checkSignedChunk(input, { sid, names, deleted: index.deleted }, record);
      signedNames.add(checked.name);
      if (checked.present) chunks++;
      failures.push(...checked.failures);
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

/** The chains sorted into chunk and session records by session, retention deletions, and receipts checked. */
function indexChains(
  chains: SessionsInput['chains'],
  heads: SessionsInput['heads'],
): {
  failures: VerifyFailure[];
  chunkRecords: Map<string, Array<ChainRecord<'capture-chunk'>>>;
  sessionRecords: Map<string, Array<ChainRecord<'session'>>>;
  deleted: Set<string>;
  lastOpenBySigner: Map<string, string>;
} {
  const failures: VerifyFailure[] = [];
  const chunkRecords = new Map<string, Array<ChainRecord<'capture-chunk'>>>();
  const sessionRecords = new Map<string, Array<ChainRecord<'session'>>>();
  const deleted = new Set<string>();
  const lastOpenBySigner = new Map<string, string>();

  for (const [signerId, records] of chains) {
    for (const seq of [...records.keys()].sort((a, b) => a - b)) {
      const record = records.get(seq) as DecodedRecord;
      if (record.name === 'capture-chunk') {
        const sid = record.predicate.sessionId;
        push(chunkRecords, sid, { signerId, record });
      } else if (record.name === 'session') {
        const p = record.predicate;
        push(sessionRecords, p.sessionId, { signerId, record });
        if (p.phase === 'open') lastOpenBySigner.set(signerId, p.sessionId);
      } else if (record.name === 'retention-action') {
        for (const d of record.predicate.deleted) deleted.add(`${d.session}/${d.name}`);
      } else if (record.name === 'custody-receipt') {
        failures.push(...checkReceipt(signerId, seq, record, chains, heads));
      }
    }
  }
  return { failures, chunkRecords, sessionRecords, deleted, lastOpenBySigner };
}

/** One signed chunk of a session: its subject name, presence (or deletion), bytes, and sidecar. */
async function checkSignedChunk(
  input: SessionsInput,
  folder: { sid: string; names: ReadonlySet<string>; deleted: ReadonlySet<string> },
  record: DecodedRecordOf<'capture-chunk'>,
): Promise<{ name: string; present: boolean; failures: VerifyFailure[] }> {
  const { source } = input;
  const { sid, names } = folder;
  const dir = `sessions/${sid}`;
  const failures: VerifyFailure[] = [];
  const p = record.predicate;
  const expected = chunkFileName(p.chunkIndex);
  const subject = record.subject[0];
  const name = subject?.name ?? expected;
  if (record.subject.length !== 1 || name !== expected) {
    failures.push({
      file: `${dir}/${name}`,
      code: 'VERIFY_SUBJECT_NAME',
      reason: `record seq ${record.chain.seq} names ${name}, chunkIndex ${p.chunkIndex} is ${expected}`,
    });
  }
  const file = `${dir}/${name}`;
  const present = names.has(name);
  if (!present) {
    if (!folder.deleted.has(`${sid}/${name}`))
      failures.push({
        file,
        code: 'VERIFY_CHUNK_MISSING',
        reason: `signed at seq ${record.chain.seq}, not deleted by retention`,
      });
  } else {
    input.onChunk?.(file);
    failures.push(...(await checkChunk(source, file, record, p)));
  }
  const sidecar = await source.readFile(`${file}.dsse.json`);
  if (sidecar === undefined) {
    if (present)
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
  return { name, present, failures };
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** The device's current session: opened last by its signer and not closed. */
function isCurrentSession(
  sid: string,
  records: ReadonlyArray<ChainRecord<'session'>>,
  lastOpenBySigner: ReadonlyMap<string, string>,
): boolean {
  const phases = records.map((r) => ({
    signerId: r.signerId,
    phase: r.record.predicate.phase,
  }));
  const open = phases.find((r) => r.phase === 'open');
  return (
    open !== undefined &&
    !phases.some((r) => r.phase === 'close') &&
    lastOpenBySigner.get(open.signerId) === sid
  );
}

/** A session's open and close records against its chunks (Merkle root, seq order), then its file. */
async function checkSession(
  source: FileSource,
  sid: string,
  records: ReadonlyArray<ChainRecord<'session'>>,
  chunks: ReadonlyArray<ChainRecord<'capture-chunk'>>,
  lastOpenBySigner: ReadonlyMap<string, string>,
  heads: ReadonlyMap<string, number>,
): Promise<VerifyFailure[]> {
  const file = `sessions/${sid}/session.dsse.json`;
  const out: VerifyFailure[] = [];
  const open = records.find((r) => r.record.predicate.phase === 'open');
  const close = records
    .map((r) => ({ record: r.record, predicate: r.record.predicate }))
    .find((r): r is typeof r & { predicate: SessionClose } => r.predicate.phase === 'close');
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
    const p = close.predicate;
    const inside = chunks
      .filter((c) => c.record.chain.seq < closeSeq)
      .map((c) => ({
        index: c.record.predicate.chunkIndex,
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
  out.push(
    ...(await checkSessionFile(source, file, records, {
      open: open?.record,
      close: close?.record,
      heads,
    })),
  );
  return out;
}

function checkReceipt(
  storeId: string,
  seq: number,
  record: DecodedRecordOf<'custody-receipt'>,
  chains: ReadonlyMap<string, ReadonlyMap<number, DecodedRecord>>,
  heads: ReadonlyMap<string, number>,
): VerifyFailure[] {
  const p = record.predicate;
  const device = chains.get(p.record.signer);
  const file = `records/${storeId}/${recordFileName(seq)}`;
  // Receipts for devices whose records are not in this tree cannot be cross-checked here.
  if (device === undefined) return [];
  const twin = device.get(p.record.seq);
  if (twin !== undefined) {
    if (twin.payloadSha256 !== p.record.sha256)
      return [
        {
          file,
          code: 'VERIFY_RECEIPT_MISMATCH',
          reason: `receipt for ${p.record.signer} seq ${p.record.seq} names another digest`,
        },
      ];
    const refusal = twin.name === 'capture-chunk' ? receiptRegionRefusal(p, twin.predicate) : undefined;
    return refusal === undefined ? [] : [{ file, code: 'VERIFY_RECEIPT_REGION', reason: refusal }];
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
