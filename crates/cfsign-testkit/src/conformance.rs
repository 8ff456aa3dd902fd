//! The conformance suite every origin runs (a test harness: it moved here from
//! `cfsign_edge::origin` so that it does not ship in the edge library).
//!
//! The suite is read-only: it never writes to the origin. A backend's test first
//! puts the objects of a [`Fixture`] into the origin its own way (files for the
//! directory origin, with [`Fixture::write_to_dir`]; `PutObject` with each
//! object's [`FixtureObject::content_type`] for an S3 bucket; files behind a
//! web server for the HTTP origin), then calls [`run`], which checks:
//!
//! - `head` and `get` agree on the metadata, and it is stable across calls;
//!   the size is the object's, an entity tag (if any) is strong and quoted, and
//!   the `Content-Type` is the expected one (`.txt`, `.jpg`, `.json`);
//! - the whole body arrives byte for byte, for every key: nested keys, keys with
//!   spaces, unicode, `%`, `+`, `?`, `#` and other characters that need
//!   encoding somewhere along the way (keys are always the *decoded* form);
//! - byte ranges: first byte, last byte, middle, the whole object as a range,
//!   and ranges whose end lies beyond the object (clamped to its last byte);
//! - a zero-byte object, and a large one (3 MiB) whose body must be streamed in
//!   more than one chunk, including ranges that cross chunk boundaries and a
//!   body dropped half-way;
//! - concurrent requests;
//! - missing keys, "folders" (`dir/`, `dir`) and the empty key are
//!   [`OriginError::NotFound`], for `head` and for `get` (with and without range).
//!
//! [`run_revalidation`] checks [`Origin::get_if_modified`] (CloudFront's
//! revalidation of an expired cached object). It has to change the origin's
//! content, so the harness passes an [`OriginWriter`] (files for the directory
//! origin, [`DirectoryWriter`]; `PutObject`/`DeleteObject` for S3); it only
//! touches keys under [`REVALIDATION_PREFIX`]. It checks:
//!
//! - unchanged object, cached with both validators, the entity tag only and the
//!   modification time only (whichever the origin reports): [`Revalidation::NotModified`],
//!   with the cached size and type, and each validator the cached copy had still
//!   there and equal to the object's current one; where the
//!   harness can see the origin server's side ([`OriginWriter::last_exchange`],
//!   the HTTP origin's test server), that it received `If-None-Match` and
//!   `If-Modified-Since` with the cached values and answered `304` without a body;
//! - changed content: [`Revalidation::Modified`] with the new bytes and metadata
//!   (the change is made at least one second after the cached `Last-Modified`:
//!   dates have one-second resolution, and some servers, moto among them, let
//!   `If-Modified-Since` decide even next to an entity tag);
//! - deleted object: [`OriginError::NotFound`];
//! - a cached copy with no validators: [`Revalidation::Modified`] (a plain GET:
//!   no conditional header reaches the server).
//!
//! [`run`] does not stop at the first failure: it returns every failed check,
//! each naming the operation and the key, so one run shows all that is wrong.
//! Every origin call is bounded by a timeout ([`OPERATION_TIMEOUT`]), so a hung
//! origin fails instead of hanging the test; run the suite on a Tokio runtime
//! with the time driver enabled (as `#[tokio::test]` does).
//!
//! ```no_run
//! use cfsign_edge::origin::DirectoryOrigin;
//! use cfsign_testkit::conformance::{self, Fixture};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let fixture = Fixture::standard();
//! fixture.write_to_dir(dir.path())?;
//! let origin = DirectoryOrigin::new(dir.path())?;
//! conformance::run(&origin, &fixture).await?;
//! # Ok(())
//! # }
//! ```

use std::fmt::Write as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt as _;

use cfsign_edge::origin::{
    BodyStream, BoxFuture, ByteRange, GetResponse, ObjectKey, ObjectMeta, Origin, OriginError,
    Revalidation,
};

/// The longest any single origin call (or reading one body) may take.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Size of the large object in [`Fixture::standard`]: 3 MiB and a few bytes, so
/// that it is not a multiple of any plausible chunk size.
pub const LARGE_OBJECT_SIZE: usize = 3 * 1024 * 1024 + 17;

/// An object the test harness has put into the origin before running the suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureObject {
    /// The key, decoded (as [`ObjectKey::as_str`] gives it): `dir/a b é%.txt`.
    pub key: String,
    /// The object's bytes.
    pub body: Bytes,
    /// The `Content-Type` the origin must report (compared on the essence,
    /// ignoring parameters and case); `None`: not checked. An S3 harness uploads
    /// the object with this content type.
    pub content_type: Option<String>,
}

