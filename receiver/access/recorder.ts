// Appends access entries to the store's Merkle log as store-signed `access` records, the way the
// store signs its retention actions (one admission each, record file written after). Entries that
// arrive while a record is being signed wait and go into the next one together, so a burst of
// reads costs one admission per batch, not one per read; each caller learns once its entry is
// committed (the read API sends nothing before that).
import { createHash } from 'node:crypto';
import type { Logger } from '../../agent/log.ts';
import type { AccessEntry } from '../../agent/records/predicates.ts';
import type { ResourceDescriptor } from '../../agent/records/statement.ts';
import { StoreChain } from '../ingest/store-chain.ts';
import { StoreLog } from '../ingest/store-log.ts';
import type { StoreLayout } from '../layout.ts';
import type { ReceiverState } from '../state.ts';
import type { StoreKey } from '../store-key.ts';

/** Entries in one access record at most. */
export const maxEntriesPerRecord = 24;
/** JSON bytes of the entries of one record at most, so a record fits one tlog-tiles entry (64 KiB). */
export const maxEntryBytesPerRecord = 24_000;

/** How many entries from the front of `entries` go into one record (at least one). */
export function recordBatchSize(entries: readonly AccessEntry[]): number {
  let bytes = 0;
  let n = 0;
  while (n < entries.length && n < maxEntriesPerRecord) {
    bytes += Buffer.byteLength(JSON.stringify(entries[n]));
    if (n > 0 && bytes > maxEntryBytesPerRecord) break;
    n++;
  }
  return n;
}

/** What the recorder needs. */
export interface AccessRecorderDeps {
  state: ReceiverState;
  key: StoreKey;
  /** Where the store's record files live; none for a store without a directory. */
  layout?: StoreLayout;
  log: Logger;
}

/** Where an entry landed. */
export interface AccessReceipt {
  /** The store chain seq of the access record holding it. */
  seq: number;
}

interface Waiting {
  entry: AccessEntry;
  resolve(receipt: AccessReceipt): void;
  reject(err: unknown): void;
}

/** The subject of an access record: each distinct digest sent, or the empty digest when none. */
export function accessSubject(entries: readonly AccessEntry[]): ResourceDescriptor[] {
  const seen = new Map<string, string>();
  for (const e of entries) if (e.sha256 !== null && !seen.has(e.sha256)) seen.set(e.sha256, e.object);
  if (seen.size === 0)
    return [{ name: 'access-none', digest: { sha256: createHash('sha256').digest('hex') } }];
  return [...seen].map(([sha256, object]) => ({ name: object, digest: { sha256 } }));
}

/** Signs access entries into the store's chain and log, in batches. */
export class AccessRecorder {
  readonly #deps: AccessRecorderDeps;
  readonly #chain: StoreChain;
  readonly #storeLog: StoreLog;
  #waiting: Waiting[] = [];
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(deps: AccessRecorderDeps) {
    this.#deps = deps;
    this.#chain = new StoreChain(deps.key);
    this.#storeLog = new StoreLog(deps.key);
  }

  /** Queues one entry; resolves once the record holding it is committed to the log. */
  record(entry: AccessEntry): Promise<AccessReceipt> {
    if (this.#closed) return Promise.reject(new Error('the access recorder is closed'));
    const done = new Promise<AccessReceipt>((resolve, reject) => {
      this.#waiting.push({ entry, resolve, reject });
    });
    this.#running ??= this.#pump().finally(() => {
      this.#running = undefined;
    });
    return done;
  }

  /** Signs what is queued, then stops taking entries. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#running;
  }

  async #pump(): Promise<void> {
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, recordBatchSize(this.#waiting.map((w) => w.entry)));
      try {
        const seq = await this.#sign(batch.map((w) => w.entry));
        for (const w of batch) w.resolve({ seq });
      } catch (err) {
        this.#deps.log.error({ err, entries: batch.length }, 'access entries not logged');
        for (const w of batch) w.reject(err);
      }
    }
  }

  async #sign(entries: AccessEntry[]): Promise<number> {
    const { state, key, layout } = this.#deps;
    const log = this.#storeLog;
    // Other writers (admissions, retention, other receivers) append too: catch up before the lock
    // so the admission itself reads only what is new.
    await log.catchUp(state);
    let signed;
    try {
      signed = await state.admit(async (tx) => {
        await log.catchUp(tx);
        return this.#chain.signStoreRecord(tx, log, {
          name: 'access',
          subject: accessSubject(entries),
          body: { entries },
        });
      });
    } catch (err) {
      log.rolledBack();
      throw err;
    }
    log.committed();
    await layout?.writeRecord(key.storeId, signed.seq, signed.bytes);
    if (signed.seq === 2) {
      // The store's enrol record came with this one: its file too (receipts write it otherwise).
      const enrol = await state.meta('store.enrol');
      if (enrol !== undefined) await layout?.writeRecord(key.storeId, 1, Buffer.from(enrol, 'utf8'));
    }
    return signed.seq;
  }
}
