//! CloudFront's "compress objects automatically": whether a response is
//! compressed, with which encoding, the headers that change, and the gzip and
//! Brotli encoders. Pure functions and body adaptors; no HTTP serving.
//!
//! The rules, from AWS's "Serve compressed files" page and the cache-policy page
//! (sources, quotes and the undocumented cases are in `docs/compression.md`):
//!
//! - **Viewer** ([`negotiate`]): the request's `Accept-Encoding` must name `gzip`
//!   or `br`; when it names both, Brotli wins whatever the q-values (CloudFront
//!   normalises the header to `br,gzip` and drops the weights). A coding with
//!   `q=0` is refused. `*`, `identity`, `deflate`, `zstd` and anything else never
//!   enable compression. A request over HTTP/1.0 is never compressed.
//! - **Object** ([`decide`]): the response status is 200, 403 or 404; it has no
//!   `Content-Encoding` (whatever its value); its `Content-Type` media type is on
//!   CloudFront's list ([`CONTENT_TYPES`], parameters such as `; charset=utf-8`
//!   and case ignored); and it has a valid `Content-Length` from [`MIN_BYTES`] to
//!   [`MAX_BYTES`] inclusive.
//! - **Choices where CloudFront's documentation is silent** (a careful CDN's
//!   reading): only `GET` and `HEAD` are compressed, a `HEAD` getting the same
//!   headers as the `GET` would; a request with a `Range` header gets the
//!   uncompressed range; a response with `Cache-Control: no-transform` is never
//!   compressed (RFC 9110 §7.7).
//! - **Headers** ([`response_headers`]): `Content-Encoding` is set, `Vary` gains
//!   `Accept-Encoding`, `Content-Length` and `Accept-Ranges` go, and a strong
//!   `ETag` becomes weak (`"x"` → `W/"x"`); a weak one stays, an invalid one is
//!   removed, as CloudFront documents. A viewer that revalidates with the weak tag
//!   in `If-None-Match` matches the object (weak comparison, RFC 9110 §13.1.2);
//!   its `304` gets the same `ETag` and `Vary` ([`not_modified_headers`]).
//!
//! A compressible object that a viewer gets uncompressed only because of its own
//! request (no usable `Accept-Encoding`, HTTP/1.0, a `Range`) should still carry
//! `Vary: Accept-Encoding` ([`Skip::varies`], [`add_vary`]), so that shared caches
//! downstream keep the variants apart.
//!
//! Encoders: [`compress_bytes`] compresses a whole body once for a cached variant
//! (gzip level 9; Brotli quality 11 up to 256 KiB, 6 above: well under a second
//! of one core for any body up to [`MAX_BYTES`]). It is CPU-bound: call it
//! inside `tokio::task::spawn_blocking`, not on the async executor.
//! [`compress_stream`] compresses a streamed body as it arrives (gzip level 6;
//! Brotli quality 5, about 30 MB/s per core, about as cheap as gzip 6 and 13-22 %
//! smaller), never holding more than the encoder's window, and turns an origin
//! body that breaks off or disagrees with its `Content-Length` into an error,
//! never into a shorter object that decodes cleanly.
//!
//! ```
//! use cfsign_edge::compress::{self, Encoding};
//! use http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};
//!
//! let mut request = HeaderMap::new();
//! request.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, deflate, br, zstd"));
//! let mut response = HeaderMap::new();
//! response.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
//! response.insert(header::CONTENT_LENGTH, HeaderValue::from_static("48213"));
//! response.insert(header::ETAG, HeaderValue::from_static("\"abc\""));
//!
//! let chosen = compress::decide(Version::HTTP_11, &Method::GET, &request, StatusCode::OK, &response);
//! assert_eq!(chosen, Ok(Encoding::Brotli));
//!
//! compress::response_headers(Encoding::Brotli, &mut response);
//! assert_eq!(response[header::CONTENT_ENCODING], "br");
//! assert_eq!(response[header::VARY], "Accept-Encoding");
//! assert_eq!(response[header::ETAG], "W/\"abc\"");
//! assert!(!response.contains_key(header::CONTENT_LENGTH));
//! ```

mod encode;

#[cfg(test)]
mod tests;

use std::fmt;

