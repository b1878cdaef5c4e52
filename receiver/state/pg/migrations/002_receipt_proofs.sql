-- Each receipt is itself a log entry, and keeps the checkpoint and inclusion proof it was
-- answered with, so a device can prove inclusion offline. Rows from 001 keep NULL here.
ALTER TABLE receiver_records
  ADD COLUMN receipt_log_index BIGINT UNIQUE,
  ADD COLUMN checkpoint TEXT,
  ADD COLUMN inclusion_proof JSONB;
