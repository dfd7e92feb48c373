//! The one error type of the todo-service, and the one place it becomes a `Status`
//! (the cases both services share go on to `common::error`).

use std::time::Duration;

use common::error::CommonError;
use tonic::Status;

use crate::domain::Violation;

/// What can go wrong in a todo call. Each variant's doc names the gRPC code it becomes.
#[derive(Debug, thiserror::Error)]
pub enum TodoError {
    /// Bad input, refused token, database, internal: as `CommonError` says.
    #[error(transparent)]
    Common(#[from] CommonError),
    /// `NOT_FOUND`: absent, or another user's.
    #[error("todo not found")]
    NotFound,
    /// `UNAVAILABLE`: the revocation feed is not current and the auth-service cannot be
    /// asked, so whether the token was revoked is unknown; never assumed valid.
    #[error("cannot check token revocation; retry")]
    RevocationUnknown,
    /// `RESOURCE_EXHAUSTED`: the user has as many todos as allowed.
    #[error("todo limit reached: at most {max} todos per user; delete some to add more")]
    QuotaExceeded {
        /// The limit (`MAX_TODOS_PER_USER`), told to the caller.
        max: u32,
    },
}

impl TodoError {
    /// `UNAUTHENTICATED` with `message`: bearer token missing, refused, or of an ended session.
    pub fn unauthenticated(message: impl std::fmt::Display) -> Self {
        CommonError::Unauthenticated(message.to_string()).into()
    }

    /// `INTERNAL`; `detail` is logged, never returned.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        CommonError::Internal(detail.to_string()).into()
    }

    /// `RESOURCE_EXHAUSTED` with a `RetryInfo`: the user creates todos too fast.
    pub fn rate_limited(per_minute: u32, retry_after: Duration) -> Self {
        CommonError::RetryLater {
            message: format!(
                "too many todos created: at most {per_minute} per minute; retry in {} s",
                retry_after.as_secs().max(1)
            ),
            retry_after,
        }
        .into()
    }
}

impl From<Violation> for TodoError {
    fn from(v: Violation) -> Self {
        CommonError::InvalidArgument(v).into()
    }
}

impl From<sqlx::Error> for TodoError {
    fn from(e: sqlx::Error) -> Self {
        CommonError::Database(e).into()
    }
}

impl From<TodoError> for Status {
    fn from(e: TodoError) -> Self {
        match e {
            TodoError::Common(common) => common.into(),
            TodoError::NotFound => Status::not_found(e.to_string()),
            TodoError::RevocationUnknown => Status::unavailable(e.to_string()),
            TodoError::QuotaExceeded { .. } => Status::resource_exhausted(e.to_string()),
        }
    }
}