impl FixtureObject {
    /// An object with the given key, bytes and expected content type.
    #[must_use]
    pub fn new(key: impl Into<String>, body: impl Into<Bytes>, content_type: Option<&str>) -> Self {
        Self {
            key: key.into(),
            body: body.into(),
            content_type: content_type.map(str::to_owned),
        }
    }
}

/// The objects an origin holds for the suite, and the keys it must not find.
///
/// All keys are decoded keys (what [`ObjectKey::as_str`] returns); the suite
/// turns them into request paths with [`request_path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    /// Every object the origin holds.
    pub objects: Vec<FixtureObject>,
    /// Key of an object (at least 32 bytes) used for the range checks.
    pub ranged: String,
    /// Key of a large object (at least 1 MiB) that must be streamed in several chunks.
    pub large: String,
    /// Key of a zero-byte object.
    pub empty: String,
    /// Keys of objects that do not exist.
    pub missing: Vec<String>,
    /// Keys that are not objects although objects exist below them ("folders",
    /// with and without the trailing `/`) and the empty key (the root).
    pub not_objects: Vec<String>,
}

impl Fixture {
    /// The standard fixture every origin runs.
    #[must_use]
    pub fn standard() -> Self {
        let jpeg: &[u8] = &[
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00,
            0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9,
        ];
        let text = |s: &str| Bytes::from(s.to_owned());
        let objects = vec![
            FixtureObject::new("hello.txt", text("Hello, world!\n"), Some("text/plain")),
            FixtureObject::new("image.jpg", Bytes::from_static(jpeg), Some("image/jpeg")),
            FixtureObject::new(
                "data.json",
                text("{\"answer\":42}\n"),
                Some("application/json"),
            ),
            FixtureObject::new("dotted.name.v2.json", text("[]"), Some("application/json")),
            FixtureObject::new("UPPER/Case.TXT", text("upper case\n"), Some("text/plain")),
            FixtureObject::new("empty.txt", Bytes::new(), Some("text/plain")),
            FixtureObject::new("ranged.bin", pseudo_random(1000, 1), None),
            FixtureObject::new("large.bin", pseudo_random(LARGE_OBJECT_SIZE, 2), None),
            FixtureObject::new("no-extension", text("no extension"), None),
            FixtureObject::new(
                "dir/a b é%.txt",
                text("space, e-acute, percent\n"),
                Some("text/plain"),
            ),
            FixtureObject::new("dir/x.txt", text("x\n"), Some("text/plain")),
            FixtureObject::new(
                "dir/nested/deeper/leaf.txt",
                text("leaf\n"),
                Some("text/plain"),
            ),
            FixtureObject::new(
                "dir with space/file name.txt",
                text("spaced dir\n"),
                Some("text/plain"),
            ),
            FixtureObject::new(
                "dir.txt/inner.txt",
                text("a folder named like a file\n"),
                Some("text/plain"),
            ),
            FixtureObject::new(
                "unicode/日本語/ファイル 😀.txt",
                text("unicode\n"),
                Some("text/plain"),
            ),
            FixtureObject::new(
                "percent/100%.txt",
                text("literal percent\n"),
                Some("text/plain"),
            ),
            // Looks encoded, but is the decoded key: must not be decoded a second time.
            FixtureObject::new(
                "percent/%41%2e%2e.txt",
                text("not decoded twice\n"),
                Some("text/plain"),
            ),
            FixtureObject::new("chars/plus+sign.txt", text("plus\n"), Some("text/plain")),
            FixtureObject::new(
                "chars/q?hash#.txt",
                text("query and fragment\n"),
                Some("text/plain"),
            ),
            FixtureObject::new(
                "chars/semi;comma,eq=amp&.txt",
                text("sub-delims\n"),
                Some("text/plain"),
            ),
            FixtureObject::new(
                "chars/tilde~quote'paren()bang!at@dollar$.txt",
                text("more\n"),
                Some("text/plain"),
            ),
            FixtureObject::new(
                "chars/brackets[]{}^`|.txt",
                text("brackets\n"),
                Some("text/plain"),
            ),
        ];
        Self {
            objects,
            ranged: "ranged.bin".to_owned(),
            large: "large.bin".to_owned(),
            empty: "empty.txt".to_owned(),
            missing: [
                "missing.txt",
                "dir/missing.txt",
                "no/such/dir/file.txt",
                "hello.txt/child",
                "hello.tx",
                "hello.txt.bak",
                "ello.txt",
                // The encoded form of an existing key, taken as a decoded key.
                "dir/a%20b%20%C3%A9%25.txt",
                // The twice-decoded form of `percent/%41%2e%2e.txt`.
                "percent/A...txt",
                "dir/nested/deeper/leaf.txt/",
            ]
            .map(str::to_owned)
            .to_vec(),
            not_objects: [
                "",
                "dir/",
                "dir",
                "dir/nested/",
                "dir/nested",
                "unicode/日本語/",
                "dir.txt",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }

    /// The object with this key.
    #[must_use]
    pub fn object(&self, key: &str) -> Option<&FixtureObject> {
        self.objects.iter().find(|o| o.key == key)
    }

    /// Writes every object as a file under `root` (creating directories), for
    /// the directory origin. Refuses keys that are not valid object keys.
    pub fn write_to_dir(&self, root: &Path) -> std::io::Result<()> {
        for object in &self.objects {
            object_key(&object.key)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        }
        for object in &self.objects {
            let path = object
                .key
                .split('/')
                .fold(root.to_path_buf(), |path, segment| path.join(segment));
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, &object.body)?;
        }
        Ok(())
    }

    /// Checks the fixture itself is usable by the suite.
    fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for object in &self.objects {
            if !seen.insert(object.key.as_str()) {
                return Err(format!("fixture: duplicate key {:?}", object.key));
            }
        }
        let need = |key: &str, what: &str, ok: &dyn Fn(usize) -> bool| match self.object(key) {
            Some(object) if ok(object.body.len()) => Ok(()),
            Some(object) => Err(format!(
                "fixture: {what} object {key:?} has {} bytes",
                object.body.len()
            )),
            None => Err(format!(
                "fixture: {what} object {key:?} is not among the objects"
            )),
        };
        need(&self.ranged, "ranged", &|n| n >= 32)?;
        need(&self.large, "large", &|n| n >= 1024 * 1024)?;
        need(&self.empty, "empty", &|n| n == 0)?;
        for key in self.missing.iter().chain(&self.not_objects) {
            if self.object(key).is_some() {
                return Err(format!(
                    "fixture: {key:?} is listed as absent but is an object"
                ));
            }
        }
        Ok(())
    }
}

