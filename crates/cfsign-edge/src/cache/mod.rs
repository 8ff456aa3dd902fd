//! The edge's object cache: in memory, bounded in bytes, one per edge and
//! shared by its behaviors.
//!
//! - **What is cached:** whole objects up to [`CacheSettings::max_object_bytes`],
//!   fetched with one `GET` of the whole object; ranges and conditional requests
//!   are then answered from memory. Larger objects are streamed from the origin
//!   uncached: the request that found out streams the response it already has,
//!   and the cache remembers, for the object's TTL, that the object is too large,
//!   so later requests go straight to the origin.
//! - **How long:** the behavior's [`TtlPolicy`] applied to the origin's
//!   `Cache-Control`/`Expires` ([`ttl`]).
//! - **Revalidation:** an expired object that has an `ETag` or a
//!   `Last-Modified` is kept ([`STALE_RETENTION`]) and, when asked for again,
//!   revalidated with a conditional GET ([`Origin::get_if_modified`]), as
//!   CloudFront does: an unchanged object (`304`) gets a new TTL without its
//!   body being sent again and is answered as a `RefreshHit`; a changed one is
//!   replaced. Requests for it meanwhile wait for that one origin request.
//! - **Errors** (404, 403, 502, 504 from the origin) are cached for
//!   [`CacheSettings::error_ttl`] only (CloudFront's "error caching minimum TTL",
//!   10 s by default), so that a failing origin is not hammered and recovers
//!   quickly. A body that breaks off or does not match its length is an error,
//!   never a cached object.
//! - **Request collapsing:** concurrent misses for one object wait for one origin
//!   request.
//! - **Key:** the origin's [`cache identity`](crate::origin::Origin::cache_identity),
//!   the behavior's TTLs and the object key. The query string is not part of it
//!   (CloudFront's `CachingOptimized` policy) and signing parameters never reach
//!   it: the signed-access check runs first and strips them. Behaviors over the
//!   same origin with the same TTLs share entries, and entries survive a reload
//!   (SIGHUP) that does not change the origin.
//!
//! ```
//! use cfsign_edge::cache::{CacheSettings, ObjectCache};
//!
//! let cache = ObjectCache::new(CacheSettings {
//!     max_bytes: 64 << 20,
//!     ..CacheSettings::default()
//! });
//! assert_eq!(cache.settings().max_bytes, 64 << 20);
//! ```

pub mod invalidation;
pub mod ttl;

use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;

use crate::origin::{
    BoxFuture, ByteRange, CachedCopy, GetResponse, HeadResponse, ObjectKey, ObjectMeta, Origin,
    OriginError, Revalidation,
};
use moka::ops::compute::{CompResult, Op};
pub use ttl::{TtlError, TtlPolicy};

use crate::compress::{Encoding, compress_bytes};

/// How long the cache waits for the next piece of a body it is filling before
/// treating the origin as timed out.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Size bounds of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Bytes of cached bodies (plus a small per-entry overhead) held at most.
    pub max_bytes: u64,
    /// Objects larger than this are streamed through uncached (and objects
    /// above [`MAX_CACHEABLE_OBJECT`], about 4 GiB, always are).
    pub max_object_bytes: u64,
    /// How long origin errors (404, 403, 502, 504) are cached.
    pub error_ttl: Duration,
}

impl Default for CacheSettings {
    /// 256 MiB in all, objects up to 8 MiB, errors for 10 s.
    fn default() -> Self {
        Self {
            max_bytes: 256 << 20,
            max_object_bytes: 8 << 20,
            error_ttl: Duration::from_secs(10),
        }
    }
}

/// Bytes counted for an entry besides its body (key, metadata, bookkeeping).
const ENTRY_OVERHEAD: u64 = 512;

/// The largest object the cache can hold: an entry's weight is a `u32`.
pub const MAX_CACHEABLE_OBJECT: u64 = u32::MAX as u64 - 2 * (ENTRY_OVERHEAD + 1024);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    namespace: u64,
    key: ObjectKey,
    /// `Some` for a compressed variant of the object.
    encoding: Option<Encoding>,
}

