//! What auth-service and todo-service share, so each rule exists once.
//!
//! # Layout
//! - [`bearer`]: the `authorization: Bearer` header, and the one authentication layer both services run.
//! - [`client_addr`]: the client's address behind trusted proxies, and its throttling bucket.
//! - [`compression`]: gzip and zstd on every service, responses compressed when large enough.
//! - [`config`]: flags and environment names both services use, secrets, durations.
//! - [`cors`]: the browser origins allowed over gRPC-Web, and what they may send and read.
//! - [`db`]: sqlx pool set-up for SQLite and PostgreSQL, and the write transaction.
//! - [`error`]: where an error becomes a `Status`: the cases both services share, and the transport's codes rewritten.
//! - [`deadline`]: the caller's `grpc-timeout`, ending in `DEADLINE_EXCEEDED`.
//! - [`health`]: `grpc.health.v1`, with `Watch` as the protocol describes it.
//! - [`http1`]: what a plain HTTP/1.1 request gets on the gRPC port.
//! - [`observe`]: per-call span, log line, metrics and request id.
//! - [`reflection`]: reflection v1 and v1alpha from one index, errors answered in the stream.
//! - [`sqlite_reads`]: SQLite reads on the calling thread, beside the sqlx pool that writes.
//! - [`server`]: the gRPC server shell: gRPC-Web, CORS, health, reflection, graceful shutdown.
//! - [`telemetry`]: `tracing` set-up.
//! - [`trace`]: OpenTelemetry spans over OTLP when configured; `traceparent` in and out.
//! - [`time`]: the clock and timestamp conversions used by storage.
//! - [`tls`]: TLS and mTLS on the service port, certificate reloading, the TLS client between the services.
//! - [`violation`]: a request field that broke a rule (domain code's refusal, no gRPC).
//!
//! Token rules live in the `token` crate, the clock in `clock`: neither needs a server.

#![warn(missing_docs)]

pub mod bearer;
pub mod client_addr;
pub mod compression;
pub mod config;
pub mod cors;
pub mod db;
pub mod deadline;
pub mod error;
pub mod health;
pub mod http1;
pub mod observe;
pub mod reflection;
pub mod server;
pub mod sqlite_reads;
pub mod telemetry;
pub mod time;
pub mod tls;
pub mod trace;
pub mod violation;
