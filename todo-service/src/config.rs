//! todo-service configuration: flags with environment fallbacks, names as in the contract.

use std::net::SocketAddr;

use clap::Parser;
use common::config::{JwtArgs, ServerArgs};

/// todo.v1.TodoService: each user's todos, behind JWT verification.
#[derive(Parser, Clone, Debug)]
#[command(name = "todo-service", version, about)]
pub struct Config {
    /// Address to serve gRPC and gRPC-Web on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:50052")]
    pub listen_addr: SocketAddr,
    /// `sqlite://FILE` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://todo.db")]
    pub database_url: String,
    #[command(flatten)]
    pub jwt: JwtArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    /// The auth-service, for the revocation feed (e.g. `http://127.0.0.1:50051`). Without
    /// it, tokens revoked by LogoutAll or ChangePassword stay valid here until they expire.
    #[arg(long, env = "AUTH_SERVICE_URL")]
    pub auth_service_url: Option<String>,
}
