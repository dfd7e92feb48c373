//! The throttle's statements: one `login_throttle` row per key. `failures` counts the
//! attempts taken from the key's budget in the current window: an attempt takes its unit
//! before the password is checked, so concurrent attempts cannot all pass a check made
//! before any of them is counted.

use sqlx::Row;

use super::Store;
use crate::error::AuthError;

/// One key's budget for [`Store::take_attempt`].
#[derive(Debug, Clone)]
pub struct Budget {
    /// The throttle row: `user:{lower-cased name}` or `addr:{bucket}`.
    pub key: String,
    /// Attempts per window; the one after them finds nothing left and locks the key.
    pub max: i64,
}

/// What asking for one attempt did.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// One unit taken from every key.
    Taken,
    /// Nothing taken: a key is locked until `until` (micros). `newly_locked` lists the
    /// keys this attempt locked, with their number of lock-outs.
    Refused {
        /// When the lock of the first locked key found ends, microseconds since the
        /// epoch: the caller's `RetryInfo`.
        until: i64,
        /// `(key, lock-outs counting this one)` of the key this attempt locked, if it
        /// locked one, for the log.
        newly_locked: Vec<(String, i64)>,
    },
}

impl Store {
    /// Takes one attempt from each key's budget, all or none, in one transaction.
    ///
    /// A window that ended (began at or before `window_cutoff`), or a lock that passed,
    /// starts a new count; lock-outs are forgotten after a quiet spell (last attempt at or
    /// before `memory_cutoff`). A key with no budget left is locked at once, for
    /// `delay(previous lock-outs)` micros; attempts already under way still finish, but a
    /// right password among them then finds the lock (see [`Self::release_attempt`]).
    ///
    /// Concurrent calls for one key are serialised by its row: the upsert takes the row
    /// lock on PostgreSQL (and re-reads the committed row), and SQLite has one writer.
    /// Keys are always locked in the order given (the name before the address), so two
    /// calls cannot wait on each other.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn take_attempt(
        &self,
        budgets: &[Budget],
        now: i64,
        window_cutoff: i64,
        memory_cutoff: i64,
        delay: impl Fn(i64) -> i64,
    ) -> Result<Attempt, AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        for budget in budgets {
            let row = sqlx::query(
                "INSERT INTO login_throttle (throttle_key, failures, window_start, locked_until, lockouts, update_time) \
                 VALUES ($1, 0, $2, 0, 0, $2) \
                 ON CONFLICT (throttle_key) DO UPDATE SET \
                   failures = CASE WHEN login_throttle.window_start <= $3 \
                       OR (login_throttle.locked_until > 0 AND login_throttle.locked_until <= $2) \
                     THEN 0 ELSE login_throttle.failures END, \
                   window_start = CASE WHEN login_throttle.window_start <= $3 \
                       OR (login_throttle.locked_until > 0 AND login_throttle.locked_until <= $2) \
                     THEN $2 ELSE login_throttle.window_start END, \
                   locked_until = CASE WHEN login_throttle.locked_until <= $2 THEN 0 \
                     ELSE login_throttle.locked_until END, \
                   lockouts = CASE WHEN login_throttle.update_time <= $4 THEN 0 \
                     ELSE login_throttle.lockouts END, \
                   update_time = $2 \
                 RETURNING failures, locked_until, lockouts",
            )
            .bind(&budget.key)
            .bind(now)
            .bind(window_cutoff)
            .bind(memory_cutoff)
            .fetch_one(&mut *tx)
            .await?;
            let failures: i64 = row.try_get("failures")?;
            let locked_until: i64 = row.try_get("locked_until")?;
            let lockouts: i64 = row.try_get("lockouts")?;
            if locked_until > now {
                tx.commit().await?;
                return Ok(Attempt::Refused {
                    until: locked_until,
                    newly_locked: Vec::new(),
                });
            }
            if failures >= budget.max.max(1) {
                let until = now.saturating_add(delay(lockouts));
                sqlx::query(
                    "UPDATE login_throttle SET locked_until = $2, lockouts = lockouts + 1 WHERE throttle_key = $1",
                )
                .bind(&budget.key)
                .bind(until)
                .execute(&mut *tx)
                .await?;
                // The lock is kept; no unit was taken from any key (that happens below,
                // once every key has budget).
                tx.commit().await?;
                return Ok(Attempt::Refused {
                    until,
                    newly_locked: vec![(budget.key.clone(), lockouts + 1)],
                });
            }
        }
        for budget in budgets {
            sqlx::query("UPDATE login_throttle SET failures = failures + 1 WHERE throttle_key = $1")
                .bind(&budget.key)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Attempt::Taken)
    }

    /// A taken attempt had the right password. Unless a key was locked meanwhile, clears
    /// `cleared` (its failures and lock-outs) and gives the unit back to each of
    /// `returned`; answers `Some(locked_until)` when a key is locked (nothing changed then).
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn release_attempt(
        &self,
        cleared: &str,
        returned: &[String],
        now: i64,
    ) -> Result<Option<i64>, AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        // Conditional, so a lock committed by a concurrent attempt wins: PostgreSQL waits
        // for that row and re-checks the condition on the version it committed.
        sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1 AND locked_until <= $2")
            .bind(cleared)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let mut keys = vec![cleared.to_owned()];
        keys.extend(returned.iter().cloned());
        if let Some(until) = latest_lock(&mut tx, &keys, now).await? {
            tx.rollback().await?;
            return Ok(Some(until));
        }
        give_back(&mut tx, returned).await?;
        tx.commit().await?;
        Ok(None)
    }

    /// Gives a taken attempt back to each key: it was never evaluated (the hash queue was
    /// full), so it should not count as a failure.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn return_attempt(&self, keys: &[String]) -> Result<(), AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        give_back(&mut tx, keys).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts one event for `key` in the current window (a new window when the last began
    /// at or before `window_cutoff`); answers the count and when the window began.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn count_event(
        &self,
        key: &str,
        now: i64,
        window_cutoff: i64,
    ) -> Result<(i64, i64), AuthError> {
        let mut conn = self.pool.acquire().await?;
        count_event_on(&mut conn, key, now, window_cutoff).await
    }
}

