//! The S3 origin against a real S3-compatible server: moto's, on 127.0.0.1
//! (see `cfsign_testkit::moto`). Objects are uploaded with boto3, an independent
//! client, so the keys S3 holds are the fixture's decoded keys whatever the
//! origin's own encoding does; the origin then has to find them.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cfsign_testkit::conformance::{self, Fixture, OriginWriter};
use cfsign_edge::origin::{BoxFuture, ByteRange, ObjectKey, Origin, OriginError, S3Origin};
use cfsign_testkit::moto::{self, Moto};
use futures_util::StreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{ObjectStore as _, PutOptions};

const BUCKET: &str = "cfsign-edge-test";

/// Creates buckets, uploads files and lists the buckets' keys, with boto3.
///
/// Standard input: lines `bucket <name>` and `put <bucket> <file> <key>
/// <content-type> <cache-control>` (tab-separated; empty fields are omitted).
/// Standard output: every key of every bucket, one `bucket<TAB>key` a line.
const BOTO3_SCRIPT: &str = r#"
import os, sys
import boto3
from botocore.config import Config

s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["MOTO_ENDPOINT"],
    config=Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 2},
        s3={"addressing_style": "path"},
    ),
)
buckets = []
for line in sys.stdin.buffer.read().decode("utf-8").splitlines():
    fields = line.split("\t")
    if fields[0] == "bucket":
        s3.create_bucket(Bucket=fields[1])
        buckets.append(fields[1])
    elif fields[0] == "put":
        _, bucket, path, key, content_type, cache_control = fields
        extra = {}
        if content_type:
            extra["ContentType"] = content_type
        if cache_control:
            extra["CacheControl"] = cache_control
        with open(path, "rb") as f:
            s3.put_object(Bucket=bucket, Key=key, Body=f.read(), **extra)
out = []
for bucket in buckets:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        out += [bucket + "\t" + c["Key"] for c in page.get("Contents", [])]
sys.stdout.buffer.write("\n".join(out).encode("utf-8"))
"#;

/// One object to upload.
struct Put<'a> {
    key: String,
    body: &'a [u8],
    content_type: Option<&'a str>,
    cache_control: Option<&'a str>,
}

/// Creates `BUCKET` with `objects` in it (via files in `dir`), checks S3 holds
/// exactly those keys, byte for byte, and returns the time it took.
fn upload(moto: &Moto, dir: &Path, objects: &[Put<'_>]) -> Duration {
    let started = Instant::now();
    let mut input = format!("bucket\t{BUCKET}\n");
    for (i, object) in objects.iter().enumerate() {
        let file = dir.join(format!("object-{i}"));
        std::fs::write(&file, object.body).unwrap();
        writeln!(
            input,
            "put\t{BUCKET}\t{}\t{}\t{}\t{}",
            file.display(),
            object.key,
            object.content_type.unwrap_or_default(),
            object.cache_control.unwrap_or_default()
        )
        .unwrap();
    }
    let listed = moto.python(BOTO3_SCRIPT, input.as_bytes());
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort_unstable();
    let expected: Vec<String> = objects
        .iter()
        .map(|o| format!("{BUCKET}\t{}", o.key))
        .collect();
    let mut expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected, "the keys S3 holds after the upload");
    started.elapsed()
}

fn origin(moto: &Moto, bucket: &str, prefix: &str) -> S3Origin {
    S3Origin::builder(bucket)
        .endpoint(moto.endpoint())
        .allow_http(true)
        .region(moto::REGION)
        .credentials(moto::ACCESS_KEY_ID, moto::SECRET_ACCESS_KEY, None)
        .prefix(prefix)
        .build()
        .unwrap()
}

/// Puts and deletes objects under a prefix with `object_store`'s own client
/// (for the revalidation checks, whose keys are plain ASCII).
struct S3Writer {
    store: AmazonS3,
    prefix: String,
}

impl S3Writer {
    fn new(moto: &Moto, prefix: &str) -> Self {
        let store = AmazonS3Builder::new()
            .with_bucket_name(BUCKET)
            .with_endpoint(moto.endpoint())
            .with_allow_http(true)
            .with_region(moto::REGION)
            .with_access_key_id(moto::ACCESS_KEY_ID)
            .with_secret_access_key(moto::SECRET_ACCESS_KEY)
            .build()
            .unwrap();
        Self {
            store,
            prefix: prefix.to_owned(),
        }
    }

    fn location(&self, key: &str) -> Result<object_store::path::Path, String> {
        object_store::path::Path::parse(format!("{}{key}", self.prefix)).map_err(|e| e.to_string())
    }
}

impl OriginWriter for S3Writer {
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let location = self.location(key)?;
            self.store
                .put_opts(&location, body.into(), PutOptions::default())
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let location = self.location(key)?;
            let mut deleted = self
                .store
                .delete_stream(futures_util::stream::iter([Ok(location)]).boxed());
            match deleted.next().await {
                Some(Ok(_)) => Ok(()),
                Some(Err(e)) => Err(e.to_string()),
                None => Err("DeleteObjects answered nothing".to_owned()),
            }
        })
    }
}

fn key(path: &str) -> ObjectKey {
    ObjectKey::from_request_path(path).unwrap()
}

async fn body(response: cfsign_edge::origin::GetResponse) -> Vec<u8> {
    let mut body = response.body;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    bytes
}

/// The whole conformance suite, with the fixture under the prefix `site/`,
/// next to decoys outside the prefix, run from a spawned task (so the
/// origin's futures are `Send`) on a multi-threaded runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_origin_conforms() {
    let started = Instant::now();
    let moto = Moto::start();
    let moto_started = started.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture::standard();
    let mut objects: Vec<Put<'_>> = fixture
        .objects
        .iter()
        .map(|o| Put {
            key: format!("site/{}", o.key),
            body: &o.body,
            content_type: o.content_type.as_deref(),
            cache_control: None,
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
        objects.push(Put {
            key: key.to_owned(),
            body,
            content_type: Some("text/plain"),
            cache_control,
        });
    }
    let upload_time = upload(&moto, dir.path(), &objects);

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
    let writer = S3Writer::new(&moto, "site/");
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
    let dir = tempfile::tempdir().unwrap();
    upload(
        &moto,
        dir.path(),
        &[Put {
            key: "a.txt".to_owned(),
            body: b"a",
            content_type: None,
            cache_control: None,
        }],
    );
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
    let dir = tempfile::tempdir().unwrap();
    // Larger than loopback socket buffers, so that most of it is still to be
    // sent when the server dies.
    let big: Vec<u8> = (0..32 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    upload(
        &moto,
        dir.path(),
        &[Put {
            key: "big.bin".to_owned(),
            body: &big,
            content_type: None,
            cache_control: None,
        }],
    );
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
