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

  /** Writes a record's files and its receipt (idempotent). */
  async write(row: RecordRow): Promise<void> {
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
    if (row.predicate === 'session' && row.sessionId !== null) {
      const records = await this.#state.sessionRecords(row.sessionId);
      await this.#layout.writeSessionFile(
        row.sessionId,
        records.map((r) => Buffer.from(r.envelopeJson, 'utf8')),
      );
    }
    if (row.predicate === 'device-key') {
      const keys = await this.#state.keysOf(row.signerId);
      await this.#layout.writeKeys(
        row.signerId,
        keys.map((k) => k.publicPem),
      );
    }
    const storeSeq = storeSeqOf(row.receiptJson);
    if (storeSeq === 2) await this.#writeStoreEnrol();
    await this.#layout.writeRecord(this.#key.storeId, storeSeq, Buffer.from(row.receiptJson, 'utf8'));
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
