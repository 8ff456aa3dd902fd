//! CloudFront's cache behaviour through real sockets on 127.0.0.1, for every
//! origin kind (directory, S3 on moto, an HTTP application server):
//!
//! - invalidation: an edge with a cache and an admin listener serves an object
//!   (miss, then hit), keeps serving the cached bytes after the origin changed
//!   it, and serves the new bytes (a miss) once `POST /invalidations` named it,
//!   by exact path or by wildcard; an invalid path is a 400 that drops nothing;
//! - revalidation: once an object's TTL is over, the edge asks the origin with a
//!   conditional GET: unchanged, the cached copy is served again
//!   (`RefreshHit`) and fresh for another TTL; changed, the new bytes (a miss).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cfsign_edge::admin::{Invalidated, InvalidationRequest};
use cfsign_edge::cache::invalidation::InvalidationPaths;
use cfsign_edge::cache::{CacheSettings, ObjectCache, TtlPolicy};
use cfsign_edge::origin::{DirectoryOrigin, HttpOrigin, Origin};
use cfsign_testkit::conformance::{DirectoryWriter, OriginWriter};
use cfsign_testkit::edge::{EdgeBuilder, RunningEdge};
use cfsign_testkit::http::get;
use cfsign_testkit::moto::Moto;
use cfsign_testkit::s3::{self, S3Writer};
use http::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A running edge (one public behavior over `origin`, cached) and its admin listener.
struct Edge(RunningEdge);

impl Edge {
    async fn start(origin: Arc<dyn Origin>, ttl: TtlPolicy) -> Self {
        let edge = EdgeBuilder::new()
            .origin(origin)
            .ttl(ttl)
            .cache(ObjectCache::new(CacheSettings::default()))
            .admin()
            .start()
            .await;
        Self(edge)
    }

    /// GET `path`: the body and whether it was a cache hit.
    async fn get(&self, path: &str) -> (String, bool) {
        let (body, x_cache) = self.get_x_cache(path).await;
        let hit = match x_cache.as_str() {
            "Hit from cfsign" => true,
            "Miss from cfsign" => false,
            other => panic!("{path}: X-Cache {other}"),
        };
        (body, hit)
    }

