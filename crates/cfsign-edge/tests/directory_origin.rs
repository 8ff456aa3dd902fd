#![allow(clippy::unwrap_used)] // test code
//! The origin conformance suite on the directory origin.

use bytes::Bytes;
use cfsign_edge::origin::conformance::{self, Fixture};
use cfsign_edge::origin::{
    BoxFuture, ByteRange, DirectoryOrigin, GetResponse, HeadResponse, ObjectKey, Origin,
    OriginError,
};
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
            let mut body = response.body;
            let mut bytes = Vec::new();
            while let Some(chunk) = body.next().await {
                bytes.extend_from_slice(&chunk.unwrap());
            }
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
