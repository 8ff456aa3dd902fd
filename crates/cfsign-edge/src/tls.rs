//! Optional TLS for the edge: rustls (on the aws-lc-rs provider) with a PEM
//! certificate chain and private key read from files, TLS 1.2 and 1.3, ALPN
//! `h2` then `http/1.1` (the edge speaks HTTP/2 and HTTP/1.1).
//!
//! Browsers send `Secure` cookies (the CloudFront cookies `cfsign` makes are
//! `Secure` by default) only over HTTPS, or to loopback addresses; an edge that
//! viewers reach by name needs TLS, here or in a load balancer in front of it.
//!
//! [`TlsCertificate::load`] reads and checks the files: every error names the
//! file and says how to fix it. [`EdgeTls`] holds the certificate being served;
//! [`EdgeTls::replace`] swaps in a new one (on SIGHUP, for a renewed certificate)
//! for the connections accepted after it. [`crate::server::serve`] serves an
//! app over it ([`ServeOptions::tls`](crate::server::ServeOptions::tls)); the handshake is bounded by the header-read timeout and counts
//! against the connection cap, like the request head it precedes.
//!
//! ```no_run
//! use std::path::Path;
//! use cfsign_edge::server::{self, ServeOptions};
//! use cfsign_edge::tls::{EdgeTls, TlsCertificate};
//!
//! # async fn run(app: axum::Router) -> Result<(), Box<dyn std::error::Error>> {
//! let certificate = TlsCertificate::load(Path::new("cert.pem"), Path::new("key.pem"))?;
//! let tls = EdgeTls::new(&certificate)?;
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
//! server::serve(listener, app, ServeOptions::default().tls(tls), server::shutdown_signal()).await?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use cfsign::input::{InputError, Limit};
use rustls_pki_types::pem::{PemObject as _, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

/// What a viewer's TLS connection negotiated, in the names CloudFront's access
/// logs use (`ssl-protocol`, `ssl-cipher`): put in every request's extensions
/// by the server, read by the access log.
///
/// ```
/// use cfsign_edge::tls::TlsSession;
/// use tokio_rustls::rustls::{CipherSuite, ProtocolVersion};
///
/// let session = TlsSession::new(ProtocolVersion::TLSv1_3, CipherSuite::TLS13_AES_128_GCM_SHA256);
/// assert_eq!((session.protocol, session.cipher), ("TLSv1.3", "TLS_AES_128_GCM_SHA256"));
/// let session = TlsSession::new(ProtocolVersion::TLSv1_2, CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
/// assert_eq!((session.protocol, session.cipher), ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsSession {
    /// `TLSv1.3` or `TLSv1.2`.
    pub protocol: &'static str,
    /// The cipher suite: IANA's name for TLS 1.3, OpenSSL's for TLS 1.2, as
    /// CloudFront logs them (`TLS_AES_128_GCM_SHA256`, `ECDHE-RSA-AES128-GCM-SHA256`).
    pub cipher: &'static str,
}

impl TlsSession {
    /// The session of a negotiated version and suite (`-` for anything rustls
    /// would not negotiate with the edge's configuration).
    #[must_use]
    pub fn new(version: rustls::ProtocolVersion, suite: rustls::CipherSuite) -> Self {
        use rustls::CipherSuite as C;
        let protocol = match version {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
            _ => "-",
        };
        let cipher = match suite {
            C::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
            C::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
            C::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
            C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
            C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
            C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
            C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
            C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
            C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
            _ => "-",
        };
        Self { protocol, cipher }
    }

    /// The session of an accepted connection, once the handshake is done.
    #[must_use]
    pub fn of(connection: &rustls::ServerConnection) -> Option<Self> {
        let version = connection.protocol_version()?;
        let suite = connection.negotiated_cipher_suite()?.suite();
        Some(Self::new(version, suite))
    }
}

/// The ALPN protocol id of HTTP/1.1.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The ALPN protocol id of HTTP/2.
pub const ALPN_H2: &[u8] = b"h2";

/// The bound for the certificate file: a chain of a few PEM certificates is a few
/// KiB.
pub const TLS_CERT_FILE: Limit = Limit::new(
    "the TLS certificate file",
    1 << 20,
    "a PEM certificate chain is a few KiB: check that the path names the certificate file \
     (e.g. fullchain.pem)",
);

/// The bound for the key file, as for the certificate file: it may hold the chain too.
pub const TLS_KEY_FILE: Limit = Limit::new(
    "the TLS private key file",
    1 << 20,
    "a PEM private key is a few KiB: check that the path names the key file (e.g. privkey.pem)",
);

