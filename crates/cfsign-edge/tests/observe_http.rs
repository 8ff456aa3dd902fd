//! Metrics, the admin listener and access logs through real sockets on 127.0.0.1.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cfsign::verify::Verifier;
use cfsign::{KeyPairId, KeyType, Policy, PrivateKey, Resource, SignableUrl, Signer};
use cfsign_edge::access::{AccessConfig, Scheme, SharedVerifier};
use cfsign_edge::behavior::{Behavior, Behaviors, PathPattern};
use cfsign_edge::cache::{CacheSettings, ObjectCache, TtlPolicy};
use cfsign_edge::fetch::fetch;
use cfsign_edge::observe::{self, AccessLog, AccessLogFormat, FIELDS, Metrics, ObserveLayer};
use cfsign_edge::origin::{DirectoryOrigin, Origin};
use cfsign_edge::server::{self, EdgeHandle, Limits};
use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The object a viewer abandons mid-body: larger than the loopback socket buffers.
const HUGE: usize = 32 << 20;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let i = FIELDS.iter().position(|f| *f == name).unwrap();
    line.split('\t').nth(i).unwrap()
}

fn query_value<'a>(url: &'a str, name: &str) -> &'a str {
    url.split(['?', '&'])
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .unwrap()
}

async fn get(url: &str, headers: &[(&str, &str)]) -> StatusCode {
    fetch(Method::GET, url, headers, Duration::from_secs(10))
        .await
        .unwrap()
        .status
}

