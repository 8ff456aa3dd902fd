//! HTTP for tests, over plain sockets on 127.0.0.1: one client for whole
//! requests ([`fetch`], [`get`]: status, headers, the body and how many chunks
//! it came in), and raw exchanges for what a client library would not send
//! ([`raw`], [`exchange`]: bytes as written, the answer as read off the wire).
//!
//! (HTTPS: [`crate::tls`]. The edge library's own `cfsign_edge::fetch` is the
//! bounded client `cfsign quickstart` ships with; tests use this one, which also
//! counts body chunks, so that they can tell a streamed body from a buffered one.)
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use cfsign_testkit::edge::EdgeBuilder;
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("a.txt"), "a").unwrap();
//! let edge = EdgeBuilder::new().directory(dir.path()).start().await;
//! let reply = cfsign_testkit::http::get(&edge.url("/a.txt"), &[]).await;
//! assert_eq!((reply.status.as_u16(), reply.text().as_str()), (200, "a"));
//! edge.stop().await;
//! # }
//! ```

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Bound on one whole request (connect, request, response and body) of [`fetch`].
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A response, fully read.
///
/// ```
/// use cfsign_testkit::http::Reply;
///
/// let reply = Reply {
///     status: http::StatusCode::OK,
///     headers: http::HeaderMap::new(),
///     body: bytes::Bytes::from_static(b"hello"),
///     chunks: 1,
/// };
/// assert_eq!(reply.text(), "hello");
/// ```
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body (no size limit: tests read objects of many megabytes).
    pub body: Bytes,
    /// How many data frames the body came in: more than one for a streamed body
    /// larger than a frame.
    pub chunks: usize,
}

impl Reply {
    /// The body as text (invalid UTF-8 replaced).
    ///
    /// ```
    /// # let reply = cfsign_testkit::http::Reply { status: http::StatusCode::OK,
    /// #     headers: http::HeaderMap::new(), body: bytes::Bytes::from_static(b"ok\xff"), chunks: 1 };
    /// assert_eq!(reply.text(), "ok\u{fffd}");
    /// ```
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header as text, if present and visible ASCII.
    ///
    /// ```
    /// # let mut headers = http::HeaderMap::new();
    /// # headers.insert("x-cache", "Hit from cfsign".parse().unwrap());
    /// # let reply = cfsign_testkit::http::Reply { status: http::StatusCode::OK,
    /// #     headers, body: bytes::Bytes::new(), chunks: 0 };
    /// assert_eq!(reply.header("x-cache"), Some("Hit from cfsign"));
    /// assert_eq!(reply.header("age"), None);
    /// ```
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Why a request of [`try_fetch`] failed. The URL is named without its query,
/// which may carry a signature.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cfsign_testkit::http::{HttpError, try_fetch};
///
/// let err = try_fetch(http::Method::GET, "no scheme", &[]).await.unwrap_err();
/// assert!(matches!(err, HttpError::Request { .. }), "{err}");
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The method, URL or a header cannot make a request.
    #[error(
        "{method} {url}: not a valid request (give an absolute http:// URL and valid header names and values): {source}"
    )]
    Request {
        /// The method.
        method: Method,
        /// The URL, without its query.
        url: String,
        /// What the request builder refused.
        #[source]
        source: http::Error,
    },
    /// The connection or the exchange failed before a response head.
    #[error("{method} {url}: no response (is the server listening?): {source}")]
    Transport {
        /// The method.
        method: Method,
        /// The URL, without its query.
        url: String,
        /// hyper's error.
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// The response body broke off.
    #[error("{method} {url}: the response body broke off: {source}")]
    Body {
        /// The method.
        method: Method,
        /// The URL, without its query.
        url: String,
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
    /// No whole answer within [`TIMEOUT`].
    #[error("{method} {url}: no complete answer within {timeout:?}")]
    Timeout {
        /// The method.
        method: Method,
        /// The URL, without its query.
        url: String,
        /// The bound that passed.
        timeout: Duration,
    },
}

/// `method url` with `headers` over a new connection, the whole exchange within [`TIMEOUT`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let url = format!("http://{}/a.txt", closed.local_addr().unwrap());
/// drop(closed);
/// let err = cfsign_testkit::http::try_fetch(http::Method::HEAD, &url, &[]).await.unwrap_err();
/// assert!(err.to_string().contains("is the server listening?"), "{err}");
/// # }
/// ```
///
/// # Errors
///
/// [`HttpError`]: an invalid request, no response, a broken body, or the timeout.
pub async fn try_fetch(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<Reply, HttpError> {
    let shown = url.split('?').next().unwrap_or_default().to_owned();
    let mut request = Request::builder().method(method.clone()).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|source| HttpError::Request {
            method: method.clone(),
            url: shown.clone(),
            source,
        })?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|source| HttpError::Transport {
                method: method.clone(),
                url: shown.clone(),
                source,
            })?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        let mut chunks = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|source| HttpError::Body {
                method: method.clone(),
                url: shown.clone(),
                source,
            })?;
            if let Ok(data) = frame.into_data() {
                chunks += 1;
                bytes.extend_from_slice(&data);
            }
        }
        Ok(Reply {
            status,
            headers,
            body: Bytes::from(bytes),
            chunks,
        })
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| HttpError::Timeout {
            method: method.clone(),
            url: shown.clone(),
            timeout: TIMEOUT,
        })?
}