/// Which of the two files an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFileRole {
    /// The certificate chain (`tls.cert_file`, `--tls-cert`).
    Certificate,
    /// The private key (`tls.key_file`, `--tls-key`).
    Key,
}

impl TlsFileRole {
    /// The configuration field that names this file: `cert_file` or `key_file`.
    ///
    /// ```
    /// use cfsign_edge::tls::TlsFileRole;
    /// assert_eq!(TlsFileRole::Key.field(), "key_file");
    /// ```
    #[must_use]
    pub fn field(self) -> &'static str {
        match self {
            TlsFileRole::Certificate => "cert_file",
            TlsFileRole::Key => "key_file",
        }
    }
}

impl fmt::Display for TlsFileRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsFileRole::Certificate => "the TLS certificate file",
            TlsFileRole::Key => "the TLS private key file",
        })
    }
}

/// Why a certificate and key cannot be served. Each message names the file and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file cannot be read, or is larger than [`TLS_CERT_FILE`] or
    /// [`TLS_KEY_FILE`] allows.
    #[error("{error}")]
    Read {
        /// Which file.
        role: TlsFileRole,
        /// Why (naming the file and the bound).
        error: InputError,
    },
    /// A file is not valid PEM.
    #[error("{role} {} is not valid PEM ({message}); expected PEM blocks such as \
             \"-----BEGIN CERTIFICATE-----\" or \"-----BEGIN PRIVATE KEY-----\"", path.display())]
    Pem {
        /// Which file.
        role: TlsFileRole,
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The certificate file holds no certificate.
    #[error("the TLS certificate file {} holds no certificate (no \"-----BEGIN CERTIFICATE-----\" block){hint}", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// What the file holds instead, and what to do.
        hint: String,
    },
    /// The first certificate cannot be parsed.
    #[error("the TLS certificate file {}: the first certificate is not a valid X.509 certificate ({message}); \
             the file must start with the server's own certificate, followed by its chain", path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The key file holds no private key.
    #[error("the TLS private key file {} holds no private key{hint}", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What the file holds instead, and what to do.
        hint: String,
    },
    /// The key file holds several private keys.
    #[error("the TLS private key file {} holds {count} private keys; keep only the key of the certificate", path.display())]
    SeveralKeys {
        /// The file.
        path: PathBuf,
        /// How many.
        count: usize,
    },
    /// The private key is encrypted with a passphrase.
    #[error("the TLS private key in {} is encrypted; the edge reads unencrypted keys only: \
             decrypt it with `openssl pkey -in {} -out key.pem` and keep that file readable by the edge alone",
             path.display(), path.display())]
    EncryptedKey {
        /// The file.
        path: PathBuf,
    },
    /// The private key is of a kind rustls cannot use.
    #[error("the TLS private key in {} cannot be used ({message}); use an RSA (2048 bits or more), \
             ECDSA P-256/P-384 or Ed25519 key", path.display())]
    UnusableKey {
        /// The file.
        path: PathBuf,
        /// The provider's message.
        message: String,
    },
    /// The private key is not the certificate's.
    #[error("the TLS private key in {} does not belong to the certificate in {} (their public keys differ); \
             give the key the certificate was issued for", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The private key belongs to a later certificate of the chain: the chain
    /// is in the wrong order.
    #[error("the TLS certificate file {}: the private key belongs to certificate number {position} of the file, \
             but the server's own certificate must come first; put it first, then its chain (issuer after issued)",
             path.display())]
    ChainOrder {
        /// The certificate file.
        path: PathBuf,
        /// Which certificate (1-based) the key belongs to.
        position: usize,
    },
    /// The TLS configuration cannot be built (not expected with the files checked).
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

impl TlsError {
    /// The configuration field the error is about: `cert_file` or `key_file`
    /// (`key_file` for a key that does not match the certificate).
    ///
    /// ```
    /// use cfsign_edge::tls::TlsError;
    /// let e = TlsError::EncryptedKey { path: "key.pem".into() };
    /// assert_eq!(e.field(), "key_file");
    /// ```
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            TlsError::Read { role, .. } | TlsError::Pem { role, .. } => role.field(),
            TlsError::NoCertificate { .. }
            | TlsError::BadCertificate { .. }
            | TlsError::ChainOrder { .. } => "cert_file",
            TlsError::NoKey { .. }
            | TlsError::SeveralKeys { .. }
            | TlsError::EncryptedKey { .. }
            | TlsError::UnusableKey { .. }
            | TlsError::KeyMismatch { .. }
            | TlsError::Setup(_) => "key_file",
        }
    }
}

