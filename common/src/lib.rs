//! What auth-service and todo-service share, so each rule exists once.
//!
//! # Layout
//! - [`token`]: access-token claims, signing and verification (HS256 pinned, `kid`, key rotation).
//! - [`bearer`]: the `authorization: Bearer` header, and the one authentication layer both services run.
//! - [`client_addr`]: the client's address behind trusted proxies, and its throttling bucket.
//! - [`compression`]: gzip and zstd on every service, responses compressed when large enough.
//! - [`config`]: flags and environment names both services use, secrets, durations.
//! - [`db`]: sqlx pool set-up for SQLite and PostgreSQL, and how database errors become statuses.
//! - [`deadline`]: the caller's `grpc-timeout`, ending in `DEADLINE_EXCEEDED`.
//! - [`health`]: `grpc.health.v1`, with `Watch` as the protocol describes it.
//! - [`http1`]: what a plain HTTP/1.1 request gets on the gRPC port.
//! - [`observe`]: per-call span, log line, metrics and request id.
//! - [`reflection`]: reflection v1 and v1alpha from one index, errors answered in the stream.
//! - [`server`]: the gRPC server shell: gRPC-Web, CORS, health, reflection, graceful shutdown.
//! - [`status`]: `INVALID_ARGUMENT` with a `BadRequest` detail.
//! - [`telemetry`]: `tracing` set-up.
//! - [`time`]: the clock and timestamp conversions used by storage.
//! - [`tls`]: TLS and mTLS on the service port, certificate reloading, the TLS client between the services.

pub mod bearer;
pub mod client_addr;
pub mod compression;
pub mod config;
pub mod db;
pub mod deadline;
pub mod health;
pub mod http1;
pub mod observe;
pub mod reflection;
pub mod server;
pub mod status;
pub mod telemetry;
pub mod time;
pub mod tls;
pub mod token;