/// The request path (percent-encoded, with the leading `/`) for a decoded key:
/// every byte but the unreserved characters (`A-Z a-z 0-9 - . _ ~`) and `/` is
/// percent-encoded.
#[must_use]
pub fn request_path(key: &str) -> String {
    let mut path = String::with_capacity(key.len() + 1);
    path.push('/');
    for &b in key.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            path.push(char::from(b));
        } else {
            let _ = write!(path, "%{b:02X}");
        }
    }
    path
}

/// The [`ObjectKey`] for a decoded key, via [`request_path`] and
/// [`ObjectKey::from_request_path`] (checking the key survives the round trip).
pub fn object_key(key: &str) -> Result<ObjectKey, String> {
    let path = request_path(key);
    let object_key = ObjectKey::from_request_path(&path)
        .map_err(|e| format!("key {key:?} ({path}) is invalid: {e}"))?;
    if object_key.as_str() == key {
        Ok(object_key)
    } else {
        Err(format!(
            "key {key:?} ({path}) decodes to {:?}",
            object_key.as_str()
        ))
    }
}

/// Runs the whole suite on `origin`, which holds the objects of `fixture`.
///
/// Returns `Err` with one line per failed check (or a fixture problem).
pub async fn run(origin: &dyn Origin, fixture: &Fixture) -> Result<(), String> {
    fixture.validate()?;
    let mut report = Report::default();
    for object in &fixture.objects {
        report.record(
            format!("object {:?}", object.key),
            check_object(origin, object).await,
        );
    }
    if let Some(ranged) = fixture.object(&fixture.ranged) {
        let n = ranged.body.len() as u64;
        let cases = [
            ("first byte", 0, 0, 0),
            ("last byte", n - 1, n - 1, n - 1),
            ("middle", n / 3, n / 3 + 9, n / 3 + 9),
            ("second byte to second-to-last", 1, n - 2, n - 2),
            ("whole object as a range", 0, n - 1, n - 1),
            ("end beyond the size", n - 10, n + 1000, n - 1),
            ("whole object, end beyond the size", 0, 2 * n, n - 1),
        ];
        for (what, start, end, clamped) in cases {
            let requested = ByteRange { start, end };
            let expected = ByteRange {
                start,
                end: clamped,
            };
            report.record(
                format!("range {start}-{end} ({what}) of {:?}", ranged.key),
                check_range(origin, ranged, requested, expected).await,
            );
        }
    }
    if let Some(large) = fixture.object(&fixture.large) {
        report.record(
            format!("large object {:?} streamed", large.key),
            check_large(origin, large).await,
        );
        let n = large.body.len() as u64;
        let chunk = 64 * 1024;
        for (start, end) in [
            (chunk - 7, 2 * chunk + 100),
            (n / 2 - 1, n / 2 + 1),
            (1024 * 1024 + 1, n - 1),
        ] {
            let range = ByteRange { start, end };
            report.record(
                format!("range {start}-{end} of the large object {:?}", large.key),
                check_range(origin, large, range, range).await,
            );
        }
        report.record(
            format!("body of {:?} dropped half-way", large.key),
            check_dropped_body(origin, large).await,
        );
    }
    if let Some(empty) = fixture.object(&fixture.empty) {
        report.record(
            format!("zero-byte object {:?}", empty.key),
            check_empty(origin, empty).await,
        );
    }
    report.record(
        "concurrent requests".to_owned(),
        check_concurrent(origin, fixture).await,
    );
    for key in &fixture.missing {
        report.record(
            format!("missing key {key:?}"),
            check_not_found(origin, key).await,
        );
    }
    for key in &fixture.not_objects {
        report.record(
            format!("non-object key {key:?}"),
            check_not_found(origin, key).await,
        );
    }
    report.finish(origin.kind())
}

