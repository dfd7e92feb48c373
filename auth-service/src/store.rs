//! All SQL of the auth-service. Runtime queries through sqlx's `Any` driver, the same
//! text for SQLite and PostgreSQL (see `common::db`). By concern: the throttle's
//! statements in `throttle`, the revocation log in `revocations`, the security history
//! in `events`, the user's own sessions and account deletion in `account`.

mod account;
mod events;
mod mail;
mod outbox;
mod revocations;
mod throttle;

pub use account::SessionRecord;
pub use events::{EventCursor, EventRecord};
pub use mail::{MailCount, NewToken, OutboxMail, TokenPurpose};
pub use outbox::DueMail;
pub use revocations::RevokedSession;
pub use throttle::{Attempt, Budget};

use revocations::end_sessions_in;

use common::db::stored_id;
use sqlx::{AnyPool, Row, any::AnyRow};
use token::{SessionId, UserId};

use crate::{
    error::AuthError,
    events::{ClientInfo, Event, EventKind},
};

/// A stored user.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// The user's id (a UUIDv7, so ids sort by registration): the tokens' `sub`.
    pub id: UserId,
    /// The name as registered, case kept (uniqueness is on its lower-cased key).
    pub username: String,
    /// The argon2id PHC string; never leaves the service.
    pub password_hash: String,
    /// Registration time, microseconds since the epoch.
    pub create_time: i64,
    /// The address as the user wrote it; `None` when the account has none.
    pub email: Option<String>,
    /// Whether `email` was confirmed through its verification link (a password reset
    /// by mail confirms it too); false again after a change of address.
    pub email_verified: bool,
}

/// What presenting a refresh token did.
#[derive(Debug)]
pub enum Rotation {
    /// The token was current: it is now used, and `new` replaces it in the same session.
    Rotated {
        /// The session's user, for the new access token's `sub`.
        user_id: UserId,
        /// The user's name as stored now, for the new access token.
        username: String,
        /// The session, unchanged by rotation: the new access token's `sid`.
        session_id: SessionId,
        /// When the new token expires (micros).
        expire_time: i64,
    },
    /// The token had already been rotated: the whole session is now revoked.
    Reused,
    /// Unknown, expired, or its session was revoked.
    Invalid,
}

/// Every statement of the auth-service, over one pool; cheap to clone (the pool is
/// shared). The use cases, the throttle, the revocation feed and the mail sender each
/// hold one.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

fn user_from_row(row: &AnyRow) -> Result<UserRecord, AuthError> {
    Ok(UserRecord {
        id: stored_id(row, "id")?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        create_time: row.try_get("create_time")?,
        email: row.try_get("email")?,
        email_verified: row.try_get::<Option<i64>, _>("email_verified_time")?.is_some(),
    })
}

const USER_COLUMNS: &str = "id, username, password_hash, create_time, email, email_verified_time";

