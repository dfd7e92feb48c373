-- Portable across SQLite and PostgreSQL: TEXT ids (UUIDs), BIGINT instants in
-- microseconds since the epoch.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    -- Lower-cased username: uniqueness without regard to case.
    username_key  TEXT NOT NULL UNIQUE,
    -- PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    password_hash TEXT NOT NULL,
    create_time   BIGINT NOT NULL,
    update_time   BIGINT NOT NULL
);

-- One row per login: a refresh-token family.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    create_time   BIGINT NOT NULL,
    revoke_time   BIGINT,
    revoke_reason TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Refresh tokens are stored only as SHA-256 hashes; a used token stays (use_time set)
-- so that presenting it again is recognised as reuse.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    create_time BIGINT NOT NULL,
    expire_time BIGINT NOT NULL,
    use_time    BIGINT
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
