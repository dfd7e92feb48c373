//! One span, one log line and two metrics per call: the RPC, the status code, the
//! latency, the request id (taken from `x-request-id` or generated, and echoed back) and,
//! once authenticated, the user id. Never a token or a password.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use http::{HeaderValue, Request, Response};
use prost::Message;
use tower::{Layer, Service};
use tracing::Instrument;

/// The label of every path that is not a method the server serves.
pub const UNKNOWN: &str = "unknown";

/// The methods a server serves, by request path: the only values the `service` and
/// `method` metric labels take. Labels straight from the path let any caller add a
/// series per invented path (500 junk paths once added ~9,000 lines to `/metrics`).
#[derive(Debug, Clone, Default)]
pub struct KnownMethods(Arc<HashMap<String, (String, String)>>);

impl KnownMethods {
    /// Every method of the named `services`, as the encoded descriptor sets describe them.
    pub fn from_descriptors(services: &[&str], sets: &[&[u8]]) -> Result<Self, prost::DecodeError> {
        let mut methods = HashMap::new();
        for set in sets {
            for file in prost_types::FileDescriptorSet::decode(*set)?.file {
                for service in &file.service {
                    let name = match file.package() {
                        "" => service.name().to_owned(),
                        package => format!("{package}.{}", service.name()),
                    };
                    if !services.contains(&name.as_str()) {
                        continue;
                    }
                    for method in &service.method {
                        methods.insert(
                            format!("/{name}/{}", method.name()),
                            (name.clone(), method.name().to_owned()),
                        );
                    }
                }
            }
        }
        Ok(Self(Arc::new(methods)))
    }

    /// `(service, method)` for a served path, else `unknown` twice.
    pub fn labels(&self, path: &str) -> (String, String) {
        match self.0.get(path) {
            Some((service, method)) => (service.clone(), method.clone()),
            None => (UNKNOWN.to_owned(), UNKNOWN.to_owned()),
        }
    }
}

/// Observes every call; labels metrics by [`KnownMethods`] only.
#[derive(Debug, Clone, Default)]
pub struct ObserveLayer {
    methods: KnownMethods,
}

impl ObserveLayer {
    /// Observes calls, labelling metrics by `methods` (from
    /// [`crate::server::served_methods`]).
    pub fn new(methods: KnownMethods) -> Self {
        Self { methods }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            methods: self.methods.clone(),
        }
    }
}

/// `inner` inside the call's span: sets `x-request-id` on the request and the response,
/// then logs the call and counts it in `grpc_server_handled_total` and
/// `grpc_server_handling_seconds`.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    methods: KnownMethods,
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
        let (service, method) = self.methods.labels(request.uri().path());
        let id = request_id(&request);
        // The log line names the path as sent, cut short: it is the caller's input (a
        // URI path is ASCII, so any cut is at a character boundary).
        let path = request.uri().path();
        let path = path.get(..path.len().min(128)).unwrap_or(path);
        // The OpenTelemetry name and kind are recorded only when traces are exported
        // (`continue_trace`): otherwise every log line would repeat the path.
        let span = tracing::info_span!(
            "rpc",
            rpc = path,
            request_id = id.to_str().unwrap_or(""),
            user_id = tracing::field::Empty,
            code = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            otel.name = tracing::field::Empty,
            otel.kind = tracing::field::Empty,
        );
        crate::trace::continue_trace(request.headers(), &span, path);
        request.headers_mut().insert("x-request-id", id.clone());
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
