-- Email addresses, the tokens mailed to them, and the outbox the mails wait in.

-- Optional; `email_key` is the lower-cased address, unique (NULLs are distinct on both
-- databases). Verified when `email_verified_time` is set.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN email_key TEXT;
ALTER TABLE users ADD COLUMN email_verified_time BIGINT;
CREATE UNIQUE INDEX users_email_key ON users (email_key);

-- Verification and password-reset tokens, only as SHA-256 hashes. A token is deleted
-- when used (single use) and when a newer one of its purpose is issued (superseded);
-- it is only good for the address it was mailed to (`email_key`).
CREATE TABLE mail_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'verify' or 'reset'.
    purpose     TEXT NOT NULL,
    email_key   TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    expire_time BIGINT NOT NULL
);
CREATE INDEX mail_tokens_user ON mail_tokens (user_id, purpose);
CREATE INDEX mail_tokens_expire_time ON mail_tokens (expire_time);

-- Mails to send, written in the transaction of the change that causes them. A sender
-- claims a row (claimed_by, claim_until) with a conditional UPDATE, so replicas on one
-- database never send one twice; the body (it holds the link) is wiped once the mail is
-- sent or given up.
CREATE TABLE mail_outbox (
    id                TEXT PRIMARY KEY,
    user_id           TEXT,
    kind              TEXT NOT NULL,
    recipient         TEXT NOT NULL,
    subject           TEXT NOT NULL,
    body              TEXT NOT NULL,
    create_time       BIGINT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_time BIGINT NOT NULL,
    claimed_by        TEXT,
    claim_until       BIGINT,
    sent_time         BIGINT,
    failed_time       BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_time);
CREATE INDEX mail_outbox_user ON mail_outbox (user_id);
