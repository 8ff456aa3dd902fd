//! The cache against a scripted in-memory origin that counts its calls.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use super::*;
use crate::origin::{BoxFuture, ByteRange, GetResponse};

/// What the scripted origin answers for a key.
#[derive(Clone)]
enum Script {
    /// The object, with an optional `Cache-Control`.
    Object(&'static [u8], Option<&'static str>),
    /// The body breaks off after this many bytes (the size says more).
    BreaksAfter(&'static [u8], usize),
    /// The body is longer than the announced size.
    Overlong(&'static [u8]),
    /// An error.
    Fail(OriginError),
}

struct Scripted {
    name: &'static str,
    objects: Mutex<HashMap<String, Script>>,
    gets: AtomicUsize,
    delay: Duration,
}

impl Scripted {
    fn new(name: &'static str) -> Arc<Self> {
        Arc::new(Self {
            name,
            objects: Mutex::default(),
            gets: AtomicUsize::new(0),
            delay: Duration::ZERO,
        })
    }

    fn slow(name: &'static str, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            name,
            objects: Mutex::default(),
            gets: AtomicUsize::new(0),
            delay,
        })
    }

    fn set(&self, key: &str, script: Script) {
        self.objects.lock().unwrap().insert(key.to_owned(), script);
    }

    fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }
}

fn meta(size: usize, cache_control: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        size: size as u64,
        etag: Some("\"e\"".to_owned()),
        last_modified: None,
        content_type: None,
        cache_control: cache_control.map(str::to_owned),
        expires: None,
    }
}

impl Origin for Scripted {
    fn kind(&self) -> &'static str {
        "scripted"
    }

    fn cache_identity(&self) -> String {
        format!("scripted:{}", self.name)
    }

    fn head<'a>(&'a self, _key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, OriginError>> {
        Box::pin(async { Err(OriginError::Unavailable("head is not scripted".to_owned())) })
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        _range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<GetResponse, OriginError>> {
        Box::pin(async move {
            self.gets.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            let script = self.objects.lock().unwrap().get(key.as_str()).cloned();
            let chunks = |parts: Vec<std::io::Result<Bytes>>| -> crate::origin::BodyStream {
                Box::pin(futures_util::stream::iter(parts))
            };
            match script {
                None => Err(OriginError::NotFound),
                Some(Script::Fail(e)) => Err(e),
                Some(Script::Object(body, cc)) => Ok(GetResponse {
                    meta: meta(body.len(), cc),
                    range: None,
                    body: chunks(vec![
                        Ok(Bytes::from_static(&body[..body.len() / 2])),
                        Ok(Bytes::from_static(&body[body.len() / 2..])),
                    ]),
                }),
                Some(Script::BreaksAfter(body, n)) => Ok(GetResponse {
                    meta: meta(body.len(), None),
                    range: None,
                    body: chunks(vec![
                        Ok(Bytes::from_static(&body[..n])),
                        Err(std::io::Error::other("connection reset")),
                    ]),
                }),
                Some(Script::Overlong(body)) => Ok(GetResponse {
                    meta: meta(body.len() - 1, None),
                    range: None,
                    body: chunks(vec![Ok(Bytes::from_static(body))]),
                }),
            }
        })
    }
}

fn key(path: &str) -> ObjectKey {
    ObjectKey::from_request_path(path).unwrap()
}

fn object(found: &Found) -> (&ObjectMeta, &Bytes) {
    match &found.stored.kind {
        StoredKind::Object { meta, body } => (meta, body),
        other => panic!("expected an object, got {other:?}"),
    }
}

fn settings() -> CacheSettings {
    CacheSettings {
        max_bytes: 1 << 20,
        max_object_bytes: 1024,
        error_ttl: Duration::from_millis(300),
    }
}

