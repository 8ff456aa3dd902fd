//! The edge server: behaviors (each an origin, through the edge's object cache,
//! behind the signed-access layer when restricted), on a socket, replaceable
//! while serving.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use http::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket};
use tower::ServiceExt as _;

use crate::access::{AccessConfig, SignedAccessLayer};
use crate::behavior::{Behaviors, PathPattern};
use crate::cache::ObjectCache;
use crate::observe::{BehaviorLabel, Metrics};
use crate::serve::{Backend, handler};
use crate::tls::EdgeTls;

/// The router: every path is served from `backend`; with `access`, every request
/// is checked first (CloudFront's "restrict viewer access"), before the cache.
pub fn router(backend: Backend, access: Option<AccessConfig>) -> Router {
    let app = Router::new().fallback(handler).with_state(backend);
    match access {
        Some(config) => app.layer(SignedAccessLayer::new(config)),
        None => app,
    }
}

/// The behaviors with their routers, built once per configuration.
#[derive(Debug)]
struct Routes {
    ordered: Vec<Route>,
    default: Route,
}

/// One behavior's router, and its path pattern as the metrics' `behavior` label.
#[derive(Debug, Clone)]
struct Route {
    pattern: PathPattern,
    label: BehaviorLabel,
    router: Router,
}

impl Routes {
    fn new(behaviors: &Behaviors, cache: Option<&ObjectCache>) -> Self {
        let mut all: Vec<Route> = behaviors
            .iter()
            .map(|b| {
                let mut backend = Backend::new(Arc::clone(&b.origin));
                if let Some(cache) = cache {
                    backend = backend.with_cache(cache, b.ttl);
                }
                Route {
                    pattern: b.pattern.clone(),
                    label: BehaviorLabel(Arc::from(b.pattern.as_str())),
                    router: router(backend, b.access.clone()),
                }
            })
            .collect();
        // `Behaviors::iter` yields the default last.
        let default = all.pop().unwrap_or_else(|| Route {
            pattern: PathPattern::any(),
            label: BehaviorLabel(Arc::from(PathPattern::any().as_str())),
            router: Router::new(),
        });
        Self {
            ordered: all,
            default,
        }
    }

    fn select(&self, path: &str) -> &Route {
        self.ordered
            .iter()
            .find(|r| r.pattern.matches(path))
            .unwrap_or(&self.default)
    }
}

/// The live configuration of a running edge: [`EdgeHandle::replace`] swaps in new
/// behaviors (e.g. after SIGHUP); requests in flight finish with the old ones.
/// The object cache, if any, stays: entries of origins the new behaviors still
/// use remain valid (see [`cache`](crate::cache)).
#[derive(Debug, Clone)]
pub struct EdgeHandle {
    routes: Arc<RwLock<Arc<Routes>>>,
    cache: Option<ObjectCache>,
}

impl EdgeHandle {
    /// A handle serving `behaviors`, through `cache` when given.
    #[must_use]
    pub fn new(behaviors: &Behaviors, cache: Option<ObjectCache>) -> Self {
        let routes = Routes::new(behaviors, cache.as_ref());
        Self {
            routes: Arc::new(RwLock::new(Arc::new(routes))),
            cache,
        }
    }

    /// The object cache.
    #[must_use]
    pub fn cache(&self) -> Option<&ObjectCache> {
        self.cache.as_ref()
    }

    /// Replaces the behaviors.
    pub fn replace(&self, behaviors: &Behaviors) {
        let routes = Arc::new(Routes::new(behaviors, self.cache.as_ref()));
        match self.routes.write() {
            Ok(mut g) => *g = routes,
            Err(poisoned) => *poisoned.into_inner() = routes,
        }
    }

