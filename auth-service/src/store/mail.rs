//! Email addresses and the tokens mailed to them: every change that mails writes its
//! token and its outbox row in its own transaction, so the mail goes out if and only if
//! the change committed.

use sqlx::Row;
use token::UserId;
use uuid::Uuid;

use super::{Store, events::insert_event, revocations::end_sessions_in};
use crate::{error::AuthError, events::Event};

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// What a mailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Confirms the account's email address (`VerifyEmail`).
    Verify,
    /// Sets a new password without the old one (`ResetPassword`).
    Reset,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
        }
    }
}

/// A token to store with its mail: only its hash.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Hex SHA-256 of the token ([`crate::domain::RefreshToken::hash`]); the token itself
    /// is only in the mail.
    pub hash: String,
    /// What it can be used for; a new token supersedes the user's earlier ones of the
    /// same purpose.
    pub purpose: TokenPurpose,
    /// The address it is mailed to, lower-cased: it is good for that address only.
    pub email_key: String,
    /// When it stops working, microseconds since the epoch.
    pub expire_time: i64,
}

/// A mail for the outbox.
#[derive(Debug, Clone)]
pub struct OutboxMail {
    /// The outbox row's id (a UUIDv7), also the mail's `Message-ID`, so a retried mail
    /// is recognisably the same one.
    pub id: Uuid,
    /// `verify_email` or `reset_password`: what log lines name instead of the body.
    pub kind: &'static str,
    /// The address to send to, as the user wrote it.
    pub recipient: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body, lines ending in CRLF; it holds the link with the token.
    pub body: String,
}

/// One throttle key's count for [`Store::request_password_reset`] and [`Store::count_mail`].
#[derive(Debug, Clone)]
pub struct MailCount {
    /// The throttle row counted: `mail:user:{id}`, `mail:email:{address}` or an
    /// address bucket's key.
    pub key: String,
    /// Mails allowed per window; one more is refused.
    pub max: i64,
}

/// Counts one mail for `key` in the window (a new one when the last began at or before
/// `cutoff`) inside `tx`; answers the count and the window's start.
async fn count_in(tx: &mut Tx, key: &str, now: i64, cutoff: i64) -> Result<(i64, i64), AuthError> {
    super::throttle::count_event_on(tx, key, now, cutoff).await
}

/// Counts one mail against every key; `Some(window end)` of a key over its limit.
async fn count_all(
    tx: &mut Tx,
    counts: &[MailCount],
    now: i64,
    window: i64,
) -> Result<Option<i64>, AuthError> {
    let mut over = None;
    for count in counts {
        let (n, start) = count_in(tx, &count.key, now, now.saturating_sub(window)).await?;
        if n > count.max {
            over = over.max(Some(start.saturating_add(window)));
        }
    }
    Ok(over)
}

