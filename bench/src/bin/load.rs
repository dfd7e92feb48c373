//! The load suite's command line: starts the real service binaries (and the echo floor)
//! on loopback, drives them, and prints one Markdown table (`bench::suite`).
//! `bench/run.sh` builds everything in release and runs it; see BENCHMARKS.md.
//!
//! Every process it starts is a child, killed when the suite ends or fails; every
//! database it creates (a temp directory, a PostgreSQL database) is removed.

use clap::Parser;

/// The todo-grpc load suite (loopback only).
#[derive(Parser, Debug)]
#[command(name = "load")]
struct Cli {
    #[command(flatten)]
    options: bench::options::Options,
}

fn main() -> std::process::ExitCode {
    let options = Cli::parse().options;
    let mut builder = if options.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(options.client_threads);
        b
    };
    let result = match builder.enable_all().build() {
        Ok(rt) => rt.block_on(bench::suite::run(options)),
        Err(e) => Err(format!("tokio runtime: {e}")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
