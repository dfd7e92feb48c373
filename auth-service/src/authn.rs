//! The auth-service's one authentication path, run by [`common::bearer::Authenticated`]
//! before any handler: public methods pass, internal ones need a service token, and every
//! other method (deny by default) needs a user's access token whose session is still open.

use std::sync::Arc;

use common::bearer::{self, Authenticate};
use http::HeaderMap;
use token::{AccessTokens, AuthUser};
use tonic::Request;

use crate::{accounts::Accounts, error::AuthError, store::UserRecord};

/// Methods anyone may call: they carry their own proof (a password, a refresh token, a
/// mailed token), or prove nothing and tell nothing (`RequestPasswordReset`).
const PUBLIC: &[&str] = &[
    "Register",
    "Login",
    "Refresh",
    "Logout",
    "VerifyToken",
    "VerifyEmail",
    "RequestPasswordReset",
    "ResetPassword",
];
/// Methods for our own services only.
const INTERNAL: &[&str] = &["WatchRevocations"];

/// Who is calling, as the handlers see it.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A user with a valid token of an open session.
    User {
        /// What the verified access token says (user, session, issue and expiry times).
        token: AuthUser,
        /// The account as stored now, read with the session check.
        user: UserRecord,
    },
    /// One of our services, by the name in its service token.
    Service(String),
}

/// The auth-service's [`Authenticate`]: public methods pass, internal ones need a service
/// token, the rest a user's token of an open session (checked in the database).
#[derive(Clone)]
pub struct AuthServiceAuth {
    accounts: Accounts,
    tokens: Arc<AccessTokens>,
}

impl AuthServiceAuth {
    /// Checks user tokens through `accounts` (revocation included) and service tokens
    /// with `tokens`.
    pub fn new(accounts: Accounts, tokens: Arc<AccessTokens>) -> Self {
        Self { accounts, tokens }
    }
}

fn unauthenticated(e: impl std::fmt::Display) -> AuthError {
    AuthError::unauthenticated(e.to_string())
}

impl Authenticate for AuthServiceAuth {
    type Caller = Caller;
    type Error = AuthError;

    async fn authenticate(&self, method: &str, headers: &HeaderMap) -> Result<Option<Caller>, AuthError> {
        if PUBLIC.contains(&method) {
            return Ok(None);
        }
        let token = bearer::bearer_token(headers).map_err(unauthenticated)?;
        if INTERNAL.contains(&method) {
            // Only our own services: a service token, never a user's.
            let service = self.tokens.verify_service_token(token).map_err(unauthenticated)?;
            return Ok(Some(Caller::Service(service)));
        }
        let (token, user) = self.accounts.authenticate(token).await?;
        Ok(Some(Caller::User { token, user }))
    }
}

/// The signed-in user of a call that needed one.
pub fn signed_in<T>(request: &Request<T>) -> Result<(&AuthUser, &UserRecord), AuthError> {
    match request.extensions().get::<Caller>() {
        Some(Caller::User { token, user }) => Ok((token, user)),
        // Only reachable if a method were served without the layer: a bug, not the caller's fault.
        _ => Err(AuthError::internal("call reached a handler unauthenticated")),
    }
}

/// The calling service of an internal call.
pub fn calling_service<T>(request: &Request<T>) -> Result<&str, AuthError> {
    match request.extensions().get::<Caller>() {
        Some(Caller::Service(name)) => Ok(name),
        _ => Err(AuthError::internal(
            "internal call reached a handler unauthenticated",
        )),
    }
}
