//! The edge through a real socket on 127.0.0.1: access control and HTTP semantics
//! over each origin kind, uncached and through the object cache.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cfsign_edge::access::AccessConfig;
use cfsign_edge::cache::{CacheSettings, ObjectCache};
use cfsign_edge::origin::{DirectoryOrigin, HttpOrigin, Origin};
use cfsign_edge::server::{self, ServeOptions};
use cfsign_testkit::edge::{self as tk_edge, EdgeBuilder, RunningEdge};
use cfsign_testkit::http::{exchange, fetch, get, path_of, raw};
use cfsign_testkit::moto::Moto;
use cfsign_testkit::s3::{self, S3Object};
use cfsign_testkit::signer::TestSigner;
use http::{Method, StatusCode};
use tokio::sync::oneshot;

/// A restricted edge over `root/` of a temporary folder (`media/hello.txt`,
/// the 3 MB `media/big.bin`; `secret.txt` outside the root), through one of
/// the origin kinds, and what that origin needs kept alive.
struct Edge {
    base: String,
    edge: RunningEdge,
    _dir: tempfile::TempDir,
    big: Vec<u8>,
    /// Kept alive for the S3 and HTTP origin kinds.
    _moto: Option<Moto>,
    _backend: Option<RunningEdge>,
}

/// The origin kinds the socket tests run against.
#[derive(Debug, Clone, Copy)]
enum OriginKind {
    Directory,
    S3,
    Http,
}

async fn start() -> Edge {
    start_with(OriginKind::Directory, None).await
}

async fn start_with(kind: OriginKind, cache: Option<&ObjectCache>) -> Edge {
    start_configured(kind, cache, |config| config).await
}

/// An edge whose access check is `configure`d (e.g. a public base URL).
async fn start_configured(
    kind: OriginKind,
    cache: Option<&ObjectCache>,
    configure: impl FnOnce(AccessConfig) -> AccessConfig + Send + 'static,
) -> Edge {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("media")).unwrap();
    std::fs::write(root.join("media/hello.txt"), "hello edge\n").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("media/big.bin"), &big).unwrap();
    std::fs::write(dir.path().join("secret.txt"), "SECRET").unwrap();
    let (mut moto_server, mut backend) = (None, None);
    let origin: Arc<dyn Origin> = match kind {
        OriginKind::Directory => Arc::new(DirectoryOrigin::new(&root).unwrap()),
        OriginKind::S3 => {
            let moto = Moto::start();
            s3::upload(
                &moto,
                "edge-http",
                &[
                    S3Object::new("media/hello.txt", "hello edge\n").content_type("text/plain"),
                    S3Object::new("media/big.bin", big.clone())
                        .content_type("application/octet-stream"),
                ],
            );
            let origin = s3::origin_builder(&moto, "edge-http").build().unwrap();
            moto_server = Some(moto);
            Arc::new(origin)
        }
        OriginKind::Http => {
            // An application server: a public edge over the same directory.
            let server = EdgeBuilder::new().directory(&root).start().await;
            let origin = HttpOrigin::new(server.base(), Duration::from_secs(10)).unwrap();
            backend = Some(server);
            Arc::new(origin)
        }
    };
    let mut edge = EdgeBuilder::new()
        .origin(origin)
        .signer(TestSigner::new("KEDGE"))
        .access(configure);
    if let Some(cache) = cache {
        edge = edge.cache(cache.clone());
    }
    let edge = edge.start().await;
    Edge {
        base: edge.base().to_owned(),
        edge,
        _dir: dir,
        big,
        _moto: moto_server,
        _backend: backend,
    }
}

impl Edge {
    fn signed(&self, path: &str, expires_in: i64) -> String {
        self.edge.signed(path, expires_in)
    }

    /// A URL signed for `base` (scheme and authority), e.g. another host name.
    fn signed_for(&self, base: &str, path: &str, expires_in: i64) -> String {
        self.edge
            .signer()
            .sign_url(&format!("{base}{path}"), expires_in)
    }

