// Accepting a record: verify signature, enrolment, key validity and chain continuity, then append
// it and the store's custody receipt to the Merkle log, all in one admission transaction of the
// state port (serialised across every receiver on the same database). Files in the store layout
// are written after, idempotently, and repaired on start.
import type { Logger } from '../agent/log.ts';
import { serializeEnvelope, type DsseEnvelope } from '../agent/records/dsse.ts';
import { predicateProblems } from '../agent/records/validate.ts';
import type { BlobStore } from './blob-store.ts';
import {
  applyKeyChange,
  authorise,
  checkChain,
  checkSubject,
  enrol,
  refuse,
  tokenDigest,
} from './ingest/admission.ts';
import { RecordFiles } from './ingest/record-files.ts';
import { StoreChain, type ReceiptBlob } from './ingest/store-chain.ts';
import { StoreLog } from './ingest/store-log.ts';
import type { StoreLayout } from './layout.ts';
import { viewRecord, type RecordView } from './record-view.ts';
import type { ReceiverState, RecordRow, StateTx } from './state.ts';
import type { StoreKey } from './store-key.ts';

export { tokenDigest } from './ingest/admission.ts';

/** What POST /v1/records answers. */
export interface IngestResult {
  /** 201 first time, 200 when the same record was already held. */
  status: 200 | 201;
  receipt: DsseEnvelope;
  logIndex: number;
  /** C2SP signed note of the checkpoint the receipt's log fields name. */
  checkpoint: string;
  /** Inclusion proof of the record's leaf in that checkpoint (base64 hashes). */
  inclusionProof: string[];
}

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

/** Verifies and records submitted envelopes; one at a time per process, one at a time per database. */
export class RecordIngest {
  readonly #state: ReceiverState;
  readonly #blobs: BlobStore;
  readonly #log: Logger;
  readonly #tokens: ReadonlySet<string>;
  readonly #storeLog: StoreLog;
  readonly #chain: StoreChain;
  readonly #files: RecordFiles | undefined;
  readonly #storeId: string;
  /** Region the store states (`rigcap receiver --region`), if any. */
  readonly region: string | undefined;
  #queue: Promise<unknown> = Promise.resolve();

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

  /** Number of entries in this process's view of the log. */
  get logSize(): number {
    return this.#storeLog.size;
  }

  /** The latest checkpoint this process has seen, as a signed note. */
  checkpoint(): string {
    return this.#storeLog.checkpoint();
  }

  /** Catches this process's view of the log up with entries other receivers appended. */
  refreshLog(): Promise<void> {
    return this.#serialised(() => this.#storeLog.catchUp(this.#state));
  }

