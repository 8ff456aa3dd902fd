//! Connections: a listener, HTTP/1.1 and HTTP/2 on it, the [`Limits`] on what
//! one client can hold, and graceful shutdown. [`serve`] is the one entry
//! point; it hands each request to a tower service (the
//! [`Edge`](crate::edge::Edge) under its observability layer, or the admin
//! router).
//!
//! - **HTTP/2** over TLS when the client picks `h2` by ALPN (offered before
//!   `http/1.1`), and on a plain listener when the connection opens with the
//!   HTTP/2 preface (h2c "with prior knowledge", as load balancers speak it);
//!   anything else is HTTP/1.1. The same limits apply: the header list is
//!   bounded like an HTTP/1.1 head ([`Limits::max_head_bytes`]), in-flight
//!   streams per connection by [`Limits::max_concurrent_streams`], the first
//!   bytes of a connection (or its TLS handshake) by
//!   [`Limits::header_read_timeout`], writes by the send timeout, and
//!   connections by [`Limits::max_connections`]; a peer that stops answering
//!   pings is disconnected.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use std::convert::Infallible;

use axum::body::Body;
use http::{Request, Response};
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tower::{Service, ServiceExt as _};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

use crate::observe::Metrics;
use crate::tls::{ALPN_H2, EdgeTls, HandshakeFailure, TlsSession};

/// Bounds on what one client can hold or send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; further ones are closed on accept.
    pub max_connections: usize,
    /// Time allowed to send a request's head (slow clients are dropped); also
    /// the time allowed for a TLS handshake, for the first bytes of a plain
    /// connection, and for an HTTP/2 peer to answer a ping.
    pub header_read_timeout: Duration,
    /// Requests one HTTP/2 connection may have in flight at once (its
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`; nginx's default is 128).
    pub max_concurrent_streams: u32,
    /// Largest request head (request line and headers; for HTTP/2 the header
    /// list, as HPACK counts it) in bytes: CloudFront's documented request
    /// limit is 20,480 bytes. hyper answers a larger head
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
            max_concurrent_streams: 128,
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

/// What [`serve`] serves: a tower service of hyper's requests that always
/// answers (an [`Edge`](crate::edge::Edge) under its observability layer, the
/// admin router, any axum `Router`).
///
/// ```
/// fn servable(_: impl cfsign_edge::server::Servable) {}
/// servable(axum::Router::new());
/// ```
pub trait Servable:
    Service<
        Request<Incoming>,
        Response = Response<Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S> Servable for S where
    S: Service<
            Request<Incoming>,
            Response = Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// How [`serve`] runs: its [`Limits`], TLS (HTTPS) or not, and the metrics
/// whose connection gauges it keeps up to date.
///
/// ```
/// use cfsign_edge::observe::Metrics;
/// use cfsign_edge::server::{Limits, ServeOptions};
///
/// let options = ServeOptions::default().metrics(Metrics::new());
/// assert_eq!(options.limits, Limits::default());
/// assert!(options.tls.is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Bounds on connections and requests.
    pub limits: Limits,
    /// Serve HTTPS with this certificate; `None`: plain HTTP.
    pub tls: Option<EdgeTls>,
    /// Keep the `cfsign_edge_connections` gauge and the TLS and send-timeout
    /// counters of these metrics (the request metrics are the
    /// [`ObserveLayer`](crate::observe::ObserveLayer)'s).
    pub metrics: Option<Metrics>,
}