    fn current(&self) -> Arc<Routes> {
        match self.routes.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The router of the whole edge: each request goes to the first behavior
    /// whose path pattern matches, or the default.
    pub fn router(&self) -> Router {
        Router::new().fallback(dispatch).with_state(self.clone())
    }
}

async fn dispatch(State(edge): State<EdgeHandle>, request: Request) -> Response<Body> {
    let routes = edge.current();
    let route = routes.select(request.uri().path());
    let label = route.label.clone();
    let mut response = match route.router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    response.extensions_mut().insert(label);
    response
}

/// Bounds on what one client can hold or send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; further ones are closed on accept.
    pub max_connections: usize,
    /// Time allowed to send a request's head (slow clients are dropped).
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers) in bytes: CloudFront's
    /// documented request limit is 20,480 bytes. hyper answers a larger head
    /// itself, `431` with an empty body (CloudFront says `413`), as it answers a
    /// malformed one `400`: its HTTP/1 server writes these before any service
    /// runs and has no hook for their status or body.
    pub max_head_bytes: usize,
    /// How long in-flight requests may take to finish after shutdown is asked.
    pub drain_timeout: Duration,
    /// How long a response may wait for the viewer to accept any data (a client
    /// that stops reading): then the connection is closed, releasing its socket
    /// and the object it was sending (see [`DEFAULT_SEND_TIMEOUT`]).
    pub send_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            max_head_bytes: 20_480,
            drain_timeout: Duration::from_secs(30),
            send_timeout: DEFAULT_SEND_TIMEOUT,
        }
    }
}

/// The default [`Limits::send_timeout`]: 30 s. CloudFront documents no timeout
/// towards viewers; its figure for the same situation towards origins, the
/// origin response timeout ("how long CloudFront waits after receiving a packet
/// of a response from the origin and before receiving the next packet"), is 30 s
/// by default. nginx's `send_timeout` (between two successive writes) is 60 s.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest send timeout [`send_timeout`] accepts: one hour.
pub const MAX_SEND_TIMEOUT: Duration = Duration::from_secs(3_600);

/// The default listen backlog: nginx's (511). Linux caps it at
/// `net.core.somaxconn` (4,096 since Linux 5.4).
pub const DEFAULT_LISTEN_BACKLOG: u32 = 511;

/// The largest listen backlog [`listen_backlog`] accepts (the largest
/// `net.core.somaxconn` of older kernels).
pub const MAX_LISTEN_BACKLOG: u32 = 65_535;

/// A setting outside the range it must be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value} is not between {min} and {max}{unit}; leave it out for the default, {default}{unit}"
)]
pub struct OutOfRange {
    /// The value given.
    pub value: u64,
    /// The smallest value accepted.
    pub min: u64,
    /// The largest value accepted.
    pub max: u64,
    /// The default.
    pub default: u64,
    /// The unit, with a leading space (` seconds`), or empty.
    pub unit: &'static str,
}

/// A send timeout of `seconds`, between 1 and 3,600: 0 would close every
/// response that has to wait for the viewer at all.
///
/// ```
/// use std::time::Duration;
/// use cfsign_edge::server::send_timeout;
///
/// assert_eq!(send_timeout(30), Ok(Duration::from_secs(30)));
/// assert_eq!(
///     send_timeout(0).unwrap_err().to_string(),
///     "0 is not between 1 and 3600 seconds; leave it out for the default, 30 seconds"
/// );
/// ```
pub fn send_timeout(seconds: u64) -> Result<Duration, OutOfRange> {
    let max = MAX_SEND_TIMEOUT.as_secs();
    if (1..=max).contains(&seconds) {
        Ok(Duration::from_secs(seconds))
    } else {
        Err(OutOfRange {
            value: seconds,
            min: 1,
            max,
            default: DEFAULT_SEND_TIMEOUT.as_secs(),
            unit: " seconds",
        })
    }
}