impl Store {
    /// The statements over `pool`, already migrated by [`common::db::connect`].
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Inserts a user and records `REGISTERED`, with the verification mail for its
    /// address when it has one; `UsernameTaken` if the case-folded name exists,
    /// `EmailTaken` if the address does.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn create_user(
        &self,
        user: &UserRecord,
        username_key: &str,
        client: &ClientInfo,
        verification: Option<(&NewToken, &OutboxMail)>,
    ) -> Result<(), AuthError> {
        let email_key = user.email.as_ref().map(|e| e.to_lowercase());
        let mut tx = common::db::begin_write(&self.pool).await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, username, username_key, password_hash, create_time, update_time, email, email_key) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7)",
        )
        .bind(user.id.to_string())
        .bind(&user.username)
        .bind(username_key)
        .bind(&user.password_hash)
        .bind(user.create_time)
        .bind(user.email.clone())
        .bind(email_key)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            if !common::db::is_unique_violation(&e) {
                return Err(e.into());
            }
            // Which key clashed: the failed statement ended the transaction (PostgreSQL).
            tx.rollback().await?;
            let name_taken = sqlx::query("SELECT 1 AS one FROM users WHERE username_key = $1")
                .bind(username_key)
                .fetch_optional(&self.pool)
                .await?
                .is_some();
            return Err(if name_taken || user.email.is_none() {
                AuthError::UsernameTaken
            } else {
                AuthError::EmailTaken
            });
        }
        let event = Event::new(EventKind::Registered, client, None);
        events::insert_event(&mut tx, &user.id.to_string(), &event, user.create_time).await?;
        if let Some((token, mail)) = verification {
            mail::issue_in(&mut tx, user.id, token, mail, user.create_time).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The user whose lower-cased name ([`crate::domain::Username::key`]) is
    /// `username_key`; `None` when there is none (login answers that like a wrong password).
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn user_by_key(&self, username_key: &str) -> Result<Option<UserRecord>, AuthError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username_key = $1"
        )))
        .bind(username_key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The user and whether the session is still open, for a signed-in call: `None` when
    /// the session (or its user) does not exist.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn session_user(&self, session_id: SessionId) -> Result<Option<(UserRecord, bool)>, AuthError> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.password_hash, u.create_time, u.email, u.email_verified_time, s.revoke_time \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
        )
        .bind(session_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let revoked: Option<i64> = row.try_get("revoke_time")?;
            Ok((user_from_row(&row)?, revoked.is_none()))
        })
        .transpose()
    }

    /// Starts a session (a refresh-token family) with its first refresh token, and records
    /// `LOGIN_SUCCEEDED`: both or neither.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn create_session(
        &self,
        user_id: UserId,
        session_id: SessionId,
        token_hash: &str,
        now: i64,
        expire_time: i64,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let session = session_id;
        let session_id = session_id.to_string();
        let mut tx = common::db::begin_write(&self.pool).await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, create_time, client_address, user_agent) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&session_id)
        .bind(user_id.to_string())
        .bind(now)
        .bind(client.address.clone())
        .bind(client.user_agent.clone())
        .execute(&mut *tx)
        .await?;
        let event = Event::new(EventKind::LoginSucceeded, client, Some(session));
        events::insert_event(&mut tx, &user_id.to_string(), &event, now).await?;
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
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn rotate(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        expire_time: i64,
        max_lifetime: i64,
        client: &ClientInfo,
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
                "SELECT u.id, u.username, s.create_time FROM sessions s \
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
            sqlx::query("UPDATE sessions SET last_refresh_time = $1 WHERE id = $2")
                .bind(now)
                .bind(&session_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Rotation::Rotated {
                user_id: stored_id(&user, "id")?,
                username: user.try_get("username")?,
                session_id: SessionId::parse(&session_id)
                    .ok_or_else(|| AuthError::internal("stored session id is not a UUID"))?,
                expire_time,
            });
        }
        tx.rollback().await?;

        // Not claimable: tell reuse (an already-rotated token) from the rest.
        let reused = self
            .end_sessions(
                "WHERE revoke_time IS NULL AND id IN \
                   (SELECT session_id FROM refresh_tokens WHERE token_hash = $3 AND use_time IS NOT NULL)",
                &[old_hash],
                now,
                "refresh token reused",
                Some(Event::new(EventKind::RefreshReuseDetected, client, None)),
            )
            .await?;
        if reused > 0 {
            return Ok(Rotation::Reused);
        }
        Ok(Rotation::Invalid)
    }

    /// Replaces a hash made with weaker parameters by `new_hash`, unless the password
    /// changed meanwhile (the stored hash is no longer `old_hash`). Sessions stay.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn upgrade_password_hash(
        &self,
        user_id: UserId,
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

    /// Ends the session a refresh token belongs to, and its access tokens. Unknown tokens
    /// are ignored.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn revoke_session_of(
        &self,
        token_hash: &str,
        now: i64,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.end_sessions(
            "WHERE revoke_time IS NULL AND id IN (SELECT session_id FROM refresh_tokens WHERE token_hash = $3)",
            &[token_hash],
            now,
            "logout",
            Some(Event::new(EventKind::LoggedOut, client, None)),
        )
        .await?;
        Ok(())
    }

    /// Ends every open session of the user, and so every access token issued until now;
    /// `event` is recorded with it.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn revoke_all_sessions(
        &self,
        user_id: UserId,
        now: i64,
        reason: &str,
        event: Event<'_>,
    ) -> Result<u64, AuthError> {
        self.end_sessions(
            "WHERE revoke_time IS NULL AND user_id = $3",
            &[&user_id.to_string()],
            now,
            reason,
            Some(event),
        )
        .await
    }

    /// Replaces the password hash and revokes every session, atomically.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn change_password(
        &self,
        user_id: UserId,
        password_hash: &str,
        now: i64,
        event: Event<'_>,
    ) -> Result<(), AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        sqlx::query("UPDATE users SET password_hash = $1, update_time = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now)
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await?;
        // A reset link mailed before is for the old password: it must not undo this one.
        mail::delete_tokens_in(&mut tx, user_id, TokenPurpose::Reset).await?;
        end_sessions_in(
            &mut tx,
            "WHERE revoke_time IS NULL AND user_id = $3",
            &[&user_id.to_string()],
            now,
            "password changed",
            None,
        )
        .await?;
        // Recorded whether or not a session was open (the one that asked may be gone).
        events::insert_event(&mut tx, &user_id.to_string(), &event, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
