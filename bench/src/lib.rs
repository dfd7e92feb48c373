//! The load benchmark suite of todo-grpc (see `BENCHMARKS.md` at the top of the
//! repository for what it measures and the figures). `bin/load.rs` is its command line.
//!
//! - [`options`]: the suite's settings (the load tool's flags).
//! - [`suite`]: runs the sections and records their figures: starts the processes,
//!   interleaves the cells of a table, keeps the medians.
//! - [`sections`]: what each section measures (floor, web, create, pool, login, list).
//! - [`callers`]: the calls a cell repeats: tonic clients, gRPC-Web over HTTP/1.1, the
//!   todo-service's store through a pool in this process.
//! - [`drive`]: a closed-loop load driver: N concurrent callers for a fixed time, with
//!   latencies of every call completed inside the measured window.
//! - [`echo`]: a `todo.v1.TodoService` that answers from memory, served bare (the floor
//!   on this machine), behind the real interceptor, or inside the real server shell.
//! - [`postgres`]: a fresh PostgreSQL database per section (testkit's `TestDb`).
//! - [`bulk`]: the large SQLite table of the list section, loaded in bulk.
//! - [`plan`]: SQLite's plan for the store's first-page query.
//! - [`argon2_bound`]: argon2id alone, the bound a Login flood is measured against.
//! - [`report`]: the figures and the Markdown report of them.
//! - [`host`]: the machine: CPU, memory, load, stolen time.
//! - [`procs`]: child processes (the real service binaries), their CPU time and memory.
//! - [`stats`]: percentiles and medians.

pub mod argon2_bound;
pub mod bulk;
pub mod callers;
pub mod drive;
pub mod echo;
pub mod host;
pub mod options;
pub mod plan;
pub mod postgres;
pub mod procs;
pub mod report;
pub mod sections;
pub mod stats;
pub mod suite;

/// The HS256 secret every process of the suite shares (32+ bytes).
pub const SECRET: &str = "bench-secret-0123456789abcdef-0123456789abcdef";

/// Title and description of every todo the suite creates; the echo server answers
/// with todos of the same sizes, so the floor moves the same bytes.
pub const TITLE: &str = "benchmark todo: buy milk";
pub const DESCRIPTION: &str = "two litres, semi-skimmed, from the corner shop";

/// The suite's errors are messages for the person running it.
pub type Res<T> = Result<T, String>;

/// `what: error`, for `map_err`.
pub fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}
