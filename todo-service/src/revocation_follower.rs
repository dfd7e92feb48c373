//! Revocation of access tokens before they expire, with no call per request.
//!
//! A background task follows the auth-service's `WatchRevocations` stream and keeps the
//! ended sessions in memory: a token whose `sid` is among them is refused. The source
//! sends a message after every successful read of its revocation log (about once a
//! second), so the feed counts as current only while messages keep coming: after
//! [`STALE_AFTER`] of silence, or at once when the stream breaks, requests fall back to
//! asking the auth-service's `VerifyToken` (answers reused for [`FALLBACK_CACHE`]) and
//! fail with `UNAVAILABLE` when that cannot be asked either: revocation is never
//! silently skipped.
//!
//! A deleted account comes through the same feed: its tokens are refused and its todos
//! deleted, once per process; the source repeats deletions in every first message for
//! 30 days, so a todo-service that was down or cut off applies them when it reconnects.
//!
//! Worst case from a revocation's commit to its refusal here, in every failure mode
//! (SECURITY.md): the poll interval while the feed is current; `STALE_AFTER` plus the
//! fallback's timeout when the source stops reading or cannot be reached (cut from its
//! database, stalled), and at once when the stream breaks (the source killed).

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sha2::{Digest, Sha256};
use todo_grpc_proto::auth::v1::{self as authpb, auth_service_client::AuthServiceClient};
use token::{AccessTokens, AuthUser, SessionId, UserId};
use tonic::{Code, Status, transport::Channel};
use tracing::Instrument;

use crate::{error::TodoError, store::Store};

/// Silence longer than this means the source is not reading its log (it sends after
/// every read, once a second).
pub const STALE_AFTER: Duration = Duration::from_millis(2500);
/// How long a fallback `VerifyToken` answer (or its failure) is reused.
pub const FALLBACK_CACHE: Duration = Duration::from_secs(1);
/// How long a fallback `VerifyToken` may take: past it the answer is `UNAVAILABLE`, so
/// a stalled network costs a caller at most this, and the worst case stays in the contract.
pub const FALLBACK_TIMEOUT: Duration = Duration::from_secs(1);
/// Ended sessions older than this are dropped: their tokens have long expired.
const KEEP: Duration = Duration::from_secs(24 * 3600);

/// Why one subscription to the feed ended (it is then reconnected).
#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error("service token: {0}")]
    ServiceToken(String),
    #[error("feed: {} {}", .0.code(), .0.message())]
    Feed(#[from] Status),
    /// Ends the stream on purpose: the next first message repeats the deletion.
    #[error("cannot delete the todos of deleted account {0} yet: {1}")]
    DeleteAccount(UserId, TodoError),
}

/// Where revocation state comes from.
pub struct Revocations {
    /// `None`: no auth-service configured; revocation reaches this service only at expiry.
    auth: Option<AuthServiceClient<Channel>>,
    /// Ended sessions, with when this service learnt of them.
    ended: RwLock<HashMap<SessionId, Instant>>,
    /// Deleted accounts: their tokens are refused whatever their session.
    deleted: RwLock<HashMap<UserId, Instant>>,
    /// Deleted accounts whose todos this process has deleted.
    applied: Mutex<HashSet<UserId>>,
    /// Our own clock, so freshness never depends on the source's.
    epoch: Instant,
    /// When the feed last spoke (micros since `epoch`); 0 while it is not current.
    last_heard: AtomicU64,
    fallback_cache: Mutex<HashMap<[u8; 32], (Instant, bool)>>,
    /// When `VerifyToken` last failed: within [`FALLBACK_CACHE`] of it, calls fail at once
    /// instead of each waiting out [`FALLBACK_TIMEOUT`] against an unreachable service.
    fallback_failed: Mutex<Option<Instant>>,
}

impl Revocations {
    /// Without an auth-service URL revocation checks are off (logged at start-up).
    pub fn new(auth_url: Option<&str>) -> Result<Arc<Self>, String> {
        Self::connect(auth_url, None)
    }