/// [`try_fetch`], a failure being the test's failure.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("a.txt"), "a").unwrap();
/// # let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).start().await;
/// let head = cfsign_testkit::http::fetch(http::Method::HEAD, &edge.url("/a.txt"), &[]).await;
/// assert_eq!((head.status.as_u16(), head.header("content-length")), (200, Some("1")));
/// assert!(head.body.is_empty());
/// # }
/// ```
///
/// # Panics
///
/// With the [`HttpError`], if the request fails.
pub async fn fetch(method: Method, url: &str, headers: &[(&str, &str)]) -> Reply {
    try_fetch(method, url, headers)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `GET url` with `headers`: [`fetch`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let dir = tempfile::tempdir().unwrap();
/// # let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).start().await;
/// let missing = cfsign_testkit::http::get(&edge.url("/none.txt"), &[("accept", "*/*")]).await;
/// assert_eq!(missing.status, http::StatusCode::NOT_FOUND);
/// # }
/// ```
///
/// # Panics
///
/// If the request fails.
pub async fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    fetch(Method::GET, url, headers).await
}

/// [`get`] from synchronous code (a current-thread runtime of its own), e.g. a
/// test of a server running in a child process.
///
/// ```
/// # let runtime = tokio::runtime::Runtime::new().unwrap();
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("a.txt"), "a").unwrap();
/// # let edge = runtime.block_on(cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).start());
/// let reply = cfsign_testkit::http::get_blocking(&edge.url("/a.txt"), &[]);
/// assert_eq!(reply.text(), "a");
/// # runtime.block_on(edge.stop());
/// ```
///
/// # Panics
///
/// If the request fails, or if called from inside an asynchronous runtime.
#[must_use]
pub fn get_blocking(url: &str, headers: &[(&str, &str)]) -> Reply {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread Tokio runtime")
        .block_on(get(url, headers))
}

/// The path and query of an absolute URL (what a request line carries).
///
/// ```
/// let url = "https://localhost:8443/a.txt?Expires=1&Signature=x";
/// assert_eq!(cfsign_testkit::http::path_of(url), "/a.txt?Expires=1&Signature=x");
/// ```
///
/// # Panics
///
/// If `url` has no `://` or no path.
#[must_use]
pub fn path_of(url: &str) -> &str {
    let after = &url[url.find("://").expect("an absolute URL") + 3..];
    &after[after.find('/').expect("a URL with a path")..]
}