/// A listen backlog of `connections`, between 1 and 65,535.
///
/// ```
/// use cfsign_edge::server::listen_backlog;
///
/// assert_eq!(listen_backlog(4096), Ok(4096));
/// assert!(listen_backlog(0).is_err());
/// assert!(listen_backlog(1 << 20).is_err());
/// ```
pub fn listen_backlog(connections: u64) -> Result<u32, OutOfRange> {
    match u32::try_from(connections) {
        Ok(n) if (1..=MAX_LISTEN_BACKLOG).contains(&n) => Ok(n),
        _ => Err(OutOfRange {
            value: connections,
            min: 1,
            max: u64::from(MAX_LISTEN_BACKLOG),
            default: u64::from(DEFAULT_LISTEN_BACKLOG),
            unit: "",
        }),
    }
}

/// A listener on `addr` whose kernel queue holds `backlog` connections not yet
/// accepted (see [`DEFAULT_LISTEN_BACKLOG`]); `SO_REUSEADDR` is set, as
/// `TcpListener::bind` sets it, so a restarted edge can listen again at once.
/// Call it within a tokio runtime.
///
/// ```
/// use cfsign_edge::server::{self, DEFAULT_LISTEN_BACKLOG};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = server::bind("127.0.0.1:0".parse().unwrap(), DEFAULT_LISTEN_BACKLOG)?;
/// assert!(listener.local_addr()?.port() > 0);
/// # Ok(())
/// # }
/// ```
pub fn bind(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Serves `app` on `listener` with the default [`Limits`] until `shutdown`
/// completes; requests in flight then finish (within the drain timeout).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, Limits::default(), shutdown).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_inner(listener, app, limits, None, None, shutdown).await
}

/// [`serve_with`], keeping the `cfsign_edge_connections` gauge of `metrics`
/// up to date (wrap `app` in an [`ObserveLayer`](crate::observe::ObserveLayer)
/// for the request metrics). The [`observe`](crate::observe) module shows the
/// whole set-up: edge, admin listener and access log.
pub async fn serve_observed(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: &Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_inner(listener, app, limits, Some(metrics.clone()), None, shutdown).await
}

/// [`serve_with`] over TLS (HTTPS), keeping the connection gauge of `metrics` if
/// given (as [`serve_observed`] does). The TLS handshake must finish within
/// `limits.header_read_timeout` and counts against `limits.max_connections`; a
/// connection whose handshake fails (plain HTTP, no common protocol version, a
/// silent client) is closed without being served.
///
/// ```no_run
/// use std::path::Path;
/// use cfsign_edge::server::{self, Limits};
/// use cfsign_edge::tls::{EdgeTls, TlsCertificate};
///
/// # async fn run(app: axum::Router) -> Result<(), Box<dyn std::error::Error>> {
/// let tls = EdgeTls::new(&TlsCertificate::load(Path::new("cert.pem"), Path::new("key.pem"))?)?;
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
/// server::serve_tls(listener, app, Limits::default(), &tls, None, server::shutdown_signal()).await?;
/// # Ok(())
/// # }
/// ```
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: &EdgeTls,
    metrics: Option<&Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_inner(
        listener,
        app,
        limits,
        metrics.cloned(),
        Some(tls.clone()),
        shutdown,
    )
    .await
}

/// Decrements the connection gauge when the connection's task ends.
struct OpenConnection(Option<Metrics>);

impl OpenConnection {
    fn new(metrics: Option<&Metrics>) -> Self {
        if let Some(m) = metrics {
            m.connection_opened();
        }
        Self(metrics.cloned())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        if let Some(m) = &self.0 {
            m.connection_closed();
        }
    }
}

