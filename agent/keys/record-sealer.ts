// The integration API the capture pipeline (and the receiver) call: each method builds one record,
// signs it with the current key, commits it to the chain, then writes its copies. Calls are
// serialised so the chain never forks, and state is rebuilt from disk on open.
import { basename } from 'node:path';
import type { Logger } from '../log.ts';
import { RigcapError } from '../errors.ts';
import {
  ChainState,
  buildRecord,
  chunkFileName,
  chunkSubject,
  keySubject,
  pemOfSpki,
  previousRecordSubject,
  retentionSubject,
  sessionSubject,
  type CaptureChunkPredicate,
  type CaptureContext,
  type ConfigSnapshot,
  type DecodedRecord,
  type DsseEnvelope,
  type PredicateBody,
  type PredicateName,
  type ResourceDescriptor,
  type SessionGap,
  type Signer,
} from '../records/index.ts';
import { KeyStore } from './key-store.ts';
import { OpenSessions } from './open-sessions.ts';
import { RecordStore } from './record-store.ts';
import { systemClock, type SealerClock } from './sealer-clock.ts';
import { readBootId, repairHeadCopies } from './sealer-repair.ts';

export { systemClock, type SealerClock } from './sealer-clock.ts';

export interface RecordSealerOptions {
  /** Spool (device) or store root. */
  rootDir: string;
  /** Private key folder (0700), outside rootDir. */
  keysDir: string;
  /** Device id, or store id for a receiver. */
  signerId: string;
  log: Logger;
  /** `create-if-missing` makes and enrols a key on first use; `require-existing` refuses without one. */
  keyPolicy: 'create-if-missing' | 'require-existing';
  /** Kernel boot id (`/proc/sys/kernel/random/boot_id`); read from there when omitted. */
  bootId?: string;
  clock?: SealerClock;
}

/** What a sealing call committed. */
export interface SealResult {
  envelope: DsseEnvelope;
  seq: number;
  /** The serialised record, as written to the chain and its copies. */
  bytes: Uint8Array;
  payloadSha256: string;
}

/** Chunk fields the pipeline supplies; the sealer adds chain and byte size. */
export type ChunkPredicateFields = Omit<CaptureChunkPredicate, 'chain' | 'bytes'>;

