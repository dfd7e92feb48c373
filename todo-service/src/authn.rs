//! The todo-service's one authentication path, run by [`common::bearer::Authenticated`]
//! before any handler: every method needs a user's access token, verified locally with
//! the shared secret (no call to the auth-service) and checked against the revocation
//! feed. Handlers receive only the verified caller, from the request extensions.

use std::sync::Arc;

use common::bearer::{self, Authenticate};
use http::HeaderMap;
use token::{AccessTokens, AuthUser};
use tonic::Request;

use crate::{error::TodoError, revocation_follower::Revocations};

/// Verifies bearer tokens for every todo RPC.
#[derive(Clone)]
pub struct TodoAuth {
    tokens: Arc<AccessTokens>,
    revocations: Arc<Revocations>,
}

impl TodoAuth {
    /// Verifies tokens with `tokens` (the shared secret), then asks `revocations` whether
    /// their session ended.
    pub fn new(tokens: Arc<AccessTokens>, revocations: Arc<Revocations>) -> Self {
        Self { tokens, revocations }
    }
}

impl Authenticate for TodoAuth {
    type Caller = AuthUser;
    type Error = TodoError;

    async fn authenticate(&self, _method: &str, headers: &HeaderMap) -> Result<Option<AuthUser>, TodoError> {
        let unauthenticated = |e: &dyn std::fmt::Display| TodoError::unauthenticated(e.to_string());
        let token = bearer::bearer_token(headers).map_err(|e| unauthenticated(&e))?;
        let user = self.tokens.verify(token).map_err(|e| unauthenticated(&e))?;
        common::telemetry::record_user(&user.user_id);
        self.revocations.check(&user, token).await?;
        Ok(Some(user))
    }
}

/// The authenticated caller of a todo RPC.
pub fn caller<T>(request: &Request<T>) -> Result<&AuthUser, TodoError> {
    request
        .extensions()
        .get::<AuthUser>()
        // Only reachable if the service were mounted without the layer: a bug, not the caller's fault.
        .ok_or_else(|| TodoError::internal("call reached a handler unauthenticated"))
}
