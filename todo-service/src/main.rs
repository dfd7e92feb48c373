use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    if let Some(code) = common::server::healthcheck_command("127.0.0.1:50052").await {
        return code;
    }
    let _logs = common::telemetry::init("todo-service");
    let config = todo_service::Config::parse();
    common::server::main("todo-service", todo_service::startup::build(config)).await
}
