//! Serving objects from an [`Origin`] with S3/CloudFront HTTP semantics:
//! GET and HEAD, a single `Range` (206, `Content-Range`; past the end → 416;
//! several ranges → the whole object), `If-Range`, `If-None-Match` /
//! `If-Modified-Since` → 304, `If-Match` / `If-Unmodified-Since` → 412, and
//! `Content-Type`, `ETag`, `Last-Modified`, `Accept-Ranges`, `X-Cache`, `Via`.
//! Bodies are streamed; a client that goes away drops the stream and the file.

pub mod preconditions;
pub mod range;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};

use crate::observe::{Probe, TimedOrigin};
use crate::origin::{ByteRange, ObjectKey, ObjectMeta, Origin, OriginError};
use preconditions::{Precondition, evaluate, has_preconditions};
use range::{RangeDecision, resolve};

/// The `Via` header value.
pub const VIA: &str = "1.1 cfsign-edge";

/// An axum handler serving every path from `origin`.
///
/// Under [`ObserveLayer`](crate::observe::ObserveLayer), the origin calls are timed.
pub async fn handler(State(origin): State<Arc<dyn Origin>>, request: Request) -> Response<Body> {
    let timed = request
        .extensions()
        .get::<Probe>()
        .map(|probe| TimedOrigin::new(Arc::clone(&origin), probe));
    let origin: &dyn Origin = match &timed {
        Some(t) => t,
        None => origin.as_ref(),
    };
    serve(
        origin,
        request.method(),
        request.uri().path(),
        request.headers(),
    )
    .await
}

/// Answers one request from `origin`.
pub async fn serve(
    origin: &dyn Origin,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let key = match ObjectKey::from_request_path(path) {
        Ok(k) => k,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("bad path: {e}\n")),
    };
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let head_only = method == Method::HEAD;
    // Metadata first when a precondition or a range needs it (or for HEAD).
    let mut range = None;
    if has_preconditions(headers) || range_header.is_some() || head_only {
        let meta = match origin.head(&key).await {
            Ok(m) => m,
            Err(e) => return origin_error(&e),
        };
        let honour_range = match evaluate(headers, &meta) {
            Precondition::Failed => return empty(StatusCode::PRECONDITION_FAILED, &meta),
            Precondition::NotModified => return empty(StatusCode::NOT_MODIFIED, &meta),
            Precondition::Proceed { honour_range } => honour_range,
        };
        if let (Some(h), true) = (range_header, honour_range) {
            match resolve(h, meta.size) {
                RangeDecision::Full => {}
                RangeDecision::Partial(r) => range = Some(r),
                RangeDecision::Unsatisfiable => {
                    let mut r = text(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "requested range not satisfiable\n",
                    );
                    insert(
                        r.headers_mut(),
                        header::CONTENT_RANGE,
                        &format!("bytes */{}", meta.size),
                    );
                    return r;
                }
            }
        }
        if head_only {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = if range.is_some() {
                StatusCode::PARTIAL_CONTENT
            } else {
                StatusCode::OK
            };
            object_headers(r.headers_mut(), &meta, range);
            return r;
        }
    }
    match origin.get(&key, range).await {
        Ok(object) => {
            let mut r = Response::new(Body::from_stream(object.body));
            *r.status_mut() = if object.range.is_some() {
                StatusCode::PARTIAL_CONTENT
            } else {
                StatusCode::OK
            };
            object_headers(r.headers_mut(), &object.meta, object.range);
            r
        }
        Err(e) => origin_error(&e),
    }
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

/// 304 / 412: no body, the validators.
fn empty(status: StatusCode, meta: &ObjectMeta) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    validators(r.headers_mut(), meta);
    if let Some(cc) = &meta.cache_control {
        insert(r.headers_mut(), header::CACHE_CONTROL, cc);
    }
    r.headers_mut()
        .insert(header::VIA, HeaderValue::from_static(VIA));
    r
}

fn origin_error(e: &OriginError) -> Response<Body> {
    let (status, message) = match e {
        OriginError::NotFound => (StatusCode::NOT_FOUND, "not found\n".to_owned()),
        OriginError::Forbidden(m) => (
            StatusCode::FORBIDDEN,
            format!("the origin denied access: {m}\n"),
        ),
        OriginError::Unavailable(_) => (
            StatusCode::BAD_GATEWAY,
            "the origin failed; try again later\n".to_owned(),
        ),
        OriginError::Timeout(_) => (
            StatusCode::GATEWAY_TIMEOUT,
            "the origin did not answer in time\n".to_owned(),
        ),
    };
    let mut r = text(status, &message);
    r.headers_mut()
        .insert("x-cache", HeaderValue::from_static("Error from cfsign"));
    r
}

fn text(status: StatusCode, message: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(message.to_owned()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::VIA, HeaderValue::from_static(VIA));
    r
}

fn insert(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}
