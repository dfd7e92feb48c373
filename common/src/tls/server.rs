//! The service port's listener: plaintext, or TLS handshakes done off the accept loop.

use std::{
    convert::Infallible,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};
use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

use super::{
    TlsArgs,
    files::{KeyPairFiles, ReloadingKey, TlsError, provider, root_store},
};

/// A handshake that takes longer than this is dropped: it would hold a slot otherwise.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; past it, accepting waits.
const MAX_HANDSHAKES: usize = 256;

/// The TLS configuration of a service port.
#[derive(Clone, Debug)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
}

impl ServerTls {
    /// `None` without TLS_CERT_FILE (plaintext). Checks everything at once: a missing,
    /// expired or mismatched certificate or key stops start-up.
    pub fn from_args(args: &TlsArgs) -> Result<Option<Self>, TlsError> {
        let (cert, key) = match (&args.tls_cert_file, &args.tls_key_file) {
            (None, None) if args.tls_client_ca_file.is_some() => {
                return Err(TlsError::Config(
                    "TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE".into(),
                ));
            }
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert.clone(), key.clone()),
            _ => {
                return Err(TlsError::Config(
                    "TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither".into(),
                ));
            }
        };
        let resolver = ReloadingKey::start(
            KeyPairFiles {
                cert,
                cert_setting: "TLS_CERT_FILE",
                key,
                key_setting: "TLS_KEY_FILE",
            },
            args.tls_reload_interval,
        )?;
        let provider = provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(format!("TLS: {e}")))?;
        let builder = match &args.tls_client_ca_file {
            Some(ca) => {
                let roots = root_store("TLS_CLIENT_CA_FILE", ca)?;
                let verifier =
                    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| TlsError::Config(format!("TLS_CLIENT_CA_FILE: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(resolver);
        // gRPC needs HTTP/2; gRPC-Web from browsers comes over HTTP/1.1 on the same port.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Some(Self {
            config: Arc::new(config),
        }))
    }
}

/// One accepted connection, plaintext or TLS; either way the peer is the TCP peer.
pub enum Conn {
    /// Without TLS (no `TLS_CERT_FILE`).
    Plain(TcpStream),
    /// After a completed handshake. Boxed: the TLS state is far larger than a `TcpStream`.
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        match self {
            Conn::Plain(s) => s.connect_info(),
            Conn::Tls(s) => s.get_ref().0.connect_info(),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The connections of `listener`: as tonic accepts them when `tls` is `None`, else
/// after a TLS handshake. Handshakes run on tasks of their own (a slow client must not
/// hold up the others), at most `MAX_HANDSHAKES` at once, each within
/// `HANDSHAKE_TIMEOUT`; a failed one (no client certificate under mTLS, a client that
/// does not trust the certificate) is counted and dropped. When the stream is dropped
/// (shutdown), the listener closes.
pub fn incoming(
    listener: TcpListener,
    tls: Option<&ServerTls>,
) -> Pin<Box<dyn Stream<Item = Result<Conn, io::Error>> + Send>> {
    let Some(tls) = tls else {
        return Box::pin(
            TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .map(|r| r.map(Conn::Plain)),
        );
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Conn, io::Error>>(64);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tx.closed() => return,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let result = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
                drop(slot);
                let why = match result {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(Conn::Tls(Box::new(stream)))).await;
                        return;
                    }
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "timed out".to_owned(),
                };
                metrics::counter!("tls_handshake_failures_total").increment(1);
                tracing::debug!(%peer, "TLS handshake failed: {why}");
            });
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

/// The server's own routes seen only through `grpc.health.v1` (the health port): every
/// other path is UNIMPLEMENTED there, so nothing but health is reachable in plaintext.
#[derive(Clone)]
pub struct HealthOnly(pub tonic::service::Routes);

impl tonic::server::NamedService for HealthOnly {
    const NAME: &'static str = "grpc.health.v1.Health";
}

impl tower::Service<http::Request<tonic::body::Body>> for HealthOnly {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = <tonic::service::Routes as tower::Service<http::Request<tonic::body::Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::<http::Request<tonic::body::Body>>::poll_ready(&mut self.0, cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        self.0.call(request)
    }
}
