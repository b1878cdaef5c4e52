-- Each log leaf keeps the entry bytes it hashes, so the log can be published as C2SP tlog-tiles
-- (entry bundles) from the state alone. Leaves logged before this keep NULL.
ALTER TABLE receiver_log ADD COLUMN entry BYTEA;
