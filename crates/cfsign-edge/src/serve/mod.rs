//! Serving objects from an [`Origin`] with S3/CloudFront HTTP semantics:
//! GET and HEAD, a single `Range` (206, `Content-Range`; past the end → 416;
//! several ranges → the whole object), `If-Range`, `If-None-Match` /
//! `If-Modified-Since` → 304, `If-Match` / `If-Unmodified-Since` → 412, and
//! `Content-Type`, `ETag`, `Last-Modified`, `Accept-Ranges`, `X-Cache`, `Via`.
//! Bodies are streamed; a client that goes away drops the stream and the file.
//! Errors have CloudFront's XML form ([`ErrorResponse`]): `NoSuchKey`,
//! `MethodNotAllowed`, `InvalidRange`, `PreconditionFailed`, ... A request
//! whose `Host` headers break RFC 9112 §3.2 is a 400 ([`request_authority`]).
//!
//! Through a [`BehaviorCache`] (see [`cache`](crate::cache)), a `GET` is answered
//! from memory when the object is cached (`X-Cache: Hit from cfsign`, `Age`),
//! ranges and conditionals included; a miss loads the whole object once; a `HEAD`
//! uses what is cached but does not fill the cache.

pub mod preconditions;
pub mod range;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use bytes::Bytes;
use futures_util::future::Either;
use futures_util::{Stream, StreamExt as _, stream};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};

use crate::access::{ErrorResponse, request_authority};
use crate::cache::{BehaviorCache, StoredKind};
use crate::observe::{Probe, TimedOrigin};
use crate::origin::{ByteRange, GetResponse, ObjectKey, ObjectMeta, Origin, OriginError};
use preconditions::{Precondition, evaluate, has_preconditions};
use range::{RangeDecision, resolve};

/// The `Via` header value.
pub const VIA: &str = "1.1 cfsign-edge";

/// Where one behavior's objects come from: the origin, and optionally the
/// edge's object cache in front of it.
///
/// ```
/// use std::sync::Arc;
/// use cfsign_edge::cache::{CacheSettings, ObjectCache, TtlPolicy};
/// use cfsign_edge::origin::DirectoryOrigin;
/// use cfsign_edge::serve::Backend;
///
/// let dir = tempfile::tempdir()?;
/// let origin = Arc::new(DirectoryOrigin::new(dir.path())?);
/// let cache = ObjectCache::new(CacheSettings::default());
/// let backend = Backend::new(origin).with_cache(&cache, TtlPolicy::default());
/// assert!(backend.cache().is_some());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Backend {
    origin: Arc<dyn Origin>,
    cache: Option<BehaviorCache>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("origin", &self.origin.kind())
            .field("cache", &self.cache)
            .finish()
    }
}

impl Backend {
    /// Objects straight from `origin`, uncached.
    #[must_use]
    pub fn new(origin: Arc<dyn Origin>) -> Self {
        Self {
            origin,
            cache: None,
        }
    }

    /// Objects through `cache`, kept for the times `ttl` gives.
    #[must_use]
    pub fn with_cache(
        mut self,
        cache: &crate::cache::ObjectCache,
        ttl: crate::cache::TtlPolicy,
    ) -> Self {
        self.cache = Some(cache.for_behavior(self.origin.as_ref(), ttl));
        self
    }

    /// The origin.
    #[must_use]
    pub fn origin(&self) -> &Arc<dyn Origin> {
        &self.origin
    }

    /// The cache, if any.
    #[must_use]
    pub fn cache(&self) -> Option<&BehaviorCache> {
        self.cache.as_ref()
    }
}

/// An axum handler serving every path from `backend`, once the request names a
/// valid authority (see [`request_authority`]; a restricted behavior's access
/// check has already made sure of it).
///
/// Under [`ObserveLayer`](crate::observe::ObserveLayer), the origin calls are timed.
pub async fn handler(State(backend): State<Backend>, request: Request) -> Response<Body> {
    if let Err(e) = request_authority(&request) {
        return error(ErrorResponse::from(e));
    }
    let timed = request
        .extensions()
        .get::<Probe>()
        .map(|probe| TimedOrigin::new(Arc::clone(&backend.origin), probe));
    let origin: &dyn Origin = match &timed {
        Some(t) => t,
        None => backend.origin.as_ref(),
    };
    serve(
        origin,
        backend.cache.as_ref(),
        request.method(),
        request.uri().path(),
        request.headers(),
    )
    .await
}