/** Builds, signs and durably writes a signer's records. */
export class RecordSealer {
  readonly signerId: string;
  readonly keys: KeyStore;
  readonly store: RecordStore;
  readonly #log: Logger;
  readonly #clock: SealerClock;
  readonly #bootId: string;
  readonly #startMonoNs: bigint;
  readonly #sessions = new OpenSessions();
  #chain: ChainState;
  #signer: Signer;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(fields: {
    options: RecordSealerOptions;
    keys: KeyStore;
    store: RecordStore;
    signer: Signer;
    chain: ChainState;
    bootId: string;
  }) {
    this.signerId = fields.options.signerId;
    this.keys = fields.keys;
    this.store = fields.store;
    this.#log = fields.options.log.child({ component: 'sealer', signer: this.signerId });
    this.#clock = fields.options.clock ?? systemClock;
    this.#bootId = fields.bootId;
    this.#startMonoNs = this.#clock.monoNs();
    this.#signer = fields.signer;
    this.#chain = fields.chain;
  }

  /** Opens the signer: loads (or creates) the key, recovers the chain head, repairs copies. */
  static async open(options: RecordSealerOptions): Promise<RecordSealer> {
    const keys = new KeyStore({
      keysDir: options.keysDir,
      rootDir: options.rootDir,
      signerId: options.signerId,
      log: options.log,
    });
    const store = new RecordStore({ rootDir: options.rootDir, signerId: options.signerId, log: options.log });
    const fresh = !(await keys.exists());
    if (fresh && options.keyPolicy === 'require-existing')
      throw new RigcapError('RIGCAP_KEY_MISSING', `no private key at ${keys.privateKeyPath}`);
    const signer = fresh ? await keys.create() : await keys.load();
    const { head } = await store.recoverHead();
    const bootId = options.bootId ?? (await readBootId());
    const sealer = new RecordSealer({ options, keys, store, signer, chain: new ChainState(head), bootId });
    await sealer.#recover();
    if (head === null) await sealer.#enrol();
    return sealer;
  }

  /** The current key (replaced by a rotation); the sync client signs its requests with it. */
  get signer(): Signer {
    return this.#signer;
  }

  /** The current signing keyid. */
  get keyId(): string {
    return this.#signer.keyId;
  }

  /** The seq of the last committed record (0 before any). */
  get headSeq(): number {
    return this.#chain.head?.seq ?? 0;
  }

  /** The open session new chunks go to, if any. */
  get currentSession(): string | null {
    return this.#sessions.current;
  }

  /** Sessions opened but not closed (after a crash, the one that was running). */
  get openSessions(): string[] {
    return this.#sessions.ids();
  }

  /**
   * The record an open session's chunk already has in the chain, if any: a crash between the chain
   * record and the catalog update must not lead to signing the same chunk twice.
   */
  signedChunk(sessionId: string, chunkIndex: number): { sha256: string; seq: number } | undefined {
    return this.#sessions.signedChunk(sessionId, chunkIndex);
  }

  /** Signs a session open record and starts the session file with it. */
  openSession(options: {
    sessionId: string;
    rigId: string;
    startNs: bigint;
    /** Capture context, producer and config snapshot (null when the caller has none). */
    context?: CaptureContext | null;
    producer?: { rigcapVersion: string; configDigest: string } | null;
    config?: ConfigSnapshot | null;
  }): Promise<SealResult> {
    return this.#serial(async () => {
      if (this.#sessions.get(options.sessionId) !== undefined)
        throw new RigcapError('RIGCAP_SESSION_STATE', `session ${options.sessionId} is already open`);
      const body: PredicateBody<'session'> = {
        sessionId: options.sessionId,
        phase: 'open',
        rigId: options.rigId,
        startNs: options.startNs.toString(),
        context: options.context ?? null,
        producer: options.producer ?? null,
        config: options.config ?? null,
      };
      const result = await this.#commit('session', body, sessionSubject(options.sessionId, []));
      await this.store.appendSession(options.sessionId, result.bytes);
      this.#sessions.open(options.sessionId, options.rigId, body.startNs);
      return result;
    });
  }

  /** Signs a committed chunk (after its rename and directory fsync), then writes its sidecar. */
  sealChunk(options: {
    chunkPath: string;
    sha256: string;
    bytes: bigint | number;
    predicateFields: ChunkPredicateFields;
  }): Promise<SealResult> {
    return this.#serial(async () => {
      const fields = options.predicateFields;
      if (this.#sessions.get(fields.sessionId) === undefined)
        throw new RigcapError('RIGCAP_SESSION_STATE', `session ${fields.sessionId} is not open`);
      const name = basename(options.chunkPath);
      if (name !== chunkFileName(fields.chunkIndex)) {
        throw new RigcapError(
          'RIGCAP_INTERNAL',
          `chunk file ${name} does not match chunkIndex ${fields.chunkIndex}`,
        );
      }
      const body = { ...fields, bytes: options.bytes.toString() } as PredicateBody<'capture-chunk'>;
      const result = await this.#commit('capture-chunk', body, chunkSubject(name, options.sha256));
      // The chain has it now, whatever happens to the sidecar (a full disk): the close root must count it.
      this.#sessions.addChunk(fields.sessionId, fields.chunkIndex, options.sha256, result.seq);
      await this.store.writeSidecar(options.chunkPath, result.bytes);
      return result;
    });
  }

  /** Signs the close record with the session's Merkle root and gaps, and appends it last. */
  closeSession(options: {
    sessionId: string;
    endNs: bigint;
    gaps?: SessionGap[];
    reason: string;
  }): Promise<SealResult> {
    return this.#serial(async () => {
      const session = this.#sessions.get(options.sessionId);
      if (session === undefined)
        throw new RigcapError('RIGCAP_SESSION_STATE', `session ${options.sessionId} is not open`);
      const digests = [...session.chunkDigests].sort((a, b) => a[0] - b[0]).map(([, d]) => d);
      const subject = sessionSubject(options.sessionId, digests);
      const body: PredicateBody<'session'> = {
        sessionId: options.sessionId,
        phase: 'close',
        rigId: session.rigId,
        startNs: session.startNs,
        endNs: options.endNs.toString(),
        chunks: digests.length,
        root: subject[0]?.digest.sha256 ?? '',
        gaps: options.gaps ?? [],
        reason: options.reason,
      };
      const result = await this.#commit('session', body, subject);
      await this.store.appendSession(options.sessionId, result.bytes);
      this.#sessions.close(options.sessionId);
      return result;
    });
  }

  /** Signs a heartbeat naming the previous record (proves the chain's tail is live). */
  heartbeat(options: { status?: Record<string, unknown> } = {}): Promise<SealResult> {
    return this.#serial(async () => {
      const body: PredicateBody<'heartbeat'> = {
        sessionId: this.#sessions.current,
        uptimeNs: (this.#clock.monoNs() - this.#startMonoNs).toString(),
        status: options.status ?? {},
      };
      return this.#commit('heartbeat', body, previousRecordSubject(this.#chain.next()));
    });
  }

  /** Signs an operator's event marker. */
  markEvent(options: {
    label: string;
    note?: string;
    operator?: string;
    atNs: bigint;
    sessionId?: string | null;
  }): Promise<SealResult> {
    return this.#serial(async () => {
      const body: PredicateBody<'event-marker'> = {
        sessionId: options.sessionId === undefined ? this.#sessions.current : options.sessionId,
        label: options.label,
        note: options.note ?? '',
        atNs: options.atNs.toString(),
        operator: options.operator ?? '',
      };
      return this.#commit('event-marker', body, previousRecordSubject(this.#chain.next()));
    });
  }

  /** Signs a retention action (the deleted chunks' records stay in the chain). */
  retention(options: {
    deleted: Array<{ session: string; name: string; sha256: string }>;
    reason: string;
  }): Promise<SealResult> {
    return this.#serial(() =>
      this.#commit(
        'retention-action',
        { deleted: options.deleted, reason: options.reason },
        retentionSubject(options.deleted),
      ),
    );
  }

  /** Signs any record kind (custody receipts on a store) with a caller-built subject. */
  append<N extends PredicateName>(
    name: N,
    body: PredicateBody<N>,
    subject: ResourceDescriptor[],
  ): Promise<SealResult> {
    return this.#serial(() => this.#commit(name, body, subject));
  }

  /** Rotates to a new key: a device-key record signed by the old key names the new keyid. */
  rotateKey(): Promise<{ seq: number; oldKeyId: string; newKeyId: string }> {
    return this.#serial(() => this.#rotate());
  }

  /** Revokes a key from a seq on; revoking the current key rotates away from it first. */
  revokeKey(options: { keyId: string; invalidFromSeq: number; reason: string }): Promise<SealResult> {
    return this.#serial(async () => {
      if (options.keyId === this.#signer.keyId) await this.#rotate();
      const body: PredicateBody<'device-key'> = {
        action: 'revoke',
        keyId: options.keyId,
        invalidFromSeq: options.invalidFromSeq,
        reason: options.reason,
      };
      return this.#commit('device-key', body, keySubject(options.keyId));
    });
  }

  /** Waits for in-flight records; idempotent. */
  async close(): Promise<void> {
    await this.#queue.catch(() => undefined);
  }

  async #rotate(): Promise<{ seq: number; oldKeyId: string; newKeyId: string }> {
    const oldKeyId = this.#signer.keyId;
    const next = await this.keys.stage();
    const body: PredicateBody<'device-key'> = {
      action: 'rotate',
      keyId: oldKeyId,
      newKeyId: next.keyId,
      newPublicKey: pemOfSpki(next.publicKeySpki),
    };
    const result = await this.#commit('device-key', body, keySubject(next.keyId));
    this.#signer = await this.keys.promoteStaged();
    return { seq: result.seq, oldKeyId, newKeyId: next.keyId };
  }

  async #enrol(): Promise<void> {
    const body: PredicateBody<'device-key'> = {
      action: 'enrol',
      keyId: this.#signer.keyId,
      publicKey: pemOfSpki(this.#signer.publicKeySpki),
    };
    await this.#commit('device-key', body, keySubject(this.#signer.keyId));
    this.#log.info({ keyId: this.#signer.keyId }, 'signer enrolled');
  }

  async #commit<N extends PredicateName>(
    name: N,
    body: PredicateBody<N>,
    subject: ResourceDescriptor[],
  ): Promise<SealResult> {
    const link = this.#chain.next();
    const record = buildRecord({
      name,
      body,
      subject,
      link,
      signer: this.#signer,
      context: {
        signerId: this.signerId,
        bootId: this.#bootId,
        monoNs: this.#clock.monoNs(),
        wallNs: this.#clock.wallNs(),
      },
    });
    const bytes = await this.store.commit(record);
    this.#chain.advance({ seq: record.seq, payloadSha256: record.payloadSha256 });
    this.#log.debug({ seq: record.seq, predicate: name }, 'record committed');
    return { envelope: record.envelope, seq: record.seq, bytes, payloadSha256: record.payloadSha256 };
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Rebuilds open sessions, finishes an interrupted rotation and rewrites the head's copies. */
  async #recover(): Promise<void> {
    let last: DecodedRecord | undefined;
    let lastRotationTo: string | undefined;
    for await (const rec of this.store.readAll()) {
      last = rec;
      this.#sessions.replay(rec);
      if (rec.name === 'device-key') {
        const p = rec.predicate;
        if (p.action === 'rotate') lastRotationTo = p.newKeyId;
      }
    }
    const staged = await this.keys.staged();
    if (staged !== undefined) {
      if (staged.keyId === lastRotationTo) {
        this.#signer = await this.keys.promoteStaged();
        this.#log.warn({ keyId: staged.keyId }, 'finished a key rotation interrupted by a crash');
      } else {
        await this.keys.discardStaged();
      }
    }
    await this.keys.exportPublicKey(this.#signer.publicKeySpki);
    if (last !== undefined) await repairHeadCopies(this.store, last, this.#log);
  }
}
