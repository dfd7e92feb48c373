//! Configuration both services read, by flag or by the environment name of the contract.
//! Secrets are only ever read here, checked, and wrapped so they cannot be printed.

use std::{path::PathBuf, time::Duration};

use token::{AccessTokens, Clock, JwtSecret, SecretTooShort, TokenSettings};

/// Token keys and claims checked by both services.
#[derive(clap::Args, Clone)]
pub struct JwtArgs {
    /// HS256 signing secret, at least 32 bytes. Prefer JWT_SECRET_FILE: a flag shows in `ps`.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// File holding the signing secret (one trailing newline is ignored).
    #[arg(long, env = "JWT_SECRET_FILE", conflicts_with = "jwt_secret")]
    pub jwt_secret_file: Option<PathBuf>,
    /// Comma-separated secrets still accepted for verification during a key rotation.
    #[arg(
        long,
        env = "JWT_PREVIOUS_SECRETS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub jwt_previous_secrets: Vec<String>,
    /// `iss` claim issued and required.
    #[arg(long, env = "JWT_ISSUER", default_value = "todo-grpc-auth")]
    pub jwt_issuer: String,
    /// `aud` claim issued and required.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "todo-grpc")]
    pub jwt_audience: String,
}

impl std::fmt::Debug for JwtArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtArgs")
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<redacted>"))
            .field("jwt_secret_file", &self.jwt_secret_file)
            .field("jwt_previous_secrets", &self.jwt_previous_secrets.len())
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .finish()
    }
}

/// A configuration problem that stops start-up. Messages never contain secret values.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `JWT_SECRET` nor `JWT_SECRET_FILE` is set (or the former is empty).
    #[error(
        "no JWT secret: set JWT_SECRET or JWT_SECRET_FILE to at least 32 random bytes \
         (for example: openssl rand -base64 48)"
    )]
    MissingSecret,
    /// The signing secret (from `JWT_SECRET` or its file) is under 32 bytes.
    #[error("JWT_SECRET is too short: {0} (for example: openssl rand -base64 48)")]
    ShortSecret(SecretTooShort),
    /// One of `JWT_PREVIOUS_SECRETS` is under 32 bytes.
    #[error("JWT_PREVIOUS_SECRETS entry {index} is too short: {source}")]
    ShortPreviousSecret {
        /// Position of the entry in the list, from 0, empty entries skipped (never
        /// the secret itself).
        index: usize,
        /// How short it is.
        source: SecretTooShort,
    },
    /// `JWT_SECRET_FILE` cannot be read.
    #[error("cannot read JWT_SECRET_FILE {path}: {source}")]
    SecretFile {
        /// The file as configured.
        path: PathBuf,
        /// Why reading it failed.
        source: std::io::Error,
    },
    /// Any other unusable setting; the message names the setting (such as a bad
    /// `CORS_ALLOWED_ORIGINS` entry).
    #[error("{0}")]
    Invalid(String),
}

/// The keys read from the configuration, and the token rules built from them.
pub struct Keys {
    /// Signs every token; also names it (`kid`) in the ready line.
    pub secret: JwtSecret,
    /// Still verify, during a key rotation; other keys (page tokens) derive from them too.
    pub previous: Vec<JwtSecret>,
    /// Issues and verifies access tokens with the keys above.
    pub tokens: std::sync::Arc<AccessTokens>,
}

impl JwtArgs {
    /// The keys, and access tokens of lifetime `access_ttl` that tell time by `clock`.
    pub fn keys(&self, access_ttl: Duration, clock: &Clock) -> Result<Keys, ConfigError> {
        let (secret, previous) = self.secrets()?;
        let tokens = AccessTokens::new(
            &secret,
            &previous,
            TokenSettings {
                issuer: self.jwt_issuer.clone(),
                audience: self.jwt_audience.clone(),
                access_ttl,
            },
        )
        .with_clock(clock.clone());
        Ok(Keys {
            secret,
            previous,
            tokens: std::sync::Arc::new(tokens),
        })
    }

