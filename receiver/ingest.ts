// Accepting a record: verify what can be verified without the state (predicate, signature with a
// known key, the chunk blob), then queue it for the admission sequencer, which admits every record
// waiting at that moment in one transaction of the state port (enrolment, key validity and chain
// continuity re-checked under the log's lock, serialised across every receiver on the same
// database), logs records and receipts, and answers each with its receipt, checkpoint and proof.
// Files in the store layout are written after, idempotently, and repaired on start.
import type { Logger } from '../agent/log.ts';
import { serializeEnvelope } from '../agent/records/dsse.ts';
import { predicateProblems } from '../agent/records/validate.ts';
import type { BlobStore } from './blob-store.ts';
import { admitBatch, type IngestResult, type PendingRecord } from './ingest/admit-batch.ts';
import { checkSubject, refuse, tokenDigest, verifiedEarly } from './ingest/admission.ts';
import { GroupCommit, type ItemOutcome } from './ingest/group-commit.ts';
import { RecordFiles } from './ingest/record-files.ts';
import { StoreChain, type ReceiptBlob } from './ingest/store-chain.ts';
import { StoreLog } from './ingest/store-log.ts';
import type { StoreLayout } from './layout.ts';
import { viewRecord } from './record-view.ts';
import type { KeyRow, ReceiverState } from './state.ts';
import type { StoreKey } from './store-key.ts';

export { tokenDigest } from './ingest/admission.ts';
export type { IngestResult } from './ingest/admit-batch.ts';

/** Records admitted in one transaction at most. */
const maxBatch = 256;
/** Keys remembered for verifying signatures before the lock (a keyid names one key for good). */
const maxCachedKeys = 100_000;

/** What RecordIngest needs. */
export interface RecordIngestDeps {
  state: ReceiverState;
  /** The file layout to materialise records into; none when the store keeps no directory. */
  layout?: StoreLayout;
  blobs: BlobStore;
  key: StoreKey;
  log: Logger;
  enrollTokens: readonly string[];
  /** Region the store states in its receipts and on GET /v1/store. */
  region?: string;
}

/** How a record was submitted: with an enrolment token, and whether the device registry matched it. */
export interface SubmitOptions {
  enrollToken?: string;
  /** Digest of the token the device registry holds for the record's device (EnrolmentGate). */
  registeredToken?: string;
}

/** Verifies and records submitted envelopes, admitting those that arrive together in one batch. */
export class RecordIngest {
  readonly #state: ReceiverState;
  readonly #blobs: BlobStore;
  readonly #log: Logger;
  readonly #tokens: ReadonlySet<string>;
  readonly #storeLog: StoreLog;
  readonly #chain: StoreChain;
  readonly #files: RecordFiles | undefined;
  readonly #storeId: string;
  readonly #sequencer: GroupCommit<PendingRecord, IngestResult>;
  readonly #keys = new Map<string, KeyRow>();
  readonly #submitting = new Set<Promise<unknown>>();
  /** Region the store states (`rigcap receiver --region`), if any. */
  readonly region: string | undefined;

  private constructor(deps: RecordIngestDeps) {
    this.#state = deps.state;
    this.#blobs = deps.blobs;
    this.#log = deps.log;
    this.#tokens = new Set(deps.enrollTokens.map(tokenDigest));
    this.#storeLog = new StoreLog(deps.key);
    this.#chain = new StoreChain(deps.key, deps.region === undefined ? {} : { region: deps.region });
    this.region = deps.region;
    this.#storeId = deps.key.storeId;
    this.#files =
      deps.layout === undefined
        ? undefined
        : new RecordFiles({ layout: deps.layout, blobs: deps.blobs, state: deps.state, key: deps.key });
    this.#sequencer = new GroupCommit((items) => this.#admit(items), { maxBatch });
  }

  /** Loads the log from the state. */
  static async open(deps: RecordIngestDeps): Promise<RecordIngest> {
    const ingest = new RecordIngest(deps);
    await ingest.#storeLog.catchUp(deps.state);
    return ingest;
  }

  /** The log identity written on every checkpoint. */
  get origin(): string {
    return this.#storeLog.origin;
  }

  /** Number of committed entries in this process's view of the log. */
  get logSize(): number {
    return this.#storeLog.committedSize;
  }

  /** Records verified and waiting for the next admission batch. */
  get waiting(): number {
    return this.#sequencer.waiting;
  }

