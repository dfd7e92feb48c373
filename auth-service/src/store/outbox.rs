//! The outbox's statements for the sender. A mail is claimed with a conditional UPDATE
//! (`claim_until` past or unset), which PostgreSQL re-checks on the row version it
//! updates and SQLite serialises, so of several replicas exactly one claims it. A claim
//! is a lease: a sender that dies holding one only delays the mail until it runs out.

use sqlx::Row;
use uuid::Uuid;

use super::Store;
use crate::error::AuthError;

/// A mail that is due, as the sender sends it.
#[derive(Debug, Clone)]
pub struct DueMail {
    /// The outbox row's id: the `Message-ID`, and the row to mark sent or failed.
    pub id: Uuid,
    /// `verify_email` or `reset_password`, for log lines (which never show the body).
    pub kind: String,
    /// The address to send to.
    pub recipient: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body, holding the link with its token.
    pub body: String,
    /// Earlier attempts that failed.
    pub attempts: i64,
}

const PENDING: &str = "sent_time IS NULL AND failed_time IS NULL";

impl Store {
    /// Claims up to `limit` due mails for `me` until `claim_until`, oldest first.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn claim_due_mail(
        &self,
        me: &str,
        now: i64,
        claim_until: i64,
        limit: i64,
    ) -> Result<Vec<DueMail>, AuthError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM mail_outbox WHERE {PENDING} AND next_attempt_time <= $1 \
               AND (claim_until IS NULL OR claim_until < $1) \
             ORDER BY next_attempt_time LIMIT $2"
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::new();
        for row in rows {
            let id: String = row.try_get("id")?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE mail_outbox SET claimed_by = $1, claim_until = $2 \
                 WHERE id = $3 AND {PENDING} AND (claim_until IS NULL OR claim_until < $4) \
                 RETURNING id, kind, recipient, subject, body, attempts"
            )))
            .bind(me)
            .bind(claim_until)
            .bind(&id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
            // Another replica claimed it in between: it sends it.
            let Some(row) = row else { continue };
            claimed.push(DueMail {
                id: common::db::stored_uuid(&row, "id")?,
                kind: row.try_get("kind")?,
                recipient: row.try_get("recipient")?,
                subject: row.try_get("subject")?,
                body: row.try_get("body")?,
                attempts: row.try_get("attempts")?,
            });
        }
        Ok(claimed)
    }

    /// The mail went out: it is marked sent and its body (which holds the link) wiped.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn mail_sent(&self, id: Uuid, me: &str, now: i64) -> Result<(), AuthError> {
        sqlx::query(
            "UPDATE mail_outbox SET sent_time = $1, body = '', claimed_by = NULL, claim_until = NULL \
             WHERE id = $2 AND claimed_by = $3",
        )
        .bind(now)
        .bind(id.to_string())
        .bind(me)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An attempt failed: the next one is at `next_attempt_time`, or with `give_up` none
    /// (the body is wiped then too).
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn mail_failed(
        &self,
        id: Uuid,
        me: &str,
        now: i64,
        next_attempt_time: i64,
        give_up: bool,
    ) -> Result<(), AuthError> {
        let query = if give_up {
            sqlx::query(
                "UPDATE mail_outbox SET attempts = attempts + 1, failed_time = $1, body = '', \
                   claimed_by = NULL, claim_until = NULL WHERE id = $2 AND claimed_by = $3",
            )
            .bind(now)
        } else {
            sqlx::query(
                "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_time = $1, \
                   claimed_by = NULL, claim_until = NULL WHERE id = $2 AND claimed_by = $3",
            )
            .bind(next_attempt_time)
        };
        query.bind(id.to_string()).bind(me).execute(&self.pool).await?;
        Ok(())
    }
}
