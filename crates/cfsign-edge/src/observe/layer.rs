//! The layer around the whole edge: request ids, metrics and the access log,
//! with the response body counted as it streams.

use crate::manifests::ManifestSigning;
use crate::tls::TlsSession;
use std::hash::BuildHasher as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use cfsign::verify::Denial;
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Request, Response, Version, header};
use hyper::body::{Frame, SizeHint};
use jiff::Timestamp;
use tower::{Layer, Service};

use super::log::{Logged, Record, RequestId, ResultType, cookie_names};
use super::{AccessLog, Metrics};
use crate::outcome::{BehaviorLabel, CacheStatus};

/// The response header carrying the request id (CloudFront's name), also logged
/// as `x-edge-request-id`.
pub const REQUEST_ID_HEADER: &str = "x-amz-cf-id";

/// Observes every request of the service it wraps: counts it in [`Metrics`],
/// writes one [`AccessLog`] line when its response body has been sent (or the
/// viewer went away), and tags the response with an `X-Amz-Cf-Id` request id.
///
/// Put it around the whole edge router (`EdgeHandle::router()`) so that it sees
/// denials too; any axum router works:
///
/// ```
/// use axum::{Router, routing::get};
/// use cfsign_edge::observe::{AccessLog, AccessLogFormat, Metrics, ObserveLayer};
///
/// let metrics = Metrics::new();
/// let log = AccessLog::stderr(AccessLogFormat::Text)?;
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(ObserveLayer::new(metrics.clone(), Some(log)));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    metrics: Metrics,
    log: Option<AccessLog>,
    ids: RequestIds,
    /// The `behavior` label of a request no behavior answered: `-`.
    no_behavior: Arc<str>,
}

impl ObserveLayer {
    /// Counts into `metrics`; writes lines to `log` when there is one.
    #[must_use]
    pub fn new(metrics: Metrics, log: Option<AccessLog>) -> Self {
        Self {
            shared: Arc::new(Shared {
                metrics,
                log,
                ids: RequestIds::new(),
                no_behavior: Arc::from("-"),
            }),
        }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service made by [`ObserveLayer`].
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// Unique request ids: a random per-process prefix and a counter.
#[derive(Debug)]
struct RequestIds {
    prefix: u64,
    next: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        // std's RandomState is keyed from the OS's random source.
        let prefix = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
        Self {
            prefix,
            next: AtomicU64::new(0),
        }
    }

    fn next(&self) -> RequestId {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        RequestId::new(self.prefix, n)
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Logged {
    headers
        .get(name)
        .map(|v| Logged::new(v.as_bytes()))
        .unwrap_or_default()
}

/// A `Referer` without its fragment (browsers never send one; anything after
/// `#` is not logged).
fn referer(headers: &HeaderMap) -> Logged {
    headers
        .get(header::REFERER)
        .map(|v| {
            let url = v.as_bytes();
            Logged::new(url.split(|&b| b == b'#').next().unwrap_or(url))
        })
        .unwrap_or_default()
}

/// Reconstructed size of the request head (and declared body): CloudFront's `cs-bytes`.
fn request_bytes<B>(request: &Request<B>) -> u64 {
    let line = request.method().as_str().len()
        + request
            .uri()
            .path_and_query()
            .map_or(1, |pq| pq.as_str().len())
        + " HTTP/1.1\r\n".len()
        + 1;
    let headers: usize = request
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    let body = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or(0);
    (line + headers + 2) as u64 + body
}

fn version(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// What is known of a request when it arrives. The client's own values are
/// redacted for the access log only when there is one (`logged`): redaction
/// is work on every request that nothing else needs.
fn capture<B>(request: &Request<B>, request_id: RequestId, logged: bool) -> Record {
    let headers = request.headers();
    if !logged {
        // The time is only written to the log: not read when there is none.
        return Record {
            protocol_version: version(request.version()),
            ..Record::unanswered(request_id, Timestamp::UNIX_EPOCH)
        };
    }
    Record {
        client: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0),
        method: Logged::new(request.method().as_str().as_bytes()),
        // HTTP/2 names the host in the `:authority` pseudo-header (the URI).
        host: match (headers.get(header::HOST), request.uri().authority()) {
            (None, Some(authority)) => Logged::new(authority.as_str().as_bytes()),
            _ => header_text(headers, header::HOST),
        },
        path: Logged::new(request.uri().path().as_bytes()),
        query: request
            .uri()
            .query()
            .map(|q| Logged::new(q.as_bytes()))
            .unwrap_or_default(),
        referer: referer(headers),
        user_agent: header_text(headers, header::USER_AGENT),
        cookies: cookie_names(headers),
        forwarded_for: header_text(headers, header::HeaderName::from_static("x-forwarded-for")),
        protocol_version: version(request.version()),
        tls: request.extensions().get::<TlsSession>().copied(),
        request_bytes: request_bytes(request),
        ..Record::unanswered(request_id, Timestamp::now())
    }
}

/// `Content-Range: bytes a-b/n` → `(a, b)`.
fn content_range(headers: &HeaderMap) -> Option<(u64, u64)> {
    let v = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let (a, b) = v
        .strip_prefix("bytes ")?
        .split('/')
        .next()?
        .split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// A request on its way to completion: counted and logged exactly once, when
/// its body is done, or when it is dropped before that.
struct InFlight {
    shared: Arc<Shared>,
    record: Record,
    started: Instant,
    behavior: Arc<str>,
    code: &'static str,
}

impl InFlight {
    fn finish(mut self, sent: u64, complete: bool, failed: bool) {
        self.record.sent = sent;
        self.record.taken = self.started.elapsed();
        if failed {
            self.record.detailed = "OriginCommError";
        } else if !complete {
            self.record.detailed = "ClientCommError";
        }
        self.record.aborted = failed || !complete;
        let metrics = &self.shared.metrics;
        metrics.request(
            self.record.status,
            self.code,
            self.behavior,
            self.record.result.label(),
            self.record.taken,
        );
        if let Some(log) = &self.shared.log
            && !log.write(&self.record)
        {
            metrics.log_dropped();
        }
    }
}

/// Logs the request as unanswered (`000`) if its response future is dropped.
struct Pending(Option<InFlight>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(flight) = self.0.take() {
            flight.finish(0, false, false);
        }
    }
}

impl<S, B> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response<Body>> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let started = Instant::now();
        let id = self.shared.ids.next();
        let record = capture(&request, id, self.shared.log.is_some());
        let mut pending = Pending(Some(InFlight {
            shared: Arc::clone(&self.shared),
            record,
            started,
            behavior: Arc::clone(&self.shared.no_behavior),
            code: "-",
        }));
        // `poll_ready` was the inner service's, and the future owns what it needs.
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            let Some(flight) = pending.0.take() else {
                return Ok(response);
            };
            Ok(respond(flight, response))
        })
    }
}

