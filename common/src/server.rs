//! The server shell both services run in: plain gRPC (HTTP/2) and gRPC-Web (HTTP/1.1)
//! on one port, CORS for configured browser origins, `grpc.health.v1`, reflection v1 and
//! v1alpha, and a graceful shutdown bounded in time.

use std::{future::Future, net::SocketAddr, time::Duration};

use tokio::{net::TcpListener, task::JoinHandle};
use tonic::{
    service::Routes,
    transport::{Server, server::TcpIncoming},
};
use tonic_health::ServingStatus;
pub use tonic_reflection::server::Error as ReflectionError;
pub use tower_http::cors::CorsLayer;

use crate::{
    config::{ConfigError, ServerArgs},
    health::HealthReporter,
};

/// Name of the health service, listed by reflection.
const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A shared setting is missing or unusable (the JWT secrets, CORS origins).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A listener (service, metrics or health port) could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address as configured (port 0 allowed).
        addr: SocketAddr,
        /// Why binding failed, such as the address being in use.
        source: std::io::Error,
    },
    /// The reflection service could not be built from the descriptor sets.
    #[error("reflection: {0}")]
    Reflection(#[from] ReflectionError),
    /// A certificate, key or CA file is missing, unreadable, expired or mismatched.
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// Anything else, already worded for the operator (mail settings, the password
    /// hasher's bounds, the metrics recorder, the auth-service URL, descriptor sets).
    #[error("{0}")]
    Other(String),
}

/// A bound, ready-to-run service: its routes beside health and reflection, CORS, and
/// the task that keeps health in step with the database.
pub struct Application {
    listener: TcpListener,
    routes: Routes,
    cors: CorsLayer,
    limits: Limits,
    methods: crate::observe::KnownMethods,
    /// Background tasks that live as long as the server: health, feeds.
    tasks: Vec<JoinHandle<()>>,
    /// Told when shutdown begins, so long-lived streams end and do not hold it up.
    drains: Vec<tokio::sync::watch::Sender<bool>>,
    local_addr: SocketAddr,
    /// Where `/metrics` is served (`METRICS_ADDR`), if it is on.
    metrics_addr: Option<SocketAddr>,
    /// TLS on the service port, and the plaintext health-only port (`tls` module).
    tls: Option<crate::tls::ServerTls>,
    health_listener: Option<TcpListener>,
}

/// Largest request either service accepts; larger ones are refused from the length
/// prefix, unread. A todo at its limits (200 + 2,000 characters of up to 4 bytes) and
/// every auth request fit well within.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