    fn cookies(&self, pattern: &str) -> String {
        self.edge
            .signer()
            .cookie_header(&format!("{}{pattern}", self.base), Duration::from_secs(60))
    }
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
    edge.edge.signal_stop();
    let result = edge.edge.stopped(Duration::from_secs(10)).await;
    assert!(
        matches!(result, Ok(Ok(Ok(())))),
        "the server did not stop within 10 s: {result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_slow_clients_big_heads_and_connection_cap() {
    use tokio::io::AsyncReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    let limits = server::Limits {
        max_connections: 2,
        header_read_timeout: Duration::from_millis(300),
        max_concurrent_streams: 128,
        max_head_bytes: 20_480,
        drain_timeout: Duration::from_secs(5),
        send_timeout: Duration::from_secs(30),
    };
    let mut edge = EdgeBuilder::new()
        .directory(dir.path())
        .limits(limits)
        .start()
        .await;
    let addr = edge.addr().to_string();

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

    edge.signal_stop();
    assert!(edge.stopped(Duration::from_secs(10)).await.is_ok());
}

/// A public edge (no signatures) over `origin`, on 127.0.0.1: its address, and
/// the edge (stopped when dropped).
async fn start_public(origin: Arc<dyn Origin>) -> (String, RunningEdge) {
    let edge = EdgeBuilder::new().origin(origin).start().await;
    (edge.addr().to_string(), edge)
}

const TWO_HOSTS: &str = "The request has more than one Host header.";
const NO_HOST: &str = "The request has no Host header.";
const BAD_HOST: &str = "The Host header is not a valid host name.";

/// RFC 9112 §3.2: more than one Host header, or none in HTTP/1.1, or an invalid
/// one, is a 400, on restricted and public behaviors alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_headers_as_rfc_9112_requires() {
    let edge = start().await;
    let addr = edge.base.strip_prefix("http://").unwrap().to_owned();
    let target = path_of(&edge.signed("/media/hello.txt", 60)).to_owned();
    let get =
        |headers: &str| format!("GET {target} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n");
    let ok = exchange(&addr, &get(&format!("Host: {addr}\r\n"))).await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "hello edge\n"));
    for (headers, message) in [
        (format!("Host: {addr}\r\nHost: {addr}\r\n"), TWO_HOSTS),
        (
            format!("Host: {addr}\r\nHost: other.example\r\n"),
            TWO_HOSTS,
        ),
        (
            format!("Host: other.example\r\nHost: {addr}\r\n"),
            TWO_HOSTS,
        ),
        (String::new(), NO_HOST),
        ("Host: bad host!\r\n".to_owned(), BAD_HOST),
    ] {
        exchange(&addr, &get(&headers))
            .await
            .assert_xml(400, "InvalidRequestHeader", message);
    }
    // HTTP/1.0 needs no Host, but a restricted behavior cannot build the viewer URL without one.
    exchange(&addr, &format!("GET {target} HTTP/1.0\r\n\r\n"))
        .await
        .assert_xml(400, "InvalidRequestHeader", NO_HOST);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    let (addr, _stop) = start_public(Arc::new(DirectoryOrigin::new(dir.path()).unwrap())).await;
    let get = |headers: &str| format!("GET /a.txt HTTP/1.1\r\n{headers}Connection: close\r\n\r\n");
    assert_eq!(exchange(&addr, &get("Host: x\r\n")).await.status, 200);
    for (headers, message) in [
        ("Host: x\r\nHost: x\r\n", TWO_HOSTS),
        ("Host: x\r\nHost: y\r\n", TWO_HOSTS),
        ("", NO_HOST),
        ("Host: bad host!\r\n", BAD_HOST),
    ] {
        exchange(&addr, &get(headers))
            .await
            .assert_xml(400, "InvalidRequestHeader", message);
    }
    let old = exchange(&addr, "GET /a.txt HTTP/1.0\r\n\r\n").await;
    assert_eq!((old.status, old.body.as_str()), (200, "a"));
    // An absolute-form target does not excuse a second Host header.
    exchange(
        &addr,
        &get("Host: x\r\nHost: y\r\n").replace("GET /a.txt", "GET http://x/a.txt"),
    )
    .await
    .assert_xml(400, "InvalidRequestHeader", TWO_HOSTS);
}

