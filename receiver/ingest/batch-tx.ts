// One admission batch's view of the state, inside its transaction: what the batch's checks read
// is fetched up front (one round trip on PostgreSQL), writes stay in memory and reach the database
// at the end (one statement), and one record's writes can be undone when that record is refused,
// leaving the rest of the batch as it was.
import type {
  BatchRead,
  BatchReadResult,
  BatchWrite,
  KeyRow,
  LeafWrite,
  LogEntryRow,
  RecordRow,
  StateTx,
} from '../state.ts';

/** A point to undo back to (see `mark` and `undoTo`). */
export interface BatchMark {
  readonly undo: number;
  readonly direct: number;
}

function positionKey(signerId: string, seq: number): string {
  return `${signerId}\u0000${seq}`;
}

/** Reads through a cache of prefetched rows and keeps writes until `flush`. */
export class BatchTx implements StateTx {
  readonly #tx: StateTx;
  /** null: known not to be held. */
  readonly #records = new Map<string, RecordRow | null>();
  readonly #keys = new Map<string, KeyRow | null>();
  readonly #enrolled = new Map<string, boolean>();
  readonly #meta = new Map<string, string | null>();
  readonly #newRecords: RecordRow[] = [];
  readonly #newKeys: KeyRow[] = [];
  readonly #revocations: Array<[string, number]> = [];
  readonly #leaves: LeafWrite[] = [];
  readonly #metaWrites = new Map<string, string>();
  #leafStart = -1;
  readonly #undo: Array<() => void> = [];
  /** Writes that went to the transaction at once (token use): these cannot be undone alone. */
  #direct = 0;

  constructor(tx: StateTx) {
    this.#tx = tx;
  }

  /**
   * Reads what the batch's checks will ask for (one round trip on PostgreSQL); returns the log
   * leaves committed from `wants.leavesFrom` on.
   */
  async prefetch(wants: BatchRead): Promise<Buffer[]> {
    const found = await this.#tx.readBatch(wants);
    for (const p of wants.positions) this.#records.set(positionKey(p.signerId, p.seq), null);
    for (const row of found.records) this.#records.set(positionKey(row.signerId, row.seq), row);
    for (const keyid of wants.keyids) this.#keys.set(keyid, null);
    for (const signerId of wants.signerIds) this.#enrolled.set(signerId, false);
    const signers = new Set(wants.signerIds);
    for (const k of found.keys) {
      this.#keys.set(k.keyid, k);
      if (signers.has(k.signerId)) this.#enrolled.set(k.signerId, true);
    }
    for (const k of wants.meta) this.#meta.set(k, found.meta.get(k) ?? null);
    return found.leaves;
  }

  /** The current point, to undo one record's writes if it is refused. */
  mark(): BatchMark {
    return { undo: this.#undo.length, direct: this.#direct };
  }

  /** Undoes every write since `mark`; throws when one of them already reached the transaction. */
  undoTo(mark: BatchMark): void {
    if (this.#direct !== mark.direct)
      throw new Error('a refused record wrote to the transaction directly: the batch cannot keep the others');
    while (this.#undo.length > mark.undo) this.#undo.pop()?.();
  }

  /** Makes a record that is admitted in this batch visible to the checks of the records after it. */
  notePending(row: RecordRow): void {
    this.#setCached(this.#records, positionKey(row.signerId, row.seq), row);
  }

  /** Number of log leaves written in this batch. */
  get leafCount(): number {
    return this.#leaves.length;
  }

  /** Writes everything kept: key changes (rare) one by one, then the rest in one statement. */
  async flush(): Promise<void> {
    for (const k of this.#newKeys) await this.#tx.addKey(k);
    for (const [keyid, fromSeq] of this.#revocations) await this.#tx.revokeKey(keyid, fromSeq);
    await this.#tx.writeBatch({
      leavesFrom: this.#leafStart,
      leaves: this.#leaves,
      records: this.#newRecords,
      meta: [...this.#metaWrites],
    });
  }

  #setCached<V>(map: Map<string, V>, key: string, value: V): void {
    const had = map.has(key);
    const before = map.get(key);
    map.set(key, value);
    this.#undo.push(() => {
      if (had) map.set(key, before as V);
      else map.delete(key);
    });
  }

  #push<V>(list: V[], value: V): void {
    list.push(value);
    this.#undo.push(() => list.pop());
  }

