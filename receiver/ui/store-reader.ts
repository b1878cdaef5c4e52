// A read-only view of an embedded store for the dashboard: it reads new record files since its
// last look (each signer's chain from the next seq on), keeps the small SessionIndex and the few
// key records in memory, and reads one session's files only when its page is asked for. It never
// writes under the store root.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../../agent/errors.ts';
import { gatherSession, type SessionRecords } from '../../agent/records/exports.ts';
import { recordFileName } from '../../agent/records/predicates.ts';
import { scoreSession, type ReadinessProfile, type SessionReadiness } from '../../agent/records/readiness.ts';
import {
  decodeRecord,
  sessionIdOf,
  type DecodedRecord,
  type DecodedRecordOf,
} from '../../agent/records/record-decode.ts';
import { isSafeSegment } from '../record-view.ts';
import { SessionIndex, type SessionRow } from './session-index.ts';

const recordName = /^([0-9]{12})\.dsse\.json$/;

interface SignerState {
  /** The next seq to look for. */
  next: number;
  keys: Array<DecodedRecordOf<'device-key'>>;
}

/** What a chunk file on disk hashes to (cached by size and mtime). */
export interface ChunkFileState {
  present: boolean;
  sha256?: string;
  bytes?: number;
}

export interface StoreReaderOptions {
  root: string;
  profile: ReadinessProfile;
  /** Site names by device id (the operator's); default: the residency the records sign. */
  sites?: ReadonlyMap<string, string>;
}

/** Reads an embedded store's layout (records/, sessions/) and keeps its SessionIndex current. */
export class StoreReader {
  readonly index = new SessionIndex();
  readonly root: string;
  readonly #profile: ReadinessProfile;
  readonly #sites: ReadonlyMap<string, string>;
  readonly #signers = new Map<string, SignerState>();
  /** `${signer}:${seq}` of a device record → the receipts naming it (store id, receipt seq). */
  readonly #receipts = new Map<string, Array<{ storeId: string; seq: number }>>();
  /** `${signer}:${seq}` of a session's record → its session id. */
  readonly #sessionOf = new Map<string, string>();
  readonly #deleted = new Set<string>();
  readonly #hashes = new Map<string, { size: number; mtimeMs: number; sha256: string }>();
  #refreshing: Promise<void> | undefined;

  constructor(options: StoreReaderOptions) {
    this.root = options.root;
    this.#profile = options.profile;
    this.#sites = options.sites ?? new Map();
  }

  /** Reads record files written since the last refresh (one at a time; callers share a run). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #list(rel: string): Promise<string[]> {
    try {
      return (await readdir(join(this.root, rel))).sort();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
      throw err;
    }
  }

  async #file(rel: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(join(this.root, rel)));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'EISDIR') return undefined;
      throw err;
    }
  }

  async #readRecord(signer: string, seq: number): Promise<DecodedRecord | undefined> {
    const bytes = await this.#file(join('records', signer, recordFileName(seq)));
    if (bytes === undefined) return undefined;
    const d = decodeRecord(bytes);
    // An undecodable record is left to `rigcap verify`; the session it belonged to shows its gap.
    return d.ok ? d.record : undefined;
  }

  async #refresh(): Promise<void> {
    const dirty = new Set<string>();
    for (const signer of await this.#list('records')) {
      let state = this.#signers.get(signer);
      let seqs: number[];
      if (state === undefined) {
        state = { next: 1, keys: [] };
        this.#signers.set(signer, state);
        // First look at a signer: list its folder once, so a hole in the chain does not hide the rest.
        seqs = (await this.#list(join('records', signer)))
          .map((n) => recordName.exec(n)?.[1])
          .filter((s): s is string => s !== undefined)
          .map(Number);
      } else seqs = [];
      for (const seq of seqs) this.#take(signer, seq, await this.#readRecord(signer, seq), dirty);
      if (seqs.length > 0) state.next = Math.max(...seqs) + 1;
      for (;;) {
        const record = await this.#readRecord(signer, state.next);
        if (record === undefined) break;
        this.#take(signer, state.next, record, dirty);
        state.next++;
      }
    }
    for (const id of dirty) await this.#rescore(id);
  }

  #take(signer: string, seq: number, r: DecodedRecord | undefined, dirty: Set<string>): void {
    if (r === undefined) return;
    const state = this.#signers.get(signer)!;
    if (r.name === 'device-key') state.keys.push(r);
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
    const device: DecodedRecord[] = [...(this.#signers.get(row.deviceId)?.keys ?? [])];
    const stores = new Map<string, DecodedRecord[]>();
    for (const seq of [...row.seqs].sort((a, b) => a - b)) {
      const r = await this.#readRecord(row.deviceId, seq);
      if (r !== undefined) device.push(r);
      for (const { storeId, seq: receiptSeq } of this.#receipts.get(`${row.deviceId}:${seq}`) ?? []) {
        const receipt = await this.#readRecord(storeId, receiptSeq);
        const list = stores.get(storeId) ?? [...(this.#signers.get(storeId)?.keys ?? [])];
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

  /** The chunk file's digest, hashed once per size and mtime. */
  async chunkFile(sessionId: string, name: string): Promise<ChunkFileState> {
    // Names come from signed records; only the layout's own names are ever joined to the root.
    if (!isSafeSegment(sessionId) || !/^chunk-[0-9]{6,}\.mcap$/.test(name)) return { present: false };
    const path = join(this.root, 'sessions', sessionId, name);
    let info;
    try {
      info = await stat(path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return { present: false };
      throw err;
    }
    const cached = this.#hashes.get(path);
    if (cached !== undefined && cached.size === info.size && cached.mtimeMs === info.mtimeMs)
      return { present: true, sha256: cached.sha256, bytes: cached.size };
    const hash = createHash('sha256');
    for await (const piece of createReadStream(path, { highWaterMark: 1 << 20 }))
      hash.update(piece as Buffer);
    const sha256 = hash.digest('hex');
    this.#hashes.set(path, { size: info.size, mtimeMs: info.mtimeMs, sha256 });
    return { present: true, sha256, bytes: info.size };
  }

  /** The sidecar's bytes, if present. */
  async sidecar(sessionId: string, name: string): Promise<Uint8Array | undefined> {
    if (!isSafeSegment(sessionId) || !/^chunk-[0-9]{6,}\.mcap$/.test(name)) return undefined;
    return this.#file(join('sessions', sessionId, `${name}.dsse.json`));
  }

  /** A record file's bytes as stored (undefined when absent). */
  async recordFile(signer: string, seq: number): Promise<Uint8Array | undefined> {
    if (!isSafeSegment(signer) || !Number.isSafeInteger(seq) || seq < 1) return undefined;
    return this.#file(join('records', signer, recordFileName(seq)));
  }

  /** Key records of a signer (device or store). */
  keysOf(signer: string): ReadonlyArray<DecodedRecordOf<'device-key'>> {
    return this.#signers.get(signer)?.keys ?? [];
  }

  /** Seeds the index (tests: a large fleet without writing its files). */
  seed(rows: Iterable<SessionRow>): void {
    for (const r of rows) this.index.put(r);
  }
}