impl Application {
    /// The end of both services' start-up: `service` (named `service_name`) beside
    /// health and reflection (from `descriptors`), bound to `addr`, health following
    /// `pool`.
    pub async fn serve<S>(
        service_name: &'static str,
        descriptors: &'static [u8],
        service: S,
        pool: crate::db::Pool,
        addr: SocketAddr,
        args: &ServerArgs,
    ) -> Result<Self, StartupError>
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let (routes, reporter) = base_routes(service_name, descriptors)?;
        Self::bind(
            service_name,
            (routes.add_service(service), reporter),
            pool,
            addr,
            args,
        )
        .await
    }

    /// Binds `addr` for `routes` (from [`base_routes`] plus the service itself).
    pub async fn bind(
        service_name: &'static str,
        (routes, reporter): (Routes, HealthReporter),
        pool: crate::db::Pool,
        addr: SocketAddr,
        args: &ServerArgs,
    ) -> Result<Self, StartupError> {
        let cors = crate::cors::cors_layer(&args.cors_allowed_origins)?;
        let tls = crate::tls::ServerTls::from_args(&args.tls)?;
        // Bound here, port 0 allowed, so whoever starts us learns the port without a race.
        let (metrics_task, metrics_addr) = match args.metrics_addr {
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?;
                let bound = listener
                    .local_addr()
                    .map_err(|source| StartupError::Bind { addr, source })?;
                let task = crate::telemetry::serve_metrics(listener).map_err(StartupError::Other)?;
                (Some(task), Some(bound))
            }
            None => (None, None),
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;
        let health_listener = match args.tls.health_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?,
            ),
            None => None,
        };
        let methods = served_methods(service_name)?;
        let health_task = watch_database(pool, reporter, service_name, Duration::from_secs(2));
        Ok(Self {
            listener,
            routes,
            cors,
            limits: Limits {
                grace: args.shutdown_grace,
                max_in_flight: args.max_in_flight_requests.max(1),
                max_concurrent_streams: args.max_concurrent_streams.max(1),
            },
            methods,
            tasks: std::iter::once(health_task).chain(metrics_task).collect(),
            drains: Vec::new(),
            local_addr,
            metrics_addr,
            tls,
            health_listener,
        })
    }

    /// A flag that turns true when shutdown begins: long-lived streams watch it and end,
    /// so that graceful shutdown waits only for ordinary calls.
    pub fn with_drain(mut self, drain: tokio::sync::watch::Sender<bool>) -> Self {
        self.drains.push(drain);
        self
    }

    /// Adds a background task to stop when the server stops (none: nothing to add).
    pub fn with_task(mut self, task: impl Into<Option<JoinHandle<()>>>) -> Self {
        self.tasks.extend(task.into());
        self
    }

    /// The one line that says the service is up: where, on which database (never the
    /// URL, which may hold a password), signing or verifying with which key. The
    /// metrics and health-only ports are in it when set, so whoever started us on
    /// port 0 learns every port.
    pub fn log_ready(&self, service_name: &str, database_url: &str, key_id: &str) {
        tracing::info!(
            addr = %self.local_addr(),
            database = crate::db::backend(database_url),
            kid = key_id,
            metrics_addr = self.metrics_addr().map(tracing::field::display),
            health_addr = self.health_addr().map(tracing::field::display),
            "{service_name} ready"
        );
    }

    /// Where the service listens (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where `/metrics` is served (`METRICS_ADDR`), if it is on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Where the plaintext health-only port listens (`HEALTH_ADDR`), if it is on.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes and in-flight calls finish (or the grace ends).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), tonic::transport::Error> {
        let drains = self.drains;
        let shutdown = async move {
            shutdown.await;
            for drain in &drains {
                let _ = drain.send(true);
            }
        };
        let mut tasks = self.tasks;
        if let Some(listener) = self.health_listener {
            let health = crate::tls::HealthOnly(self.routes.clone());
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            tasks.push(tokio::spawn(async move {
                if let Err(e) = Server::builder()
                    .add_service(health)
                    .serve_with_incoming(incoming)
                    .await
                {
                    tracing::error!("health port stopped: {e}");
                }
            }));
        }
        let result = serve_incoming(
            crate::tls::incoming(self.listener, self.tls.as_ref()),
            self.routes,
            self.cors,
            &self.limits,
            self.methods,
            shutdown,
        )
        .await;
        for task in &tasks {
            task.abort();
        }
        result
    }
}