  async key(keyid: string): Promise<KeyRow | undefined> {
    const cached = this.#keys.get(keyid);
    if (cached !== undefined) return cached ?? undefined;
    const row = await this.#tx.key(keyid);
    this.#keys.set(keyid, row ?? null);
    return row;
  }

  async keysOf(signerId: string): Promise<KeyRow[]> {
    const held = await this.#tx.keysOf(signerId);
    return [...held, ...this.#newKeys.filter((k) => k.signerId === signerId)];
  }

  async isEnrolled(signerId: string): Promise<boolean> {
    const cached = this.#enrolled.get(signerId);
    if (cached !== undefined) return cached;
    const enrolled = await this.#tx.isEnrolled(signerId);
    this.#enrolled.set(signerId, enrolled);
    return enrolled;
  }

  async record(signerId: string, seq: number): Promise<RecordRow | undefined> {
    const key = positionKey(signerId, seq);
    const cached = this.#records.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const row = await this.#tx.record(signerId, seq);
    this.#records.set(key, row ?? null);
    return row;
  }

  sessionRecords(sessionId: string): Promise<RecordRow[]> {
    return this.#tx.sessionRecords(sessionId);
  }

  async meta(key: string): Promise<string | undefined> {
    const cached = this.#meta.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const value = await this.#tx.meta(key);
    this.#meta.set(key, value ?? null);
    return value;
  }

  /** The committed leaves only (the batch's own are not readable until it commits). */
  leavesFrom(index: number): Promise<Buffer[]> {
    return this.#tx.leavesFrom(index);
  }

  entriesFrom(index: number, limit: number): Promise<LogEntryRow[]> {
    return this.#tx.entriesFrom(index, limit);
  }

  async addKey(row: KeyRow): Promise<void> {
    if ((await this.key(row.keyid)) !== undefined) return;
    this.#setCached(this.#keys, row.keyid, row);
    this.#setCached(this.#enrolled, row.signerId, true);
    this.#push(this.#newKeys, row);
  }

  async revokeKey(keyid: string, fromSeq: number): Promise<void> {
    const row = await this.key(keyid);
    if (row !== undefined) {
      const revokedFromSeq = Math.min(row.revokedFromSeq ?? fromSeq, fromSeq);
      this.#setCached(this.#keys, keyid, { ...row, revokedFromSeq });
    }
    this.#push(this.#revocations, [keyid, fromSeq]);
  }

  async consumeToken(tokenSha256: string, signerId: string): Promise<boolean> {
    const used = await this.#tx.consumeToken(tokenSha256, signerId);
    if (used) this.#direct += 1;
    return used;
  }

  async insertRecord(row: RecordRow): Promise<void> {
    this.#setCached(this.#records, positionKey(row.signerId, row.seq), row);
    this.#push(this.#newRecords, row);
  }

  async appendLeaf(index: number, leaf: Uint8Array, entry?: Uint8Array): Promise<void> {
    if (entry === undefined) throw new TypeError('a batch keeps every leaf with its entry bytes');
    if (this.#leafStart < 0) this.#leafStart = index;
    if (index !== this.#leafStart + this.#leaves.length)
      throw new RangeError(`leaf ${index} does not follow the batch's leaves`);
    this.#push(this.#leaves, { leaf, entry });
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.#setCached(this.#meta, key, value);
    this.#setCached(this.#metaWrites, key, value);
  }

  async readBatch(q: BatchRead): Promise<BatchReadResult> {
    const records: RecordRow[] = [];
    for (const p of q.positions) {
      const row = await this.record(p.signerId, p.seq);
      if (row !== undefined) records.push(row);
    }
    const keys: KeyRow[] = [];
    for (const keyid of q.keyids) {
      const k = await this.key(keyid);
      if (k !== undefined) keys.push(k);
    }
    for (const signerId of q.signerIds) keys.push(...(await this.keysOf(signerId)));
    const meta = new Map<string, string>();
    for (const k of q.meta) {
      const v = await this.meta(k);
      if (v !== undefined) meta.set(k, v);
    }
    return { records, keys, meta, leaves: await this.leavesFrom(q.leavesFrom) };
  }

  async writeBatch(w: BatchWrite): Promise<void> {
    for (const [i, l] of w.leaves.entries()) await this.appendLeaf(w.leavesFrom + i, l.leaf, l.entry);
    for (const row of w.records) await this.insertRecord(row);
    for (const [k, v] of w.meta) await this.setMeta(k, v);
  }
}
