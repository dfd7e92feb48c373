use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    if let Some(code) = common::server::healthcheck_command("127.0.0.1:50051").await {
        return code;
    }
    let _logs = common::telemetry::init("auth-service");
    let config = auth_service::Config::parse();
    common::server::main("auth-service", auth_service::startup::build(config)).await
}