async fn serve_inner(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: Option<Metrics>,
    tls: Option<EdgeTls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_head_bytes.max(8192));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Responses are written as head and body; without TCP_NODELAY, Nagle's algorithm
        // and the client's delayed ACK add ~40 ms to every keep-alive response.
        let _ = stream.set_nodelay(true);
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            drop(stream); // over the connection cap
            continue;
        };
        let service =
            app.clone()
                .map_request(move |mut request: http::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    request
                });
        let open = OpenConnection::new(metrics.as_ref());
        let stream = SendTimeout::new(stream, limits.send_timeout, metrics.clone());
        let Some(tls) = &tls else {
            let connection = builder.serve_connection(
                hyper_util::rt::TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            );
            let watched = graceful.watch(connection);
            tokio::spawn(async move {
                let _ = watched.await;
                drop(open);
                drop(permit);
            });
            continue;
        };
        // TLS: the handshake runs in the connection's task, bounded like the request
        // head, holding the connection's permit; shutdown waits for it too.
        let (tls, builder, watcher) = (tls.clone(), builder.clone(), graceful.watcher());
        let handshake_timeout = limits.header_read_timeout;
        let metrics = metrics.clone();
        tokio::spawn(async move {
            match tls.accept(stream, handshake_timeout).await {
                Ok(stream) => {
                    let connection = builder.serve_connection(
                        hyper_util::rt::TokioIo::new(stream),
                        hyper_util::service::TowerToHyperService::new(service),
                    );
                    let _ = watcher.watch(connection).await;
                }
                Err(failure) => {
                    if let Some(m) = &metrics {
                        m.tls_handshake_failed(failure == crate::tls::HandshakeFailure::TimedOut);
                    }
                }
            }
            drop(open);
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(limits.drain_timeout, graceful.shutdown()).await;
    Ok(())
}

/// A connection whose writes must make progress (nginx's `send_timeout`): when
/// a write has waited [`Limits::send_timeout`] without the peer accepting a
/// byte (its receive window stays full: a client that does not read), the write
/// fails with [`std::io::ErrorKind::TimedOut`], so hyper ends the connection and
/// drops the response, whose access-log line then says what was sent. The time
/// counts from the first write that had to wait, and restarts with every byte
/// accepted, so a slow but reading client is never cut off. Under TLS it wraps
/// the TCP stream, so the handshake's and the records' writes count too.
struct SendTimeout<IO> {
    io: IO,
    timeout: Duration,
    /// Since the first write that had to wait, with no progress since.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
    timed_out: bool,
    metrics: Option<Metrics>,
}

impl<IO> SendTimeout<IO> {
    fn new(io: IO, timeout: Duration, metrics: Option<Metrics>) -> Self {
        Self {
            io,
            timeout,
            stalled: None,
            timed_out: false,
            metrics,
        }
    }

    fn timed_out() -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the viewer accepted no data within the send timeout",
        )
    }

    /// Watches one write-side poll: `progressed` says whether its result moved
    /// data towards the peer (only bytes written do: a flush that completes
    /// says nothing about the peer).
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<std::io::Result<T>>,
        progressed: impl FnOnce(&T) -> bool,
    ) -> Poll<std::io::Result<T>> {
        match polled {
            Poll::Ready(Ok(value)) => {
                if progressed(&value) {
                    self.stalled = None;
                }
                Poll::Ready(Ok(value))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let timeout = self.timeout;
                let stalled = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if stalled.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.stalled = None;
                self.timed_out = true;
                if let Some(m) = &self.metrics {
                    m.send_timed_out();
                }
                Poll::Ready(Err(Self::timed_out()))
            }
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for SendTimeout<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for SendTimeout<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.timed_out {
            return Poll::Ready(Err(Self::timed_out()));
        }
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, polled, |n| *n > 0)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if self.timed_out {
            return Poll::Ready(Err(Self::timed_out()));
        }
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, polled, |n| *n > 0)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.timed_out {
            return Poll::Ready(Err(Self::timed_out()));
        }
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, polled, |()| false)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.timed_out {
            return Poll::Ready(Err(Self::timed_out()));
        }
        let polled = Pin::new(&mut self.io).poll_shutdown(cx);
        self.watch(cx, polled, |()| false)
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