/// Answers one request from `origin`, through `cache` when given.
pub async fn serve(
    origin: &dyn Origin,
    cache: Option<&BehaviorCache>,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        let mut r = error(ErrorResponse::MethodNotAllowed);
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let Ok(key) = ObjectKey::from_request_path(path) else {
        return error(ErrorResponse::InvalidUri);
    };
    let head_only = method == Method::HEAD;
    if let Some(cache) = cache {
        // A HEAD is answered from the cache but does not fill it.
        let found = if head_only {
            cache.peek(&key).await
        } else {
            Some(cache.get_or_load(origin, &key).await)
        };
        if let Some(found) = found {
            let x_cache = if found.hit {
                "Hit from cfsign"
            } else {
                "Miss from cfsign"
            };
            match &found.stored.kind {
                StoredKind::Object { meta, body } => {
                    let mut r = match decide(headers, meta) {
                        Err(r) => *r,
                        Ok(range) => {
                            let mut r = if head_only {
                                Response::new(Body::empty())
                            } else {
                                Response::new(Body::from_stream(frames(match range {
                                    Some(r) => body.slice(byte_span(r)),
                                    None => body.clone(),
                                })))
                            };
                            set_status(&mut r, range);
                            object_headers(r.headers_mut(), meta, range);
                            r
                        }
                    };
                    let h = r.headers_mut();
                    h.insert("x-cache", HeaderValue::from_static(x_cache));
                    if found.hit {
                        insert(h, header::AGE, &found.stored.age().to_string());
                    }
                    return r;
                }
                StoredKind::Error(e) => return origin_error(e),
                // Too large to cache: streamed, from the response this request's
                // own look at the object opened when it wants the whole object.
                StoredKind::Passthrough => {
                    if let Some(object) = found.passthrough
                        && !has_preconditions(headers)
                        && !headers.contains_key(header::RANGE)
                    {
                        return streamed(object);
                    }
                }
            }
        }
    }
    let mut range = None;
    // Metadata first when a precondition or a range needs it (or for HEAD).
    if has_preconditions(headers) || headers.contains_key(header::RANGE) || head_only {
        let meta = match origin.head(&key).await {
            Ok(m) => m,
            Err(e) => return origin_error(&e),
        };
        range = match decide(headers, &meta) {
            Ok(range) => range,
            Err(r) => return *r,
        };
        if head_only {
            let mut r = Response::new(Body::empty());
            set_status(&mut r, range);
            object_headers(r.headers_mut(), &meta, range);
            return r;
        }
    }
    match origin.get(&key, range).await {
        Ok(object) => streamed(object),
        Err(e) => origin_error(&e),
    }
}

/// A 200/206 streaming an origin's body.
fn streamed(object: GetResponse) -> Response<Body> {
    let body = object.body.flat_map(|item| match item {
        Ok(bytes) => Either::Left(frames(bytes)),
        Err(e) => Either::Right(stream::once(std::future::ready(Err(e)))),
    });
    let mut r = Response::new(Body::from_stream(body));
    set_status(&mut r, object.range);
    object_headers(r.headers_mut(), &object.meta, object.range);
    r
}

/// Largest piece of a body handed to the connection at once. The connection
/// takes a piece only when its write buffer has room, so the bytes handed over
/// (the access log's `sc-bytes`) stay within one piece and that buffer of what
/// the viewer's socket accepted, also for a response cut off mid-body (a viewer
/// gone, a send timeout); a cached object is not handed over whole.
const FRAME_BYTES: usize = 64 * 1024;

/// `bytes` in pieces of at most [`FRAME_BYTES`] (no copy).
fn frames(bytes: Bytes) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let pieces = bytes.len().div_ceil(FRAME_BYTES);
    stream::iter((0..pieces).map(move |i| {
        let start = i * FRAME_BYTES;
        Ok(bytes.slice(start..(start + FRAME_BYTES).min(bytes.len())))
    }))
}

