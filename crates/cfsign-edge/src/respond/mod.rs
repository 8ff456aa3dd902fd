//! The last stage: answering a request from an [`Origin`] (through the edge's
//! cache or not: a [`CachedOrigin`](crate::cache::CachedOrigin) is an origin)
//! with S3/CloudFront HTTP semantics: GET and HEAD, a single `Range` (206,
//! `Content-Range`; past the end → 416; several ranges → the whole object),
//! `If-Range`, `If-None-Match` / `If-Modified-Since` → 304, `If-Match` /
//! `If-Unmodified-Since` → 412, and `Content-Type`, `ETag`, `Last-Modified`,
//! `Accept-Ranges`, `Age`, `Via` and `X-Cache` (from the typed
//! [`CacheStatus`], also put in the response's extensions).
//! Bodies are streamed; a client that goes away drops the stream and the file.
//! Errors have CloudFront's XML form ([`ErrorResponse`]): `NoSuchKey`,
//! `MethodNotAllowed`, `InvalidRange`, `PreconditionFailed`, ...
//!
//! One path for every request: the metadata first when a precondition, a range
//! or a `HEAD` needs it ([`Origin::head`]), then the body ([`Origin::get`]).

pub mod preconditions;
pub mod range;

use axum::body::Body;
use bytes::Bytes;
use futures_util::future::Either;
use futures_util::{Stream, StreamExt as _, stream};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};

use crate::access::ErrorResponse;
use crate::compress::{self, Skip};
use crate::origin::{
    BodyStream, ByteRange, CachedCopy, GetResponse, ObjectKey, ObjectMeta, Origin, OriginError,
};
use crate::outcome::CacheStatus;
use preconditions::{Precondition, evaluate, has_preconditions};
use range::{RangeDecision, resolve};

/// The `Via` header value.
pub const VIA: &str = "1.1 cfsign-edge";

/// Answers `request` from `origin`; with `compress`, compressible objects go
/// gzip- or Brotli-compressed to viewers that accept it, as CloudFront's
/// "compress objects automatically" decides ([`compress::decide`]): from the
/// origin's compressed copy when it keeps one (the cache does,
/// [`Origin::encoded`]), else compressed as the body streams.
///
/// ```
/// use cfsign_edge::origin::DirectoryOrigin;
/// use cfsign_edge::respond::respond;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "hello")?;
/// let origin = DirectoryOrigin::new(dir.path())?;
/// let request = http::Request::get("/a.txt").body(())?;
/// let response = respond(&origin, &request, false).await;
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["x-cache"], "Miss from cfsign");
/// let missing = respond(&origin, &http::Request::get("/b.txt").body(())?, false).await;
/// assert_eq!(missing.status(), 404);
/// # Ok(())
/// # }
/// ```
pub async fn respond<B>(
    origin: &dyn Origin,
    request: &Request<B>,
    compress: bool,
) -> Response<Body> {
    let (method, path, headers) = (request.method(), request.uri().path(), request.headers());
    let encode = |status: StatusCode, response: &HeaderMap| {
        if compress {
            compress::decide(request.version(), method, headers, status, response)
        } else {
            Err(Skip::Status)
        }
    };
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
    let mut range = None;
    // Metadata first when a precondition or a range needs it (or for HEAD).
    if head_only || has_preconditions(headers) || headers.contains_key(header::RANGE) {
        let head = match origin.head(&key).await {
            Ok(h) => h,
            Err(e) => return origin_error(&e),
        };
        range = match decide(headers, &head.meta) {
            Ok(range) => range,
            Err(mut r) => {
                // A 304 for a viewer whose 200 would be compressed has that 200's validators.
                if compress
                    && r.status() == StatusCode::NOT_MODIFIED
                    && encode(StatusCode::OK, &object_headers_of(&head.meta)).is_ok()
                {
                    compress::not_modified_headers(r.headers_mut());
                }
                mark(&mut r, head.cached);
                return *r;
            }
        };
        if head_only {
            let mut r = answer_head(&head.meta, range, head.cached);
            match encode(r.status(), r.headers()) {
                Ok(encoding) => compress::response_headers(encoding, r.headers_mut()),
                Err(skip) if skip.varies() => compress::add_vary(r.headers_mut()),
                Err(_) => {}
            }
            return r;
        }
    }
    let object = match origin.get(&key, range).await {
        Ok(object) => object,
        Err(e) => return origin_error(&e),
    };
    let GetResponse {
        meta,
        range,
        body,
        cached,
    } = object;
    let mut r = answer_head(&meta, range, cached);
    if !compress {
        *r.body_mut() = streamed(body);
        return r;
    }
    // Decided on the headers the uncompressed answer has.
    let encoding = match encode(r.status(), r.headers()) {
        Ok(encoding) => encoding,
        Err(skip) => {
            if skip.varies() {
                compress::add_vary(r.headers_mut());
            }
            *r.body_mut() = streamed(body);
            return r;
        }
    };
    compress::response_headers(encoding, r.headers_mut());
    let body = match origin.encoded(&key, encoding, cached).await {
        Some(variant) => {
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(variant.meta.size));
            variant.body
        }
        None => compress::compress_stream(encoding, body, meta.size),
    };
    *r.body_mut() = streamed(body);
    r
}