use http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};

#[cfg(test)]
use encode::window_bits;
pub use encode::{LengthMismatch, compress_bytes, compress_stream};

/// Smallest object CloudFront compresses, in bytes (its `Content-Length`).
///
/// ```
/// assert_eq!(cfsign_edge::compress::MIN_BYTES, 1_000);
/// ```
pub const MIN_BYTES: u64 = 1_000;

/// Largest object CloudFront compresses, in bytes (its `Content-Length`).
///
/// ```
/// assert_eq!(cfsign_edge::compress::MAX_BYTES, 10_000_000);
/// ```
pub const MAX_BYTES: u64 = 10_000_000;

/// The `Content-Type` media types CloudFront compresses ("File types that
/// CloudFront compresses", as listed in 2026), lowercase. `vnd.apple.mpegurl`
/// (no slash) is on CloudFront's list as written.
///
/// ```
/// assert!(cfsign_edge::compress::CONTENT_TYPES.contains(&"application/wasm"));
/// ```
pub const CONTENT_TYPES: &[&str] = &[
    "application/dash+xml",
    "application/eot",
    "application/font",
    "application/font-sfnt",
    "application/javascript",
    "application/json",
    "application/opentype",
    "application/otf",
    "application/pdf",
    "application/pkcs7-mime",
    "application/protobuf",
    "application/rss+xml",
    "application/truetype",
    "application/ttf",
    "application/vnd.apple.mpegurl",
    "application/vnd.mapbox-vector-tile",
    "application/vnd.ms-fontobject",
    "application/wasm",
    "application/xhtml+xml",
    "application/xml",
    "application/x-font-opentype",
    "application/x-font-truetype",
    "application/x-font-ttf",
    "application/x-httpd-cgi",
    "application/x-javascript",
    "application/x-mpegurl",
    "application/x-opentype",
    "application/x-otf",
    "application/x-perl",
    "application/x-ttf",
    "font/eot",
    "font/opentype",
    "font/otf",
    "font/ttf",
    "image/svg+xml",
    "text/css",
    "text/csv",
    "text/html",
    "text/javascript",
    "text/js",
    "text/plain",
    "text/richtext",
    "text/tab-separated-values",
    "text/xml",
    "text/x-component",
    "text/x-java-source",
    "text/x-script",
    "vnd.apple.mpegurl",
];

/// A content coding the edge compresses with.
///
/// ```
/// use cfsign_edge::compress::Encoding;
///
/// assert_eq!(Encoding::Brotli.token(), "br");
/// assert_eq!(Encoding::Gzip.to_string(), "gzip");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Brotli (RFC 7932), `br`.
    Brotli,
    /// gzip (RFC 1952), `gzip`.
    Gzip,
}