/// RFC 9112 §3.2.2: the authority of an absolute-form target wins over `Host`,
/// and the signature is checked against the URL the request names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_form_target_names_the_viewer_url() {
    let edge = start().await;
    let addr = edge.base.strip_prefix("http://").unwrap().to_owned();
    let for_a = edge.signed_for("http://a.example", "/media/hello.txt", 60);
    let for_b = edge.signed_for("http://b.example", "/media/hello.txt", 60);
    let send = |target: String, host: &str| {
        let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let addr = addr.clone();
        async move { exchange(&addr, &request).await }
    };
    // signed for A, sent as absolute-form A with Host: B: judged as A
    let a = send(for_a.clone(), "b.example").await;
    assert_eq!((a.status, a.body.as_str()), (200, "hello edge\n"), "{a:?}");
    // signed for B, sent as absolute-form A with Host: B: judged as A, denied
    let b = send(format!("http://a.example{}", path_of(&for_b)), "b.example").await;
    assert_eq!(b.status, 403, "{b:?}");
    assert!(b.body.contains("<Code>AccessDenied</Code>"), "{b:?}");
    // the same two in origin form: Host names the authority
    assert_eq!(
        send(path_of(&for_b).to_owned(), "b.example").await.status,
        200
    );
    assert_eq!(
        send(path_of(&for_a).to_owned(), "b.example").await.status,
        403
    );
    // the host name's case does not matter, in the target as in Host
    let upper = for_a.replace("a.example", "A.Example");
    assert_eq!(send(upper, "b.example").await.status, 200);
    // a target with user information, or for https on this plain-http edge, is refused
    let userinfo = for_a.replace("http://", "http://user@");
    send(userinfo, "b.example").await.assert_xml(
        400,
        "InvalidRequest",
        "The request target's authority is not a valid host name.",
    );
    let https = edge.signed_for("https://a.example", "/media/hello.txt", 60);
    send(https, "a.example").await.assert_xml(
        400,
        "InvalidRequest",
        "The request target's scheme is not the scheme of this connection.",
    );

    // With a public base URL (behind a load balancer) the base names the viewer URL,
    // whatever the target and Host say; Host is still checked.
    let edge = start_configured(OriginKind::Directory, None, |c| {
        c.public_base_url("https://cdn.example.com")
    })
    .await;
    let addr = edge.base.strip_prefix("http://").unwrap().to_owned();
    let signed = edge.signed_for("https://cdn.example.com", "/media/hello.txt", 60);
    let pq = path_of(&signed);
    for target in [pq.to_owned(), format!("http://a.example{pq}")] {
        let r = exchange(
            &addr,
            &format!("GET {target} HTTP/1.1\r\nHost: 10.0.0.7\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "hello edge\n"),
            "{target}"
        );
    }
    exchange(
        &addr,
        &format!("GET {pq} HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"),
    )
    .await
    .assert_xml(400, "InvalidRequestHeader", TWO_HOSTS);
}

/// An origin that fails on purpose for some keys and otherwise serves a directory.
struct FailingOrigin(DirectoryOrigin);

impl FailingOrigin {
    fn failure(key: &cfsign_edge::origin::ObjectKey) -> Option<cfsign_edge::origin::OriginError> {
        use cfsign_edge::origin::OriginError;
        match key.as_str() {
            "forbidden" => Some(OriginError::Forbidden("bucket policy".to_owned())),
            "down" => Some(OriginError::Unavailable("connection refused".to_owned())),
            "slow" => Some(OriginError::Timeout("30 s".to_owned())),
            _ => None,
        }
    }
}

