-- The receiver's state: signers' keys, used enrolment tokens, accepted records, the log leaves,
-- and the store's own chain head (receiver_meta).
CREATE TABLE receiver_keys (
  keyid TEXT PRIMARY KEY,
  signer_id TEXT NOT NULL,
  public_pem TEXT NOT NULL,
  valid_from_seq BIGINT NOT NULL,
  revoked_from_seq BIGINT,
  added BIGSERIAL NOT NULL
);
CREATE INDEX receiver_keys_signer ON receiver_keys (signer_id, valid_from_seq, added);

CREATE TABLE receiver_records (
  signer_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  payload_sha256 TEXT NOT NULL,
  prev TEXT,
  predicate TEXT NOT NULL,
  log_index BIGINT NOT NULL UNIQUE,
  receipt_json TEXT NOT NULL,
  envelope_json TEXT NOT NULL,
  session_id TEXT,
  chunk_name TEXT,
  blob_sha256 TEXT,
  PRIMARY KEY (signer_id, seq)
);
CREATE INDEX receiver_records_session ON receiver_records (session_id) WHERE session_id IS NOT NULL;

CREATE TABLE receiver_log (
  idx BIGINT PRIMARY KEY,
  leaf_hash BYTEA NOT NULL CHECK (octet_length(leaf_hash) = 32)
);

CREATE TABLE receiver_tokens (
  token_sha256 TEXT PRIMARY KEY,
  used_by TEXT NOT NULL
);

CREATE TABLE receiver_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