impl Encoding {
    /// The coding's token, as in `Accept-Encoding` and `Content-Encoding`.
    ///
    /// ```
    /// assert_eq!(cfsign_edge::compress::Encoding::Gzip.token(), "gzip");
    /// ```
    #[must_use]
    pub const fn token(self) -> &'static str {
        match self {
            Self::Brotli => "br",
            Self::Gzip => "gzip",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// Why a response is not compressed (the `Err` of [`decide`]), for logs and
/// metrics.
///
/// ```
/// use cfsign_edge::compress::Skip;
///
/// assert_eq!(Skip::TooSmall.to_string(), "the object is smaller than 1000 bytes");
/// assert!(Skip::NotAccepted.varies());
/// assert!(!Skip::TooSmall.varies());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Skip {
    /// The request method is neither `GET` nor `HEAD`.
    Method,
    /// The response status is not 200, 403 or 404.
    Status,
    /// The response already has a `Content-Encoding` (any value).
    AlreadyEncoded,
    /// The response has `Cache-Control: no-transform`.
    NoTransform,
    /// The response's `Content-Type` is missing or not on [`CONTENT_TYPES`].
    ContentType,
    /// The response's `Content-Length` is missing or not a valid length.
    NoContentLength,
    /// The object is smaller than [`MIN_BYTES`].
    TooSmall,
    /// The object is larger than [`MAX_BYTES`].
    TooLarge,
    /// The request uses HTTP/1.0 (or 0.9).
    Http10,
    /// The request's `Accept-Encoding` is missing or accepts neither `br` nor `gzip`.
    NotAccepted,
    /// The request asks for a byte range.
    Range,
}

impl Skip {
    /// Whether the object itself was compressible and only this viewer's request
    /// kept it uncompressed: then the uncompressed response should carry
    /// `Vary: Accept-Encoding` too ([`add_vary`]).
    ///
    /// ```
    /// use cfsign_edge::compress::Skip;
    ///
    /// assert!(Skip::Http10.varies());
    /// assert!(!Skip::ContentType.varies());
    /// ```
    #[must_use]
    pub const fn varies(self) -> bool {
        matches!(self, Self::Http10 | Self::NotAccepted | Self::Range)
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Method => "the request method is neither GET nor HEAD",
            Self::Status => "the response status is not 200, 403 or 404",
            Self::AlreadyEncoded => "the response already has a Content-Encoding",
            Self::NoTransform => "the response has Cache-Control: no-transform",
            Self::ContentType => "the Content-Type is not one CloudFront compresses",
            Self::NoContentLength => "the response has no valid Content-Length",
            Self::TooSmall => "the object is smaller than 1000 bytes",
            Self::TooLarge => "the object is larger than 10000000 bytes",
            Self::Http10 => "the request uses HTTP/1.0",
            Self::NotAccepted => "the request's Accept-Encoding accepts neither br nor gzip",
            Self::Range => "the request asks for a byte range",
        })
    }
}

/// CloudFront's choice of encoding from the request's `Accept-Encoding`
/// headers: [`Encoding::Brotli`] when `br` is accepted, else [`Encoding::Gzip`]
/// when `gzip` (or its alias `x-gzip`) is, else `None`.
///
/// Tokens and the `q` parameter name are matched case-insensitively; a coding
/// is accepted when it is listed with no weight or a weight above 0, and
/// refused when any listing of it has `q=0`. An element whose weight is not a
/// valid RFC 9110 `qvalue` is ignored. Weights do not order the choice: Brotli
/// wins whenever both are accepted, as on CloudFront. `*` and `identity` never
/// select an encoding.
///
/// ```
/// use cfsign_edge::compress::{Encoding, negotiate};
/// use http::{HeaderMap, HeaderValue, header};
///
/// let mut request = HeaderMap::new();
/// assert_eq!(negotiate(&request), None);
/// request.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=1.0, br;q=0.5"));
/// assert_eq!(negotiate(&request), Some(Encoding::Brotli));
/// request.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, br;q=0"));
/// assert_eq!(negotiate(&request), Some(Encoding::Gzip));
/// ```
#[must_use]
pub fn negotiate(request: &HeaderMap) -> Option<Encoding> {
    let mut brotli = Acceptance::Unlisted;
    let mut gzip = Acceptance::Unlisted;
    for value in request.get_all(header::ACCEPT_ENCODING) {
        // A value that is not visible ASCII is garbage: none of its elements count.
        let Ok(value) = value.to_str() else { continue };
        for element in value.split(',') {
            let Some((coding, accepted)) = parse_element(element) else {
                continue;
            };
            let slot = if coding.eq_ignore_ascii_case("br") {
                &mut brotli
            } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                &mut gzip
            } else {
                continue;
            };
            *slot = match (*slot, accepted) {
                (Acceptance::Refused, _) | (_, false) => Acceptance::Refused,
                _ => Acceptance::Accepted,
            };
        }
    }
    if brotli == Acceptance::Accepted {
        Some(Encoding::Brotli)
    } else if gzip == Acceptance::Accepted {
        Some(Encoding::Gzip)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acceptance {
    Unlisted,
    Accepted,
    Refused,
}

/// One `Accept-Encoding` list element: its coding and whether its weight is
/// above 0. `None` for an empty element or an invalid weight.
fn parse_element(element: &str) -> Option<(&str, bool)> {
    let mut parts = element.split(';');
    let coding = parts.next()?.trim();
    if coding.is_empty() {
        return None;
    }
    let mut accepted = true;
    for parameter in parts {
        let (name, value) = parameter.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            accepted = qvalue_above_zero(value.trim())?;
        }
    }
    Some((coding, accepted))
}

