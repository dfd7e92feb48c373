//! The auth use cases: register, log in, rotate, revoke. No gRPC types here; `grpc`
//! converts requests into the domain values these take.

use std::{net::IpAddr, sync::Arc, time::Duration};

use common::{
    time::now_micros,
    token::{AccessTokens, AuthUser, IssuedToken},
};
use uuid::Uuid;

use crate::{
    domain::{Password, RefreshToken, Username},
    error::AuthError,
    password::Hasher,
    store::{Rotation, Store, UserRecord},
    throttle::Throttle,
};

/// What a successful login or refresh hands out.
#[derive(Debug)]
pub struct Session {
    pub access: IssuedToken,
    pub refresh: RefreshToken,
    pub refresh_expires_in: Duration,
}

#[derive(Clone)]
pub struct Accounts {
    store: Store,
    hasher: Hasher,
    tokens: Arc<AccessTokens>,
    throttle: Throttle,
    refresh_ttl: Duration,
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl Accounts {
    pub fn new(
        store: Store,
        hasher: Hasher,
        tokens: Arc<AccessTokens>,
        throttle: Throttle,
        refresh_ttl: Duration,
    ) -> Self {
        Self {
            store,
            hasher,
            tokens,
            throttle,
            refresh_ttl,
        }
    }

    pub async fn register(
        &self,
        username: Username,
        password: Password,
        addr: Option<IpAddr>,
    ) -> Result<UserRecord, AuthError> {
        self.throttle.check_registration(addr).await?;
        // Hash before looking at the name, so a taken name costs the same time.
        let password_hash = self.hasher.hash(password).await?;
        let user = UserRecord {
            id: Uuid::now_v7(),
            username: username.as_str().to_owned(),
            password_hash,
            create_time: now_micros(),
        };
        self.store.create_user(&user, &username.key()).await?;
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
    ) -> Result<Session, AuthError> {
        // Locked out: refused before any hashing, the right password included.
        if let Err(e) = self.throttle.check_login(username, addr).await {
            if matches!(e, AuthError::Throttled { .. }) {
                metrics::counter!("auth_login_throttled_total").increment(1);
            }
            return Err(e);
        }
        let user = match Username::parse("username", username) {
            Ok(name) => self.store.user_by_key(&name.key()).await?,
            Err(_) => None,
        };
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let user = match (self.hasher.verify(password, stored).await?, user) {
            (true, Some(user)) => user,
            _ => {
                self.throttle.record_failure(username, addr).await?;
                metrics::counter!("auth_login_failures_total").increment(1);
                tracing::info!("login failed");
                return Err(AuthError::InvalidCredentials);
            }
        };
        self.throttle.record_success(username).await?;
        let refresh = RefreshToken::generate();
        let now = now_micros();
        let session_id = Uuid::new_v4();
        self.store
            .create_session(
                user.id,
                session_id,
                &refresh.hash(),
                now,
                now.saturating_add(micros(self.refresh_ttl)),
            )
            .await?;
        tracing::info!(user_id = %user.id, "login");
        self.session(user.id, &user.username, session_id, refresh)
    }

    fn session(
        &self,
        user_id: Uuid,
        username: &str,
        session_id: Uuid,
        refresh: RefreshToken,
    ) -> Result<Session, AuthError> {
        let access = self
            .tokens
            .issue(user_id, username, session_id)
            .map_err(|e| AuthError::Internal(format!("signing access token: {e}")))?;
        Ok(Session {
            access,
            refresh,
            refresh_expires_in: self.refresh_ttl,
        })
    }

    /// Rotates a refresh token. Presenting one that was already rotated revokes its
    /// whole session (RFC 9700 §4.14.2): one of the two holders is not the user.
    pub async fn refresh(&self, presented: &str) -> Result<Session, AuthError> {
        let old = RefreshToken::parse(presented).ok_or(AuthError::InvalidRefreshToken)?;
        let new = RefreshToken::generate();
        let now = now_micros();
        let expire = now.saturating_add(micros(self.refresh_ttl));
        match self.store.rotate(&old.hash(), &new.hash(), now, expire).await? {
            Rotation::Rotated {
                user_id,
                username,
                session_id,
            } => self.session(user_id, &username, session_id, new),
            Rotation::Reused => {
                tracing::warn!("refresh token reused: session revoked");
                Err(AuthError::InvalidRefreshToken)
            }
            Rotation::Invalid => Err(AuthError::InvalidRefreshToken),
        }
    }

    /// Ends the session of a refresh token. Succeeds for unknown tokens too (RFC 7009 §2.2),
    /// so logout cannot be used to probe tokens.
    pub async fn logout(&self, presented: &str) -> Result<(), AuthError> {
        if let Some(token) = RefreshToken::parse(presented) {
            self.store.revoke_session_of(&token.hash(), now_micros()).await?;
        }
        Ok(())
    }

    /// Checks an access token, revocation included (this service has the database): the
    /// token's session must still be open, so a token of an ended session is refused at once.
    pub async fn authenticate(&self, access_token: &str) -> Result<(AuthUser, UserRecord), AuthError> {
        let caller = self
            .tokens
            .verify(access_token)
            .map_err(|e| AuthError::Unauthenticated(e.to_string()))?;
        common::telemetry::record_user(&caller.user_id);
        match self.store.session_user(caller.session_id).await? {
            Some((user, true)) if user.id == caller.user_id => Ok((caller, user)),
            // Ended, pruned, or its user deleted: the same answer.
            _ => Err(AuthError::Unauthenticated("access token revoked".into())),
        }
    }

    pub async fn change_password(
        &self,
        user: &UserRecord,
        current: Password,
        new: Password,
    ) -> Result<(), AuthError> {
        if current.expose() == new.expose() {
            return Err(crate::domain::Violation::new(
                "new_password",
                "must differ from the current password",
            )
            .into());
        }
        if !self
            .hasher
            .verify(current, Some(user.password_hash.clone()))
            .await?
        {
            return Err(crate::domain::Violation::new("current_password", "is incorrect").into());
        }
        let hash = self.hasher.hash(new).await?;
        self.store.change_password(user.id, &hash, now_micros()).await?;
        tracing::info!(user_id = %user.id, "password changed; all sessions revoked");
        Ok(())
    }

    pub async fn logout_all(&self, user: &UserRecord) -> Result<(), AuthError> {
        let n = self
            .store
            .revoke_all_sessions(user.id, now_micros(), "logout all")
            .await?;
        tracing::info!(user_id = %user.id, sessions = n, "all sessions and access tokens revoked");
        Ok(())
    }
}
