//! The revocation feed behind `WatchRevocations`: per-user "not before" times, read from
//! the database (so a revocation made on any replica reaches every subscriber) by one
//! poller per process, fanned out to the subscribed todo-services.

use std::{sync::Arc, time::Duration};

use common::time::{now_secs, secs_to_timestamp};
use todo_grpc_proto::auth::v1 as pb;
use tokio::{
    sync::{broadcast, mpsc},
    task::JoinHandle,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use uuid::Uuid;

use crate::{error::AuthError, store::Store};

/// How often the database is polled for new revocations.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often an idle stream carries an empty batch, so a subscriber can tell a quiet
/// stream from a dead one.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// Re-read this far behind the newest revocation seen, so a transaction that committed
/// late (or on a replica with a slightly slower clock) is not missed. Repeats are harmless:
/// subscribers keep the latest time per user.
const OVERLAP_SECS: i64 = 2;

type Batch = Arc<Vec<(Uuid, i64)>>;

pub struct RevocationFeed {
    store: Store,
    /// True once the server drains: open streams end so shutdown is not held up.
    draining: tokio::sync::watch::Receiver<bool>,
    tx: broadcast::Sender<Batch>,
    /// Revocations older than this cannot matter: every token issued before them expired.
    horizon: Duration,
}

fn to_pb(batch: &[(Uuid, i64)]) -> pb::RevocationBatch {
    pb::RevocationBatch {
        revocations: batch
            .iter()
            .map(|(user, secs)| pb::Revocation {
                user_id: user.to_string(),
                not_before: Some(secs_to_timestamp(*secs)),
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
    ) -> (Arc<Self>, JoinHandle<()>) {
        let (tx, _) = broadcast::channel(64);
        let feed = Arc::new(Self {
            store,
            draining,
            tx,
            horizon,
        });
        let poller = feed.clone();
        let task = tokio::spawn(async move { poller.poll().await });
        (feed, task)
    }

    async fn poll(&self) {
        let mut cursor = now_secs();
        loop {
            tokio::time::sleep(POLL_INTERVAL).await;
            match self.store.revocations_since(cursor - OVERLAP_SECS).await {
                Ok(rows) if !rows.is_empty() => {
                    cursor = cursor.max(rows.iter().map(|(_, t)| *t).max().unwrap_or(cursor));
                    // No subscriber is not an error.
                    let _ = self.tx.send(Arc::new(rows));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "revocation poll failed"),
            }
        }
    }

    /// A stream for one subscriber: everything still relevant, then what comes.
    pub async fn subscribe(&self) -> Result<ReceiverStream<Result<pb::RevocationBatch, Status>>, AuthError> {
        // Subscribe before reading the snapshot, so nothing falls between the two.
        let mut rx = self.tx.subscribe();
        let horizon = i64::try_from(self.horizon.as_secs()).unwrap_or(i64::MAX);
        let snapshot = self
            .store
            .revocations_since(now_secs().saturating_sub(horizon))
            .await?;
        let (out, stream) = mpsc::channel(16);
        let mut draining = self.draining.clone();
        tokio::spawn(async move {
            if out.send(Ok(to_pb(&snapshot))).await.is_err() {
                return;
            }
            let mut heartbeat = tokio::time::interval(HEARTBEAT);
            heartbeat.tick().await;
            loop {
                let message = tokio::select! {
                    batch = rx.recv() => match batch {
                        Ok(batch) => Ok(to_pb(&batch)),
                        // Fell behind: end the stream; the subscriber reconnects and
                        // gets a fresh snapshot rather than a gap.
                        Err(broadcast::error::RecvError::Lagged(_)) => Err(Status::aborted("revocation feed lagged; resubscribe")),
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = heartbeat.tick() => Ok(pb::RevocationBatch::default()),
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