    /// Like [`new`](Self::new); an `https://` URL is reached over `tls` (required then).
    pub fn connect(
        auth_url: Option<&str>,
        tls: Option<&common::tls::ClientTls>,
    ) -> Result<Arc<Self>, String> {
        let auth = auth_url
            .map(|url| {
                let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
                    .map_err(|e| format!("AUTH_SERVICE_URL: {e}"))?
                    .connect_timeout(Duration::from_secs(2))
                    .http2_keep_alive_interval(Duration::from_secs(10))
                    .keep_alive_timeout(Duration::from_secs(5));
                let channel = match (endpoint.uri().scheme_str(), tls) {
                    (Some("https"), Some(tls)) => tls
                        .channel(&endpoint)
                        .map_err(|e| format!("AUTH_SERVICE_URL: {e}"))?,
                    (Some("https"), None) => {
                        return Err(
                            "AUTH_SERVICE_URL is https://: set AUTH_SERVICE_CA_FILE to the CA \
                                    that issued the auth-service's certificate"
                                .to_owned(),
                        );
                    }
                    (_, Some(_)) => {
                        return Err(
                            "AUTH_SERVICE_CA_FILE is set but AUTH_SERVICE_URL is not https://".to_owned()
                        );
                    }
                    _ => endpoint.connect_lazy(),
                };
                Ok(AuthServiceClient::new(channel))
            })
            .transpose()?;
        Ok(Arc::new(Self {
            auth,
            ended: RwLock::new(HashMap::new()),
            deleted: RwLock::new(HashMap::new()),
            applied: Mutex::new(HashSet::new()),
            epoch: Instant::now(),
            last_heard: AtomicU64::new(0),
            fallback_cache: Mutex::new(HashMap::new()),
            fallback_failed: Mutex::new(None),
        }))
    }

