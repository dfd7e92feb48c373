//! `authorization: Bearer <token>` handling, shared by the todo-service interceptor and
//! the auth-service RPCs that need a signed-in caller.

use tonic::{Request, Status, metadata::MetadataMap};

use crate::token::{AccessTokens, AuthUser, TokenError};

/// Extracts the token from `authorization: Bearer <token>` (scheme case-insensitive).
pub fn bearer_token(metadata: &MetadataMap) -> Result<&str, Status> {
    let value = metadata
        .get("authorization")
        .ok_or_else(|| Status::unauthenticated("missing bearer token"))?;
    let value = value
        .to_str()
        .map_err(|_| Status::unauthenticated("malformed authorization header"))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| Status::unauthenticated("malformed authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Status::unauthenticated("authorization scheme must be Bearer"));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(Status::unauthenticated("missing bearer token"));
    }
    Ok(token)
}

impl From<TokenError> for Status {
    fn from(e: TokenError) -> Self {
        Status::unauthenticated(e.to_string())
    }
}

/// Verifies the caller's bearer token.
pub fn authenticate(tokens: &AccessTokens, metadata: &MetadataMap) -> Result<AuthUser, Status> {
    let token = bearer_token(metadata)?;
    let user = tokens.verify(token)?;
    crate::telemetry::record_user(&user.user_id);
    Ok(user)
}

/// The authenticated user that an interceptor put into the request extensions.
pub fn caller<T>(request: &Request<T>) -> Result<&AuthUser, Status> {
    request
        .extensions()
        .get::<AuthUser>()
        // Only reachable if a service is mounted without its interceptor: a bug, not the caller's fault.
        .ok_or_else(|| Status::internal("request was not authenticated"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(value: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        m.insert("authorization", value.parse().unwrap());
        m
    }

    #[test]
    fn parses_scheme_case_insensitively() {
        assert_eq!(bearer_token(&md("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(&md("bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(&md("BEARER  abc ")).unwrap(), "abc");
    }

    #[test]
    fn refuses_other_shapes_without_echoing() {
        for v in ["Basic abc", "Bearer", "Bearer ", "abc", "Token secret-value"] {
            let status = bearer_token(&md(v)).unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{v}");
            assert!(!status.message().contains("abc") && !status.message().contains("secret"));
        }
        assert_eq!(
            bearer_token(&MetadataMap::new()).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }
}