/// What the cache holds for a key.
#[derive(Debug)]
struct Stored {
    kind: StoredKind,
    stored_at: Instant,
    ttl: Duration,
}

/// The three kinds of entry.
#[derive(Debug)]
enum StoredKind {
    /// The whole object.
    Object {
        /// Its metadata.
        meta: ObjectMeta,
        /// Its bytes (`meta.size` of them).
        body: Bytes,
    },
    /// Too large to cache: stream it from the origin.
    Passthrough,
    /// The origin's error.
    Error(OriginError),
}

impl Stored {
    /// This entry as the source of an answer.
    fn copy(&self) -> CachedCopy {
        CachedCopy {
            age: self.stored_at.elapsed(),
            revalidated: false,
            stored_at: self.stored_at,
        }
    }

    /// The whole object, answered from this entry as `copy`; `None` for an
    /// entry that holds no object.
    fn answer(&self, copy: CachedCopy) -> Option<GetResponse> {
        let StoredKind::Object { meta, body } = &self.kind else {
            return None;
        };
        Some(GetResponse {
            meta: meta.clone(),
            range: None,
            body: Box::pin(futures_util::stream::once(std::future::ready(Ok(
                body.clone()
            )))),
            cached: Some(copy),
        })
    }

    /// Within its TTL.
    fn is_fresh(&self) -> bool {
        self.stored_at.elapsed() < self.ttl
    }

    /// The metadata to revalidate with, for an object that has validators.
    fn validators(&self) -> Option<&ObjectMeta> {
        match &self.kind {
            StoredKind::Object { meta, .. } if meta.has_validators() => Some(meta),
            _ => None,
        }
    }

    /// How long the cache keeps it from now: the rest of its TTL, and
    /// [`STALE_RETENTION`] more when it can be revalidated (an object, not a
    /// compressed variant, which is made again from the refreshed object).
    fn lifetime(&self, key: &CacheKey) -> Duration {
        let rest = self.ttl.saturating_sub(self.stored_at.elapsed());
        match self.validators() {
            Some(_) if key.encoding.is_none() => rest.saturating_add(STALE_RETENTION),
            _ => rest,
        }
    }

    fn weight(&self, key: &CacheKey) -> u32 {
        let body = match &self.kind {
            StoredKind::Object { body, .. } => body.len() as u64,
            StoredKind::Passthrough | StoredKind::Error(_) => 0,
        };
        let total = body + key.key.as_str().len() as u64 + ENTRY_OVERHEAD;
        u32::try_from(total).unwrap_or(u32::MAX)
    }
}

struct PerEntryTtl;

impl moka::Expiry<CacheKey, Arc<Stored>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        key: &CacheKey,
        value: &Arc<Stored>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.lifetime(key))
    }

    /// A refreshed or replaced entry lives as long as a new one.
    fn expire_after_update(
        &self,
        key: &CacheKey,
        value: &Arc<Stored>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.lifetime(key))
    }
}

/// How long an expired object that has an `ETag` or `Last-Modified` stays in
/// the cache to be revalidated with a conditional request, rather than fetched
/// again whole: one day (the byte bound evicts it sooner when space is needed).
pub const STALE_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// The edge's object cache (cheap to clone: clones share the entries).
#[derive(Clone)]
pub struct ObjectCache {
    entries: moka::future::Cache<CacheKey, Arc<Stored>>,
    settings: CacheSettings,
}

impl std::fmt::Debug for ObjectCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectCache")
            .field("settings", &self.settings)
            .field("entries", &self.entries.entry_count())
            .field("weighted_bytes", &self.entries.weighted_size())
            .finish()
    }
}