/// Runs a service binary: logs, builds, serves until Ctrl-C or SIGTERM.
pub async fn main<F, E>(name: &str, build: F) -> std::process::ExitCode
where
    F: Future<Output = Result<Application, E>>,
    E: std::fmt::Display,
{
    let app = match build.await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("{name} cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped(shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{name} stopped: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Routes every service serves besides its own: health and reflection (v1 and v1alpha,
/// since grpcurl 1.8 speaks only v1alpha), all taking gzip and zstd. Reflection lists
/// exactly `service_name` and these, though `descriptors` may describe more (the
/// `google.rpc` error details, so that clients can decode them).
pub fn base_routes(
    service_name: &str,
    descriptors: &'static [u8],
) -> Result<(Routes, HealthReporter), tonic_reflection::server::Error> {
    use tonic::codec::CompressionEncoding::{Gzip, Zstd};
    let (reporter, health) = HealthReporter::new();
    // Health replies are two bytes: compressing them would only cost.
    let health = health.accept_compressed(Gzip).accept_compressed(Zstd);
    let (v1, v1alpha) = crate::reflection::services(
        &[service_name, HEALTH_SERVICE],
        &[descriptors, tonic_health::pb::FILE_DESCRIPTOR_SET],
    )?;
    let routes = Routes::new(health)
        .add_service(crate::compressed!(v1))
        .add_service(crate::compressed!(v1alpha));
    Ok((routes, reporter))
}

/// The methods a server built by [`base_routes`] serves: `service_name` (described in
/// the project's descriptor set, the one both services reflect), health and reflection.
pub fn served_methods(service_name: &str) -> Result<crate::observe::KnownMethods, StartupError> {
    crate::observe::KnownMethods::from_descriptors(
        &[
            service_name,
            HEALTH_SERVICE,
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ],
        &[
            todo_grpc_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ],
    )
    .map_err(|e| StartupError::Other(format!("descriptor set: {e}")))
}

/// Keeps health in step with the database: SERVING while it answers, NOT_SERVING while
/// it does not (for the whole server, `""`, and for `service_name`).
pub fn watch_database(
    pool: crate::db::Pool,
    reporter: HealthReporter,
    service_name: &'static str,
    interval: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = None;
        loop {
            metrics::gauge!("db_pool_connections", "service" => service_name, "state" => "idle")
                .set(pool.num_idle() as f64);
            metrics::gauge!("db_pool_connections", "service" => service_name, "state" => "in_use").set(
                pool.size()
                    .saturating_sub(u32::try_from(pool.num_idle()).unwrap_or(u32::MAX))
                    as f64,
            );
            metrics::gauge!("db_pool_max_connections", "service" => service_name)
                .set(pool.options().get_max_connections() as f64);
            let status = if crate::db::ping(&pool).await {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            if last != Some(status) {
                if status == ServingStatus::NotServing {
                    tracing::warn!("database unreachable: health is NOT_SERVING");
                } else if last.is_some() {
                    tracing::info!("database reachable again: health is SERVING");
                }
                reporter.set_service_status("", status).await;
                reporter.set_service_status(service_name, status).await;
                last = Some(status);
            }
            tokio::time::sleep(interval).await;
        }
    })
}

/// What one server lets its callers hold, and how long shutdown waits for them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// How long shutdown waits for in-flight calls.
    pub grace: Duration,
    /// Calls in flight over all connections.
    pub max_in_flight: usize,
    /// HTTP/2 streams open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS).
    pub max_concurrent_streams: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(10),
            max_in_flight: 1024,
            max_concurrent_streams: crate::config::DEFAULT_MAX_CONCURRENT_STREAMS,
        }
    }
}

/// Receive window of one HTTP/2 stream: what a caller can send ahead of the server
/// reading it. Requests are at most tens of KiB, so the RFC's 64 KiB is plenty.
pub const HTTP2_STREAM_WINDOW: u32 = 64 * 1024;
/// Receive window of one connection, over all its streams.
pub const HTTP2_CONNECTION_WINDOW: u32 = 1024 * 1024;
/// Largest header list accepted (bearer tokens and cookies fit many times over).
pub const HTTP2_MAX_HEADER_LIST: u32 = 16 * 1024;
/// Streams a caller may open and reset at once before the connection is closed
/// (the "rapid reset" attack, CVE-2023-44487).
pub const HTTP2_MAX_PENDING_RESETS: usize = 20;
/// Streams the server may reset (refused past the stream bound, protocol errors) before
/// it closes the connection: a caller that keeps opening streams past the bound goes.
pub const HTTP2_MAX_LOCAL_RESETS: usize = 256;
/// A connection is pinged after this long without a frame from the caller, and closed
/// when the answer does not come within [`HTTP2_KEEPALIVE_TIMEOUT`]. A caller that stops
/// reading cannot answer (the ping waits behind the responses it does not read), so
/// the memory those responses hold is released within about the sum of the two.
pub const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long the answer to a keep-alive ping ([`HTTP2_KEEPALIVE_INTERVAL`]) may take
/// before the connection is closed.
pub const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `routes` on `listener` (plaintext) until `shutdown` completes, then lets
/// in-flight calls finish for at most `limits.grace`. Metrics name only the `methods` served.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    cors: CorsLayer,
    limits: &Limits,
    methods: crate::observe::KnownMethods,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let incoming = crate::tls::incoming(listener, None);
    serve_incoming(incoming, routes, cors, limits, methods, shutdown).await
}

