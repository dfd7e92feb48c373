-- Account self-service: what a session was started from, when it was last refreshed,
-- and the account's security history.
ALTER TABLE sessions ADD COLUMN client_address TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN last_refresh_time BIGINT;

-- One row per event, written in the transaction of what it records. Deleted with the
-- account; pruned after SECURITY_EVENT_RETENTION.
CREATE TABLE security_events (
    -- UUIDv7: ordered by time.
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    event_time     BIGINT NOT NULL,
    client_address TEXT,
    user_agent     TEXT,
    session_id     TEXT
);
CREATE INDEX security_events_user_page ON security_events (user_id, event_time DESC, id DESC);
CREATE INDEX security_events_time ON security_events (event_time);

-- A deleted account in the revocation log: the todo-services delete its data. These
-- rows are kept longer than session rows (see the pruner), so a todo-service that was
-- down at the time still hears of it.
ALTER TABLE revocation_log ADD COLUMN account_deleted BOOLEAN NOT NULL DEFAULT FALSE;
