//! Traces across the pair: every call's span (from `observe`) and the database spans
//! under it exported over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the W3C `traceparent` taken from a
//! call's metadata, so the caller's trace goes on, and put on the todo-service's calls
//! to the auth-service, so one trace holds both. Without an endpoint nothing is
//! installed: spans stay plain `tracing` spans and nothing is exported.
//!
//! The other `OTEL_*` variables (`OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`,
//! `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_EXPORTER_OTLP_HEADERS`, ...) are read by the
//! OpenTelemetry SDK itself.

use std::sync::atomic::{AtomicBool, Ordering};

use http::HeaderMap;
use opentelemetry::{
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;

/// Whether an OTLP endpoint is configured for traces.
pub fn export_configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// Set once the exporting layer is installed: the per-call work below is skipped
/// (one relaxed load) when traces go nowhere.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// The target of the database spans: only the exporting layer listens to it, so
/// without an endpoint they are disabled at their call sites and cost nothing.
pub const DB_TARGET: &str = "db";

/// The exporting tracer provider; dropping it sends what is still queued.
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("traces: shutdown: {e}");
        }
    }
}

/// The layer that turns `tracing` spans into exported OpenTelemetry spans, named
/// `service` unless `OTEL_SERVICE_NAME` says otherwise. Must run inside the Tokio
/// runtime (the exporter is a tonic client).
pub(crate) fn layer<S>(service: &str) -> Result<(impl tracing_subscriber::Layer<S>, Exporter), String>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .map_err(|e| format!("OTLP exporter: {e}"))?;
    let name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| service.to_owned());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(name).build())
        .build();
    let tracer = provider.tracer("todo-grpc");
    // The calls' spans and the database spans under them; not the debug chatter.
    let wanted = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target(DB_TARGET, tracing::Level::DEBUG);
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(wanted);
    EXPORTING.store(true, Ordering::Relaxed);
    Ok((layer, Exporter { provider }))
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct Metadata<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for Metadata<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Names `span` for export (`otel.name` = `name`, a server span), makes it a child of
/// the caller's span when the call carries a valid `traceparent`, and records the trace
/// id on it (so every log line of the call has it). A missing or malformed header
/// starts a new trace. Does nothing when no traces are exported.
pub fn continue_trace(headers: &HeaderMap, span: &tracing::Span, name: &str) {
    if !EXPORTING.load(Ordering::Relaxed) {
        return;
    }
    span.record("otel.name", name);
    span.record("otel.kind", "server");
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    if parent.span().span_context().is_valid() {
        // A bad parent cannot hurt: `set_parent` fails only once the span has started.
        let _ = span.set_parent(parent);
    }
    let trace_id = span.context().span().span_context().trace_id();
    span.record("trace_id", tracing::field::display(trace_id));
}

/// Puts the current span's trace context on an outgoing call, as `traceparent`.
pub fn inject<T>(request: &mut tonic::Request<T>) {
    if !EXPORTING.load(Ordering::Relaxed) {
        return;
    }
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut Metadata(request.metadata_mut()));
}