/// RFC 9110 §12.4.2: `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
/// `Some(weight > 0)`, or `None` when `value` is not a `qvalue`.
fn qvalue_above_zero(value: &str) -> Option<bool> {
    let (whole, fraction) = match value.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (value, ""),
    };
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match whole {
        "0" => Some(fraction.bytes().any(|b| b != b'0')),
        "1" if fraction.bytes().all(|b| b == b'0') => Some(true),
        _ => None,
    }
}

/// Whether CloudFront compresses a response with this `Content-Type`: its media
/// type (before any `;` parameters, trimmed, any case) is on [`CONTENT_TYPES`].
///
/// ```
/// use cfsign_edge::compress::is_compressible;
///
/// assert!(is_compressible(Some("text/html; charset=utf-8")));
/// assert!(is_compressible(Some("Application/JSON")));
/// assert!(!is_compressible(Some("image/png")));
/// assert!(!is_compressible(None));
/// ```
#[must_use]
pub fn is_compressible(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    CONTENT_TYPES
        .iter()
        .any(|listed| listed.eq_ignore_ascii_case(media_type))
}

/// Whether, and how, the edge compresses one response, as CloudFront would.
///
/// `version`, `method` and `request` are the viewer's request; `status` and
/// `response` the response about to be sent, before any compression (its
/// `Content-Type`, `Content-Encoding`, `Content-Length` and `Cache-Control` are
/// read). The object's own conditions are checked first, then the viewer's, so
/// that an `Err` for which [`Skip::varies`] is true means "compressible, but not
/// for this request".
///
/// On `Ok`, call [`response_headers`] and send the body through
/// [`compress_stream`] (or a variant made with [`compress_bytes`]); for a `HEAD`
/// only the headers change.
///
/// ```
/// use cfsign_edge::compress::{Skip, decide};
/// use http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};
///
/// let mut request = HeaderMap::new();
/// request.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
/// let mut response = HeaderMap::new();
/// response.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
/// response.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5000"));
/// let skip = decide(Version::HTTP_11, &Method::GET, &request, StatusCode::OK, &response);
/// assert_eq!(skip, Err(Skip::ContentType));
/// ```
///
/// # Errors
///
/// [`Skip`], the first reason the response is sent uncompressed.
pub fn decide(
    version: Version,
    method: &Method,
    request: &HeaderMap,
    status: StatusCode,
    response: &HeaderMap,
) -> Result<Encoding, Skip> {
    // The object.
    if method != Method::GET && method != Method::HEAD {
        return Err(Skip::Method);
    }
    if !matches!(
        status,
        StatusCode::OK | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
    ) {
        return Err(Skip::Status);
    }
    if response.contains_key(header::CONTENT_ENCODING) {
        return Err(Skip::AlreadyEncoded);
    }
    if has_no_transform(response) {
        return Err(Skip::NoTransform);
    }
    let content_type = response
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !is_compressible(content_type) {
        return Err(Skip::ContentType);
    }
    let length = content_length(response).ok_or(Skip::NoContentLength)?;
    if length < MIN_BYTES {
        return Err(Skip::TooSmall);
    }
    if length > MAX_BYTES {
        return Err(Skip::TooLarge);
    }
    // The viewer.
    if version < Version::HTTP_11 {
        return Err(Skip::Http10);
    }
    let encoding = negotiate(request).ok_or(Skip::NotAccepted)?;
    if request.contains_key(header::RANGE) {
        return Err(Skip::Range);
    }
    Ok(encoding)
}

/// The single `Content-Length` value, if it is one valid length (digits only).
fn content_length(response: &HeaderMap) -> Option<u64> {
    let mut values = response.get_all(header::CONTENT_LENGTH).iter();
    let value = values.next()?.to_str().ok()?;
    if values.next().is_some() || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Whether any `Cache-Control` directive is `no-transform`.
fn has_no_transform(response: &HeaderMap) -> bool {
    response
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|directive| directive.trim().eq_ignore_ascii_case("no-transform"))
}

