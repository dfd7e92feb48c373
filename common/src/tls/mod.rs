//! TLS for the service port (gRPC and gRPC-Web alike), client certificates (mTLS), and
//! the TLS client the todo-service uses to reach the auth-service. rustls with ring; no
//! OpenSSL. Certificates and keys are re-read when their files change.

mod client;
mod files;
mod server;

use std::{path::PathBuf, time::Duration};

pub use client::{ClientTls, identity_files};
pub use files::{KeyPairFiles, ReloadingKey, TlsError, provider};
pub use server::{Conn, HealthOnly, ServerTls, incoming};

/// TLS settings of the service port, the same in both services.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TlsArgs {
    /// PEM certificate chain (leaf first) for the service port; with TLS_KEY_FILE it turns
    /// TLS on for gRPC and gRPC-Web. Plaintext when unset. Re-read when the file changes.
    #[arg(long, env = "TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of TLS_CERT_FILE (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA certificates: when set, every client must present a certificate they issued
    /// (mTLS). Needs TLS_CERT_FILE. Read at start-up.
    #[arg(long, env = "TLS_CLIENT_CA_FILE", requires = "tls_cert_file")]
    pub tls_client_ca_file: Option<PathBuf>,
    /// How often the certificate and key files are checked for a change.
    #[arg(long, env = "TLS_RELOAD_INTERVAL", default_value = "5s", value_parser = crate::config::parse_duration)]
    pub tls_reload_interval: Duration,
    /// A second, plaintext listener that serves only grpc.health.v1, for probes that
    /// cannot speak TLS or present a client certificate (the kubelet's gRPC probe, the
    /// `healthcheck` command). Off when unset.
    #[arg(long, env = "HEALTH_ADDR")]
    pub health_addr: Option<std::net::SocketAddr>,
}
