//! Test support shared by the services' integration tests.
//!
//! - [`Backend`] and [`TestDb`]: a fresh database per test, SQLite always, PostgreSQL
//!   when `TEST_POSTGRES_URL` is set (dropped again when the test ends).
//! - [`spawn_auth`]: a real auth-service on `127.0.0.1:0`, ready when it returns.
//! - [`ChildService`]: a service binary as a child process, on port 0.
//! - [`TcpProxy`]: stands between a service and its database or peer, and can be cut
//!   or stalled.
//! - [`call_raw`], [`reflected_methods`], [`jwt_claims`]: any method by name, the methods
//!   reflection lists, the claims of an issued token.
//! - [`mail`]: a real SMTP server for the tests, and the mails it received.
//! - [`both_backends!`]: runs one async test body against each backend.

#![warn(missing_docs)]

mod child;
mod grpc;
pub mod h2;
pub mod h2raw;
pub mod mail;
pub mod otlp;
mod proxy;
pub mod reflection;
pub mod tls;
pub mod web;

pub use child::{ChildService, ready_addr, ready_field};
pub use grpc::{call_raw, jwt_claims};
pub use proxy::{ProxyState, TcpProxy};
pub use reflection::{reflected_methods, reflected_services, reflected_services_v1};

use std::{net::SocketAddr, time::Duration};

use auth_service::Config as AuthConfig;
use clap::Parser;
use todo_grpc_proto::auth::v1::{self as authpb, auth_service_client::AuthServiceClient};
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::{Code, Status, transport::Channel};

/// The secret every test service shares (32+ bytes).
pub const TEST_SECRET: &str = "test-secret-0123456789abcdef-0123456789";

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory; always available.
    Sqlite,
    /// A fresh database on the server of `TEST_POSTGRES_URL`, which must be set.
    Postgres,
}

/// The PostgreSQL server URL for tests, from `TEST_POSTGRES_URL`.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())
}

/// Runs `$body(backend)` as one test per backend: `sqlite` always, `postgres` when
/// `TEST_POSTGRES_URL` is set (otherwise it prints why it is skipped).
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::postgres_url().is_none() {
                    eprintln!("skipped: TEST_POSTGRES_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)");
                    return;
                }
                super::$name($crate::Backend::Postgres).await;
            }
        }
    )*};
}

