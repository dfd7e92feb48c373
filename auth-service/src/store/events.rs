//! The security history: one `security_events` row per event, written in the
//! transaction of what it records (or alone, for what changes nothing else).

use sqlx::Row;
use token::{SessionId, UserId};
use uuid::Uuid;

use super::Store;
use crate::{
    error::AuthError,
    events::{ClientInfo, Event, EventKind},
};

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// The event's id (a UUIDv7); breaks ties between events of the same microsecond
    /// in paging.
    pub id: Uuid,
    /// What happened.
    pub kind: EventKind,
    /// Microseconds since the epoch.
    pub time: i64,
    /// Where the call that caused it came from.
    pub client: ClientInfo,
    /// The session it concerns; `None` when it concerns none (registration, a failed
    /// login).
    pub session_id: Option<SessionId>,
}

/// Where a page of events starts: after this (time, id), newest first.
pub type EventCursor = (i64, Uuid);

/// Records `event` for `user_id` at `now` on `conn` (inside the caller's transaction).
pub(super) async fn insert_event(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    event: &Event<'_>,
    now: i64,
) -> Result<(), AuthError> {
    sqlx::query(
        "INSERT INTO security_events (id, user_id, kind, event_time, client_address, user_agent, session_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(user_id)
    .bind(event.kind.as_str())
    .bind(now)
    .bind(event.client.address.clone())
    .bind(event.client.user_agent.clone())
    .bind(event.session_id.map(|s| s.to_string()))
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Records an event that changes nothing else (a failed login).
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn record_event(&self, user_id: UserId, event: &Event<'_>, now: i64) -> Result<(), AuthError> {
        let mut conn = self.pool.acquire().await?;
        insert_event(&mut conn, &user_id.to_string(), event, now).await
    }

    /// Records `event` unless one of its kind was recorded for the user since `since`:
    /// an attacker hammering a locked name adds one row a minute, not one a call.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn record_event_once_since(
        &self,
        user_id: UserId,
        event: &Event<'_>,
        now: i64,
        since: i64,
    ) -> Result<(), AuthError> {
        let mut tx = common::db::begin_write(&self.pool).await?;
        let recent = sqlx::query(
            "SELECT 1 AS recent FROM security_events WHERE user_id = $1 AND kind = $2 AND event_time > $3 LIMIT 1",
        )
        .bind(user_id.to_string())
        .bind(event.kind.as_str())
        .bind(since)
        .fetch_optional(&mut *tx)
        .await?;
        if recent.is_none() {
            insert_event(&mut tx, &user_id.to_string(), event, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Up to `limit` of the user's events after `after`, newest first.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn list_events(
        &self,
        user_id: UserId,
        after: Option<EventCursor>,
        limit: i64,
    ) -> Result<Vec<EventRecord>, AuthError> {
        let (time, id) = after.map_or((i64::MAX, String::new()), |(t, id)| (t, id.to_string()));
        // Keyset paging on (event_time, id) through the user's index; `id` breaks ties,
        // and the first page starts past every real time.
        let rows = sqlx::query(
            "SELECT id, kind, event_time, client_address, user_agent, session_id FROM security_events \
             WHERE user_id = $1 AND (event_time < $2 OR (event_time = $2 AND id < $3)) \
             ORDER BY event_time DESC, id DESC LIMIT $4",
        )
        .bind(user_id.to_string())
        .bind(time)
        .bind(if after.is_some() { id } else { "~".to_owned() })
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                let session: Option<String> = row.try_get("session_id")?;
                Ok(EventRecord {
                    id: common::db::stored_uuid(row, "id")?,
                    kind: EventKind::parse(&kind)
                        .ok_or_else(|| AuthError::internal(format!("stored event kind {kind:?}")))?,
                    time: row.try_get("event_time")?,
                    client: ClientInfo {
                        address: row.try_get("client_address")?,
                        user_agent: row.try_get("user_agent")?,
                    },
                    session_id: match session {
                        Some(_) => Some(common::db::stored_id(row, "session_id")?),
                        None => None,
                    },
                })
            })
            .collect()
    }
}
