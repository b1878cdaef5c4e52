// A read-only view of a store for the read API and the dashboard: it reads the records added
// since its last look (from the store directory's files or, for a fleet store, the state's log:
// receiver/ui/record-sources.ts), keeps the small SessionIndex and the few key records in memory,
// and reads one session's records only when it is asked for. It never writes to the store.
import { RigcapError } from '../../agent/errors.ts';
import { gatherSession, type SessionRecords } from '../../agent/records/exports.ts';
import { scoreSession, type ReadinessProfile, type SessionReadiness } from '../../agent/records/readiness.ts';
import {
  decodeRecord,
  sessionIdOf,
  type DecodedRecord,
  type DecodedRecordOf,
} from '../../agent/records/record-decode.ts';
import { FileRecordSource, type ChunkFileState, type RecordSource } from './record-sources.ts';
import { SessionIndex, type SessionRow } from './session-index.ts';

export type { ChunkFileState } from './record-sources.ts';

export interface StoreReaderOptions {
  /** An embedded store's root: its files are read (unless `source` is given). */
  root?: string;
  /** Where records and chunks are read from (a fleet store: StateRecordSource). */
  source?: RecordSource;
  profile: ReadinessProfile;
  /** Site names by device id (the operator's); default: the residency the records sign. */
  sites?: ReadonlyMap<string, string>;
}

/** Reads a store's records and keeps its SessionIndex current. */
export class StoreReader {
  readonly index = new SessionIndex();
  readonly #source: RecordSource;
  readonly #profile: ReadinessProfile;
  readonly #sites: ReadonlyMap<string, string>;
  /** Key records by signer (device or store). */
  readonly #keys = new Map<string, Array<DecodedRecordOf<'device-key'>>>();
  /** `${signer}:${seq}` of a device record → the receipts naming it (store id, receipt seq). */
  readonly #receipts = new Map<string, Array<{ storeId: string; seq: number }>>();
  /** `${signer}:${seq}` of a session's record → its session id. */
  readonly #sessionOf = new Map<string, string>();
  readonly #deleted = new Set<string>();
  #refreshing: Promise<void> | undefined;

  constructor(options: StoreReaderOptions) {
    if (options.source === undefined && options.root === undefined)
      throw new RigcapError('RIGCAP_INTERNAL', 'a StoreReader reads a store root or a record source');
    this.#source = options.source ?? new FileRecordSource(options.root!);
    this.#profile = options.profile;
    this.#sites = options.sites ?? new Map();
  }