/// The outcome of every check.
#[derive(Default)]
struct Report {
    passed: usize,
    failures: Vec<String>,
}

impl Report {
    fn record(&mut self, check: String, result: Result<(), String>) {
        match result {
            Ok(()) => self.passed += 1,
            Err(e) => self.failures.push(format!("{check}: {e}")),
        }
    }

    fn finish(self, kind: &str) -> Result<(), String> {
        if self.failures.is_empty() {
            return Ok(());
        }
        let mut message = format!(
            "the {kind} origin failed {} of {} conformance checks:",
            self.failures.len(),
            self.failures.len() + self.passed
        );
        for failure in &self.failures {
            message.push_str("\n  - ");
            message.push_str(failure);
        }
        Err(message)
    }
}

async fn timed<T>(what: &str, future: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(OPERATION_TIMEOUT, future)
        .await
        .map_err(|_| format!("{what} did not finish within {OPERATION_TIMEOUT:?}"))
}

async fn head(origin: &dyn Origin, key: &ObjectKey) -> Result<ObjectMeta, String> {
    timed("head", origin.head(key))
        .await?
        .map(|head| head.meta)
        .map_err(|e| format!("head failed: {e:?}"))
}

async fn get(
    origin: &dyn Origin,
    key: &ObjectKey,
    range: Option<ByteRange>,
) -> Result<GetResponse, String> {
    timed("get", origin.get(key, range))
        .await?
        .map_err(|e| format!("get (range {range:?}) failed: {e:?}"))
}

/// Reads a whole object body, as a test reads what an origin answered (within
/// [`OPERATION_TIMEOUT`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cfsign_edge::origin::{DirectoryOrigin, ObjectKey, Origin as _};
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.txt"), "hello").unwrap();
/// let origin = DirectoryOrigin::new(dir.path()).unwrap();
/// let key = ObjectKey::from_request_path("/a.txt").unwrap();
/// let response = origin.get(&key, None).await.unwrap();
/// assert_eq!(cfsign_testkit::conformance::read_body(response.body).await, b"hello");
/// # }
/// ```
///
/// # Panics
///
/// If the body fails or takes too long.
pub async fn read_body(body: BodyStream) -> Vec<u8> {
    collect(body)
        .await
        .map(|(bytes, _)| bytes)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Reads a whole body: its bytes and the number of non-empty chunks.
async fn collect(body: BodyStream) -> Result<(Vec<u8>, usize), String> {
    timed("reading the body", async move {
        let mut body = body;
        let mut bytes = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| format!("body stream error after {} bytes: {e}", bytes.len()))?;
            if !chunk.is_empty() {
                chunks += 1;
                bytes.extend_from_slice(&chunk);
            }
        }
        Ok((bytes, chunks))
    })
    .await?
}