impl Origin for FailingOrigin {
    fn kind(&self) -> &'static str {
        "failing"
    }

    fn cache_identity(&self) -> String {
        "failing".to_owned()
    }

    fn head<'a>(
        &'a self,
        key: &'a cfsign_edge::origin::ObjectKey,
    ) -> cfsign_edge::origin::BoxFuture<
        'a,
        Result<cfsign_edge::origin::HeadResponse, cfsign_edge::origin::OriginError>,
    > {
        match Self::failure(key) {
            Some(e) => Box::pin(async move { Err(e) }),
            None => self.0.head(key),
        }
    }

    fn get<'a>(
        &'a self,
        key: &'a cfsign_edge::origin::ObjectKey,
        range: Option<cfsign_edge::origin::ByteRange>,
    ) -> cfsign_edge::origin::BoxFuture<
        'a,
        Result<cfsign_edge::origin::GetResponse, cfsign_edge::origin::OriginError>,
    > {
        match Self::failure(key) {
            Some(e) => Box::pin(async move { Err(e) }),
            None => self.0.get(key, range),
        }
    }
}

/// Every error the edge answers itself has CloudFront's XML form, with S3's code
/// and message where S3 has one (CloudFront passes S3's errors through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_status_is_cloudfront_xml() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "0123456789").unwrap();
    let origin = FailingOrigin(DirectoryOrigin::new(dir.path()).unwrap());
    let (addr, _stop) = start_public(Arc::new(origin)).await;
    let request = |line: &str, headers: &str| {
        format!("{line} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n")
    };
    let ok = exchange(&addr, &request("GET /a.txt", "")).await;
    assert_eq!(ok.status, 200);
    let etag = ok.header("etag").unwrap().to_owned();

    exchange(&addr, &request("GET /media/%2e%2e/a.txt", ""))
        .await
        .assert_xml(400, "InvalidURI", "Couldn't parse the specified URI.");
    exchange(&addr, &request("GET /forbidden", ""))
        .await
        .assert_xml(403, "AccessDenied", "Access Denied");
    exchange(&addr, &request("GET /none.txt", ""))
        .await
        .assert_xml(404, "NoSuchKey", "The specified key does not exist.");
    let post = exchange(&addr, &request("POST /a.txt", "Content-Length: 0\r\n")).await;
    post.assert_xml(
        405,
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
    );
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    let failed = exchange(&addr, &request("GET /a.txt", "If-Match: \"other\"\r\n")).await;
    failed.assert_xml(
        412,
        "PreconditionFailed",
        "At least one of the preconditions you specified did not hold.",
    );
    assert_eq!(failed.header("etag"), Some(etag.as_str()));
    let past = exchange(&addr, &request("GET /a.txt", "Range: bytes=10-\r\n")).await;
    past.assert_xml(
        416,
        "InvalidRange",
        "The requested range cannot be satisfied.",
    );
    assert_eq!(past.header("content-range"), Some("bytes */10"));
    exchange(&addr, &request("GET /down", "")).await.assert_xml(
        502,
        "OriginError",
        "The origin failed or could not be reached; try again later.",
    );
    exchange(&addr, &request("GET /slow", "")).await.assert_xml(
        504,
        "OriginCommError",
        "The origin did not answer in time; try again later.",
    );
    // 304 has no body, and is not an error.
    let not_modified = exchange(
        &addr,
        &request("GET /a.txt", &format!("If-None-Match: {etag}\r\n")),
    )
    .await;
    assert_eq!((not_modified.status, not_modified.body.as_str()), (304, ""));

    // Through a restricted behavior and the object cache, the same forms.
    let cache = roomy_cache();
    let edge = start_with(OriginKind::Directory, Some(&cache)).await;
    let addr = edge.base.strip_prefix("http://").unwrap().to_owned();
    let request = |line: &str, headers: &str| {
        format!("{line} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n")
    };
    for _ in 0..2 {
        // a miss, then the cached error
        let target = path_of(&edge.signed("/media/none.txt", 60)).to_owned();
        exchange(&addr, &request(&format!("GET {target}"), ""))
            .await
            .assert_xml(404, "NoSuchKey", "The specified key does not exist.");
    }
    let target = path_of(&edge.signed("/media/hello.txt", 60)).to_owned();
    exchange(
        &addr,
        &request(&format!("GET {target}"), "Range: bytes=99-\r\n"),
    )
    .await
    .assert_xml(
        416,
        "InvalidRange",
        "The requested range cannot be satisfied.",
    );
    exchange(&addr, &request(&format!("DELETE {target}"), ""))
        .await
        .assert_xml(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        );
}

