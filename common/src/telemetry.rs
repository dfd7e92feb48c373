//! Logging set-up: `RUST_LOG` filters (default `info`), `LOG_FORMAT=json` for one JSON
//! object per line.

use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::{net::TcpListener, task::JoinHandle};
use tracing_subscriber::{EnvFilter, Layer, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// Keeps the log writer thread and the trace exporter; dropping it writes out the lines
/// and spans still queued.
#[must_use = "hold it until the end of main, or the last log lines may be lost"]
pub struct LogGuard {
    _writer: Option<tracing_appender::non_blocking::WorkerGuard>,
    _traces: Option<crate::trace::Exporter>,
}

/// Installs the global subscriber; a second call (tests, the all-in-one binary) is a no-op.
/// Lines go to stdout from a writer thread: a direct write cost the serving thread a
/// system call per call (the per-call log line was ~20-40 µs of a 100 µs GetTodo,
/// BENCHMARKS.md). The queue is not lossy: when it is full, callers wait as they would
/// on a direct write, and no line is dropped. With an OTLP endpoint configured, spans
/// are exported as `service` (`trace`); call it inside the Tokio runtime.
pub fn init(service: &str) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // Colour codes only for a person at a terminal, not in files and log collectors.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // The queue is allocated up front: 8192 lines is ~0.3 MiB, and minutes of logs
        // at the rate a 2-core machine can serve are not what it should hold anyway.
        .buffered_lines_limit(8192)
        .thread_name("log-writer")
        // Buffered: the writer thread drains every line queued, then flushes, so a busy
        // server makes one write(2) per batch, not per line (stdout alone is
        // line-buffered). An idle queue is flushed at once, so no line waits.
        .finish(std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()));
    let lines = fmt::layer()
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(writer);
    let lines = if json { lines.json().boxed() } else { lines.boxed() };
    let (spans, traces) = if crate::trace::export_configured() {
        match crate::trace::layer(service) {
            Ok((layer, exporter)) => (Some(layer), Some(exporter)),
            Err(e) => {
                eprintln!("traces are not exported: {e}");
                (None, None)
            }
        }
    } else {
        (None, None)
    };
    let installed = tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(spans)
        .try_init();
    LogGuard {
        _writer: installed.is_ok().then_some(guard),
        _traces: traces,
    }
}

/// The process's Prometheus recorder, installed by the first service that serves
/// metrics; every service in the process (the all-in-one, tests) renders the same one.
fn prometheus() -> Result<&'static PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(&[
                    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    5.0,
                ])
                .map_err(|e| e.to_string())?
                .install_recorder()
                .map_err(|e| format!("metrics recorder: {e}"))?;
            let upkeep = handle.clone();
            // What the exporter's own listener would do: drain histogram samples now and
            // then, so memory stays flat between scrapes. A thread, not a task: it outlives
            // any one runtime (tests start many).
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .map_err(|e| format!("metrics upkeep thread: {e}"))?;
            Ok(handle)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Serves the Prometheus text format on `listener` (`/metrics`; any path answers the
/// same) until the task is aborted.
pub fn serve_metrics(listener: TcpListener) -> Result<JoinHandle<()>, String> {
    let handle = prometheus()?;
    Ok(tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors, say: wait instead of spinning on the error.
                    tracing::warn!(error = %e, "metrics: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                let scrape = hyper::service::service_fn(|_request| async {
                    http::Response::builder()
                        .header(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")
                        .body(Full::new(Bytes::from(handle.render())))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), scrape)
                    .await;
            });
        }
    }))
}

/// Puts the authenticated user on the current call's span (never a token).
pub fn record_user(user_id: &impl std::fmt::Display) {
    tracing::Span::current().record("user_id", tracing::field::display(user_id));
}
