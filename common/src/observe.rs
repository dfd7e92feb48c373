//! One span, one log line and two metrics per call: the RPC, the status code, the
//! latency, the request id (taken from `x-request-id` or generated, and echoed back) and,
//! once authenticated, the user id. Never a token or a password.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};
use tracing::Instrument;

#[derive(Debug, Clone, Copy, Default)]
pub struct ObserveLayer;

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Observe { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
}

/// A request id from the caller is kept if it is short printable ASCII; else a new one.
fn request_id<B>(request: &Request<B>) -> HeaderValue {
    request
        .headers()
        .get("x-request-id")
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.as_bytes().iter().all(|b| b.is_ascii_graphic()))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static("invalid"))
        })
}

fn code_name(code: &str) -> &'static str {
    match code {
        "0" => "OK",
        "1" => "CANCELLED",
        "2" => "UNKNOWN",
        "3" => "INVALID_ARGUMENT",
        "4" => "DEADLINE_EXCEEDED",
        "5" => "NOT_FOUND",
        "6" => "ALREADY_EXISTS",
        "7" => "PERMISSION_DENIED",
        "8" => "RESOURCE_EXHAUSTED",
        "9" => "FAILED_PRECONDITION",
        "10" => "ABORTED",
        "11" => "OUT_OF_RANGE",
        "12" => "UNIMPLEMENTED",
        "13" => "INTERNAL",
        "14" => "UNAVAILABLE",
        "15" => "DATA_LOSS",
        "16" => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

impl<S, B, RB> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RB: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let (service, method) = path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or(("", path.as_str()));
        let (service, method) = (service.to_owned(), method.to_owned());
        let id = request_id(&request);
        request.headers_mut().insert("x-request-id", id.clone());
        let span = tracing::info_span!(
            "rpc",
            rpc = %path,
            request_id = id.to_str().unwrap_or(""),
            user_id = tracing::field::Empty,
            code = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let start = Instant::now();
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(
            async move {
                let mut result = future.await;
                let elapsed = start.elapsed();
                // Unary errors are trailers-only responses, with the code in the headers;
                // a response without one carries its code in the trailers: OK for unary.
                let code = match &mut result {
                    Ok(response) => {
                        response.headers_mut().insert("x-request-id", id);
                        code_name(
                            response
                                .headers()
                                .get("grpc-status")
                                .and_then(|c| c.to_str().ok())
                                .unwrap_or("0"),
                        )
                    }
                    Err(_) => "UNAVAILABLE",
                };
                let span = tracing::Span::current();
                span.record("code", code);
                span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
                if service == "grpc.health.v1.Health" || service.starts_with("grpc.reflection") {
                    tracing::debug!("rpc finished");
                } else {
                    tracing::info!("rpc finished");
                }
                let labels = [
                    ("service", service),
                    ("method", method),
                    ("code", code.to_owned()),
                ];
                metrics::counter!("grpc_server_handled_total", &labels).increment(1);
                metrics::histogram!("grpc_server_handling_seconds", &labels).record(elapsed.as_secs_f64());
                result
            }
            .instrument(span),
        )
    }
}