/// The PEM parser's error in words (its own `Display` prints the marker lines
/// as lists of byte values).
fn pem_message(e: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { end_marker } => format!(
            "a PEM block has no \"-----END {}-----\" line: the file looks cut off; copy it again whole",
            String::from_utf8_lossy(end_marker)
        ),
        Error::IllegalSectionStart { line } => format!(
            "a malformed PEM line: \"{}\"",
            String::from_utf8_lossy(line).trim()
        ),
        other => other.to_string(),
    }
}

/// The crypto provider: aws-lc-rs (the one the rest of the tree uses).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A certificate chain and its private key, read from PEM files and checked
/// (the key belongs to the first certificate).
#[derive(Clone)]
pub struct TlsCertificate {
    cert_file: PathBuf,
    key_file: PathBuf,
    certified: Arc<CertifiedKey>,
}

impl fmt::Debug for TlsCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsCertificate")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("chain_length", &self.certified.cert.len())
            .finish_non_exhaustive()
    }
}

/// The PEM blocks of a file, with the labels of the blocks rustls has no type for.
struct Pem {
    sections: Vec<(SectionKind, Vec<u8>)>,
    text: String,
}

impl Pem {
    fn read(role: TlsFileRole, path: &Path) -> Result<Self, TlsError> {
        let limit = match role {
            TlsFileRole::Certificate => TLS_CERT_FILE,
            TlsFileRole::Key => TLS_KEY_FILE,
        };
        let bytes = limit
            .read_file(path)
            .map_err(|error| TlsError::Read { role, error })?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if role == TlsFileRole::Key && is_encrypted(&text) {
            return Err(TlsError::EncryptedKey {
                path: path.to_owned(),
            });
        }
        let sections = <(SectionKind, Vec<u8>)>::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Pem {
                role,
                path: path.to_owned(),
                message: pem_message(&e),
            })?;
        Ok(Self { sections, text })
    }

    fn count(&self, kinds: &[SectionKind]) -> usize {
        self.sections
            .iter()
            .filter(|(k, _)| kinds.contains(k))
            .count()
    }

    fn has_block(&self) -> bool {
        self.text.contains("-----BEGIN ")
    }
}

const KEY_KINDS: [SectionKind; 3] = [
    SectionKind::PrivateKey,
    SectionKind::RsaPrivateKey,
    SectionKind::EcPrivateKey,
];

fn is_encrypted(text: &str) -> bool {
    text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.lines().any(|l| l.trim() == "Proc-Type: 4,ENCRYPTED")
}

