//! PEM certificates and keys: read, checked (validity dates, key belongs to certificate)
//! and re-read while the service runs, so a rotated certificate is served without a
//! restart.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock, Weak},
    time::{Duration, SystemTime},
};

use rustls::{crypto::CryptoProvider, sign::CertifiedKey};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

/// Why a certificate, key or CA file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read (missing, no permission).
    #[error("cannot read {setting} {path}: {source}")]
    Read {
        /// The setting that named the file, such as `TLS_CERT_FILE`.
        setting: &'static str,
        /// The file as configured.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file holds no usable PEM certificate or private key.
    #[error("{setting} {path}: {message}")]
    Pem {
        /// The setting that named the file, such as `TLS_KEY_FILE`.
        setting: &'static str,
        /// The file as configured.
        path: PathBuf,
        /// What is wrong with its contents.
        message: String,
    },
    /// The leaf certificate's `notAfter` has passed.
    #[error("{setting} {path}: the certificate expired on {at} (now {now}); renew it")]
    Expired {
        /// The setting that named the certificate file.
        setting: &'static str,
        /// The certificate file as configured.
        path: PathBuf,
        /// `notAfter`, RFC 3339 (UTC).
        at: String,
        /// This machine's time, RFC 3339 (UTC), to compare with.
        now: String,
    },
    /// The leaf certificate's `notBefore` is still ahead: often a wrong clock.
    #[error("{setting} {path}: the certificate is not valid before {at} (now {now}); check the clock")]
    NotYetValid {
        /// The setting that named the certificate file.
        setting: &'static str,
        /// The certificate file as configured.
        path: PathBuf,
        /// `notBefore`, RFC 3339 (UTC).
        at: String,
        /// This machine's time, RFC 3339 (UTC), to compare with.
        now: String,
    },
    /// The private key is not the one the leaf certificate was issued for.
    #[error("{key_setting} {key} does not belong to the certificate in {cert_setting} {cert}: {message}")]
    Mismatch {
        /// The setting that named the certificate file.
        cert_setting: &'static str,
        /// The certificate file as configured.
        cert: PathBuf,
        /// The setting that named the key file.
        key_setting: &'static str,
        /// The key file as configured.
        key: PathBuf,
        /// rustls's reason.
        message: String,
    },
    /// Settings that do not go together (a certificate without its key, a client CA
    /// without a server certificate) or a TLS configuration rustls refuses.
    #[error("{0}")]
    Config(String),
}

/// The crypto provider every TLS configuration here uses, chosen explicitly so that no
/// process-wide default (and no second provider pulled in by a dependency) is needed.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate file and its key file, with the names of the settings they came from
/// (for messages).
#[derive(Debug, Clone)]
pub struct KeyPairFiles {
    /// PEM file of the certificate chain, leaf first.
    pub cert: PathBuf,
    /// The setting `cert` came from (`TLS_CERT_FILE`, or a client identity's), for
    /// error messages.
    pub cert_setting: &'static str,
    /// PEM file of the leaf's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The setting `key` came from, for error messages.
    pub key_setting: &'static str,
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        setting,
        path: path.to_owned(),
        source,
    })
}

/// Every certificate in a PEM file, at least one.
pub fn parse_certs(
    setting: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            setting,
            path: path.to_owned(),
            message: format!("not a PEM certificate file: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            setting,
            path: path.to_owned(),
            message: "no `BEGIN CERTIFICATE` block".into(),
        });
    }
    Ok(certs)
}

/// Refuses a certificate outside its validity period, with both dates in the message.
pub fn check_validity(setting: &'static str, path: &Path, cert: &CertificateDer<'_>) -> Result<(), TlsError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).map_err(|e| TlsError::Pem {
        setting,
        path: path.to_owned(),
        message: format!("not an X.509 certificate: {e}"),
    })?;
    let validity = parsed.validity();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let show = |t: i64| {
        u64::try_from(t).map_or_else(
            |_| t.to_string(),
            |secs| {
                humantime::format_rfc3339_seconds(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
                    .to_string()
            },
        )
    };
    if validity.not_after.timestamp() < now {
        return Err(TlsError::Expired {
            setting,
            path: path.to_owned(),
            at: show(validity.not_after.timestamp()),
            now: show(now),
        });
    }
    if validity.not_before.timestamp() > now {
        return Err(TlsError::NotYetValid {
            setting,
            path: path.to_owned(),
            at: show(validity.not_before.timestamp()),
            now: show(now),
        });
    }
    Ok(())
}

/// When a certificate stops being valid, as seconds since the epoch (for the log).
fn not_after(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let secs = u64::try_from(parsed.validity().not_after.timestamp()).ok()?;
    Some(humantime::format_rfc3339_seconds(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)).to_string())
}

