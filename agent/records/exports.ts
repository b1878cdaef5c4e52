// Non-proprietary exports of one session, built from its decoded records (pure): gathering a
// session and its in-toto JSONL bundle here; PROV-JSON in export-prov.ts, the facts a card states in
// session-facts.ts, the dataset card and its Croissant-RAI companion in export-card.ts.
import type { CaptureChunkPredicate, CaptureContext, SessionGap, SessionPredicate } from './predicates.ts';
import { isRecordOf, sessionIdOf, type DecodedRecord, type DecodedRecordOf } from './record-decode.ts';
import { mergeGaps, sessionGaps } from './gaps.ts';

// The other export formats, re-exported so one module names every export (functions only: the
// import cycle is never used while modules evaluate).
export { provDocument } from './export-prov.ts';
export { sessionFacts, type SessionFacts } from './session-facts.ts';
export { datasetCard, croissantRai } from './export-card.ts';

/** A session's records, gathered from every signer in a spool or store. */
export interface SessionRecords {
  sessionId: string;
  deviceId: string;
  /** device-key records of the device (so the bundle verifies on its own). */
  keys: Array<DecodedRecordOf<'device-key'>>;
  open: DecodedRecordOf<'session'> | undefined;
  chunks: Array<DecodedRecordOf<'capture-chunk'>>;
  markers: Array<DecodedRecordOf<'event-marker'>>;
  close: DecodedRecordOf<'session'> | undefined;
  /** Custody receipts (store-signed) naming any of the above. */
  receipts: Array<{ storeId: string; record: DecodedRecordOf<'custody-receipt'> }>;
}

/** Picks a session's records out of every signer's decoded chain. */
export function gatherSession(
  sessionId: string,
  chains: ReadonlyMap<string, readonly DecodedRecord[]>,
): SessionRecords | undefined {
  for (const [deviceId, records] of chains) {
    const mine = records.filter(
      (r) =>
        (r.name === 'session' || r.name === 'capture-chunk' || r.name === 'event-marker') &&
        sessionIdOf(r) === sessionId,
    );
    if (mine.length === 0) continue;
    const named = new Set(mine.map((r) => r.chain.seq));
    const receipts: SessionRecords['receipts'] = [];
    for (const [storeId, storeRecords] of chains) {
      for (const r of storeRecords) {
        if (r.name !== 'custody-receipt') continue;
        const p = r.predicate;
        if (p.record.signer === deviceId && named.has(p.record.seq)) receipts.push({ storeId, record: r });
      }
    }
    const sessions = mine.filter(isRecordOf('session'));
    return {
      sessionId,
      deviceId,
      // The device's key records, and those of every store that signed a receipt here, so the
      // bundle carries the public keys its signatures need.
      keys: [
        ...records.filter(isRecordOf('device-key')),
        ...[...new Set(receipts.map((x) => x.storeId))].flatMap((id) =>
          (chains.get(id) ?? []).filter(isRecordOf('device-key')),
        ),
      ],
      open: sessions.find((r) => r.predicate.phase === 'open'),
      chunks: mine
        .filter(isRecordOf('capture-chunk'))
        .sort((a, b) => a.predicate.chunkIndex - b.predicate.chunkIndex),
      markers: mine.filter(isRecordOf('event-marker')),
      close: sessions.find((r) => r.predicate.phase === 'close'),
      receipts,
    };
  }
  return undefined;
}

/** The capture-chunk predicate of a decoded chunk record. */
export const chunkOf = (r: DecodedRecordOf<'capture-chunk'>): CaptureChunkPredicate => r.predicate;

type SessionOpen = Extract<SessionPredicate, { phase: 'open' }>;
type SessionClose = Extract<SessionPredicate, { phase: 'close' }>;

/** The session's open predicate, when it has an open record. */
export function openOfSession(s: Pick<SessionRecords, 'open'>): SessionOpen | undefined {
  const p = s.open?.predicate;
  return p?.phase === 'open' ? p : undefined;
}

/** The session's close predicate, when it has a close record. */
export function closeOfSession(s: Pick<SessionRecords, 'close'>): SessionClose | undefined {
  const p = s.close?.predicate;
  return p?.phase === 'close' ? p : undefined;
}

/** in-toto bundle: one DSSE envelope per line (keys, open, chunks, markers, close, receipts). */
export function intotoBundle(s: SessionRecords): string {
  const all = [
    ...s.keys,
    ...(s.open ? [s.open] : []),
    ...s.chunks,
    ...s.markers,
    ...(s.close ? [s.close] : []),
    ...s.receipts.map((r) => r.record),
  ];
  return all.map((r) => new TextDecoder().decode(r.bytes)).join('');
}

/** ISO 8601 of a decimal nanosecond wall time. */
export const nsToIso = (ns: string): string => new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();

/**
 * A session's gaps: a close record that names typed gaps is the signed statement; otherwise (older
 * records, or no close yet) they are named from the chunk records, beside any the close lists.
 */
export function gapsOfSession(s: SessionRecords): SessionGap[] {
  const close = closeOfSession(s);
  const signed = close?.gaps ?? [];
  if (signed.some((g) => g.kind !== undefined)) return mergeGaps(signed);
  return mergeGaps([...sessionGaps({ chunks: s.chunks.map(chunkOf) }), ...signed]);
}

/**
 * The session's capture context: the open record's (v2), else the first chunk's; null when neither
 * states one (records written before context was signed carry only owner and purpose).
 */
export function contextOfSession(s: SessionRecords): CaptureContext | null {
  const open = openOfSession(s);
  if (open?.context !== undefined && open.context !== null) return open.context;
  const first = s.chunks[0];
  return first === undefined ? null : (chunkOf(first).context ?? null);
}
