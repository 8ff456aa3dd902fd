#![allow(clippy::unwrap_used)] // test code
//! The origin conformance suite on the directory origin.

use std::sync::Arc;

use bytes::Bytes;
use cfsign_edge::cache::{CacheSettings, ObjectCache, TtlPolicy};
use cfsign_edge::origin::{
    BoxFuture, ByteRange, DirectoryOrigin, GetResponse, HeadResponse, ObjectKey, ObjectMeta,
    Origin, OriginError, Revalidation,
};
use cfsign_testkit::conformance::{self, Fixture};
use futures_util::StreamExt as _;

#[tokio::test]
async fn directory_origin_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture::standard();
    fixture.write_to_dir(dir.path()).unwrap();
    let origin = DirectoryOrigin::new(dir.path()).unwrap();
    if let Err(report) = conformance::run(&origin, &fixture).await {
        panic!("{report}");
    }
}

#[tokio::test]
async fn directory_origin_revalidates() {
    let dir = tempfile::tempdir().unwrap();
    let origin = DirectoryOrigin::new(dir.path()).unwrap();
    let writer = conformance::DirectoryWriter::new(dir.path());
    if let Err(report) = conformance::run_revalidation(&origin, &writer).await {
        panic!("{report}");
    }
}

/// The directory origin behind the edge's cache (small objects cached, larger
/// ones passed through) conforms too: the cache is an origin like the others.
#[tokio::test]
async fn the_cached_directory_origin_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture::standard();
    fixture.write_to_dir(dir.path()).unwrap();
    let cache = ObjectCache::new(CacheSettings {
        max_object_bytes: 4096,
        ..CacheSettings::default()
    });
    let origin = cache.wrap(
        Arc::new(DirectoryOrigin::new(dir.path()).unwrap()),
        TtlPolicy::default(),
    );
    if let Err(report) = conformance::run(&origin, &fixture).await {
        panic!("{report}");
    }
    // Asked again, from the cache this time.
    if let Err(report) = conformance::run(&origin, &fixture).await {
        panic!("{report}");
    }
    let fresh = tempfile::tempdir().unwrap();
    let origin = ObjectCache::new(CacheSettings::default()).wrap(
        Arc::new(DirectoryOrigin::new(fresh.path()).unwrap()),
        TtlPolicy::default(),
    );
    let writer = conformance::DirectoryWriter::new(fresh.path());
    if let Err(report) = conformance::run_revalidation(&origin, &writer).await {
        panic!("{report}");
    }
}

/// The revalidation checks catch an origin that never answers "not modified"
/// (the trait's default, a plain GET) and one that always does.
#[tokio::test]
async fn the_revalidation_checks_catch_a_wrong_origin() {
    let dir = tempfile::tempdir().unwrap();
    let writer = conformance::DirectoryWriter::new(dir.path());
    let plain = Buffering(DirectoryOrigin::new(dir.path()).unwrap());
    let report = conformance::run_revalidation(&plain, &writer)
        .await
        .unwrap_err();
    assert!(
        report.starts_with("the buffering origin failed 1 of 4 conformance checks"),
        "{report}"
    );
    assert!(
        report
            .contains("revalidation of an unchanged object: cached with both validators: Modified"),
        "{report}"
    );
    let stale = Stale(DirectoryOrigin::new(dir.path()).unwrap());
    let report = conformance::run_revalidation(&stale, &writer)
        .await
        .unwrap_err();
    for check in ["changed object", "deleted object", "without validators"] {
        assert!(report.contains(check), "{check}: {report}");
    }
}

/// A broken origin: every revalidation is "not modified".
struct Stale(DirectoryOrigin);

