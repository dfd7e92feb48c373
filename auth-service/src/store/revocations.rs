//! Ending sessions and the revocation log the todo-services follow.
//!
//! Every ended session is appended to `revocation_log` in the transaction that ends it,
//! at a position taken from the one `revocation_counter` row. That row's lock is held
//! until the transaction commits, so positions become visible in commit order: a reader
//! that has seen position `n` has seen every position below it.

use sqlx::{Row, any::AnyRow};
use token::{SessionId, UserId};

use super::{Store, events::insert_event};
use crate::{error::AuthError, events::Event};

/// An ended session (or a deleted account), as the revocation feed carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedSession {
    /// Position in the revocation log, in commit order.
    pub seq: i64,
    /// Whose session ended (or whose account was deleted).
    pub user_id: UserId,
    /// `None` for an account deletion.
    pub session_id: Option<SessionId>,
    /// Microseconds since the epoch.
    pub revoke_time: i64,
    /// The account was deleted: its data goes too.
    pub account_deleted: bool,
}

/// `account_deleted` as an integer: sqlx's `Any` driver decodes no BOOLEAN portably.
const LOG_COLUMNS: &str =
    "seq, user_id, session_id, revoke_time, CASE WHEN account_deleted THEN 1 ELSE 0 END AS account_deleted";

fn revoked_from_row(row: &AnyRow) -> Result<RevokedSession, AuthError> {
    let session: String = row.try_get("session_id")?;
    Ok(RevokedSession {
        seq: row.try_get("seq")?,
        user_id: common::db::stored_id(row, "user_id")?,
        session_id: if session.is_empty() {
            None
        } else {
            Some(common::db::stored_id(row, "session_id")?)
        },
        revoke_time: row.try_get("revoke_time")?,
        account_deleted: row.try_get::<i64, _>("account_deleted")? != 0,
    })
}

impl Store {
    /// The newest position in the revocation log (0 when it is empty).
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn last_revocation_seq(&self) -> Result<i64, AuthError> {
        let row = sqlx::query("SELECT last_seq FROM revocation_counter WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("last_seq")?)
    }

    /// Up to `limit` revocations after position `seq`, in order. Positions become visible
    /// in commit order, so reading on from the last one seen misses nothing, however
    /// late a transaction commits.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn revocations_after(&self, seq: i64, limit: i64) -> Result<Vec<RevokedSession>, AuthError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LOG_COLUMNS} FROM revocation_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        )))
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(revoked_from_row).collect()
    }

    /// The feed's snapshot, in order: sessions ended at or after `since` (micros), and
    /// accounts deleted at or after `deletions_since`.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn revocations_since(
        &self,
        since: i64,
        deletions_since: i64,
    ) -> Result<Vec<RevokedSession>, AuthError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LOG_COLUMNS} FROM revocation_log \
             WHERE revoke_time >= $1 OR (account_deleted AND revoke_time >= $2) ORDER BY seq"
        )))
        .bind(since)
        .bind(deletions_since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(revoked_from_row).collect()
    }

    /// Ends the open sessions `filter` selects (`$3`, `$4`, ... are `args`), logs each for
    /// the revocation feed and records `event`, in one transaction.
    pub(super) async fn end_sessions(
        &self,
        filter: &str,
        args: &[&str],
        now: i64,
        reason: &str,
        event: Option<Event<'_>>,
    ) -> Result<u64, AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        let ended = end_sessions_in(&mut tx, filter, args, now, reason, event).await?;
        tx.commit().await?;
        Ok(ended)
    }
}

/// Ends the open sessions `filter` selects inside `tx` (`$1` is `now`, `$2` the reason,
/// `$3`... `args`), appends each to the revocation log, and records `event` for their
/// user when any ended.
pub(super) async fn end_sessions_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    filter: &str,
    args: &[&str],
    now: i64,
    reason: &str,
    event: Option<Event<'_>>,
) -> Result<u64, AuthError> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE sessions SET revoke_time = $1, revoke_reason = $2 {filter} RETURNING id, user_id"
    )))
    .bind(now)
    .bind(reason);
    for arg in args {
        query = query.bind(*arg);
    }
    let ended = query.fetch_all(&mut **tx).await?;
    let rows: Vec<(String, String)> = ended
        .iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("user_id")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    log_revocations(tx, &rows, now, false).await?;
    if let (Some(event), Some((session, user))) = (event, rows.first()) {
        let only = (rows.len() == 1).then(|| SessionId::parse(session)).flatten();
        let event = Event {
            session_id: event.session_id.or(only),
            ..event
        };
        insert_event(&mut *tx, user, &event, now).await?;
    }
    Ok(rows.len() as u64)
}

/// Appends `(session id, user id)` rows to the revocation log at the next positions.
pub(super) async fn log_revocations(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    rows: &[(String, String)],
    now: i64,
    account_deleted: bool,
) -> Result<(), AuthError> {
    if rows.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let last: i64 =
        sqlx::query("UPDATE revocation_counter SET last_seq = last_seq + $1 WHERE id = 1 RETURNING last_seq")
            .bind(count)
            .fetch_one(&mut **tx)
            .await?
            .try_get("last_seq")?;
    for (seq, (session_id, user_id)) in (last - count + 1..).zip(rows) {
        // A literal, not a bound BOOLEAN: the `Any` driver binds none portably.
        let deleted = if account_deleted { "TRUE" } else { "FALSE" };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO revocation_log (seq, user_id, session_id, revoke_time, account_deleted) \
             VALUES ($1, $2, $3, $4, {deleted})"
        )))
        .bind(seq)
        .bind(user_id)
        .bind(session_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