    /// GET `path`: the body and the `X-Cache` header.
    async fn get_x_cache(&self, path: &str) -> (String, String) {
        let reply = get(&self.0.url(path), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let x_cache = reply.headers["x-cache"].to_str().unwrap().to_owned();
        (String::from_utf8(reply.body.to_vec()).unwrap(), x_cache)
    }

    /// Posts an invalidation with the library's client.
    async fn invalidate(&self, paths: &[&str]) -> Invalidated {
        InvalidationRequest::new(&InvalidationPaths::parse(paths).unwrap())
            .unwrap()
            .send(self.0.admin_base(), Duration::from_secs(10))
            .await
            .unwrap()
    }

    /// Posts `body` as is (the library's client refuses invalid paths).
    async fn post_raw(&self, body: &str) -> (u16, serde_json::Value) {
        let admin = self.0.admin_addr();
        let mut stream = tokio::net::TcpStream::connect(admin).await.unwrap();
        let request = format!(
            "POST /invalidations HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            admin,
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        let status = answer[9..12].parse().unwrap();
        let (_, json) = answer.split_once("\r\n\r\n").unwrap();
        (status, serde_json::from_str(json).unwrap())
    }
}

/// The scenario, the same for every origin; `writer` changes the origin's objects.
async fn scenario(origin: Arc<dyn Origin>, writer: &dyn OriginWriter) {
    let put = |key: &'static str, body: &'static str| async move {
        writer
            .put(key, Bytes::from_static(body.as_bytes()))
            .await
            .unwrap();
    };
    put("inv/a.txt", "a, first version").await;
    put("inv/sub/b.txt", "b, first version").await;
    put("inv/keep.txt", "keep, first version").await;
    let edge = Edge::start(origin, TtlPolicy::default()).await;
    for (path, body) in [
        ("/inv/a.txt", "a, first version"),
        ("/inv/sub/b.txt", "b, first version"),
        ("/inv/keep.txt", "keep, first version"),
    ] {
        assert_eq!(edge.get(path).await, (body.to_owned(), false), "{path}");
        assert_eq!(edge.get(path).await, (body.to_owned(), true), "{path}");
    }

    put("inv/a.txt", "a, second version").await;
    put("inv/sub/b.txt", "b, second version").await;
    put("inv/keep.txt", "keep, second version").await;
    // The cache still has the first versions.
    assert_eq!(
        edge.get("/inv/a.txt").await,
        ("a, first version".to_owned(), true)
    );

    // An invalid path: 400 naming it, and nothing is dropped.
    let (status, answer) = edge
        .post_raw(r#"{"paths": ["/inv/a.txt", "/inv/*.txt"]}"#)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["index"], 1, "{answer}");
    assert_eq!(answer["path"], "\"/inv/*.txt\"", "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("allowed only as the last character"),
        "{answer}"
    );
    assert_eq!(
        edge.get("/inv/a.txt").await,
        ("a, first version".to_owned(), true)
    );

    // An exact path: that object only.
    assert_eq!(
        edge.invalidate(&["/inv/a.txt"]).await,
        Invalidated {
            paths: 1,
            invalidated: 1
        }
    );
    assert_eq!(
        edge.get("/inv/a.txt").await,
        ("a, second version".to_owned(), false)
    );
    assert_eq!(
        edge.get("/inv/a.txt").await,
        ("a, second version".to_owned(), true)
    );
    assert_eq!(
        edge.get("/inv/sub/b.txt").await,
        ("b, first version".to_owned(), true)
    );

    // A wildcard: everything under /inv/sub/.
    assert_eq!(
        edge.invalidate(&["/inv/sub/*", "/nothing/there"]).await,
        Invalidated {
            paths: 2,
            invalidated: 1
        }
    );
    assert_eq!(
        edge.get("/inv/sub/b.txt").await,
        ("b, second version".to_owned(), false)
    );
    assert_eq!(
        edge.get("/inv/keep.txt").await,
        ("keep, first version".to_owned(), true)
    );

    // Everything.
    assert_eq!(
        edge.invalidate(&["/*"]).await,
        Invalidated {
            paths: 1,
            invalidated: 3
        }
    );
    assert_eq!(
        edge.get("/inv/keep.txt").await,
        ("keep, second version".to_owned(), false)
    );
    assert_eq!(
        edge.get("/inv/a.txt").await,
        ("a, second version".to_owned(), false)
    );
}

/// How long the revalidation scenario's objects stay fresh.
const SHORT_TTL: Duration = Duration::from_secs(1);

/// Waits until what the edge cached [`SHORT_TTL`] ago has expired.
async fn expire() {
    tokio::time::sleep(SHORT_TTL + Duration::from_millis(200)).await;
}

/// The revalidation scenario, the same for every origin.
async fn revalidation(origin: Arc<dyn Origin>, writer: &dyn OriginWriter) {
    let put = |body: &'static str| async move {
        writer
            .put("reval/a.txt", Bytes::from_static(body.as_bytes()))
            .await
            .unwrap();
    };
    put("first version").await;
    let ttl = TtlPolicy::new(0, SHORT_TTL.as_secs(), SHORT_TTL.as_secs()).unwrap();
    let edge = Edge::start(origin, ttl).await;
    let first = "first version".to_owned();
    let path = "/reval/a.txt";
    assert_eq!(
        edge.get_x_cache(path).await,
        (first.clone(), "Miss from cfsign".to_owned())
    );
    assert_eq!(
        edge.get_x_cache(path).await,
        (first.clone(), "Hit from cfsign".to_owned())
    );
    // Expired and unchanged: confirmed by a conditional GET, the copy is served.
    expire().await;
    assert_eq!(
        edge.get_x_cache(path).await,
        (first.clone(), "RefreshHit from cfsign".to_owned())
    );
    // ... and fresh again for another TTL.
    assert_eq!(
        edge.get_x_cache(path).await,
        (first.clone(), "Hit from cfsign".to_owned())
    );
    // Changed at the origin (a different length and a later modification
    // time, so both validators differ): the new bytes once expired.
    put("second, longer version").await;
    expire().await;
    assert_eq!(
        edge.get_x_cache(path).await,
        (
            "second, longer version".to_owned(),
            "Miss from cfsign".to_owned()
        )
    );
    assert_eq!(
        edge.get_x_cache(path).await,
        (
            "second, longer version".to_owned(),
            "Hit from cfsign".to_owned()
        )
    );
    // Deleted at the origin: once expired, a 404.
    writer.delete("reval/a.txt").await.unwrap();
    expire().await;
    let reply = get(&edge.0.url(path), &[]).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_behaviour_with_a_directory_origin() {
    let dir = tempfile::tempdir().unwrap();
    let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(dir.path()).unwrap());
    let writer = DirectoryWriter::new(dir.path());
    scenario(Arc::clone(&origin), &writer).await;
    revalidation(origin, &writer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_behaviour_with_an_http_origin() {
    // The application server: the edge's own router over a directory, uncached.
    let dir = tempfile::tempdir().unwrap();
    let server = EdgeBuilder::new().directory(dir.path()).start().await;
    let origin: Arc<dyn Origin> =
        Arc::new(HttpOrigin::new(server.base(), Duration::from_secs(10)).unwrap());
    let writer = DirectoryWriter::new(dir.path());
    scenario(Arc::clone(&origin), &writer).await;
    revalidation(origin, &writer).await;
    drop(server);
}

const BUCKET: &str = "cfsign-invalidation";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_behaviour_with_an_s3_origin() {
    let moto = Moto::start();
    s3::upload(&moto, BUCKET, &[]);
    let origin: Arc<dyn Origin> = Arc::new(s3::origin_builder(&moto, BUCKET).build().unwrap());
    let writer = S3Writer::new(&moto, BUCKET, "");
    scenario(Arc::clone(&origin), &writer).await;
    revalidation(origin, &writer).await;
}