impl ObjectCache {
    /// An empty cache with these bounds. Objects larger than `max_bytes` are
    /// never cached, whatever `max_object_bytes` says.
    #[must_use]
    pub fn new(settings: CacheSettings) -> Self {
        let entries = moka::future::Cache::builder()
            .max_capacity(settings.max_bytes)
            .weigher(|key: &CacheKey, value: &Arc<Stored>| value.weight(key))
            .expire_after(PerEntryTtl)
            // `invalidate_entries_if`, for `invalidate` (invalidation.rs).
            .support_invalidation_closures()
            .build();
        Self { entries, settings }
    }

    /// The bounds it was made with.
    #[must_use]
    pub fn settings(&self) -> &CacheSettings {
        &self.settings
    }

    /// Bytes currently accounted (bodies plus per-entry overhead); evictions
    /// are applied asynchronously, so this may briefly exceed `max_bytes`.
    pub async fn weighted_bytes(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.weighted_size()
    }

    /// Bytes accounted and entries held, as of the last applied pending tasks
    /// (see [`weighted_bytes`](Self::weighted_bytes)).
    pub(crate) fn usage(&self) -> (u64, u64) {
        (self.entries.weighted_size(), self.entries.entry_count())
    }

    /// Applies pending insertions and evictions, so that [`usage`](Self::usage)
    /// is current.
    pub(crate) async fn settle(&self) {
        self.entries.run_pending_tasks().await;
    }

    /// Drops every entry (e.g. after the origin's content was replaced).
    pub fn clear(&self) {
        self.entries.invalidate_all();
    }

    /// `origin` behind this cache, with one behavior's TTLs: entries are shared
    /// with every behavior over an origin with the same
    /// [`cache identity`](Origin::cache_identity) and the same TTLs.
    #[must_use]
    pub fn wrap(&self, origin: Arc<dyn Origin>, ttl: TtlPolicy) -> CachedOrigin {
        let mut hasher = std::hash::DefaultHasher::new();
        origin.cache_identity().hash(&mut hasher);
        ttl.hash(&mut hasher);
        CachedOrigin {
            origin,
            cache: self.clone(),
            namespace: hasher.finish(),
            ttl,
        }
    }
}

/// An origin behind the edge's cache: itself an [`Origin`], so the edge has one
/// serving path and the conformance suite (`cfsign_testkit::conformance`) runs
/// against it as against any origin. Made by [`ObjectCache::wrap`].
///
/// Answers carry [`CachedCopy`] when they come from memory (a hit); a miss
/// loads the whole object once (concurrent misses for one key share that load)
/// and answers with `cached: None`, as the origin's own answer would.
///
/// ```
/// use std::sync::Arc;
/// use cfsign_edge::cache::{CacheSettings, ObjectCache, TtlPolicy};
/// use cfsign_edge::origin::{DirectoryOrigin, ObjectKey, Origin};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "hello")?;
/// let cache = ObjectCache::new(CacheSettings::default());
/// let origin = cache.wrap(Arc::new(DirectoryOrigin::new(dir.path())?), TtlPolicy::default());
/// let key = ObjectKey::from_request_path("/a.txt")?;
/// assert!(origin.get(&key, None).await?.cached.is_none()); // a miss
/// assert!(origin.get(&key, None).await?.cached.is_some()); // a hit
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct CachedOrigin {
    origin: Arc<dyn Origin>,
    cache: ObjectCache,
    namespace: u64,
    ttl: TtlPolicy,
}

