//! auth-service configuration: flags with environment fallbacks, names as in the contract.

use std::{net::SocketAddr, time::Duration};

use clap::Parser;
use common::config::{JwtArgs, ServerArgs, parse_duration};

/// auth.v1.AuthService: users, passwords, access and refresh tokens.
#[derive(Parser, Clone, Debug)]
#[command(name = "auth-service", version, about)]
pub struct Config {
    /// Address to serve gRPC and gRPC-Web on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:50051")]
    pub listen_addr: SocketAddr,
    /// `sqlite://FILE` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://auth.db")]
    pub database_url: String,
    #[command(flatten)]
    pub jwt: JwtArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Access-token lifetime (`900`, `15m`).
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,
    /// Refresh-token lifetime, renewed at each rotation.
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value = "30d", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,
    /// Password hashes computed at once (default: the number of cores).
    #[arg(long, env = "MAX_CONCURRENT_HASHES")]
    pub max_concurrent_hashes: Option<usize>,
    /// How long a login waits for a hashing slot before RESOURCE_EXHAUSTED.
    #[arg(long, env = "HASH_QUEUE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub hash_queue_timeout: Duration,
    /// argon2id memory cost in KiB (OWASP minimum 19456).
    #[arg(long, env = "ARGON2_MEMORY_KIB", default_value_t = 19456, value_parser = clap::value_parser!(u32).range(19456..))]
    pub argon2_memory_kib: u32,
    /// argon2id iterations (OWASP minimum 2 at 19 MiB).
    #[arg(long, env = "ARGON2_ITERATIONS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(2..))]
    pub argon2_iterations: u32,
}
