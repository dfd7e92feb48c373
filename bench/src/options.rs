//! The suite's settings: the load tool's flags (`target/release/load --help`).

use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// Where auth-service, todo-service and echo are (default: beside this binary).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Measured runs per cell; the table shows their medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Length of one measured run, in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub secs: f64,
    /// Warm-up before each run, in seconds (doubled before a cell's first run).
    #[arg(long, default_value_t = 0.5)]
    pub warmup: f64,
    /// Calls of the floor comparison: get (GetTodo), list (ListTodos, page of 20).
    #[arg(long, value_delimiter = ',', default_value = "get,list")]
    pub floor_calls: Vec<String>,
    /// Concurrent streams for the floor comparison.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub concurrency: Vec<usize>,
    /// Sections to run: floor, web, create, pool, login, list (comma list).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "floor,web,create,pool,login,list"
    )]
    pub only: Vec<String>,
    /// PostgreSQL server; a fresh database is created on it and dropped. `none` skips.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub postgres_url: String,
    /// Rows in the large table of the ListTodos comparison.
    #[arg(long, default_value_t = 1_000_000)]
    pub big_rows: usize,
    /// Rows per user in the ListTodos comparison.
    #[arg(long, default_value_t = 500)]
    pub rows_per_user: usize,
    /// Concurrent Login calls in the login flood.
    #[arg(long, default_value_t = 8)]
    pub login_concurrency: usize,
    /// Criterion's output directory (target/criterion), for the micro benchmark rows.
    #[arg(long)]
    pub criterion_dir: Option<PathBuf>,
    /// Worker threads of the load tool's runtime (1: a current-thread runtime, so the
    /// servers keep at least one of the two cores).
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// Keep the run directory (databases, service logs) instead of deleting it.
    #[arg(long)]
    pub keep: bool,
    /// Extra KEY=VALUE environment for the auth-service (repeatable), for experiments
    /// such as `MAX_CONCURRENT_HASHES=1`.
    #[arg(long)]
    pub auth_env: Vec<String>,
    /// Extra KEY=VALUE environment for the todo-services (repeatable).
    #[arg(long)]
    pub todo_env: Vec<String>,
    /// NAME=COMMAND: run the process NAME (as in the progress lines: todo-sqlite,
    /// echo-bare, echo-auth, echo-shell, auth-sqlite, ...) under COMMAND, split on
    /// spaces, e.g. `todo-sqlite=valgrind --tool=callgrind --callgrind-out-file=/tmp/todo.cg`
    /// (repeatable; for profiles, whose figures are then not the table's).
    #[arg(long)]
    pub wrap: Vec<String>,
}
