//! The edge server: an origin behind the signed-access layer, on a socket.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::access::{AccessConfig, SignedAccessLayer};
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
