// The gaps a session close record signs: read back the session's own signed chunk records (and,
// after a crash, when it last signed anything) and add what the running pipeline tracked.
import { errnoCode, isRigcapError } from './errors.ts';
import type { RecordStore } from './keys/record-store.ts';
import {
  sessionGaps,
  sessionIdOf,
  type CaptureChunkPredicate,
  type CloseGapInputs,
  type SessionGap,
} from './records/index.ts';

/** The session's chunk predicates and the wall time of its newest signed record, newest first scan. */
export async function sessionTail(
  store: RecordStore,
  sessionId: string,
): Promise<{ chunks: CaptureChunkPredicate[]; lastSignedNs: bigint | undefined }> {
  const chunks: CaptureChunkPredicate[] = [];
  let lastSignedNs: bigint | undefined;
  const seqs = await store.seqs();
  // Walk back from the head to the session's open record: an open session is (nearly) the newest.
  for (let i = seqs.length - 1; i >= 0; i--) {
    // A record that does not decode (RIGCAP_CHAIN_CORRUPT) or vanished names no gap; verify reports it.
    const record = await store.read(seqs[i]!).catch((err: unknown) => {
      if (!isRigcapError(err, 'RIGCAP_CHAIN_CORRUPT') && errnoCode(err) !== 'ENOENT') throw err;
      return undefined;
    });
    if (record === undefined || sessionIdOf(record) !== sessionId) continue;
    const wallNs = BigInt(record.chain.wallNs);
    const end = record.name === 'capture-chunk' ? BigInt(record.predicate.endNs) : wallNs;
    if (lastSignedNs === undefined || end > lastSignedNs) lastSignedNs = end;
    if (record.name === 'capture-chunk') chunks.push(record.predicate);
    if (record.name === 'session' && record.predicate.phase === 'open') break;
  }
  return { chunks, lastSignedNs };
}

/** Gaps for a close record; on failure to read the chain, the pipeline's own inputs alone. */
export async function closeGaps(
  store: RecordStore,
  sessionId: string,
  inputs: Omit<CloseGapInputs, 'chunks' | 'downtime'> & {
    recoveredAtNs?: bigint;
    /** Stream name → topic, so the pipeline's names read as the records' topics. */
    topicOf?: ReadonlyMap<string, string>;
  },
): Promise<SessionGap[]> {
  // A chain that cannot be read fails the close: signing it without the session's chunks would claim
  // gaps (or none) it never saw; the next start's recovery closes the session instead.
  const tail = await sessionTail(store, sessionId);
  const { recoveredAtNs, topicOf, dropWindows, heldLost, ...rest } = inputs;
  const topic = (name: string): string => topicOf?.get(name) ?? name;
  return sessionGaps({
    ...rest,
    ...(dropWindows === undefined
      ? {}
      : { dropWindows: dropWindows.map((w) => ({ ...w, stream: topic(w.stream) })) }),
    ...(heldLost === undefined ? {} : { heldLost: heldLost.map((h) => ({ ...h, stream: topic(h.stream) })) }),
    chunks: tail.chunks,
    ...(recoveredAtNs !== undefined && tail.lastSignedNs !== undefined
      ? { downtime: { startNs: tail.lastSignedNs, endNs: recoveredAtNs } }
      : {}),
  });
}
