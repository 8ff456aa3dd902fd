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

use crate::origin::{GetResponse, ObjectKey, ObjectMeta, Origin, OriginError};
pub use ttl::{TtlError, TtlPolicy};

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
}

/// What the cache holds for a key.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) kind: StoredKind,
    stored_at: Instant,
    ttl: Duration,
}

/// The three kinds of entry.
#[derive(Debug)]
pub(crate) enum StoredKind {
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
    /// Whole seconds since the entry was stored (the `Age` header).
    pub(crate) fn age(&self) -> u64 {
        self.stored_at.elapsed().as_secs()
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
        _key: &CacheKey,
        value: &Arc<Stored>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

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

    /// Drops every entry (e.g. after the origin's content was replaced).
    pub fn clear(&self) {
        self.entries.invalidate_all();
    }

    /// This cache as used by one behavior: entries are shared with every
    /// behavior over an origin with the same [`cache identity`](Origin::cache_identity)
    /// and the same TTLs.
    #[must_use]
    pub fn for_behavior(&self, origin: &dyn Origin, ttl: TtlPolicy) -> BehaviorCache {
        let mut hasher = std::hash::DefaultHasher::new();
        origin.cache_identity().hash(&mut hasher);
        ttl.hash(&mut hasher);
        BehaviorCache {
            cache: self.clone(),
            namespace: hasher.finish(),
            ttl,
        }
    }
}

/// The cache as one behavior uses it: its namespace and TTLs.
#[derive(Debug, Clone)]
pub struct BehaviorCache {
    cache: ObjectCache,
    namespace: u64,
    ttl: TtlPolicy,
}

/// A cache answer: the entry, and whether it was already there (a hit).
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) stored: Arc<Stored>,
    pub(crate) hit: bool,
    /// For the request whose load found the object too large to cache: the
    /// origin's response, ready to stream.
    pub(crate) passthrough: Option<GetResponse>,
}

impl BehaviorCache {
    /// The behavior's TTLs.
    #[must_use]
    pub fn ttl(&self) -> TtlPolicy {
        self.ttl
    }

    fn key(&self, key: &ObjectKey) -> CacheKey {
        CacheKey {
            namespace: self.namespace,
            key: key.clone(),
        }
    }

    /// The entry for `key` if there is one (a HEAD does not fill the cache).
    pub(crate) async fn peek(&self, key: &ObjectKey) -> Option<Found> {
        self.cache
            .entries
            .get(&self.key(key))
            .await
            .map(|stored| Found {
                stored,
                hit: true,
                passthrough: None,
            })
    }

    /// The entry for `key`, loaded from `origin` on a miss; concurrent misses
    /// for one key share one load.
    pub(crate) async fn get_or_load(&self, origin: &dyn Origin, key: &ObjectKey) -> Found {
        // Only this request's own load (if it runs) fills the slot.
        let mut passthrough = None;
        let entry = self
            .cache
            .entries
            .entry(self.key(key))
            .or_insert_with(self.load(origin, key, &mut passthrough))
            .await;
        Found {
            hit: !entry.is_fresh(),
            stored: entry.into_value(),
            passthrough,
        }
    }

    async fn load(
        &self,
        origin: &dyn Origin,
        key: &ObjectKey,
        passthrough: &mut Option<GetResponse>,
    ) -> Arc<Stored> {
        let settings = &self.cache.settings;
        let error = |e: OriginError| {
            Arc::new(Stored {
                kind: StoredKind::Error(e),
                stored_at: Instant::now(),
                ttl: settings.error_ttl,
            })
        };
        let response = match origin.get(key, None).await {
            Ok(r) => r,
            Err(e) => return error(e),
        };
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
            Err(e) => return error(e),
        };
        Arc::new(Stored {
            kind: StoredKind::Object { meta, body },
            stored_at: Instant::now(),
            ttl,
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