/// Rewrites a response's headers for a body compressed with `encoding`, as
/// CloudFront does: sets `Content-Encoding`; adds `Accept-Encoding` to `Vary`
/// ([`add_vary`]); removes `Content-Length` (the compressed length is only known
/// at the end: a streamed body goes out chunked, a [`compress_bytes`] variant
/// gets its own length from the server) and `Accept-Ranges` (ranges of the
/// compressed bytes are not offered); and converts the `ETag`: a strong one
/// (`"…"`) gets `W/` in front, a weak one (`W/…`) stays, any other value is
/// removed.
///
/// ```
/// use cfsign_edge::compress::{Encoding, response_headers};
/// use http::{HeaderMap, HeaderValue, header};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5000"));
/// headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
/// headers.insert(header::ETAG, HeaderValue::from_static("W/\"v1\""));
/// headers.insert(header::VARY, HeaderValue::from_static("Origin"));
/// response_headers(Encoding::Gzip, &mut headers);
/// assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
/// assert_eq!(headers[header::ETAG], "W/\"v1\"");
/// let vary: Vec<_> = headers.get_all(header::VARY).iter().collect();
/// assert_eq!(vary, ["Origin", "Accept-Encoding"]);
/// assert!(!headers.contains_key(header::CONTENT_LENGTH));
/// assert!(!headers.contains_key(header::ACCEPT_RANGES));
/// ```
pub fn response_headers(encoding: Encoding, headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(encoding.token()),
    );
    add_vary(headers);
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::ACCEPT_RANGES);
    convert_etag(headers);
}

/// Rewrites the headers of a `304 Not Modified` answering a request whose `200`
/// would have been compressed (an `Ok` from [`decide`] called with
/// `StatusCode::OK` and the object's headers): the `ETag` and `Vary` become
/// those the `200` would carry (RFC 9110 §15.4.5), nothing else changes, so a
/// viewer revalidating with `W/"x"` keeps the tag it has.
///
/// ```
/// use cfsign_edge::compress::not_modified_headers;
/// use http::{HeaderMap, HeaderValue, header};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(header::ETAG, HeaderValue::from_static("\"v1\""));
/// not_modified_headers(&mut headers);
/// assert_eq!(headers[header::ETAG], "W/\"v1\"");
/// assert_eq!(headers[header::VARY], "Accept-Encoding");
/// assert!(!headers.contains_key(header::CONTENT_ENCODING));
/// ```
pub fn not_modified_headers(headers: &mut HeaderMap) {
    add_vary(headers);
    convert_etag(headers);
}

/// CloudFront's `ETag` conversion for a representation the edge changed (compressed, or a
/// manifest rewritten by [`manifests`](crate::manifests)): a strong tag
/// (`"…"`) gets `W/` in front, a weak one stays, any other value is removed.
pub(crate) fn convert_etag(headers: &mut HeaderMap) {
    let etag = headers
        .get(header::ETAG)
        .map(|v| v.to_str().ok().and_then(compressed_etag));
    match etag {
        Some(Some(etag)) => {
            headers.insert(header::ETAG, etag);
        }
        Some(None) => {
            headers.remove(header::ETAG);
        }
        None => {}
    }
}

/// The `ETag` of the compressed representation, from the origin's: `None`
/// when CloudFront would remove it.
fn compressed_etag(etag: &str) -> Option<HeaderValue> {
    if etag.starts_with("W/") {
        HeaderValue::from_str(etag).ok()
    } else if etag.len() >= 2 && etag.starts_with('"') && etag.ends_with('"') {
        HeaderValue::from_str(&format!("W/{etag}")).ok()
    } else {
        None
    }
}

/// Adds `Accept-Encoding` to the response's `Vary`, unless it is already
/// there (any case) or `Vary` is `*`.
///
/// ```
/// use cfsign_edge::compress::add_vary;
/// use http::{HeaderMap, HeaderValue, header};
///
/// let mut headers = HeaderMap::new();
/// add_vary(&mut headers);
/// add_vary(&mut headers);
/// assert_eq!(headers.get_all(header::VARY).iter().count(), 1);
/// assert_eq!(headers[header::VARY], "Accept-Encoding");
/// ```
pub fn add_vary(headers: &mut HeaderMap) {
    let covered = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|name| name == "*" || name.eq_ignore_ascii_case("accept-encoding"));
    if !covered {
        headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}
