//! Logging set-up: `RUST_LOG` filters (default `info`), `LOG_FORMAT=json` for one JSON
//! object per line.

use tracing_subscriber::{EnvFilter, fmt};

/// Keeps the log writer thread; dropping it writes out the lines still queued.
#[must_use = "hold it until the end of main, or the last log lines may be lost"]
pub struct LogGuard {
    _writer: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Installs the global subscriber; a second call (tests, the all-in-one binary) is a no-op.
/// Lines go to stdout from a writer thread: a direct write cost the serving thread a
/// system call per call (the per-call log line was ~20-40 µs of a 100 µs GetTodo,
/// BENCHMARKS.md). The queue is not lossy: when it is full, callers wait as they would
/// on a direct write, and no line is dropped.
pub fn init() -> LogGuard {
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
        .finish(std::io::stdout());
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(writer);
    let installed = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    LogGuard {
        _writer: installed.is_ok().then_some(guard),
    }
}

/// Installs the Prometheus exporter on `addr` (`/metrics`, text format) once per process;
/// later calls (a second service in the same process) share it.
pub fn init_metrics(addr: std::net::SocketAddr) -> Result<(), String> {
    static INSTALLED: std::sync::OnceLock<Result<std::net::SocketAddr, String>> = std::sync::OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .set_buckets(&[
                0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
            .map_err(|e| e.to_string())?
            .install()
            .map_err(|e| format!("metrics on {addr}: {e}"))?;
        Ok(addr)
    });
    match installed {
        Ok(at) if *at != addr => {
            tracing::warn!(%addr, serving = %at, "metrics already served on another address in this process");
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(e.clone()),
    }
}

/// Puts the authenticated user on the current call's span (never a token).
pub fn record_user(user_id: &uuid::Uuid) {
    tracing::Span::current().record("user_id", tracing::field::display(user_id));
}
