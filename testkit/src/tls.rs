//! Certificates made for one test (a CA, server and client certificates, written as PEM
//! files), and TLS clients for gRPC and gRPC-Web.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use common::tls::{ClientTls, KeyPairFiles};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use time::OffsetDateTime;
use tonic::transport::{Channel, Endpoint};

/// A test CA in a temporary directory, issuing certificates as PEM files there.
pub struct TestPki {
    /// Holds every file issued (`{name}.pem`, `{name}.key`); removed when dropped.
    pub dir: tempfile::TempDir,
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// The CA certificate (`ca.pem`).
    pub ca: PathBuf,
}

/// A certificate and its key, as files.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate, PEM (`{name}.pem`), for `TLS_CERT_FILE` or a client identity.
    pub cert: PathBuf,
    /// Its private key, PEM (`{name}.key`), for `TLS_KEY_FILE` or a client identity.
    pub key: PathBuf,
}

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// Extended key usage `serverAuth`: a service port's certificate.
    Server,
    /// Extended key usage `clientAuth`: a caller's certificate under mTLS.
    Client,
    /// Both: a service that also calls another with its own certificate (the
    /// todo-service's hop to the auth-service in docker-compose.tls.yml).
    ServerAndClient,
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new("test CA")
    }
}

impl TestPki {
    /// A fresh CA named `name`.
    pub fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, issuer.pem()).expect("write CA");
        Self { dir, issuer, ca }
    }

    /// A certificate for `localhost` and `127.0.0.1`, valid from an hour ago for a day.
    pub fn issue(&self, name: &str, usage: Usage) -> Issued {
        let now = OffsetDateTime::now_utc();
        self.issue_valid(
            name,
            usage,
            now - time::Duration::hours(1),
            now + time::Duration::days(1),
        )
    }

    /// A certificate that expired yesterday.
    pub fn issue_expired(&self, name: &str, usage: Usage) -> Issued {
        let now = OffsetDateTime::now_utc();
        self.issue_valid(
            name,
            usage,
            now - time::Duration::days(2),
            now - time::Duration::days(1),
        )
    }

    /// The leaf certificate of an issued pair, DER.
    pub fn leaf_der(issued: &Issued) -> Vec<u8> {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_file(&issued.cert)
            .expect("PEM certificate")
            .to_vec()
    }

    /// Like [`issue`](Self::issue) with the given validity dates.
    pub fn issue_valid(
        &self,
        name: &str,
        usage: Usage,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Issued {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.not_before = not_before;
        params.not_after = not_after;
        params.extended_key_usages = match usage {
            Usage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Usage::ServerAndClient => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        };
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let issued = Issued {
            cert: self.dir.path().join(format!("{name}.pem")),
            key: self.dir.path().join(format!("{name}.key")),
        };
        std::fs::write(&issued.cert, cert.pem()).expect("write cert");
        std::fs::write(&issued.key, key.serialize_pem()).expect("write key");
        issued
    }
}

impl Issued {
    /// The pair as the files of a client identity.
    pub fn identity(&self) -> KeyPairFiles {
        KeyPairFiles {
            cert: self.cert.clone(),
            cert_setting: "client cert",
            key: self.key.clone(),
            key_setting: "client key",
        }
    }

    /// Replaces both files by `other`'s contents (a rotation, as a secret update does it).
    pub fn overwrite_with(&self, other: &Issued) {
        let cert = std::fs::read(&other.cert).expect("read cert");
        let key = std::fs::read(&other.key).expect("read key");
        write_atomically(&self.key, &key);
        write_atomically(&self.cert, &cert);
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// A TLS client trusting `ca`, presenting `identity` if given.
pub fn client_tls(ca: &Path, identity: Option<&Issued>) -> ClientTls {
    ClientTls::new(
        "test CA",
        ca,
        identity.map(Issued::identity),
        Duration::from_secs(1),
    )
    .expect("client TLS")
}

/// A lazily connecting gRPC channel to `https://localhost:PORT` over `tls`.
pub fn channel(addr: SocketAddr, tls: &ClientTls) -> Channel {
    let endpoint = Endpoint::from_shared(format!("https://localhost:{}", addr.port())).expect("uri");
    tls.channel(&endpoint).expect("TLS channel")
}

/// Polls `grpc.health.v1` over TLS until the server (`""`) is SERVING (up to 10 s).
pub async fn wait_serving(addr: SocketAddr, tls: &ClientTls) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        let mut client = tonic_health::pb::health_client::HealthClient::new(channel(addr, tls));
        match client
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
        {
            Ok(r) if r.get_ref().status == 1 => return,
            other => last = format!("{other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{addr} never reported SERVING over TLS; last: {last}");
}
