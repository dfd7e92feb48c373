//! The auth use cases: register, log in, rotate, revoke. No gRPC types here; `grpc`
//! converts requests into the domain values these take.

mod email;

use std::{net::IpAddr, sync::Arc, time::Duration};

use common::time::{Clock, micros};
use token::{AccessTokens, AuthUser, IssuedToken, SessionId, UserId};
use uuid::Uuid;

use crate::{
    domain::{Email, Password, RefreshToken, Username},
    error::AuthError,
    events::{ClientInfo, Event, EventKind},
    mail::MailSettings,
    password::{Hasher, Verified},
    store::{EventCursor, EventRecord, Rotation, SessionRecord, Store, TokenPurpose, UserRecord},
    throttle::{TakenAttempt, Throttle},
};

/// A refused attempt on a locked account is recorded at most this often per account.
const THROTTLED_EVENT_EVERY: Duration = Duration::from_secs(60);

/// What a successful login or refresh hands out.
#[derive(Debug)]
pub struct Session {
    /// The access token, signed for the session, and its lifetime.
    pub access: IssuedToken,
    /// The new refresh token in clear: the only time it exists outside the client (the
    /// database keeps its hash). Browsers get it as a cookie, others in the body.
    pub refresh: RefreshToken,
    /// How long `refresh` is valid: the refresh lifetime, cut short so it never outlives
    /// the session's maximum lifetime.
    pub refresh_expires_in: Duration,
}

/// The auth use cases over the store, the hasher, the tokens and the throttle: what
/// every handler of [`crate::grpc::AuthGrpc`] and the authentication layer call.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    hasher: Hasher,
    tokens: Arc<AccessTokens>,
    throttle: Throttle,
    refresh_ttl: Duration,
    /// No session is refreshed past this age, however often it rotates.
    session_max_lifetime: Duration,
    /// `None` when no email delivery is configured: the mail RPCs are refused.
    mailer: Option<Mailer>,
    clock: Clock,
}

/// What the mail use cases need: the settings, and the sender to wake after a commit.
#[derive(Clone)]
pub struct Mailer {
    /// Link templates, lifetimes and limits, to compose each mail.
    pub settings: MailSettings,
    /// Notified after a commit that queued a mail, so the sender sends it now rather
    /// than at its next poll.
    pub wake: Arc<tokio::sync::Notify>,
}

/// Sessions end this long after login unless configured otherwise.
pub const DEFAULT_SESSION_MAX_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);

