//! Revocation of access tokens before they expire, with no call per request.
//!
//! A background task subscribes to the auth-service's `WatchRevocations` stream and keeps
//! each user's "not before" time in memory: a token issued at or before it is refused.
//! The stream carries a heartbeat; when nothing has been heard for [`STALE_AFTER`] (the
//! auth-service is down or unreachable), requests fall back to asking the auth-service's
//! `VerifyToken`, cached briefly per token, and fail with `UNAVAILABLE` when that cannot be
//! asked either: revocation is never silently skipped.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use common::{
    time::now_micros,
    token::{AccessTokens, AuthUser},
};
use sha2::{Digest, Sha256};
use todo_grpc_proto::auth::v1::{self as authpb, auth_service_client::AuthServiceClient};
use tonic::{Code, Status, transport::Channel};
use uuid::Uuid;

/// Silence longer than this means the feed is down (the auth-service heartbeats every 2 s).
pub const STALE_AFTER: Duration = Duration::from_secs(6);
/// How long a fallback `VerifyToken` answer is reused.
const FALLBACK_CACHE: Duration = Duration::from_secs(5);
/// Revocations older than this are dropped: tokens issued before them have long expired.
const KEEP: Duration = Duration::from_secs(24 * 3600);

/// Where revocation state comes from.
pub struct Revocations {
    /// `None`: no auth-service configured; revocation reaches this service only at expiry.
    auth: Option<AuthServiceClient<Channel>>,
    not_before: RwLock<HashMap<Uuid, i64>>,
    /// When the feed last spoke (micros since the epoch); 0 before it first did.
    last_heard: AtomicI64,
    fallback_cache: Mutex<HashMap<[u8; 32], (Instant, bool)>>,
}

impl Revocations {
    /// Without an auth-service URL revocation checks are off (logged at start-up).
    pub fn new(auth_url: Option<&str>) -> Result<Arc<Self>, String> {
        let auth = auth_url
            .map(|url| {
                tonic::transport::Endpoint::from_shared(url.to_owned())
                    .map_err(|e| format!("AUTH_SERVICE_URL: {e}"))
                    .map(|endpoint| {
                        let endpoint = endpoint
                            .connect_timeout(Duration::from_secs(2))
                            .http2_keep_alive_interval(Duration::from_secs(10))
                            .keep_alive_timeout(Duration::from_secs(5));
                        AuthServiceClient::new(endpoint.connect_lazy())
                    })
            })
            .transpose()?;
        Ok(Arc::new(Self {
            auth,
            not_before: RwLock::new(HashMap::new()),
            last_heard: AtomicI64::new(0),
            fallback_cache: Mutex::new(HashMap::new()),
        }))
    }

    /// Follows the auth-service's feed until aborted, reconnecting with back-off.
    pub fn start(self: &Arc<Self>, tokens: Arc<AccessTokens>) -> Option<tokio::task::JoinHandle<()>> {
        let mut client = self.auth.clone()?;
        let this = self.clone();
        Some(tokio::spawn(async move {
            let mut backoff = Duration::from_millis(200);
            loop {
                match this.follow(&mut client, &tokens).await {
                    Ok(()) => tracing::warn!("revocation feed ended; reconnecting"),
                    Err(status) => {
                        tracing::warn!(code = ?status.code(), message = status.message(), "revocation feed failed; reconnecting")
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }))
    }

    async fn follow(
        &self,
        client: &mut AuthServiceClient<Channel>,
        tokens: &AccessTokens,
    ) -> Result<(), Status> {
        let token = tokens
            .issue_service_token("todo-service")
            .map_err(|e| Status::internal(format!("service token: {e}")))?;
        let mut request = tonic::Request::new(authpb::WatchRevocationsRequest {});
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::internal("service token is not a header value"))?;
        request.metadata_mut().insert("authorization", value);
        let mut stream = client.watch_revocations(request).await?.into_inner();
        let mut first = true;
        while let Some(batch) = stream.message().await? {
            self.apply(&batch);
            if first {
                tracing::info!(revoked_users = batch.revocations.len(), "revocation feed in sync");
                first = false;
            }
        }
        Ok(())
    }

    fn apply(&self, batch: &authpb::RevocationBatch) {
        let now = now_micros();
        if !batch.revocations.is_empty()
            && let Ok(mut map) = self.not_before.write()
        {
            for r in &batch.revocations {
                let (Ok(user), Some(at)) = (Uuid::parse_str(&r.user_id), r.not_before.as_ref()) else {
                    continue;
                };
                let entry = map.entry(user).or_insert(at.seconds);
                *entry = (*entry).max(at.seconds);
            }
            let oldest = now / 1_000_000 - i64::try_from(KEEP.as_secs()).unwrap_or(i64::MAX);
            map.retain(|_, at| *at >= oldest);
        }
        self.last_heard.store(now, Ordering::Relaxed);
    }

    fn fresh(&self) -> bool {
        let heard = self.last_heard.load(Ordering::Relaxed);
        heard > 0 && now_micros() - heard < i64::try_from(STALE_AFTER.as_micros()).unwrap_or(i64::MAX)
    }

    /// Refuses a verified token that was revoked after it was issued.
    pub async fn check(&self, user: &AuthUser, token: &str) -> Result<(), Status> {
        let Some(auth) = &self.auth else {
            return Ok(());
        };
        let revoked_at = self
            .not_before
            .read()
            .ok()
            .and_then(|m| m.get(&user.user_id).copied());
        if revoked_at.is_some_and(|at| user.issued_at <= at) {
            return Err(Status::unauthenticated("access token revoked"));
        }
        if self.fresh() {
            return Ok(());
        }
        self.ask(auth.clone(), token).await
    }

    /// The fallback while the feed is down: ask the auth-service, cache the answer briefly.
    async fn ask(&self, mut auth: AuthServiceClient<Channel>, token: &str) -> Result<(), Status> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self
            .fallback_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&key).copied())
            .filter(|(at, _)| at.elapsed() < FALLBACK_CACHE);
        let valid = match cached {
            Some((_, valid)) => valid,
            None => {
                let mut request = tonic::Request::new(authpb::VerifyTokenRequest {
                    access_token: token.to_owned(),
                });
                request.set_timeout(Duration::from_secs(2));
                let valid = match auth.verify_token(request).await {
                    Ok(_) => true,
                    Err(s) if s.code() == Code::Unauthenticated => false,
                    Err(s) => {
                        tracing::warn!(code = ?s.code(), "revocation feed down and VerifyToken failed");
                        return Err(Status::unavailable("cannot check token revocation; retry"));
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
            Err(Status::unauthenticated("access token revoked"))
        }
    }
}
