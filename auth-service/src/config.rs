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
    /// Token keys and claims (`JWT_*`), shared with the todo-service.
    #[command(flatten)]
    pub jwt: JwtArgs,
    /// Pool, limits, CORS, TLS and metrics settings, shared with the todo-service.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Mail delivery, link templates and mail limits.
    #[command(flatten)]
    pub mail: crate::mail::MailArgs,
    /// Access-token lifetime (`900`, `15m`).
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,
    /// Refresh-token lifetime, renewed at each rotation up to SESSION_MAX_LIFETIME.
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value = "30d", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,
    /// Absolute session lifetime from login: no refresh after it, however often rotated.
    #[arg(long, env = "SESSION_MAX_LIFETIME", default_value = "90d", value_parser = parse_duration)]
    pub session_max_lifetime: Duration,
    /// Password hashes computed at once (default: the number of cores).
    #[arg(long, env = "MAX_CONCURRENT_HASHES")]
    pub max_concurrent_hashes: Option<usize>,
    /// Calls that may wait for a hashing slot; more fail at once with RESOURCE_EXHAUSTED.
    #[arg(long, env = "MAX_HASH_QUEUE", default_value_t = 32)]
    pub max_hash_queue: usize,
    /// How long a login waits for a hashing slot before RESOURCE_EXHAUSTED.
    #[arg(long, env = "HASH_QUEUE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub hash_queue_timeout: Duration,
    /// argon2id memory cost in KiB (OWASP minimum 19456).
    #[arg(long, env = "ARGON2_MEMORY_KIB", default_value_t = 19456, value_parser = clap::value_parser!(u32).range(19456..))]
    pub argon2_memory_kib: u32,
    /// argon2id iterations (OWASP minimum 2 at 19 MiB).
    #[arg(long, env = "ARGON2_ITERATIONS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(2..))]
    pub argon2_iterations: u32,
    /// Failed logins per username within the window before a lock-out.
    #[arg(long, env = "LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,
    /// Failed logins per client address within the window before a lock-out.
    #[arg(long, env = "LOGIN_MAX_FAILURES_PER_ADDRESS", default_value_t = 50)]
    pub login_max_failures_per_address: u32,
    /// The window failures are counted in.
    #[arg(long, env = "LOGIN_FAILURE_WINDOW", default_value = "15m", value_parser = parse_duration)]
    pub login_failure_window: Duration,
    /// The first lock-out; each further one doubles it.
    #[arg(long, env = "LOGIN_LOCKOUT", default_value = "1m", value_parser = parse_duration)]
    pub login_lockout: Duration,
    /// The longest lock-out.
    #[arg(long, env = "LOGIN_LOCKOUT_MAX", default_value = "1h", value_parser = parse_duration)]
    pub login_lockout_max: Duration,
    /// Registrations per client address within REGISTER_WINDOW.
    #[arg(long, env = "REGISTER_MAX_PER_ADDRESS", default_value_t = 20)]
    pub register_max_per_address: u32,
    /// The window registrations are counted in.
    #[arg(long, env = "REGISTER_WINDOW", default_value = "1h", value_parser = parse_duration)]
    pub register_window: Duration,
    /// Comma list of proxies (CIDRs or addresses) whose `forwarded` / `x-forwarded-for`
    /// headers name the client; from any other peer those headers are ignored.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', value_parser = common::client_addr::parse_net)]
    pub trusted_proxies: Vec<common::client_addr::IpNet>,
    /// How often expired throttle rows, refresh tokens and sessions are deleted.
    #[arg(long, env = "PRUNE_INTERVAL", default_value = "10m", value_parser = parse_duration)]
    pub prune_interval: Duration,
    /// How long security events are kept before the pruner deletes them.
    #[arg(long, env = "SECURITY_EVENT_RETENTION", default_value = "90d", value_parser = parse_duration)]
    pub security_event_retention: Duration,
}

impl Config {
    /// The `LOGIN_*` and `REGISTER_*` settings, for [`crate::throttle::Throttle`].
    pub fn throttle(&self) -> crate::throttle::ThrottleSettings {
        crate::throttle::ThrottleSettings {
            max_failures: self.login_max_failures,
            max_failures_per_address: self.login_max_failures_per_address,
            window: self.login_failure_window,
            lockout: self.login_lockout,
            max_lockout: self.login_lockout_max,
            max_registrations_per_address: self.register_max_per_address,
            registration_window: self.register_window,
        }
    }

    /// What the pruner keeps: whatever a rule of the throttle or the tokens still needs.
    pub fn prune(&self) -> crate::prune::PruneSettings {
        crate::prune::PruneSettings {
            throttle_window: self
                .login_failure_window
                .max(self.register_window)
                .max(crate::mail::MAIL_WINDOW),
            lockout_memory: crate::throttle::LOCKOUT_MEMORY,
            token_horizon: self.revocation_horizon(),
            event_retention: self.security_event_retention,
            batch: crate::prune::BATCH,
        }
    }

    /// Every access token issued before an instant has expired this long after it.
    pub fn revocation_horizon(&self) -> Duration {
        self.access_token_ttl + Duration::from_secs(token::LEEWAY_SECS + 5)
    }
}
