// Where a StoreReader finds a store's records and chunk files: the embedded store's directory
// (records/<signer>/<seq>.dsse.json, sessions/<S>/chunk-*.mcap) or, for a fleet store without one,
// the state port's log, whose entries are the exact envelope bytes of every record (devices' and
// the store's own), with chunk bytes in the blob store.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../../agent/errors.ts';
import { recordFileName } from '../../agent/records/predicates.ts';
import { decodeRecord, type DecodedRecord } from '../../agent/records/record-decode.ts';
import type { BlobStore } from '../blob-store.ts';
import { isSafeSegment } from '../record-view.ts';
import type { StateReader } from '../state.ts';

/** What a chunk's bytes in the store hash to. */
export interface ChunkFileState {
  present: boolean;
  sha256?: string;
  bytes?: number;
}

/** Receives each record a scan finds (undefined: the record is there but does not decode). */
export type TakeRecord = (signer: string, seq: number, record: DecodedRecord | undefined) => void;

/** A store's records and chunk bytes, read-only. */
export interface RecordSource {
  /** Hands `take` every record new since the last scan. */
  scan(take: TakeRecord): Promise<void>;
  /** A record's exact bytes as stored (undefined when absent). */
  recordBytes(signer: string, seq: number): Promise<Uint8Array | undefined>;
  /** The chunk's bytes as the store holds them. */
  chunkFile(sessionId: string, name: string): Promise<ChunkFileState>;
  /** The chunk's sidecar (its record's envelope), if present. */
  sidecar(sessionId: string, name: string): Promise<Uint8Array | undefined>;
}

const recordName = /^([0-9]{12})\.dsse\.json$/;
const chunkName = /^chunk-[0-9]{6,}\.mcap$/;

/** An embedded store's files under `root`; never writes there. */
export class FileRecordSource implements RecordSource {
  readonly #root: string;
  /** The next seq to look for, by signer. */
  readonly #next = new Map<string, number>();
  readonly #hashes = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

  constructor(root: string) {
    this.#root = root;
  }

  async #list(rel: string): Promise<string[]> {
    try {
      return (await readdir(join(this.#root, rel))).sort();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
      throw err;
    }
  }

  async #file(rel: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(join(this.#root, rel)));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'EISDIR') return undefined;
      throw err;
    }
  }

  async #record(signer: string, seq: number): Promise<DecodedRecord | undefined | null> {
    const bytes = await this.recordBytes(signer, seq);
    if (bytes === undefined) return null;
    const d = decodeRecord(bytes);
    // An undecodable record is left to `rigcap verify`; the session it belonged to shows its gap.
    return d.ok ? d.record : undefined;
  }

  async scan(take: TakeRecord): Promise<void> {
    for (const signer of await this.#list('records')) {
      let next = this.#next.get(signer);
      if (next === undefined) {
        // First look at a signer: list its folder once, so a hole in the chain does not hide the rest.
        const seqs = (await this.#list(join('records', signer)))
          .map((n) => recordName.exec(n)?.[1])
          .filter((s): s is string => s !== undefined)
          .map(Number);
        for (const seq of seqs) take(signer, seq, (await this.#record(signer, seq)) ?? undefined);
        next = seqs.length > 0 ? Math.max(...seqs) + 1 : 1;
      }
      for (;;) {
        const record = await this.#record(signer, next);
        // Stops at the first file missing or not decodable (yet); the next scan looks again.
        if (record === null || record === undefined) break;
        take(signer, next, record);
        next++;
      }
      this.#next.set(signer, next);
    }
  }

  async recordBytes(signer: string, seq: number): Promise<Uint8Array | undefined> {
    if (!isSafeSegment(signer) || !Number.isSafeInteger(seq) || seq < 1) return undefined;
    return this.#file(join('records', signer, recordFileName(seq)));
  }

  /** The chunk file's digest, hashed once per size and mtime. */
  async chunkFile(sessionId: string, name: string): Promise<ChunkFileState> {
    // Names come from signed records; only the layout's own names are ever joined to the root.
    if (!isSafeSegment(sessionId) || !chunkName.test(name)) return { present: false };
    const path = join(this.#root, 'sessions', sessionId, name);
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

  async sidecar(sessionId: string, name: string): Promise<Uint8Array | undefined> {
    if (!isSafeSegment(sessionId) || !chunkName.test(name)) return undefined;
    return this.#file(join('sessions', sessionId, `${name}.dsse.json`));
  }
}

/** Log entries read per query. */
const pageSize = 1000;

/**
 * A store without a directory (PostgreSQL state, S3 blobs): records from the state's log, read
 * from the last index seen on; chunk bytes are the blob store's, which keeps a blob only under
 * the digest its bytes were checked to hash to, so a chunk present there is not hashed again.
 */
export class StateRecordSource implements RecordSource {
  readonly #state: StateReader;
  readonly #blobs: BlobStore;
  #next = 0;
  /** `${signer}:${seq}` → log index of the record. */
  readonly #at = new Map<string, number>();
  /** `${sessionId}/${chunk name}` → the chunk record's position and signed digest. */
  readonly #chunks = new Map<string, { signer: string; seq: number; sha256: string }>();

  constructor(deps: { state: StateReader; blobs: BlobStore }) {
    this.#state = deps.state;
    this.#blobs = deps.blobs;
  }

  async scan(take: TakeRecord): Promise<void> {
    for (;;) {
      const page = await this.#state.entriesFrom(this.#next, pageSize);
      for (const row of page) {
        this.#next = row.index + 1;
        // Entries logged before the state kept them are not readable here (README "Store log").
        const d = row.entry === null ? undefined : decodeRecord(row.entry);
        if (d === undefined || !d.ok) continue;
        const r = d.record;
        this.#at.set(`${r.chain.deviceId}:${r.chain.seq}`, row.index);
        if (r.name === 'capture-chunk') {
          const subject = r.subject[0];
          const sha256 = subject?.digest['sha256'];
          if (subject !== undefined && sha256 !== undefined)
            this.#chunks.set(`${r.predicate.sessionId}/${subject.name}`, {
              signer: r.chain.deviceId,
              seq: r.chain.seq,
              sha256,
            });
        }
        take(r.chain.deviceId, r.chain.seq, r);
      }
      if (page.length < pageSize) return;
    }
  }

  async recordBytes(signer: string, seq: number): Promise<Uint8Array | undefined> {
    if (!isSafeSegment(signer) || !Number.isSafeInteger(seq) || seq < 1) return undefined;
    const index = this.#at.get(`${signer}:${seq}`);
    if (index === undefined) {
      // Admitted since the last scan: a device's record is in the state's records too.
      const row = await this.#state.record(signer, seq);
      return row === undefined ? undefined : new Uint8Array(Buffer.from(row.envelopeJson, 'utf8'));
    }
    const entry = (await this.#state.entriesFrom(index, 1))[0]?.entry;
    return entry === undefined || entry === null ? undefined : new Uint8Array(entry);
  }

  async chunkFile(sessionId: string, name: string): Promise<ChunkFileState> {
    const chunk = this.#chunks.get(`${sessionId}/${name}`);
    if (chunk === undefined) return { present: false };
    const bytes = await this.#blobs.size(chunk.sha256);
    return bytes === undefined ? { present: false } : { present: true, sha256: chunk.sha256, bytes };
  }

  async sidecar(sessionId: string, name: string): Promise<Uint8Array | undefined> {
    const chunk = this.#chunks.get(`${sessionId}/${name}`);
    return chunk === undefined ? undefined : this.recordBytes(chunk.signer, chunk.seq);
  }
}
