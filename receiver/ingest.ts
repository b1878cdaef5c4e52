// Accepting a record: verify signature, enrolment, key validity and chain continuity, then append
// it to the Merkle log and answer with a custody receipt signed by the store, all in one SQLite
// transaction; files in the store layout are written after, idempotently, and repaired on start.
import { createHash } from 'node:crypto';
import { RigcapError } from '../agent/errors.ts';
import type { Logger } from '../agent/log.ts';
import { buildRecord } from '../agent/records/chain.ts';
import { keySubject } from '../agent/records/subjects.ts';
import {
  inTotoPayloadType,
  preAuthEncoding,
  serializeEnvelope,
  type DsseEnvelope,
} from '../agent/records/dsse.ts';
import { fromCanonicalBase64 } from '../agent/records/dsse.ts';
import { keyIdOf, pemOfSpki, spkiBlocksOfPem, verifySignature } from '../agent/records/ed25519.ts';
import { predicateProblems } from '../agent/records/validate.ts';
import { MerkleTree, leafHash } from '../agent/records/merkle.ts';
import { formatCheckpoint, signNote } from '../agent/records/checkpoint.ts';
import type { BlobStore } from './blob-store.ts';
import type { StoreLayout } from './layout.ts';
import { isSafeSegment, viewRecord, type RecordView } from './record-view.ts';
import type { ReceiverState, RecordRow } from './state.ts';
import type { StoreKey } from './store-key.ts';

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

const chunkName = /^chunk-[0-9]{6}\.mcap$/;

function refuse(
  code: ConstructorParameters<typeof RigcapError>[0],
  message: string,
  details?: Record<string, unknown>,
): RigcapError {
  return new RigcapError(code, message, details === undefined ? {} : { details });
}

/** The SPKI DER in a device-key `publicKey` field (SPKI PEM, or base64 of the DER). */
function spkiOfText(text: string): Uint8Array | undefined {
  const blocks = spkiBlocksOfPem(text);
  if (blocks.length === 1) return blocks[0];
  return fromCanonicalBase64(text.trim());
}

/** SHA-256 (hex) of an enrolment token, so the token itself is never stored. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Verifies and records submitted envelopes; one at a time, in arrival order. */
export class RecordIngest {
  readonly #state: ReceiverState;
  readonly #layout: StoreLayout;
  readonly #blobs: BlobStore;
  readonly #key: StoreKey;
  readonly #log: Logger;
  readonly #tokens: Set<string>;
  #tree: MerkleTree;
  readonly #origin: string;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #bootId = createHash('sha256')
    .update(`${process.pid}:${Date.now()}:${Math.random()}`)
    .digest('hex')
    .slice(0, 32);

  constructor(deps: {
    state: ReceiverState;
    layout: StoreLayout;
    blobs: BlobStore;
    key: StoreKey;
    log: Logger;
    enrollTokens: readonly string[];
  }) {
    this.#state = deps.state;
    this.#layout = deps.layout;
    this.#blobs = deps.blobs;
    this.#key = deps.key;
    this.#log = deps.log;
    this.#tokens = new Set(deps.enrollTokens.map(tokenDigest));
    this.#tree = new MerkleTree(deps.state.leaves());
    this.#origin = `rigcap.store/${deps.key.storeId}`;
  }

  /** The log identity written on every checkpoint. */
  get origin(): string {
    return this.#origin;
  }

  /** Number of entries in the Merkle log. */
  get logSize(): number {
    return this.#tree.size;
  }

  /** The latest checkpoint as a signed note. */
  checkpoint(): string {
    return this.#signCheckpoint(this.#tree.size);
  }

  /** Consistency proof between two sizes (base64 hashes). */
  consistencyProof(first: number, second: number): string[] {
    if (!(
      Number.isSafeInteger(first) &&
      Number.isSafeInteger(second) &&
      first >= 0 &&
      first <= second &&
      second <= this.#tree.size
    )) {
      throw refuse(
        'RIGCAP_RECEIVER_BAD_REQUEST',
        `no consistency proof from ${first} to ${second} (log size ${this.#tree.size})`,
      );
    }
    return this.#tree.consistencyProof(first, second).map((h) => h.toString('base64'));
  }