  /** The latest checkpoint this process has seen, as a signed note. */
  checkpoint(): string {
    return this.#storeLog.checkpoint();
  }

  /** Catches this process's view of the log up with entries other receivers appended. */
  refreshLog(): Promise<void> {
    return this.#sequencer.exclusive(() => this.#storeLog.catchUp(this.#state));
  }

  /**
   * Consistency proof between two sizes, after catching up when `second` is beyond this process's
   * view (another receiver on the same database answered the checkpoint that named it).
   */
  async consistencyProofAt(first: number, second: number): Promise<string[]> {
    if (Number.isSafeInteger(second) && second > this.logSize) await this.refreshLog();
    return this.consistencyProof(first, second);
  }

  /** The latest checkpoint of the shared log (catches up first). */
  async latestCheckpoint(): Promise<string> {
    await this.refreshLog();
    return this.#storeLog.checkpoint();
  }

  /** Consistency proof between two sizes (base64 hashes) within this process's view of the log. */
  consistencyProof(first: number, second: number): string[] {
    const size = this.logSize;
    if (!(
      Number.isSafeInteger(first) &&
      Number.isSafeInteger(second) &&
      first >= 0 &&
      first <= second &&
      second <= size
    ))
      throw refuse(
        'RIGCAP_RECEIVER_BAD_REQUEST',
        `no consistency proof from ${first} to ${second} (log size ${size})`,
      );
    return this.#storeLog.consistencyProof(first, second);
  }

  /** Verifies one envelope and takes custody of it, in the next batch the sequencer admits. */
  submit(bytes: Uint8Array, options: SubmitOptions = {}): Promise<IngestResult> {
    const run = this.#submit(bytes, options);
    this.#submitting.add(run);
    const forget = (): boolean => this.#submitting.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** Settles once every submit taken so far has finished writing (a request aborted by its client still finishes here). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#submitting]);
    await this.#sequencer.drain();
  }

  async #submit(bytes: Uint8Array, options: SubmitOptions): Promise<IngestResult> {
    const view = viewRecord(bytes);
    const problems = predicateProblems(view.predicateName, view.predicate);
    if (problems.length > 0)
      throw refuse(
        'RIGCAP_RECEIVER_BAD_RECORD',
        `${view.predicateName} predicate invalid: ${problems.join('; ')}`,
      );
    if (view.chain.deviceId === this.#storeId)
      throw refuse('RIGCAP_RECEIVER_BAD_RECORD', 'records signed as the store are not accepted');
    const [signatureChecked, blob] = await Promise.all([
      verifiedEarly(view, (keyid) => this.#keyOf(keyid)),
      checkSubject(this.#blobs, view).then(
        (value): ItemOutcome<ReceiptBlob | undefined> => ({ ok: true, value }),
        (error: unknown): ItemOutcome<ReceiptBlob | undefined> => ({ ok: false, error }),
      ),
    ]);
    return this.#sequencer.submit({
      view,
      envelopeBytes: serializeEnvelope(view.envelope),
      blob,
      enrollToken: options.enrollToken,
      registeredToken: options.registeredToken,
      signatureChecked,
    });
  }

  /** A held key, from memory when seen before (its public key never changes; its range may). */
  async #keyOf(keyid: string): Promise<KeyRow | undefined> {
    const cached = this.#keys.get(keyid);
    if (cached !== undefined) return cached;
    const row = await this.#state.key(keyid);
    if (row !== undefined) {
      if (this.#keys.size >= maxCachedKeys) this.#keys.clear();
      this.#keys.set(keyid, row);
    }
    return row;
  }

  /** One batch: admitted in one transaction, then its files written, before anyone is answered. */
  async #admit(items: PendingRecord[]): Promise<Array<ItemOutcome<IngestResult>>> {
    const ctx = { state: this.#state, log: this.#storeLog, chain: this.#chain, tokens: this.#tokens };
    const { outcomes, admitted } = await admitBatch(ctx, items);
    await this.#files?.writeBatch(admitted);
    for (const row of admitted)
      this.#log.debug(
        { signer: row.signerId, seq: row.seq, predicate: row.predicate, logIndex: row.logIndex },
        'record accepted',
      );
    this.#log.info(
      { records: items.length, admitted: admitted.length, logSize: this.#storeLog.committedSize },
      'records admitted',
    );
    return outcomes;
  }

  /** Re-writes every held record's files and the store key (after a crash between commit and write). */
  async repair(): Promise<number> {
    return this.#files === undefined ? 0 : this.#files.repair();
  }
}
