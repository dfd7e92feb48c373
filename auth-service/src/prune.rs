//! Deletes rows no rule needs any more, so tables do not grow without end: throttle
//! counters of every name ever tried, used and expired refresh tokens, ended sessions,
//! old revocations.
//!
//! Each [`PruneStep`] is one DELETE of at most `batch` rows, repeated until it finds
//! fewer, so no statement holds locks for long (on SQLite every other writer waits for
//! it). To prune another table, add a step to [`steps`]; steps run in order, so a table's
//! dependents come before it. Every replica runs the pruner; the deletes are idempotent.

use std::time::Duration;

use common::time::{Clock, micros};
use sqlx::AnyPool;
use tokio::task::JoinHandle;

/// How long a sent or given-up mail's row stays.
pub const OUTBOX_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Rows one statement deletes at most.
pub const BATCH: i64 = 1000;

/// What must be kept, as durations back from now.
#[derive(Debug, Clone)]
pub struct PruneSettings {
    /// The longest throttle window (logins and registrations).
    pub throttle_window: Duration,
    /// How long a throttle key's lock-outs are remembered after its last attempt.
    pub lockout_memory: Duration,
    /// How long after an instant every access token issued before it has expired; a
    /// session stays this long after it ended, so what refers to it outlives its tokens.
    pub token_horizon: Duration,
    /// How long security events are kept (`SECURITY_EVENT_RETENTION`).
    pub event_retention: Duration,
    /// Rows one DELETE takes at most ([`BATCH`]; tests make it small); below 1 counts as 1.
    pub batch: i64,
}

/// One kind of row that may go. `sql` is a DELETE whose sub-select takes at most `$1`
/// rows; `params` are bound as `$2`, `$3`, ... (instants in micros).
#[derive(Debug, Clone)]
pub struct PruneStep {
    /// The table it deletes from, as the log line and [`prune_once`]'s answer name it.
    pub name: &'static str,
    /// The DELETE statement, run until it deletes less than a batch.
    pub sql: &'static str,
    /// Cut-offs bound after the batch size, as `$2`, `$3`, ...: microseconds since the
    /// epoch.
    pub params: Vec<i64>,
}

/// The steps for `now`, in the order they run. The conditions are repeated outside the
/// sub-select, so a row a concurrent call has just renewed is re-checked (PostgreSQL
/// re-evaluates them on the row version it deletes) and stays.
pub fn steps(settings: &PruneSettings, now: i64) -> Vec<PruneStep> {
    let token_cutoff = now.saturating_sub(micros(settings.token_horizon));
    vec![
        // A throttle row matters while its window runs, while it is locked, and while
        // its lock-outs are remembered (they set the next delay).
        PruneStep {
            name: "login_throttle",
            sql: "DELETE FROM login_throttle WHERE throttle_key IN ( \
                    SELECT throttle_key FROM login_throttle \
                    WHERE locked_until <= $2 AND window_start <= $3 AND (lockouts = 0 OR update_time <= $4) \
                    LIMIT $1) \
                  AND locked_until <= $2 AND window_start <= $3 AND (lockouts = 0 OR update_time <= $4)",
            params: vec![
                now,
                now.saturating_sub(micros(settings.throttle_window)),
                now.saturating_sub(micros(settings.lockout_memory)),
            ],
        },
        // A refresh token matters until it expires, used ones too: presenting a rotated
        // token before then revokes its session (reuse detection). In a revoked session
        // it only has to be refused, which a missing token is too.
        PruneStep {
            name: "refresh_tokens",
            sql: "DELETE FROM refresh_tokens WHERE token_hash IN ( \
                    SELECT token_hash FROM refresh_tokens \
                    WHERE expire_time <= $2 \
                       OR session_id IN (SELECT id FROM sessions WHERE revoke_time <= $2) \
                    LIMIT $1)",
            params: vec![token_cutoff],
        },
        // A session has ended once it has no refresh token left (the step above removes
        // them after expiry or revocation, plus the horizon).
        PruneStep {
            name: "sessions",
            sql: "DELETE FROM sessions WHERE id IN ( \
                    SELECT s.id FROM sessions s \
                    WHERE s.create_time <= $2 \
                      AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id) \
                    LIMIT $1) \
                  AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = sessions.id)",
            params: vec![token_cutoff],
        },
        // A mailed token matters until it expires (used ones are already gone).
        PruneStep {
            name: "mail_tokens",
            sql: "DELETE FROM mail_tokens WHERE token_hash IN ( \
                    SELECT token_hash FROM mail_tokens WHERE expire_time <= $2 LIMIT $1)",
            params: vec![now],
        },
        // A sent or given-up mail is kept a day (its body is already wiped), for an
        // operator asking what went out.
        PruneStep {
            name: "mail_outbox",
            sql: "DELETE FROM mail_outbox WHERE id IN ( \
                    SELECT id FROM mail_outbox WHERE (sent_time <= $2 OR failed_time <= $2) LIMIT $1)",
            params: vec![now.saturating_sub(micros(OUTBOX_RETENTION))],
        },
        // The security history is kept for its retention, then goes.
        PruneStep {
            name: "security_events",
            sql: "DELETE FROM security_events WHERE id IN ( \
                    SELECT id FROM security_events WHERE event_time <= $2 LIMIT $1)",
            params: vec![now.saturating_sub(micros(settings.event_retention))],
        },
        // A revocation matters while tokens of its session may be unexpired, an account
        // deletion for as long as the feed repeats it: the feed's snapshot reads no
        // further back. (The counter row keeps the positions going.)
        PruneStep {
            name: "revocation_log",
            sql: "DELETE FROM revocation_log WHERE seq IN ( \
                    SELECT seq FROM revocation_log WHERE revoke_time <= $2 \
                      AND (NOT account_deleted OR revoke_time <= $3) LIMIT $1)",
            params: vec![
                token_cutoff,
                now.saturating_sub(micros(crate::revocation_feed::DELETION_RETENTION)),
            ],
        },
    ]
}

/// Runs every step, as of `now` (micros), until it finds no more than a partial batch;
/// answers the rows deleted per step.
pub async fn prune_once(
    pool: &AnyPool,
    settings: &PruneSettings,
    now: i64,
) -> Result<Vec<(&'static str, u64)>, sqlx::Error> {
    let batch = settings.batch.max(1);
    let mut deleted = Vec::new();
    for step in steps(settings, now) {
        let mut total = 0;
        loop {
            let mut query = sqlx::query(step.sql).bind(batch);
            for param in &step.params {
                query = query.bind(*param);
            }
            let n = query.execute(pool).await?.rows_affected();
            total += n;
            if n < u64::try_from(batch).unwrap_or(u64::MAX) {
                break;
            }
            // Let the calls waiting for the database in between batches.
            tokio::task::yield_now().await;
        }
        deleted.push((step.name, total));
    }
    Ok(deleted)
}

/// Prunes every `interval`, the first time one interval after start (start-up stays
/// quick, and a service restarted often does not prune each time), until aborted.
pub fn start(pool: AnyPool, settings: PruneSettings, interval: Duration, clock: Clock) -> JoinHandle<()> {
    tokio::spawn(async move {
        let interval = interval.max(Duration::from_secs(1));
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match prune_once(&pool, &settings, clock.now_micros()).await {
                Ok(deleted) => {
                    for (table, rows) in deleted.into_iter().filter(|(_, rows)| *rows > 0) {
                        tracing::info!(table, rows, "pruned");
                    }
                }
                // The next round retries; nothing is lost by waiting.
                Err(e) => tracing::warn!(error = %e, "pruning failed"),
            }
        }
    })
}
