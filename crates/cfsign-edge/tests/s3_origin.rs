//! The S3 origin against a real S3-compatible server: moto's, on 127.0.0.1
//! (see `cfsign_testkit::moto`). Objects are uploaded with boto3, an independent
//! client, so the keys S3 holds are the fixture's decoded keys whatever the
//! origin's own encoding does; the origin then has to find them.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::{Duration, Instant};

use cfsign_edge::origin::{ByteRange, ObjectKey, Origin, OriginError, S3Origin};
use cfsign_testkit::conformance::{self, Fixture};
use cfsign_testkit::moto::{self, Moto};
use cfsign_testkit::s3::{self, S3Object, S3Writer};
use futures_util::StreamExt as _;

const BUCKET: &str = "cfsign-edge-test";

fn origin(moto: &Moto, bucket: &str, prefix: &str) -> S3Origin {
    s3::origin_builder(moto, bucket)
        .prefix(prefix)
        .build()
        .unwrap()
}

fn key(path: &str) -> ObjectKey {
    ObjectKey::from_request_path(path).unwrap()
}

async fn body(response: cfsign_edge::origin::GetResponse) -> Vec<u8> {
    conformance::read_body(response.body).await
}

/// The whole conformance suite, with the fixture under the prefix `site/`,
/// next to decoys outside the prefix, run from a spawned task (so the
/// origin's futures are `Send`) on a multi-threaded runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_origin_conforms() {
    let started = Instant::now();
    let moto = Moto::start();
    let moto_started = started.elapsed();
    let fixture = Fixture::standard();
    let mut objects: Vec<S3Object> = fixture
        .objects
        .iter()
        .map(|o| S3Object {
            content_type: o.content_type.clone(),
            ..S3Object::new(format!("site/{}", o.key), o.body.clone())
        })
        .collect();
    // Decoys: a prefix that is only a string prefix, objects outside the prefix,
    // and one with a Cache-Control.
    for (key, body, cache_control) in [
        (
            "sitehello.txt",
            &b"decoy: no '/' after the prefix\n"[..],
            None,
        ),
        ("hello.txt", b"decoy: outside the prefix\n", None),
        ("secret.txt", b"SECRET", None),
        ("site/cached.txt", b"cached\n", Some("public, max-age=60")),
    ] {
        objects.push(S3Object {
            cache_control: cache_control.map(str::to_owned),
            ..S3Object::new(key, body.to_vec()).content_type("text/plain")
        });
    }
    let upload_time = s3::upload(&moto, BUCKET, &objects);

    let origin = origin(&moto, BUCKET, "site/");
    origin.check().await.unwrap();
    let suite_started = Instant::now();
    let (origin, result) = tokio::spawn(async move {
        let result = conformance::run(&origin, &fixture).await;
        (origin, result)
    })
    .await
    .unwrap();
    let suite_time = suite_started.elapsed();
    if let Err(report) = result {
        panic!("{report}\nmoto's log:\n{}", moto.log());
    }
    let writer = S3Writer::new(&moto, BUCKET, "site/");
    if let Err(report) = conformance::run_revalidation(&origin, &writer).await {
        panic!("{report}\nmoto's log:\n{}", moto.log());
    }
    // The unchanged object was revalidated by S3 itself: 304s, no body.
    let log = moto.log();
    let not_modified = log
        .lines()
        .filter(|l| l.contains("GET /cfsign-edge-test/site/revalidation/unchanged.txt "))
        .filter(|l| l.contains("\" 304 "))
        .count();
    assert_eq!(not_modified, 3, "moto's log:\n{log}");

    // Attributes S3 keeps come back, the same for head and get.
    let meta = origin.head(&key("/cached.txt")).await.unwrap().meta;
    assert_eq!(meta.cache_control.as_deref(), Some("public, max-age=60"));
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    let etag = meta.etag.as_deref().unwrap();
    // S3's ETag of a single-part upload: the quoted MD5 of the bytes, in hex.
    let hex = etag
        .strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap();
    assert!(
        hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{etag}"
    );
    assert!(meta.last_modified.is_some());
    let response = origin.get(&key("/cached.txt"), None).await.unwrap();
    assert_eq!(response.meta, meta);
    assert_eq!(body(response).await, b"cached\n");

    // A range the object does not have (it shrank since the caller's head: S3
    // answers 416) is not found, as for the directory origin.
    for (path, start) in [
        ("/ranged.bin", 1000),
        ("/ranged.bin", 5000),
        ("/empty.txt", 0),
    ] {
        let range = ByteRange {
            start,
            end: start + 10,
        };
        assert_eq!(
            origin.get(&key(path), Some(range)).await.unwrap_err(),
            OriginError::NotFound,
            "{path} {range:?}"
        );
    }

    // Nothing outside the prefix.
    for path in ["/secret.txt", "/sitehello.txt", "/site/hello.txt"] {
        assert_eq!(
            origin.head(&key(path)).await,
            Err(OriginError::NotFound),
            "{path}"
        );
    }
    // Without a prefix, the whole bucket.
    let whole = self::origin(&moto, BUCKET, "");
    let response = whole.get(&key("/site/hello.txt"), None).await.unwrap();
    assert_eq!(body(response).await, b"Hello, world!\n");
    let response = whole.get(&key("/secret.txt"), None).await.unwrap();
    assert_eq!(body(response).await, b"SECRET");

    eprintln!(
        "moto started in {moto_started:?}; upload {upload_time:?}; conformance suite {suite_time:?}; total {:?}",
        started.elapsed()
    );
}

