//! The cache against a scripted in-memory origin that counts its calls.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use super::*;
use crate::origin::{BoxFuture, ByteRange, GetResponse, HeadResponse};

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

    fn head<'a>(&'a self, _key: &'a ObjectKey) -> BoxFuture<'a, Result<HeadResponse, OriginError>> {
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
                    cached: None,
                }),
                Some(Script::BreaksAfter(body, n)) => Ok(GetResponse {
                    meta: meta(body.len(), None),
                    range: None,
                    body: chunks(vec![
                        Ok(Bytes::from_static(&body[..n])),
                        Err(std::io::Error::other("connection reset")),
                    ]),
                    cached: None,
                }),
                Some(Script::Overlong(body)) => Ok(GetResponse {
                    meta: meta(body.len() - 1, None),
                    range: None,
                    body: chunks(vec![Ok(Bytes::from_static(body))]),
                    cached: None,
                }),
            }
        })
    }
}

fn key(path: &str) -> ObjectKey {
    ObjectKey::from_request_path(path).unwrap()
}

/// A GET through the cache: whether it was a hit, and the body.
async fn fetch(cache: &CachedOrigin, path: &str) -> Result<(bool, Bytes), OriginError> {
    let response = cache.get(&key(path), None).await?;
    let hit = response.cached.is_some();
    let mut body = Vec::new();
    let mut stream = response.body;
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        body.extend_from_slice(&chunk.unwrap());
    }
    Ok((hit, Bytes::from(body)))
}

async fn hit(cache: &CachedOrigin, path: &str) -> bool {
    fetch(cache, path).await.unwrap().0
}

/// Whether the cache holds an object for `path` (the scripted origin answers
/// no HEAD, so a HEAD answered at all was answered from the cache).
async fn holds(cache: &CachedOrigin, path: &str) -> bool {
    cache
        .head(&key(path))
        .await
        .is_ok_and(|h| h.cached.is_some())
}

fn settings() -> CacheSettings {
    CacheSettings {
        max_bytes: 1 << 20,
        max_object_bytes: 1024,
        error_ttl: Duration::from_millis(300),
    }
}

fn wrap(cache: &ObjectCache, origin: &Arc<Scripted>, ttl: TtlPolicy) -> CachedOrigin {
    cache.wrap(Arc::clone(origin) as Arc<dyn Origin>, ttl)
}

#[tokio::test]
async fn a_second_get_is_a_hit_without_the_origin() {
    let origin = Scripted::new("a");
    origin.set("a.txt", Script::Object(b"hello cache", None));
    let cache = wrap(&ObjectCache::new(settings()), &origin, TtlPolicy::default());
    assert_eq!(
        fetch(&cache, "/a.txt").await.unwrap(),
        (false, Bytes::from_static(b"hello cache"))
    );
    assert_eq!(
        fetch(&cache, "/a.txt").await.unwrap(),
        (true, Bytes::from_static(b"hello cache"))
    );
    assert_eq!(origin.gets(), 1);
    assert!(holds(&cache, "/a.txt").await);
    assert!(!holds(&cache, "/other.txt").await);
}