    /// Follows the auth-service's feed until aborted, reconnecting with back-off.
    pub fn start(
        self: &Arc<Self>,
        tokens: Arc<AccessTokens>,
        store: Store,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let mut client = self.auth.clone()?;
        let this = self.clone();
        Some(tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let result = this.follow(&mut client, &tokens, &store).await;
                // Whatever ended the stream, the feed is not current until the next one speaks.
                this.last_heard.store(0, Ordering::Relaxed);
                match result {
                    Ok(true) => backoff = Duration::from_millis(100),
                    Ok(false) => tracing::warn!("revocation feed ended; reconnecting"),
                    Err(e) => tracing::warn!(error = %e, "revocation feed failed; reconnecting"),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }))
    }

    /// One subscription: `Ok(true)` if it ended after the feed had spoken.
    async fn follow(
        &self,
        client: &mut AuthServiceClient<Channel>,
        tokens: &AccessTokens,
        store: &Store,
    ) -> Result<bool, FollowError> {
        let token = tokens
            .issue_service_token("todo-service")
            .map_err(|e| FollowError::ServiceToken(e.to_string()))?;
        let mut request = tonic::Request::new(authpb::WatchRevocationsRequest {});
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| FollowError::ServiceToken("not a header value".into()))?;
        request.metadata_mut().insert("authorization", value);
        let mut stream = client.watch_revocations(request).await?.into_inner();
        let mut spoke = false;
        // A stalled connection is noticed by the silence, not only by keep-alive.
        while let Ok(next) = tokio::time::timeout(STALE_AFTER, stream.message()).await {
            let Some(batch) = next? else {
                return Ok(spoke);
            };
            self.apply(&batch);
            // Before the feed counts as heard from again: a deletion not applied (the
            // database down) ends the stream, and the next first message repeats it.
            self.delete_accounts(&batch, store).await?;
            if !spoke {
                tracing::info!(
                    ended_sessions = batch.revocations.len(),
                    "revocation feed in sync"
                );
                spoke = true;
            }
        }
        tracing::warn!("revocation feed silent; falling back to VerifyToken");
        Ok(spoke)
    }

    fn apply(&self, batch: &authpb::RevocationBatch) {
        let now = Instant::now();
        if !batch.revocations.is_empty()
            && let (Ok(mut ended), Ok(mut deleted)) = (self.ended.write(), self.deleted.write())
        {
            for r in &batch.revocations {
                if let Some(session) = SessionId::parse(&r.session_id) {
                    ended.entry(session).or_insert(now);
                }
                if r.account_deleted
                    && let Some(user) = UserId::parse(&r.user_id)
                {
                    deleted.entry(user).or_insert(now);
                }
            }
            ended.retain(|_, at| now.duration_since(*at) < KEEP);
            deleted.retain(|_, at| now.duration_since(*at) < KEEP);
        }
        self.heard(now);
    }

    /// Deletes the data of every deleted account in `batch` this process has not yet.
    async fn delete_accounts(
        &self,
        batch: &authpb::RevocationBatch,
        store: &Store,
    ) -> Result<(), FollowError> {
        for r in batch.revocations.iter().filter(|r| r.account_deleted) {
            let Some(user) = UserId::parse(&r.user_id) else {
                continue;
            };
            if self.applied.lock().map(|a| a.contains(&user)).unwrap_or(false) {
                continue;
            }
            match store.delete_user(user).await {
                Ok(todos) => {
                    tracing::info!(user_id = %user, todos, "deleted account's todos deleted");
                    if let Ok(mut applied) = self.applied.lock() {
                        applied.insert(user);
                    }
                }
                Err(e) => return Err(FollowError::DeleteAccount(user, e)),
            }
        }
        Ok(())
    }

    fn heard(&self, now: Instant) {
        let micros = u64::try_from(now.duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX);
        self.last_heard.store(micros.max(1), Ordering::Relaxed);
    }

    fn current(&self) -> bool {
        let heard = self.last_heard.load(Ordering::Relaxed);
        let since_epoch = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        heard > 0
            && since_epoch.saturating_sub(heard) < u64::try_from(STALE_AFTER.as_micros()).unwrap_or(u64::MAX)
    }

    /// Refuses a verified token whose session has ended.
    pub async fn check(&self, user: &AuthUser, token: &str) -> Result<(), TodoError> {
        let Some(auth) = &self.auth else {
            return Ok(());
        };
        let ended = self
            .ended
            .read()
            .map(|ended| ended.contains_key(&user.session_id))
            .unwrap_or(false);
        let deleted = self
            .deleted
            .read()
            .map(|deleted| deleted.contains_key(&user.user_id))
            .unwrap_or(false);
        if ended || deleted {
            return Err(TodoError::unauthenticated("access token revoked"));
        }
        if self.current() {
            return Ok(());
        }
        self.ask(auth.clone(), token).await
    }

    /// The fallback while the feed is not current: ask the auth-service, cache briefly.
    async fn ask(&self, mut auth: AuthServiceClient<Channel>, token: &str) -> Result<(), TodoError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self
            .fallback_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&key).copied())
            .filter(|(at, _)| at.elapsed() < FALLBACK_CACHE);
        let recently_failed = self
            .fallback_failed
            .lock()
            .ok()
            .and_then(|f| *f)
            .is_some_and(|at| at.elapsed() < FALLBACK_CACHE);
        let valid = match cached {
            Some((_, valid)) => valid,
            None if recently_failed => return Err(TodoError::RevocationUnknown),
            None => {
                // A client span, so the auth-service's span of this call is its child.
                let span = tracing::info_span!(
                    "VerifyToken",
                    otel.name = "auth.v1.AuthService/VerifyToken",
                    otel.kind = "client"
                );
                let mut request = tonic::Request::new(authpb::VerifyTokenRequest {
                    access_token: token.to_owned(),
                });
                request.set_timeout(FALLBACK_TIMEOUT);
                span.in_scope(|| common::trace::inject(&mut request));
                let answer = tokio::time::timeout(FALLBACK_TIMEOUT, auth.verify_token(request))
                    .instrument(span)
                    .await;
                let valid = match answer {
                    Ok(Ok(_)) => true,
                    Ok(Err(s)) if s.code() == Code::Unauthenticated => false,
                    failed => {
                        let code =
                            failed.map_or(Code::DeadlineExceeded, |r| r.err().map_or(Code::Ok, |s| s.code()));
                        tracing::warn!(?code, "revocation feed not current and VerifyToken failed");
                        if let Ok(mut at) = self.fallback_failed.lock() {
                            *at = Some(Instant::now());
                        }
                        return Err(TodoError::RevocationUnknown);
                    }
                };
                if let Ok(mut cache) = self.fallback_cache.lock() {
                    cache.retain(|_, (at, _)| at.elapsed() < FALLBACK_CACHE);
                    cache.insert(key, (Instant::now(), valid));
                }
                valid
            }
        };
        if valid {
            Ok(())
        } else {
            Err(TodoError::unauthenticated("access token revoked"))
        }
    }
}
