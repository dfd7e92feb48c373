//! All SQL of the auth-service. Runtime queries through sqlx's `Any` driver, the same
//! text for SQLite and PostgreSQL (see `common::db`). The throttle's statements are in
//! [`throttle`].

mod throttle;

pub use throttle::{Attempt, Budget};

use sqlx::{AnyPool, Row, any::AnyRow};
use uuid::Uuid;

use crate::error::AuthError;

/// A stored user.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub create_time: i64,
    /// Access tokens issued at or before this instant (seconds) are revoked.
    pub tokens_valid_after: i64,
}

/// What presenting a refresh token did.
#[derive(Debug)]
pub enum Rotation {
    /// The token was current: it is now used, and `new` replaces it in the same session.
    Rotated {
        user_id: Uuid,
        username: String,
        tokens_valid_after: i64,
        /// When the new token expires (micros).
        expire_time: i64,
    },
    /// The token had already been rotated: the whole session is now revoked.
    Reused,
    /// Unknown, expired, or its session was revoked.
    Invalid,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

fn user_from_row(row: &AnyRow) -> Result<UserRecord, AuthError> {
    let id: String = row.try_get("id")?;
    Ok(UserRecord {
        id: Uuid::parse_str(&id).map_err(|e| AuthError::Internal(format!("stored user id: {e}")))?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        create_time: row.try_get("create_time")?,
        tokens_valid_after: row.try_get("tokens_valid_after")?,
    })
}

const USER_COLUMNS: &str = "id, username, password_hash, create_time, tokens_valid_after";

impl Store {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Inserts a user; `UsernameTaken` if the case-folded name exists.
    pub async fn create_user(&self, user: &UserRecord, username_key: &str) -> Result<(), AuthError> {
        sqlx::query(
            "INSERT INTO users (id, username, username_key, password_hash, create_time, update_time) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(user.id.to_string())
        .bind(&user.username)
        .bind(username_key)
        .bind(&user.password_hash)
        .bind(user.create_time)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if common::db::is_unique_violation(&e) {
                AuthError::UsernameTaken
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    pub async fn user_by_key(&self, username_key: &str) -> Result<Option<UserRecord>, AuthError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username_key = $1"
        )))
        .bind(username_key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>, AuthError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Starts a session (a refresh-token family) with its first refresh token.
    pub async fn create_session(
        &self,
        user_id: Uuid,
        token_hash: &str,
        now: i64,
        expire_time: i64,
    ) -> Result<(), AuthError> {
        let session_id = Uuid::new_v4().to_string();
        let mut tx = common::db::begin_write(&self.pool).await?;
        sqlx::query("INSERT INTO sessions (id, user_id, create_time) VALUES ($1, $2, $3)")
            .bind(&session_id)
            .bind(user_id.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, create_time, expire_time) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(&session_id)
        .bind(now)
        .bind(expire_time)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Rotates a refresh token: marks `old_hash` used and adds `new_hash` to its session,
    /// in one transaction. The conditional UPDATE is the arbiter: of concurrent calls
    /// with the same token, exactly one sees the row unused (PostgreSQL re-checks the
    /// condition after the row lock; SQLite serialises writers). A session that began at
    /// or before `session_cutoff` has reached its maximum lifetime: its tokens are refused,
    /// and a new one expires at `expire_time` or at the session's end (its start plus
    /// `max_lifetime`), whichever is first.
    pub async fn rotate(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        expire_time: i64,
        max_lifetime: i64,
    ) -> Result<Rotation, AuthError> {
        let session_cutoff = now.saturating_sub(max_lifetime);
        let mut tx = common::db::begin_write(&self.pool).await?;
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET use_time = $1 \
             WHERE token_hash = $2 AND use_time IS NULL AND expire_time > $1 \
               AND session_id IN (SELECT id FROM sessions WHERE revoke_time IS NULL AND create_time > $3) \
             RETURNING session_id",
        )
        .bind(now)
        .bind(old_hash)
        .bind(session_cutoff)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = claimed {
            let session_id: String = row.try_get("session_id")?;
            let user = sqlx::query(
                "SELECT u.id, u.username, u.tokens_valid_after, s.create_time FROM sessions s \
                 JOIN users u ON u.id = s.user_id WHERE s.id = $1",
            )
            .bind(&session_id)
            .fetch_one(&mut *tx)
            .await?;
            let session_start: i64 = user.try_get("create_time")?;
            let expire_time = expire_time.min(session_start.saturating_add(max_lifetime));
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, session_id, create_time, expire_time) VALUES ($1, $2, $3, $4)",
            )
            .bind(new_hash)
            .bind(&session_id)
            .bind(now)
            .bind(expire_time)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            let id: String = user.try_get("id")?;
            return Ok(Rotation::Rotated {
                user_id: Uuid::parse_str(&id)
                    .map_err(|e| AuthError::Internal(format!("stored user id: {e}")))?,
                username: user.try_get("username")?,
                tokens_valid_after: user.try_get("tokens_valid_after")?,
                expire_time,
            });
        }
        tx.rollback().await?;