  #signCheckpoint(size: number): string {
    const body = formatCheckpoint({ origin: this.#origin, size, root: this.#tree.root(size) });
    return signNote(body, { name: this.#origin, privateKey: this.#key.privateKey });
  }

  /** Verifies one envelope and takes custody of it; serialised so the chain and log see one writer. */
  submit(bytes: Uint8Array, options: { enrollToken?: string } = {}): Promise<IngestResult> {
    const run = this.#queue.then(() => this.#submit(bytes, options));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Settles once every submit taken so far has finished writing (a request aborted by its client still finishes here). */
  async drain(): Promise<void> {
    for (let seen: Promise<unknown> | undefined; seen !== this.#queue;) {
      seen = this.#queue;
      await seen;
    }
  }

  async #submit(bytes: Uint8Array, options: { enrollToken?: string }): Promise<IngestResult> {
    const view = viewRecord(bytes);
    const { chain } = view;
    const problems = predicateProblems(view.predicateName, view.predicate);
    if (problems.length > 0)
      throw refuse(
        'RIGCAP_RECEIVER_BAD_RECORD',
        `${view.predicateName} predicate invalid: ${problems.join('; ')}`,
      );
    if (chain.deviceId === this.#key.storeId)
      throw refuse('RIGCAP_RECEIVER_BAD_RECORD', 'records signed as the store are not accepted');

    const held = this.#state.record(chain.deviceId, chain.seq);
    if (held !== undefined) {
      if (held.payloadSha256 !== view.payloadSha256) {
        throw refuse(
          'RIGCAP_RECEIVER_CHAIN_FORK',
          `${chain.deviceId} seq ${chain.seq} is already held with another payload`,
        );
      }
      return this.#answer(held, 200);
    }
    const newKey = this.#authorise(view, options);
    this.#checkChain(view);
    const blob = await this.#checkSubject(view);

    const envelopeBytes = serializeEnvelope(view.envelope);
    const leaf = leafHash(envelopeBytes);
    let row: RecordRow;
    try {
      row = this.#state.transaction(() => this.#commit(view, blob, newKey, leaf, envelopeBytes));
    } catch (err) {
      // The in-memory tree may hold the leaf of the rolled-back transaction: reload it from disk.
      this.#tree = new MerkleTree(this.#state.leaves());
      throw err;
    }
    await this.materialise(row);
    this.#log.info(
      { signer: row.signerId, seq: row.seq, predicate: row.predicate, logIndex: row.logIndex },
      'record accepted',
    );
    return this.#answer(row, 201);
  }

  #commit(
    view: RecordView,
    blob: { name: string; sha256: string; bytes: string } | undefined,
    newKey: { row: Parameters<ReceiverState['addKey']>[0]; consumeToken?: string } | undefined,
    leaf: Buffer,
    envelopeBytes: Uint8Array,
  ): RecordRow {
    const { chain } = view;
    {
      if (newKey !== undefined) this.#state.addKey(newKey.row);
      if (
        newKey?.consumeToken !== undefined &&
        !this.#state.consumeToken(newKey.consumeToken, chain.deviceId)
      ) {
        throw refuse('RIGCAP_RECEIVER_ENROLL_REFUSED', 'the enrolment token was used already');
      }
      this.#applyKeyChange(view);
      const logIndex = this.#tree.append(leaf);
      this.#state.appendLeaf(logIndex, leaf);
      const size = logIndex + 1;
      const root = this.#tree.root(size);
      const receipt = this.#signReceipt(view, blob, { index: logIndex, size, root: root.toString('hex') });
      const record: RecordRow = {
        signerId: chain.deviceId,
        seq: chain.seq,
        payloadSha256: view.payloadSha256,
        prev: chain.prev,
        predicate: view.predicateName,
        logIndex,
        receiptJson: Buffer.from(serializeEnvelope(receipt)).toString('utf8'),
        envelopeJson: Buffer.from(envelopeBytes).toString('utf8'),
        sessionId: typeof view.predicate['sessionId'] === 'string' ? view.predicate['sessionId'] : null,
        chunkName: blob?.name ?? null,
        blobSha256: blob?.sha256 ?? null,
      };
      this.#state.insertRecord(record);
      return record;
    }
  }

  /** Finds the key for the record (enrolling on a first device-key record with a valid token) and checks the signature. */
  #authorise(
    view: RecordView,
    options: { enrollToken?: string },
  ): { row: Parameters<ReceiverState['addKey']>[0]; consumeToken?: string } | undefined {
    const { chain } = view;
    const known = this.#state.key(chain.keyId);
    const message = preAuthEncoding(inTotoPayloadType, view.payloadBytes);
    const sig = fromCanonicalBase64(view.envelope.signatures[0]?.sig ?? '') ?? new Uint8Array();
    if (known === undefined || known.signerId !== chain.deviceId) {
      const enrolled = this.#state.isEnrolled(chain.deviceId);
      const p = view.predicate;
      if (enrolled || view.predicateName !== 'device-key' || p['action'] !== 'enrol') {
        throw refuse(
          'RIGCAP_RECEIVER_UNKNOWN_DEVICE',
          enrolled
            ? `key ${chain.keyId} is not a key of ${chain.deviceId}`
            : `device ${chain.deviceId} is not enrolled`,
        );
      }
      const spki = spkiOfText(String(p['publicKey']));
      if (spki === undefined || keyIdOf(spki) !== chain.keyId || p['keyId'] !== chain.keyId) {
        throw refuse(
          'RIGCAP_RECEIVER_BAD_RECORD',
          'the enrol record must carry the public key of chain.keyId',
        );
      }
      if (!verifySignature(spki, message, sig))
        throw refuse(
          'RIGCAP_RECEIVER_BAD_SIGNATURE',
          `signature of ${chain.deviceId} seq ${chain.seq} does not verify`,
        );
      const token = options.enrollToken;
      if (token === undefined || !this.#tokens.has(tokenDigest(token))) {
        throw refuse(
          'RIGCAP_RECEIVER_ENROLL_REFUSED',
          `device ${chain.deviceId} presented no valid enrolment token`,
        );
      }
      return {
        row: {
          keyid: chain.keyId,
          signerId: chain.deviceId,
          publicPem: pemOfSpki(spki),
          validFromSeq: chain.seq,
          revokedFromSeq: null,
        },
        consumeToken: tokenDigest(token),
      };
    }
    if (
      chain.seq < known.validFromSeq ||
      (known.revokedFromSeq !== null && chain.seq >= known.revokedFromSeq)
    ) {
      throw refuse(
        'RIGCAP_RECEIVER_KEY_REVOKED',
        `key ${chain.keyId} is not valid at ${chain.deviceId} seq ${chain.seq}`,
      );
    }
    const spki = spkiBlocksOfPem(known.publicPem)[0];
    if (spki === undefined || !verifySignature(spki, message, sig)) {
      throw refuse(
        'RIGCAP_RECEIVER_BAD_SIGNATURE',
        `signature of ${chain.deviceId} seq ${chain.seq} does not verify`,
      );
    }
    return undefined;
  }

  /** Rotation adds the named key from the next seq; revocation closes a key's range. */
  #applyKeyChange(view: RecordView): void {
    if (view.predicateName !== 'device-key') return;
    const p = view.predicate;
    if (p['action'] === 'rotate') {
      const spki = spkiOfText(String(p['newPublicKey']));
      if (spki === undefined || keyIdOf(spki) !== p['newKeyId'])
        throw refuse('RIGCAP_RECEIVER_BAD_RECORD', 'rotate must carry the public key of newKeyId');
      this.#state.addKey({
        keyid: keyIdOf(spki),
        signerId: view.chain.deviceId,
        publicPem: pemOfSpki(spki),
        validFromSeq: view.chain.seq + 1,
        revokedFromSeq: null,
      });
      // The old key signs nothing after its rotation record.
      this.#state.revokeKey(view.chain.keyId, view.chain.seq + 1);
    } else if (p['action'] === 'revoke') {
      const target = this.#state.key(String(p['keyId']));
      if (target === undefined || target.signerId !== view.chain.deviceId)
        throw refuse('RIGCAP_RECEIVER_BAD_RECORD', 'revoke names a key this device does not hold');
      this.#state.revokeKey(target.keyid, Number(p['invalidFromSeq']));
    }
  }

  /** Neighbours already held must link to this record (records may arrive out of order; a mismatch is a fork). */
  #checkChain(view: RecordView): void {
    const { chain } = view;
    const before = chain.seq > 1 ? this.#state.record(chain.deviceId, chain.seq - 1) : undefined;
    if (before !== undefined && before.payloadSha256 !== chain.prev) {
      throw refuse(
        'RIGCAP_RECEIVER_CHAIN_FORK',
        `${chain.deviceId} seq ${chain.seq} does not follow the held seq ${chain.seq - 1}`,
      );
    }
    const after = this.#state.record(chain.deviceId, chain.seq + 1);
    if (after !== undefined && after.prev !== view.payloadSha256) {
      throw refuse(
        'RIGCAP_RECEIVER_CHAIN_FORK',
        `the held seq ${chain.seq + 1} of ${chain.deviceId} does not follow this record`,
      );
    }
  }

  /** A chunk record's subject must name a blob the store holds with that digest. */
  async #checkSubject(
    view: RecordView,
  ): Promise<{ name: string; sha256: string; bytes: string } | undefined> {
    const sessionId = view.predicate['sessionId'];
    if (sessionId !== undefined && sessionId !== null && !isSafeSegment(sessionId)) {
      throw refuse('RIGCAP_RECEIVER_BAD_NAME', 'sessionId is not a safe name');
    }
    if (view.predicateName !== 'capture-chunk') return undefined;
    const [subject, ...rest] = view.subject;
    if (subject === undefined || rest.length > 0)
      throw refuse('RIGCAP_RECEIVER_BAD_RECORD', 'a chunk record has exactly one subject');
    if (!chunkName.test(subject.name))
      throw refuse(
        'RIGCAP_RECEIVER_BAD_NAME',
        `chunk name ${JSON.stringify(subject.name)} is not chunk-NNNNNN.mcap`,
      );
    const size = await this.#blobs.size(subject.digest.sha256);
    if (size === undefined)
      throw refuse('RIGCAP_RECEIVER_BLOB_MISSING', `blob ${subject.digest.sha256} is not stored`);
    const declared = view.predicate['bytes'];
    if (typeof declared === 'string' && declared !== String(size)) {
      throw refuse(
        'RIGCAP_RECEIVER_DIGEST_MISMATCH',
        `the record says ${declared} bytes, the stored blob has ${size}`,
      );
    }
    return { name: subject.name, sha256: subject.digest.sha256, bytes: String(size) };
  }

  #signReceipt(
    view: RecordView,
    blob: { name: string; sha256: string; bytes: string } | undefined,
    log: { index: number; size: number; root: string },
  ): DsseEnvelope {
    // The store's chain follows the device rules: seq 1 enrols the store key, so an exported
    // bundle or a copy of the store carries the key its receipts are signed with.
    if (this.#state.meta('store.seq') === undefined) this.#enrolStoreKey();
    const seq = Number(this.#state.meta('store.seq')) + 1;
    const prev = this.#state.meta('store.head') ?? null;
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const record = buildRecord({
      name: 'custody-receipt',
      subject: [
        { name: `record-${view.chain.deviceId}-${view.chain.seq}`, digest: { sha256: view.payloadSha256 } },
      ],
      body: {
        record: { signer: view.chain.deviceId, seq: view.chain.seq, sha256: view.payloadSha256 },
        blob: blob ?? null,
        receivedWallNs: nowNs.toString(),
        log,
      },
      link: { seq, prev },
      context: {
        signerId: this.#key.storeId,
        bootId: this.#bootId,
        monoNs: process.hrtime.bigint(),
        wallNs: nowNs,
      },
      signer: this.#key.signer,
    });
    this.#state.setMeta('store.seq', String(seq));
    this.#state.setMeta('store.head', record.payloadSha256);
    return record.envelope;
  }

  #enrolStoreKey(): void {
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const keyId = this.#key.signer.keyId;
    const record = buildRecord({
      name: 'device-key',
      subject: keySubject(keyId),
      body: { action: 'enrol', keyId, publicKey: this.#key.publicKeyPem },
      link: { seq: 1, prev: null },
      context: {
        signerId: this.#key.storeId,
        bootId: this.#bootId,
        monoNs: process.hrtime.bigint(),
        wallNs: nowNs,
      },
      signer: this.#key.signer,
    });
    this.#state.setMeta('store.enrol', Buffer.from(serializeEnvelope(record.envelope)).toString('utf8'));
    this.#state.setMeta('store.seq', '1');
    this.#state.setMeta('store.head', record.payloadSha256);
  }

  #answer(row: RecordRow, status: 200 | 201): IngestResult {
    const receipt = JSON.parse(row.receiptJson) as DsseEnvelope;
    const size = this.#tree.size;
    return {
      status,
      receipt,
      logIndex: row.logIndex,
      checkpoint: this.#signCheckpoint(size),
      inclusionProof: this.#tree.inclusionProof(row.logIndex, size).map((h) => h.toString('base64')),
    };
  }

  /** Writes a record's files in the store layout (idempotent; run again on start for repair). */
  async materialise(row: RecordRow): Promise<void> {
    const envelope = Buffer.from(row.envelopeJson, 'utf8');
    await this.#layout.writeRecord(row.signerId, row.seq, envelope);
    if (
      row.predicate === 'capture-chunk' &&
      row.sessionId !== null &&
      row.chunkName !== null &&
      row.blobSha256 !== null
    ) {
      await this.#blobs.place(row.blobSha256, this.#layout.chunkPath(row.sessionId, row.chunkName));
      await this.#layout.writeSidecar(row.sessionId, row.chunkName, envelope);
    }
    if (row.predicate === 'session' && row.sessionId !== null) {
      await this.#layout.writeSessionFile(
        row.sessionId,
        this.#state.sessionRecords(row.sessionId).map((r) => Buffer.from(r.envelopeJson, 'utf8')),
      );
    }
    if (row.predicate === 'device-key')
      await this.#layout.writeKeys(
        row.signerId,
        this.#state.keysOf(row.signerId).map((k) => k.publicPem),
      );
    const receipt = JSON.parse(row.receiptJson) as DsseEnvelope;
    const storeSeq = (
      JSON.parse(Buffer.from(receipt.payload, 'base64').toString('utf8')) as {
        predicate: { chain: { seq: number } };
      }
    ).predicate.chain.seq;
    if (storeSeq === 2) {
      const enrol = this.#state.meta('store.enrol');
      if (enrol !== undefined)
        await this.#layout.writeRecord(this.#key.storeId, 1, Buffer.from(enrol, 'utf8'));
    }
    await this.#layout.writeRecord(this.#key.storeId, storeSeq, Buffer.from(row.receiptJson, 'utf8'));
  }

  /** Re-writes every held record's files and the store key (after a crash between commit and write). */
  async repair(): Promise<number> {
    await this.#layout.writeKeys(this.#key.storeId, [this.#key.publicKeyPem]);
    const enrol = this.#state.meta('store.enrol');
    if (enrol !== undefined) await this.#layout.writeRecord(this.#key.storeId, 1, Buffer.from(enrol, 'utf8'));
    const rows = this.#state.allRecords();
    for (const row of rows) await this.materialise(row);
    return rows.length;
  }
}
