//! A custom origin: an HTTP server (an application, another cache), as CloudFront's
//! custom origins.
//!
//! The object key is appended to the base URL, each segment percent-encoded
//! (everything but RFC 3986 unreserved characters), so the server sees exactly
//! the key the viewer asked for. `HEAD` gives the metadata; `GET` streams the
//! body, with a `Range` header for ranges. A server that ignores `Range` and
//! answers 200 is handled: the requested bytes are cut from its body while it
//! streams. Plain `http://` only (the origin is usually on a private network or
//! loopback); 404 and 410 are "not found", 401/403 "forbidden", anything else
//! unexpected is an origin error (502), no answer in time a timeout (504).
//!
//! [`Origin::get_if_modified`] sends a real conditional `GET`: `If-None-Match`
//! with the cached `ETag` and `If-Modified-Since` with the cached
//! `Last-Modified` (IMF-fixdate), both when both are known. A `304 Not Modified`
//! is [`Revalidation::NotModified`], its `ETag`, `Last-Modified`,
//! `Cache-Control` and `Expires` replacing the cached ones (RFC 9111 §4.3.4); a
//! `200` is the whole new object. A 304 to a request that had no validators is
//! an origin error.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use http::{HeaderMap, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyStream, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{
    BodyStream as OriginBody, BoxFuture, ByteRange, GetResponse, HeadResponse, ObjectKey,
    ObjectMeta, Origin, OriginError, Revalidation,
};

/// Why an HTTP origin cannot be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP origin {url:?}: {reason}")]
pub struct HttpOriginError {
    url: String,
    reason: &'static str,
}

/// Objects from an HTTP server under a base URL.
#[derive(Debug, Clone)]
pub struct HttpOrigin {
    base: String,
    client: Client<HttpConnector, Empty<Bytes>>,
    timeout: Duration,
}

impl HttpOrigin {
    /// Objects under `base` (e.g. `http://127.0.0.1:3000/assets`); requests time out
    /// after `timeout` without the response head.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cfsign_edge::origin::HttpOrigin;
    ///
    /// let origin = HttpOrigin::new("http://127.0.0.1:3000/assets", Duration::from_secs(10))?;
    /// assert!(HttpOrigin::new("https://example.com", Duration::from_secs(10)).is_err());
    /// # Ok::<(), cfsign_edge::origin::HttpOriginError>(())
    /// ```
    pub fn new(base: &str, timeout: Duration) -> Result<Self, HttpOriginError> {
        let bad = |reason| HttpOriginError {
            url: base.to_owned(),
            reason,
        };
        let uri: Uri = base.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad(
                "only http:// origins are supported (put TLS termination elsewhere)",
            ));
        }
        if uri.authority().is_none() {
            return Err(bad("the URL has no host"));
        }
        if uri.query().is_some() {
            return Err(bad("the base URL may not have a query"));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            client,
            timeout,
        })
    }

    fn url(&self, key: &ObjectKey) -> String {
        let mut url = self.base.clone();
        for segment in key.as_str().split('/') {
            url.push('/');
            for b in segment.bytes() {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    url.push(b as char);
                } else {
                    url.push_str(&format!("%{b:02X}"));
                }
            }
        }
        url
    }

    async fn send(
        &self,
        method: Method,
        key: &ObjectKey,
        range: Option<ByteRange>,
    ) -> Result<http::Response<hyper::body::Incoming>, OriginError> {
        self.send_with(method, key, range, None).await
    }

    /// A request, conditional on the validators of `cached` if given (then a
    /// `304` is an answer, not an error).
    async fn send_with(
        &self,
        method: Method,
        key: &ObjectKey,
        range: Option<ByteRange>,
        cached: Option<&ObjectMeta>,
    ) -> Result<http::Response<hyper::body::Incoming>, OriginError> {
        let mut request = Request::builder().method(method).uri(self.url(key));
        if let Some(r) = range {
            request = request.header(header::RANGE, format!("bytes={}-{}", r.start, r.end));
        }
        if let Some(cached) = cached {
            if let Some(etag) = &cached.etag {
                request = request.header(header::IF_NONE_MATCH, etag.as_str());
            }
            if let Some(modified) = cached.last_modified {
                request =
                    request.header(header::IF_MODIFIED_SINCE, httpdate::fmt_http_date(modified));
            }
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| OriginError::Unavailable(e.to_string()))?;
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            Err(_) => Err(OriginError::Timeout(format!(
                "no response head within {:?}",
                self.timeout
            ))),
            Ok(Err(e)) => Err(OriginError::Unavailable(e.to_string())),
            Ok(Ok(response)) => match response.status() {
                s if s.is_success() => Ok(response),
                StatusCode::NOT_MODIFIED if cached.is_some_and(ObjectMeta::has_validators) => {
                    Ok(response)
                }
                StatusCode::NOT_FOUND | StatusCode::GONE => Err(OriginError::NotFound),
                StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => Err(OriginError::Forbidden(
                    format!("HTTP {}", response.status()),
                )),
                s => Err(OriginError::Unavailable(format!("HTTP {s}"))),
            },
        }
    }
}

