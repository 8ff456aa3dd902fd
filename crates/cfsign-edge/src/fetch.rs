//! A small bounded HTTP/1.1 client (for `cfsign quickstart` and diagnostics; tests use `cfsign_testkit::http`).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Bodies larger than this are refused.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body (at most [`MAX_BODY_BYTES`]).
    pub body: Bytes,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Not a valid `http://` URL or header.
    #[error("bad request: {0}")]
    Request(String),
    /// Connection or protocol failure.
    #[error("request failed: {0}")]
    Transport(String),
    /// No complete answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The body is too large.
    #[error("the response body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
}

/// `method url` with `headers`, the whole exchange bounded by `timeout`.
pub async fn fetch(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Fetched, FetchError> {
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| FetchError::Request(e.to_string()))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FetchError::TooLarge
                } else {
                    FetchError::Transport(e.to_string())
                }
            })?
            .to_bytes();
        Ok(Fetched {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| FetchError::Timeout(timeout))?
}