fn respond(mut flight: InFlight, response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let status = parts.status.as_u16();
    let headers = &parts.headers;
    let record = &mut flight.record;
    record.status = status;
    record.result = ResultType::of(parts.extensions.get::<CacheStatus>().copied(), status);
    if flight.shared.log.is_some() {
        record.content_type = header_text(headers, header::CONTENT_TYPE);
    }
    record.content_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .or_else(|| hyper::body::Body::size_hint(&body).exact());
    record.range = content_range(headers);
    if flight.shared.log.is_some() {
        record.first_byte = Some(flight.started.elapsed());
    }
    flight.code = parts
        .extensions
        .get::<Denial>()
        .map_or("-", |d| d.code().as_str());
    record.detailed = if flight.code == "-" {
        record.result.as_str()
    } else {
        flight.code
    };
    record.manifest = parts.extensions.get::<ManifestSigning>().copied();
    if let Some(label) = parts.extensions.get::<BehaviorLabel>() {
        flight.behavior = label.shared();
    }
    if let Ok(id) = HeaderValue::from_bytes(record.request_id.as_str().as_bytes()) {
        parts.headers.insert(REQUEST_ID_HEADER, id);
    }
    let declared = record.content_length;
    let body = Body::new(ObservedBody {
        inner: body,
        flight: Some(flight),
        sent: 0,
        declared,
        ended: false,
        failed: false,
    });
    Response::from_parts(parts, body)
}

/// The response body, counted as it streams; finishes its request at the end
/// of the stream or when dropped (a viewer that went away).
struct ObservedBody {
    inner: Body,
    flight: Option<InFlight>,
    sent: u64,
    declared: Option<u64>,
    ended: bool,
    failed: bool,
}

impl ObservedBody {
    fn finish(&mut self) {
        if let Some(flight) = self.flight.take() {
            let complete = !self.failed
                && (self.ended
                    || hyper::body::Body::is_end_stream(&self.inner)
                    || self.declared.is_some_and(|n| self.sent >= n));
            flight.finish(self.sent, complete, self.failed);
        }
    }
}

impl hyper::body::Body for ObservedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    this.sent += n;
                    if let Some(flight) = &this.flight {
                        flight.shared.metrics.response_bytes(n);
                    }
                }
            }
            Poll::Ready(Some(Err(_))) => this.failed = true,
            Poll::Ready(None) => this.ended = true,
            Poll::Pending => {}
        }
        if this.ended || this.failed || this.inner.is_end_stream() {
            this.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ObservedBody {
    fn drop(&mut self) {
        self.finish();
    }
}
