//! The HTTP (custom) origin runs the shared conformance suite against a real HTTP
//! server on 127.0.0.1 — one that answers ranges, and one that ignores them.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use bytes::Bytes;
use cfsign_edge::origin::{
    BoxFuture, DirectoryOrigin, HttpOrigin, ObjectKey, ObjectMeta, Origin, OriginError,
    Revalidation,
};
use cfsign_edge::server::ServeOptions;
use cfsign_testkit::conformance::{self, DirectoryWriter, Exchange, Fixture, OriginWriter};
use cfsign_testkit::edge as tk_edge;
use cfsign_testkit::server::RunningServer;

/// What the test server saw and answered for GETs of `revalidation/...`, by key.
type Exchanges = Arc<Mutex<HashMap<String, Exchange>>>;

/// An application server on 127.0.0.1 serving the fixture (the edge itself, public,
/// uncached, over a directory); with `ignore_ranges`, the Range header is removed
/// before it is seen. GETs under `/app/revalidation/` are recorded.
struct TestServer {
    base: String,
    dir: tempfile::TempDir,
    exchanges: Exchanges,
    _server: RunningServer,
}

async fn backend(ignore_ranges: bool) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    Fixture::standard()
        .write_to_dir(&dir.path().join("app"))
        .unwrap();
    let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(dir.path().join("app")).unwrap());
    let mut app = axum::Router::new().fallback_service(tk_edge::edge(origin, None));
    if ignore_ranges {
        app = app.layer(axum::middleware::map_request(
            |mut request: axum::extract::Request| async move {
                request.headers_mut().remove(http::header::RANGE);
                request
            },
        ));
    }
    let exchanges = Exchanges::default();
    // Mount the fixture under /app: the origin's base URL has a path prefix.
    let app =
        axum::Router::new()
            .nest_service("/app", app)
            .layer(axum::middleware::from_fn_with_state(
                exchanges.clone(),
                record,
            ));
    let server = RunningServer::start(app, ServeOptions::default()).await;
    TestServer {
        base: format!("{}/app", server.base()),
        dir,
        exchanges,
        _server: server,
    }
}

/// The key of a GET under `/app/revalidation/`, and its conditional headers.
fn recorded(request: &axum::extract::Request) -> Option<(String, Option<String>, Option<String>)> {
    if request.method() != http::Method::GET {
        return None;
    }
    let key = request.uri().path().strip_prefix("/app/")?;
    if !key.starts_with(conformance::REVALIDATION_PREFIX) {
        return None;
    }
    let header = |name: http::header::HeaderName| {
        let value = request.headers().get(name)?;
        Some(value.to_str().unwrap().to_owned())
    };
    Some((
        key.to_owned(),
        header(http::header::IF_NONE_MATCH),
        header(http::header::IF_MODIFIED_SINCE),
    ))
}

/// Records the conditional headers, the status and the body size of a GET
/// under `/app/revalidation/`.
async fn record(
    State(exchanges): State<Exchanges>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let Some((key, if_none_match, if_modified_since)) = recorded(&request) else {
        return next.run(request).await;
    };
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let exchange = Exchange {
        if_none_match,
        if_modified_since,
        status: parts.status.as_u16(),
        body_bytes: body.len() as u64,
    };
    exchanges.lock().unwrap().insert(key, exchange);
    axum::response::Response::from_parts(parts, axum::body::Body::from(body))
}

/// Changes the files behind the test server and reports what it saw.
struct Writer<'s> {
    files: DirectoryWriter,
    server: &'s TestServer,
}

impl<'s> Writer<'s> {
    fn new(server: &'s TestServer) -> Self {
        Self {
            files: DirectoryWriter::new(&server.dir.path().join("app")),
            server,
        }
    }
}

impl OriginWriter for Writer<'_> {
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), String>> {
        self.files.put(key, body)
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), String>> {
        self.files.delete(key)
    }

    fn last_exchange(&self, key: &str) -> Option<Exchange> {
        let seen = self.server.exchanges.lock().unwrap().get(key).cloned();
        // Every GET under revalidation/ goes through `record`: none seen is a failure.
        Some(seen.unwrap_or_default())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_origin_conforms() {
    let server = backend(false).await;
    let origin = HttpOrigin::new(&server.base, Duration::from_secs(10)).unwrap();
    if let Err(report) = conformance::run(&origin, &Fixture::standard()).await {
        panic!("{report}");
    }
    if let Err(report) = conformance::run_revalidation(&origin, &Writer::new(&server)).await {
        panic!("{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_origin_conforms_when_the_server_ignores_ranges() {
    let server = backend(true).await;
    let origin = HttpOrigin::new(&server.base, Duration::from_secs(10)).unwrap();
    if let Err(report) = conformance::run(&origin, &Fixture::standard()).await {
        panic!("{report}");
    }
}

/// A 304 refreshes the cached metadata with the validators and freshness it
/// carries; size and type stay those of the cached copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_304_refreshes_the_cached_metadata() {
    let app = axum::Router::new().fallback(|| async {
        (
            http::StatusCode::NOT_MODIFIED,
            [
                (http::header::ETAG, "\"v2\""),
                (http::header::CACHE_CONTROL, "max-age=600"),
                (http::header::EXPIRES, "Thu, 01 Jan 2099 00:00:00 GMT"),
            ],
        )
    });
    let server = RunningServer::start(app, ServeOptions::default()).await;
    let origin = HttpOrigin::new(server.base(), Duration::from_secs(10)).unwrap();
    let key = ObjectKey::from_request_path("/a.txt").unwrap();
    let cached = ObjectMeta {
        size: 5,
        etag: Some("\"v1\"".to_owned()),
        last_modified: Some(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        content_type: Some("text/plain".to_owned()),
        cache_control: Some("max-age=60".to_owned()),
        expires: None,
    };
    let Ok(Revalidation::NotModified(refreshed)) = origin.get_if_modified(&key, &cached).await
    else {
        panic!("expected NotModified");
    };
    assert_eq!(
        refreshed,
        ObjectMeta {
            etag: Some("\"v2\"".to_owned()),
            cache_control: Some("max-age=600".to_owned()),
            expires: Some("Thu, 01 Jan 2099 00:00:00 GMT".to_owned()),
            ..cached.clone()
        }
    );
    // A 304 to a request without validators is not an answer.
    let mut bare = cached.clone();
    bare.etag = None;
    bare.last_modified = None;
    assert!(matches!(
        origin.get_if_modified(&key, &bare).await,
        Err(OriginError::Unavailable(_))
    ));
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_and_slow_origins_fail_fast() {
    // nothing listens on this port
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let origin =
        HttpOrigin::new(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2)).unwrap();
    let key = ObjectKey::from_request_path("/a.txt").unwrap();
    assert!(matches!(
        origin.head(&key).await,
        Err(OriginError::Unavailable(_))
    ));
    // a server that accepts but never answers: a timeout, within the limit
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            sockets.push(s);
        }
    });
    let origin = HttpOrigin::new(&format!("http://{addr}"), Duration::from_millis(500)).unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(
        origin.get(&key, None).await,
        Err(OriginError::Timeout(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(3));
    held.abort();
}