/// Compares bytes without printing megabytes.
fn same_bytes(what: &str, actual: &[u8], expected: &[u8]) -> Result<(), String> {
    if actual == expected {
        return Ok(());
    }
    let first_difference = actual
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(actual.len().min(expected.len()));
    let excerpt = |bytes: &[u8]| {
        let end = bytes.len().min(first_difference + 16);
        format!(
            "{:?}",
            String::from_utf8_lossy(&bytes[first_difference.min(end)..end])
        )
    };
    Err(format!(
        "{what}: got {} bytes, expected {}; first difference at offset {first_difference} (got {}, expected {})",
        actual.len(),
        expected.len(),
        excerpt(actual),
        excerpt(expected),
    ))
}

fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The metadata `head` returns for an object is right on its own.
fn check_meta(meta: &ObjectMeta, object: &FixtureObject) -> Result<(), String> {
    if meta.size != object.body.len() as u64 {
        return Err(format!(
            "size {} but the object has {} bytes",
            meta.size,
            object.body.len()
        ));
    }
    if let Some(etag) = &meta.etag
        && (etag.len() < 2
            || !etag.starts_with('"')
            || !etag.ends_with('"')
            || etag[1..etag.len() - 1].contains('"'))
    {
        return Err(format!(
            "the entity tag {etag:?} is not a strong, quoted entity tag"
        ));
    }
    if let Some(expected) = &object.content_type {
        match &meta.content_type {
            Some(actual) if essence(actual) == essence(expected) => {}
            actual => return Err(format!("content type {actual:?}, expected {expected:?}")),
        }
    }
    Ok(())
}

fn same_meta(what: &str, actual: &ObjectMeta, expected: &ObjectMeta) -> Result<(), String> {
    if actual == expected {
        Ok(())
    } else {
        Err(format!(
            "{what}: metadata {actual:?} differs from head's {expected:?}"
        ))
    }
}

async fn check_object(origin: &dyn Origin, object: &FixtureObject) -> Result<(), String> {
    let key = object_key(&object.key)?;
    let meta = head(origin, &key).await?;
    check_meta(&meta, object)?;
    let again = head(origin, &key).await?;
    same_meta("a second head", &again, &meta)?;
    let response = get(origin, &key, None).await?;
    same_meta("get", &response.meta, &meta)?;
    if response.range.is_some() {
        return Err(format!(
            "get without a range answered with range {:?}",
            response.range
        ));
    }
    let (body, _) = collect(response.body).await?;
    same_bytes("body", &body, &object.body)
}

async fn check_range(
    origin: &dyn Origin,
    object: &FixtureObject,
    requested: ByteRange,
    expected: ByteRange,
) -> Result<(), String> {
    let key = object_key(&object.key)?;
    let meta = head(origin, &key).await?;
    let response = get(origin, &key, Some(requested)).await?;
    same_meta("ranged get", &response.meta, &meta)?;
    if response.range != Some(expected) {
        return Err(format!(
            "answered with range {:?}, expected {:?}",
            response.range,
            Some(expected)
        ));
    }
    let (body, _) = collect(response.body).await?;
    let (start, end) = (
        usize::try_from(expected.start),
        usize::try_from(expected.end),
    );
    let (Ok(start), Ok(end)) = (start, end) else {
        return Err(format!("range {expected:?} does not fit in memory"));
    };
    same_bytes("ranged body", &body, &object.body[start..=end])
}

async fn check_large(origin: &dyn Origin, object: &FixtureObject) -> Result<(), String> {
    let key = object_key(&object.key)?;
    let response = get(origin, &key, None).await?;
    let (body, chunks) = collect(response.body).await?;
    same_bytes("body", &body, &object.body)?;
    if chunks < 2 {
        return Err(format!(
            "the {} bytes arrived in {chunks} chunk(s): the body is not streamed",
            body.len()
        ));
    }
    Ok(())
}

async fn check_dropped_body(origin: &dyn Origin, object: &FixtureObject) -> Result<(), String> {
    let key = object_key(&object.key)?;
    let mut response = get(origin, &key, None).await?;
    match timed("reading the first chunk", response.body.next()).await? {
        Some(Ok(_)) => {}
        Some(Err(e)) => return Err(format!("body stream error: {e}")),
        None => return Err("the body ended before its first chunk".to_owned()),
    }
    drop(response);
    // The origin still answers afterwards.
    let response = get(origin, &key, Some(ByteRange { start: 0, end: 99 })).await?;
    let (body, _) = collect(response.body).await?;
    same_bytes(
        "ranged body after a dropped body",
        &body,
        &object.body[..100],
    )
}

