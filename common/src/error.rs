//! Where an error becomes a `Status`, for both services. Storage and domain code return
//! errors that know nothing of gRPC (`sqlx::Error`, [`Violation`], each service's own
//! cases); each service's `error` module maps its own cases, and hands the shared ones,
//! [`CommonError`], to the mapping here. The transport's own statuses, which tonic
//! makes before any of our code runs, are rewritten in one function at the end,
//! [`rewrite_transport_codes`].

use std::time::Duration;

use http::HeaderValue;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::violation::Violation;

/// The failures every service has. Each service's error has a variant holding one.
#[derive(Debug, thiserror::Error)]
pub enum CommonError {
    /// `INVALID_ARGUMENT`, naming the field and the rule (and a `BadRequest` detail).
    #[error("{0}")]
    InvalidArgument(Violation),
    /// `UNAUTHENTICATED`: bearer token missing or refused, or its session ended.
    #[error("{0}")]
    Unauthenticated(String),
    /// `RESOURCE_EXHAUSTED` with a `RetryInfo`: the caller should wait `retry_after`.
    #[error("{message}")]
    RetryLater {
        /// What the caller is told (the status message), such as which limit it hit.
        message: String,
        /// How long until a retry can succeed, sent as `RetryInfo.retry_delay`.
        retry_after: Duration,
    },
    /// `UNAVAILABLE` when the database cannot be reached or is busy (a retry may
    /// succeed), `INTERNAL` otherwise. The detail is logged, never returned.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A read on the calling thread (`sqlite_reads`): `UNAVAILABLE` when the file is
    /// busy, `INTERNAL` otherwise. The detail is logged, never returned.
    #[error("sqlite: {0}")]
    SqliteRead(#[from] rusqlite::Error),
    /// `INTERNAL`; the detail is logged, not returned.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<Violation> for CommonError {
    fn from(v: Violation) -> Self {
        Self::InvalidArgument(v)
    }
}

impl From<CommonError> for Status {
    fn from(e: CommonError) -> Self {
        match e {
            CommonError::InvalidArgument(v) => Status::with_error_details(
                Code::InvalidArgument,
                v.to_string(),
                ErrorDetails::with_bad_request_violation(v.field, &v.reason),
            ),
            CommonError::Unauthenticated(message) => Status::unauthenticated(message),
            CommonError::RetryLater { message, retry_after } => Status::with_error_details(
                Code::ResourceExhausted,
                message,
                ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            CommonError::Database(e) => database_status(&e),
            CommonError::SqliteRead(e) => sqlite_read_status(&e),
            CommonError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

fn database_status(e: &sqlx::Error) -> Status {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            tracing::warn!(error = %e, "database unavailable");
            Status::unavailable("database unavailable")
        }
        sqlx::Error::Database(d) if d.message().contains("database is locked") => {
            tracing::warn!(error = %e, "database busy");
            Status::unavailable("database busy, retry")
        }
        _ => {
            tracing::error!(error = %e, "database error");
            Status::internal("internal error")
        }
    }
}

fn sqlite_read_status(e: &rusqlite::Error) -> Status {
    let busy = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    if busy {
        tracing::warn!(error = %e, "database busy");
        Status::unavailable("database busy, retry")
    } else {
        tracing::error!(error = %e, "database error");
        Status::internal("internal error")
    }
}

/// Brings three of tonic's codes in line with the contract. Both refusals happen before a
/// handler runs and are trailers-only responses, so the code is in the headers:
/// - a message over `max_decoding_message_size` is `OUT_OF_RANGE` in tonic,
///   `RESOURCE_EXHAUSTED` in the contract (as in grpc-go and grpc-java);
/// - a request that does not decode (invalid UTF-8 in a string, a broken message) is
///   `INTERNAL` in tonic; it is the caller's bad input, so `INVALID_ARGUMENT`;
/// - a compressed request that does not decompress is `INTERNAL` in tonic; the same.
///
/// Runs on every response, after the service; our own statuses never match.
pub fn rewrite_transport_codes<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    let message = |prefix: &str| {
        headers.get("grpc-message").is_some_and(|m| {
            let m = m.as_bytes();
            m.starts_with(prefix.as_bytes()) || m.starts_with(prefix.replace(' ', "%20").as_bytes())
        })
    };
    let code = match headers.get("grpc-status").map(HeaderValue::as_bytes) {
        Some(b"11") if message("Error, decoded message length too large") => Some("8"),
        Some(b"13") if message("failed to decode Protobuf message") => Some("3"),
        Some(b"13") if message("Error decompressing") => Some("3"),
        _ => None,
    };
    if let Some(code) = code {
        headers.insert("grpc-status", HeaderValue::from_static(code));
    }
    response
}