    /// The signing secret and the previous ones, all checked for length.
    pub fn secrets(&self) -> Result<(JwtSecret, Vec<JwtSecret>), ConfigError> {
        let current = match (&self.jwt_secret, &self.jwt_secret_file) {
            (Some(s), _) if !s.is_empty() => s.as_bytes().to_vec(),
            (_, Some(path)) => {
                let mut bytes = std::fs::read(path).map_err(|source| ConfigError::SecretFile {
                    path: path.clone(),
                    source,
                })?;
                if bytes.ends_with(b"\n") {
                    bytes.pop();
                    if bytes.ends_with(b"\r") {
                        bytes.pop();
                    }
                }
                bytes
            }
            _ => return Err(ConfigError::MissingSecret),
        };
        let current = JwtSecret::new(current).map_err(ConfigError::ShortSecret)?;
        let previous = self
            .jwt_previous_secrets
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(index, s)| {
                JwtSecret::new(s.as_bytes().to_vec())
                    .map_err(|source| ConfigError::ShortPreviousSecret { index, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((current, previous))
    }
}

/// Default of `MAX_CONCURRENT_STREAMS`: far more than one client multiplexes in practice
/// (grpc-go's default is 100), few enough that one connection cannot hold the server.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 256;

/// Server and pool settings with the same meaning in both services.
#[derive(clap::Args, Clone, Debug)]
pub struct ServerArgs {
    /// Comma-separated browser origins allowed to call over gRPC-Web (CORS); none by default.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,
    /// Largest database pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,
    /// How long a call waits for a database connection before failing with UNAVAILABLE.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub database_acquire_timeout: Duration,
    /// Serve Prometheus metrics at http://METRICS_ADDR/metrics (off when unset).
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Calls in flight at once, over all connections; past it calls fail fast with
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "MAX_IN_FLIGHT_REQUESTS", default_value_t = 1024)]
    pub max_in_flight_requests: usize,
    /// HTTP/2 streams one connection may have open at once (advertised in SETTINGS);
    /// streams past it are refused.
    #[arg(long, env = "MAX_CONCURRENT_STREAMS", default_value_t = DEFAULT_MAX_CONCURRENT_STREAMS)]
    pub max_concurrent_streams: u32,
    /// How long shutdown waits for in-flight calls.
    #[arg(long, env = "SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// TLS on the service port and the plaintext health port (`TLS_*`, `HEALTH_ADDR`).
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
    /// The wall clock of every timed rule; the system's, except in tests.
    #[arg(skip)]
    pub clock: Clock,
}

impl ServerArgs {
    /// The `DATABASE_MAX_CONNECTIONS` and `DATABASE_ACQUIRE_TIMEOUT` settings, for
    /// [`crate::db::connect`].
    pub fn pool_settings(&self) -> crate::db::PoolSettings {
        crate::db::PoolSettings {
            max_connections: self.database_max_connections,
            acquire_timeout: self.database_acquire_timeout,
        }
    }
}

/// Parses `90` (seconds) or a humantime duration such as `15m`, `30d`, `1h 30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 900, 15m, 30d)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("30d").unwrap(), Duration::from_secs(30 * 86400));
        assert!(parse_duration("soon").is_err());
    }

    fn args(secret: Option<&str>) -> JwtArgs {
        JwtArgs {
            jwt_secret: secret.map(str::to_owned),
            jwt_secret_file: None,
            jwt_previous_secrets: vec![],
            jwt_issuer: "i".into(),
            jwt_audience: "a".into(),
        }
    }

    #[test]
    fn secrets_are_checked_and_not_echoed() {
        assert!(matches!(args(None).secrets(), Err(ConfigError::MissingSecret)));
        let err = args(Some("short-secret-value"))
            .secrets()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("short-secret-value"), "{err}");
        assert!(args(Some(&"k".repeat(32))).secrets().is_ok());
        assert!(!format!("{:?}", args(Some("hidden-secret"))).contains("hidden-secret"));
    }

    #[test]
    fn secret_file_trailing_newline_ignored() {
        let dir = std::env::temp_dir().join(format!("jwt-secret-{}", std::process::id()));
        std::fs::write(&dir, format!("{}\n", "s".repeat(32))).unwrap();
        let mut a = args(None);
        a.jwt_secret_file = Some(dir.clone());
        let (secret, _) = a.secrets().unwrap();
        assert_eq!(secret.key_id(), JwtSecret::new(vec![b's'; 32]).unwrap().key_id());
        let _ = std::fs::remove_file(dir);
    }
}