/// A database that exists for one test.
pub struct TestDb {
    /// The database's URL, for the service's `DATABASE_URL`.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A new empty database: a SQLite file in a temporary directory, or a `tg_<uuid>`
    /// database on the server of `TEST_POSTGRES_URL` (panics when that is unset or
    /// unreachable).
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_url().expect("TEST_POSTGRES_URL");
                Self::postgres_on(&admin)
                    .await
                    .expect("create a test database on TEST_POSTGRES_URL")
            }
        }
    }

    /// A new empty database on the PostgreSQL server of `admin` (a URL of any database
    /// there), dropped with the handle. Fails rather than panics, for the load
    /// benchmark, which goes on without PostgreSQL.
    pub async fn postgres_on(admin: &str) -> Result<Self, sqlx::Error> {
        let name = format!("tg_{}", uuid::Uuid::new_v4().simple());
        sqlx::any::install_default_drivers();
        // A server that does not answer fails in seconds, not at the TCP timeout.
        let mut conn = tokio::time::timeout(
            Duration::from_secs(5),
            <sqlx::AnyConnection as sqlx::Connection>::connect(admin),
        )
        .await
        .map_err(|_| {
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            ))
        })??;
        let created = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await;
        let _ = sqlx::Connection::close(conn).await;
        created?;
        Ok(Self::adopt_postgres(admin, &name))
    }

    /// The database `name` on the server of `admin`, made by someone else (the compose
    /// init script), dropped with the handle like one of ours.
    pub fn adopt_postgres(admin: &str, name: &str) -> Self {
        Self {
            url: replace_database(admin, name),
            _dir: None,
            postgres: Some((admin.to_owned(), name.to_owned())),
        }
    }

    /// The same database reached through `proxy` (PostgreSQL only).
    pub fn url_via(&self, proxy: SocketAddr) -> String {
        let url = &self.url;
        let scheme_end = url.find("://").map_or(0, |i| i + 3);
        let rest = &url[scheme_end..];
        let host_start = rest.find('@').map_or(0, |i| i + 1);
        let host_end = rest[host_start..]
            .find('/')
            .map_or(rest.len(), |i| host_start + i);
        format!(
            "{}{}{}{}",
            &url[..scheme_end],
            &rest[..host_start],
            proxy,
            &rest[host_end..]
        )
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            // Drop runs inside the test's runtime: do the async work on a thread of its own.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                    return;
                };
                // An adopted database may be the first this process touches.
                sqlx::any::install_default_drivers();
                rt.block_on(async move {
                    if let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await {
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// A service running on a random loopback port until dropped.
pub struct Running {
    /// Where it serves gRPC and gRPC-Web (`127.0.0.1`, a port the system chose).
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when `METRICS_ADDR` was set (port 0 is fine).
    pub metrics_addr: Option<SocketAddr>,
    /// The plaintext health-only port, when `HEALTH_ADDR` was set (port 0 is fine).
    pub health_addr: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    /// `http://` and [`addr`](Self::addr): what a tonic channel or `AUTH_SERVICE_URL` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks the server to shut down gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Runs a built application; `run` is its `run_until_stopped`.
pub fn run<F>(addr: SocketAddr, run: impl FnOnce(oneshot::Receiver<()>) -> F) -> Running
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (stop, rx) = oneshot::channel();
    let task = tokio::spawn(run(rx));
    Running {
        addr,
        metrics_addr: None,
        health_addr: None,
        stop: Some(stop),
        task: Some(task),
    }
}

/// auth-service configuration for tests: loopback port 0, the test secret, `db`.
pub fn auth_config(db_url: &str) -> AuthConfig {
    let mut config = AuthConfig::parse_from(["auth-service", "--jwt-secret", TEST_SECRET]);
    config.listen_addr = "127.0.0.1:0".parse().expect("addr");
    config.database_url = db_url.to_owned();
    config.jwt.jwt_secret_file = None;
    config.jwt.jwt_previous_secrets = vec![];
    config.jwt.jwt_issuer = "todo-grpc-auth".into();
    config.jwt.jwt_audience = "todo-grpc".into();
    config
}

/// Sends the services' logs to the test output (shown for failing tests only);
/// `RUST_LOG` filters, default `warn`.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Starts an auth-service and waits until it answers.
pub async fn spawn_auth(config: AuthConfig) -> Running {
    let running = start_auth(config).await;
    wait_serving(running.addr, "").await;
    running
}

/// Starts an auth-service serving TLS and waits until it answers over `tls`.
pub async fn spawn_auth_tls(config: AuthConfig, tls: &common::tls::ClientTls) -> Running {
    let running = start_auth(config).await;
    tls::wait_serving(running.addr, tls).await;
    running
}

async fn start_auth(config: AuthConfig) -> Running {
    init_logs();
    let app = auth_service::startup::build(config)
        .await
        .expect("auth-service starts");
    run_app(app)
}

/// Runs a built application until the returned handle is stopped or dropped.
pub fn run_app(app: common::server::Application) -> Running {
    let (metrics_addr, health_addr) = (app.metrics_addr(), app.health_addr());
    let mut running = run(app.local_addr(), |rx| async move {
        let _ = app
            .run_until_stopped(async move {
                let _ = rx.await;
            })
            .await;
    });
    running.metrics_addr = metrics_addr;
    running.health_addr = health_addr;
    running
}

/// todo-service configuration for tests: loopback port 0, the test secret, `db`.
pub fn todo_config(db_url: &str) -> todo_service::Config {
    let mut config = todo_service::Config::parse_from(["todo-service", "--jwt-secret", TEST_SECRET]);
    config.listen_addr = "127.0.0.1:0".parse().expect("addr");
    config.database_url = db_url.to_owned();
    config.jwt = auth_config(db_url).jwt;
    config
}

/// Starts a todo-service and waits until it answers.
pub async fn spawn_todo(config: todo_service::Config) -> Running {
    init_logs();
    let app = todo_service::startup::build(config)
        .await
        .expect("todo-service starts");
    let running = run_app(app);
    wait_serving(running.addr, todo_service::SERVICE_NAME).await;
    running
}

/// Starts a todo-service serving TLS and waits until it answers over `tls`.
pub async fn spawn_todo_tls(config: todo_service::Config, tls: &common::tls::ClientTls) -> Running {
    init_logs();
    let app = todo_service::startup::build(config)
        .await
        .expect("todo-service starts");
    let running = run_app(app);
    tls::wait_serving(running.addr, tls).await;
    running
}

/// A channel to `addr`.
pub async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}

/// Polls `grpc.health.v1` until `service` is SERVING (up to 10 s).
pub async fn wait_serving(addr: SocketAddr, service: &str) {
    wait_health(
        addr,
        service,
        tonic_health::pb::health_check_response::ServingStatus::Serving,
    )
    .await;
}

/// Polls `grpc.health.v1` until `service` reports `want` (up to 10 s).
pub async fn wait_health(
    addr: SocketAddr,
    service: &str,
    want: tonic_health::pb::health_check_response::ServingStatus,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        if let Ok(ch) = Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
        {
            let mut client = tonic_health::pb::health_client::HealthClient::new(ch);
            let res = client
                .check(tonic_health::pb::HealthCheckRequest {
                    service: service.to_owned(),
                })
                .await;
            match res {
                Ok(r) if r.get_ref().status == want as i32 => return,
                other => last = Some(format!("{other:?}")),
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{addr} never reported {want:?} for {service:?}; last: {last:?}");
}

/// An auth client.
pub async fn auth_client(addr: SocketAddr) -> AuthServiceClient<Channel> {
    AuthServiceClient::new(channel(addr).await)
}

/// Adds `authorization: Bearer <token>` to a request.
pub fn bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

/// Registers `username` and logs in, returning the token pair.
pub async fn register_and_login(
    client: &mut AuthServiceClient<Channel>,
    username: &str,
    password: &str,
) -> authpb::TokenPair {
    client
        .register(authpb::RegisterRequest {
            username: username.into(),
            password: password.into(),
            ..Default::default()
        })
        .await
        .expect("register");
    client
        .login(authpb::LoginRequest {
            username: username.into(),
            password: password.into(),
        })
        .await
        .expect("login")
        .into_inner()
}

/// The path of one of the workspace's binaries (`auth-service`, `todo-service`), for a
/// test of another crate: `cargo test --workspace` builds them into the directory above
/// the test executable's (`target/debug/deps/..` -> `target/debug/`).
pub fn workspace_binary(name: &str) -> String {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (it builds every binary)",
        path.display()
    );
    path.display().to_string()
}

/// The `host:port` of a PostgreSQL URL, for [`TcpProxy::start`].
pub async fn postgres_addr(url: &str) -> SocketAddr {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[scheme_end..];
    let host_start = rest.find('@').map_or(0, |i| i + 1);
    let host_end = rest[host_start..]
        .find(['/', '?'])
        .map_or(rest.len(), |i| host_start + i);
    let mut host = rest[host_start..host_end].to_owned();
    if !host.contains(':') {
        host.push_str(":5432");
    }
    tokio::net::lookup_host(host)
        .await
        .expect("resolve postgres host")
        .next()
        .expect("postgres address")
}

/// Asserts the code, and that the message contains `needle`.
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, needle: &str) -> Status {
    let status = result.expect_err("call should fail");
    assert_eq!(status.code(), code, "unexpected status: {status:?}");
    assert!(
        status.message().contains(needle),
        "message {:?} does not contain {needle:?}",
        status.message()
    );
    status
}