impl KeyPairFiles {
    /// Reads both files and checks them: PEM, a private key, the key matches the leaf
    /// certificate, and the leaf is within its validity dates.
    pub fn load(&self, provider: &CryptoProvider) -> Result<(CertifiedKey, Vec<u8>), TlsError> {
        let cert_pem = read(self.cert_setting, &self.cert)?;
        let key_pem = read(self.key_setting, &self.key)?;
        let key = self.certified(provider, &cert_pem, &key_pem)?;
        let mut stamp = cert_pem;
        stamp.extend_from_slice(&key_pem);
        Ok((key, stamp))
    }

    fn certified(
        &self,
        provider: &CryptoProvider,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<CertifiedKey, TlsError> {
        let certs = parse_certs(self.cert_setting, &self.cert, cert_pem)?;
        check_validity(self.cert_setting, &self.cert, &certs[0])?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem {
            setting: self.key_setting,
            path: self.key.clone(),
            message: format!("no PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
        })?;
        let signing = provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| TlsError::Pem {
                setting: self.key_setting,
                path: self.key.clone(),
                message: format!("unusable private key: {e}"),
            })?;
        let certified = CertifiedKey::new(certs, signing);
        certified.keys_match().map_err(|e| TlsError::Mismatch {
            cert_setting: self.cert_setting,
            cert: self.cert.clone(),
            key_setting: self.key_setting,
            key: self.key.clone(),
            message: e.to_string(),
        })?;
        Ok(certified)
    }
}

/// A certificate and key that follow their files: checked every `interval`, and when
/// either file's contents changed and the new pair passes the checks of
/// [`KeyPairFiles::load`], the next handshake uses it. A pair that fails them (a key
/// written before its certificate, an expired certificate) is logged and the old one
/// kept, so a half-done rotation never takes the service down.
#[derive(Debug)]
pub struct ReloadingKey {
    files: KeyPairFiles,
    current: RwLock<(Arc<CertifiedKey>, Vec<u8>)>,
}

impl ReloadingKey {
    /// Loads the pair (an error stops start-up) and starts watching the files. The
    /// watcher holds only a weak reference: it ends once the TLS configuration is dropped.
    pub fn start(files: KeyPairFiles, interval: Duration) -> Result<Arc<Self>, TlsError> {
        let provider = provider();
        let (key, stamp) = files.load(&provider)?;
        tracing::info!(
            cert = %files.cert.display(),
            not_after = not_after(&key.cert[0]).unwrap_or_default(),
            "TLS certificate loaded"
        );
        let this = Arc::new(Self {
            files,
            current: RwLock::new((Arc::new(key), stamp)),
        });
        let weak = Arc::downgrade(&this);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(watch(weak, provider, interval.max(Duration::from_millis(10))));
        }
        Ok(this)
    }

    /// The pair to present now.
    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.0.clone())
    }

    /// Re-reads the files; `true` when a new pair was taken.
    fn reload(&self, provider: &CryptoProvider, last_failed: &mut Vec<u8>) -> bool {
        let (Ok(cert_pem), Ok(key_pem)) = (std::fs::read(&self.files.cert), std::fs::read(&self.files.key))
        else {
            // Mid-rotation (a file renamed away) or gone: keep serving the old pair.
            return false;
        };
        let mut stamp = cert_pem.clone();
        stamp.extend_from_slice(&key_pem);
        let unchanged = self.current.read().map(|c| c.1 == stamp).unwrap_or(true);
        if unchanged || *last_failed == stamp {
            return false;
        }
        match self.files.certified(provider, &cert_pem, &key_pem) {
            Ok(key) => {
                tracing::info!(
                    cert = %self.files.cert.display(),
                    not_after = not_after(&key.cert[0]).unwrap_or_default(),
                    "TLS certificate reloaded"
                );
                if let Ok(mut current) = self.current.write() {
                    *current = (Arc::new(key), stamp);
                }
                last_failed.clear();
                true
            }
            Err(e) => {
                tracing::warn!("TLS certificate not reloaded, the previous one is still served: {e}");
                metrics::counter!("tls_reload_failures_total").increment(1);
                *last_failed = stamp;
                false
            }
        }
    }
}

async fn watch(weak: Weak<ReloadingKey>, provider: Arc<CryptoProvider>, interval: Duration) {
    let mut last_failed = Vec::new();
    loop {
        tokio::time::sleep(interval).await;
        let Some(this) = weak.upgrade() else {
            return;
        };
        this.reload(&provider, &mut last_failed);
    }
}

impl rustls::server::ResolvesServerCert for ReloadingKey {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

impl rustls::client::ResolvesClientCert for ReloadingKey {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[rustls::SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.current()
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The certificates of a CA file as a root store (at least one).
pub fn root_store(setting: &'static str, path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let pem = read(setting, path)?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in parse_certs(setting, path, &pem)? {
        check_validity(setting, path, &cert)?;
        roots.add(cert).map_err(|e| TlsError::Pem {
            setting,
            path: path.to_owned(),
            message: format!("not a usable CA certificate: {e}"),
        })?;
    }
    Ok(roots)
}