impl ServeOptions {
    /// These limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Over TLS.
    #[must_use]
    pub fn tls(mut self, tls: EdgeTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Counting into `metrics`.
    #[must_use]
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

/// Serves `service` (an [`Edge`](crate::edge::Edge) under its observability
/// layer, the admin router, any axum `Router`) on `listener` until `shutdown`
/// completes; requests in flight then finish (within
/// [`Limits::drain_timeout`]).
///
/// Over TLS, the handshake must finish within `limits.header_read_timeout` and
/// counts against `limits.max_connections`; a connection whose handshake fails
/// (plain HTTP, no common protocol version, a silent client) is closed without
/// being served.
///
/// ```
/// use axum::{Router, routing::get};
/// use cfsign_edge::server::{self, ServeOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let app = Router::new().route("/", get(|| async { "hello" }));
/// let listener = server::bind("127.0.0.1:0".parse().unwrap(), 16)?;
/// // Stops at once here; a real server waits for `server::shutdown_signal()`.
/// server::serve(listener, app, ServeOptions::default(), async {}).await
/// # }
/// ```
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    S: Servable,
{
    let ServeOptions {
        limits,
        tls,
        metrics,
    } = options;
    if let (Some(metrics), Some(tls)) = (&metrics, &tls) {
        metrics.watch_tls(tls);
    }
    accept_loop(listener, service, limits, metrics, tls, shutdown).await
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

/// The loop of [`serve`].
async fn accept_loop<S>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    metrics: Option<Metrics>,
    tls: Option<EdgeTls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    S: Servable,
{
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let protocols = Protocols::new(&limits);
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
        let service = service
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            });
        let open = OpenConnection::new(metrics.as_ref());
        // The TLS handshake or the protocol sniffing runs in the connection's task,
        // bounded like the request head, holding the connection's permit; shutdown
        // waits for it too.
        let (tls, protocols, watcher) = (tls.clone(), protocols.clone(), graceful.watcher());
        let opening_timeout = limits.header_read_timeout;
        let (send_timeout, metrics) = (limits.send_timeout, metrics.clone());
        tokio::spawn(async move {
            match tls {
                None => {
                    if let Ok(Ok(protocol)) =
                        tokio::time::timeout(opening_timeout, sniff(&stream)).await
                    {
                        let stream = SendTimeout::new(stream, send_timeout, metrics);
                        protocols.serve(stream, protocol, service, watcher).await;
                    }
                }
                Some(tls) => {
                    let stream = SendTimeout::new(stream, send_timeout, metrics.clone());
                    match tls.accept(stream, opening_timeout).await {
                        Ok(stream) => {
                            let protocol = if stream.get_ref().1.alpn_protocol() == Some(ALPN_H2) {
                                Protocol::Http2
                            } else {
                                Protocol::Http1
                            };
                            // What the access log says of the connection (`https`,
                            // `ssl-protocol`, `ssl-cipher`).
                            let session = TlsSession::of(stream.get_ref().1);
                            let service =
                                service.map_request(move |mut request: Request<Incoming>| {
                                    if let Some(session) = session {
                                        request.extensions_mut().insert(session);
                                    }
                                    request
                                });
                            protocols.serve(stream, protocol, service, watcher).await;
                        }
                        Err(failure) => {
                            if let Some(m) = &metrics {
                                m.tls_handshake_failed(failure == HandshakeFailure::TimedOut);
                            }
                        }
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

/// The HTTP version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

/// What an HTTP/2 client sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Which protocol a plain connection speaks, from its first bytes (left
/// unread): HTTP/2 with prior knowledge starts with [`H2_PREFACE`], anything
/// else is HTTP/1.
async fn sniff(stream: &TcpStream) -> std::io::Result<Protocol> {
    let mut first = [0u8; H2_PREFACE.len()];
    loop {
        let n = stream.peek(&mut first).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if first[..n] != H2_PREFACE[..n] {
            return Ok(Protocol::Http1);
        }
        if n == H2_PREFACE.len() {
            return Ok(Protocol::Http2);
        }
        // Part of the preface: the rest is on its way (peek would not wait for it).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The HTTP/1.1 and HTTP/2 connection settings, from the [`Limits`].
#[derive(Clone)]
struct Protocols {
    http1: hyper::server::conn::http1::Builder,
    http2: hyper::server::conn::http2::Builder<TokioExecutor>,
}

impl Protocols {
    fn new(limits: &Limits) -> Self {
        let mut http1 = hyper::server::conn::http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(limits.max_head_bytes.max(8192));
        let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.max_concurrent_streams)
            .max_header_list_size(u32::try_from(limits.max_head_bytes).unwrap_or(u32::MAX))
            // A peer that stops answering pings is gone: close its connection.
            .keep_alive_interval(Some(H2_PING_INTERVAL))
            .keep_alive_timeout(limits.header_read_timeout);
        Self { http1, http2 }
    }

    /// Serves one connection until it ends (or shutdown closes it gracefully).
    async fn serve<IO, S>(
        &self,
        io: IO,
        protocol: Protocol,
        service: S,
        watcher: hyper_util::server::graceful::Watcher,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: Servable,
    {
        let io = TokioIo::new(io);
        let service = TowerToHyperService::new(service);
        let _ = match protocol {
            Protocol::Http1 => {
                watcher
                    .watch(self.http1.serve_connection(io, service))
                    .await
            }
            Protocol::Http2 => {
                watcher
                    .watch(self.http2.serve_connection(io, service))
                    .await
            }
        };
    }
}

/// How often an HTTP/2 connection pings its peer.
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);

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