/// A raw TCP exchange with `addr` (`host:port`): writes `request` as is,
/// returns what the server sent before closing, or before `wait` elapsed.
/// A write the server refuses half-way is not an error: what it answered is returned.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("a.txt"), "a").unwrap();
/// # let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).start().await;
/// let request = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
/// let answer = cfsign_testkit::http::raw(&edge.addr().to_string(), request, std::time::Duration::from_secs(5)).await;
/// assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
/// # }
/// ```
///
/// # Panics
///
/// If nothing accepts the connection.
pub async fn raw(addr: &str, request: &[u8], wait: Duration) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    let _ = stream.write_all(request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut out)).await;
    out
}

/// Sends `request` as is (it should say `Connection: close`) and parses the
/// answer, waiting at most 5 s for the server to close.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let dir = tempfile::tempdir().unwrap();
/// # let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).start().await;
/// let reply = cfsign_testkit::http::exchange(
///     &edge.addr().to_string(),
///     "GET /none.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
/// )
/// .await;
/// reply.assert_xml(404, "NoSuchKey", "The specified key does not exist.");
/// # }
/// ```
///
/// # Panics
///
/// If nothing accepts the connection or the answer has no response head.
pub async fn exchange(addr: &str, request: &str) -> RawReply {
    RawReply::parse(&raw(addr, request.as_bytes(), Duration::from_secs(5)).await)
}

/// A response read off the wire.
///
/// ```
/// use cfsign_testkit::http::RawReply;
///
/// let reply = RawReply::parse(b"HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\n\r\n");
/// assert_eq!((reply.status, reply.header("etag"), reply.body.as_str()), (304, Some("\"a\""), ""));
/// ```
#[derive(Debug, Clone)]
pub struct RawReply {
    /// The status code.
    pub status: u16,
    /// The header lines, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body as sent (not de-chunked), as text.
    pub body: String,
}

impl RawReply {
    /// Parses a response: status line, headers, body.
    ///
    /// ```
    /// let reply = cfsign_testkit::http::RawReply::parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    /// assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
    /// ```
    ///
    /// # Panics
    ///
    /// If `bytes` has no complete response head.
    #[must_use]
    pub fn parse(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no response head in {text:?}"));
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {status_line:?}"));
        let headers = lines
            .map(|l| {
                let (n, v) = l
                    .split_once(':')
                    .unwrap_or_else(|| panic!("not a header line: {l:?}"));
                (n.to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        Self {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    /// The first header `name` (lower case), if any.
    ///
    /// ```
    /// let reply = cfsign_testkit::http::RawReply::parse(b"HTTP/1.1 200 OK\r\nAllow: GET, HEAD\r\n\r\n");
    /// assert_eq!(reply.header("allow"), Some("GET, HEAD"));
    /// ```
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts CloudFront's XML error form with this status, code and message.
    ///
    /// ```
    /// let body = cfsign_testkit::http::cloudfront_error("AccessDenied", "Access Denied");
    /// let wire = format!("HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\n\r\n{body}");
    /// cfsign_testkit::http::RawReply::parse(wire.as_bytes()).assert_xml(403, "AccessDenied", "Access Denied");
    /// ```
    ///
    /// # Panics
    ///
    /// If the status, the `Content-Type` or the body differ.
    #[track_caller]
    pub fn assert_xml(&self, status: u16, code: &str, message: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.header("content-type"), Some("text/xml"), "{self:?}");
        assert_eq!(self.body, cloudfront_error(code, message));
    }
}

/// The body of a CloudFront error answer (and of S3's, which CloudFront passes on).
///
/// ```
/// assert!(cfsign_testkit::http::cloudfront_error("MissingKey", "m").ends_with("<Code>MissingKey</Code><Message>m</Message></Error>"));
/// ```
#[must_use]
pub fn cloudfront_error(code: &str, message: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"#
    )
}