#[tokio::test]
async fn a_second_get_is_a_hit_without_the_origin() {
    let origin = Scripted::new("a");
    origin.set("a.txt", Script::Object(b"hello cache", None));
    let cache = ObjectCache::new(settings()).for_behavior(origin.as_ref(), TtlPolicy::default());
    let first = cache.get_or_load(origin.as_ref(), &key("/a.txt")).await;
    assert!(!first.hit);
    assert_eq!(object(&first).1.as_ref(), b"hello cache");
    let second = cache.get_or_load(origin.as_ref(), &key("/a.txt")).await;
    assert!(second.hit);
    assert_eq!(object(&second).1.as_ref(), b"hello cache");
    assert_eq!(origin.gets(), 1);
    assert!(cache.peek(&key("/a.txt")).await.is_some());
    assert!(cache.peek(&key("/other.txt")).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_collapse_into_one_origin_request() {
    let origin = Scripted::slow("collapse", Duration::from_millis(200));
    origin.set("v.ts", Script::Object(b"segment bytes", None));
    let cache = ObjectCache::new(settings()).for_behavior(origin.as_ref(), TtlPolicy::default());
    let k = key("/v.ts");
    let answers =
        futures_util::future::join_all((0..20).map(|_| cache.get_or_load(origin.as_ref(), &k)))
            .await;
    assert_eq!(origin.gets(), 1, "20 concurrent misses, one origin request");
    assert_eq!(answers.iter().filter(|f| !f.hit).count(), 1, "one miss");
    for a in &answers {
        assert_eq!(object(a).1.as_ref(), b"segment bytes");
    }
}

#[tokio::test]
async fn max_age_and_min_ttl_decide_expiry() {
    let origin = Scripted::new("ttl");
    origin.set("short", Script::Object(b"x", Some("max-age=1")));
    origin.set("nostore", Script::Object(b"y", Some("no-store")));
    let cache = ObjectCache::new(settings()).for_behavior(origin.as_ref(), TtlPolicy::default());
    assert!(!cache.get_or_load(origin.as_ref(), &key("/short")).await.hit);
    assert!(cache.get_or_load(origin.as_ref(), &key("/short")).await.hit);
    // no-store with min_ttl 0: never served from the cache
    assert!(
        !cache
            .get_or_load(origin.as_ref(), &key("/nostore"))
            .await
            .hit
    );
    assert!(
        !cache
            .get_or_load(origin.as_ref(), &key("/nostore"))
            .await
            .hit
    );
    assert_eq!(origin.gets(), 3);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        !cache.get_or_load(origin.as_ref(), &key("/short")).await.hit,
        "expired after max-age"
    );
    assert_eq!(origin.gets(), 4);

    // A behavior with min_ttl 60 keeps the no-store object.
    let sticky = ObjectCache::new(settings())
        .for_behavior(origin.as_ref(), TtlPolicy::new(60, 86_400, 86_400).unwrap());
    assert!(
        !sticky
            .get_or_load(origin.as_ref(), &key("/nostore"))
            .await
            .hit
    );
    assert!(
        sticky
            .get_or_load(origin.as_ref(), &key("/nostore"))
            .await
            .hit
    );
}

#[tokio::test]
async fn errors_are_cached_briefly() {
    let origin = Scripted::new("errors");
    origin.set(
        "down",
        Script::Fail(OriginError::Unavailable("refused".into())),
    );
    let cache = ObjectCache::new(settings()).for_behavior(origin.as_ref(), TtlPolicy::default());
    let first = cache.get_or_load(origin.as_ref(), &key("/down")).await;
    assert!(matches!(
        first.stored.kind,
        StoredKind::Error(OriginError::Unavailable(_))
    ));
    let missing = cache.get_or_load(origin.as_ref(), &key("/missing")).await;
    assert!(matches!(
        missing.stored.kind,
        StoredKind::Error(OriginError::NotFound)
    ));
    assert!(cache.get_or_load(origin.as_ref(), &key("/down")).await.hit);
    assert!(
        cache
            .get_or_load(origin.as_ref(), &key("/missing"))
            .await
            .hit
    );
    assert_eq!(origin.gets(), 2);
    // The origin recovers; after error_ttl the object is served.
    origin.set("down", Script::Object(b"back", None));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let back = cache.get_or_load(origin.as_ref(), &key("/down")).await;
    assert!(!back.hit);
    assert_eq!(object(&back).1.as_ref(), b"back");
}

#[tokio::test]
async fn broken_or_overlong_bodies_are_never_cached_as_objects() {
    let origin = Scripted::new("broken");
    origin.set("cut", Script::BreaksAfter(b"0123456789", 4));
    origin.set("long", Script::Overlong(b"0123456789"));
    let cache = ObjectCache::new(settings()).for_behavior(origin.as_ref(), TtlPolicy::default());
    for path in ["/cut", "/long"] {
        let found = cache.get_or_load(origin.as_ref(), &key(path)).await;
        match &found.stored.kind {
            StoredKind::Error(OriginError::Unavailable(m)) => {
                assert!(m.contains("bytes"), "{m}");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
    origin.set("cut", Script::Object(b"0123456789", None));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let whole = cache.get_or_load(origin.as_ref(), &key("/cut")).await;
    assert_eq!(object(&whole).1.as_ref(), b"0123456789");
}

#[tokio::test]
async fn large_objects_pass_through_and_the_byte_bound_holds() {
    static BIG: [u8; 2048] = [7; 2048];
    static MEDIUM: [u8; 1000] = [1; 1000];
    let origin = Scripted::new("sizes");
    origin.set("big", Script::Object(&BIG, None));
    let objects = ObjectCache::new(CacheSettings {
        max_bytes: 16 * 1024,
        ..settings()
    });
    let cache = objects.for_behavior(origin.as_ref(), TtlPolicy::default());
    let big = cache.get_or_load(origin.as_ref(), &key("/big")).await;
    assert!(matches!(big.stored.kind, StoredKind::Passthrough));
    assert!(
        objects.weighted_bytes().await < 1024,
        "the body is not held"
    );
    // The request that looked streams the response it opened ...
    let mut opened = big.passthrough.expect("the opened response");
    let mut streamed = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut opened.body).await {
        streamed.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(streamed, BIG);
    // ... later ones learn from the cache that they must go to the origin.
    let again = cache.get_or_load(origin.as_ref(), &key("/big")).await;
    assert!(again.hit && again.passthrough.is_none());
    assert!(matches!(again.stored.kind, StoredKind::Passthrough));
    assert_eq!(origin.gets(), 1);
    // 100 objects of 1,000 bytes into a 16 KiB cache: the bound holds.
    for i in 0..100 {
        origin.set(&format!("m{i}"), Script::Object(&MEDIUM, None));
        let found = cache
            .get_or_load(origin.as_ref(), &key(&format!("/m{i}")))
            .await;
        assert_eq!(object(&found).1.len(), 1000);
    }
    let held = objects.weighted_bytes().await;
    assert!(held <= 16 * 1024, "{held} bytes held");
    assert!(held >= 1500, "something is cached ({held})");
}

#[tokio::test]
async fn namespaces_follow_the_origin_identity_and_ttls() {
    let one = Scripted::new("same");
    let two = Scripted::new("same");
    let other = Scripted::new("other");
    for o in [&one, &two, &other] {
        o.set("k", Script::Object(b"v", None));
    }
    let objects = ObjectCache::new(settings());
    let a = objects.for_behavior(one.as_ref(), TtlPolicy::default());
    let b = objects.for_behavior(two.as_ref(), TtlPolicy::default());
    let c = objects.for_behavior(other.as_ref(), TtlPolicy::default());
    let d = objects.for_behavior(one.as_ref(), TtlPolicy::new(0, 60, 60).unwrap());
    assert!(!a.get_or_load(one.as_ref(), &key("/k")).await.hit);
    // Same identity and TTLs (e.g. the origin rebuilt by a reload): shared.
    assert!(b.get_or_load(two.as_ref(), &key("/k")).await.hit);
    assert_eq!(two.gets(), 0);
    // Another origin, or other TTLs: separate.
    assert!(!c.get_or_load(other.as_ref(), &key("/k")).await.hit);
    assert!(!d.get_or_load(one.as_ref(), &key("/k")).await.hit);
    objects.clear();
    assert!(a.peek(&key("/k")).await.is_none());
}
