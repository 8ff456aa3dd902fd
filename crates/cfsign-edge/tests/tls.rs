//! The edge over TLS on 127.0.0.1: signed URLs over HTTPS (the viewer scheme is
//! `https`), plain HTTP to the TLS port never served, the handshake bounded in
//! time and counted against the connection cap, the certificate swapped by
//! `EdgeTls::replace`, the key formats, and every certificate/key mistake named.
//! Certificates are made in the test (rcgen on aws-lc-rs); the PKCS#1, SEC1 and
//! encrypted keys are converted with the `openssl` CLI, as the interop tests do.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cfsign::{KeyType, PrivateKey};
use cfsign_edge::config::{ConfigError, ConfigFile};
use cfsign_edge::observe::AccessLogFormat;
use cfsign_edge::observe::Metrics;
use cfsign_edge::server::{Limits, ServeOptions};
use cfsign_edge::tls::{EdgeTls, TlsCertificate, TlsError};
use cfsign_testkit::edge::{BufferedLog, EdgeBuilder, RunningEdge};
use cfsign_testkit::server::RunningServer;
use cfsign_testkit::signer::TestSigner;
use cfsign_testkit::tls::{self as tk, TestCert, rcgen, tokio_rustls::rustls};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// An edge from a TOML configuration with `[tls]`, served over TLS.
struct Edge {
    addr: SocketAddr,
    metrics: Metrics,
    signer: TestSigner,
    cert: TestCert,
    dir: tempfile::TempDir,
    edge: RunningEdge,
    /// The access log, as JSON lines.
    log: BufferedLog,
}

const CONFIG: &str = r#"
[tls]
cert_file = "tls/cert.pem"
key_file = "tls/key.pem"

[key_groups.main]
keys = [{ id = "KTLS", public_key = "public.pem" }]

[origins.media]
type = "directory"
root = "media"

[[behaviors]]
path_pattern = "/public/*"
origin = "media"
restricted = false

[default_behavior]
origin = "media"
trusted_key_groups = ["main"]
"#;

async fn start(limits: Limits) -> Edge {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media/public")).unwrap();
    std::fs::create_dir_all(dir.path().join("tls")).unwrap();
    std::fs::write(dir.path().join("media/hello.txt"), "hello over tls\n").unwrap();
    std::fs::write(dir.path().join("media/public/free.txt"), "free").unwrap();
    let signer = TestSigner::new("KTLS");
    signer.write_public_key(&dir.path().join("public.pem"));
    let cert = tk::self_signed(&["localhost"]);
    std::fs::write(dir.path().join("tls/cert.pem"), &cert.cert_pem).unwrap();
    std::fs::write(dir.path().join("tls/key.pem"), &cert.key_pem).unwrap();
    let file = dir.path().join("edge.toml");
    std::fs::write(&file, CONFIG).unwrap();
    // relative paths, [tls] included, are resolved against the file's folder
    let config = ConfigFile::read(&file).unwrap().load(dir.path()).unwrap();
    assert!(config.tls.is_some());
    let metrics = Metrics::new();
    let log = BufferedLog::new(AccessLogFormat::Json);
    let edge = EdgeBuilder::new()
        .config(config)
        .metrics(metrics.clone())
        .limits(limits)
        .observed()
        .access_log(log.log())
        .start()
        .await;
    Edge {
        addr: edge.addr(),
        metrics,
        signer,
        cert,
        dir,
        edge,
        log,
    }
}

impl Edge {
    /// `path` with a canned-policy signature for `scheme://localhost:PORT/path`.
    fn signed(&self, scheme: &str, path: &str) -> String {
        let url = format!("{scheme}://localhost:{}{path}", self.addr.port());
        let signed = self.signer.sign_url(&url, 300);
        signed
            .split_once(&format!(":{}", self.addr.port()))
            .unwrap()
            .1
            .to_owned()
    }