impl std::fmt::Debug for CachedOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedOrigin")
            .field("origin", &self.origin.cache_identity())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl CachedOrigin {
    /// The behavior's TTLs.
    #[must_use]
    pub fn ttl(&self) -> TtlPolicy {
        self.ttl
    }

    fn key(&self, key: &ObjectKey) -> CacheKey {
        CacheKey {
            namespace: self.namespace,
            key: key.clone(),
            encoding: None,
        }
    }

    /// The entry for `key` and how it was found: fresh in the cache (a hit);
    /// expired but confirmed by the origin with a conditional request (a
    /// refresh); or loaded from the origin (a miss). Everything but a fresh hit
    /// runs once per key at a time: concurrent requests wait for one origin
    /// request. `passthrough` receives this request's own response when its
    /// load found the object too large to cache.
    async fn entry(
        &self,
        key: &ObjectKey,
        passthrough: &mut Option<GetResponse>,
    ) -> (Arc<Stored>, Found) {
        let cache_key = self.key(key);
        if let Some(stored) = self.cache.entries.get(&cache_key).await
            && stored.is_fresh()
        {
            return (stored, Found::Hit);
        }
        let mut found = Found::Miss;
        let computed = self
            .cache
            .entries
            .entry(cache_key)
            .and_compute_with(|current| {
                let found = &mut found;
                let passthrough = &mut *passthrough;
                async move {
                    let current = current.map(moka::Entry::into_value);
                    match current {
                        // Another request refreshed it while this one waited.
                        Some(stored) if stored.is_fresh() => {
                            *found = Found::Hit;
                            Op::Nop
                        }
                        Some(stored) if stored.validators().is_some() => {
                            let (refreshed, how) = self.revalidate(key, &stored, passthrough).await;
                            *found = how;
                            Op::Put(refreshed)
                        }
                        _ => Op::Put(self.load(key, passthrough).await),
                    }
                }
            })
            .await;
        match computed {
            CompResult::Inserted(entry)
            | CompResult::ReplacedWith(entry)
            | CompResult::Unchanged(entry) => (entry.into_value(), found),
            // Never produced by the operations above (no `Op::Remove`, and a
            // missing entry is always inserted): load uncached.
            CompResult::StillNone(_) | CompResult::Removed(_) => {
                (self.load(key, passthrough).await, Found::Miss)
            }
        }
    }

    /// A conditional GET for an expired copy: the copy with a new TTL when the
    /// origin says it is unchanged, else what the origin sent.
    async fn revalidate(
        &self,
        key: &ObjectKey,
        stale: &Stored,
        passthrough: &mut Option<GetResponse>,
    ) -> (Arc<Stored>, Found) {
        let StoredKind::Object { meta, body } = &stale.kind else {
            return (self.load(key, passthrough).await, Found::Miss);
        };
        match self.origin.get_if_modified(key, meta).await {
            Ok(Revalidation::NotModified(meta)) => {
                let ttl = self.ttl.ttl(
                    meta.cache_control.as_deref(),
                    meta.expires.as_deref(),
                    SystemTime::now(),
                );
                let refreshed = Stored {
                    kind: StoredKind::Object {
                        meta,
                        body: body.clone(),
                    },
                    stored_at: Instant::now(),
                    ttl,
                };
                (Arc::new(refreshed), Found::Refreshed)
            }
            Ok(Revalidation::Modified(response)) => {
                (self.store(response, passthrough).await, Found::Miss)
            }
            Err(e) => (self.error(e), Found::Miss),
        }
    }

    /// An origin error, cached for the error TTL.
    fn error(&self, e: OriginError) -> Arc<Stored> {
        Arc::new(Stored {
            kind: StoredKind::Error(e),
            stored_at: Instant::now(),
            ttl: self.cache.settings.error_ttl,
        })
    }

    async fn load(&self, key: &ObjectKey, passthrough: &mut Option<GetResponse>) -> Arc<Stored> {
        match self.origin.get(key, None).await {
            Ok(response) => self.store(response, passthrough).await,
            Err(e) => self.error(e),
        }
    }

    /// What the cache keeps of a whole-object response from the origin.
    async fn store(
        &self,
        response: GetResponse,
        passthrough: &mut Option<GetResponse>,
    ) -> Arc<Stored> {
        let settings = &self.cache.settings;
        let ttl = self.ttl.ttl(
            response.meta.cache_control.as_deref(),
            response.meta.expires.as_deref(),
            SystemTime::now(),
        );
        let limit = settings
            .max_object_bytes
            .min(settings.max_bytes)
            .min(MAX_CACHEABLE_OBJECT);
        if response.meta.size > limit {
            *passthrough = Some(response);
            return Arc::new(Stored {
                kind: StoredKind::Passthrough,
                stored_at: Instant::now(),
                ttl,
            });
        }
        let meta = response.meta;
        let body = match read_exactly(response.body, meta.size).await {
            Ok(b) => b,
            Err(e) => return self.error(e),
        };
        Arc::new(Stored {
            kind: StoredKind::Object { meta, body },
            stored_at: Instant::now(),
            ttl,
        })
    }
}