/// A running edge with a restricted `/media/*` behavior and a public default,
/// its access log in a buffer and its admin listener.
struct Edge {
    addr: SocketAddr,
    base: String,
    admin: String,
    metrics: Metrics,
    log: AccessLog,
    buffer: Buffer,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Edge {
    async fn start(root: &Path, verifier: SharedVerifier, format: AccessLogFormat) -> Self {
        let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(root).unwrap());
        let behavior = |pattern: PathPattern, access: Option<AccessConfig>| Behavior {
            pattern,
            origin: Arc::clone(&origin),
            origin_name: "files".to_owned(),
            access,
            ttl: TtlPolicy::default(),
        };
        let behaviors = Behaviors::new(
            vec![behavior(
                PathPattern::new("/media/*").unwrap(),
                Some(AccessConfig::new(verifier, Scheme::Http)),
            )],
            behavior(PathPattern::any(), None),
        );
        let metrics = Metrics::new();
        let buffer = Buffer::default();
        let log = AccessLog::new(format, buffer.clone()).unwrap();
        let cache = ObjectCache::new(CacheSettings::default());
        let app = EdgeHandle::new(&behaviors, Some(cache))
            .router()
            .layer(ObserveLayer::new(metrics.clone(), Some(log.clone())));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = format!("http://{}", admin_listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let edge_task = tokio::spawn({
            let metrics = metrics.clone();
            let shutdown = until_stopped(stopped.clone());
            async move {
                server::serve_observed(listener, app, Limits::default(), &metrics, shutdown).await
            }
        });
        let admin_task = tokio::spawn(server::serve_with(
            admin_listener,
            observe::admin_router(metrics.clone()),
            observe::admin_limits(),
            until_stopped(stopped),
        ));
        Self {
            addr,
            base: format!("http://{addr}"),
            admin,
            metrics,
            log,
            buffer,
            stop,
            tasks: vec![edge_task, admin_task],
        }
    }

    /// The log lines once there are at least `n` (or after 10 s).
    async fn lines(&self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            assert!(self.log.flush(Duration::from_secs(5)));
            let text = String::from_utf8(self.buffer.0.lock().unwrap().clone()).unwrap();
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            if lines.len() >= n || std::time::Instant::now() > deadline {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let result = tokio::time::timeout(Duration::from_secs(10), task).await;
            assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_access_logs_over_sockets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    std::fs::write(dir.path().join("media/hello.txt"), "hello edge\n").unwrap();
    std::fs::write(dir.path().join("media/huge.bin"), vec![7u8; HUGE]).unwrap();
    std::fs::write(dir.path().join("public.txt"), "public\n").unwrap();
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let id = KeyPairId::new("KEDGE").unwrap();
    let verifier =
        SharedVerifier::new(Verifier::new().with_key(id.clone(), key.public_key().unwrap()));
    let signer = Signer::new(id, key);
    let edge = Edge::start(dir.path(), verifier, AccessLogFormat::Text).await;
    let (addr, metrics, admin) = (edge.addr, edge.metrics.clone(), edge.admin.clone());
    let base = edge.base.clone();
    let sign = |path: &str, resource: Resource| {
        let url = SignableUrl::parse(&format!("{base}{path}")).unwrap();
        let policy = Policy::builder(resource)
            .expires_in(Duration::from_secs(60))
            .build()
            .unwrap();
        signer.sign_url(&url, &policy).unwrap().into_string()
    };
    let exact = |path: &str| Resource::Url(SignableUrl::parse(&format!("{base}{path}")).unwrap());

    // 1. signed (canned policy) 200
    let signed = sign("/media/hello.txt", exact("/media/hello.txt"));
    assert_eq!(get(&signed, &[]).await, StatusCode::OK);
    // 2. unsigned: 403 MissingKey
    assert_eq!(
        get(&format!("{base}/media/hello.txt"), &[]).await,
        StatusCode::FORBIDDEN
    );
    // 3. signed with a custom policy, missing object: 404
    let wildcard = Resource::pattern(&format!("{base}/media/*")).unwrap();
    let custom = sign("/media/none.txt", wildcard.clone());
    assert!(custom.contains("Policy="));
    assert_eq!(get(&custom, &[]).await, StatusCode::NOT_FOUND);
    // 4. signed cookies: 200
    let policy = Policy::builder(wildcard)
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    let cookies = signer.sign_cookies(&policy).unwrap();
    let cookie_header = cookies.cookie_header();
    assert_eq!(
        get(
            &format!("{base}/media/hello.txt"),
            &[("cookie", &cookie_header)]
        )
        .await,
        StatusCode::OK
    );
    // 5. the public default behavior
    assert_eq!(
        get(&format!("{base}/public.txt"), &[]).await,
        StatusCode::OK
    );
    // 6. a viewer that reads 64 KiB of a 32 MiB object and goes away
    let huge = sign("/media/huge.bin", exact("/media/huge.bin"));
    let path = &huge[base.len()..];
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut received = vec![0u8; 64 * 1024];
    stream.read_exact(&mut received).await.unwrap();
    assert!(received.starts_with(b"HTTP/1.1 200"));
    drop(stream);

    // one line per request; the abandoned one is logged once its body is dropped
    let lines = edge.lines(6).await;
    assert_eq!(lines.len(), 6, "{lines:#?}");
    let by_stem = |stem: &str| -> Vec<&String> {
        lines
            .iter()
            .filter(|l| field(l, "cs-uri-stem") == stem)
            .collect()
    };
    let hello = by_stem("/media/hello.txt");
    assert_eq!(hello.len(), 3);
    let statuses: Vec<(&str, &str)> = hello
        .iter()
        .map(|l| {
            (
                field(l, "sc-status"),
                field(l, "x-edge-detailed-result-type"),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [("200", "Miss"), ("403", "MissingKey"), ("200", "Hit")]
    );
    assert_eq!(field(hello[0], "sc-bytes"), "11");
    assert_eq!(field(hello[0], "c-ip"), "127.0.0.1");
    assert_eq!(field(hello[1], "x-edge-result-type"), "Error");
    assert_eq!(field(hello[1], "sc-content-type"), "text/xml");
    assert_eq!(
        field(hello[2], "cs(Cookie)"),
        "CloudFront-Policy;CloudFront-Signature;CloudFront-Key-Pair-Id"
    );
    let none = by_stem("/media/none.txt");
    assert_eq!(field(none[0], "sc-status"), "404");
    assert!(field(none[0], "cs-uri-query").contains("Policy=REDACTED&Signature=REDACTED"));
    assert_eq!(field(by_stem("/public.txt")[0], "sc-status"), "200");
    let abandoned = by_stem("/media/huge.bin")[0];
    let sent: u64 = field(abandoned, "sc-bytes").parse().unwrap();
    assert!(
        sent >= 64 * 1024 - 512 && sent < HUGE as u64,
        "sc-bytes {sent} of {HUGE}"
    );
    assert_eq!(field(abandoned, "sc-status"), "200");
    assert_eq!(
        field(abandoned, "x-edge-detailed-result-type"),
        "ClientCommError"
    );
    assert_eq!(field(abandoned, "sc-content-len"), HUGE.to_string());
    // CloudFront's way of saying "the viewer left": Error, though the response was a Miss
    assert_eq!(field(abandoned, "x-edge-result-type"), "Error");
    assert_eq!(field(abandoned, "x-edge-response-result-type"), "Miss");

    // no credential in any line
    let mut secrets = vec![
        query_value(&signed, "Signature").to_owned(),
        query_value(&custom, "Signature").to_owned(),
        query_value(&custom, "Policy").to_owned(),
        query_value(&huge, "Signature").to_owned(),
    ];
    for (name, value) in cookies.pairs() {
        if name != "CloudFront-Key-Pair-Id" {
            secrets.push(value.to_string());
        }
    }
    for line in &lines {
        for secret in &secrets {
            assert!(!line.contains(secret.as_str()), "{secret} logged in {line}");
        }
    }

    // the metrics, scraped from the admin listener
    let healthz = fetch(
        Method::GET,
        &format!("{admin}/healthz"),
        &[],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(
        (healthz.status, healthz.body.as_ref()),
        (StatusCode::OK, &b"ok"[..])
    );
    let scraped = fetch(
        Method::GET,
        &format!("{admin}/metrics"),
        &[],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(scraped.headers["content-type"], observe::CONTENT_TYPE);
    let text = String::from_utf8(scraped.body.to_vec()).unwrap();
    let total_sent: u64 = lines
        .iter()
        .map(|l| field(l, "sc-bytes").parse::<u64>().unwrap())
        .sum();
    for expected in [
        r#"cfsign_edge_requests_total{status="200",code="-",behavior="/media/*"} 3"#.to_owned(),
        r#"cfsign_edge_requests_total{status="403",code="MissingKey",behavior="/media/*"} 1"#
            .to_owned(),
        r#"cfsign_edge_requests_total{status="404",code="-",behavior="/media/*"} 1"#.to_owned(),
        r#"cfsign_edge_requests_total{status="200",code="-",behavior="*"} 1"#.to_owned(),
        // hello.txt again (with cookies) is the one hit; huge.bin is too large
        // to cache and is streamed from the cache's own look at it (one get).
        r#"cfsign_edge_cache_total{result="hit"} 1"#.to_owned(),
        r#"cfsign_edge_cache_total{result="miss"} 3"#.to_owned(),
        r#"cfsign_edge_cache_total{result="error"} 2"#.to_owned(),
        r#"cfsign_edge_verification_seconds_count{outcome="allowed"} 4"#.to_owned(),
        r#"cfsign_edge_verification_seconds_count{outcome="denied"} 1"#.to_owned(),
        r#"cfsign_edge_origin_seconds_count{op="get"} 4"#.to_owned(),
        r#"cfsign_edge_origin_seconds_count{op="head"} 0"#.to_owned(),
        format!("cfsign_edge_response_bytes_total {total_sent}\n"),
    ] {
        assert!(text.contains(&expected), "lacks {expected}:\n{text}");
    }

    // every viewer connection is closed by now, or soon
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !metrics.encode().contains("cfsign_edge_connections 0\n") {
        assert!(std::time::Instant::now() < deadline, "{}", metrics.encode());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    edge.stop().await;
}