/// The cache status of an answer from a copy that is `cached` (or not), and the
/// `Age` of that copy.
fn mark(r: &mut Response<Body>, cached: Option<CachedCopy>) {
    let status = match cached {
        Some(copy) => {
            r.headers_mut()
                .insert(header::AGE, HeaderValue::from(copy.age.as_secs()));
            if copy.revalidated {
                CacheStatus::RefreshHit
            } else {
                CacheStatus::Hit
            }
        }
        None if r.status().is_client_error() || r.status().is_server_error() => CacheStatus::Error,
        None => CacheStatus::Miss,
    };
    status.mark(r);
}

/// A 200/206 for an object (or the `range` of it), with its headers and its
/// cache status; the body is for the caller to set ([`streamed`]).
fn answer_head(
    meta: &ObjectMeta,
    range: Option<ByteRange>,
    cached: Option<CachedCopy>,
) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    // Room for every header an answer gets, so the map is not grown on the way.
    r.headers_mut().reserve(RESPONSE_HEADERS);
    set_status(&mut r, range);
    object_headers(r.headers_mut(), meta, range);
    mark(&mut r, cached);
    r
}

/// An origin's body as a response body.
fn streamed(body: BodyStream) -> Body {
    Body::from_stream(body.flat_map(|item| match item {
        Ok(bytes) => Either::Left(frames(bytes)),
        Err(e) => Either::Right(stream::once(std::future::ready(Err(e)))),
    }))
}

/// How many headers an answer has at most (the object's, `Age`, `X-Cache`,
/// `Vary`, `Content-Encoding`, the request id and `Date`).
const RESPONSE_HEADERS: usize = 16;

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

fn set_status(r: &mut Response<Body>, range: Option<ByteRange>) {
    *r.status_mut() = status_of(range);
}

fn status_of(range: Option<ByteRange>) -> StatusCode {
    if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    }
}

/// The headers a whole-object answer has (what the compression decision reads).
fn object_headers_of(meta: &ObjectMeta) -> HeaderMap {
    let mut h = HeaderMap::new();
    object_headers(&mut h, meta, None);
    h
}

fn object_headers(h: &mut HeaderMap, meta: &ObjectMeta, range: Option<ByteRange>) {
    let length = range.map_or(meta.size, |r| r.len());
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
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
    h.insert(header::VIA, HeaderValue::from_static(VIA));
}

fn validators(h: &mut HeaderMap, meta: &ObjectMeta) {
    if let Some(etag) = &meta.etag {
        insert(h, header::ETAG, etag);
    }
    if let Some(modified) = meta.last_modified {
        let date = Bytes::from(httpdate::fmt_http_date(modified));
        if let Ok(v) = HeaderValue::from_maybe_shared(date) {
            h.insert(header::LAST_MODIFIED, v);
        }
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
    error(match e {
        OriginError::NotFound => ErrorResponse::NoSuchKey,
        OriginError::Forbidden(_) => ErrorResponse::AccessDenied,
        OriginError::Unavailable(_) => ErrorResponse::OriginError,
        OriginError::Timeout(_) => ErrorResponse::OriginTimeout,
    })
}

/// An error answer, with `Via` and `X-Cache: Error from cfsign`.
pub(crate) fn error(e: ErrorResponse) -> Response<Body> {
    let mut r = e.response();
    r.headers_mut()
        .insert(header::VIA, HeaderValue::from_static(VIA));
    CacheStatus::Error.mark(&mut r);
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
