//! The revocation feed behind `WatchRevocations`: ended sessions, read from the
//! database's revocation log (so a session ended on any replica reaches every subscriber)
//! by one poller per process, fanned out to the subscribed todo-services.
//!
//! The log's order is the database's commit order (see `store::revocations_after`), so
//! the poller's cursor is a log position, never a time: nothing a user does, no clock
//! skew between replicas and no late commit can move it past a revocation unread.
//! A message goes out after every successful read, empty or not; when the database
//! cannot be read nothing goes out, and subscribers see the feed fall silent and stop
//! trusting it (they do not wait on a heartbeat that would hide a stale source).

use std::{sync::Arc, time::Duration};

use common::time::{Clock, micros, micros_to_timestamp};
use todo_grpc_proto::auth::v1 as pb;
use tokio::{
    sync::{broadcast, mpsc},
    task::JoinHandle,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::{
    error::AuthError,
    store::{RevokedSession, Store},
};

/// How often the revocation log is read. Every read that succeeds is also the heartbeat.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long an account deletion stays in every subscriber's first message, so a
/// todo-service that was down or cut off when it happened still deletes the user's data.
pub const DELETION_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Most log rows read at once; a longer backlog is read in several polls without a pause.
const READ_LIMIT: i64 = 1000;

type Batch = Arc<Vec<RevokedSession>>;

/// The process's one poller of the revocation log and its subscribers: what
/// `WatchRevocations` streams from. Made by [`RevocationFeed::start`].
pub struct RevocationFeed {
    store: Store,
    /// True once the server drains: open streams end so shutdown is not held up.
    draining: tokio::sync::watch::Receiver<bool>,
    clock: Clock,
    tx: broadcast::Sender<Batch>,
    /// Revocations older than this cannot matter: every token of those sessions expired.
    horizon: Duration,
}

fn to_pb(batch: &[RevokedSession]) -> pb::RevocationBatch {
    pb::RevocationBatch {
        revocations: batch
            .iter()
            .map(|r| pb::Revocation {
                user_id: r.user_id.to_string(),
                session_id: r.session_id.map(|s| s.to_string()).unwrap_or_default(),
                sequence: r.seq,
                revoke_time: Some(micros_to_timestamp(r.revoke_time)),
                account_deleted: r.account_deleted,
            })
            .collect(),
    }
}

impl RevocationFeed {
    /// Starts the poller; abort the returned task to stop it.
    pub fn start(
        store: Store,
        horizon: Duration,
        draining: tokio::sync::watch::Receiver<bool>,
        clock: Clock,
    ) -> (Arc<Self>, JoinHandle<()>) {
        let (tx, _) = broadcast::channel(64);
        let feed = Arc::new(Self {
            store,
            draining,
            clock,
            tx,
            horizon,
        });
        let poller = feed.clone();
        let task = tokio::spawn(async move { poller.poll().await });
        (feed, task)
    }

    async fn poll(&self) {
        // Where to start: the log's end. Until it is known nothing is sent, so
        // subscribers do not take the feed for current.
        let mut cursor = None;
        let mut failing = false;
        loop {
            let read = match cursor {
                None => self.store.last_revocation_seq().await.map(|seq| {
                    cursor = Some(seq);
                    Vec::new()
                }),
                Some(seq) => self.store.revocations_after(seq, READ_LIMIT).await,
            };
            let full = match read {
                Ok(rows) => {
                    if failing {
                        tracing::info!("revocation log readable again");
                        failing = false;
                    }
                    if let Some(last) = rows.last() {
                        cursor = Some(last.seq);
                    }
                    let full = rows.len() as i64 >= READ_LIMIT;
                    // No subscriber is not an error.
                    let _ = self.tx.send(Arc::new(rows));
                    full
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "revocation log read failed; subscribers will fall back");
                        failing = true;
                    }
                    false
                }
            };
            if !full {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
    }

    /// A stream for one subscriber: every revocation still relevant, then each read.
    pub async fn subscribe(&self) -> Result<ReceiverStream<Result<pb::RevocationBatch, Status>>, AuthError> {
        // Subscribe before reading the snapshot, so nothing falls between the two
        // (a revocation in both is harmless: applying one twice changes nothing).
        let mut rx = self.tx.subscribe();
        let horizon = i64::try_from(self.horizon.as_micros()).unwrap_or(i64::MAX);
        let snapshot = self
            .store
            .revocations_since(
                self.clock.now_micros().saturating_sub(horizon),
                self.clock.now_micros().saturating_sub(micros(DELETION_RETENTION)),
            )
            .await?;
        let (out, stream) = mpsc::channel(16);
        let mut draining = self.draining.clone();
        tokio::spawn(async move {
            if out.send(Ok(to_pb(&snapshot))).await.is_err() {
                return;
            }
            loop {
                let message = tokio::select! {
                    batch = rx.recv() => match batch {
                        Ok(batch) => Ok(to_pb(&batch)),
                        // Fell behind: end the stream; the subscriber reconnects and
                        // gets a fresh snapshot rather than a gap.
                        Err(broadcast::error::RecvError::Lagged(_)) => Err(AuthError::FeedLagged.into()),
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    // The server is shutting down: end the stream; subscribers reconnect
                    // to another replica (or to this one when it is back).
                    _ = draining.wait_for(|d| *d) => return,
                };
                let end = message.is_err();
                if out.send(message).await.is_err() || end {
                    return;
                }
            }
        });
        Ok(ReceiverStream::new(stream))
    }
}