impl Accounts {
    /// The use cases without mail (see [`Self::with_mailer`]) and with the default
    /// session lifetime; refresh tokens live `refresh_ttl` (`REFRESH_TOKEN_TTL`).
    pub fn new(
        store: Store,
        hasher: Hasher,
        tokens: Arc<AccessTokens>,
        throttle: Throttle,
        refresh_ttl: Duration,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            hasher,
            tokens,
            throttle,
            refresh_ttl,
            session_max_lifetime: DEFAULT_SESSION_MAX_LIFETIME,
            mailer: None,
            clock,
        }
    }

    /// Turns the mail use cases on (a delivery is configured).
    pub fn with_mailer(mut self, mailer: Mailer) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// Sets the absolute session lifetime (`SESSION_MAX_LIFETIME`).
    pub fn with_session_max_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_max_lifetime = lifetime;
        self
    }

    /// Counts a refusal by the throttle (and passes every other error on).
    fn counted<T>(result: Result<T, AuthError>) -> Result<T, AuthError> {
        if result.as_ref().is_err_and(AuthError::is_throttled) {
            metrics::counter!("auth_login_throttled_total").increment(1);
            tracing::info!("password check throttled");
        }
        result
    }

    /// Takes one attempt from the throttle's budgets for `username` and `addr`, before
    /// any hashing; `Throttled` when there is none left.
    async fn begin_attempt(&self, username: &str, addr: Option<IpAddr>) -> Result<TakenAttempt, AuthError> {
        Self::counted(self.throttle.begin(username, addr).await)
    }

    /// Records a refusal by the throttle in the account's history (at most once a
    /// minute), when the name belongs to an account.
    async fn record_throttled(&self, user: Option<UserId>, client: &ClientInfo) -> Result<(), AuthError> {
        if let Some(user) = user {
            let now = self.clock.now_micros();
            let event = Event::new(EventKind::LoginThrottled, client, None);
            let since = now.saturating_sub(micros(THROTTLED_EVENT_EVERY));
            self.store
                .record_event_once_since(user, &event, now, since)
                .await?;
        }
        Ok(())
    }

    /// Checks `password` against `stored` for a taken attempt: a right password is
    /// refused too when the name or address got locked meanwhile. `Ok(None)`: wrong
    /// password. With `upgrade`, a right password stored with weaker parameters comes
    /// back rehashed.
    async fn verify_attempt(
        &self,
        attempt: TakenAttempt,
        password: Password,
        stored: Option<String>,
        upgrade: bool,
    ) -> Result<Option<Verified>, AuthError> {
        let verified = match self.hasher.verify_upgrading(password, stored, upgrade).await {
            Ok(verified) => verified,
            Err(e) => {
                // Not evaluated (queue full, hash thread gone): not a failed attempt.
                self.throttle.not_evaluated(attempt).await?;
                return Err(e);
            }
        };
        if !verified.matched {
            drop(attempt);
            metrics::counter!("auth_login_failures_total").increment(1);
            return Ok(None);
        }
        Self::counted(self.throttle.succeeded(attempt).await)?;
        Ok(Some(verified))
    }

    /// Re-checks a signed-in user's password (ChangePassword, and later DeleteAccount and
    /// ChangeEmail), throttled exactly like Login: the same per-name and per-address
    /// budgets, so a stolen access token is no faster an oracle than the login form.
    /// A wrong password is `INVALID_ARGUMENT` on `field`.
    pub async fn check_password(
        &self,
        user: &UserRecord,
        field: &'static str,
        password: Password,
        addr: Option<IpAddr>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let attempt = match self.begin_attempt(&user.username, addr).await {
            Ok(attempt) => attempt,
            Err(e) => {
                if e.is_throttled() {
                    self.record_throttled(Some(user.id), client).await?;
                }
                return Err(e);
            }
        };
        let stored = Some(user.password_hash.clone());
        match self.verify_attempt(attempt, password, stored, false).await? {
            Some(_) => Ok(()),
            None => {
                tracing::info!(user_id = %user.id, "password re-check failed");
                let event = Event::new(EventKind::LoginFailed, client, None);
                self.store
                    .record_event(user.id, &event, self.clock.now_micros())
                    .await?;
                Err(crate::domain::Violation::new(field, "is incorrect").into())
            }
        }
    }

    /// Creates an account, recording `REGISTERED`; with `email`, queues its verification
    /// mail. Refused: `FAILED_PRECONDITION` for an email without a mail delivery,
    /// throttled per client address, `ALREADY_EXISTS` for a taken name or address.
    pub async fn register(
        &self,
        username: Username,
        password: Password,
        email: Option<Email>,
        addr: Option<IpAddr>,
        client: &ClientInfo,
    ) -> Result<UserRecord, AuthError> {
        // An address that could never be verified is refused rather than stored.
        let mailer = match &email {
            Some(_) => Some(self.mailer()?),
            None => None,
        };
        self.throttle.check_registration(addr).await?;
        // Hash before looking at the name, so a taken name costs the same time.
        let password_hash = self.hasher.hash(password).await?;
        let user = UserRecord {
            id: UserId::from_uuid(Uuid::now_v7()),
            username: username.as_str().to_owned(),
            password_hash,
            create_time: self.clock.now_micros(),
            email: email.as_ref().map(|e| e.as_str().to_owned()),
            email_verified: false,
        };
        let verification = match (&email, mailer) {
            (Some(email), Some(mailer)) => Some(mailer.settings.compose(
                TokenPurpose::Verify,
                &user.username,
                email.as_str(),
                user.create_time,
            )),
            _ => None,
        };
        self.store
            .create_user(
                &user,
                &username.key(),
                client,
                verification.as_ref().map(|(t, m)| (t, m)),
            )
            .await?;
        if verification.is_some() {
            self.wake_sender();
        }
        tracing::info!(user_id = %user.id, "user registered");
        Ok(user)
    }

    /// The password grant. Unknown user, malformed name and wrong password all take one
    /// argon2 verification and end in the same error, and are throttled alike.
    pub async fn login(
        &self,
        username: &str,
        password: Password,
        addr: Option<IpAddr>,
        client: &ClientInfo,
    ) -> Result<Session, AuthError> {
        let lookup = || async {
            match Username::parse("username", username) {
                Ok(name) => self.store.user_by_key(&name.key()).await,
                Err(_) => Ok(None),
            }
        };
        // Counted before anything else, so a locked name costs no more than a refusal.
        let attempt = match self.begin_attempt(username, addr).await {
            Ok(attempt) => attempt,
            Err(e) => {
                if e.is_throttled() {
                    // The owner sees that someone is guessing; unknown names record nothing.
                    self.record_throttled(lookup().await?.map(|u| u.id), client)
                        .await?;
                }
                return Err(e);
            }
        };
        let user = lookup().await?;
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let verified = self.verify_attempt(attempt, password, stored, true).await?;
        let (user, verified) = match (verified, user) {
            (Some(verified), Some(user)) => (user, verified),
            (None, Some(user)) => {
                tracing::info!("login failed");
                let event = Event::new(EventKind::LoginFailed, client, None);
                self.store
                    .record_event(user.id, &event, self.clock.now_micros())
                    .await?;
                return Err(AuthError::InvalidCredentials);
            }
            _ => {
                tracing::info!("login failed");
                return Err(AuthError::InvalidCredentials);
            }
        };
        if let Some(rehashed) = verified.rehashed {
            // Best effort: the login stands whether or not the upgrade is stored.
            match self
                .store
                .upgrade_password_hash(user.id, &user.password_hash, &rehashed)
                .await
            {
                Ok(true) => {
                    tracing::info!(user_id = %user.id, "password hash upgraded to the configured parameters")
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(user_id = %user.id, error = %e, "password hash upgrade not stored"),
            }
        }
        let refresh = RefreshToken::generate();
        let now = self.clock.now_micros();
        let session_id = SessionId::new();
        let lifetime = self.refresh_ttl.min(self.session_max_lifetime);
        self.store
            .create_session(
                user.id,
                session_id,
                &refresh.hash(),
                now,
                now.saturating_add(micros(lifetime)),
                client,
            )
            .await?;
        tracing::info!(user_id = %user.id, "login");
        self.session(user.id, &user.username, session_id, refresh, lifetime)
    }

    fn session(
        &self,
        user_id: UserId,
        username: &str,
        session_id: SessionId,
        refresh: RefreshToken,
        refresh_expires_in: Duration,
    ) -> Result<Session, AuthError> {
        let access = self
            .tokens
            .issue(user_id, username, session_id)
            .map_err(|e| AuthError::internal(format!("signing access token: {e}")))?;
        Ok(Session {
            access,
            refresh,
            refresh_expires_in,
        })
    }

    /// Rotates a refresh token. Presenting one that was already rotated revokes its
    /// whole session (RFC 9700 §4.14.2): one of the two holders is not the user. A
    /// session older than its maximum lifetime is not refreshed, and no new token
    /// outlives it.
    pub async fn refresh(&self, presented: &str, client: &ClientInfo) -> Result<Session, AuthError> {
        let old = RefreshToken::parse(presented).ok_or(AuthError::InvalidRefreshToken)?;
        let new = RefreshToken::generate();
        let now = self.clock.now_micros();
        let expire = now.saturating_add(micros(self.refresh_ttl));
        let max_lifetime = micros(self.session_max_lifetime);
        match self
            .store
            .rotate(&old.hash(), &new.hash(), now, expire, max_lifetime, client)
            .await?
        {
            Rotation::Rotated {
                user_id,
                username,
                session_id,
                expire_time,
            } => {
                let left = u64::try_from(expire_time.saturating_sub(now)).unwrap_or(0);
                self.session(user_id, &username, session_id, new, Duration::from_micros(left))
            }
            Rotation::Reused => {
                tracing::warn!("refresh token reused: session revoked");
                Err(AuthError::InvalidRefreshToken)
            }
            Rotation::Invalid => Err(AuthError::InvalidRefreshToken),
        }
    }

    /// Ends the session of a refresh token. Succeeds for unknown tokens too (RFC 7009 §2.2),
    /// so logout cannot be used to probe tokens.
    pub async fn logout(&self, presented: &str, client: &ClientInfo) -> Result<(), AuthError> {
        if let Some(token) = RefreshToken::parse(presented) {
            self.store
                .revoke_session_of(&token.hash(), self.clock.now_micros(), client)
                .await?;
        }
        Ok(())
    }

    /// Checks an access token, revocation included (this service has the database): the
    /// token's session must still be open, so a token of an ended session is refused at once.
    pub async fn authenticate(&self, access_token: &str) -> Result<(AuthUser, UserRecord), AuthError> {
        let caller = self
            .tokens
            .verify(access_token)
            .map_err(|e| AuthError::unauthenticated(e.to_string()))?;
        common::telemetry::record_user(&caller.user_id);
        match self.store.session_user(caller.session_id).await? {
            Some((user, true)) if user.id == caller.user_id => Ok((caller, user)),
            // Ended, pruned, or its user deleted: the same answer.
            _ => Err(AuthError::unauthenticated("access token revoked")),
        }
    }

    /// Changes the password after re-checking the current one (throttled), and ends
    /// every session of the user; `origin.session` is the caller's, for the history.
    pub async fn change_password(
        &self,
        user: &UserRecord,
        current: Password,
        new: Password,
        origin: &Origin,
    ) -> Result<(), AuthError> {
        if current.expose() == new.expose() {
            return Err(crate::domain::Violation::new(
                "new_password",
                "must differ from the current password",
            )
            .into());
        }
        self.check_password(user, "current_password", current, origin.addr, &origin.client)
            .await?;
        let hash = self.hasher.hash(new).await?;
        let event = Event::new(EventKind::PasswordChanged, &origin.client, Some(origin.session));
        self.store
            .change_password(user.id, &hash, self.clock.now_micros(), event)
            .await?;
        tracing::info!(user_id = %user.id, "password changed; all sessions revoked");
        Ok(())
    }

    /// Ends every session of the user, the caller's included, and so every access token
    /// issued so far; records `LOGGED_OUT_ALL` against the caller's session.
    pub async fn logout_all(&self, user: &UserRecord, origin: &Origin) -> Result<(), AuthError> {
        let event = Event::new(EventKind::LoggedOutAll, &origin.client, Some(origin.session));
        let n = self
            .store
            .revoke_all_sessions(user.id, self.clock.now_micros(), "logout all", event)
            .await?;
        tracing::info!(user_id = %user.id, sessions = n, "all sessions and access tokens revoked");
        Ok(())
    }

    /// The oldest session start that is still within the maximum lifetime, at `now`.
    fn oldest_live_start(&self, now: i64) -> i64 {
        now.saturating_sub(micros(self.session_max_lifetime))
    }

    /// The user's live sessions, newest first, each with whether it is `current`.
    pub async fn list_sessions(
        &self,
        user: &UserRecord,
        current: SessionId,
    ) -> Result<Vec<(SessionRecord, bool)>, AuthError> {
        let now = self.clock.now_micros();
        let sessions = self
            .store
            .live_sessions(user.id, now, self.oldest_live_start(now))
            .await?;
        Ok(sessions
            .into_iter()
            .map(|s| {
                let is_current = s.id == current;
                (s, is_current)
            })
            .collect())
    }

    /// Ends one of the user's live sessions; `NotFound` for another user's or an ended one.
    pub async fn revoke_session(
        &self,
        user: &UserRecord,
        session: SessionId,
        origin: &Origin,
    ) -> Result<(), AuthError> {
        let now = self.clock.now_micros();
        let event = Event::new(EventKind::SessionRevoked, &origin.client, Some(session));
        if !self
            .store
            .revoke_user_session(user.id, session, now, self.oldest_live_start(now), event)
            .await?
        {
            return Err(AuthError::NotFound("session"));
        }
        tracing::info!(user_id = %user.id, "session revoked by its user");
        Ok(())
    }

    /// A page of the user's security history, newest first.
    pub async fn list_events(
        &self,
        user: &UserRecord,
        after: Option<EventCursor>,
        limit: usize,
    ) -> Result<Vec<EventRecord>, AuthError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.store.list_events(user.id, after, limit).await
    }

    /// Deletes the account after re-checking the password (throttled like Login).
    pub async fn delete_account(
        &self,
        user: &UserRecord,
        password: Password,
        origin: &Origin,
    ) -> Result<(), AuthError> {
        self.check_password(user, "password", password, origin.addr, &origin.client)
            .await?;
        let key = Username::parse("username", &user.username)
            .map(|name| name.key())
            .unwrap_or_else(|_| user.username.to_lowercase());
        self.store
            .delete_account(user.id, &key, self.clock.now_micros())
            .await?;
        tracing::info!(user_id = %user.id, "account deleted");
        Ok(())
    }
}

/// Where a signed-in call came from: its address (for throttling), what the history
/// records of it, and the caller's session.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The client's address (behind trusted proxies, the forwarded one), for the
    /// throttle's per-address budget; `None` when the transport knows no peer.
    pub addr: Option<IpAddr>,
    /// Address and user agent, as the security history records them.
    pub client: ClientInfo,
    /// The session of the caller's access token (claim `sid`), recorded with the event.
    pub session: SessionId,
}