impl TlsCertificate {
    /// Reads the certificate chain (PEM, the server's certificate first) and the
    /// private key (PEM: PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` or SEC1
    /// `EC PRIVATE KEY`, unencrypted), and checks that the key is the certificate's.
    /// The two may be one file holding both.
    ///
    /// ```no_run
    /// use std::path::Path;
    /// use cfsign_edge::tls::TlsCertificate;
    ///
    /// let certificate = TlsCertificate::load(
    ///     Path::new("/etc/letsencrypt/live/cdn.example.com/fullchain.pem"),
    ///     Path::new("/etc/letsencrypt/live/cdn.example.com/privkey.pem"),
    /// )?;
    /// println!("{} certificate(s) in the chain", certificate.chain().len());
    /// # Ok::<(), cfsign_edge::tls::TlsError>(())
    /// ```
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Self, TlsError> {
        let certs_pem = Pem::read(TlsFileRole::Certificate, cert_file)?;
        let chain: Vec<CertificateDer<'static>> = certs_pem
            .sections
            .iter()
            .filter(|(k, _)| *k == SectionKind::Certificate)
            .map(|(_, der)| CertificateDer::from(der.clone()))
            .collect();
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: cert_file.to_owned(),
                hint: no_certificate_hint(&certs_pem),
            });
        }

        let key_pem = Pem::read(TlsFileRole::Key, key_file)?;
        let mut keys = key_pem
            .sections
            .iter()
            .filter_map(|(kind, der)| PrivateKeyDer::from_pem(*kind, der.clone()));
        let key = match (keys.next(), keys.next()) {
            (Some(key), None) => key,
            (None, _) => {
                return Err(TlsError::NoKey {
                    path: key_file.to_owned(),
                    hint: no_key_hint(&key_pem),
                });
            }
            (Some(_), Some(_)) => {
                return Err(TlsError::SeveralKeys {
                    path: key_file.to_owned(),
                    count: key_pem.count(&KEY_KINDS),
                });
            }
        };

        let signing_key =
            provider()
                .key_provider
                .load_private_key(key)
                .map_err(|e| TlsError::UnusableKey {
                    path: key_file.to_owned(),
                    message: e.to_string(),
                })?;
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) => {}
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                // `cat ca.pem cert.pem`: the key is fine, the order is not.
                let later = certified.cert.iter().skip(1).position(|c| {
                    CertifiedKey::new(vec![c.clone()], Arc::clone(&certified.key))
                        .keys_match()
                        .is_ok()
                });
                return Err(match later {
                    Some(i) => TlsError::ChainOrder {
                        path: cert_file.to_owned(),
                        position: i + 2,
                    },
                    None => TlsError::KeyMismatch {
                        cert: cert_file.to_owned(),
                        key: key_file.to_owned(),
                    },
                });
            }
            // The key cannot tell its public half: nothing to compare (not the case
            // for the aws-lc-rs keys).
            Err(rustls::Error::InconsistentKeys(_)) => {}
            Err(e) => {
                return Err(TlsError::BadCertificate {
                    path: cert_file.to_owned(),
                    message: e.to_string(),
                });
            }
        }
        Ok(Self {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            certified: Arc::new(certified),
        })
    }

    /// The certificate file it was read from.
    ///
    /// ```no_run
    /// # use std::path::Path;
    /// # let c = cfsign_edge::tls::TlsCertificate::load(Path::new("c.pem"), Path::new("k.pem"))?;
    /// assert_eq!(c.cert_file(), Path::new("c.pem"));
    /// # Ok::<(), cfsign_edge::tls::TlsError>(())
    /// ```
    #[must_use]
    pub fn cert_file(&self) -> &Path {
        &self.cert_file
    }

    /// The key file it was read from.
    ///
    /// ```no_run
    /// # use std::path::Path;
    /// # let c = cfsign_edge::tls::TlsCertificate::load(Path::new("c.pem"), Path::new("k.pem"))?;
    /// assert_eq!(c.key_file(), Path::new("k.pem"));
    /// # Ok::<(), cfsign_edge::tls::TlsError>(())
    /// ```
    #[must_use]
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// The certificates (DER) sent to clients: the server's own first.
    ///
    /// ```no_run
    /// # use std::path::Path;
    /// # let c = cfsign_edge::tls::TlsCertificate::load(Path::new("c.pem"), Path::new("k.pem"))?;
    /// assert!(!c.chain().is_empty());
    /// # Ok::<(), cfsign_edge::tls::TlsError>(())
    /// ```
    #[must_use]
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.certified.cert
    }
}

fn no_certificate_hint(pem: &Pem) -> String {
    if pem.count(&KEY_KINDS) > 0 {
        "; it holds a private key: give that file as the key (tls.key_file, --tls-key) \
         and the certificate chain as the certificate (tls.cert_file, --tls-cert)"
            .to_owned()
    } else if pem.count(&[SectionKind::Csr]) > 0 {
        "; it holds a certificate signing request: give the certificate the authority issued for it"
            .to_owned()
    } else if pem.count(&[SectionKind::PublicKey]) > 0 {
        "; it holds a public key: give the certificate (chain) instead".to_owned()
    } else if !pem.has_block() {
        "; if it is DER (binary), convert it: `openssl x509 -inform der -in CERT -out cert.pem`"
            .to_owned()
    } else {
        String::new()
    }
}

fn no_key_hint(pem: &Pem) -> String {
    let expected = " (expected one PEM block: PKCS#8 \"BEGIN PRIVATE KEY\", PKCS#1 \"BEGIN RSA PRIVATE KEY\" \
                    or SEC1 \"BEGIN EC PRIVATE KEY\")";
    if pem.count(&[SectionKind::Certificate]) > 0 {
        format!(
            "; it holds a certificate: give that file as the certificate (tls.cert_file, --tls-cert) \
             and the private key file as the key (tls.key_file, --tls-key){expected}"
        )
    } else if pem.count(&[SectionKind::PublicKey]) > 0 {
        format!("; it holds a public key, not the private one{expected}")
    } else if !pem.has_block() {
        format!(
            "{expected}; if it is DER (binary), convert it: `openssl pkey -inform der -in KEY -out key.pem`"
        )
    } else {
        expected.to_owned()
    }
}

