//! HTTP/2 through real sockets: h2c with prior knowledge on a plain listener,
//! `h2` by ALPN over TLS, with curl (a real HTTP/2 client) and the `h2` crate,
//! and the same access check, logs and limits as HTTP/1.1.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use cfsign_edge::observe::Metrics;
use cfsign_edge::server::Limits;
use cfsign_testkit::edge::{EdgeBuilder, RunningEdge};
use cfsign_testkit::signer::TestSigner;
use cfsign_testkit::tls as tk;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

struct Running {
    addr: SocketAddr,
    base: String,
    metrics: Metrics,
    edge: RunningEdge,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start(tls: bool, limits: Limits) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("root")).unwrap();
        std::fs::write(dir.path().join("root/hello.txt"), "hello h2\n").unwrap();
        // The viewer scheme is https over TLS.
        let mut edge = EdgeBuilder::new()
            .directory(&dir.path().join("root"))
            .signer(TestSigner::new("KH2"))
            .limits(limits)
            .observed();
        if tls {
            edge = edge.tls(tk::self_signed(&["localhost"]));
        }
        let edge = edge.start().await;
        Self {
            addr: edge.addr(),
            base: edge.base().to_owned(),
            metrics: edge.metrics().clone(),
            edge,
            _dir: dir,
        }
    }

    fn signed(&self, path: &str) -> String {
        self.edge.signed(path, 60)
    }

    /// curl with `flags`: (HTTP version, status, body).
    async fn curl(&self, flags: &[&str], url: &str) -> (String, u16, String) {
        let mut command = Command::new("curl");
        command
            .args([
                "-sS",
                "--max-time",
                "10",
                "-w",
                "\n%{http_version} %{http_code}",
            ])
            .args(flags)
            .arg(url);
        if url.starts_with("https://") {
            command
                .arg("--cacert")
                .arg(self.edge.cert_file())
                .arg("--resolve")
                .arg(format!("localhost:{}:127.0.0.1", self.addr.port()));
        }
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("curl is needed (apt-get install curl): {e}"));
        assert!(
            output.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        let (body, last) = text.rsplit_once('\n').unwrap();
        let (version, status) = last.split_once(' ').unwrap();
        (version.to_owned(), status.parse().unwrap(), body.to_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_with_prior_knowledge_and_http1_share_a_plain_listener() {
    let edge = Running::start(false, Limits::default()).await;
    let signed = edge.signed("/hello.txt");
    let (version, status, body) = edge.curl(&["--http2-prior-knowledge"], &signed).await;
    assert_eq!(
        (version.as_str(), status, body.as_str()),
        ("2", 200, "hello h2\n")
    );
    // The same access check: unsigned is denied over HTTP/2 too.
    let unsigned = format!("{}/hello.txt", edge.base);
    let (version, status, body) = edge.curl(&["--http2-prior-knowledge"], &unsigned).await;
    assert_eq!((version.as_str(), status), ("2", 403));
    assert!(body.contains("<Code>MissingKey</Code>"), "{body}");
    // HTTP/1.1 on the same listener.
    let (version, status, _) = edge.curl(&["--http1.1"], &signed).await;
    assert_eq!((version.as_str(), status), ("1.1", 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_is_negotiated_by_alpn_over_tls() {
    let edge = Running::start(true, Limits::default()).await;
    let signed = edge.signed("/hello.txt");
    let (version, status, body) = edge.curl(&["--http2"], &signed).await;
    assert_eq!(
        (version.as_str(), status, body.as_str()),
        ("2", 200, "hello h2\n")
    );
    let (version, status, _) = edge.curl(&["--http1.1"], &signed).await;
    assert_eq!((version.as_str(), status), ("1.1", 200));
    let text = edge.metrics.encode();
    assert!(text.contains("cfsign_edge_requests_total"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_settings_and_header_bound_follow_the_limits() {
    let limits = Limits {
        max_concurrent_streams: 7,
        ..Limits::default()
    };
    let edge = Running::start(false, limits).await;
    let tcp = tokio::net::TcpStream::connect(edge.addr).await.unwrap();
    let (client, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let mut client = client.ready().await.unwrap();
    // A request, so that the server's SETTINGS have been read.
    let request = http::Request::get(edge.signed("/hello.txt"))
        .body(())
        .unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let response = tokio::select! {
        r = response => r.unwrap(),
        _ = &mut connection => panic!("the connection ended"),
    };
    assert_eq!(response.status(), 200);
    assert_eq!(connection.max_concurrent_send_streams(), 7);
    tokio::spawn(connection);
    // A header list over the 20,480-byte bound is refused, not served.
    let mut client = client.ready().await.unwrap();
    let request = http::Request::get(edge.signed("/hello.txt"))
        .header("x-big", "a".repeat(30_000))
        .body(())
        .unwrap();
    let refused = match client.send_request(request, true) {
        Err(_) => true,
        Ok((response, _)) => match response.await {
            Err(_) => true,
            Ok(r) => r.status() == http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        },
    };
    assert!(refused, "an oversized header list was served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_or_stalled_prefaces_are_closed_at_the_header_timeout() {
    let limits = Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let edge = Running::start(false, limits).await;
    for sent in [&b""[..], &b"PRI * HTTP/2.0\r\n"[..]] {
        let mut tcp = tokio::net::TcpStream::connect(edge.addr).await.unwrap();
        tcp.write_all(sent).await.unwrap();
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
            .await
            .expect("the edge closes the connection within the header timeout");
        assert!(matches!(read, Ok(0) | Err(_)), "{sent:?}: {read:?}");
    }
}