pub(super) async fn delete_tokens_in(
    tx: &mut Tx,
    user_id: UserId,
    purpose: TokenPurpose,
) -> Result<(), AuthError> {
    sqlx::query("DELETE FROM mail_tokens WHERE user_id = $1 AND purpose = $2")
        .bind(user_id.to_string())
        .bind(purpose.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Stores `token` (superseding the user's earlier ones of its purpose) and queues `mail`.
pub(super) async fn issue_in(
    tx: &mut Tx,
    user_id: UserId,
    token: &NewToken,
    mail: &OutboxMail,
    now: i64,
) -> Result<(), AuthError> {
    delete_tokens_in(tx, user_id, token.purpose).await?;
    sqlx::query(
        "INSERT INTO mail_tokens (token_hash, user_id, purpose, email_key, create_time, expire_time) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&token.hash)
    .bind(user_id.to_string())
    .bind(token.purpose.as_str())
    .bind(&token.email_key)
    .bind(now)
    .bind(token.expire_time)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO mail_outbox (id, user_id, kind, recipient, subject, body, create_time, next_attempt_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(mail.id.to_string())
    .bind(user_id.to_string())
    .bind(mail.kind)
    .bind(&mail.recipient)
    .bind(&mail.subject)
    .bind(&mail.body)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes a live token of `purpose` (deleting it: single use); its user and address.
async fn take_token(
    tx: &mut Tx,
    hash: &str,
    purpose: TokenPurpose,
    now: i64,
) -> Result<Option<(UserId, String)>, AuthError> {
    let row = sqlx::query(
        "DELETE FROM mail_tokens WHERE token_hash = $1 AND purpose = $2 AND expire_time > $3 \
         RETURNING user_id, email_key",
    )
    .bind(hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| Ok((common::db::stored_id(&row, "user_id")?, row.try_get("email_key")?)))
        .transpose()
}

impl Store {
    /// Counts one mail against every key, outside any change (before one is made);
    /// `Some(window end)` when a key is over its limit.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn count_mail(
        &self,
        counts: &[MailCount],
        now: i64,
        window: i64,
    ) -> Result<Option<i64>, AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        let over = count_all(&mut tx, counts, now, window).await?;
        tx.commit().await?;
        Ok(over)
    }

    /// Sets the user's address, unverified, with its verification mail and `event`;
    /// `EmailTaken` when another account has it.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn change_email(
        &self,
        user_id: UserId,
        email: &str,
        token: &NewToken,
        mail: &OutboxMail,
        now: i64,
        event: Event<'_>,
    ) -> Result<(), AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        let updated = sqlx::query(
            "UPDATE users SET email = $1, email_key = $2, email_verified_time = NULL, update_time = $3 WHERE id = $4",
        )
        .bind(email)
        .bind(&token.email_key)
        .bind(now)
        .bind(user_id.to_string())
        .execute(&mut *tx)
        .await;
        match updated {
            Err(e) if common::db::is_unique_violation(&e) => return Err(AuthError::EmailTaken),
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        // A reset link mailed to the old address is not the new owner's to use.
        delete_tokens_in(&mut tx, user_id, TokenPurpose::Reset).await?;
        issue_in(&mut tx, user_id, token, mail, now).await?;
        insert_event(&mut tx, &user_id.to_string(), &event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Issues a new verification token (the old one stops working) and queues its mail.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn send_verification(
        &self,
        user_id: UserId,
        token: &NewToken,
        mail: &OutboxMail,
        now: i64,
    ) -> Result<(), AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        issue_in(&mut tx, user_id, token, mail, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses a verification token: the address it was mailed to is verified, if it is
    /// still the account's. `false`: unknown, used, expired or for another address.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn verify_email(&self, hash: &str, now: i64, event: Event<'_>) -> Result<bool, AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        let Some((user_id, email_key)) = take_token(&mut tx, hash, TokenPurpose::Verify, now).await? else {
            tx.rollback().await?;
            return Ok(false);
        };
        let done = sqlx::query(
            "UPDATE users SET email_verified_time = COALESCE(email_verified_time, $1) WHERE id = $2 AND email_key = $3",
        )
        .bind(now)
        .bind(user_id.to_string())
        .bind(&email_key)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            // The token is used up either way.
            tx.commit().await?;
            return Ok(false);
        }
        insert_event(&mut tx, &user_id.to_string(), &event, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A reset request for `email_key`. The same statements run whether or not an
    /// account has the address (the counts are written either way, in one
    /// transaction), so the answer's timing tells nothing; `account_count` is the key
    /// to count for an account that has it, `unknown_count` the one for no account.
    /// `make` builds the token and mail for the account's username and address.
    /// Answers whether a mail was queued.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn request_password_reset(
        &self,
        email_key: &str,
        account_count: impl Fn(UserId) -> MailCount,
        unknown_count: MailCount,
        address_count: Option<MailCount>,
        now: i64,
        window: i64,
        make: impl FnOnce(&str, &str) -> (NewToken, OutboxMail),
        event: Event<'_>,
    ) -> Result<bool, AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        let user = sqlx::query("SELECT id, username, email FROM users WHERE email_key = $1")
            .bind(email_key)
            .fetch_optional(&mut *tx)
            .await?;
        let user = user
            .map(|row| {
                Ok::<_, AuthError>((
                    common::db::stored_id(&row, "id")?,
                    row.try_get::<String, _>("username")?,
                    row.try_get::<String, _>("email")?,
                ))
            })
            .transpose()?;
        let mut counts = vec![match &user {
            Some((id, _, _)) => account_count(*id),
            None => unknown_count,
        }];
        counts.extend(address_count);
        let over = count_all(&mut tx, &counts, now, window).await?.is_some();
        let queued = match user {
            Some((user_id, username, email)) if !over => {
                let (token, mail) = make(&username, &email);
                issue_in(&mut tx, user_id, &token, &mail, now).await?;
                insert_event(&mut tx, &user_id.to_string(), &event, now).await?;
                true
            }
            _ => {
                // Nothing to send, but the same work as sending: a mail composed, the
                // supersession delete, and an outbox row, already done and empty (the
                // pruner takes it with the sent ones).
                let (_, mail) = make("", email_key);
                delete_tokens_in(&mut tx, UserId::from_uuid(Uuid::nil()), TokenPurpose::Reset).await?;
                sqlx::query(
                    "INSERT INTO mail_outbox (id, kind, recipient, subject, body, create_time, next_attempt_time, sent_time) \
                     VALUES ($1, 'none', '', '', '', $2, $2, $2)",
                )
                .bind(mail.id.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                false
            }
        };
        tx.commit().await?;
        Ok(queued)
    }

    /// Whether a reset token is live (known, unused, unexpired), without using it: so a
    /// made-up token costs no password hash.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn reset_token_is_live(&self, hash: &str, now: i64) -> Result<bool, AuthError> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM mail_tokens WHERE token_hash = $1 AND purpose = $2 AND expire_time > $3",
        )
        .bind(hash)
        .bind(TokenPurpose::Reset.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Uses a reset token: sets `password_hash`, ends every session, lifts the name's
    /// lock-out, marks the address verified and records `event`, in one transaction.
    /// `false`: unknown, used, expired, or the address changed since it was mailed.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn reset_password(
        &self,
        hash: &str,
        password_hash: &str,
        now: i64,
        event: Event<'_>,
    ) -> Result<Option<UserId>, AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        let Some((user_id, email_key)) = take_token(&mut tx, hash, TokenPurpose::Reset, now).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let user = user_id.to_string();
        let row = sqlx::query(
            "UPDATE users SET password_hash = $1, update_time = $2, \
               email_verified_time = COALESCE(email_verified_time, $2) \
             WHERE id = $3 AND email_key = $4 RETURNING username",
        )
        .bind(password_hash)
        .bind(now)
        .bind(&user)
        .bind(&email_key)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        let username: String = row.try_get("username")?;
        delete_tokens_in(&mut tx, user_id, TokenPurpose::Reset).await?;
        end_sessions_in(
            &mut tx,
            "WHERE revoke_time IS NULL AND user_id = $3",
            &[&user],
            now,
            "password reset",
            None,
        )
        .await?;
        // The owner proved it by mail: a lock-out on the name is lifted.
        sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1")
            .bind(format!("user:{}", username.to_lowercase()))
            .execute(&mut *tx)
            .await?;
        insert_event(&mut tx, &user, &event, now).await?;
        tx.commit().await?;
        Ok(Some(user_id))
    }
}
