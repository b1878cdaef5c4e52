// Reads the access entries back out of the store's log: every log entry that is an `access` record
// signed by the store's enrolled key, each entry with the log index and chain seq of its record.
// A record in the log that claims to be the store's but does not verify is reported, never listed.
import { RigcapError } from '../../agent/errors.ts';
import { preAuthEncoding } from '../../agent/records/dsse.ts';
import { spkiBlocksOfPem, keyIdOf, verifySignature } from '../../agent/records/ed25519.ts';
import type { AccessEntry } from '../../agent/records/predicates.ts';
import { decodeRecord } from '../../agent/records/record-decode.ts';
import type { StateReader } from '../state.ts';

/** One access entry with where it sits in the log. */
export interface AccessLogRow extends AccessEntry {
  logIndex: number;
  /** Store chain seq of the access record. */
  seq: number;
}

/** The access log of a store. */
export interface AccessLog {
  /** The store's signer id (null: the store has logged nothing yet). */
  storeId: string | null;
  /** Log entries read (the log's size when read). */
  logSize: number;
  entries: AccessLogRow[];
  /** Log indexes of store-named access records whose signature does not verify. */
  unverified: number[];
}

const pageSize = 1000;

async function storeKeyOf(
  state: StateReader,
): Promise<{ storeId: string; keyId: string; spki: Uint8Array } | undefined> {
  const enrol = await state.meta('store.enrol');
  // A store that has logged nothing yet has no store record, and no access entry either.
  if (enrol === undefined) return undefined;
  const decoded = decodeRecord(Buffer.from(enrol, 'utf8'));
  if (!decoded.ok || decoded.record.name !== 'device-key')
    throw new RigcapError('RIGCAP_INTERNAL', 'the store enrol record does not decode');
  const p = decoded.record.predicate;
  const spki = p.action === 'enrol' ? spkiBlocksOfPem(p.publicKey)[0] : undefined;
  if (spki === undefined) throw new RigcapError('RIGCAP_INTERNAL', 'the store enrol record names no key');
  return { storeId: decoded.record.chain.deviceId, keyId: keyIdOf(spki), spki };
}

/** Every access entry in the log, oldest first; `sessionId` keeps only that session's. */
export async function readAccessLog(
  state: StateReader,
  options: { sessionId?: string } = {},
): Promise<AccessLog> {
  const key = await storeKeyOf(state);
  if (key === undefined) return { storeId: null, logSize: 0, entries: [], unverified: [] };
  const out: AccessLog = { storeId: key.storeId, logSize: 0, entries: [], unverified: [] };
  for (let from = 0; ;) {
    const page = await state.entriesFrom(from, pageSize);
    for (const row of page) {
      out.logSize = row.index + 1;
      if (row.entry === null) continue;
      const d = decodeRecord(row.entry);
      if (!d.ok || d.record.name !== 'access' || d.record.chain.deviceId !== key.storeId) continue;
      const r = d.record;
      const pae = preAuthEncoding(r.envelope.payloadType, r.payload);
      if (r.keyId !== key.keyId || !verifySignature(key.spki, pae, r.signature)) {
        out.unverified.push(row.index);
        continue;
      }
      for (const e of r.predicate.entries)
        if (options.sessionId === undefined || e.sessionId === options.sessionId)
          out.entries.push({ ...e, logIndex: row.index, seq: r.chain.seq });
    }
    if (page.length < pageSize) break;
    from = page[page.length - 1]!.index + 1;
  }
  return out;
}