impl Origin for Stale {
    fn kind(&self) -> &'static str {
        "stale"
    }

    fn cache_identity(&self) -> String {
        self.0.cache_identity()
    }

    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<HeadResponse, OriginError>> {
        self.0.head(key)
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<GetResponse, OriginError>> {
        self.0.get(key, range)
    }

    fn get_if_modified<'a>(
        &'a self,
        _key: &'a ObjectKey,
        cached: &'a ObjectMeta,
    ) -> BoxFuture<'a, Result<Revalidation, OriginError>> {
        Box::pin(async move { Ok(Revalidation::NotModified(cached.clone())) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn directory_origin_conforms_on_a_multi_threaded_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture::standard();
    fixture.write_to_dir(dir.path()).unwrap();
    let origin = DirectoryOrigin::new(dir.path()).unwrap();
    let handle = tokio::runtime::Handle::current();
    // Run the suite from a spawned task, so the origin's futures must be `Send`.
    let result = handle
        .spawn(async move { conformance::run(&origin, &fixture).await })
        .await
        .unwrap();
    if let Err(report) = result {
        panic!("{report}");
    }
}

/// The suite reports what is wrong: a fixture the origin does not hold fails it.
#[tokio::test]
async fn the_suite_catches_a_wrong_origin() {
    let dir = tempfile::tempdir().unwrap();
    let mut fixture = Fixture::standard();
    fixture.write_to_dir(dir.path()).unwrap();
    let origin = DirectoryOrigin::new(dir.path()).unwrap();
    // Change the expected bytes of one object and the content of another file.
    fixture
        .objects
        .iter_mut()
        .find(|o| o.key == "hello.txt")
        .unwrap()
        .body = "Goodbye\n".into();
    std::fs::write(dir.path().join("dir").join("x.txt"), "changed\n").unwrap();
    std::fs::remove_file(dir.path().join("data.json")).unwrap();
    let report = conformance::run(&origin, &fixture).await.unwrap_err();
    eprintln!("{report}");
    assert!(report.contains("object \"hello.txt\""), "{report}");
    assert!(report.contains("object \"dir/x.txt\""), "{report}");
    assert!(
        report.contains("object \"data.json\": head failed: NotFound"),
        "{report}"
    );
    assert!(!report.contains("large object"), "{report}");
}

#[test]
fn request_paths_round_trip() {
    for object in &Fixture::standard().objects {
        let key = conformance::object_key(&object.key).unwrap();
        assert_eq!(key.as_str(), object.key);
    }
    assert_eq!(
        conformance::request_path("dir/a b é%.txt"),
        "/dir/a%20b%20%C3%A9%25.txt"
    );
    assert_eq!(conformance::request_path(""), "/");
}

#[test]
fn write_to_dir_refuses_invalid_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut fixture = Fixture::standard();
    fixture
        .objects
        .push(conformance::FixtureObject::new("../escape.txt", "x", None));
    assert!(fixture.write_to_dir(&dir.path().join("root")).is_err());
    assert!(!dir.path().join("escape.txt").exists());
}

/// A broken origin: buffers bodies into one chunk, and ignores ranges.
struct Buffering(DirectoryOrigin);

impl Origin for Buffering {
    fn kind(&self) -> &'static str {
        "buffering"
    }

    fn cache_identity(&self) -> String {
        format!("buffering:{}", self.0.cache_identity())
    }

    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<HeadResponse, OriginError>> {
        self.0.head(key)
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        _range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<GetResponse, OriginError>> {
        Box::pin(async move {
            let response = self.0.get(key, None).await?;
            let bytes = conformance::read_body(response.body).await;
            let body = futures_util::stream::iter([Ok(Bytes::from(bytes))]).boxed();
            Ok(GetResponse {
                meta: response.meta,
                range: None,
                body,
                cached: None,
            })
        })
    }
}

#[tokio::test]
async fn the_suite_catches_a_buffering_origin_that_ignores_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture::standard();
    fixture.write_to_dir(dir.path()).unwrap();
    let origin = Buffering(DirectoryOrigin::new(dir.path()).unwrap());
    let report = conformance::run(&origin, &fixture).await.unwrap_err();
    eprintln!("{report}");
    assert!(
        report.starts_with("the buffering origin failed 12 of "),
        "{report}"
    );
    assert!(report.contains("the body is not streamed"), "{report}");
    assert!(
        report.contains("range 0-0 (first byte) of \"ranged.bin\": answered with range None"),
        "{report}"
    );
    assert!(!report.contains("missing key"), "{report}");
}

