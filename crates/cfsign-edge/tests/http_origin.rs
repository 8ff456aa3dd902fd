//! The HTTP (custom) origin runs the shared conformance suite against a real HTTP
//! server on 127.0.0.1 — one that answers ranges, and one that ignores them.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::Arc;
use std::time::Duration;

use cfsign_edge::origin::conformance::{self, Fixture};
use cfsign_edge::origin::{DirectoryOrigin, HttpOrigin, ObjectKey, Origin, OriginError};
use cfsign_edge::server::{self, ServeOptions};
use cfsign_testkit::edge as tk_edge;

/// An application server on 127.0.0.1 serving the fixture (the edge itself, public);
/// with `ignore_ranges`, the Range header is removed before it is seen.
async fn backend(
    ignore_ranges: bool,
) -> (String, tempfile::TempDir, tokio::sync::oneshot::Sender<()>) {
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/app", listener.local_addr().unwrap());
    // Mount the fixture under /app: the origin's base URL has a path prefix.
    let app = axum::Router::new().nest_service("/app", app);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(
        listener,
        app,
        ServeOptions::default(),
        async {
            let _ = stopped.await;
        },
    ));
    (base, dir, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_origin_conforms() {
    let (base, _dir, _stop) = backend(false).await;
    let origin = HttpOrigin::new(&base, Duration::from_secs(10)).unwrap();
    if let Err(report) = conformance::run(&origin, &Fixture::standard()).await {
        panic!("{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_origin_conforms_when_the_server_ignores_ranges() {
    let (base, _dir, _stop) = backend(true).await;
    let origin = HttpOrigin::new(&base, Duration::from_secs(10)).unwrap();
    if let Err(report) = conformance::run(&origin, &Fixture::standard()).await {
        panic!("{report}");
    }
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
