// Checks a store's answer before a chunk counts as synced: the custody receipt is signed by the
// store key and names our record, the checkpoint note is signed by the same key and matches the
// receipt, our record is included in it, and the log is consistent with every checkpoint seen
// before (it never forks or shrinks). The checkpoint and proof are kept with the receipt, so the
// device can prove its record's inclusion offline, without the store.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { RigcapError } from '../errors.ts';
import { parseEnvelope, serializeEnvelope } from '../records/dsse.ts';
import { spkiBlocksOfPem, verifySignature, keyIdOf } from '../records/ed25519.ts';
import { decodeRecord } from '../records/record-decode.ts';
import { inTotoPayloadType, preAuthEncoding } from '../records/dsse.ts';
import { openNote, parseCheckpoint, type Checkpoint } from '../records/checkpoint.ts';
import { leafHash, verifyConsistency, verifyInclusion } from '../records/merkle.ts';
import type { LogProof } from '../records/bundle-proofs.ts';
import type { SyncLedger } from './state.ts';

/** What POST /v1/records answers. */
export interface CustodyAnswer {
  receipt: unknown;
  logIndex: number;
  checkpoint: string;
  inclusionProof: string[];
}

/** A verified answer: the receipt to keep, and the checkpoint and inclusion proof that prove it offline. */
export interface VerifiedReceipt {
  receiptJson: string;
  logIndex: number;
  logProof: LogProof;
}

/** Fetches a consistency proof from the store (base64 hashes). */
export type ConsistencySource = (first: number, second: number) => Promise<string[]>;

function invalid(message: string): RigcapError {
  return new RigcapError('RIGCAP_SYNC_RECEIPT_INVALID', message);
}

/** Verifies receipts of one store and keeps its last checkpoint in the sync ledger. */
export class ReceiptVerifier {
  readonly #state: SyncLedger;
  readonly #spki: Uint8Array;
  readonly #publicKey: KeyObject;
  readonly #origin: string;
  readonly #storeId: string;
  readonly #consistency: ConsistencySource;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(deps: {
    state: SyncLedger;
    storePublicKeyPem: string;
    storeId: string;
    consistency: ConsistencySource;
  }) {
    const spki = spkiBlocksOfPem(deps.storePublicKeyPem)[0];
    if (spki === undefined) throw invalid('store public key is not an SPKI PEM');
    this.#state = deps.state;
    this.#spki = spki;
    this.#publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    this.#storeId = deps.storeId;
    this.#origin = `rigcap.store/${deps.storeId}`;
    this.#consistency = deps.consistency;
  }

  /** keyid of the store key. */
  get storeKeyId(): string {
    return keyIdOf(this.#spki);
  }

  /** The last checkpoint accepted, if any. */
  lastCheckpoint(): Checkpoint | undefined {
    const note = this.#state.meta(`checkpoint:${this.#origin}`);
    return note === undefined ? undefined : parseCheckpoint(note);
  }

  /** Verifies one answer for the record `sentBytes`; resolves with the receipt bytes to keep. */
  verify(sentBytes: Uint8Array, answer: CustodyAnswer): Promise<VerifiedReceipt> {
    // One at a time, so the kept checkpoint only ever moves forward.
    const run = this.#queue.then(() => this.#verify(sentBytes, answer));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #verify(sentBytes: Uint8Array, answer: CustodyAnswer): Promise<VerifiedReceipt> {
    const sent = decodeRecord(sentBytes);
    if (!sent.ok) throw invalid(`the record sent does not decode: ${sent.reason}`);
    const receiptBytes = new TextEncoder().encode(`${JSON.stringify(answer.receipt)}\n`);
    const receipt = decodeRecord(receiptBytes);
    if (!receipt.ok) throw invalid(`receipt does not decode: ${receipt.reason}`);
    const r = receipt.record;
    if (r.name !== 'custody-receipt') throw invalid(`receipt is a ${r.name} record`);
    if (r.keyId !== this.storeKeyId || r.chain.deviceId !== this.#storeId)
      throw invalid('receipt is not signed by the store key');
    if (!verifySignature(this.#spki, preAuthEncoding(inTotoPayloadType, r.payload), r.signature))
      throw invalid('receipt signature does not verify');
    const p = r.predicate;
    const want = sent.record;
    if (
      p.record.signer !== want.chain.deviceId ||
      p.record.seq !== want.chain.seq ||
      p.record.sha256 !== want.payloadSha256
    ) {
      throw invalid('receipt names another record');
    }
    const body = openNote(answer.checkpoint, { name: this.#origin, publicKey: this.#publicKey });
    const cp = body === undefined ? undefined : parseCheckpoint(body);
    if (cp === undefined || cp.origin !== this.#origin)
      throw invalid('checkpoint is not signed by the store');
    if (p.log.index !== answer.logIndex || p.log.size > cp.size)
      throw invalid('receipt and checkpoint disagree');
    // Our record must be in the checkpointed tree, and the receipt's tree must be a prefix of it.
    const envelope = parseEnvelope(sentBytes);
    if (envelope === undefined) throw invalid('the record sent is not an envelope');
    const leaf = leafHash(serializeEnvelope(envelope.envelope));
    const proof = answer.inclusionProof.map((h) => Buffer.from(h, 'base64'));
    if (!verifyInclusion({ leaf, index: answer.logIndex, size: cp.size, proof, root: cp.root }))
      throw invalid('record is not included in the checkpoint');
    if (p.log.size < cp.size)
      await this.#checkConsistency(
        { origin: cp.origin, size: p.log.size, root: Buffer.from(p.log.root, 'hex') },
        cp,
      );
    else if (!Buffer.from(p.log.root, 'hex').equals(cp.root))
      throw invalid('receipt root differs from the checkpoint root');
    await this.#advance(cp, answer.checkpoint);
    return {
      receiptJson: Buffer.from(receiptBytes).toString('utf8'),
      logIndex: answer.logIndex,
      logProof: {
        signer: want.chain.deviceId,
        seq: want.chain.seq,
        storeId: this.#storeId,
        logIndex: answer.logIndex,
        checkpoint: answer.checkpoint,
        inclusionProof: [...answer.inclusionProof],
      },
    };
  }

  /** Proves old ⊑ new with the store's consistency proof. */
  async #checkConsistency(older: Checkpoint, newer: Checkpoint): Promise<void> {
    const proof = (await this.#consistency(older.size, newer.size)).map((h) => Buffer.from(h, 'base64'));
    if (
      !verifyConsistency({
        firstSize: older.size,
        firstRoot: older.root,
        secondSize: newer.size,
        secondRoot: newer.root,
        proof,
      })
    ) {
      throw new RigcapError(
        'RIGCAP_SYNC_LOG_INCONSISTENT',
        `store log at size ${newer.size} is not an extension of size ${older.size}`,
      );
    }
  }

  /** Keeps the larger of the stored and the new checkpoint once they are proven consistent. */
  async #advance(cp: Checkpoint, note: string): Promise<void> {
    const last = this.lastCheckpoint();
    if (last !== undefined) {
      if (cp.size < last.size) {
        await this.#checkConsistency(cp, last);
        return;
      }
      await this.#checkConsistency(last, cp);
    }
    this.#state.setMeta(`checkpoint:${this.#origin}`, note);
  }
}
