-- Device authentication state shared by every receiver on the database: the devices an operator
-- registered (only the SHA-256 of each one-time enrolment token), the nonces of signed requests
-- seen within the freshness window (a request replayed to another instance is refused), and each
-- device's quota use (bytes a UTC day, uploads open), counted across instances.
CREATE TABLE IF NOT EXISTS receiver_devices (
  device_id TEXT PRIMARY KEY,
  token_sha256 TEXT NOT NULL,
  added_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS receiver_nonces (
  keyid TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expires_at_s BIGINT NOT NULL,
  PRIMARY KEY (keyid, nonce)
);
CREATE INDEX IF NOT EXISTS receiver_nonces_expiry ON receiver_nonces (expires_at_s);
CREATE TABLE IF NOT EXISTS receiver_quota_days (
  device_id TEXT NOT NULL,
  day DATE NOT NULL,
  bytes BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, day)
);
CREATE TABLE IF NOT EXISTS receiver_open_uploads (
  upload_id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS receiver_open_uploads_device ON receiver_open_uploads (device_id);
