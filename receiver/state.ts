// The receiver's state port: enrolled signers and their keys, used enrolment tokens, every
// accepted record with its log index and receipt, the Merkle log leaves and the store's own chain
// head. Two adapters implement it: embedded (SQLite in the store directory) and PostgreSQL (any
// number of receivers on one database). Admission runs inside `admit`, which serialises every
// writer of the log, in this process and across processes.

export interface KeyRow {
  keyid: string;
  signerId: string;
  publicPem: string;
  /** First chain seq this key may sign. */
  validFromSeq: number;
  /** First chain seq this key may no longer sign (null = still valid). */
  revokedFromSeq: number | null;
}

export interface RecordRow {
  signerId: string;
  seq: number;
  payloadSha256: string;
  prev: string | null;
  predicate: string;
  logIndex: number;
  /** The store's custody-receipt envelope as JSON text. */
  receiptJson: string;
  /** The submitted envelope as JSON text (the exact bytes written to records/). */
  envelopeJson: string;
  sessionId: string | null;
  chunkName: string | null;
  blobSha256: string | null;
  /** Log index of the receipt's own leaf (null for records admitted before receipts were logged). */
  receiptLogIndex: number | null;
  /** Signed checkpoint the receipt was answered with (null: admitted before proofs were kept). */
  checkpoint: string | null;
  /** Inclusion proof of the record's leaf in that checkpoint, base64 hashes. */
  inclusionProof: readonly string[] | null;
}

/** One log entry: its leaf hash and the entry bytes it hashes. */
export interface LogEntryRow {
  index: number;
  leaf: Buffer;
  /** The entry's bytes (null: logged before the state kept entries; README "Store log"). */
  entry: Buffer | null;
}

/** Reads that need no lock. */
export interface StateReader {
  key(keyid: string): Promise<KeyRow | undefined>;
  /** Keys of one signer, oldest first. */
  keysOf(signerId: string): Promise<KeyRow[]>;
  isEnrolled(signerId: string): Promise<boolean>;
  record(signerId: string, seq: number): Promise<RecordRow | undefined>;
  /** Session records of one session in chain order (session.dsse.json is rebuilt from them). */
  sessionRecords(sessionId: string): Promise<RecordRow[]>;
  meta(key: string): Promise<string | undefined>;
  /** Log leaf hashes from `index` on, in log order. */
  leavesFrom(index: number): Promise<Buffer[]>;
  /** At most `limit` log entries from `index` on, in log order (tile publishing reads these). */
  entriesFrom(index: number, limit: number): Promise<LogEntryRow[]>;
}

/** Writes, only inside `admit`. */
export interface StateTx extends StateReader {
  /** Adds a key (a key already held is left as it is). */
  addKey(row: KeyRow): Promise<void>;
  /** Closes a key's seq range at `fromSeq` (the earlier of two revocations wins). */
  revokeKey(keyid: string, fromSeq: number): Promise<void>;
  /** Marks an enrolment token as used; false when it was used before. */
  consumeToken(tokenSha256: string, signerId: string): Promise<boolean>;
  insertRecord(row: RecordRow): Promise<void>;
  /** Appends a log leaf; `entry` is the bytes it hashes, kept for publishing the log as tiles. */
  appendLeaf(index: number, leaf: Uint8Array, entry?: Uint8Array): Promise<void>;
  setMeta(key: string, value: string): Promise<void>;
  /** What one admission batch reads before its checks: one round trip where the adapter can. */
  readBatch(query: BatchRead): Promise<BatchReadResult>;
  /** What one admission batch writes at its end: one statement where the adapter can. */
  writeBatch(writes: BatchWrite): Promise<void>;
}

/** The reads of one admission batch. */
export interface BatchRead {
  /** Records held at any of these positions. */
  positions: readonly RecordPosition[];
  /** Keys with one of these keyids or of one of these signers. */
  keyids: readonly string[];
  signerIds: readonly string[];
  meta: readonly string[];
  /** Log leaf hashes from this index on. */
  leavesFrom: number;
}

/** What `readBatch` found. */
export interface BatchReadResult {
  records: RecordRow[];
  /** Oldest first. */
  keys: KeyRow[];
  /** Absent keys are missing. */
  meta: Map<string, string>;
  leaves: Buffer[];
}

/** The writes of one admission batch. */
export interface BatchWrite {
  /** Consecutive leaves from `leavesFrom` on, each with the entry bytes it hashes. */
  leavesFrom: number;
  leaves: readonly LeafWrite[];
  records: readonly RecordRow[];
  meta: ReadonlyArray<readonly [string, string]>;
}

/** A place in a signer's chain. */
export interface RecordPosition {
  signerId: string;
  seq: number;
}

/** A log leaf to write, with the entry bytes it hashes. */
export interface LeafWrite {
  leaf: Uint8Array;
  entry: Uint8Array;
}

/** The state port. */
export interface ReceiverState extends StateReader {
  /** `embedded` or `postgres`, for logs. */
  readonly kind: string;
  /**
   * Runs fn in one transaction that holds the log's admission lock, so no other admission (in
   * this process or another on the same database) interleaves; commits when fn resolves, rolls
   * back when it throws.
   */
  admit<T>(fn: (tx: StateTx) => Promise<T>): Promise<T>;
  /** Every accepted record, in log order (repair of the file layout, migration). */
  allRecords(): Promise<RecordRow[]>;
  /** Every key of every signer, oldest first (migration). */
  allKeys(): Promise<KeyRow[]>;
  /** Every used enrolment token digest and the signer that used it (migration). */
  usedTokens(): Promise<Array<{ tokenSha256: string; signerId: string }>>;
  /** Finishes in-flight work and releases the database. Idempotent. */
  close(): Promise<void>;
}