        // Not claimable: tell reuse (an already-rotated token) from the rest.
        let revoked = sqlx::query(
            "UPDATE sessions SET revoke_time = $1, revoke_reason = 'refresh token reused' \
             WHERE revoke_time IS NULL AND id IN \
               (SELECT session_id FROM refresh_tokens WHERE token_hash = $2 AND use_time IS NOT NULL)",
        )
        .bind(now)
        .bind(old_hash)
        .execute(&self.pool)
        .await?;
        if revoked.rows_affected() > 0 {
            return Ok(Rotation::Reused);
        }
        Ok(Rotation::Invalid)
    }

    /// Replaces a hash made with weaker parameters by `new_hash`, unless the password
    /// changed meanwhile (the stored hash is no longer `old_hash`). Sessions stay.
    pub async fn upgrade_password_hash(
        &self,
        user_id: Uuid,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, AuthError> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
            .bind(new_hash)
            .bind(user_id.to_string())
            .bind(old_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Revokes the session a refresh token belongs to. Unknown tokens are ignored.
    pub async fn revoke_session_of(&self, token_hash: &str, now: i64) -> Result<(), AuthError> {
        sqlx::query(
            "UPDATE sessions SET revoke_time = $1, revoke_reason = 'logout' \
             WHERE revoke_time IS NULL AND id IN (SELECT session_id FROM refresh_tokens WHERE token_hash = $2)",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Revokes every open session of the user and every access token issued until now.
    pub async fn revoke_all_sessions(&self, user_id: Uuid, now: i64, reason: &str) -> Result<u64, AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        let done = sqlx::query(
            "UPDATE sessions SET revoke_time = $1, revoke_reason = $2 WHERE user_id = $3 AND revoke_time IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(user_id.to_string())
        .execute(&mut *tx)
        .await?;
        revoke_access_tokens(&mut tx, user_id, now).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Replaces the password hash and revokes every session, atomically.
    pub async fn change_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        now: i64,
    ) -> Result<(), AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        sqlx::query("UPDATE users SET password_hash = $1, update_time = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now)
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE sessions SET revoke_time = $1, revoke_reason = 'password changed' \
             WHERE user_id = $2 AND revoke_time IS NULL",
        )
        .bind(now)
        .bind(user_id.to_string())
        .execute(&mut *tx)
        .await?;
        revoke_access_tokens(&mut tx, user_id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revocations newer than `since` (seconds): users whose tokens issued at or before
    /// `tokens_valid_after` are refused.
    pub async fn revocations_since(&self, since: i64) -> Result<Vec<(Uuid, i64)>, AuthError> {
        let rows = sqlx::query("SELECT id, tokens_valid_after FROM users WHERE tokens_valid_after > $1")
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let id =
                    Uuid::parse_str(&id).map_err(|e| AuthError::Internal(format!("stored user id: {e}")))?;
                Ok((id, row.try_get("tokens_valid_after")?))
            })
            .collect()
    }
}

/// Access tokens of the user issued at or before now are revoked (seconds, the unit of `iat`).
async fn revoke_access_tokens(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: Uuid,
    now_micros: i64,
) -> Result<(), AuthError> {
    // Tokens issued since the last revocation may carry an `iat` up to one second past
    // it (see `AccessTokens::issue_after`), so the new mark must be past that too.
    sqlx::query(
        "UPDATE users SET tokens_valid_after = \
           CASE WHEN tokens_valid_after + 1 > $1 THEN tokens_valid_after + 1 ELSE $1 END \
         WHERE id = $2",
    )
    .bind(now_micros.div_euclid(1_000_000))
    .bind(user_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
