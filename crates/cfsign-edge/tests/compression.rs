//! CloudFront's "compress objects automatically" through a real socket: gzip
//! and Brotli chosen from `Accept-Encoding`, the cached variants computed once
//! and served with their length, streamed compression when the object is not
//! cached, and the cases that stay uncompressed (ranges, small or
//! incompressible objects, a behavior without `compress`).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::Read as _;
use std::sync::Arc;

use bytes::Bytes;
use cfsign_edge::behavior::{Behavior, Behaviors, PathPattern};
use cfsign_edge::cache::{CacheSettings, ObjectCache, TtlPolicy};
use cfsign_edge::origin::{DirectoryOrigin, Origin};
use cfsign_testkit::edge::{EdgeBuilder, RunningEdge};
use http::{HeaderMap, StatusCode};

struct Running {
    base: String,
    page: Vec<u8>,
    _edge: RunningEdge,
    dir: tempfile::TempDir,
}

/// An edge over a folder with a 6 KB HTML page, a small one and a PNG: `/c/*`
/// compresses, everything else does not.
async fn start(cached: bool) -> Running {
    start_with(cached, TtlPolicy::default()).await
}

/// [`start`] with the behaviors' TTLs.
async fn start_with(cached: bool, ttl: TtlPolicy) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let page: Vec<u8> = (0..300)
        .flat_map(|i| format!("<p>paragraph {i} of the page</p>\n").into_bytes())
        .collect();
    for folder in ["c", "plain"] {
        std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        std::fs::write(dir.path().join(folder).join("page.html"), &page).unwrap();
    }
    std::fs::write(dir.path().join("c/small.html"), "<p>hi</p>").unwrap();
    std::fs::write(dir.path().join("c/image.png"), &page).unwrap();
    let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(dir.path()).unwrap());
    let behavior = |pattern: PathPattern, compress: bool| Behavior {
        pattern,
        origin: Arc::clone(&origin),
        origin_name: "files".to_owned(),
        access: None,
        ttl,
        compress,
        sign_manifests: false,
    };
    let behaviors = Behaviors::new(
        vec![behavior(PathPattern::new("/c/*").unwrap(), true)],
        behavior(PathPattern::any(), false),
    );
    let mut edge = EdgeBuilder::new().behaviors(behaviors).observed();
    if cached {
        edge = edge.cache(ObjectCache::new(CacheSettings::default()));
    }
    let edge = edge.start().await;
    Running {
        base: edge.base().to_owned(),
        page,
        _edge: edge,
        dir,
    }
}

async fn get(url: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Bytes) {
    let reply = cfsign_testkit::http::get(url, headers).await;
    (reply.status, reply.headers, reply.body)
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn vary_has_accept_encoding(headers: &HeaderMap) -> bool {
    headers
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().contains("Accept-Encoding"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_objects_are_compressed_once_per_encoding() {
    let edge = start(true).await;
    let url = format!("{}/c/page.html", edge.base);
    // Brotli wins over gzip when both are accepted, as CloudFront chooses.
    for (accept, encoding) in [("gzip, deflate, br", "br"), ("gzip", "gzip")] {
        let mut lengths = Vec::new();
        for round in 0..2 {
            let (status, headers, body) = get(&url, &[("accept-encoding", accept)]).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(headers["content-encoding"], encoding, "{accept}");
            assert!(vary_has_accept_encoding(&headers));
            assert!(headers["etag"].to_str().unwrap().starts_with("W/\""));
            assert!(!headers.contains_key("accept-ranges"));
            let decoded = if encoding == "br" {
                unbrotli(&body)
            } else {
                gunzip(&body)
            };
            assert_eq!(decoded, edge.page, "{accept} round {round}");
            assert!(
                body.len() * 3 < edge.page.len(),
                "compressed: {}",
                body.len()
            );
            if round == 1 {
                assert_eq!(headers["x-cache"], "Hit from cfsign");
                // The cached variant goes out with its own length.
                assert_eq!(headers["content-length"], body.len().to_string().as_str());
            }
            lengths.push(body.len());
        }
        assert_eq!(lengths[0], lengths[1], "{accept}: the same variant twice");
    }
    // No Accept-Encoding: the object as it is, and Vary says it could differ.
    let (_, headers, body) = get(&url, &[]).await;
    assert!(!headers.contains_key("content-encoding"));
    assert_eq!(body, edge.page);
    assert!(vary_has_accept_encoding(&headers));
    // A revalidation with the weak tag of a compressed answer: 304.
    let (_, headers, _) = get(&url, &[("accept-encoding", "gzip")]).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, headers, _) = get(
        &url,
        &[
            ("accept-encoding", "gzip"),
            ("if-none-match", etag.as_str()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers["etag"], etag.as_str());
    assert!(vary_has_accept_encoding(&headers));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncached_objects_are_compressed_as_they_stream() {
    let edge = start(false).await;
    let url = format!("{}/c/page.html", edge.base);
    let (status, headers, body) = get(&url, &[("accept-encoding", "gzip")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-encoding"], "gzip");
    assert!(!headers.contains_key("content-length"), "streamed: chunked");
    assert_eq!(gunzip(&body), edge.page);
    let (_, headers, body) = get(&url, &[("accept-encoding", "br")]).await;
    assert_eq!(headers["content-encoding"], "br");
    assert_eq!(unbrotli(&body), edge.page);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_stays_uncompressed() {
    for cached in [true, false] {
        let edge = start(cached).await;
        let gzip = ("accept-encoding", "gzip, br");
        // A range: the identity bytes of that range.
        let (status, headers, body) = get(
            &format!("{}/c/page.html", edge.base),
            &[gzip, ("range", "bytes=0-99")],
        )
        .await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert!(!headers.contains_key("content-encoding"));
        assert_eq!(&body[..], &edge.page[..100]);
        // Under 1,000 bytes, not a compressible type, or a behavior without compress.
        for path in ["/c/small.html", "/c/image.png", "/plain/page.html"] {
            let (status, headers, _) = get(&format!("{}{path}", edge.base), &[gzip]).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(!headers.contains_key("content-encoding"), "{path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_object_is_compressed_again() {
    let edge = start_with(true, TtlPolicy::new(0, 1, 1).unwrap()).await;
    let url = format!("{}/c/page.html", edge.base);
    for accept in ["gzip", "br"] {
        let (_, _, body) = get(&url, &[("accept-encoding", accept)]).await;
        let decoded = if accept == "br" {
            unbrotli(&body)
        } else {
            gunzip(&body)
        };
        assert_eq!(decoded, edge.page, "{accept}");
    }
    // The origin's object changes; once the cached copy has expired, the
    // compressed answers are made from the new one, not kept from the old.
    let changed: Vec<u8> = (0..400)
        .flat_map(|i| format!("<li>item {i} of the new page</li>\n").into_bytes())
        .collect();
    std::fs::write(edge.dir.path().join("c/page.html"), &changed).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_300)).await;
    for accept in ["gzip", "br"] {
        let (_, headers, body) = get(&url, &[("accept-encoding", accept)]).await;
        assert_eq!(headers["content-encoding"], accept);
        let decoded = if accept == "br" {
            unbrotli(&body)
        } else {
            gunzip(&body)
        };
        assert_eq!(decoded, changed, "{accept}");
    }
}
