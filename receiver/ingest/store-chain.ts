// The store's own chain: seq 1 enrols the store key (so a copy of the store or an exported bundle
// carries the key its receipts are signed with), every later record is a custody receipt. Its
// head lives in the state's meta table and advances only inside an admission; each of its records
// is also a log entry.
import { createHash } from 'node:crypto';
import { buildRecord } from '../../agent/records/chain.ts';
import type { PredicateBody } from '../../agent/records/predicates.ts';
import { serializeEnvelope, type DsseEnvelope } from '../../agent/records/dsse.ts';
import type { ResourceDescriptor } from '../../agent/records/statement.ts';
import { keySubject } from '../../agent/records/subjects.ts';
import type { RecordView } from '../record-view.ts';
import type { StateTx } from '../state.ts';
import type { StoreKey } from '../store-key.ts';
import { recordSubjectName } from './admission.ts';
import type { StoreLog } from './store-log.ts';

/** The blob a chunk record names, as the receipt states it. */
export interface ReceiptBlob {
  name: string;
  sha256: string;
  bytes: string;
}

/** A signed receipt and where it sits. */
export interface SignedReceipt {
  envelope: DsseEnvelope;
  /** The envelope as written to records/<storeId>/ and appended to the log. */
  bytes: Uint8Array;
  seq: number;
}

/** Signs the store's chain records inside admissions. */
export class StoreChain {
  readonly #key: StoreKey;
  readonly #bootId = createHash('sha256')
    .update(`${process.pid}:${Date.now()}:${Math.random()}`)
    .digest('hex')
    .slice(0, 32);

  /** The region the store states in every receipt (`rigcap receiver --region`), if any. */
  readonly #region: string | undefined;

  constructor(key: StoreKey, options: { region?: string } = {}) {
    this.#key = key;
    this.#region = options.region;
  }

  #context(): { signerId: string; bootId: string; monoNs: bigint; wallNs: bigint } {
    return {
      signerId: this.#key.storeId,
      bootId: this.#bootId,
      monoNs: process.hrtime.bigint(),
      wallNs: BigInt(Date.now()) * 1_000_000n,
    };
  }

  /** Writes seq 1 (the store key's enrol record) and logs it, once per store. */
  async ensureEnrolled(tx: StateTx, log: StoreLog): Promise<void> {
    if ((await tx.meta('store.seq')) !== undefined) return;
    const keyId = this.#key.signer.keyId;
    const record = buildRecord({
      name: 'device-key',
      subject: keySubject(keyId),
      body: {
        action: 'enrol',
        keyId,
        publicKey: this.#key.publicKeyPem,
        ...(this.#region === undefined ? {} : { region: this.#region }),
      },
      link: { seq: 1, prev: null },
      context: this.#context(),
      signer: this.#key.signer,
    });
    const bytes = serializeEnvelope(record.envelope);
    await tx.setMeta('store.enrol', Buffer.from(bytes).toString('utf8'));
    await tx.setMeta('store.seq', '1');
    await tx.setMeta('store.head', record.payloadSha256);
    await log.append(tx, bytes);
  }

  /**
   * Signs one more record of the store's own (a `retention-action` or an `access` batch) inside an
   * admission, logs it and advances the head; the store's enrol record comes first when the store
   * has none yet.
   */
  async signStoreRecord<N extends 'retention-action' | 'access'>(
    tx: StateTx,
    log: StoreLog,
    record: { name: N; subject: ResourceDescriptor[]; body: PredicateBody<N> },
  ): Promise<SignedReceipt> {
    await this.ensureEnrolled(tx, log);
    const seq = Number(await tx.meta('store.seq')) + 1;
    const prev = (await tx.meta('store.head')) ?? null;
    const built = buildRecord({
      name: record.name,
      subject: record.subject,
      body: record.body,
      link: { seq, prev },
      context: this.#context(),
      signer: this.#key.signer,
    });
    const bytes = serializeEnvelope(built.envelope);
    await tx.setMeta('store.seq', String(seq));
    await tx.setMeta('store.head', built.payloadSha256);
    await log.append(tx, bytes);
    return { envelope: built.envelope, bytes, seq };
  }

  /**
   * Signs the custody receipt of `view` naming its log position and the chain links it confirms
   * (extra subjects after the record itself); advances the store's head.
   */
  async signReceipt(
    tx: StateTx,
    view: RecordView,
    details: {
      blob: ReceiptBlob | undefined;
      log: { index: number; size: number; root: string };
      links: readonly ResourceDescriptor[];
    },
  ): Promise<SignedReceipt> {
    const { blob, log } = details;
    const seq = Number(await tx.meta('store.seq')) + 1;
    const prev = (await tx.meta('store.head')) ?? null;
    const context = this.#context();
    const record = buildRecord({
      name: 'custody-receipt',
      subject: [
        {
          name: recordSubjectName(view.chain.deviceId, view.chain.seq),
          digest: { sha256: view.payloadSha256 },
        },
        ...details.links,
      ],
      body: {
        record: { signer: view.chain.deviceId, seq: view.chain.seq, sha256: view.payloadSha256 },
        blob: blob ?? null,
        receivedWallNs: context.wallNs.toString(),
        log,
        ...(this.#region === undefined ? {} : { region: this.#region }),
      },
      link: { seq, prev },
      context,
      signer: this.#key.signer,
    });
    await tx.setMeta('store.seq', String(seq));
    await tx.setMeta('store.head', record.payloadSha256);
    return { envelope: record.envelope, bytes: serializeEnvelope(record.envelope), seq };
  }
}
