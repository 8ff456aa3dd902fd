//! Reliability: 10,000 mixed requests (valid, unsigned, tampered, expired, traversal
//! attempts, cookies) against the edge (with its object cache) on 127.0.0.1 with
//! zero unauthorized 200s and every 200 body byte-identical to the origin object;
//! clients aborting downloads leave nothing behind. (An origin outage: `s3_outage.rs`.)
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cfsign::verify::Verifier;
use cfsign::{KeyPairId, KeyType, Policy, PrivateKey, Resource, SignableUrl, Signer};
use cfsign_edge::access::{AccessConfig, Scheme, SharedVerifier};
use cfsign_edge::cache::{CacheSettings, ObjectCache, TtlPolicy};
use cfsign_edge::fetch::fetch;
use cfsign_edge::origin::{DirectoryOrigin, Origin};
use cfsign_edge::server::{self, ServeOptions};
use cfsign_testkit::edge as tk_edge;
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

/// A tiny deterministic PRNG (SplitMix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
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
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let other = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let id = KeyPairId::new("KREL").unwrap();
    let signer = Signer::new(id.clone(), key.clone());
    let impostor = Signer::new(id.clone(), other);
    let verifier = SharedVerifier::new(
        Verifier::new()
            .with_key(id, key.public_key().unwrap())
            .with_signature_cache(1000),
    );
    let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(&root).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(
        listener,
        // Through the object cache, as the edge serves: a cached object must
        // never reach a request that is not authorized for it.
        tk_edge::cached_edge(
            origin,
            Some(AccessConfig::new(verifier, Scheme::Http)),
            &ObjectCache::new(CacheSettings::default()),
            TtlPolicy::default(),
        ),
        ServeOptions::default(),
        async {
            let _ = stopped.await;
        },
    ));

    let now = jiff::Timestamp::now();
    let sign = |s: &Signer, path: &str, secs: i64| -> String {
        let url = SignableUrl::parse(&format!("{base}{path}")).unwrap();
        let p = Policy::builder(Resource::Url(url.clone()))
            .expires_at(now + jiff::SignedDuration::from_secs(secs))
            .allow_past_expiry(true)
            .build_at(now)
            .unwrap();
        s.sign_url(&url, &p).unwrap().into_string()
    };
    let media_cookie = {
        let p = Policy::builder(Resource::pattern(&format!("{base}/media/*")).unwrap())
            .expires_in(Duration::from_secs(600))
            .build()
            .unwrap();
        signer.sign_cookies(&p).unwrap().cookie_header()
    };
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
    let mut rng = Rng(0x5eed);
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
            Kind::Valid => (sign(&signer, &path, 600), None),
            Kind::ValidCookie => (format!("{base}{path}"), Some(media_cookie.clone())),
            Kind::Unsigned => (format!("{base}{path}"), None),
            Kind::Tampered => {
                let u = sign(&signer, &path, 600);
                let i = u.find("Signature=").unwrap() + 10 + rng.below(40);
                let c = if &u[i..=i] == "A" { "B" } else { "A" };
                (format!("{}{c}{}", &u[..i], &u[i + 1..]), None)
            }
            Kind::Expired => (sign(&signer, &path, -1 - rng.below(100) as i64), None),
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
            let reply = fetch(Method::GET, &url, &headers, Duration::from_secs(20))
                .await
                .unwrap();
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
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), task)
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
    let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(dir.path()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(
        listener,
        tk_edge::edge(origin, None),
        ServeOptions::default(),
        async {
            let _ = stopped.await;
        },
    ));
    // warm up (runtime threads, first allocations)
    let _ = fetch(
        Method::HEAD,
        &format!("http://{addr}/big.bin"),
        &[],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
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
    let full = fetch(
        Method::GET,
        &format!("http://{addr}/big.bin"),
        &[],
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(checksum(&full.body), checksum(&big));
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
