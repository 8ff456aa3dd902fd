//! Reliability: 10,000 mixed requests (valid, unsigned, tampered, expired, traversal
//! attempts, cookies) against the edge (with its object cache) on 127.0.0.1 with
//! zero unauthorized 200s and every 200 body byte-identical to the origin object;
//! clients aborting downloads leave nothing behind. (An origin outage: `s3_outage.rs`.)
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cfsign_edge::access::SharedVerifier;
use cfsign_edge::cache::{CacheSettings, ObjectCache};
use cfsign_testkit::edge::EdgeBuilder;
use cfsign_testkit::http::fetch;
use cfsign_testkit::rng::Rng;
use cfsign_testkit::signer::TestSigner;
use fnv::checksum;
use http::{Method, StatusCode};

/// FNV-1a: a dependency-free checksum, enough to compare bodies.
mod fnv {
    pub(crate) fn checksum(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
}

/// The tests of this file run one at a time: the descriptor count of
/// `aborted_downloads_release_everything` is process-wide.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Valid,
    ValidCookie,
    Unsigned,
    Tampered,
    Expired,
    WrongKey,
    Traversal,
    CookieOutsideScope,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_mixed_requests_no_unauthorized_200() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("media")).unwrap();
    std::fs::write(dir.path().join("secret.txt"), "TOP SECRET outside the root").unwrap();
    let mut sums = HashMap::new();
    for i in 0..20 {
        let body: Vec<u8> = (0..(1000 + i * 3001))
            .map(|j| ((j * 31 + i) % 251) as u8)
            .collect();
        let name = format!("media/f{i}.bin");
        std::fs::write(root.join(&name), &body).unwrap();
        sums.insert(format!("/{name}"), checksum(&body));
    }
    let keys = TestSigner::new("KREL");
    let impostor = TestSigner::new("KREL");
    let verifier = SharedVerifier::new(keys.verifier().with_signature_cache(1000));
    // Through the object cache, as the edge serves: a cached object must
    // never reach a request that is not authorized for it.
    let mut edge = EdgeBuilder::new()
        .directory(&root)
        .signer(keys.clone())
        .verifier(verifier)
        .cache(ObjectCache::new(CacheSettings::default()))
        .start()
        .await;
    let base = edge.base().to_owned();

    let sign = |s: &TestSigner, path: &str, secs: i64| -> String {
        s.sign_url(&format!("{base}{path}"), secs)
    };
    let media_cookie = keys.cookie_header(&format!("{base}/media/*"), Duration::from_secs(600));
    let traversal = [
        "/media/%2e%2e/secret.txt",
        "/media/../secret.txt",
        "/%2e%2e/secret.txt",
        "/media/..%2fsecret.txt",
        "/media/%2e%2e%2fsecret.txt",
        "/media/%5c..%5csecret.txt",
        "/media/%00/../secret.txt",
        "/media/%c0%ae%c0%ae/secret.txt",
        "/..;/secret.txt",
        "//secret.txt",
    ];
    let paths: Vec<String> = sums.keys().cloned().collect();
    let mut rng = Rng::new(0x5eed);
    let mut jobs = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let path = paths[rng.below(paths.len())].clone();
        let kind = [
            Kind::Valid,
            Kind::ValidCookie,
            Kind::Unsigned,
            Kind::Tampered,
            Kind::Expired,
            Kind::WrongKey,
            Kind::Traversal,
            Kind::CookieOutsideScope,
        ][rng.below(8)];
        let (url, cookie) = match kind {
            Kind::Valid => (sign(&keys, &path, 600), None),
            Kind::ValidCookie => (format!("{base}{path}"), Some(media_cookie.clone())),
            Kind::Unsigned => (format!("{base}{path}"), None),
            Kind::Tampered => {
                let u = sign(&keys, &path, 600);
                let i = u.find("Signature=").unwrap() + 10 + rng.below(40);
                let c = if &u[i..=i] == "A" { "B" } else { "A" };
                (format!("{}{c}{}", &u[..i], &u[i + 1..]), None)
            }
            Kind::Expired => (sign(&keys, &path, -1 - rng.below(100) as i64), None),
            Kind::WrongKey => (sign(&impostor, &path, 600), None),
            Kind::Traversal => (
                format!("{base}{}", traversal[rng.below(traversal.len())]),
                Some(media_cookie.clone()),
            ),
            Kind::CookieOutsideScope => (format!("{base}/secret.txt"), Some(media_cookie.clone())),
        };
        jobs.push((kind, path, url, cookie));
    }
    // Run with bounded concurrency.
    let semaphore = Arc::new(tokio::sync::Semaphore::new(32));
    let mut handles = Vec::with_capacity(jobs.len());
    for (kind, path, url, cookie) in jobs {
        let permit = Arc::clone(&semaphore).acquire_owned().await.unwrap();
        handles.push(tokio::spawn(async move {
            let headers: Vec<(&str, &str)> = cookie
                .as_deref()
                .map(|c| vec![("cookie", c)])
                .unwrap_or_default();
            let reply = fetch(Method::GET, &url, &headers).await;
            drop(permit);
            let hit = reply
                .headers
                .get("x-cache")
                .is_some_and(|v| v == "Hit from cfsign");
            (
                kind,
                path,
                reply.status,
                checksum(&reply.body),
                reply.body,
                hit,
            )
        }));
    }
    let mut tally: HashMap<(Kind, u16), usize> = HashMap::new();
    let mut hits = 0;
    for h in handles {
        let (kind, path, status, sum, body, hit) = h.await.unwrap();
        hits += usize::from(hit);
        *tally.entry((kind, status.as_u16())).or_default() += 1;
        assert!(
            !String::from_utf8_lossy(&body).contains("TOP SECRET"),
            "{kind:?} leaked the secret"
        );
        match kind {
            Kind::Valid | Kind::ValidCookie => {
                assert_eq!(status, StatusCode::OK, "{kind:?} {path}");
                assert_eq!(
                    sum, sums[&path],
                    "{kind:?} {path}: body differs from the origin object"
                );
            }
            // Inside the cookie's scope, a traversal attempt may pass the signature check and
            // is then refused by the origin's key validation (400) or not found (404).
            Kind::Traversal => assert!(
                [
                    StatusCode::FORBIDDEN,
                    StatusCode::BAD_REQUEST,
                    StatusCode::NOT_FOUND
                ]
                .contains(&status),
                "{kind:?}: got {status}"
            ),
            _ => assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{kind:?} {path}: an unauthorized request was not denied"
            ),
        }
    }
    let total: usize = tally.values().sum();
    assert_eq!(total, 10_000);
    // About a quarter of the requests are authorized, over a few objects: most
    // of them are answered from the cache, which the checks above covered.
    assert!(hits > 1_500, "only {hits} cache hits");
    for kind in [
        Kind::Valid,
        Kind::ValidCookie,
        Kind::Unsigned,
        Kind::Tampered,
        Kind::Expired,
        Kind::WrongKey,
        Kind::Traversal,
        Kind::CookieOutsideScope,
    ] {
        assert!(
            tally.iter().any(|((k, _), n)| *k == kind && *n > 500),
            "too few {kind:?} requests: {tally:?}"
        );
    }
    edge.signal_stop();
    edge.stopped(Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// Open file descriptors of this process (Linux).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_downloads_release_everything() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let _alone = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..10_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    let mut edge = EdgeBuilder::new().directory(dir.path()).start().await;
    let addr = edge.addr();
    // warm up (runtime threads, first allocations)
    let _ = fetch(Method::HEAD, &format!("http://{addr}/big.bin"), &[]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = open_fds();
    for _ in 0..50 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let _ = s.read(&mut buf).await.unwrap(); // some of the body, then hang up
        drop(s);
    }
    // the server notices the disconnects and drops the streams and files
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while open_fds() > before + 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = open_fds();
    assert!(
        after <= before + 2,
        "file descriptors leaked: {before} before, {after} after 50 aborted downloads"
    );
    // and it still serves whole files correctly
    let full = fetch(Method::GET, &format!("http://{addr}/big.bin"), &[]).await;
    assert_eq!(checksum(&full.body), checksum(&big));
    edge.signal_stop();
    edge.stopped(Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