/// A missing bucket is a configuration error, not a missing object: every
/// request answers `Unavailable` (502) naming the bucket, `head` included
/// (whose 404 has no body to tell), and `check` says so before serving.
#[tokio::test]
async fn a_missing_bucket_is_unavailable_not_a_missing_object() {
    let moto = Moto::start();
    s3::upload(&moto, BUCKET, &[S3Object::new("a.txt", "a")]);
    let missing = origin(&moto, "no-such-bucket", "site");
    let unavailable = |result: Result<(), OriginError>, what: &str| match result {
        Err(OriginError::Unavailable(message)) => {
            assert!(
                message.contains("\"no-such-bucket\" does not exist"),
                "{what}: {message}"
            );
        }
        other => panic!("{what}: {other:?}, expected Unavailable"),
    };
    // `head` first, on a fresh origin: its 404 alone cannot tell.
    unavailable(missing.head(&key("/a.txt")).await.map(drop), "head");
    unavailable(missing.head(&key("/a.txt")).await.map(drop), "second head");
    unavailable(missing.get(&key("/a.txt"), None).await.map(drop), "get");
    unavailable(
        missing
            .get(&key("/a.txt"), Some(ByteRange { start: 0, end: 0 }))
            .await
            .map(drop),
        "ranged get",
    );
    unavailable(missing.check().await, "check");

    // In a bucket that exists, a missing key is just not found (head first, too).
    let present = origin(&moto, BUCKET, "");
    assert_eq!(
        present.head(&key("/missing.txt")).await,
        Err(OriginError::NotFound)
    );
    assert_eq!(
        present.get(&key("/missing.txt"), None).await.unwrap_err(),
        OriginError::NotFound
    );
    present.check().await.unwrap();
    assert_eq!(present.head(&key("/a.txt")).await.unwrap().meta.size, 1);
}

/// moto killed while a body is being read: the body ends with an error or
/// completes (what was already in the socket buffers), never with wrong bytes
/// and never hangs; later requests fail fast with `Unavailable`.
#[tokio::test]
async fn a_server_killed_mid_run_fails_fast() {
    let mut moto = Moto::start();
    // Larger than loopback socket buffers, so that most of it is still to be
    // sent when the server dies.
    let big: Vec<u8> = (0..32 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    s3::upload(&moto, BUCKET, &[S3Object::new("big.bin", big.clone())]);
    let origin = origin(&moto, BUCKET, "");
    let response = origin.get(&key("/big.bin"), None).await.unwrap();
    assert_eq!(response.meta.size, big.len() as u64);
    let mut stream = response.body;
    let mut received = stream.next().await.unwrap().unwrap().to_vec();

    moto.kill();
    let killed = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => received.extend_from_slice(&chunk),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    })
    .await
    .expect("the body neither ended nor failed within 30 s of the kill");
    let body_time = killed.elapsed();
    match outcome {
        Ok(()) => assert!(received == big, "the body ended early without an error"),
        Err(e) => {
            assert!(big.starts_with(&received), "wrong bytes before the error");
            eprintln!("body failed after {} bytes: {e}", received.len());
        }
    }
    assert!(body_time < Duration::from_secs(15), "{body_time:?}");

    for what in ["head", "get", "ranged get", "check"] {
        let started = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(30), async {
            match what {
                "head" => origin.head(&key("/big.bin")).await.map(drop),
                "get" => origin.get(&key("/big.bin"), None).await.map(drop),
                "ranged get" => origin
                    .get(&key("/big.bin"), Some(ByteRange { start: 5, end: 9 }))
                    .await
                    .map(drop),
                _ => origin.check().await,
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what} hung after the server died"));
        let elapsed = started.elapsed();
        assert!(
            matches!(result, Err(OriginError::Unavailable(_))),
            "{what}: {result:?}"
        );
        assert!(elapsed < Duration::from_secs(15), "{what}: {elapsed:?}");
        eprintln!("{what} after the kill: {elapsed:?}");
    }
}

/// A server that accepts connections but never answers: `Timeout` after the
/// read timeout, for `head` and `get`; nothing listening: `Unavailable`.
#[tokio::test]
async fn a_silent_server_times_out_and_a_closed_port_is_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let silent = S3Origin::builder(BUCKET)
        .endpoint(&endpoint)
        .allow_http(true)
        .credentials(moto::ACCESS_KEY_ID, moto::SECRET_ACCESS_KEY, None)
        .read_timeout(Duration::from_millis(300))
        .retries(1, Duration::from_secs(2))
        .build()
        .unwrap();
    for ranged in [false, true] {
        let started = Instant::now();
        let head = silent.head(&key("/a.txt")).await;
        assert!(matches!(head, Err(OriginError::Timeout(_))), "{head:?}");
        let range = ranged.then_some(ByteRange { start: 0, end: 9 });
        let get = silent.get(&key("/a.txt"), range).await.unwrap_err();
        assert!(matches!(get, OriginError::Timeout(_)), "{get:?}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
    holder.abort();

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let refused = S3Origin::builder(BUCKET)
        .endpoint(&endpoint)
        .allow_http(true)
        .credentials(moto::ACCESS_KEY_ID, moto::SECRET_ACCESS_KEY, None)
        .build()
        .unwrap();
    let started = Instant::now();
    let head = refused.head(&key("/a.txt")).await;
    assert!(matches!(head, Err(OriginError::Unavailable(_))), "{head:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
