//! todo-service configuration: flags with environment fallbacks, names as in the contract.

use std::{net::SocketAddr, path::PathBuf};

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
    /// Token keys and claims (`JWT_*`): the auth-service's, to verify its tokens.
    #[command(flatten)]
    pub jwt: JwtArgs,
    /// Pool, limits, CORS, TLS and metrics settings, shared with the auth-service.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Todos one user may have at once; past it CreateTodo is RESOURCE_EXHAUSTED.
    #[arg(long, env = "MAX_TODOS_PER_USER", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_todos_per_user: u32,
    /// Todos one user may create per minute (a burst of as many, then evenly spread);
    /// past it CreateTodo is RESOURCE_EXHAUSTED with a RetryInfo. At most 60,000,000:
    /// the schedule counts in microseconds, and a faster rate would round to a spacing
    /// of zero, which refuses concurrent creates instead of allowing them.
    #[arg(long, env = "MAX_TODO_CREATES_PER_MINUTE", default_value_t = 120,
          value_parser = clap::value_parser!(u32).range(1..=60_000_000))]
    pub max_todo_creates_per_minute: u32,
    /// The auth-service, for the revocation feed (e.g. `http://127.0.0.1:50051`). Without
    /// it, tokens revoked by LogoutAll or ChangePassword stay valid here until they expire.
    #[arg(long, env = "AUTH_SERVICE_URL")]
    pub auth_service_url: Option<String>,
    /// PEM CA certificates that issued the auth-service's certificate; needed when
    /// AUTH_SERVICE_URL is `https://`.
    #[arg(long, env = "AUTH_SERVICE_CA_FILE")]
    pub auth_service_ca_file: Option<PathBuf>,
    /// PEM client certificate presented to the auth-service (for its TLS_CLIENT_CA_FILE);
    /// re-read when the file changes.
    #[arg(
        long,
        env = "AUTH_SERVICE_CLIENT_CERT_FILE",
        requires = "auth_service_client_key_file"
    )]
    pub auth_service_client_cert_file: Option<PathBuf>,
    /// PEM private key of AUTH_SERVICE_CLIENT_CERT_FILE.
    #[arg(
        long,
        env = "AUTH_SERVICE_CLIENT_KEY_FILE",
        requires = "auth_service_client_cert_file"
    )]
    pub auth_service_client_key_file: Option<PathBuf>,
}

impl Config {
    /// TLS towards the auth-service, when AUTH_SERVICE_CA_FILE is set.
    pub fn auth_service_tls(&self) -> Result<Option<common::tls::ClientTls>, common::tls::TlsError> {
        let identity = common::tls::identity_files(
            self.auth_service_client_cert_file
                .as_ref()
                .map(|p| ("AUTH_SERVICE_CLIENT_CERT_FILE", p)),
            self.auth_service_client_key_file
                .as_ref()
                .map(|p| ("AUTH_SERVICE_CLIENT_KEY_FILE", p)),
        )?;
        match &self.auth_service_ca_file {
            Some(ca) => Ok(Some(common::tls::ClientTls::new(
                "AUTH_SERVICE_CA_FILE",
                ca,
                identity,
                self.server.tls.tls_reload_interval,
            )?)),
            None if identity.is_some() => Err(common::tls::TlsError::Config(
                "AUTH_SERVICE_CLIENT_CERT_FILE needs AUTH_SERVICE_CA_FILE (and an https:// AUTH_SERVICE_URL)"
                    .into(),
            )),
            None => Ok(None),
        }
    }

    /// The `MAX_TODOS_PER_USER` and `MAX_TODO_CREATES_PER_MINUTE` settings, for the store.
    pub fn create_limits(&self) -> crate::domain::CreateLimits {
        crate::domain::CreateLimits {
            max_todos: self.max_todos_per_user,
            creates_per_minute: self.max_todo_creates_per_minute,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Config;

    fn parse(rate: &str) -> Result<Config, clap::Error> {
        Config::try_parse_from([
            "todo-service",
            "--jwt-secret",
            "x",
            "--max-todo-creates-per-minute",
            rate,
        ])
    }

    #[test]
    fn a_creation_rate_finer_than_the_schedule_is_refused_at_start_up() {
        // Seen in the h2load benchmark: 1,000,000,000 a minute rounded the spacing to
        // 0 µs and refused a third of concurrent creates on PostgreSQL.
        assert!(parse("1000000000").is_err());
        assert!(parse("60000001").is_err());
        assert_eq!(parse("60000000").unwrap().create_limits().interval_micros(), 1);
        assert!(parse("0").is_err());
    }
}
