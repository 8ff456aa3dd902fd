//! Any service (an edge, the admin router, an axum app standing in for an
//! origin server) served with `cfsign_edge::server::serve` on a free port of
//! 127.0.0.1, and stopped gracefully: [`RunningServer::stop`] waits for the
//! server to finish; dropping a [`RunningServer`] stops it too.

use std::net::SocketAddr;
use std::time::Duration;

use cfsign_edge::server::{self, DEFAULT_LISTEN_BACKLOG, ServeOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};
use tokio::time::error::Elapsed;

/// How long [`RunningServer::stop`] (and a drop) waits for the server to finish.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What a served task ends with: `serve`'s result, if the task neither
/// panicked nor outlived the bound it was given.
pub type Stopped = Result<Result<std::io::Result<()>, JoinError>, Elapsed>;

pub use cfsign_edge::server::Servable;

/// A listener on a free port of 127.0.0.1 (backlog: the edge's default), for
/// [`RunningServer::serve`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let listener = cfsign_testkit::server::listener();
/// assert!(listener.local_addr().unwrap().ip().is_loopback());
/// # }
/// ```
///
/// # Panics
///
/// If no port can be bound, or there is no Tokio runtime.
#[must_use]
pub fn listener() -> TcpListener {
    server::bind(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        DEFAULT_LISTEN_BACKLOG,
    )
    .expect("a free port on 127.0.0.1")
}

/// A server running on a task of the current Tokio runtime.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cfsign_edge::server::ServeOptions;
/// use cfsign_testkit::server::RunningServer;
///
/// let app = axum::Router::new().fallback(|| async { "ok" });
/// let server = RunningServer::start(app, ServeOptions::default()).await;
/// let reply = cfsign_testkit::http::get(&format!("{}/", server.base()), &[]).await;
/// assert_eq!(reply.text(), "ok");
/// server.stop().await;
/// # }
/// ```
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    base: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// Serves `service` with `options` on a free port of 127.0.0.1. The base
    /// URL is `http://127.0.0.1:PORT`, or `https://localhost:PORT` with TLS
    /// (test certificates name `localhost`, see [`crate::tls::self_signed`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use cfsign_testkit::server::RunningServer;
    /// let server = RunningServer::start(axum::Router::new(), Default::default()).await;
    /// assert_eq!(server.base(), format!("http://{}", server.addr()));
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If no port of 127.0.0.1 can be bound.
    pub async fn start(service: impl Servable, options: ServeOptions) -> Self {
        Self::serve(listener(), service, options)
    }

    /// [`RunningServer::start`] on a `listener` bound beforehand, for a service
    /// that must know its own address (see [`listener`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cfsign_testkit::server::{RunningServer, listener};
    ///
    /// let listener = listener();
    /// let addr = listener.local_addr().unwrap();
    /// let app = axum::Router::new().fallback(move || async move { format!("I am {addr}") });
    /// let server = RunningServer::serve(listener, app, Default::default());
    /// let reply = cfsign_testkit::http::get(&format!("{}/", server.base()), &[]).await;
    /// assert_eq!(reply.text(), format!("I am {addr}"));
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the listener has no local address, or there is no Tokio runtime.
    pub fn serve(listener: TcpListener, service: impl Servable, options: ServeOptions) -> Self {
        let addr = listener.local_addr().expect("the listener's address");
        let base = if options.tls.is_some() {
            format!("https://localhost:{}", addr.port())
        } else {
            format!("http://{addr}")
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, service, options, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            base,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The address it listens on.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let server = cfsign_testkit::server::RunningServer::start(axum::Router::new(), Default::default()).await;
    /// assert!(server.addr().ip().is_loopback() && server.addr().port() > 0);
    /// # }
    /// ```
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://localhost:PORT` over TLS), no `/` at the end.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let server = cfsign_testkit::server::RunningServer::start(axum::Router::new(), Default::default()).await;
    /// assert!(server.base().starts_with("http://127.0.0.1:"));
    /// # }
    /// ```
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether the server's task has ended (it has stopped, or failed).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let server = cfsign_testkit::server::RunningServer::start(axum::Router::new(), Default::default()).await;
    /// assert!(!server.is_finished());
    /// # }
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Tells the server to stop: it accepts no more connections, and requests in
    /// flight finish (within its drain timeout). Returns at once; see [`RunningServer::stop`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let mut server = cfsign_testkit::server::RunningServer::start(axum::Router::new(), Default::default()).await;
    /// server.signal_stop();
    /// assert!(matches!(server.stopped(std::time::Duration::from_secs(5)).await, Ok(Ok(Ok(())))));
    /// # }
    /// ```
    pub fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits at most `bound` for the server's task to end (after
    /// [`RunningServer::signal_stop`]), and gives what it ended with, for a test
    /// that asserts on it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let mut server = cfsign_testkit::server::RunningServer::start(axum::Router::new(), Default::default()).await;
    /// // Not told to stop: still running when the bound passes.
    /// assert!(server.stopped(std::time::Duration::from_millis(50)).await.is_err());
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If it was already awaited to its end.
    pub async fn stopped(&mut self, bound: Duration) -> Stopped {
        let task = self
            .task
            .as_mut()
            .expect("the server task was already awaited");
        let ended = tokio::time::timeout(bound, task).await;
        if ended.is_ok() {
            self.task = None;
        }
        ended
    }

    /// Stops the server and waits until it has, within [`STOP_TIMEOUT`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let server = cfsign_testkit::server::RunningServer::start(axum::Router::new(), Default::default()).await;
    /// let addr = server.addr();
    /// server.stop().await;
    /// assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the server does not stop in time, or its task failed or panicked.
    pub async fn stop(mut self) {
        self.signal_stop();
        let result = self.stopped(STOP_TIMEOUT).await;
        assert!(
            matches!(result, Ok(Ok(Ok(())))),
            "the server on {} did not stop cleanly within {STOP_TIMEOUT:?}: {result:?}",
            self.addr
        );
    }
}

impl Drop for RunningServer {
    /// Stops the server. On a multi-threaded runtime the drop also waits (up to
    /// [`STOP_TIMEOUT`]) until it has stopped, so that the next test starts
    /// without it; on a current-thread runtime, or while a test is failing, it
    /// only signals.
    fn drop(&mut self) {
        self.signal_stop();
        let Some(task) = self.task.take() else {
            return;
        };
        if std::thread::panicking() || task.is_finished() {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return;
        }
        tokio::task::block_in_place(|| {
            let _ = handle.block_on(tokio::time::timeout(STOP_TIMEOUT, task));
        });
    }
}
