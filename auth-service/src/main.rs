use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::telemetry::init();
    let config = auth_service::Config::parse();
    common::server::main("auth-service", auth_service::startup::build(config)).await
}