async fn check_empty(origin: &dyn Origin, object: &FixtureObject) -> Result<(), String> {
    let key = object_key(&object.key)?;
    let meta = head(origin, &key).await?;
    if meta.size != 0 {
        return Err(format!("size {}, expected 0", meta.size));
    }
    let response = get(origin, &key, None).await?;
    same_meta("get", &response.meta, &meta)?;
    let (body, _) = collect(response.body).await?;
    same_bytes("body", &body, &[])
}

async fn check_concurrent(origin: &dyn Origin, fixture: &Fixture) -> Result<(), String> {
    let requests = fixture
        .objects
        .iter()
        .filter(|o| o.key != fixture.large)
        .cycle()
        .take(32)
        .map(|object| async move {
            let key = object_key(&object.key)?;
            let response = get(origin, &key, None).await?;
            let (body, _) = collect(response.body).await?;
            same_bytes(&format!("body of {:?}", object.key), &body, &object.body)
        });
    let failures: Vec<String> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    match failures.first() {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} of 32 concurrent gets failed, first: {first}",
            failures.len()
        )),
    }
}

async fn check_not_found(origin: &dyn Origin, key: &str) -> Result<(), String> {
    let key = object_key(key)?;
    match timed("head", origin.head(&key)).await? {
        Err(OriginError::NotFound) => {}
        other => return Err(format!("head answered {other:?}, expected NotFound")),
    }
    for range in [None, Some(ByteRange { start: 0, end: 0 })] {
        match timed("get", origin.get(&key, range)).await? {
            Err(OriginError::NotFound) => {}
            Err(e) => {
                return Err(format!(
                    "get (range {range:?}) answered {e:?}, expected NotFound"
                ));
            }
            Ok(response) => {
                return Err(format!(
                    "get (range {range:?}) answered {response:?}, expected NotFound"
                ));
            }
        }
    }
    Ok(())
}

/// Deterministic bytes without short periods (xorshift64*), so that an offset
/// error in a range shows up as different bytes.
fn pseudo_random(len: usize, seed: u64) -> Bytes {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        bytes.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    bytes.truncate(len);
    Bytes::from(bytes)
}

/// The keys [`run_revalidation`] writes and deletes start with this.
pub const REVALIDATION_PREFIX: &str = "revalidation/";

/// What an origin server saw and answered for one request, as a harness that
/// runs the server can observe it (see [`OriginWriter::last_exchange`]).
///
/// ```
/// use cfsign_testkit::conformance::Exchange;
///
/// // A revalidation answered "not modified": no body.
/// let seen = Exchange {
///     if_none_match: Some("\"abc\"".to_owned()),
///     status: 304,
///     ..Exchange::default()
/// };
/// assert_eq!((seen.if_modified_since, seen.body_bytes), (None, 0));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchange {
    /// The request's `If-None-Match`, if any.
    pub if_none_match: Option<String>,
    /// The request's `If-Modified-Since`, if any.
    pub if_modified_since: Option<String>,
    /// The response status.
    pub status: u16,
    /// Bytes of the response body.
    pub body_bytes: u64,
}

/// Changes the content of an origin, for [`run_revalidation`]. Keys are
/// decoded keys (as [`ObjectKey::as_str`] gives them), all under
/// [`REVALIDATION_PREFIX`].
pub trait OriginWriter: Send + Sync {
    /// Creates or replaces the object `key` with `body`.
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), String>>;

    /// Deletes the object `key`.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), String>>;

    /// What the origin server received and answered for the last `GET` of
    /// `key`, if the harness can see it (an HTTP origin's test server); `None`
    /// (the default): not checked.
    fn last_exchange(&self, key: &str) -> Option<Exchange> {
        let _ = key;
        None
    }
}

/// An [`OriginWriter`] for the directory origin: files under a root.
///
/// ```
/// use cfsign_edge::origin::DirectoryOrigin;
/// use cfsign_testkit::conformance::{self, DirectoryWriter};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let origin = DirectoryOrigin::new(dir.path())?;
/// conformance::run_revalidation(&origin, &DirectoryWriter::new(dir.path())).await?;
/// assert!(dir.path().join("revalidation/unchanged.txt").is_file());
/// # Ok(())
/// # }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct DirectoryWriter {
    root: PathBuf,
}

