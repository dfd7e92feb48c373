//! The one error type of the auth-service, and the one place it becomes a `Status`.

use tonic::Status;

use crate::domain::Violation;

/// What can go wrong in an auth call. Each variant's doc names the gRPC code it becomes.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// `INVALID_ARGUMENT`, naming the field and the rule.
    #[error("{}: {}", .0.field, .0.reason)]
    InvalidArgument(Violation),
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
    /// `UNAUTHENTICATED`: bearer token missing or refused, or its user is gone.
    #[error("{0}")]
    Unauthenticated(String),
    /// `RESOURCE_EXHAUSTED` with a `RetryInfo`: too many failed logins (or registrations)
    /// for this name or address. One message whether the name exists or not.
    #[error("too many attempts; retry later")]
    Throttled { retry_after: std::time::Duration },
    /// `RESOURCE_EXHAUSTED`: too many password hashes queued.
    #[error("server busy, retry later")]
    Overloaded,
    /// `UNAVAILABLE` when the database cannot be reached, `INTERNAL` otherwise.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// `INTERNAL`; the detail is logged, not returned.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<Violation> for AuthError {
    fn from(v: Violation) -> Self {
        Self::InvalidArgument(v)
    }
}

impl From<AuthError> for Status {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidArgument(v) => v.into(),
            AuthError::UsernameTaken | AuthError::EmailTaken => Status::already_exists(e.to_string()),
            AuthError::FailedPrecondition(msg) => Status::failed_precondition(msg),
            AuthError::NotFound(_) => Status::not_found(e.to_string()),
            AuthError::InvalidCredentials | AuthError::InvalidRefreshToken => {
                Status::unauthenticated(e.to_string())
            }
            AuthError::Unauthenticated(msg) => Status::unauthenticated(msg),
            AuthError::Throttled { retry_after } => {
                use tonic_types::{ErrorDetails, StatusExt};
                Status::with_error_details(
                    tonic::Code::ResourceExhausted,
                    format!("too many attempts; retry in {} s", retry_after.as_secs()),
                    ErrorDetails::with_retry_info(Some(retry_after)),
                )
            }
            AuthError::Overloaded => Status::resource_exhausted(e.to_string()),
            AuthError::Database(db) => common::db::status(db),
            AuthError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Status::internal("internal error")
            }
        }
    }
}
