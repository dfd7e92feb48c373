-- Revocation by session: access tokens carry their session id (claim `sid`), and an
-- ended session's tokens are refused. The todo-services follow this log.
--
-- Order comes from the database, never from a clock: `seq` is taken from the one row
-- of revocation_counter inside the transaction that ends the session. That row's lock
-- is held until commit, so sequence numbers become visible in commit order and a reader
-- that has seen `seq = n` has seen every row below it (a late commit cannot slip in
-- behind the reader's cursor, on PostgreSQL as on SQLite).
CREATE TABLE revocation_counter (
    id       INTEGER PRIMARY KEY,
    last_seq BIGINT NOT NULL
);
INSERT INTO revocation_counter (id, last_seq) VALUES (1, 0);

CREATE TABLE revocation_log (
    seq         BIGINT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    -- Microseconds since the epoch; for the snapshot horizon and pruning only.
    revoke_time BIGINT NOT NULL
);
CREATE INDEX revocation_log_revoke_time ON revocation_log (revoke_time);

-- The per-user "not before" time is gone: it was compared with `iat`, and had to run
-- ahead of the clock to keep a token issued in the same second as a revocation valid.
DROP INDEX users_tokens_valid_after;
ALTER TABLE users DROP COLUMN tokens_valid_after;
