//! The one error type of the auth-service, and the one place it becomes a `Status`
//! (the cases both services share go on to `common::error`).

use std::time::Duration;

use common::error::CommonError;
use tonic::Status;

use crate::domain::Violation;

/// What can go wrong in an auth call. Each variant's doc names the gRPC code it becomes.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Bad input, refused token, database, internal: as `CommonError` says.
    #[error(transparent)]
    Common(#[from] CommonError),
    /// `ALREADY_EXISTS`.
    #[error("username is already taken")]
    UsernameTaken,
    /// `ALREADY_EXISTS`: another account has this email address (case-insensitive).
    #[error("email: is already used by another account")]
    EmailTaken,
    /// `FAILED_PRECONDITION`: the call needs something that is not there (email
    /// delivery, an address to verify).
    #[error("{0}")]
    FailedPrecondition(&'static str),
    /// `NOT_FOUND`: absent, or another user's (the same answer).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// `UNAUTHENTICATED`: one message for an unknown user and a wrong password.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// `UNAUTHENTICATED`: unknown, expired, reused or revoked refresh token.
    #[error("invalid or expired refresh token")]
    InvalidRefreshToken,
    /// `RESOURCE_EXHAUSTED`: too many password hashes queued.
    #[error("server busy, retry later")]
    Overloaded,
    /// `ABORTED`: a revocation-feed subscriber fell behind; its stream ends and it
    /// resubscribes (a fresh snapshot rather than a gap).
    #[error("revocation feed lagged; resubscribe")]
    FeedLagged,
}

impl AuthError {
    /// `UNAUTHENTICATED` with `message`.
    pub fn unauthenticated(message: impl std::fmt::Display) -> Self {
        CommonError::Unauthenticated(message.to_string()).into()
    }

    /// `INTERNAL`; `detail` is logged, never returned.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        CommonError::Internal(detail.to_string()).into()
    }

    /// `RESOURCE_EXHAUSTED` with a `RetryInfo`: too many failed logins (or
    /// registrations) for this name or address. One message whether the name exists.
    pub fn throttled(retry_after: Duration) -> Self {
        CommonError::RetryLater {
            message: format!("too many attempts; retry in {} s", retry_after.as_secs()),
            retry_after,
        }
        .into()
    }

    /// Whether this is the throttle's refusal (which is recorded, not retried).
    pub fn is_throttled(&self) -> bool {
        matches!(self, AuthError::Common(CommonError::RetryLater { .. }))
    }
}

impl From<Violation> for AuthError {
    fn from(v: Violation) -> Self {
        CommonError::InvalidArgument(v).into()
    }
}

impl From<sqlx::Error> for AuthError {
    fn from(e: sqlx::Error) -> Self {
        CommonError::Database(e).into()
    }
}

impl From<AuthError> for Status {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Common(common) => common.into(),
            AuthError::UsernameTaken | AuthError::EmailTaken => Status::already_exists(e.to_string()),
            AuthError::FailedPrecondition(msg) => Status::failed_precondition(msg),
            AuthError::NotFound(_) => Status::not_found(e.to_string()),
            AuthError::InvalidCredentials | AuthError::InvalidRefreshToken => {
                Status::unauthenticated(e.to_string())
            }
            AuthError::Overloaded => Status::resource_exhausted(e.to_string()),
            AuthError::FeedLagged => Status::aborted(e.to_string()),
        }
    }
}