/// How [`CachedOrigin`] found an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// Fresh in the cache.
    Hit,
    /// Expired, and confirmed unchanged by the origin just now.
    Refreshed,
    /// From the origin.
    Miss,
}

/// The part of a cached body a range asks for: `None` when the range starts
/// past the end (the object changed size since the caller looked).
fn cut(body: &Bytes, range: Option<ByteRange>) -> Option<(Option<ByteRange>, Bytes)> {
    let Some(r) = range else {
        return Some((None, body.clone()));
    };
    let size = body.len() as u64;
    if r.start >= size {
        return None;
    }
    let r = ByteRange {
        start: r.start,
        end: r.end.min(size - 1),
    };
    let (start, end) = (usize::try_from(r.start).ok()?, usize::try_from(r.end).ok()?);
    Some((Some(r), body.slice(start..=end)))
}

impl Origin for CachedOrigin {
    fn kind(&self) -> &'static str {
        self.origin.kind()
    }

    fn cache_identity(&self) -> String {
        self.origin.cache_identity()
    }

    /// From the cache when the object is there; a `HEAD` never fills it.
    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<HeadResponse, OriginError>> {
        Box::pin(async move {
            let cached = self.cache.entries.get(&self.key(key)).await;
            let Some(stored) = cached.filter(|s| s.is_fresh()) else {
                return self.origin.head(key).await;
            };
            match &stored.kind {
                StoredKind::Object { meta, .. } => Ok(HeadResponse {
                    meta: meta.clone(),
                    cached: Some(stored.copy()),
                }),
                StoredKind::Error(e) => Err(e.clone()),
                StoredKind::Passthrough => self.origin.head(key).await,
            }
        })
    }

    /// Asks the origin (a conditional request is about the origin's object,
    /// not this cache's copy of it).
    fn get_if_modified<'a>(
        &'a self,
        key: &'a ObjectKey,
        cached: &'a ObjectMeta,
    ) -> BoxFuture<'a, Result<Revalidation, OriginError>> {
        self.origin.get_if_modified(key, cached)
    }

    /// A compressed variant of a cached object, computed once (concurrent
    /// requests share the work) off the async threads, and kept as long as the
    /// object: `None` when the object itself is not cached.
    fn encoded<'a>(
        &'a self,
        key: &'a ObjectKey,
        encoding: Encoding,
        copy: Option<CachedCopy>,
    ) -> BoxFuture<'a, Option<GetResponse>> {
        Box::pin(async move {
            let variant = CacheKey {
                encoding: Some(encoding),
                ..self.key(key)
            };
            // The variant of the copy just answered from, made already: one lookup.
            if let Some(copy) = copy
                && let Some(stored) = self.cache.entries.get(&variant).await
                && stored.stored_at == copy.stored_at
            {
                return stored.answer(copy);
            }
            // The object as cached now, if it is still the copy whose headers
            // the caller has: a later copy's variant would not match them.
            let identity = self
                .cache
                .entries
                .get(&self.key(key))
                .await
                .filter(|s| s.is_fresh())
                .filter(|s| copy.is_none_or(|c| c.stored_at == s.stored_at))?;
            let StoredKind::Object { meta, body } = &identity.kind else {
                return None;
            };
            let compute = async {
                let body = body.clone();
                let compressed =
                    tokio::task::spawn_blocking(move || compress_bytes(encoding, &body))
                        .await
                        .ok()?
                        .ok()?;
                Some(Arc::new(Stored {
                    kind: StoredKind::Object {
                        meta: ObjectMeta {
                            size: compressed.len() as u64,
                            ..meta.clone()
                        },
                        body: compressed,
                    },
                    // The copy it was made from: as old as it, and gone with it.
                    stored_at: identity.stored_at,
                    ttl: identity.ttl,
                }))
            };
            // A variant belongs to one copy of the object: after a refresh or a
            // change, the one made from the earlier copy is made again.
            let current = |v: &Arc<Stored>| v.stored_at == identity.stored_at;
            let stored = match self.cache.entries.get(&variant).await.filter(current) {
                Some(stored) => stored,
                None => {
                    let computed = self
                        .cache
                        .entries
                        .entry(variant)
                        .and_compute_with(|existing| async move {
                            match existing {
                                Some(e) if current(e.value()) => Op::Nop,
                                _ => compute.await.map_or(Op::Nop, Op::Put),
                            }
                        })
                        .await;
                    match computed {
                        CompResult::Inserted(e)
                        | CompResult::ReplacedWith(e)
                        | CompResult::Unchanged(e) => Some(e.into_value()).filter(current)?,
                        CompResult::StillNone(_) | CompResult::Removed(_) => return None,
                    }
                }
            };
            stored.answer(identity.copy())
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<GetResponse, OriginError>> {
        Box::pin(async move {
            let mut passthrough = None;
            let (stored, found) = self.entry(key, &mut passthrough).await;
            match &stored.kind {
                StoredKind::Object { meta, body } => {
                    let (range, bytes) = cut(body, range).ok_or(OriginError::NotFound)?;
                    Ok(GetResponse {
                        meta: meta.clone(),
                        range,
                        body: Box::pin(futures_util::stream::once(std::future::ready(Ok(bytes)))),
                        cached: match found {
                            Found::Hit => Some(stored.copy()),
                            Found::Refreshed => Some(CachedCopy {
                                revalidated: true,
                                ..stored.copy()
                            }),
                            Found::Miss => None,
                        },
                    })
                }
                StoredKind::Error(e) => Err(e.clone()),
                // Too large to cache: this request's own load already has the
                // whole object streaming; anything else asks the origin.
                StoredKind::Passthrough => match (passthrough, range) {
                    (Some(response), None) => Ok(response),
                    _ => self.origin.get(key, range).await,
                },
            }
        })
    }
}

/// Reads a body that must be exactly `size` bytes (at most [`BODY_IDLE_TIMEOUT`]
/// between pieces).
async fn read_exactly(
    mut body: crate::origin::BodyStream,
    size: u64,
) -> Result<Bytes, OriginError> {
    let capacity = usize::try_from(size)
        .map_err(|_| OriginError::Unavailable("object too large for memory".to_owned()))?;
    let mut buffer = BytesMut::with_capacity(capacity);
    loop {
        let next = tokio::time::timeout(BODY_IDLE_TIMEOUT, body.next())
            .await
            .map_err(|_| {
                OriginError::Timeout(format!(
                    "no body data for {}s after {} of {size} bytes",
                    BODY_IDLE_TIMEOUT.as_secs(),
                    buffer.len()
                ))
            })?;
        match next {
            None => break,
            Some(Ok(chunk)) => {
                if buffer.len() + chunk.len() > capacity {
                    return Err(OriginError::Unavailable(format!(
                        "the origin sent more than the {size} bytes it announced"
                    )));
                }
                buffer.extend_from_slice(&chunk);
            }
            Some(Err(e)) => {
                return Err(OriginError::Unavailable(format!(
                    "the body broke off after {} of {size} bytes: {e}",
                    buffer.len()
                )));
            }
        }
    }
    if buffer.len() != capacity {
        return Err(OriginError::Unavailable(format!(
            "the body ended after {} of {size} bytes",
            buffer.len()
        )));
    }
    Ok(buffer.freeze())
}

#[cfg(test)]
mod tests;
