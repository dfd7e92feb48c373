//! The caller's `grpc-timeout`, ending in `DEADLINE_EXCEEDED` as the gRPC spec says.
//!
//! tonic enforces `grpc-timeout` too, but outside the application's layers, and answers
//! `CANCELLED` "Timeout expired" (its `TimeoutExpired` maps so): not what the contract or
//! any client expects, and the call never reaches the log or the metrics. This layer
//! enforces the same deadline from inside, a millisecond early so that it always fires
//! first: tonic's timer starts a few microseconds before this one, and both tick by the
//! millisecond. A caller's deadline that has passed on arrival is refused unread.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use tonic::{Status, body::Body};
use tower::{Layer, Service};

/// How much earlier than tonic's own timer this one fires.
const MARGIN: Duration = Duration::from_millis(1);

/// Wraps a service in [`Deadline`]; one layer of the server shell
/// ([`crate::server::serve_incoming`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineLayer;

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Deadline { inner }
    }
}

/// `inner`, answered with `DEADLINE_EXCEEDED` once the caller's `grpc-timeout` (less a
/// millisecond) runs out; calls without one are not timed.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
}

/// `grpc-timeout` as the spec writes it: at most 8 digits and a unit (`H`, `M`, `S`,
/// `m`, `u`, `n`). `None` when absent or malformed (then there is no deadline, as in tonic).
pub fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let unit_at = value.len().checked_sub(1)?;
    let (digits, unit) = value.split_at(unit_at);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

fn deadline_exceeded() -> Response<Body> {
    Status::deadline_exceeded("deadline exceeded").into_http()
}

impl<S, B, RB> Service<Request<B>> for Deadline<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<tonic::codegen::StdError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let budget = grpc_timeout(request.headers()).map(|t| t.saturating_sub(MARGIN));
        if budget.is_some_and(|b| b.is_zero()) {
            return Box::pin(async { Ok(deadline_exceeded()) });
        }
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = match budget {
                Some(budget) => match tokio::time::timeout(budget, call).await {
                    Ok(response) => response?,
                    Err(_) => return Ok(deadline_exceeded()),
                },
                None => call.await?,
            };
            Ok(response.map(Body::new))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-timeout", value.parse().unwrap());
        grpc_timeout(&headers)
    }

    #[test]
    fn grpc_timeout_units() {
        // `m` is milliseconds and `M` minutes: "1m" is one millisecond.
        assert_eq!(parse("1m"), Some(Duration::from_millis(1)));
        assert_eq!(parse("1M"), Some(Duration::from_secs(60)));
        assert_eq!(parse("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse("30S"), Some(Duration::from_secs(30)));
        assert_eq!(parse("250u"), Some(Duration::from_micros(250)));
        assert_eq!(parse("99999999n"), Some(Duration::from_nanos(99_999_999)));
        for bad in ["", "m", "1", "1x", "123456789S", "-1S", "1.5S", "+1S"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