/// [`Store::count_event`] on `conn`: a pool's connection, or a transaction's (mail counts
/// are taken in the transaction that writes the mail).
pub(super) async fn count_event_on(
    conn: &mut sqlx::AnyConnection,
    key: &str,
    now: i64,
    window_cutoff: i64,
) -> Result<(i64, i64), AuthError> {
    let row = sqlx::query(
        "INSERT INTO login_throttle (throttle_key, failures, window_start, locked_until, lockouts, update_time) \
         VALUES ($1, 1, $2, 0, 0, $2) \
         ON CONFLICT (throttle_key) DO UPDATE SET \
           failures = CASE WHEN login_throttle.window_start <= $3 THEN 1 ELSE login_throttle.failures + 1 END, \
           window_start = CASE WHEN login_throttle.window_start <= $3 THEN $2 ELSE login_throttle.window_start END, \
           update_time = $2 \
         RETURNING failures, window_start",
    )
    .bind(key)
    .bind(now)
    .bind(window_cutoff)
    .fetch_one(conn)
    .await?;
    Ok((row.try_get("failures")?, row.try_get("window_start")?))
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// The latest `locked_until` among `keys` that is still in the future.
async fn latest_lock(tx: &mut Tx, keys: &[String], now: i64) -> Result<Option<i64>, AuthError> {
    let placeholders: Vec<String> = (0..keys.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT locked_until FROM login_throttle WHERE locked_until > $1 AND throttle_key IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
    for key in keys {
        query = query.bind(key);
    }
    let mut latest = None;
    for row in query.fetch_all(&mut **tx).await? {
        let until: i64 = row.try_get("locked_until")?;
        latest = latest.max(Some(until));
    }
    Ok(latest)
}

async fn give_back(tx: &mut Tx, keys: &[String]) -> Result<(), AuthError> {
    for key in keys {
        sqlx::query(
            "UPDATE login_throttle SET failures = failures - 1 WHERE throttle_key = $1 AND failures > 0",
        )
        .bind(key)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