/// What hyper answers itself, before the edge sees a request: a malformed
/// request 400 and a head above the limit 431, both with an empty body (hyper
/// has no hook to give them another body); a silent client is closed unanswered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_answers_malformed_requests_itself() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    let (addr, _stop) = start_public(Arc::new(DirectoryOrigin::new(dir.path()).unwrap())).await;
    for (request, status) in [
        ("GET /a.txt HTTP/1.1\r\nHost x\r\n\r\n".to_owned(), 400),
        ("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), 400),
        (
            format!(
                "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n",
                "a".repeat(30_000)
            ),
            431,
        ),
    ] {
        let reply = exchange(&addr, &request).await;
        assert_eq!(reply.status, status, "{reply:?}");
        assert_eq!(reply.header("content-length"), Some("0"), "{reply:?}");
        assert!(reply.body.is_empty(), "{reply:?}");
    }
}

/// Whether this process has `path` open (Linux: `/proc/self/fd`).
fn has_open(path: &std::path::Path) -> bool {
    let path = std::fs::canonicalize(path).unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|target| target == path)
}

/// Whether this process has a file descriptor for the TCP socket from local
/// port `local` to remote port `remote` (Linux: `/proc/net/tcp` gives the
/// socket's inode, `/proc/self/fd` the descriptors; a closed socket still
/// sending its last bytes has no descriptor and inode 0).
fn holds_socket(local: u16, remote: u16) -> bool {
    let port = |field: &str| u16::from_str_radix(field.rsplit(':').next().unwrap(), 16).unwrap();
    let inodes: Vec<String> = std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (port(f[1]) == local && port(f[2]) == remote && f[9] != "0")
                .then(|| format!("socket:[{}]", f[9]))
        })
        .collect();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
}

/// A client that asks for a large object with a valid signed URL and never reads
/// (its receive window stays full) is cut off once the response has made no
/// progress for the send timeout: the socket and the file are released, the
/// access log says how much of the body was sent, and a metric counts it.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_closed_after_the_send_timeout() {
    stalled_download(Stall::Streamed).await;
}

/// The same over TLS: the timeout watches the TCP stream under TLS.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_client_that_never_reads_is_closed_after_the_send_timeout() {
    stalled_download(Stall::Tls).await;
}

/// The same for an object served from the cache (the file is closed once the
/// object is in memory): the access log still counts only what was sent.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_a_cached_object_is_closed_after_the_send_timeout() {
    stalled_download(Stall::Cached).await;
}

/// How the stalled object is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stall {
    /// Streamed from the file, over plain HTTP.
    Streamed,
    /// Streamed from the file, over TLS.
    Tls,
    /// From the object cache, over plain HTTP.
    Cached,
}

/// A client stream, plain or TLS.
trait ClientIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> ClientIo for T {}