fn text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Metadata from a response's headers; `size` is the whole object's size.
fn meta(headers: &HeaderMap, size: u64) -> ObjectMeta {
    ObjectMeta {
        size,
        // Weak validators cannot serve If-Range or If-Match: keep strong ones only.
        etag: text(headers, header::ETAG).filter(|e| e.starts_with('"')),
        last_modified: text(headers, header::LAST_MODIFIED)
            .and_then(|d| httpdate::parse_http_date(&d).ok()),
        content_type: text(headers, header::CONTENT_TYPE),
        cache_control: text(headers, header::CACHE_CONTROL),
        expires: text(headers, header::EXPIRES),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    text(headers, header::CONTENT_LENGTH).and_then(|v| v.parse().ok())
}

/// `bytes START-END/SIZE` → (range, size).
fn content_range(headers: &HeaderMap) -> Option<(ByteRange, u64)> {
    let value = text(headers, header::CONTENT_RANGE)?;
    let rest = value.strip_prefix("bytes ")?;
    let (span, size) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let range = ByteRange {
        start: start.parse().ok()?,
        end: end.parse().ok()?,
    };
    let size: u64 = size.parse().ok()?;
    (range.start <= range.end && range.end < size).then_some((range, size))
}

fn body(response: http::Response<hyper::body::Incoming>) -> OriginBody {
    BodyStream::new(response.into_body())
        .filter_map(|frame| async move {
            match frame {
                Ok(f) => f.into_data().ok().map(Ok),
                Err(e) => Some(Err(std::io::Error::other(e))),
            }
        })
        .boxed()
}

/// Keeps bytes `start..=end` of a stream (for servers that ignore `Range`).
fn slice(stream: OriginBody, range: ByteRange) -> OriginBody {
    let mut skip = range.start;
    let mut left = range.len();
    stream
        .take_while(move |_| std::future::ready(left > 0 || skip > 0))
        .filter_map(move |chunk| {
            let out = match chunk {
                Err(e) => Some(Err(e)),
                Ok(mut bytes) => {
                    let n = bytes.len() as u64;
                    if skip >= n {
                        skip -= n;
                        None
                    } else {
                        let from = skip as usize;
                        skip = 0;
                        bytes = bytes.slice(from..);
                        let keep = (bytes.len() as u64).min(left) as usize;
                        left -= keep as u64;
                        (keep > 0).then(|| Ok(bytes.slice(..keep)))
                    }
                }
            };
            std::future::ready(out)
        })
        .boxed()
}

impl Origin for HttpOrigin {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn cache_identity(&self) -> String {
        format!("http:{}", self.base)
    }

    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<HeadResponse, OriginError>> {
        Box::pin(async move {
            let response = self.send(Method::HEAD, key, None).await?;
            let size = content_length(response.headers()).ok_or_else(|| {
                OriginError::Unavailable("the origin sent no Content-Length".to_owned())
            })?;
            Ok(meta(response.headers(), size).into())
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<GetResponse, OriginError>> {
        Box::pin(async move {
            let response = self.send(Method::GET, key, range).await?;
            let headers = response.headers().clone();
            if response.status() == StatusCode::PARTIAL_CONTENT {
                let (served, size) = content_range(&headers).ok_or_else(|| {
                    OriginError::Unavailable("206 without a valid Content-Range".to_owned())
                })?;
                // The server clamps an end past the object; anything else is not what was asked.
                let expected = range.map(|r| ByteRange {
                    start: r.start,
                    end: r.end.min(size.saturating_sub(1)),
                });
                if Some(served) != expected {
                    return Err(OriginError::Unavailable(format!(
                        "asked for {range:?}, the origin sent {served:?}"
                    )));
                }
                return Ok(GetResponse {
                    meta: meta(&headers, size),
                    range: Some(served),
                    body: body(response),
                    cached: None,
                });
            }
            let size = content_length(&headers).ok_or_else(|| {
                OriginError::Unavailable("the origin sent no Content-Length".to_owned())
            })?;
            let object = meta(&headers, size);
            match range {
                // The server ignored Range: cut the bytes out of the full body.
                Some(r) if r.start < size => {
                    let r = ByteRange {
                        start: r.start,
                        end: r.end.min(size - 1),
                    };
                    Ok(GetResponse {
                        meta: object,
                        range: Some(r),
                        body: slice(body(response), r),
                        cached: None,
                    })
                }
                Some(_) => Err(OriginError::NotFound),
                None => Ok(GetResponse {
                    meta: object,
                    range: None,
                    body: body(response),
                    cached: None,
                }),
            }
        })
    }

    fn get_if_modified<'a>(
        &'a self,
        key: &'a ObjectKey,
        cached: &'a ObjectMeta,
    ) -> BoxFuture<'a, Result<Revalidation, OriginError>> {
        Box::pin(async move {
            let response = self.send_with(Method::GET, key, None, Some(cached)).await?;
            let headers = response.headers();
            if response.status() == StatusCode::NOT_MODIFIED {
                // Whatever the 304 says about its size is not the object's.
                return Ok(Revalidation::NotModified(
                    cached.refreshed_by(meta(headers, cached.size)),
                ));
            }
            if response.status() != StatusCode::OK {
                return Err(OriginError::Unavailable(format!(
                    "HTTP {} to a GET without a range",
                    response.status()
                )));
            }
            let size = content_length(headers).ok_or_else(|| {
                OriginError::Unavailable("the origin sent no Content-Length".to_owned())
            })?;
            let object = meta(headers, size);
            Ok(Revalidation::Modified(GetResponse {
                meta: object,
                range: None,
                body: body(response),
                cached: None,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_per_segment() {
        let o = HttpOrigin::new("http://127.0.0.1:1/base/", Duration::from_secs(1)).unwrap();
        let key = ObjectKey::from_request_path("/dir/a%20b%3Fc%23d%2Be%25.txt").unwrap();
        assert_eq!(
            o.url(&key),
            "http://127.0.0.1:1/base/dir/a%20b%3Fc%23d%2Be%25.txt"
        );
        let key = ObjectKey::from_request_path("/%C3%A9").unwrap();
        assert_eq!(o.url(&key), "http://127.0.0.1:1/base/%C3%A9");
    }

    #[test]
    fn bad_bases() {
        for base in [
            "https://x",
            "ftp://x",
            "http://",
            "http://x/a?b=1",
            "not a url",
        ] {
            assert!(
                HttpOrigin::new(base, Duration::from_secs(1)).is_err(),
                "{base}"
            );
        }
    }

    #[tokio::test]
    async fn slicing_a_full_body() {
        let chunks: Vec<std::io::Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"0123")),
            Ok(Bytes::from_static(b"4567")),
            Ok(Bytes::from_static(b"89")),
        ];
        for (start, end, want) in [
            (0, 0, "0"),
            (3, 5, "345"),
            (4, 7, "4567"),
            (8, 9, "89"),
            (0, 9, "0123456789"),
        ] {
            let stream: OriginBody = futures_util::stream::iter(
                chunks
                    .iter()
                    .map(|c| Ok(c.as_ref().unwrap().clone()))
                    .collect::<Vec<std::io::Result<Bytes>>>(),
            )
            .boxed();
            let out: Vec<u8> = slice(stream, ByteRange { start, end })
                .map(|c| c.unwrap().to_vec())
                .concat()
                .await;
            assert_eq!(String::from_utf8(out).unwrap(), want, "{start}-{end}");
        }
    }
}