    async fn get(&self, path: &str) -> tk::Reply {
        tk::get(self.addr, "localhost", path, &[&self.cert])
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.edge.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_urls_over_https() {
    let edge = start(Limits::default()).await;

    let ok = edge.get(&edge.signed("https", "/hello.txt")).await;
    assert_eq!(ok.status, 200, "{}", ok.head);
    assert_eq!(ok.body, b"hello over tls\n");
    // the certificate of the configuration, ALPN http/1.1
    assert_eq!(ok.peer_certificate, edge.cert.der);
    assert_eq!(ok.alpn.as_deref(), Some(&b"http/1.1"[..]));

    let unsigned = edge.get("/hello.txt").await;
    assert_eq!(unsigned.status, 403);
    let body = String::from_utf8_lossy(&unsigned.body);
    assert!(
        body.contains("<Code>MissingKey</Code>") && body.starts_with("<?xml"),
        "{body}"
    );

    // with [tls] the viewer URL is https://Host/...: a URL signed for http:// does not match
    let http_signed = edge.get(&edge.signed("http", "/hello.txt")).await;
    assert_eq!(http_signed.status, 403);
    assert!(
        String::from_utf8_lossy(&http_signed.body).contains("AccessDenied"),
        "{:?}",
        String::from_utf8_lossy(&http_signed.body)
    );

    let public = edge.get("/public/free.txt").await;
    assert_eq!((public.status, &public.body[..]), (200, &b"free"[..]));
    edge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_and_1_3_and_alpn() {
    let edge = start(Limits::default()).await;
    for (version, expected) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let reply = tk::get_with(
            edge.addr,
            "localhost",
            "/public/free.txt",
            tk::client_config(&[&edge.cert], &[version]),
        )
        .await
        .unwrap();
        assert_eq!(reply.version, Some(expected));
        assert_eq!((reply.status, &reply.body[..]), (200, &b"free"[..]));
    }
    // The access log names the protocol, the TLS version and the cipher, as
    // CloudFront's does (OpenSSL's suite names for TLS 1.2, IANA's for 1.3).
    let lines = edge.log.lines(2).await;
    let logged: Vec<(String, String, String)> = lines
        .iter()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let field = |name: &str| v[name].as_str().unwrap_or("-").to_owned();
            (
                field("cs-protocol"),
                field("ssl-protocol"),
                field("ssl-cipher"),
            )
        })
        .collect();
    assert_eq!(logged[0].0, "https", "{lines:?}");
    assert_eq!(logged[0].1, "TLSv1.2", "{lines:?}");
    assert!(logged[0].2.starts_with("ECDHE-"), "{lines:?}");
    assert_eq!(
        (logged[1].0.as_str(), logged[1].1.as_str()),
        ("https", "TLSv1.3"),
        "{lines:?}"
    );
    assert!(
        [
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256"
        ]
        .contains(&logged[1].2.as_str()),
        "{lines:?}"
    );

    // a client offering only h2 gets h2 (ALPN h2 then http/1.1 since the edge speaks HTTP/2);
    // one offering only protocols the edge does not speak gets no connection
    let mut h2_only = (*tk::client_config(&[&edge.cert], &[])).clone();
    h2_only.alpn_protocols = vec![b"h2".to_vec()];
    let h2 = tk::connect(edge.addr, "localhost", std::sync::Arc::new(h2_only))
        .await
        .unwrap();
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    drop(h2);
    let mut unknown_only = (*tk::client_config(&[&edge.cert], &[])).clone();
    unknown_only.alpn_protocols = vec![b"spdy/3".to_vec()];
    let refused = tk::connect(edge.addr, "localhost", std::sync::Arc::new(unknown_only)).await;
    assert!(
        refused.is_err(),
        "a client speaking no protocol of the edge was accepted"
    );

    // a client not trusting the certificate refuses it (it is the one served, not another)
    let stranger = tk::self_signed(&["localhost"]);
    let untrusted = tk::get(edge.addr, "localhost", "/public/free.txt", &[&stranger]).await;
    assert!(untrusted.is_err(), "{untrusted:?}");
    edge.stop().await;
}

