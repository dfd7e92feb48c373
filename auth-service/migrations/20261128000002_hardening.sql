-- Revocation of access tokens: tokens of a user issued at or before this instant
-- (seconds since the epoch) are refused. Set by LogoutAll and ChangePassword.
ALTER TABLE users ADD COLUMN tokens_valid_after BIGINT NOT NULL DEFAULT 0;
CREATE INDEX users_tokens_valid_after ON users (tokens_valid_after);

-- Failed-login and registration counters, shared by every replica. One row per key:
-- `user:<lower-cased name>`, `addr:<ip>` or `register:<ip>`.
CREATE TABLE login_throttle (
    throttle_key TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    lockouts     BIGINT NOT NULL DEFAULT 0,
    update_time  BIGINT NOT NULL
);
