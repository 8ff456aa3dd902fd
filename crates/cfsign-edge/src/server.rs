//! The edge server: behaviors (each an origin, through the edge's object cache,
//! behind the signed-access layer when restricted), on a socket, replaceable
//! while serving.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use http::Response;
use tokio::net::TcpListener;
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
    /// documented request limit is 20,480 bytes.
    pub max_head_bytes: usize,
    /// How long in-flight requests may take to finish after shutdown is asked.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            max_head_bytes: 20_480,
            drain_timeout: Duration::from_secs(30),
        }
    }
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
