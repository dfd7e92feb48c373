//! One span, one log line and two metrics per call: the RPC, the status code, the
//! latency, the request id (taken from `x-request-id` or generated, and echoed back) and,
//! once authenticated, the user id. Never a token or a password.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
    time::Instant,
};

use http::{HeaderValue, Request, Response};
use metrics::{Counter, Histogram};
use prost::Message;
use tower::{Layer, Service};
use tracing::Instrument;

/// The label of every path that is not a method the server serves.
pub const UNKNOWN: &str = "unknown";

/// The methods a server serves, by request path: the only values the `service` and
/// `method` metric labels take. Labels straight from the path let any caller add a
/// series per invented path (500 junk paths once added ~9,000 lines to `/metrics`).
#[derive(Debug, Clone)]
pub struct KnownMethods(Arc<Methods>);

#[derive(Debug)]
struct Methods {
    by_path: HashMap<String, Arc<Method>>,
    unknown: Arc<Method>,
}

/// Status code names by number (`tonic::Code as usize`): the `code` label's values.
const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// One method's labels and its metric handles. A handle is looked up in the recorder
/// once per method and code, on the first call that ends with that code (so no series
/// is added for a code never seen), not per call: building the label set and hashing
/// it on every call was a dozen allocations and two registry lookups (issue 12). The
/// recorder is installed at start-up, before the listener is bound (`server.rs`), so the
/// first call already gets the real handles.
struct Method {
    service: String,
    method: String,
    /// Health checks and reflection log at debug: probes every few seconds would
    /// drown the calls that matter.
    quiet: bool,
    handles: [OnceLock<(Counter, Histogram)>; CODES.len()],
}

impl std::fmt::Debug for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/{}/{}", self.service, self.method)
    }
}

impl Method {
    fn new(service: String, method: String) -> Self {
        let quiet = service == "grpc.health.v1.Health" || service.starts_with("grpc.reflection");
        Self {
            service,
            method,
            quiet,
            handles: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// The counter and histogram of calls of this method that ended with `code`.
    fn handles(&self, code: usize) -> &(Counter, Histogram) {
        self.handles[code].get_or_init(|| {
            let labels = [
                ("service", self.service.clone()),
                ("method", self.method.clone()),
                ("code", CODES[code].to_owned()),
            ];
            (
                metrics::counter!("grpc_server_handled_total", &labels),
                metrics::histogram!("grpc_server_handling_seconds", &labels),
            )
        })
    }
}

impl Default for KnownMethods {
    fn default() -> Self {
        Self::new(HashMap::new())
    }
}

impl KnownMethods {
    fn new(by_path: HashMap<String, Arc<Method>>) -> Self {
        let unknown = Arc::new(Method::new(UNKNOWN.to_owned(), UNKNOWN.to_owned()));
        Self(Arc::new(Methods { by_path, unknown }))
    }

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
                            Arc::new(Method::new(name.clone(), method.name().to_owned())),
                        );
                    }
                }
            }
        }
        Ok(Self::new(methods))
    }

    fn get(&self, path: &str) -> Arc<Method> {
        Arc::clone(self.0.by_path.get(path).unwrap_or(&self.0.unknown))
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
            let mut text = uuid::Uuid::encode_buffer();
            let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
            HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("invalid"))
        })
}

/// The index in [`CODES`] of a `grpc-status` value, by tonic's own reading of it: only
/// the exact decimal forms count, anything else is UNKNOWN.
fn code_index(code: &[u8]) -> usize {
    tonic::Code::from_bytes(code) as usize
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
        let method = self.methods.get(request.uri().path());
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
                        response
                            .headers()
                            .get("grpc-status")
                            .map_or(0, |c| code_index(c.as_bytes()))
                    }
                    Err(_) => tonic::Code::Unavailable as usize,
                };
                let span = tracing::Span::current();
                span.record("code", CODES[code]);
                span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
                if method.quiet {
                    tracing::debug!("rpc finished");
                } else {
                    tracing::info!("rpc finished");
                }
                let (calls, seconds) = method.handles(code);
                calls.increment(1);
                seconds.record(elapsed.as_secs_f64());
                result
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_read_exactly() {
        for (n, name) in CODES.iter().enumerate() {
            assert_eq!(CODES[code_index(n.to_string().as_bytes())], *name);
        }
        // Not the decimal form a server writes: counted as UNKNOWN, not as NOT_FOUND.
        for odd in [&b"+5"[..], b"05", b" 5", b"17", b"", b"five"] {
            assert_eq!(CODES[code_index(odd)], "UNKNOWN", "{odd:?}");
        }
    }
}
