//! The edge server: behaviors (each an origin, behind the signed-access layer when
//! restricted), on a socket, replaceable while serving.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use http::Response;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use crate::access::{AccessConfig, SignedAccessLayer};
use crate::behavior::{Behaviors, PathPattern};
use crate::origin::Origin;
use crate::serve::handler;

/// The router: every path is served from `origin`; with `access`, every request
/// is checked first (CloudFront's "restrict viewer access").
pub fn router(origin: Arc<dyn Origin>, access: Option<AccessConfig>) -> Router {
    let app = Router::new().fallback(handler).with_state(origin);
    match access {
        Some(config) => app.layer(SignedAccessLayer::new(config)),
        None => app,
    }
}

/// The behaviors with their routers, built once per configuration.
#[derive(Debug)]
struct Routes {
    ordered: Vec<(PathPattern, Router)>,
    default: Router,
}

impl Routes {
    fn new(behaviors: &Behaviors) -> Self {
        let mut all: Vec<(PathPattern, Router)> = behaviors
            .iter()
            .map(|b| {
                (
                    b.pattern.clone(),
                    router(Arc::clone(&b.origin), b.access.clone()),
                )
            })
            .collect();
        // `Behaviors::iter` yields the default last.
        let default = all.pop().map_or_else(Router::new, |(_, r)| r);
        Self {
            ordered: all,
            default,
        }
    }

    fn select(&self, path: &str) -> &Router {
        self.ordered
            .iter()
            .find(|(p, _)| p.matches(path))
            .map_or(&self.default, |(_, r)| r)
    }
}

/// The live configuration of a running edge: [`EdgeHandle::replace`] swaps in new
/// behaviors (e.g. after SIGHUP); requests in flight finish with the old ones.
#[derive(Debug, Clone)]
pub struct EdgeHandle(Arc<RwLock<Arc<Routes>>>);

impl EdgeHandle {
    /// A handle serving `behaviors`.
    #[must_use]
    pub fn new(behaviors: &Behaviors) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(Routes::new(behaviors)))))
    }

    /// Replaces the behaviors.
    pub fn replace(&self, behaviors: &Behaviors) {
        let routes = Arc::new(Routes::new(behaviors));
        match self.0.write() {
            Ok(mut g) => *g = routes,
            Err(poisoned) => *poisoned.into_inner() = routes,
        }
    }

    fn current(&self) -> Arc<Routes> {
        match self.0.read() {
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
    let route = routes.select(request.uri().path()).clone();
    match route.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Serves `app` on `listener` until `shutdown` completes; requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
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