#[tokio::test]
async fn ranges_are_cut_from_the_cached_copy() {
    let origin = Scripted::new("ranges");
    origin.set("r", Script::Object(b"0123456789", None));
    let cache = wrap(&ObjectCache::new(settings()), &origin, TtlPolicy::default());
    let cut = |start, end| Some(ByteRange { start, end });
    let part = cache.get(&key("/r"), cut(2, 4)).await.unwrap();
    assert_eq!(part.range, cut(2, 4));
    // Past the end: clamped, as an origin clamps.
    let tail = cache.get(&key("/r"), cut(8, 20)).await.unwrap();
    assert_eq!(tail.range, cut(8, 9));
    assert!(tail.cached.is_some());
    // Starting past the end (the object shrank since the caller looked).
    assert_eq!(
        cache.get(&key("/r"), cut(10, 12)).await.unwrap_err(),
        OriginError::NotFound
    );
    assert_eq!(origin.gets(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_collapse_into_one_origin_request() {
    let origin = Scripted::slow("collapse", Duration::from_millis(200));
    origin.set("v.ts", Script::Object(b"segment bytes", None));
    let cache = wrap(&ObjectCache::new(settings()), &origin, TtlPolicy::default());
    let answers = futures_util::future::join_all((0..20).map(|_| fetch(&cache, "/v.ts"))).await;
    assert_eq!(origin.gets(), 1, "20 concurrent misses, one origin request");
    let answers: Vec<(bool, Bytes)> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        answers.iter().filter(|(hit, _)| !hit).count(),
        1,
        "one miss"
    );
    for (_, body) in &answers {
        assert_eq!(body.as_ref(), b"segment bytes");
    }
}

#[tokio::test]
async fn max_age_and_min_ttl_decide_expiry() {
    let origin = Scripted::new("ttl");
    origin.set("short", Script::Object(b"x", Some("max-age=1")));
    origin.set("nostore", Script::Object(b"y", Some("no-store")));
    let cache = wrap(&ObjectCache::new(settings()), &origin, TtlPolicy::default());
    assert!(!hit(&cache, "/short").await);
    assert!(hit(&cache, "/short").await);
    // no-store with min_ttl 0: never served from the cache
    assert!(!hit(&cache, "/nostore").await);
    assert!(!hit(&cache, "/nostore").await);
    assert_eq!(origin.gets(), 3);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(!hit(&cache, "/short").await, "expired after max-age");
    assert_eq!(origin.gets(), 4);

    // A behavior with min_ttl 60 keeps the no-store object.
    let sticky = wrap(
        &ObjectCache::new(settings()),
        &origin,
        TtlPolicy::new(60, 86_400, 86_400).unwrap(),
    );
    assert!(!hit(&sticky, "/nostore").await);
    assert!(hit(&sticky, "/nostore").await);
}

#[tokio::test]
async fn errors_are_cached_briefly() {
    let origin = Scripted::new("errors");
    origin.set(
        "down",
        Script::Fail(OriginError::Unavailable("refused".into())),
    );
    let cache = wrap(&ObjectCache::new(settings()), &origin, TtlPolicy::default());
    assert!(matches!(
        fetch(&cache, "/down").await,
        Err(OriginError::Unavailable(_))
    ));
    assert_eq!(
        fetch(&cache, "/missing").await.unwrap_err(),
        OriginError::NotFound
    );
    // Again, from the cache: the origin is not asked, HEAD included.
    assert!(matches!(
        fetch(&cache, "/down").await,
        Err(OriginError::Unavailable(_))
    ));
    assert_eq!(
        cache.head(&key("/missing")).await.unwrap_err(),
        OriginError::NotFound
    );
    assert_eq!(origin.gets(), 2);
    // The origin recovers; after error_ttl the object is served.
    origin.set("down", Script::Object(b"back", None));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        fetch(&cache, "/down").await.unwrap(),
        (false, Bytes::from_static(b"back"))
    );
}

#[tokio::test]
async fn broken_or_overlong_bodies_are_never_cached_as_objects() {
    let origin = Scripted::new("broken");
    origin.set("cut", Script::BreaksAfter(b"0123456789", 4));
    origin.set("long", Script::Overlong(b"0123456789"));
    let cache = wrap(&ObjectCache::new(settings()), &origin, TtlPolicy::default());
    for path in ["/cut", "/long"] {
        match fetch(&cache, path).await {
            Err(OriginError::Unavailable(m)) => assert!(m.contains("bytes"), "{m}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    origin.set("cut", Script::Object(b"0123456789", None));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        fetch(&cache, "/cut").await.unwrap().1.as_ref(),
        b"0123456789"
    );
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
    let cache = wrap(&objects, &origin, TtlPolicy::default());
    // The request that looked streams the response it opened ...
    assert_eq!(
        fetch(&cache, "/big").await.unwrap(),
        (false, Bytes::from_static(&BIG))
    );
    assert_eq!(origin.gets(), 1, "one origin request for the first answer");
    assert!(
        objects.weighted_bytes().await < 1024,
        "the body is not held"
    );
    assert!(!holds(&cache, "/big").await);
    // ... later ones go to the origin, uncached.
    assert_eq!(
        fetch(&cache, "/big").await.unwrap(),
        (false, Bytes::from_static(&BIG))
    );
    assert_eq!(origin.gets(), 2);
    // 100 objects of 1,000 bytes into a 16 KiB cache: the bound holds.
    for i in 0..100 {
        origin.set(&format!("m{i}"), Script::Object(&MEDIUM, None));
        let (_, body) = fetch(&cache, &format!("/m{i}")).await.unwrap();
        assert_eq!(body.len(), 1000);
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
    let a = wrap(&objects, &one, TtlPolicy::default());
    let b = wrap(&objects, &two, TtlPolicy::default());
    let c = wrap(&objects, &other, TtlPolicy::default());
    let d = wrap(&objects, &one, TtlPolicy::new(0, 60, 60).unwrap());
    assert!(!hit(&a, "/k").await);
    // Same identity and TTLs (e.g. the origin rebuilt by a reload): shared.
    assert!(hit(&b, "/k").await);
    assert_eq!(two.gets(), 0);
    // Another origin, or other TTLs: separate.
    assert!(!hit(&c, "/k").await);
    assert!(!hit(&d, "/k").await);
    objects.clear();
    assert!(!holds(&a, "/k").await);
}

#[tokio::test]
async fn a_compressed_variant_is_of_the_copy_answered_from() {
    let origin = Scripted::new("variants");
    let page: &'static [u8] = b"<p>the same words again and again and again and again</p>";
    origin.set("p.html", Script::Object(page, None));
    let cache = wrap(&ObjectCache::new(settings()), &origin, TtlPolicy::default());
    assert!(!hit(&cache, "/p.html").await);
    let copy = cache
        .get(&key("/p.html"), None)
        .await
        .unwrap()
        .cached
        .unwrap();
    // Another copy of the object than the one cached (one replaced since).
    let other = CachedCopy {
        stored_at: copy.stored_at + Duration::from_millis(1),
        ..copy
    };
    let gzip = crate::compress::Encoding::Gzip;
    assert!(
        cache
            .encoded(&key("/p.html"), gzip, Some(other))
            .await
            .is_none()
    );
    for _ in 0..2 {
        let variant = cache
            .encoded(&key("/p.html"), gzip, Some(copy))
            .await
            .unwrap();
        let mut body = Vec::new();
        let mut stream = variant.body;
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            body.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(variant.meta.size, body.len() as u64);
        let mut decoded = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut decoded)
            .unwrap();
        assert_eq!(decoded, page);
    }
    // Made now, the variant is still not the other copy's.
    assert!(
        cache
            .encoded(&key("/p.html"), gzip, Some(other))
            .await
            .is_none()
    );
    assert_eq!(origin.gets(), 1);
}
