//! What auth-service and todo-service share, so each rule exists once.
//!
//! # Layout
//! - [`token`]: access-token claims, signing and verification (HS256 pinned, `kid`, key rotation).
//! - [`bearer`]: the `authorization: Bearer` header, and the one authentication layer both services run.
//! - [`client_addr`]: the client's address behind trusted proxies, and its throttling bucket.
//! - [`config`]: flags and environment names both services use, secrets, durations.
//! - [`db`]: sqlx pool set-up for SQLite and PostgreSQL, and how database errors become statuses.
//! - [`observe`]: per-call span, log line, metrics and request id.
//! - [`server`]: the gRPC server shell: gRPC-Web, CORS, health, reflection, graceful shutdown.
//! - [`status`]: `INVALID_ARGUMENT` with a `BadRequest` detail.
//! - [`telemetry`]: `tracing` set-up.
//! - [`time`]: the clock and timestamp conversions used by storage.
//! - [`tls`]: TLS and mTLS on the service port, certificate reloading, the TLS client between the services.

pub mod bearer;
pub mod client_addr;
pub mod config;
pub mod db;
pub mod observe;
pub mod server;
pub mod status;
pub mod telemetry;
pub mod time;
pub mod tls;
pub mod token;