  /** Reads the records added since the last refresh (one at a time; callers share a run). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #readRecord(signer: string, seq: number): Promise<DecodedRecord | undefined> {
    const bytes = await this.#source.recordBytes(signer, seq);
    if (bytes === undefined) return undefined;
    const d = decodeRecord(bytes);
    // An undecodable record is left to `rigcap verify`; the session it belonged to shows its gap.
    return d.ok ? d.record : undefined;
  }

  async #refresh(): Promise<void> {
    const dirty = new Set<string>();
    await this.#source.scan((signer, seq, record) => this.#take(signer, seq, record, dirty));
    for (const id of dirty) await this.#rescore(id);
  }

  #take(signer: string, seq: number, r: DecodedRecord | undefined, dirty: Set<string>): void {
    if (r === undefined) return;
    if (r.name === 'device-key') {
      const keys = this.#keys.get(signer) ?? [];
      keys.push(r);
      this.#keys.set(signer, keys);
    }
    if (r.name === 'custody-receipt') {
      const p = r.predicate;
      const key = `${p.record.signer}:${p.record.seq}`;
      const list = this.#receipts.get(key) ?? [];
      list.push({ storeId: signer, seq });
      this.#receipts.set(key, list);
      const sid = this.#sessionOf.get(key);
      if (sid !== undefined) dirty.add(sid);
    }
    if (r.name === 'retention-action')
      for (const d of r.predicate.deleted) this.#deleted.add(`${d.session}/${d.name}`);
    const sessionId = sessionIdOf(r);
    if (
      typeof sessionId !== 'string' ||
      !(r.name === 'session' || r.name === 'capture-chunk' || r.name === 'event-marker')
    )
      return;
    const row = this.index.get(sessionId) ?? {
      sessionId,
      deviceId: signer,
      site: this.#sites.get(signer) ?? '',
      startNs: BigInt(r.chain.wallNs),
      endNs: null,
      chunks: 0,
      bytes: 0n,
      closed: false,
      score: null,
      seqs: [],
    };
    if (row.deviceId !== signer) return;
    if (!row.seqs.includes(seq)) row.seqs.push(seq);
    this.#sessionOf.set(`${signer}:${seq}`, sessionId);
    if (r.name === 'session') {
      const p = r.predicate;
      row.startNs = BigInt(p.startNs);
      if (p.phase === 'close') {
        row.closed = true;
        row.endNs = BigInt(p.endNs);
      }
    } else if (r.name === 'capture-chunk') {
      const p = r.predicate;
      row.chunks++;
      row.bytes += BigInt(p.bytes);
      if (!row.closed && (row.endNs === null || BigInt(p.endNs) > row.endNs)) row.endNs = BigInt(p.endNs);
      if (row.chunks === 1 && BigInt(p.startNs) < row.startNs) row.startNs = BigInt(p.startNs);
      if (row.site === '') row.site = p.policy.residency;
    }
    this.index.put(row);
    dirty.add(sessionId);
  }

  async #rescore(sessionId: string): Promise<void> {
    const s = await this.session(sessionId);
    const row = this.index.get(sessionId);
    if (s === undefined || row === undefined) return;
    this.index.put({ ...row, score: this.readiness(s).score });
  }

  /** Readiness of a session under the reader's profile. */
  readiness(s: SessionRecords): SessionReadiness {
    return scoreSession(s, this.#profile);
  }

  /** A session's records, read from its files (undefined for a session the index does not know). */
  async session(sessionId: string): Promise<SessionRecords | undefined> {
    const row = this.index.get(sessionId);
    if (row === undefined) return undefined;
    const device: DecodedRecord[] = [...this.keysOf(row.deviceId)];
    const stores = new Map<string, DecodedRecord[]>();
    for (const seq of [...row.seqs].sort((a, b) => a - b)) {
      const r = await this.#readRecord(row.deviceId, seq);
      if (r !== undefined) device.push(r);
      for (const { storeId, seq: receiptSeq } of this.#receipts.get(`${row.deviceId}:${seq}`) ?? []) {
        const receipt = await this.#readRecord(storeId, receiptSeq);
        const list = stores.get(storeId) ?? [...this.keysOf(storeId)];
        if (receipt !== undefined) list.push(receipt);
        stores.set(storeId, list);
      }
    }
    // In chain order, as gatherSession sees a store's records on disk (exports list them so).
    for (const list of stores.values()) list.sort((a, b) => a.chain.seq - b.chain.seq);
    return gatherSession(sessionId, new Map([[row.deviceId, device], ...stores]));
  }

  /** True when a signed retention-action deleted the chunk. */
  deletedByRetention(sessionId: string, name: string): boolean {
    return this.#deleted.has(`${sessionId}/${name}`);
  }

  /** What the chunk's bytes in the store hash to (files hashed once per size and mtime). */
  chunkFile(sessionId: string, name: string): Promise<ChunkFileState> {
    return this.#source.chunkFile(sessionId, name);
  }

  /** The sidecar's bytes, if present. */
  sidecar(sessionId: string, name: string): Promise<Uint8Array | undefined> {
    return this.#source.sidecar(sessionId, name);
  }

  /** A record's bytes as stored (undefined when absent). */
  recordFile(signer: string, seq: number): Promise<Uint8Array | undefined> {
    return this.#source.recordBytes(signer, seq);
  }

  /** Key records of a signer (device or store). */
  keysOf(signer: string): ReadonlyArray<DecodedRecordOf<'device-key'>> {
    return this.#keys.get(signer) ?? [];
  }

  /** Seeds the index (tests: a large fleet without writing its files). */
  seed(rows: Iterable<SessionRow>): void {
    for (const r of rows) this.index.put(r);
  }
}