/// Applies the request's preconditions and `Range` to an object's metadata:
/// the range to send (`None`: all of it), or the 304/412/416 answer.
fn decide(
    headers: &HeaderMap,
    meta: &ObjectMeta,
) -> Result<Option<ByteRange>, Box<Response<Body>>> {
    let honour_range = match evaluate(headers, meta) {
        Precondition::Failed => {
            let mut r = error(ErrorResponse::PreconditionFailed);
            cache_validators(r.headers_mut(), meta);
            return Err(Box::new(r));
        }
        Precondition::NotModified => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            cache_validators(r.headers_mut(), meta);
            r.headers_mut()
                .insert(header::VIA, HeaderValue::from_static(VIA));
            return Err(Box::new(r));
        }
        Precondition::Proceed { honour_range } => honour_range,
    };
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (Some(h), true) = (range_header, honour_range) else {
        return Ok(None);
    };
    match resolve(h, meta.size) {
        RangeDecision::Full => Ok(None),
        RangeDecision::Partial(r) => Ok(Some(r)),
        RangeDecision::Unsatisfiable => {
            let mut r = error(ErrorResponse::InvalidRange);
            insert(
                r.headers_mut(),
                header::CONTENT_RANGE,
                &format!("bytes */{}", meta.size),
            );
            Err(Box::new(r))
        }
    }
}

/// The slice of a cached body a range covers (the range was resolved against
/// the body's own size).
fn byte_span(r: ByteRange) -> std::ops::Range<usize> {
    let start = usize::try_from(r.start).unwrap_or(usize::MAX);
    let end = usize::try_from(r.end).unwrap_or(usize::MAX);
    start..end.saturating_add(1)
}

fn set_status(r: &mut Response<Body>, range: Option<ByteRange>) {
    *r.status_mut() = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
}

fn object_headers(h: &mut HeaderMap, meta: &ObjectMeta, range: Option<ByteRange>) {
    let length = range.map_or(meta.size, |r| r.len());
    insert(h, header::CONTENT_LENGTH, &length.to_string());
    if let Some(r) = range {
        insert(
            h,
            header::CONTENT_RANGE,
            &format!("bytes {}-{}/{}", r.start, r.end, meta.size),
        );
    }
    validators(h, meta);
    insert(
        h,
        header::CONTENT_TYPE,
        meta.content_type
            .as_deref()
            .unwrap_or("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(cc) = &meta.cache_control {
        insert(h, header::CACHE_CONTROL, cc);
    }
    if let Some(e) = &meta.expires {
        insert(h, header::EXPIRES, e);
    }
    h.insert("x-cache", HeaderValue::from_static("Miss from cfsign"));
    h.insert(header::VIA, HeaderValue::from_static(VIA));
}

fn validators(h: &mut HeaderMap, meta: &ObjectMeta) {
    if let Some(etag) = &meta.etag {
        insert(h, header::ETAG, etag);
    }
    if let Some(modified) = meta.last_modified {
        insert(h, header::LAST_MODIFIED, &httpdate::fmt_http_date(modified));
    }
}

/// The validators and `Cache-Control` a 304 or 412 carries.
fn cache_validators(h: &mut HeaderMap, meta: &ObjectMeta) {
    validators(h, meta);
    if let Some(cc) = &meta.cache_control {
        insert(h, header::CACHE_CONTROL, cc);
    }
}

fn origin_error(e: &OriginError) -> Response<Body> {
    let mut r = error(match e {
        OriginError::NotFound => ErrorResponse::NoSuchKey,
        OriginError::Forbidden(_) => ErrorResponse::AccessDenied,
        OriginError::Unavailable(_) => ErrorResponse::OriginError,
        OriginError::Timeout(_) => ErrorResponse::OriginTimeout,
    });
    r.headers_mut()
        .insert("x-cache", HeaderValue::from_static("Error from cfsign"));
    r
}

/// An error answer, with `Via`.
fn error(e: ErrorResponse) -> Response<Body> {
    let mut r = e.response();
    r.headers_mut()
        .insert(header::VIA, HeaderValue::from_static(VIA));
    r
}

fn insert(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_are_handed_over_in_pieces() {
        for len in [0, 1, FRAME_BYTES, FRAME_BYTES + 1, 3 * FRAME_BYTES + 7] {
            let bytes = Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
            let pieces: Vec<Bytes> = frames(bytes.clone()).map(Result::unwrap).collect().await;
            assert_eq!(pieces.len(), len.div_ceil(FRAME_BYTES), "{len}");
            assert!(
                pieces
                    .iter()
                    .all(|p| !p.is_empty() && p.len() <= FRAME_BYTES)
            );
            assert_eq!(pieces.concat(), bytes.to_vec(), "{len}");
        }
    }
}
