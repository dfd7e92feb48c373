use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::telemetry::init();
    let config = todo_service::Config::parse();
    common::server::main("todo-service", todo_service::startup::build(config)).await
}
