// Non-proprietary exports of one session, built from its decoded records (pure): gathering a
// session and its in-toto JSONL bundle here; PROV-JSON in export-prov.ts, the facts a card states in
// session-facts.ts, the dataset card and its Croissant-RAI companion in export-card.ts.
import type {
  CaptureChunkPredicate,
  CaptureContext,
  CustodyReceiptPredicate,
  SessionGap,
  SessionPredicate,
} from './predicates.ts';
import type { DecodedRecord } from './record-decode.ts';
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
  keys: DecodedRecord[];
  open: DecodedRecord | undefined;
  chunks: DecodedRecord[];
  markers: DecodedRecord[];
  close: DecodedRecord | undefined;
  /** Custody receipts (store-signed) naming any of the above. */
  receipts: Array<{ storeId: string; record: DecodedRecord }>;
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
        r.predicate['sessionId'] === sessionId,
    );
    if (mine.length === 0) continue;
    const named = new Set(mine.map((r) => r.chain.seq));
    const receipts: SessionRecords['receipts'] = [];
    for (const [storeId, storeRecords] of chains) {
      for (const r of storeRecords) {
        const p = r.predicate as unknown as CustodyReceiptPredicate;
        if (r.name === 'custody-receipt' && p.record.signer === deviceId && named.has(p.record.seq))
          receipts.push({ storeId, record: r });
      }
    }
    const phase = (r: DecodedRecord): string | undefined =>
      r.name === 'session' ? (r.predicate as unknown as SessionPredicate).phase : undefined;
    return {
      sessionId,
      deviceId,
      // The device's key records, and those of every store that signed a receipt here, so the
      // bundle carries the public keys its signatures need.
      keys: [
        ...records.filter((r) => r.name === 'device-key'),
        ...[...new Set(receipts.map((x) => x.storeId))].flatMap((id) =>
          (chains.get(id) ?? []).filter((r) => r.name === 'device-key'),
        ),
      ],
      open: mine.find((r) => phase(r) === 'open'),
      chunks: mine
        .filter((r) => r.name === 'capture-chunk')
        .sort((a, b) => chunkOf(a).chunkIndex - chunkOf(b).chunkIndex),
      markers: mine.filter((r) => r.name === 'event-marker'),
      close: mine.find((r) => phase(r) === 'close'),
      receipts,
    };
  }
  return undefined;
}

/** The capture-chunk predicate of a decoded chunk record. */
export const chunkOf = (r: DecodedRecord): CaptureChunkPredicate =>
  r.predicate as unknown as CaptureChunkPredicate;

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
  const close = s.close?.predicate as unknown as Extract<SessionPredicate, { phase: 'close' }> | undefined;
  const signed = close?.gaps ?? [];
  if (signed.some((g) => g.kind !== undefined)) return mergeGaps(signed);
  return mergeGaps([...sessionGaps({ chunks: s.chunks.map(chunkOf) }), ...signed]);
}

/**
 * The session's capture context: the open record's (v2), else the first chunk's; null when neither
 * states one (records written before context was signed carry only owner and purpose).
 */
export function contextOfSession(s: SessionRecords): CaptureContext | null {
  const open = s.open?.predicate as unknown as Extract<SessionPredicate, { phase: 'open' }> | undefined;
  if (open?.context !== undefined && open.context !== null) return open.context;
  const first = s.chunks[0];
  return first === undefined ? null : (chunkOf(first).context ?? null);
}