#[tokio::test]
async fn readyz_follows_the_directory_origin_and_healthz_stays_ok() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("media");
    std::fs::create_dir(&root).unwrap();
    let edge = cfsign_testkit::edge::EdgeBuilder::new()
        .directory(&root)
        .admin()
        .start()
        .await;
    let admin = |path: &str| format!("{}{path}", edge.admin_base());
    let ready = cfsign_testkit::http::get(&admin("/readyz"), &[]).await;
    assert_eq!(
        (ready.status.as_u16(), ready.text()),
        (200, "ready".to_owned())
    );

    std::fs::remove_dir_all(&root).unwrap();
    let ready = cfsign_testkit::http::get(&admin("/readyz"), &[]).await;
    assert_eq!(ready.status.as_u16(), 503, "{}", ready.text());
    let text = ready.text();
    assert!(text.starts_with("not ready:\n"), "{text}");
    assert!(text.contains("(directory, behavior *)"), "{text}");
    assert!(text.contains("cannot read the directory"), "{text}");
    assert!(text.contains("media"), "{text}");
    // liveness is not readiness
    let health = cfsign_testkit::http::get(&admin("/healthz"), &[]).await;
    assert_eq!(
        (health.status.as_u16(), health.text()),
        (200, "ok".to_owned())
    );

    std::fs::create_dir(&root).unwrap();
    let ready = cfsign_testkit::http::get(&admin("/readyz"), &[]).await;
    assert_eq!(ready.status.as_u16(), 200, "{}", ready.text());
    edge.stop().await;
}

/// What a probed origin's `head` answers.
type Answer = fn() -> Result<HeadResponse, OriginError>;

/// An origin answering `head` with `answer`, or never when `None`.
struct Probed(Option<Answer>);

impl Origin for Probed {
    fn kind(&self) -> &'static str {
        "probed"
    }

    fn cache_identity(&self) -> String {
        "probed".to_owned()
    }

    fn head<'a>(&'a self, _: &'a ObjectKey) -> BoxFuture<'a, Result<HeadResponse, OriginError>> {
        Box::pin(async move {
            match self.0 {
                Some(answer) => answer(),
                None => std::future::pending().await,
            }
        })
    }

    fn get<'a>(
        &'a self,
        _: &'a ObjectKey,
        _: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<GetResponse, OriginError>> {
        Box::pin(async { Err(OriginError::NotFound) })
    }
}

#[tokio::test]
async fn readyz_of_other_origins_is_a_head_that_gets_an_answer() {
    let cases: [(Option<Answer>, u16, &str); 4] = [
        (Some(|| Err(OriginError::NotFound)), 200, "ready"),
        (
            Some(|| Err(OriginError::Forbidden("AccessDenied".to_owned()))),
            200,
            "ready",
        ),
        (
            Some(|| Err(OriginError::Unavailable("connection refused".to_owned()))),
            503,
            "origin error: connection refused",
        ),
        (None, 503, "no answer within 2s"),
    ];
    for (answer, status, says) in cases {
        let edge = cfsign_testkit::edge::EdgeBuilder::new()
            .origin(Arc::new(Probed(answer)))
            .admin()
            .start()
            .await;
        let started = std::time::Instant::now();
        let ready = cfsign_testkit::http::get(&format!("{}/readyz", edge.admin_base()), &[]).await;
        assert_eq!(ready.status.as_u16(), status, "{}", ready.text());
        assert!(ready.text().contains(says), "{}", ready.text());
        assert!(started.elapsed() < std::time::Duration::from_secs(4));
        edge.stop().await;
    }
}
