//! A TLS client for calls between the services: the peer is verified against a CA
//! file, and a client certificate (re-read when its files change) is presented when
//! configured, so the hop can be mutually authenticated without a mesh.

use std::{path::PathBuf, sync::Arc, time::Duration};

use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tonic::transport::{Channel, Endpoint};

use super::files::{KeyPairFiles, ReloadingKey, TlsError, provider, root_store};

/// Trust and identity for outgoing TLS connections.
#[derive(Clone, Debug)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
}

impl ClientTls {
    /// Trusts the CAs in `ca` (setting name `ca_setting`, for messages) and presents
    /// `identity`, if given. A missing, expired or mismatched file is an error.
    pub fn new(
        ca_setting: &'static str,
        ca: &std::path::Path,
        identity: Option<KeyPairFiles>,
        reload_interval: Duration,
    ) -> Result<Self, TlsError> {
        let roots = root_store(ca_setting, ca)?;
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(format!("TLS: {e}")))?
            .with_root_certificates(roots);
        let mut config = match identity {
            Some(files) => builder.with_client_cert_resolver(ReloadingKey::start(files, reload_interval)?),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// The same trust and identity, offering `alpn` instead (`http/1.1` for gRPC-Web).
    pub fn with_alpn(&self, alpn: &[&[u8]]) -> Self {
        let mut config = (*self.config).clone();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Self {
            config: Arc::new(config),
        }
    }

    /// Opens a TCP connection to `host:port` and completes the handshake, checking the
    /// certificate against `host`.
    pub async fn connect(&self, host: &str, port: u16) -> std::io::Result<TlsStream<TcpStream>> {
        let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_owned())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{host}: {e}")))?;
        let tcp = TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port)).await?;
        let _ = tcp.set_nodelay(true);
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
    }

    /// A lazily connecting channel to `endpoint` (an `https://` URI) over this TLS.
    pub fn channel(&self, endpoint: &Endpoint) -> Result<Channel, TlsError> {
        let uri = endpoint.uri().clone();
        let host = uri
            .host()
            .ok_or_else(|| TlsError::Config(format!("{uri}: no host")))?
            .to_owned();
        let port = uri.port_u16().unwrap_or(443);
        let this = self.clone();
        let connector = tower::service_fn(move |_: http::Uri| {
            let this = this.clone();
            let host = host.clone();
            async move { this.connect(&host, port).await.map(TokioIo::new) }
        });
        Ok(endpoint.connect_with_connector_lazy(connector))
    }
}

/// The certificate and key files of a client identity, both or neither.
pub fn identity_files(
    cert: Option<(&'static str, &PathBuf)>,
    key: Option<(&'static str, &PathBuf)>,
) -> Result<Option<KeyPairFiles>, TlsError> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some((cert_setting, cert)), Some((key_setting, key))) => Ok(Some(KeyPairFiles {
            cert: cert.clone(),
            cert_setting,
            key: key.clone(),
            key_setting,
        })),
        (Some((name, _)), None) | (None, Some((name, _))) => Err(TlsError::Config(format!(
            "{name}: a client certificate needs both its certificate and its key file"
        ))),
    }
}