impl DirectoryWriter {
    /// Writes under `root` (the directory origin's root).
    #[must_use]
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf, String> {
        let key = object_key(key)?;
        Ok(key
            .as_str()
            .split('/')
            .fold(self.root.clone(), |path, segment| path.join(segment)))
    }
}

impl OriginWriter for DirectoryWriter {
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let path = self.path(key)?;
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| format!("creating {}: {e}", parent.display()))?;
            }
            tokio::fs::write(&path, &body)
                .await
                .map_err(|e| format!("writing {}: {e}", path.display()))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let path = self.path(key)?;
            tokio::fs::remove_file(&path)
                .await
                .map_err(|e| format!("deleting {}: {e}", path.display()))
        })
    }
}

/// Runs the revalidation checks (see the [module documentation](self)) on
/// `origin`, changing its content through `writer`.
///
/// Returns `Err` with one line per failed check.
pub async fn run_revalidation(
    origin: &dyn Origin,
    writer: &dyn OriginWriter,
) -> Result<(), String> {
    let mut report = Report::default();
    let key = |name: &str| format!("{REVALIDATION_PREFIX}{name}");
    report.record(
        "revalidation of an unchanged object".to_owned(),
        check_unchanged(origin, writer, &key("unchanged.txt")).await,
    );
    report.record(
        "revalidation of a changed object".to_owned(),
        check_changed(origin, writer, &key("changed.txt")).await,
    );
    report.record(
        "revalidation of a deleted object".to_owned(),
        check_deleted(origin, writer, &key("deleted.txt")).await,
    );
    report.record(
        "revalidation without validators".to_owned(),
        check_no_validators(origin, writer, &key("no-validators.txt")).await,
    );
    report.finish(origin.kind())
}

async fn put(writer: &dyn OriginWriter, key: &str, body: &'static [u8]) -> Result<(), String> {
    timed(
        "writing to the origin",
        writer.put(key, Bytes::from_static(body)),
    )
    .await?
    .map_err(|e| format!("the harness could not write {key:?}: {e}"))
}

/// A whole `get` and its body, checked against `expected`.
async fn cache_copy(
    origin: &dyn Origin,
    key: &ObjectKey,
    expected: &[u8],
) -> Result<ObjectMeta, String> {
    let response = get(origin, key, None).await?;
    let meta = response.meta;
    let (body, _) = collect(response.body).await?;
    same_bytes("body before the revalidation", &body, expected)?;
    Ok(meta)
}

async fn revalidate(
    origin: &dyn Origin,
    key: &ObjectKey,
    cached: &ObjectMeta,
) -> Result<Result<Revalidation, OriginError>, String> {
    timed("get_if_modified", origin.get_if_modified(key, cached)).await
}

/// Where the harness sees the server: the conditional headers it got are the
/// cached validators, and its status is `status`.
fn check_exchange(
    writer: &dyn OriginWriter,
    key: &str,
    cached: &ObjectMeta,
    status: u16,
    body_bytes: u64,
) -> Result<(), String> {
    let Some(seen) = writer.last_exchange(key) else {
        return Ok(());
    };
    let expected = Exchange {
        if_none_match: cached.etag.clone(),
        if_modified_since: cached.last_modified.map(httpdate::fmt_http_date),
        status,
        body_bytes,
    };
    if seen == expected {
        Ok(())
    } else {
        Err(format!(
            "the origin server saw and answered {seen:?}, expected {expected:?}"
        ))
    }
}