/// [`serve`] on connections from [`crate::tls::incoming`], plaintext or TLS.
pub async fn serve_incoming(
    incoming: impl tokio_stream::Stream<Item = Result<crate::tls::Conn, std::io::Error>>,
    routes: Routes,
    cors: CorsLayer,
    limits: &Limits,
    methods: crate::observe::KnownMethods,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let grace = limits.grace;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight calls");
        let _ = started_tx.send(());
    };
    let server = Server::builder()
        .accept_http1(true)
        .max_concurrent_streams(limits.max_concurrent_streams)
        .initial_stream_window_size(HTTP2_STREAM_WINDOW)
        .initial_connection_window_size(HTTP2_CONNECTION_WINDOW)
        .http2_max_header_list_size(HTTP2_MAX_HEADER_LIST)
        .http2_max_pending_accept_reset_streams(Some(HTTP2_MAX_PENDING_RESETS))
        .http2_max_local_error_reset_streams(Some(HTTP2_MAX_LOCAL_RESETS))
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
        .layer(cors)
        .layer(crate::observe::ObserveLayer::new(methods))
        .layer(tower::util::MapRequestLayer::new(mark_grpc_web as fn(_) -> _))
        .layer(crate::http1::Http1GuardLayer)
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(crate::deadline::DeadlineLayer)
        .layer(tower::util::MapResponseLayer::new(
            crate::error::rewrite_transport_codes as fn(_) -> _,
        ))
        // A bound on calls in flight across all connections: past it, calls fail at once
        // with RESOURCE_EXHAUSTED instead of queueing without end.
        .layer(tower::load_shed::LoadShedLayer::new())
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            limits.max_in_flight,
        ))
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, signal);
    let deadline = async move {
        if started_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace elapsed; dropping remaining calls");
            Ok(())
        }
    }
}

/// Present in a request's extensions when it arrived as gRPC-Web, that is from a
/// browser: tonic-web rewrites the content type, so handlers could not tell otherwise.
#[derive(Debug, Clone, Copy)]
pub struct GrpcWebRequest;

fn mark_grpc_web<B>(mut request: http::Request<B>) -> http::Request<B> {
    let web = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/grpc-web"));
    if web {
        request.extensions_mut().insert(GrpcWebRequest);
    }
    request
}

/// Answers `healthcheck [--addr HOST:PORT]` (for container health checks): exits 0 when
/// the service at `--addr`, else `LISTEN_ADDR`, else `default_addr`, reports SERVING.
/// `None` when the command line is not a health check.
pub async fn healthcheck_command(default_addr: &str) -> Option<std::process::ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("healthcheck") {
        return None;
    }
    let addr = match args.get(1).map(String::as_str) {
        Some("--addr") => args.get(2).cloned(),
        _ => None,
    }
    // The health-only port is plaintext even when the service port needs TLS or mTLS.
    .or_else(|| std::env::var("HEALTH_ADDR").ok().filter(|a| !a.is_empty()))
    .or_else(|| std::env::var("LISTEN_ADDR").ok())
    .unwrap_or_else(|| default_addr.to_owned());
    // A wildcard listen address is reached on loopback.
    let addr = addr.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]");
    let check = async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        let response = tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .map_err(|s| s.message().to_owned())?;
        Ok::<i32, String>(response.into_inner().status)
    };
    let code = match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(status))
            if status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 =>
        {
            println!("SERVING");
            return Some(std::process::ExitCode::SUCCESS);
        }
        Ok(Ok(status)) => format!("status {status}"),
        Ok(Err(e)) => e,
        Err(_) => "timed out".to_owned(),
    };
    eprintln!("not serving at {addr}: {code}");
    Some(std::process::ExitCode::FAILURE)
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
