// Catalog schema, one migration per user_version step. Never edit a shipped step: add the next.
// Nanosecond times are INTEGER (int64 holds ns since the epoch until 2262) read as BigInt.

/** Ordered migrations; index i moves user_version from i to i + 1. */
export const migrations: readonly string[] = [
  `
  CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    rig_id      TEXT NOT NULL,
    started_ns  INTEGER NOT NULL,
    ended_ns    INTEGER,
    state       TEXT NOT NULL CHECK (state IN ('open', 'closed', 'interrupted', 'recovered'))
  ) STRICT;

  CREATE TABLE chunks (
    session_id   TEXT NOT NULL,
    chunk_index  INTEGER NOT NULL,
    name         TEXT NOT NULL,
    path         TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    start_ns     INTEGER NOT NULL,
    end_ns       INTEGER NOT NULL,
    messages     INTEGER NOT NULL,
    streams_json TEXT NOT NULL,
    drops_json   TEXT NOT NULL DEFAULT '{}',
    state        TEXT NOT NULL CHECK (state IN ('committed', 'sealed', 'synced', 'deleted')),
    origin       TEXT NOT NULL CHECK (origin IN ('writer', 'salvage', 'reconcile')),
    record_seq   INTEGER,
    flag         TEXT CHECK (flag IN ('missing', 'size_mismatch', 'sha_mismatch')),
    PRIMARY KEY (session_id, chunk_index)
  ) STRICT;
  CREATE INDEX chunks_by_state ON chunks (state, session_id, chunk_index);

  CREATE TABLE records (
    signer_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    path       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    PRIMARY KEY (signer_id, seq)
  ) STRICT;

  CREATE TABLE uploads (
    blob_sha256  TEXT PRIMARY KEY,
    path         TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    offset_bytes INTEGER NOT NULL DEFAULT 0,
    upload_url   TEXT,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'uploading', 'uploaded', 'receipted', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    updated_ms   INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX uploads_by_state ON uploads (state);

  CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  `,
  // 2: the catalog takes over sync's state (formerly sync.sqlite): every record of the spool with
  // its upload progress and receipt. The first step's records and uploads tables were never
  // written, so they are replaced rather than altered. Chunk deletion is chunks.state = 'deleted'.
  `
  DROP TABLE uploads;
  DROP TABLE records;

  CREATE TABLE records (
    signer_id        TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    path             TEXT NOT NULL,
    blob_path        TEXT,
    blob_sha256      TEXT,
    blob_bytes       INTEGER NOT NULL DEFAULT 0,
    priority         INTEGER NOT NULL,
    sync_state       TEXT NOT NULL DEFAULT 'pending' CHECK (sync_state IN ('pending', 'synced', 'refused')),
    upload_url       TEXT,
    upload_offset    INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    receipt_json     TEXT,
    log_index        INTEGER,
    synced_ms        INTEGER,
    PRIMARY KEY (signer_id, seq)
  ) STRICT;
  CREATE INDEX records_pending ON records (sync_state, priority, blob_bytes, seq);
  CREATE INDEX records_by_blob ON records (blob_path);
  CREATE INDEX chunks_by_path ON chunks (path);
  `,
  // 2 → 3: each receipt keeps the store's signed checkpoint and the record's inclusion proof in it
  // (a LogProof as JSON), so a device can prove inclusion offline long after the store answered.
  `
  ALTER TABLE records ADD COLUMN log_proof_json TEXT;
  `,
];