async fn check_unchanged(
    origin: &dyn Origin,
    writer: &dyn OriginWriter,
    name: &str,
) -> Result<(), String> {
    const BODY: &[u8] = b"unchanged since it was cached\n";
    put(writer, name, BODY).await?;
    let key = object_key(name)?;
    let meta = cache_copy(origin, &key, BODY).await?;
    if !meta.has_validators() {
        return Err(format!(
            "the origin reports neither an entity tag nor a modification time ({meta:?}): nothing to revalidate with"
        ));
    }
    let mut variants = vec![("both validators", meta.clone())];
    if meta.etag.is_some() && meta.last_modified.is_some() {
        let mut etag_only = meta.clone();
        etag_only.last_modified = None;
        let mut date_only = meta.clone();
        date_only.etag = None;
        variants.push(("the entity tag only", etag_only));
        variants.push(("the modification time only", date_only));
    }
    for (what, cached) in variants {
        let fail = |e: String| format!("cached with {what}: {e}");
        match revalidate(origin, &key, &cached).await? {
            Ok(Revalidation::NotModified(refreshed)) => {
                // Size and type are the cached copy's; each validator is the
                // object's current one, or absent where the cached copy had none
                // (an origin that cannot read the 304's headers keeps the cached ones).
                let validator = |refreshed: bool, had: bool, current: bool| {
                    if had {
                        refreshed && current
                    } else {
                        !refreshed || current
                    }
                };
                let kept = refreshed.size == meta.size
                    && refreshed.content_type == meta.content_type
                    && validator(
                        refreshed.etag.is_some(),
                        cached.etag.is_some(),
                        refreshed.etag == meta.etag,
                    )
                    && validator(
                        refreshed.last_modified.is_some(),
                        cached.last_modified.is_some(),
                        refreshed.last_modified == meta.last_modified,
                    );
                if !kept {
                    return Err(fail(format!(
                        "NotModified with metadata {refreshed:?}, expected that of {meta:?}"
                    )));
                }
            }
            Ok(Revalidation::Modified(response)) => {
                return Err(fail(format!(
                    "Modified ({response:?}) for an object that did not change"
                )));
            }
            Err(e) => return Err(fail(format!("answered {e:?}"))),
        }
        check_exchange(writer, name, &cached, 304, 0).map_err(fail)?;
    }
    Ok(())
}

/// Waits until the wall clock is past the second of `modified`, so that a
/// change made now has a later `Last-Modified`.
async fn next_second(modified: Option<SystemTime>) {
    let Some(modified) = modified else {
        return;
    };
    let second = modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let later = UNIX_EPOCH + Duration::from_secs(second + 1);
    while SystemTime::now() < later {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn check_changed(
    origin: &dyn Origin,
    writer: &dyn OriginWriter,
    name: &str,
) -> Result<(), String> {
    const BEFORE: &[u8] = b"first version\n";
    const AFTER: &[u8] = b"second version, longer than the first\n";
    put(writer, name, BEFORE).await?;
    let key = object_key(name)?;
    let cached = cache_copy(origin, &key, BEFORE).await?;
    next_second(cached.last_modified).await;
    put(writer, name, AFTER).await?;
    match revalidate(origin, &key, &cached).await? {
        Ok(Revalidation::Modified(response)) => {
            if response.range.is_some() {
                return Err(format!("Modified with range {:?}", response.range));
            }
            if response.meta.size != AFTER.len() as u64 {
                return Err(format!(
                    "Modified with size {}, the new object has {} bytes",
                    response.meta.size,
                    AFTER.len()
                ));
            }
            if cached.etag.is_some() && response.meta.etag == cached.etag {
                return Err(format!(
                    "Modified, but with the old entity tag {:?}",
                    cached.etag
                ));
            }
            let (body, _) = collect(response.body).await?;
            same_bytes("the new body", &body, AFTER)?;
        }
        Ok(Revalidation::NotModified(meta)) => {
            return Err(format!(
                "NotModified ({meta:?}) for an object that was rewritten"
            ));
        }
        Err(e) => return Err(format!("answered {e:?}")),
    }
    check_exchange(writer, name, &cached, 200, AFTER.len() as u64)
}

async fn check_deleted(
    origin: &dyn Origin,
    writer: &dyn OriginWriter,
    name: &str,
) -> Result<(), String> {
    const BODY: &[u8] = b"about to be deleted\n";
    put(writer, name, BODY).await?;
    let key = object_key(name)?;
    let cached = cache_copy(origin, &key, BODY).await?;
    timed("deleting from the origin", writer.delete(name))
        .await?
        .map_err(|e| format!("the harness could not delete {name:?}: {e}"))?;
    match revalidate(origin, &key, &cached).await? {
        Err(OriginError::NotFound) => Ok(()),
        other => Err(format!("answered {other:?}, expected NotFound")),
    }
}

async fn check_no_validators(
    origin: &dyn Origin,
    writer: &dyn OriginWriter,
    name: &str,
) -> Result<(), String> {
    const BODY: &[u8] = b"cached without validators\n";
    put(writer, name, BODY).await?;
    let key = object_key(name)?;
    let mut cached = cache_copy(origin, &key, BODY).await?;
    cached.etag = None;
    cached.last_modified = None;
    match revalidate(origin, &key, &cached).await? {
        Ok(Revalidation::Modified(response)) => {
            let (body, _) = collect(response.body).await?;
            same_bytes("body", &body, BODY)?;
        }
        other => return Err(format!("answered {other:?}, expected Modified")),
    }
    check_exchange(writer, name, &cached, 200, BODY.len() as u64)
}
