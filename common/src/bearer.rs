//! `authorization: Bearer <token>` handling and the one authentication layer both
//! services put in front of their handlers.
//!
//! [`Authenticated`] wraps a generated service: before any handler runs it asks the
//! service's [`Authenticate`] implementation about the call (signature, expiry and
//! revocation, as that service decides them) and hands the handler only the verified
//! caller, in the request extensions. Deny by default: an implementation names its
//! public methods, so an RPC added later needs a token without anyone remembering to.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::HeaderMap;
use tonic::{Status, body::Body, server::NamedService};
use tower::Service;

/// Why the `authorization` header was refused. The messages are what callers see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// No `authorization` header, or `Bearer` with nothing after it.
    #[error("missing bearer token")]
    Missing,
    /// The header is not visible ASCII, or has no space between scheme and token.
    #[error("malformed authorization header")]
    Malformed,
    /// A scheme other than `Bearer` (such as `Basic`).
    #[error("authorization scheme must be Bearer")]
    NotBearer,
}

/// Extracts the token from `authorization: Bearer <token>` (scheme case-insensitive).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, BearerError> {
    let value = headers.get("authorization").ok_or(BearerError::Missing)?;
    let value = value.to_str().map_err(|_| BearerError::Malformed)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(BearerError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::NotBearer);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(BearerError::Missing);
    }
    Ok(token)
}

/// How one service authenticates a call.
pub trait Authenticate: Clone + Send + Sync + 'static {
    /// What a handler receives in the request extensions.
    type Caller: Clone + Send + Sync + 'static;
    /// The service's own error; it becomes a `Status` in the service's error mapping.
    type Error: Into<Status> + Send;
    /// Authenticates a call to `method` (the RPC's name, as in `GetTodo`): `None` for
    /// a public method, the caller otherwise, or the refusal.
    fn authenticate(
        &self,
        method: &str,
        headers: &HeaderMap,
    ) -> impl Future<Output = Result<Option<Self::Caller>, Self::Error>> + Send;
}

/// A generated service behind its authentication (see the module doc).
#[derive(Clone)]
pub struct Authenticated<S, A> {
    inner: S,
    auth: A,
}

impl<S, A> Authenticated<S, A> {
    /// `inner` (a generated `…Server`), each call first asked of `auth`; the startups of
    /// both services wrap their service in it.
    pub fn new(inner: S, auth: A) -> Self {
        Self { inner, auth }
    }
}

impl<S: NamedService, A> NamedService for Authenticated<S, A> {
    const NAME: &'static str = S::NAME;
}

impl<S, A> Service<http::Request<Body>> for Authenticated<S, A>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    A: Authenticate,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this call; a fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            let method = request
                .uri()
                .path()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let outcome = auth.authenticate(&method, request.headers()).await;
            match outcome {
                Ok(Some(caller)) => {
                    request.extensions_mut().insert(caller);
                }
                Ok(None) => {}
                Err(e) => return Ok(e.into().into_http()),
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("authorization", value.parse().unwrap());
        m
    }

    #[test]
    fn parses_scheme_case_insensitively() {
        assert_eq!(bearer_token(&headers("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(&headers("bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(&headers("BEARER  abc ")).unwrap(), "abc");
    }

    #[test]
    fn refuses_other_shapes_without_echoing() {
        for v in ["Basic abc", "Bearer", "Bearer ", "abc", "Token secret-value"] {
            let e = bearer_token(&headers(v)).unwrap_err();
            assert!(
                !e.to_string().contains("abc") && !e.to_string().contains("secret"),
                "{v}"
            );
        }
        assert_eq!(bearer_token(&HeaderMap::new()), Err(BearerError::Missing));
    }
}
