//! TLS for tests: self-signed certificates made on the spot (rcgen on aws-lc-rs),
//! and an HTTPS client over tokio-rustls that trusts only the certificates given
//! and reports the certificate the server presented.
//!
//! ```no_run
//! let cert = cfsign_testkit::tls::self_signed(&["localhost"]);
//! # let addr: std::net::SocketAddr = "127.0.0.1:8443".parse().unwrap();
//! let reply = cfsign_testkit::tls::get_blocking(addr, "localhost", "/a.txt", &[&cert]).unwrap();
//! assert_eq!(reply.peer_certificate, cert.der);
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::rustls::{self, pki_types};

pub use rcgen;
pub use tokio_rustls;

/// Bound on one request (connect, handshake, request, whole response).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A certificate and its private key, as PEM files hold them.
#[derive(Debug, Clone)]
pub struct TestCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM (PKCS#8).
    pub key_pem: String,
    /// The certificate, DER: what a client sees.
    pub der: Vec<u8>,
}

impl TestCert {
    /// Writes `cert.pem`-style and `key.pem`-style files; returns their paths.
    pub fn write(
        &self,
        dir: &std::path::Path,
        stem: &str,
    ) -> (std::path::PathBuf, std::path::PathBuf) {
        let cert = dir.join(format!("{stem}-cert.pem"));
        let key = dir.join(format!("{stem}-key.pem"));
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

/// A self-signed ECDSA P-256 certificate for `names` (DNS names or IP addresses).
pub fn self_signed(names: &[&str]) -> TestCert {
    self_signed_with(names, &rcgen::PKCS_ECDSA_P256_SHA256)
}

/// A self-signed certificate for `names` with a new key of `algorithm`
/// (e.g. `rcgen::PKCS_RSA_SHA256`, `rcgen::PKCS_ED25519`).
pub fn self_signed_with(names: &[&str], algorithm: &'static rcgen::SignatureAlgorithm) -> TestCert {
    let key = rcgen::KeyPair::generate_for(algorithm).unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .self_signed(&key)
        .unwrap();
    TestCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

/// A client configuration trusting only `trusted`, offering ALPN `http/1.1`,
/// with the given protocol versions (all of rustls' when empty).
pub fn client_config(
    trusted: &[&TestCert],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots
            .add(pki_types::CertificateDer::from(cert.der.clone()))
            .unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider);
    let builder = if versions.is_empty() {
        builder.with_safe_default_protocol_versions().unwrap()
    } else {
        builder.with_protocol_versions(versions).unwrap()
    };
    let mut config = builder.with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// An HTTPS response, fully read.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// The response head (status line and headers), as text.
    pub head: String,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    /// The end-entity certificate the server presented (DER).
    pub peer_certificate: Vec<u8>,
    /// The ALPN protocol agreed.
    pub alpn: Option<Vec<u8>>,
    /// The TLS version agreed.
    pub version: Option<rustls::ProtocolVersion>,
}

/// Connects to `addr` and completes the handshake for `host` (the name the
/// certificate must carry), within [`TIMEOUT`].
pub async fn connect(
    addr: SocketAddr,
    host: &str,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let name = pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let connect = async {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
    };
    tokio::time::timeout(TIMEOUT, connect)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS connect timed out"))?
}

/// `GET path` over a new TLS connection (`Connection: close`), trusting only `trusted`.
pub async fn get(
    addr: SocketAddr,
    host: &str,
    path: &str,
    trusted: &[&TestCert],
) -> std::io::Result<Reply> {
    get_with(addr, host, path, client_config(trusted, &[])).await
}

/// [`get`] with a given client configuration.
pub async fn get_with(
    addr: SocketAddr,
    host: &str,
    path: &str,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<Reply> {
    let mut stream = connect(addr, host, config).await?;
    let (_, session) = stream.get_ref();
    let peer_certificate = session
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    let version = session.protocol_version();
    let exchange = async {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}:{}\r\nConnection: close\r\n\r\n",
            addr.port()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        match stream.read_to_end(&mut raw).await {
            Ok(_) => {}
            // A peer closing without close_notify after a complete response.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
            Err(e) => return Err(e),
        }
        Ok(raw)
    };
    let raw = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "HTTPS request timed out")
        })??;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no response head in {raw:?}")))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok(Reply {
        status,
        head,
        body,
        peer_certificate,
        alpn,
        version,
    })
}

/// [`get`] from synchronous code (a current-thread runtime of its own).
pub fn get_blocking(
    addr: SocketAddr,
    host: &str,
    path: &str,
    trusted: &[&TestCert],
) -> std::io::Result<Reply> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(get(addr, host, path, trusted))
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        rest = &rest[eol + 2..];
        if size == 0 || rest.len() < size {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or(&[]);
    }
}
