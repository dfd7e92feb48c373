//! Account self-service: the user's live sessions, ending one, deleting the account.

use sqlx::Row;
use token::{SessionId, UserId};

use super::{
    Store,
    revocations::{end_sessions_in, log_revocations},
};
use crate::{
    error::AuthError,
    events::{ClientInfo, Event},
};

/// A live session, as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The session's id (its tokens' `sid`), which `RevokeSession` takes.
    pub id: SessionId,
    /// Login time, microseconds since the epoch.
    pub create_time: i64,
    /// Last refresh-token rotation, microseconds since the epoch; the login time when
    /// it was never refreshed.
    pub last_refresh_time: i64,
    /// When its current refresh token expires.
    pub expire_time: i64,
    /// Where the login came from (address and user agent at login).
    pub client: ClientInfo,
}

/// Live: not ended, and its current refresh token neither used nor expired (`$2` is now,
/// `$3` the oldest session start still within the maximum lifetime).
const LIVE: &str = "s.revoke_time IS NULL AND s.create_time > $3 \
     AND t.session_id = s.id AND t.use_time IS NULL AND t.expire_time > $2";

impl Store {
    /// The user's live sessions, newest first.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn live_sessions(
        &self,
        user_id: UserId,
        now: i64,
        oldest_start: i64,
    ) -> Result<Vec<SessionRecord>, AuthError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT s.id, s.create_time, s.last_refresh_time, s.client_address, s.user_agent, t.expire_time \
             FROM sessions s, refresh_tokens t WHERE s.user_id = $1 AND {LIVE} \
             ORDER BY s.create_time DESC, s.id DESC"
        )))
        .bind(user_id.to_string())
        .bind(now)
        .bind(oldest_start)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let create_time: i64 = row.try_get("create_time")?;
                let refreshed: Option<i64> = row.try_get("last_refresh_time")?;
                Ok(SessionRecord {
                    id: common::db::stored_id(row, "id")?,
                    create_time,
                    last_refresh_time: refreshed.unwrap_or(create_time),
                    expire_time: row.try_get("expire_time")?,
                    client: ClientInfo {
                        address: row.try_get("client_address")?,
                        user_agent: row.try_get("user_agent")?,
                    },
                })
            })
            .collect()
    }

    /// Ends the user's live session `session_id`; `false` when it is not the user's or
    /// not live (the same answer, so ids of others cannot be probed).
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn revoke_user_session(
        &self,
        user_id: UserId,
        session_id: SessionId,
        now: i64,
        oldest_start: i64,
        event: Event<'_>,
    ) -> Result<bool, AuthError> {
        let filter = format!(
            "WHERE revoke_time IS NULL AND id = $3 AND user_id = $4 AND create_time > {oldest_start} \
             AND EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = sessions.id \
               AND t.use_time IS NULL AND t.expire_time > {now})"
        );
        let ended = self
            .end_sessions(
                &filter,
                &[&session_id.to_string(), &user_id.to_string()],
                now,
                "revoked by the user",
                Some(event),
            )
            .await?;
        Ok(ended > 0)
    }

    /// Deletes the user and every session, refresh token and event of theirs;
    /// ends every session for the feed and logs the deletion, so the todo-services delete
    /// the user's data; forgets the name's throttle counters; deletes every pending mail
    /// token and unsent mail. One transaction.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn delete_account(
        &self,
        user_id: UserId,
        username_key: &str,
        now: i64,
    ) -> Result<(), AuthError> {
        let user = user_id.to_string();
        let mut tx = common::db::begin_write(&self.pool).await?;
        end_sessions_in(
            &mut tx,
            "WHERE revoke_time IS NULL AND user_id = $3",
            &[&user],
            now,
            "account deleted",
            None,
        )
        .await?;
        log_revocations(&mut tx, &[(String::new(), user.clone())], now, true).await?;
        // Explicitly, dependents first: no reliance on the foreign keys' cascade.
        for sql in [
            "DELETE FROM security_events WHERE user_id = $1",
            // Pending links go, and so do mails not yet sent (they would carry them).
            "DELETE FROM mail_tokens WHERE user_id = $1",
            "DELETE FROM mail_outbox WHERE user_id = $1 AND sent_time IS NULL",
            "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = $1)",
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM users WHERE id = $1",
        ] {
            sqlx::query(sql).bind(&user).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1")
            .bind(format!("user:{username_key}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