#[cfg(target_os = "linux")]
async fn stalled_download(stall: Stall) {
    use cfsign_edge::observe::{AccessLog, AccessLogFormat, Metrics};
    use cfsign_testkit::tls as tk;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    const SIZE: usize = 16 << 20;
    const TIMEOUT: Duration = Duration::from_secs(1);
    let tls = stall == Stall::Tls;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("root")).unwrap();
    let object = dir.path().join("root/big.bin");
    std::fs::write(&object, vec![b'x'; SIZE]).unwrap();
    let metrics = Metrics::new();
    let log_file = dir.path().join("access.log");
    let log = AccessLog::file(AccessLogFormat::Json, &log_file).unwrap();
    let cache = ObjectCache::new(CacheSettings {
        max_bytes: 2 * SIZE as u64,
        max_object_bytes: SIZE as u64,
        ..CacheSettings::default()
    });
    let limits = server::Limits {
        send_timeout: TIMEOUT,
        ..server::Limits::default()
    };
    let cert = tk::self_signed(&["localhost"]);
    let mut edge = EdgeBuilder::new()
        .directory(&dir.path().join("root"))
        .signer(TestSigner::new("KEDGE"))
        .metrics(metrics.clone())
        .access_log(log.clone())
        .limits(limits);
    if stall == Stall::Cached {
        edge = edge.cache(cache.clone());
    }
    if tls {
        // The viewer scheme is https.
        edge = edge.tls(cert.clone());
    }
    let edge = edge.start().await;
    let addr = edge.addr();

    // A client with a tiny receive buffer asks for the object and reads nothing.
    let scheme = if tls { "https" } else { "http" };
    let signed = edge
        .signer()
        .sign_url(&format!("{scheme}://localhost:{}/big.bin", addr.port()), 60);
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let client_port = tcp.local_addr().unwrap().port();
    let mut client: Box<dyn ClientIo> = if tls {
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let connector = tk::tokio_rustls::TlsConnector::from(tk::client_config(&[&cert], &[]));
        Box::new(connector.connect(name, tcp).await.unwrap())
    } else {
        Box::new(tcp)
    };
    client
        .write_all(
            format!(
                "GET {} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
                path_of(&signed),
                addr.port()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    client.flush().await.unwrap();
    let asked = std::time::Instant::now();
    let gauge = |n: u32| format!("cfsign_edge_connections {n}\n");

    // Stalled: the file and the connection are held, for less than the timeout.
    tokio::time::sleep(TIMEOUT / 2).await;
    if stall == Stall::Cached {
        assert!(!has_open(&object), "the object is read into the cache");
        assert!(cache.weighted_bytes().await >= SIZE as u64);
    } else {
        assert!(has_open(&object), "the object is being sent");
    }
    assert!(holds_socket(addr.port(), client_port));
    assert!(metrics.encode().contains(&gauge(1)));

    // Then both are released, within the timeout and a margin.
    let deadline = asked + TIMEOUT + Duration::from_secs(3);
    while (has_open(&object) || holds_socket(addr.port(), client_port))
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let closed_after = asked.elapsed();
    assert!(
        !has_open(&object) && !holds_socket(addr.port(), client_port),
        "still held {closed_after:?} after the request"
    );
    assert!(closed_after >= TIMEOUT, "closed after {closed_after:?}");
    let text = metrics.encode();
    assert!(
        text.contains("cfsign_edge_send_timeouts_total 1\n"),
        "{text}"
    );
    assert!(text.contains(&gauge(0)), "{text}");

    // The client now gets what the edge's socket had accepted, then the end
    // (over TLS without close_notify: the edge did not end the response).
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut received))
        .await
        .unwrap();
    match read {
        Ok(_) => assert!(!tls),
        Err(e) => assert!(tls && e.kind() == std::io::ErrorKind::UnexpectedEof, "{e}"),
    }
    let head = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(received.starts_with(b"HTTP/1.1 200 OK\r\n"));
    let body = (received.len() - head) as u64;
    assert!(body > 0 && body < SIZE as u64, "{body} of {SIZE} bytes");

    // One access-log line: a 200 cut off (ClientCommError), with the body bytes
    // handed to the connection: what the client got, plus at most what was still
    // in the connection's write buffer (under 20,480 bytes), one 64 KiB read and,
    // over TLS, what rustls buffers (64 KiB).
    assert!(log.flush(Duration::from_secs(5)));
    let lines = std::fs::read_to_string(&log_file).unwrap();
    let line: serde_json::Value =
        serde_json::from_str(lines.lines().find(|l| l.contains("/big.bin")).unwrap()).unwrap();
    assert_eq!(line["sc-status"], 200, "{line}");
    assert_eq!(
        line["x-edge-detailed-result-type"], "ClientCommError",
        "{line}"
    );
    let logged = line["sc-bytes"].as_u64().unwrap();
    let buffered = 20_480 + 65_536 + if tls { 65_536 } else { 0 };
    assert!(
        (body..=body + buffered).contains(&logged),
        "logged {logged} body bytes, the client received {body}"
    );

    edge.stop().await;
}

