//! Reliability with a real S3 origin (moto on 127.0.0.1) that dies mid-run:
//! a download in flight is cut off (never completed with wrong bytes), cached
//! objects keep being served, uncached ones get 502/504 with an error body,
//! and when the server returns everything is served again, byte-identical to
//! the objects: no broken body was ever cached.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::Arc;
use std::time::{Duration, Instant};

use cfsign_edge::cache::{CacheSettings, ObjectCache};
use cfsign_edge::origin::Origin;
use cfsign_testkit::edge::EdgeBuilder;
use cfsign_testkit::http::{Reply, fetch};
use cfsign_testkit::moto::Moto;
use cfsign_testkit::s3::{self, S3Object};
use cfsign_testkit::signer::TestSigner;
use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const BUCKET: &str = "cfsign-outage";
/// Small objects (cached) and one large object (streamed through).
const SMALL: usize = 10;
const BIG_BYTES: usize = 24 << 20;

/// Object `i`: 1 KiB to ~300 KiB of bytes that depend on `i`.
fn small_object(i: usize) -> Vec<u8> {
    let len = 1024 + i * 30_000;
    (0..len).map(|j| ((j * 31 + i * 7) % 251) as u8).collect()
}

fn big_object() -> Vec<u8> {
    (0..BIG_BYTES).map(|j| ((j / 3) % 253) as u8).collect()
}

/// Creates the bucket with `media/obj-{i}.bin` and `media/big.bin`.
fn upload(moto: &Moto) {
    let mut objects: Vec<S3Object> = (0..SMALL)
        .map(|i| S3Object::new(format!("media/obj-{i}.bin"), small_object(i)))
        .collect();
    objects.push(S3Object::new("media/big.bin", big_object()));
    s3::upload(moto, BUCKET, &objects);
}

async fn get(url: &str) -> Reply {
    cfsign_testkit::http::get(url, &[]).await
}

/// A raw `GET` that reads the head and `first` body bytes, then returns the
/// stream and the announced length.
async fn start_download(
    base: &str,
    url: &str,
    first: usize,
) -> (tokio::net::TcpStream, usize, Vec<u8>) {
    let addr = base.trim_start_matches("http://");
    let path = &url[base.len()..];
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed before the head");
        received.extend_from_slice(&buffer[..n]);
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_string();
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            let mut body = received[end + 4..].to_vec();
            while body.len() < first {
                let n = stream.read(&mut buffer).await.unwrap();
                assert!(n > 0);
                body.extend_from_slice(&buffer[..n]);
            }
            return (stream, length, body);
        }
    }
}

/// Reads the rest of a download until the server closes (bounded in time).
async fn finish_download(mut stream: tokio::net::TcpStream, mut body: Vec<u8>) -> Vec<u8> {
    let mut buffer = vec![0u8; 256 * 1024];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return body,
            Ok(Ok(n)) => body.extend_from_slice(&buffer[..n]),
            Err(_) => panic!("the download neither finished nor broke off within 30 s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_outage_and_recovery() {
    let big = big_object();
    let mut moto = Moto::start();
    upload(&moto);

    let origin: Arc<dyn Origin> = Arc::new(s3::origin_builder(&moto, BUCKET).build().unwrap());
    let cache = ObjectCache::new(CacheSettings {
        max_bytes: 32 << 20,
        max_object_bytes: 1 << 20,
        error_ttl: Duration::from_secs(1),
    });
    let edge = EdgeBuilder::new()
        .origin(origin)
        .signer(TestSigner::new("KOUTAGE"))
        .cache(cache)
        .start()
        .await;
    let base = edge.base().to_owned();
    let small_url = |i: usize| edge.signed(&format!("/media/obj-{i}.bin"), 600);
    let warm = SMALL / 2;

    // 1. Before the outage: the first half is fetched (and cached).
    for i in 0..warm {
        let r = get(&small_url(i)).await;
        assert_eq!(r.status, StatusCode::OK, "obj-{i}");
        assert!(r.body == small_object(i), "obj-{i} differs");
    }

    // 2. A large download is in flight when the origin dies.
    let big_url = edge.signed("/media/big.bin", 600);
    let (stream, announced, first) = start_download(&base, &big_url, 64 * 1024).await;
    assert_eq!(announced, BIG_BYTES);
    moto.kill();
    let received = finish_download(stream, first).await;
    assert!(
        received.len() < BIG_BYTES,
        "the download must break off, not complete ({} bytes)",
        received.len()
    );
    assert!(
        big.starts_with(&received),
        "what arrived is a prefix of the object"
    );

    // 3. During the outage: cached objects are still served; the others fail
    //    with 502/504 and an error body; access control is unchanged.
    for i in 0..warm {
        let r = get(&small_url(i)).await;
        assert_eq!(r.status, StatusCode::OK, "cached obj-{i} during the outage");
        assert_eq!(r.headers["x-cache"], "Hit from cfsign");
        assert!(r.body == small_object(i), "obj-{i} differs");
    }
    for i in warm..SMALL {
        let r = get(&small_url(i)).await;
        assert!(
            r.status == StatusCode::BAD_GATEWAY || r.status == StatusCode::GATEWAY_TIMEOUT,
            "obj-{i}: {}",
            r.status
        );
        assert_eq!(r.headers["x-cache"], "Error from cfsign");
        assert!(!r.body.is_empty(), "an error body");
    }
    let big_during = fetch(Method::HEAD, &big_url, &[]).await;
    assert!(big_during.status.is_server_error(), "{}", big_during.status);
    let unsigned = get(&format!("{base}/media/obj-0.bin")).await;
    assert_eq!(unsigned.status, StatusCode::FORBIDDEN);

    // 4. The origin returns (empty: moto keeps state in memory) and is refilled.
    moto.restart();
    upload(&moto);

    // 5. Recovery within the error TTL (1 s) plus slack: every object is
    //    served and byte-identical.
    let deadline = Instant::now() + Duration::from_secs(15);
    for i in 0..SMALL {
        loop {
            let r = get(&small_url(i)).await;
            if r.status == StatusCode::OK {
                assert!(r.body == small_object(i), "obj-{i} differs after recovery");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "obj-{i} still {} after recovery",
                r.status
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let big_after = loop {
        let (stream, announced, first) = match tokio::time::timeout(
            Duration::from_secs(5),
            start_download_or_status(&base, &big_url),
        )
        .await
        {
            Ok(Some(started)) => started,
            _ => {
                assert!(
                    Instant::now() < deadline,
                    "big.bin not served after recovery"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        assert_eq!(announced, BIG_BYTES);
        break finish_download(stream, first).await;
    };
    assert!(big_after == big, "big.bin differs after recovery");
    // A second pass: the small objects now come from the cache, still identical.
    for i in 0..SMALL {
        let r = get(&small_url(i)).await;
        assert_eq!(r.headers["x-cache"], "Hit from cfsign", "obj-{i}");
        assert!(r.body == small_object(i), "obj-{i} differs from the cache");
    }

    edge.stop().await;
}

/// [`start_download`] when a `HEAD` says the object is there; `None` otherwise.
async fn start_download_or_status(
    base: &str,
    url: &str,
) -> Option<(tokio::net::TcpStream, usize, Vec<u8>)> {
    let r = fetch(Method::HEAD, url, &[]).await;
    if r.status != StatusCode::OK {
        return None;
    }
    Some(start_download(base, url, 0).await)
}
