//! S3 on the [`Moto`] server for the edge's tests: buckets filled with boto3
//! (an independent client, so the keys S3 holds are the keys given, whatever
//! the edge's own encoding does), the edge's [`S3Origin`] pointed at moto, and
//! an [`OriginWriter`] that changes objects with `object_store`'s client.
//!
//! ```
//! use cfsign_testkit::moto::Moto;
//! use cfsign_testkit::s3::{self, S3Object};
//!
//! let moto = Moto::start();
//! s3::upload(&moto, "docs-bucket", &[S3Object::new("a.txt", "a").content_type("text/plain")]);
//! let origin = s3::origin_builder(&moto, "docs-bucket").build().unwrap();
//! # let _ = origin;
//! ```

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cfsign_edge::origin::s3::S3OriginBuilder;
use cfsign_edge::origin::{BoxFuture, S3Origin};
use futures_util::StreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{ObjectStore as _, PutOptions};

use crate::conformance::OriginWriter;
use crate::moto::{self, Moto};

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

/// One object to put into a bucket.
///
/// ```
/// use cfsign_testkit::s3::S3Object;
///
/// let object = S3Object::new("site/cached.txt", "cached\n").cache_control("public, max-age=60");
/// assert_eq!(object.cache_control.as_deref(), Some("public, max-age=60"));
/// ```
#[derive(Debug, Clone)]
pub struct S3Object {
    /// The key, decoded (as S3 holds it).
    pub key: String,
    /// The bytes.
    pub body: Bytes,
    /// The `Content-Type` to store (S3's default when `None`).
    pub content_type: Option<String>,
    /// The `Cache-Control` to store, if any.
    pub cache_control: Option<String>,
}

impl S3Object {
    /// `body` under `key`, with S3's defaults.
    ///
    /// ```
    /// let object = cfsign_testkit::s3::S3Object::new("media/a.bin", vec![1u8, 2, 3]);
    /// assert_eq!((object.key.as_str(), object.body.len()), ("media/a.bin", 3));
    /// ```
    #[must_use]
    pub fn new(key: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self {
            key: key.into(),
            body: body.into(),
            content_type: None,
            cache_control: None,
        }
    }

    /// With this `Content-Type`.
    ///
    /// ```
    /// let object = cfsign_testkit::s3::S3Object::new("a.txt", "a").content_type("text/plain");
    /// assert_eq!(object.content_type.as_deref(), Some("text/plain"));
    /// ```
    #[must_use]
    pub fn content_type(mut self, content_type: &str) -> Self {
        self.content_type = Some(content_type.to_owned());
        self
    }

    /// With this `Cache-Control`.
    ///
    /// ```
    /// let object = cfsign_testkit::s3::S3Object::new("a.txt", "a").cache_control("max-age=5");
    /// assert_eq!(object.cache_control.as_deref(), Some("max-age=5"));
    /// ```
    #[must_use]
    pub fn cache_control(mut self, cache_control: &str) -> Self {
        self.cache_control = Some(cache_control.to_owned());
        self
    }
}

/// Creates `bucket` on `moto` with `objects` in it (none: an empty bucket),
/// checks the bucket then holds exactly those keys, and returns the time it took.
///
/// ```
/// use cfsign_testkit::s3::{self, S3Object};
///
/// let moto = cfsign_testkit::moto::Moto::start();
/// let took = s3::upload(&moto, "docs-upload", &[S3Object::new("dir/a b é%.txt", "x")]);
/// assert!(took < std::time::Duration::from_secs(60));
/// ```
///
/// # Panics
///
/// If boto3 fails, or the bucket holds other keys afterwards.
pub fn upload(moto: &Moto, bucket: &str, objects: &[S3Object]) -> Duration {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("a temporary folder for the objects");
    let mut input = format!("bucket\t{bucket}\n");
    for (i, object) in objects.iter().enumerate() {
        let file = dir.path().join(format!("object-{i}"));
        std::fs::write(&file, &object.body).expect("writing an object's file");
        writeln!(
            input,
            "put\t{bucket}\t{}\t{}\t{}\t{}",
            file.display(),
            object.key,
            object.content_type.as_deref().unwrap_or_default(),
            object.cache_control.as_deref().unwrap_or_default()
        )
        .expect("writing to a String");
    }
    let listed = moto.python(BOTO3_SCRIPT, input.as_bytes());
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort_unstable();
    let expected: Vec<String> = objects
        .iter()
        .map(|o| format!("{bucket}\t{}", o.key))
        .collect();
    let mut expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected, "the keys S3 holds after the upload");
    started.elapsed()
}

/// The edge's S3 origin for `bucket` on `moto` (endpoint, plain HTTP, region,
/// the dummy credentials), to finish (a prefix) and build.
///
/// ```
/// let moto = cfsign_testkit::moto::Moto::start();
/// let origin = cfsign_testkit::s3::origin_builder(&moto, "b").prefix("site/").build().unwrap();
/// assert_eq!(origin.prefix(), "site"); // kept without its trailing slash
/// ```
#[must_use]
pub fn origin_builder(moto: &Moto, bucket: &str) -> S3OriginBuilder {
    S3Origin::builder(bucket)
        .endpoint(moto.endpoint())
        .allow_http(true)
        .region(moto::REGION)
        .credentials(moto::ACCESS_KEY_ID, moto::SECRET_ACCESS_KEY, None)
}

/// Puts and deletes objects of a bucket on moto (under a prefix) with
/// `object_store`'s own client: the [`OriginWriter`] of the S3 origin's
/// revalidation checks. Keys are plain ASCII there.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cfsign_testkit::conformance::OriginWriter as _;
/// use cfsign_testkit::s3::{self, S3Writer};
///
/// let moto = cfsign_testkit::moto::Moto::start();
/// s3::upload(&moto, "docs-writer", &[]);
/// let writer = S3Writer::new(&moto, "docs-writer", "site/");
/// writer.put("a.txt", bytes::Bytes::from_static(b"a")).await.unwrap();
/// writer.delete("a.txt").await.unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct S3Writer {
    store: AmazonS3,
    prefix: String,
}

impl S3Writer {
    /// A writer for `bucket` on `moto`, its keys under `prefix` (`""`: none).
    ///
    /// ```
    /// let moto = cfsign_testkit::moto::Moto::start();
    /// let writer = cfsign_testkit::s3::S3Writer::new(&moto, "any-bucket", "");
    /// # let _ = writer;
    /// ```
    ///
    /// # Panics
    ///
    /// If `object_store` refuses the configuration.
    #[must_use]
    pub fn new(moto: &Moto, bucket: &str, prefix: &str) -> Self {
        let store = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_endpoint(moto.endpoint())
            .with_allow_http(true)
            .with_region(moto::REGION)
            .with_access_key_id(moto::ACCESS_KEY_ID)
            .with_secret_access_key(moto::SECRET_ACCESS_KEY)
            .build()
            .expect("an object_store client for moto");
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
