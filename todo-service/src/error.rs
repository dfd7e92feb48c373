//! The one error type of the todo-service, and the one place it becomes a `Status`.

use tonic::Status;

use crate::domain::Violation;

/// What can go wrong in a todo call. Each variant's doc names the gRPC code it becomes.
#[derive(Debug, thiserror::Error)]
pub enum TodoError {
    /// `INVALID_ARGUMENT`, naming the field and the rule.
    #[error("{}: {}", .0.field, .0.reason)]
    InvalidArgument(Violation),
    /// `NOT_FOUND`: absent, or another user's.
    #[error("todo not found")]
    NotFound,
    /// `UNAUTHENTICATED`: bearer token missing, refused, or of an ended session.
    #[error("{0}")]
    Unauthenticated(String),
    /// `UNAVAILABLE`: the revocation feed is not current and the auth-service cannot be
    /// asked, so whether the token was revoked is unknown; never assumed valid.
    #[error("cannot check token revocation; retry")]
    RevocationUnknown,
    /// `RESOURCE_EXHAUSTED`: the user has as many todos as allowed.
    #[error("todo limit reached: at most {max} todos per user; delete some to add more")]
    QuotaExceeded { max: u32 },
    /// `RESOURCE_EXHAUSTED` with a `RetryInfo`: the user creates todos too fast.
    #[error("too many todos created: at most {per_minute} per minute; retry in {} s", .retry_after.as_secs().max(1))]
    RateLimited {
        per_minute: u32,
        retry_after: std::time::Duration,
    },
    /// `UNAVAILABLE` when the database cannot be reached, `INTERNAL` otherwise.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// `INTERNAL`; the detail is logged, not returned.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<Violation> for TodoError {
    fn from(v: Violation) -> Self {
        Self::InvalidArgument(v)
    }
}

impl From<TodoError> for Status {
    fn from(e: TodoError) -> Self {
        match e {
            TodoError::InvalidArgument(v) => v.into(),
            TodoError::NotFound => Status::not_found(e.to_string()),
            TodoError::Unauthenticated(msg) => Status::unauthenticated(msg),
            TodoError::RevocationUnknown => Status::unavailable(e.to_string()),
            TodoError::QuotaExceeded { .. } => Status::resource_exhausted(e.to_string()),
            TodoError::RateLimited { retry_after, .. } => {
                use tonic_types::{ErrorDetails, StatusExt};
                Status::with_error_details(
                    tonic::Code::ResourceExhausted,
                    e.to_string(),
                    ErrorDetails::with_retry_info(Some(retry_after)),
                )
            }
            TodoError::Database(db) => common::db::status(db),
            TodoError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Status::internal("internal error")
            }
        }
    }
}