/// Reads until EOF or error, within `bound`; what came, and how long it took.
async fn read_until_closed(
    stream: &mut tokio::net::TcpStream,
    bound: Duration,
) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(bound, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (got, started.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the connection is still open after {bound:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_tls_port_is_never_served() {
    let edge = start(Limits::default()).await;
    for path in ["/public/free.txt", &edge.signed("https", "/hello.txt")] {
        let mut tcp = tokio::net::TcpStream::connect(edge.addr).await.unwrap();
        tcp.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let (got, _) = read_until_closed(&mut tcp, Duration::from_secs(5)).await;
        // at most a TLS alert record (content type 21), never an HTTP response
        assert!(
            !got.starts_with(b"HTTP/"),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        assert!(got.is_empty() || got[0] == 21, "{got:?}");
        let text = String::from_utf8_lossy(&got);
        assert!(!text.contains("free") && !text.contains("hello"), "{text}");
    }
    // and the edge still serves TLS clients
    assert_eq!(edge.get("/public/free.txt").await.status, 200);
    assert!(
        edge.metrics
            .encode()
            .contains("cfsign_edge_tls_handshake_failures_total{reason=\"error\"} 2\n"),
        "{}",
        edge.metrics.encode()
    );
    edge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_cut_off_and_holds_a_connection_slot_until_then() {
    let limits = Limits {
        max_connections: 1,
        header_read_timeout: Duration::from_millis(800),
        ..Limits::default()
    };
    let edge = start(limits).await;
    let opened = Instant::now();
    let mut silent = tokio::net::TcpStream::connect(edge.addr).await.unwrap();
    // the only slot is taken by the silent client: a TLS client is turned away
    tokio::time::sleep(Duration::from_millis(100)).await;
    let turned_away = tk::get(edge.addr, "localhost", "/public/free.txt", &[&edge.cert]).await;
    assert!(turned_away.is_err(), "{turned_away:?}");
    // the handshake timeout closes the silent connection
    let (got, _) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(got.is_empty(), "{got:?}");
    // never before the timeout (the timeout did the closing), and not much after it
    let waited = opened.elapsed();
    assert!(
        waited >= limits.header_read_timeout && waited < Duration::from_secs(4),
        "closed after {waited:?}"
    );
    // then the slot is free again
    let mut served = None;
    for _ in 0..20 {
        if let Ok(reply) = tk::get(edge.addr, "localhost", "/public/free.txt", &[&edge.cert]).await
        {
            served = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served.unwrap().status, 200);
    // the served connection's slot is free once its task has ended, which can be
    // a moment after the client read the end of the response
    for _ in 0..100 {
        if edge
            .metrics
            .encode()
            .contains("cfsign_edge_connections 0\n")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // a client that starts a handshake and stalls is cut off too
    let opened = Instant::now();
    let mut stalled = tokio::net::TcpStream::connect(edge.addr).await.unwrap();
    stalled.write_all(&[22, 3, 1, 0, 200, 1]).await.unwrap(); // a ClientHello's first bytes
    let _ = read_until_closed(&mut stalled, Duration::from_secs(5)).await;
    let waited = opened.elapsed();
    assert!(
        waited >= limits.header_read_timeout && waited < Duration::from_secs(4),
        "closed after {waited:?}"
    );
    let text = edge.metrics.encode();
    assert!(
        text.contains("cfsign_edge_tls_handshake_failures_total{reason=\"timeout\"} 2\n"),
        "the silent and the stalled client: {text}"
    );
    edge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_switches_the_certificate_for_new_connections() {
    let edge = start(Limits::default()).await;
    let next = tk::self_signed(&["localhost"]);
    let trust_both = [&edge.cert, &next];
    let before = tk::get(edge.addr, "localhost", "/public/free.txt", &trust_both)
        .await
        .unwrap();
    assert_eq!(before.peer_certificate, edge.cert.der);

    // a connection opened before the swap
    let mut open = tk::connect(edge.addr, "localhost", tk::client_config(&trust_both, &[]))
        .await
        .unwrap();

    let (cert, key) = next.write(edge.dir.path(), "next");
    edge.edge
        .tls()
        .replace(&TlsCertificate::load(&cert, &key).unwrap());
    assert_eq!(edge.edge.tls().chain()[0].as_ref(), &next.der[..]);
    let after = tk::get(edge.addr, "localhost", "/public/free.txt", &trust_both)
        .await
        .unwrap();
    assert_eq!(after.peer_certificate, next.der);
    assert_eq!(after.status, 200);

    // the old connection (its handshake made with the old certificate) is still served
    open.write_all(
        b"GET /public/free.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), open.read_to_end(&mut raw))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.starts_with("HTTP/1.1 200") && text.ends_with("free"),
        "{text}"
    );
    edge.stop().await;
}

// ---------------------------------------------------------------------------
// Key formats

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("the openssl CLI is needed (apt-get install openssl): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Serves `cert` with the key in `key_file` and checks a client gets that certificate.
async fn serves(cert: &TestCert, cert_file: &Path, key_file: &Path) {
    let tls = EdgeTls::new(&TlsCertificate::load(cert_file, key_file).unwrap()).unwrap();
    let app = axum::Router::new().fallback(|| async { "ok" });
    let server = RunningServer::start(app, ServeOptions::default().tls(tls)).await;
    let reply = tk::get(server.addr(), "localhost", "/", &[cert])
        .await
        .unwrap();
    assert_eq!((reply.status, &reply.body[..]), (200, &b"ok"[..]));
    assert_eq!(reply.peer_certificate, cert.der);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_request_in_flight_over_tls_finish() {
    let dir = tempfile::tempdir().unwrap();
    let cert = tk::self_signed(&["localhost"]);
    let (cert_file, key_file) = cert.write(dir.path(), "edge");
    let tls = EdgeTls::new(&TlsCertificate::load(&cert_file, &key_file).unwrap()).unwrap();
    // A handler that tells when it has the request and answers when released.
    let (entered, release) = (
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    let app = axum::Router::new().fallback({
        let (entered, release) = (Arc::clone(&entered), Arc::clone(&release));
        move || async move {
            entered.notify_one();
            release.notified().await;
            "finished"
        }
    });
    let mut server = RunningServer::start(app, ServeOptions::default().tls(tls)).await;
    let addr = server.addr();
    let client = tokio::spawn({
        let cert = cert.clone();
        async move { tk::get(addr, "localhost", "/slow", &[&cert]).await }
    });
    tokio::time::timeout(Duration::from_secs(10), entered.notified())
        .await
        .expect("the request reaches the handler");
    server.signal_stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !server.is_finished(),
        "shutdown must wait for the request in flight"
    );
    release.notify_one();
    let reply = tokio::time::timeout(Duration::from_secs(10), client)
        .await
        .expect("the client gets its answer")
        .unwrap()
        .unwrap();
    assert_eq!((reply.status, &reply.body[..]), (200, &b"finished"[..]));
    server
        .stopped(Duration::from_secs(10))
        .await
        .expect("the server stops once the request is done")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs8_pkcs1_sec1_and_ed25519_keys_are_served() {
    let dir = tempfile::tempdir().unwrap();
    // PKCS#8: EC P-256, RSA, Ed25519, as rcgen writes them
    for (stem, alg) in [
        ("ec", &rcgen::PKCS_ECDSA_P256_SHA256),
        ("rsa", &rcgen::PKCS_RSA_SHA256),
        ("ed25519", &rcgen::PKCS_ED25519),
    ] {
        let cert = tk::self_signed_with(&["localhost"], alg);
        let (cert_file, key_file) = cert.write(dir.path(), stem);
        assert!(cert.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        serves(&cert, &cert_file, &key_file).await;
        if stem == "ed25519" {
            continue;
        }
        // the traditional forms: PKCS#1 for RSA, SEC1 for EC
        let traditional = dir.path().join(format!("{stem}-traditional.pem"));
        openssl(&[
            "pkey",
            "-in",
            path(&key_file),
            "-traditional",
            "-out",
            path(&traditional),
        ]);
        let text = std::fs::read_to_string(&traditional).unwrap();
        let label = if stem == "rsa" {
            "RSA PRIVATE KEY"
        } else {
            "EC PRIVATE KEY"
        };
        assert!(
            text.starts_with(&format!("-----BEGIN {label}-----")),
            "{text}"
        );
        serves(&cert, &cert_file, &traditional).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_with_the_certificate_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cert = tk::self_signed(&["localhost"]);
    let both = dir.path().join("both.pem");
    std::fs::write(&both, format!("{}{}", cert.cert_pem, cert.key_pem)).unwrap();
    serves(&cert, &both, &both).await;
}

#[test]
fn debug_output_never_shows_the_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let cert = tk::self_signed(&["localhost"]);
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, &cert.cert_pem).unwrap();
    std::fs::write(&key_file, &cert.key_pem).unwrap();
    let loaded = TlsCertificate::load(&cert_file, &key_file).unwrap();
    let tls = EdgeTls::new(&loaded).unwrap();
    // A run of the key's bytes from its middle, in every form Debug could print it:
    // base64 (the PEM), a list of numbers, hex.
    use rustls_pki_types::pem::PemObject as _;
    let der = rustls_pki_types::PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
    let der = der.secret_der();
    let window = &der[der.len() / 2..der.len() / 2 + 12];
    let body: String = cert
        .key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let forms = [
        body[body.len() / 2..body.len() / 2 + 24].to_owned(),
        format!("{window:?}").trim_matches(['[', ']']).to_owned(),
        window
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    ];
    for shown in [
        format!("{loaded:?}"),
        format!("{tls:?}"),
        format!("{loaded:#?}"),
    ] {
        for secret in &forms {
            assert!(
                !shown.contains(secret.as_str()),
                "the key leaked into Debug: {shown}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Mistakes: each error names the file and the fix

struct Files {
    dir: tempfile::TempDir,
    cert: TestCert,
    cert_file: PathBuf,
    key_file: PathBuf,
}

fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let cert = tk::self_signed(&["localhost"]);
    let (cert_file, key_file) = cert.write(dir.path(), "good");
    Files {
        dir,
        cert,
        cert_file,
        key_file,
    }
}

impl Files {
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn load_err(cert: &Path, key: &Path) -> TlsError {
    let e = TlsCertificate::load(cert, key).unwrap_err();
    let message = e.to_string();
    let named = if e.field() == "cert_file" { cert } else { key };
    assert!(
        message.contains(path(named)),
        "{message} does not name {}",
        named.display()
    );
    e
}

#[test]
fn missing_files_are_named() {
    let f = files();
    let nowhere = f.dir.path().join("nowhere.pem");
    let e = load_err(&nowhere, &f.key_file);
    assert!(
        matches!(e, TlsError::Read { .. }) && e.field() == "cert_file",
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("cannot read the TLS certificate file"),
        "{e}"
    );
    let e = load_err(&f.cert_file, &nowhere);
    assert!(
        e.field() == "key_file" && e.to_string().contains("private key file"),
        "{e}"
    );
}

#[test]
fn a_key_given_as_the_certificate() {
    let f = files();
    let e = load_err(&f.key_file, &f.key_file);
    assert!(matches!(e, TlsError::NoCertificate { .. }), "{e:?}");
    let m = e.to_string();
    assert!(
        m.contains("holds no certificate")
            && m.contains("it holds a private key")
            && m.contains("--tls-cert"),
        "{m}"
    );
}

#[test]
fn a_certificate_given_as_the_key() {
    let f = files();
    let e = load_err(&f.cert_file, &f.cert_file);
    assert!(matches!(e, TlsError::NoKey { .. }), "{e:?}");
    let m = e.to_string();
    assert!(
        m.contains("holds no private key")
            && m.contains("it holds a certificate")
            && m.contains("--tls-key"),
        "{m}"
    );
}

#[test]
fn empty_and_der_files() {
    let f = files();
    let empty = f.write("empty.pem", "");
    let e = load_err(&empty, &f.key_file);
    assert!(matches!(e, TlsError::NoCertificate { .. }), "{e:?}");
    let der = f.dir.path().join("cert.der");
    std::fs::write(&der, &f.cert.der).unwrap();
    let e = load_err(&der, &f.key_file);
    assert!(e.to_string().contains("openssl x509 -inform der"), "{e}");
    let e = load_err(&f.cert_file, &empty);
    assert!(
        matches!(e, TlsError::NoKey { .. }) && e.to_string().contains("BEGIN PRIVATE KEY"),
        "{e}"
    );
    let public = f.write(
        "public.pem",
        &PrivateKey::generate(KeyType::EcdsaP256)
            .unwrap()
            .public_key()
            .unwrap()
            .to_pem()
            .unwrap(),
    );
    let e = load_err(&f.cert_file, &public);
    assert!(e.to_string().contains("it holds a public key"), "{e}");
}

#[test]
fn broken_pem_is_named() {
    let f = files();
    let broken = f.write(
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n",
    );
    let e = load_err(&broken, &f.key_file);
    assert!(
        matches!(e, TlsError::Pem { .. }) && e.to_string().contains("not valid PEM"),
        "{e:?}"
    );
    let cut = f.write("cut.pem", &f.cert.cert_pem[..f.cert.cert_pem.len() / 2]);
    let e = load_err(&cut, &f.key_file);
    let m = e.to_string();
    assert!(
        matches!(e, TlsError::Pem { .. })
            && m.contains("\"-----END CERTIFICATE-----\"")
            && m.contains("cut off")
            && m.contains(path(&cut)),
        "{m}"
    );
}

#[test]
fn several_keys_are_refused() {
    let f = files();
    let other = tk::self_signed(&["localhost"]);
    let two = f.write("two.pem", &format!("{}{}", f.cert.key_pem, other.key_pem));
    let e = load_err(&f.cert_file, &two);
    assert!(matches!(e, TlsError::SeveralKeys { count: 2, .. }), "{e:?}");
    assert!(e.to_string().contains("holds 2 private keys"), "{e}");
}

#[test]
fn a_chain_in_the_wrong_order_is_named() {
    let f = files();
    let issuer = tk::self_signed(&["ca.example"]);
    // `cat ca.pem cert.pem`: the server's certificate second
    let reversed = f.write(
        "reversed.pem",
        &format!("{}{}", issuer.cert_pem, f.cert.cert_pem),
    );
    let e = load_err(&reversed, &f.key_file);
    assert!(
        matches!(e, TlsError::ChainOrder { position: 2, .. }),
        "{e:?}"
    );
    assert_eq!(e.field(), "cert_file");
    let m = e.to_string();
    assert!(
        m.contains(path(&reversed)) && m.contains("put it first"),
        "{m}"
    );
    // in the right order the same two certificates load
    let ordered = f.write(
        "ordered.pem",
        &format!("{}{}", f.cert.cert_pem, issuer.cert_pem),
    );
    assert!(TlsCertificate::load(&ordered, &f.key_file).is_ok());
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let f = files();
    let other = tk::self_signed(&["localhost"]);
    let (_, other_key) = other.write(f.dir.path(), "other");
    let e = load_err(&f.cert_file, &other_key);
    assert!(matches!(e, TlsError::KeyMismatch { .. }), "{e:?}");
    let m = e.to_string();
    assert!(
        m.contains(path(&f.cert_file)) && m.contains("does not belong"),
        "{m}"
    );
}

#[test]
fn encrypted_keys_are_refused_with_the_fix() {
    let f = files();
    let pkcs8 = f.dir.path().join("encrypted.pem");
    openssl(&[
        "pkey",
        "-in",
        path(&f.key_file),
        "-aes256",
        "-passout",
        "pass:secret",
        "-out",
        path(&pkcs8),
    ]);
    assert!(
        std::fs::read_to_string(&pkcs8)
            .unwrap()
            .contains("BEGIN ENCRYPTED PRIVATE KEY")
    );
    // the legacy form: "Proc-Type: 4,ENCRYPTED" inside an EC PRIVATE KEY block
    let legacy = f.dir.path().join("legacy.pem");
    openssl(&[
        "ec",
        "-in",
        path(&f.key_file),
        "-aes256",
        "-passout",
        "pass:secret",
        "-out",
        path(&legacy),
    ]);
    assert!(
        std::fs::read_to_string(&legacy)
            .unwrap()
            .contains("Proc-Type: 4,ENCRYPTED")
    );
    for key in [&pkcs8, &legacy] {
        let e = load_err(&f.cert_file, key);
        assert!(matches!(e, TlsError::EncryptedKey { .. }), "{e:?}");
        assert!(e.to_string().contains("openssl pkey -in"), "{e}");
    }
}

// ---------------------------------------------------------------------------
// The configuration

fn config_with(
    f: &Files,
    top: &str,
    tls: &str,
) -> Result<cfsign_edge::config::EdgeConfig, ConfigError> {
    std::fs::create_dir_all(f.dir.path().join("media")).unwrap();
    let text = format!(
        "{top}\n{tls}\n[origins.m]\ntype = \"directory\"\nroot = \"media\"\n[default_behavior]\norigin = \"m\"\nrestricted = false\n"
    );
    let file = f.write("edge.toml", &text);
    ConfigFile::read(&file)?.load(f.dir.path())
}

#[test]
fn configuration_tls_section() {
    let f = files();
    let tls = "[tls]\ncert_file = \"good-cert.pem\"\nkey_file = \"good-key.pem\"";
    let config = config_with(&f, "", tls).unwrap();
    let certificate = config.tls.unwrap();
    assert_eq!(certificate.cert_file(), f.cert_file);
    assert_eq!(certificate.chain()[0].as_ref(), &f.cert.der[..]);
    assert!(config_with(&f, "", "").unwrap().tls.is_none());
    assert!(config_with(&f, "viewer_scheme = \"https\"", tls).is_ok());

    // a viewer scheme of http contradicts TLS
    let e = config_with(&f, "viewer_scheme = \"http\"", tls)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("viewer_scheme:") && e.contains("[tls]"),
        "{e}"
    );

    // errors name the field and the file
    let e = config_with(
        &f,
        "",
        "[tls]\ncert_file = \"good-cert.pem\"\nkey_file = \"nope.pem\"",
    )
    .unwrap_err();
    let m = e.to_string();
    assert!(
        matches!(e, ConfigError::Tls { .. })
            && m.starts_with("tls.key_file: ")
            && m.contains("nope.pem"),
        "{m}"
    );
    let e = config_with(
        &f,
        "",
        "[tls]\ncert_file = \"good-key.pem\"\nkey_file = \"good-key.pem\"",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("tls.cert_file: ") && e.contains("good-key.pem"),
        "{e}"
    );
    // both files are required; unknown fields are refused
    let e = config_with(&f, "", "[tls]\ncert_file = \"good-cert.pem\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("key_file"), "{e}");
    let e = config_with(&f, "", &format!("{tls}\npassword = \"x\""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("password"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_certificate_s_expiry_is_a_metric() {
    let edge = start(Limits::default()).await;
    // served, so the server runs (and reports its certificate)
    let signed = edge.signed("https", "/hello.txt");
    assert_eq!(edge.get(&signed).await.status, 200);
    // rcgen's certificates are valid until 4096-01-01T00:00:00Z
    let text = edge.metrics.encode();
    assert!(
        text.contains("cfsign_edge_tls_certificate_expiry_timestamp_seconds 67090118400\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE cfsign_edge_tls_certificate_expiry_timestamp_seconds gauge\n"),
        "{text}"
    );
    edge.stop().await;
}
