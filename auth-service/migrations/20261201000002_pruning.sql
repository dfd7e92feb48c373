-- Indexes for the pruner (auth-service/src/prune.rs), which deletes expired refresh
-- tokens, ended sessions and stale throttle rows in small batches: without them each
-- batch would scan the whole table.
CREATE INDEX refresh_tokens_expire_time ON refresh_tokens (expire_time);
CREATE INDEX sessions_revoke_time ON sessions (revoke_time);
CREATE INDEX login_throttle_window_start ON login_throttle (window_start);
