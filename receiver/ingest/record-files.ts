// Accepted records in the store's file layout (records/, sessions/, keys/), so `rigcap verify DIR`
// reads a store like a spool. Written after the admission commits, idempotently, and rewritten
// on start for repair after a crash between commit and write.
import type { DsseEnvelope } from '../../agent/records/dsse.ts';
import type { BlobStore } from '../blob-store.ts';
import type { StoreLayout } from '../layout.ts';
import type { ReceiverState, RecordRow } from '../state.ts';
import type { StoreKey } from '../store-key.ts';

function storeSeqOf(receiptJson: string): number {
  const receipt = JSON.parse(receiptJson) as DsseEnvelope;
  return (
    JSON.parse(Buffer.from(receipt.payload, 'base64').toString('utf8')) as {
      predicate: { chain: { seq: number } };
    }
  ).predicate.chain.seq;
}

/** Writes accepted records into a StoreLayout. */
export class RecordFiles {
  readonly #layout: StoreLayout;
  readonly #blobs: BlobStore;
  readonly #state: ReceiverState;
  readonly #key: StoreKey;

  constructor(deps: { layout: StoreLayout; blobs: BlobStore; state: ReceiverState; key: StoreKey }) {
    this.#layout = deps.layout;
    this.#blobs = deps.blobs;
    this.#state = deps.state;
    this.#key = deps.key;
  }

  /**
   * Writes the files of a batch's rows (idempotent): each record's own files at once, then each
   * session file and key file the batch touched once, rebuilt from the committed state.
   */
  async writeBatch(rows: readonly RecordRow[]): Promise<void> {
    await Promise.all(rows.map((row) => this.#writeOwn(row)));
    const sessions = new Set<string>();
    const signers = new Set<string>();
    for (const row of rows) {
      if (row.predicate === 'session' && row.sessionId !== null) sessions.add(row.sessionId);
      if (row.predicate === 'device-key') signers.add(row.signerId);
    }
    for (const sessionId of sessions) await this.#writeSession(sessionId);
    for (const signerId of signers) await this.#writeKeys(signerId);
    if (rows.some((row) => storeSeqOf(row.receiptJson) === 2)) await this.#writeStoreEnrol();
  }

  /** Writes a record's files and its receipt (idempotent). */
  async write(row: RecordRow): Promise<void> {
    await this.#writeOwn(row);
    if (row.predicate === 'session' && row.sessionId !== null) await this.#writeSession(row.sessionId);
    if (row.predicate === 'device-key') await this.#writeKeys(row.signerId);
    if (storeSeqOf(row.receiptJson) === 2) await this.#writeStoreEnrol();
  }

  async #writeSession(sessionId: string): Promise<void> {
    const records = await this.#state.sessionRecords(sessionId);
    await this.#layout.writeSessionFile(
      sessionId,
      records.map((r) => Buffer.from(r.envelopeJson, 'utf8')),
    );
  }

  async #writeKeys(signerId: string): Promise<void> {
    const keys = await this.#state.keysOf(signerId);
    await this.#layout.writeKeys(
      signerId,
      keys.map((k) => k.publicPem),
    );
  }

  /** The files of the record alone: its envelope, chunk and sidecar, and its receipt. */
  async #writeOwn(row: RecordRow): Promise<void> {
    const envelope = Buffer.from(row.envelopeJson, 'utf8');
    await this.#layout.writeRecord(row.signerId, row.seq, envelope);
    if (
      row.predicate === 'capture-chunk' &&
      row.sessionId !== null &&
      row.chunkName !== null &&
      row.blobSha256 !== null
    ) {
      // A blob deleted by a signed retention-action is not placed again on repair.
      if (await this.#blobs.has(row.blobSha256))
        await this.#blobs.place(row.blobSha256, this.#layout.chunkPath(row.sessionId, row.chunkName));
      await this.#layout.writeSidecar(row.sessionId, row.chunkName, envelope);
    }
    await this.#layout.writeRecord(
      this.#key.storeId,
      storeSeqOf(row.receiptJson),
      Buffer.from(row.receiptJson, 'utf8'),
    );
  }

  async #writeStoreEnrol(): Promise<void> {
    const enrol = await this.#state.meta('store.enrol');
    if (enrol !== undefined) await this.#layout.writeRecord(this.#key.storeId, 1, Buffer.from(enrol, 'utf8'));
  }

  /** Re-writes every held record's files and the store key; returns how many records. */
  async repair(): Promise<number> {
    await this.#layout.writeKeys(this.#key.storeId, [this.#key.publicKeyPem]);
    await this.#writeStoreEnrol();
    const rows = await this.#state.allRecords();
    for (const row of rows) await this.write(row);
    return rows.length;
  }
}