/// Why a TLS connection ended before its first request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandshakeFailure {
    /// No handshake within the header timeout.
    TimedOut,
    /// The handshake failed (not TLS, no common protocol or version, ...).
    Failed,
}

/// The certificate being served, swapped by [`EdgeTls::replace`].
struct CurrentCertificate(ArcSwap<CertifiedKey>);

impl std::fmt::Debug for CurrentCertificate {
    /// Never the key, whatever rustls's own `Debug` would print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentCertificate")
            .field("chain_len", &self.get().cert.len())
            .finish_non_exhaustive()
    }
}

impl CurrentCertificate {
    fn get(&self) -> Arc<CertifiedKey> {
        self.0.load_full()
    }

    fn set(&self, key: Arc<CertifiedKey>) {
        self.0.store(key);
    }
}

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// The edge's TLS server side: TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`, serving the
/// certificate last given. Cloning shares it: [`EdgeTls::replace`] on any clone
/// changes the certificate for every connection accepted afterwards.
///
/// ```no_run
/// use std::path::Path;
/// use cfsign_edge::tls::{EdgeTls, TlsCertificate};
///
/// let tls = EdgeTls::new(&TlsCertificate::load(Path::new("cert.pem"), Path::new("key.pem"))?)?;
/// // later, after the certificate was renewed:
/// tls.replace(&TlsCertificate::load(Path::new("cert.pem"), Path::new("key.pem"))?);
/// # Ok::<(), cfsign_edge::tls::TlsError>(())
/// ```
#[derive(Clone)]
pub struct EdgeTls {
    current: Arc<CurrentCertificate>,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl fmt::Debug for EdgeTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeTls").finish_non_exhaustive()
    }
}

impl EdgeTls {
    /// A TLS server side serving `certificate`.
    ///
    /// ```no_run
    /// # use std::path::Path;
    /// use cfsign_edge::tls::{EdgeTls, TlsCertificate};
    /// let tls = EdgeTls::new(&TlsCertificate::load(Path::new("cert.pem"), Path::new("key.pem"))?)?;
    /// # Ok::<(), cfsign_edge::tls::TlsError>(())
    /// ```
    pub fn new(certificate: &TlsCertificate) -> Result<Self, TlsError> {
        let current = Arc::new(CurrentCertificate(ArcSwap::new(Arc::clone(
            &certificate.certified,
        ))));
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&current) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
        Ok(Self {
            current,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Serves `certificate` from now on; connections already open keep theirs.
    ///
    /// ```no_run
    /// # use std::path::Path;
    /// # use cfsign_edge::tls::{EdgeTls, TlsCertificate};
    /// # let tls = EdgeTls::new(&TlsCertificate::load(Path::new("old.pem"), Path::new("old-key.pem"))?)?;
    /// tls.replace(&TlsCertificate::load(Path::new("new.pem"), Path::new("new-key.pem"))?);
    /// # Ok::<(), cfsign_edge::tls::TlsError>(())
    /// ```
    pub fn replace(&self, certificate: &TlsCertificate) {
        self.current.set(Arc::clone(&certificate.certified));
    }

    /// The certificate chain being served now (DER, the server's own first).
    ///
    /// ```no_run
    /// # use std::path::Path;
    /// # use cfsign_edge::tls::{EdgeTls, TlsCertificate};
    /// let certificate = TlsCertificate::load(Path::new("cert.pem"), Path::new("key.pem"))?;
    /// let tls = EdgeTls::new(&certificate)?;
    /// assert_eq!(tls.chain(), certificate.chain());
    /// # Ok::<(), cfsign_edge::tls::TlsError>(())
    /// ```
    #[must_use]
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.current.get().cert.clone()
    }

    /// The TLS handshake on an accepted connection, within `timeout`; `None` when
    /// it fails (not TLS, e.g. plain HTTP; no common version or cipher; no
    /// `h2` nor `http/1.1` among the client's ALPN protocols) or takes too long.
    pub(crate) async fn accept<IO>(
        &self,
        stream: IO,
        timeout: Duration,
    ) -> Result<tokio_rustls::server::TlsStream<IO>, HandshakeFailure>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        match tokio::time::timeout(timeout, self.acceptor.accept(stream)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(_)) => Err(HandshakeFailure::Failed),
            Err(_) => Err(HandshakeFailure::TimedOut),
        }
    }
}
