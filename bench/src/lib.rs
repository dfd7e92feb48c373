//! The load benchmark suite of todo-grpc (see `BENCHMARKS.md` at the top of the
//! repository for what it measures and the figures).
//!
//! - [`echo`]: a `todo.v1.TodoService` that answers from memory, served bare (the floor
//!   on this machine), behind the real interceptor, or inside the real server shell.
//! - [`drive`]: a closed-loop load driver: N concurrent callers for a fixed time, with
//!   latencies of every call completed inside the measured window.
//! - [`procs`]: child processes (the real service binaries), their CPU time and memory.
//! - [`stats`]: percentiles and medians.

pub mod drive;
pub mod echo;
pub mod procs;
pub mod stats;

/// The HS256 secret every process of the suite shares (32+ bytes).
pub const SECRET: &str = "bench-secret-0123456789abcdef-0123456789abcdef";

/// Title and description of every todo the suite creates; the echo server answers
/// with todos of the same sizes, so the floor moves the same bytes.
pub const TITLE: &str = "benchmark todo: buy milk";
pub const DESCRIPTION: &str = "two litres, semi-skimmed, from the corner shop";