  /**
   * Consistency proof between two sizes, after catching up when `second` is beyond this process's
   * view (another receiver on the same database answered the checkpoint that named it).
   */
  async consistencyProofAt(first: number, second: number): Promise<string[]> {
    if (Number.isSafeInteger(second) && second > this.#storeLog.size) await this.refreshLog();
    return this.consistencyProof(first, second);
  }

  /** The latest checkpoint of the shared log (catches up first). */
  async latestCheckpoint(): Promise<string> {
    await this.refreshLog();
    return this.#storeLog.checkpoint();
  }

  /** Consistency proof between two sizes (base64 hashes) within this process's view of the log. */
  consistencyProof(first: number, second: number): string[] {
    const size = this.#storeLog.size;
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

  /** Verifies one envelope and takes custody of it; serialised so the chain and log see one writer. */
  submit(bytes: Uint8Array, options: { enrollToken?: string } = {}): Promise<IngestResult> {
    return this.#serialised(() => this.#submit(bytes, options));
  }

  /** Settles once every submit taken so far has finished writing (a request aborted by its client still finishes here). */
  async drain(): Promise<void> {
    for (let seen: Promise<unknown> | undefined; seen !== this.#queue;) {
      seen = this.#queue;
      await seen;
    }
  }

  #serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #submit(bytes: Uint8Array, options: { enrollToken?: string }): Promise<IngestResult> {
    const view = viewRecord(bytes);
    const problems = predicateProblems(view.predicateName, view.predicate);
    if (problems.length > 0)
      throw refuse(
        'RIGCAP_RECEIVER_BAD_RECORD',
        `${view.predicateName} predicate invalid: ${problems.join('; ')}`,
      );
    if (view.chain.deviceId === this.#storeId)
      throw refuse('RIGCAP_RECEIVER_BAD_RECORD', 'records signed as the store are not accepted');
    await this.#storeLog.catchUp(this.#state);
    const held = await this.#state.record(view.chain.deviceId, view.chain.seq);
    if (held !== undefined) return this.#answerHeld(held, view);
    const blob = await checkSubject(this.#blobs, view);
    let admitted: { row: RecordRow; status: 200 | 201 };
    try {
      admitted = await this.#state.admit((tx) => this.#admit(tx, view, blob, options.enrollToken));
    } catch (err) {
      // The local view may hold leaves of the rolled-back transaction: read it again.
      await this.#storeLog.reload(this.#state);
      throw err;
    }
    const { row } = admitted;
    if (admitted.status === 200) return this.#answerHeld(row, view);
    await this.#files?.write(row);
    this.#log.info(
      { signer: row.signerId, seq: row.seq, predicate: row.predicate, logIndex: row.logIndex },
      'record accepted',
    );
    return {
      status: 201,
      receipt: JSON.parse(row.receiptJson) as DsseEnvelope,
      logIndex: row.logIndex,
      checkpoint: row.checkpoint ?? this.#storeLog.checkpoint(row.logIndex + 1),
      inclusionProof: [...(row.inclusionProof ?? [])],
    };
  }

  /** Inside the admission lock: re-check what another receiver may have changed, then log record and receipt. */
  async #admit(
    tx: StateTx,
    view: RecordView,
    blob: ReceiptBlob | undefined,
    enrollToken: string | undefined,
  ): Promise<{ row: RecordRow; status: 200 | 201 }> {
    await this.#storeLog.catchUp(tx);
    const held = await tx.record(view.chain.deviceId, view.chain.seq);
    if (held !== undefined) return { row: held, status: 200 };
    const enrolment = await authorise(tx, view, { tokens: this.#tokens, enrollToken });
    const links = await checkChain(tx, view);
    if (enrolment !== undefined) await enrol(tx, enrolment);
    await applyKeyChange(tx, view);
    await this.#chain.ensureEnrolled(tx, this.#storeLog);
    const envelopeBytes = serializeEnvelope(view.envelope);
    const logIndex = await this.#storeLog.append(tx, envelopeBytes);
    const size = logIndex + 1;
    const receipt = await this.#chain.signReceipt(tx, view, {
      blob,
      log: { index: logIndex, size, root: this.#storeLog.rootHex(size) },
      links,
    });
    const receiptLogIndex = await this.#storeLog.append(tx, receipt.bytes);
    const row: RecordRow = {
      signerId: view.chain.deviceId,
      seq: view.chain.seq,
      payloadSha256: view.payloadSha256,
      prev: view.chain.prev,
      predicate: view.predicateName,
      logIndex,
      receiptJson: Buffer.from(receipt.bytes).toString('utf8'),
      envelopeJson: Buffer.from(envelopeBytes).toString('utf8'),
      sessionId: typeof view.predicate['sessionId'] === 'string' ? view.predicate['sessionId'] : null,
      chunkName: blob?.name ?? null,
      blobSha256: blob?.sha256 ?? null,
      receiptLogIndex,
      checkpoint: this.#storeLog.checkpoint(size),
      inclusionProof: this.#storeLog.inclusionProof(logIndex, size),
    };
    await tx.insertRecord(row);
    return { row, status: 201 };
  }

  /** The answer for a record already held: its receipt, with a proof in the latest checkpoint. */
  #answerHeld(held: RecordRow, view: RecordView): IngestResult {
    if (held.payloadSha256 !== view.payloadSha256) {
      throw refuse(
        'RIGCAP_RECEIVER_CHAIN_FORK',
        `${view.chain.deviceId} seq ${view.chain.seq} is already held with another payload`,
      );
    }
    const size = this.#storeLog.size;
    return {
      status: 200,
      receipt: JSON.parse(held.receiptJson) as DsseEnvelope,
      logIndex: held.logIndex,
      checkpoint: this.#storeLog.checkpoint(size),
      inclusionProof: this.#storeLog.inclusionProof(held.logIndex, size),
    };
  }

  /** Re-writes every held record's files and the store key (after a crash between commit and write). */
  async repair(): Promise<number> {
    return this.#files === undefined ? 0 : this.#files.repair();
  }
}
