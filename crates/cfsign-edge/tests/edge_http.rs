//! The edge through a real socket on 127.0.0.1: access control and HTTP semantics
//! over each origin kind, uncached and through the object cache.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cfsign::verify::Verifier;
use cfsign::{KeyPairId, KeyType, Policy, PrivateKey, Resource, SignableUrl, Signer};
use cfsign_edge::access::{AccessConfig, Scheme, SharedVerifier};
use cfsign_edge::cache::{CacheSettings, ObjectCache, TtlPolicy};
use cfsign_edge::origin::{DirectoryOrigin, HttpOrigin, Origin, S3Origin};
use cfsign_edge::serve::Backend;
use cfsign_edge::server;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::oneshot;

struct Edge {
    base: String,
    signer: Signer,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
    big: Vec<u8>,
    /// Kept alive for the S3 and HTTP origin kinds.
    _moto: Option<cfsign_testkit::moto::Moto>,
    _backend: Option<oneshot::Sender<()>>,
}

/// The origin kinds the socket tests run against.
#[derive(Debug, Clone, Copy)]
enum OriginKind {
    Directory,
    S3,
    Http,
}

const UPLOAD: &str = r#"
import os, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["MOTO_ENDPOINT"],
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))
root = sys.stdin.read().strip()
s3.create_bucket(Bucket="edge-http")
for key, ctype in [("media/hello.txt", "text/plain"), ("media/big.bin", "application/octet-stream")]:
    with open(os.path.join(root, key), "rb") as f:
        s3.put_object(Bucket="edge-http", Key=key, Body=f.read(), ContentType=ctype)
print("ok")
"#;

async fn start() -> Edge {
    start_with(OriginKind::Directory, None).await
}

async fn start_with(kind: OriginKind, cache: Option<&ObjectCache>) -> Edge {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("root/media")).unwrap();
    std::fs::write(dir.path().join("root/media/hello.txt"), "hello edge\n").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("root/media/big.bin"), &big).unwrap();
    std::fs::write(dir.path().join("secret.txt"), "SECRET").unwrap();
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let id = KeyPairId::new("KEDGE").unwrap();
    let verifier =
        SharedVerifier::new(Verifier::new().with_key(id.clone(), key.public_key().unwrap()));
    let directory: Arc<dyn Origin> =
        Arc::new(DirectoryOrigin::new(dir.path().join("root")).unwrap());
    let (mut moto_server, mut backend) = (None, None);
    let origin: Arc<dyn Origin> = match kind {
        OriginKind::Directory => directory,
        OriginKind::S3 => {
            let moto = cfsign_testkit::moto::Moto::start();
            let root = dir.path().join("root");
            assert_eq!(
                moto.python(UPLOAD, root.to_str().unwrap().as_bytes())
                    .trim(),
                "ok"
            );
            let origin = S3Origin::builder("edge-http")
                .endpoint(moto.endpoint())
                .allow_http(true)
                .region(cfsign_testkit::moto::REGION)
                .credentials(
                    cfsign_testkit::moto::ACCESS_KEY_ID,
                    cfsign_testkit::moto::SECRET_ACCESS_KEY,
                    None,
                )
                .build()
                .unwrap();
            moto_server = Some(moto);
            Arc::new(origin)
        }
        OriginKind::Http => {
            // An application server: a public edge over the same directory.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let (stop, stopped) = oneshot::channel::<()>();
            tokio::spawn(server::serve(
                listener,
                server::router(Backend::new(directory), None),
                async {
                    let _ = stopped.await;
                },
            ));
            backend = Some(stop);
            Arc::new(HttpOrigin::new(&url, Duration::from_secs(10)).unwrap())
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let mut served = Backend::new(origin);
    if let Some(cache) = cache {
        served = served.with_cache(cache, TtlPolicy::default());
    }
    let app = server::router(served, Some(AccessConfig::new(verifier, Scheme::Http)));
    let task = tokio::spawn(server::serve(listener, app, async {
        let _ = stopped.await;
    }));
    Edge {
        base: format!("http://{addr}"),
        signer: Signer::new(id, key),
        stop: Some(stop),
        task,
        _dir: dir,
        big,
        _moto: moto_server,
        _backend: backend,
    }
}

impl Edge {
    fn signed(&self, path: &str, expires_in: i64) -> String {
        let url = SignableUrl::parse(&format!("{}{path}", self.base)).unwrap();
        let now = jiff::Timestamp::now();
        let policy = Policy::builder(Resource::Url(url.clone()))
            .expires_at(now + jiff::SignedDuration::from_secs(expires_in))
            .allow_past_expiry(true)
            .build_at(now)
            .unwrap();
        self.signer.sign_url(&url, &policy).unwrap().into_string()
    }

    fn cookies(&self, pattern: &str) -> String {
        let policy =
            Policy::builder(Resource::pattern(&format!("{}{pattern}", self.base)).unwrap())
                .expires_in(Duration::from_secs(60))
                .build()
                .unwrap();
        self.signer.sign_cookies(&policy).unwrap().cookie_header()
    }
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
    chunks: usize,
}

async fn fetch(method: Method, url: &str, headers: &[(&str, &str)]) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        client.request(request.body(Empty::new()).unwrap()),
    )
    .await
    .unwrap()
    .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    let mut chunks = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            chunks += 1;
            bytes.extend_from_slice(&data);
        }
    }
    Reply {
        status,
        headers,
        body: Bytes::from(bytes),
        chunks,
    }
}

async fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    fetch(Method::GET, url, headers).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_control_over_a_socket() {
    let edge = start().await;
    let ok = get(&edge.signed("/media/hello.txt", 60), &[]).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body, "hello edge\n");
    assert_eq!(ok.headers["content-type"], "text/plain");
    assert_eq!(ok.headers["content-length"], "11");
    assert_eq!(ok.headers["accept-ranges"], "bytes");
    assert_eq!(ok.headers["x-cache"], "Miss from cfsign");
    assert_eq!(ok.headers["via"], "1.1 cfsign-edge");
    assert!(ok.headers.contains_key("etag") && ok.headers.contains_key("last-modified"));

    let unsigned = get(&format!("{}/media/hello.txt", edge.base), &[]).await;
    assert_eq!(unsigned.status, StatusCode::FORBIDDEN);
    assert_eq!(unsigned.headers["content-type"], "text/xml");
    assert_eq!(
        unsigned.body,
        r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>MissingKey</Code><Message>Missing Key-Pair-Id query parameter or cookie value</Message></Error>"#
    );

    let expired = get(&edge.signed("/media/hello.txt", -1), &[]).await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN);
    assert!(
        std::str::from_utf8(&expired.body)
            .unwrap()
            .contains("<Code>AccessDenied</Code>")
    );

    let cookie = edge.cookies("/media/*");
    let with_cookie = get(
        &format!("{}/media/hello.txt", edge.base),
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(with_cookie.status, StatusCode::OK);
    // the cookie does not cover other paths, and '..' never escapes its prefix
    let outside = get(&format!("{}/other.txt", edge.base), &[("cookie", &cookie)]).await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN);
    let escape = get(
        &format!("{}/media/%2e%2e/secret.txt", edge.base),
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(escape.status, StatusCode::FORBIDDEN);
    assert_ne!(escape.body, "SECRET");

    let missing = get(&edge.signed("/media/none.txt", 60), &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let post = fetch(Method::POST, &edge.signed("/media/hello.txt", 60), &[]).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_conditionals_and_streaming() {
    ranges_conditionals_and_streaming_with(OriginKind::Directory, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_conditionals_and_streaming_over_s3() {
    ranges_conditionals_and_streaming_with(OriginKind::S3, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_conditionals_and_streaming_over_http() {
    ranges_conditionals_and_streaming_with(OriginKind::Http, None).await;
}

/// A cache that holds the 3 MB object, so every answer below comes from memory.
fn roomy_cache() -> ObjectCache {
    ObjectCache::new(CacheSettings {
        max_bytes: 16 << 20,
        max_object_bytes: 4 << 20,
        ..CacheSettings::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_conditionals_from_the_cache() {
    ranges_conditionals_and_streaming_with(OriginKind::Directory, Some(&roomy_cache())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_conditionals_from_the_cache_over_s3() {
    ranges_conditionals_and_streaming_with(OriginKind::S3, Some(&roomy_cache())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_conditionals_from_the_cache_over_http() {
    ranges_conditionals_and_streaming_with(OriginKind::Http, Some(&roomy_cache())).await;
}

/// The same semantics with a cache too small for the object: it is streamed
/// through uncached every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_objects_stream_through_the_cache() {
    let cache = ObjectCache::new(CacheSettings {
        max_object_bytes: 1 << 20,
        ..CacheSettings::default()
    });
    ranges_conditionals_and_streaming_with(OriginKind::Directory, Some(&cache)).await;
    let edge = start_with(OriginKind::Directory, Some(&cache)).await;
    let url = edge.signed("/media/big.bin", 60);
    for _ in 0..2 {
        let r = get(&url, &[]).await;
        assert_eq!(r.body.as_ref(), edge.big.as_slice());
        assert_eq!(r.headers["x-cache"], "Miss from cfsign");
        assert!(r.chunks > 1, "streamed, got {} chunk(s)", r.chunks);
        assert!(!r.headers.contains_key("age"));
    }
    assert!(
        cache.weighted_bytes().await < 1 << 20,
        "the 3 MB body must not be held"
    );
    // A small object from the same edge is cached.
    let small = edge.signed("/media/hello.txt", 60);
    assert_eq!(
        get(&small, &[]).await.headers["x-cache"],
        "Miss from cfsign"
    );
    let again = get(&small, &[]).await;
    assert_eq!(again.headers["x-cache"], "Hit from cfsign");
    assert_eq!(again.body, "hello edge\n");
}

async fn ranges_conditionals_and_streaming_with(kind: OriginKind, cache: Option<&ObjectCache>) {
    let held = |cache: &ObjectCache| cache.settings().max_object_bytes >= 3_000_000;
    let cached = cache.is_some_and(held);
    let edge = start_with(kind, cache).await;
    let url = edge.signed("/media/big.bin", 60);
    let full = get(&url, &[]).await;
    assert_eq!(full.status, StatusCode::OK);
    assert_eq!(full.body.as_ref(), edge.big.as_slice());
    assert_eq!(full.headers["x-cache"], "Miss from cfsign");
    assert!(!full.headers.contains_key("age"), "a miss has no Age");
    if cached {
        let stored = cache.unwrap().weighted_bytes().await;
        assert!(stored >= 3_000_000, "the object is held ({stored} bytes)");
        let again = get(&url, &[]).await;
        assert_eq!(again.body.as_ref(), edge.big.as_slice());
        assert_eq!(again.headers["x-cache"], "Hit from cfsign");
        assert_eq!(again.headers["age"], "0");
        assert_eq!(again.headers["etag"], full.headers["etag"]);
        assert_eq!(again.headers["content-type"], full.headers["content-type"]);
    } else {
        assert!(
            full.chunks > 1,
            "a 3 MB body must be streamed, got {} chunk(s)",
            full.chunks
        );
    }
    let etag = full.headers["etag"].to_str().unwrap().to_owned();
    let modified = full.headers["last-modified"].to_str().unwrap().to_owned();

    let part = get(&url, &[("range", "bytes=10-19")]).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers["content-range"], "bytes 10-19/3000000");
    assert_eq!(part.body.as_ref(), &edge.big[10..20]);
    let suffix = get(&url, &[("range", "bytes=-5")]).await;
    assert_eq!(
        (suffix.status, suffix.body.as_ref()),
        (StatusCode::PARTIAL_CONTENT, &edge.big[2_999_995..])
    );
    let past = get(&url, &[("range", "bytes=3000000-")]).await;
    assert_eq!(past.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past.headers["content-range"], "bytes */3000000");
    let multi = get(&url, &[("range", "bytes=0-1,5-6")]).await;
    assert_eq!(
        (multi.status, multi.body.len()),
        (StatusCode::OK, 3_000_000)
    );

    assert_eq!(
        get(&url, &[("if-none-match", &etag)]).await.status,
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        get(&url, &[("if-modified-since", &modified)]).await.status,
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        get(&url, &[("if-match", "\"nope\"")]).await.status,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        get(
            &url,
            &[("if-unmodified-since", "Thu, 01 Jan 1970 00:00:00 GMT")]
        )
        .await
        .status,
        StatusCode::PRECONDITION_FAILED
    );
    let stale = get(&url, &[("range", "bytes=0-9"), ("if-range", "\"old\"")]).await;
    assert_eq!(
        (stale.status, stale.body.len()),
        (StatusCode::OK, 3_000_000)
    );
    let fresh = get(&url, &[("range", "bytes=0-9"), ("if-range", &etag)]).await;
    assert_eq!(
        (fresh.status, fresh.body.len()),
        (StatusCode::PARTIAL_CONTENT, 10)
    );

    let head = fetch(Method::HEAD, &url, &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.headers["content-length"], "3000000");
    assert!(head.body.is_empty());
    let expected = if cached {
        "Hit from cfsign"
    } else {
        "Miss from cfsign"
    };
    for r in [&part, &suffix, &fresh, &head] {
        assert_eq!(r.headers["x-cache"], expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes() {
    let mut edge = start().await;
    assert_eq!(
        get(&edge.signed("/media/hello.txt", 60), &[]).await.status,
        StatusCode::OK
    );
    edge.stop.take().unwrap().send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), &mut edge.task).await;
    assert!(
        matches!(result, Ok(Ok(Ok(())))),
        "the server did not stop within 10 s: {result:?}"
    );
}

/// A raw TCP exchange: writes `request`, returns what the server sent before closing
/// (or before `wait` elapsed).
async fn raw(addr: &str, request: &[u8], wait: Duration) -> Vec<u8> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut out)).await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_slow_clients_big_heads_and_connection_cap() {
    use tokio::io::AsyncReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(dir.path()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let limits = server::Limits {
        max_connections: 2,
        header_read_timeout: Duration::from_millis(300),
        max_head_bytes: 20_480,
        drain_timeout: Duration::from_secs(5),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve_with(
        listener,
        server::router(Backend::new(origin), None),
        limits,
        async {
            let _ = stopped.await;
        },
    ));

    // a normal request works
    let ok = raw(
        &addr,
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        ok.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&ok)
    );

    // a client that never finishes its head is dropped after the timeout
    let started = std::time::Instant::now();
    let slow = raw(
        &addr,
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\n",
        Duration::from_secs(5),
    )
    .await;
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(3),
        "slow client held the connection for {waited:?}"
    );
    assert!(!String::from_utf8_lossy(&slow).contains("200 OK"));

    // a head over the limit is refused
    let big = format!(
        "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(30_000)
    );
    let refused = raw(&addr, big.as_bytes(), Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&refused);
    assert!(
        refused.is_empty() || text.starts_with("HTTP/1.1 431"),
        "{text}"
    );

    // the connection cap: two idle connections are held, a third is closed at once
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(2), third.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the third connection was not closed: {read:?}"
    );
    drop(held);

    stop.send(()).unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .is_ok()
    );
}