/// A burst of connections while the accept loop is busy: the kernel queues up to
/// the listen backlog of them, so with a backlog above the burst every one is
/// established at once and served when the loop is back. (With the backlog of
/// 128 that `TcpListener::bind` gives, the SYNs past it were dropped and their
/// clients waited for a retransmission, 1 s later or more.)
#[test]
fn a_connection_burst_fits_the_listen_backlog() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    const BURST: usize = 1_000;
    const BUSY: Duration = Duration::from_secs(2);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(dir.path()).unwrap());
    // The edge on a runtime of its own, one thread, which the test can keep busy.
    let (address, listening) = std::sync::mpsc::channel();
    let (busy, busy_requests) = tokio::sync::mpsc::unbounded_channel::<Duration>();
    let (stop, stopped) = oneshot::channel::<()>();
    let edge = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = server::bind("127.0.0.1:0".parse().unwrap(), 1_024).unwrap();
            address.send(listener.local_addr().unwrap()).unwrap();
            let mut busy_requests = busy_requests;
            tokio::spawn(async move {
                while let Some(time) = busy_requests.recv().await {
                    std::thread::sleep(time); // the only thread: accepts wait too
                }
            });
            server::serve(
                listener,
                tk_edge::edge(origin, None),
                ServeOptions::default(),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .unwrap();
        });
    });
    let addr: SocketAddr = listening.recv().unwrap();
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    clients.block_on(async {
        busy.send(BUSY).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        let connects: Vec<_> = (0..BURST)
            .map(|_| {
                tokio::spawn(async move {
                    let t = std::time::Instant::now();
                    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                    (stream, t.elapsed())
                })
            })
            .collect();
        let mut streams = Vec::with_capacity(BURST);
        let mut slowest = Duration::ZERO;
        for c in connects {
            let (stream, took) = tokio::time::timeout(Duration::from_secs(20), c)
                .await
                .unwrap()
                .unwrap();
            slowest = slowest.max(took);
            streams.push(stream);
        }
        let burst = started.elapsed();
        assert!(
            slowest < Duration::from_millis(900),
            "a connect took {slowest:?}: its SYN was dropped and sent again"
        );
        assert!(
            burst < BUSY - Duration::from_millis(500),
            "the burst took {burst:?}: the accept loop was no longer busy"
        );
        // Once the loop is back, every queued connection is served.
        let replies: Vec<_> = streams
            .into_iter()
            .map(|mut s| {
                tokio::spawn(async move {
                    s.write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        .await
                        .unwrap();
                    let mut out = Vec::new();
                    s.read_to_end(&mut out).await.unwrap();
                    out
                })
            })
            .collect();
        for r in replies {
            let out = tokio::time::timeout(Duration::from_secs(30), r)
                .await
                .unwrap()
                .unwrap();
            assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
        }
    });
    stop.send(()).unwrap();
    edge.join().unwrap();
}
