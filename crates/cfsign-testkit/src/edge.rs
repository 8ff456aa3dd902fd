//! Edges for tests: built the way the CLI builds them ([`Edge::new`],
//! [`Edge::from_config`]) and served on 127.0.0.1 ([`EdgeBuilder`] and the
//! [`RunningEdge`] it starts), or only built ([`edge`], [`behaviors`],
//! [`behavior`]) for a test that serves it itself (inside an axum app, on a
//! runtime of its own).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use cfsign_testkit::edge::EdgeBuilder;
//! use cfsign_testkit::signer::TestSigner;
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("a.txt"), "a").unwrap();
//! // Signed URLs or cookies required, for the key of `KEDGE`.
//! let edge = EdgeBuilder::new()
//!     .directory(dir.path())
//!     .signer(TestSigner::new("KEDGE"))
//!     .start()
//!     .await;
//! let denied = cfsign_testkit::http::get(&edge.url("/a.txt"), &[]).await;
//! assert_eq!(denied.status, http::StatusCode::FORBIDDEN);
//! let served = cfsign_testkit::http::get(&edge.signed("/a.txt", 60), &[]).await;
//! assert_eq!(served.text(), "a");
//! edge.stop().await;
//! # }
//! ```

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cfsign_edge::access::{AccessConfig, Scheme, SharedVerifier};
use cfsign_edge::admin;
use cfsign_edge::behavior::{Behavior, Behaviors, PathPattern};
use cfsign_edge::cache::{ObjectCache, TtlPolicy};
use cfsign_edge::config::EdgeConfig;
use cfsign_edge::edge::Edge;
use cfsign_edge::observe::{AccessLog, AccessLogFormat, Metrics};
use cfsign_edge::origin::{DirectoryOrigin, Origin};
use cfsign_edge::server::{Limits, ServeOptions};
use cfsign_edge::tls::{EdgeTls, TlsCertificate};

use crate::server::{RunningServer, Stopped};
use crate::signer::TestSigner;
use crate::tls::TestCert;

/// Everything served from `origin` (restricted when `access` is given), with `ttl`.
///
/// ```
/// use std::sync::Arc;
/// use cfsign_edge::cache::TtlPolicy;
/// use cfsign_edge::origin::{DirectoryOrigin, Origin};
///
/// let dir = tempfile::tempdir().unwrap();
/// let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(dir.path()).unwrap());
/// let behaviors = cfsign_testkit::edge::behaviors(origin, None, TtlPolicy::default());
/// # let _ = behaviors;
/// ```
pub fn behaviors(
    origin: Arc<dyn Origin>,
    access: Option<AccessConfig>,
    ttl: TtlPolicy,
) -> Behaviors {
    let default = Behavior {
        ttl,
        ..behavior(PathPattern::any(), origin, access)
    };
    Behaviors::new(Vec::new(), default)
}

/// One behavior serving `pattern` from `origin` (restricted when `access` is
/// given), with the default TTLs, no compression and no `sign_manifests`: set
/// other fields with struct update syntax.
///
/// ```
/// use std::sync::Arc;
/// use cfsign_edge::behavior::{Behavior, Behaviors, PathPattern};
/// use cfsign_edge::origin::{DirectoryOrigin, Origin};
/// use cfsign_testkit::edge::behavior;
///
/// let dir = tempfile::tempdir().unwrap();
/// let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(dir.path()).unwrap());
/// let streams = Behavior {
///     sign_manifests: true,
///     ..behavior(PathPattern::new("/streams/*").unwrap(), Arc::clone(&origin), None)
/// };
/// let behaviors = Behaviors::new(vec![streams], behavior(PathPattern::any(), origin, None));
/// assert!(behaviors.select("/streams/a/index.m3u8").sign_manifests);
/// ```
pub fn behavior(
    pattern: PathPattern,
    origin: Arc<dyn Origin>,
    access: Option<AccessConfig>,
) -> Behavior {
    Behavior {
        pattern,
        origin,
        origin_name: "test".to_owned(),
        access,
        ttl: TtlPolicy::default(),
        compress: false,
        sign_manifests: false,
    }
}

/// An edge with no cache serving everything from `origin`.
///
/// ```
/// use std::sync::Arc;
/// use cfsign_edge::origin::DirectoryOrigin;
///
/// let dir = tempfile::tempdir().unwrap();
/// let edge = cfsign_testkit::edge::edge(Arc::new(DirectoryOrigin::new(dir.path()).unwrap()), None);
/// assert!(edge.cache().is_none());
/// ```
pub fn edge(origin: Arc<dyn Origin>, access: Option<AccessConfig>) -> Edge {
    Edge::new(
        &behaviors(origin, access, TtlPolicy::default()),
        None,
        Metrics::new(),
    )
}

/// Adjusts the access check of an [`EdgeBuilder`] (a public base URL, a clock).
type Configure = Box<dyn FnOnce(AccessConfig) -> AccessConfig + Send>;

/// What an [`EdgeBuilder`] serves.
enum Routing {
    /// One behavior over this origin (`None`: not given yet).
    Origin(Option<Arc<dyn Origin>>),
    /// These behaviors, as given.
    Behaviors(Box<Behaviors>),
    /// An edge configuration, its `[tls]` included.
    Config(Box<EdgeConfig>),
}

/// An edge to start on 127.0.0.1: what it serves (one origin, given
/// behaviors, or a configuration), its access check, cache, TTLs, limits,
/// TLS, access log and admin listener. Every setting has the default the CLI
/// has; a restricted edge needs [`EdgeBuilder::signer`] or [`EdgeBuilder::verifier`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cfsign_edge::cache::{CacheSettings, ObjectCache};
/// use cfsign_testkit::edge::EdgeBuilder;
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.txt"), "a").unwrap();
/// let edge = EdgeBuilder::new()
///     .directory(dir.path())
///     .cache(ObjectCache::new(CacheSettings::default()))
///     .admin()
///     .start()
///     .await;
/// for expected in ["Miss from cfsign", "Hit from cfsign"] {
///     let reply = cfsign_testkit::http::get(&edge.url("/a.txt"), &[]).await;
///     assert_eq!(reply.header("x-cache"), Some(expected));
/// }
/// let health = cfsign_testkit::http::get(&format!("{}/healthz", edge.admin_base()), &[]).await;
/// assert_eq!(health.text(), "ok");
/// edge.stop().await;
/// # }
/// ```
#[must_use = "an EdgeBuilder does nothing until started"]
pub struct EdgeBuilder {
    routing: Routing,
    signer: Option<TestSigner>,
    verifier: Option<SharedVerifier>,
    scheme: Option<Scheme>,
    configure: Option<Configure>,
    cache: Option<ObjectCache>,
    ttl: TtlPolicy,
    metrics: Metrics,
    observed: bool,
    access_log: Option<AccessLog>,
    limits: Limits,
    tls: Option<TestCert>,
    admin: bool,
}

impl Default for EdgeBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EdgeBuilder {
    /// An edge with nothing to serve yet, public, uncached, plain HTTP.
    ///
    /// ```
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new();
    /// # let _ = builder;
    /// ```
    pub fn new() -> Self {
        Self {
            routing: Routing::Origin(None),
            signer: None,
            verifier: None,
            scheme: None,
            configure: None,
            cache: None,
            ttl: TtlPolicy::default(),
            metrics: Metrics::new(),
            observed: false,
            access_log: None,
            limits: Limits::default(),
            tls: None,
            admin: false,
        }
    }

    /// Serves the files under `root` (a [`DirectoryOrigin`]).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path());
    /// # let _ = builder;
    /// ```
    ///
    /// # Panics
    ///
    /// If `root` is not a directory.
    pub fn directory(self, root: &Path) -> Self {
        let origin = DirectoryOrigin::new(root)
            .unwrap_or_else(|e| panic!("a directory origin over {}: {e}", root.display()));
        self.origin(Arc::new(origin))
    }

    /// Serves everything from `origin` (one behavior, `/*`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use cfsign_edge::origin::HttpOrigin;
    ///
    /// let origin = HttpOrigin::new("http://127.0.0.1:9", std::time::Duration::from_secs(1)).unwrap();
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().origin(Arc::new(origin));
    /// # let _ = builder;
    /// ```
    pub fn origin(mut self, origin: Arc<dyn Origin>) -> Self {
        self.routing = Routing::Origin(Some(origin));
        self
    }

    /// Serves these behaviors as they are: their own origins, access checks
    /// and TTLs (what [`EdgeBuilder::verifier`], [`EdgeBuilder::scheme`],
    /// [`EdgeBuilder::access`] and [`EdgeBuilder::ttl`] would set is not used).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use cfsign_edge::cache::TtlPolicy;
    /// use cfsign_edge::origin::DirectoryOrigin;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let origin = Arc::new(DirectoryOrigin::new(dir.path()).unwrap());
    /// let behaviors = cfsign_testkit::edge::behaviors(origin, None, TtlPolicy::default());
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().behaviors(behaviors);
    /// # let _ = builder;
    /// ```
    pub fn behaviors(mut self, behaviors: Behaviors) -> Self {
        self.routing = Routing::Behaviors(Box::new(behaviors));
        self
    }

    /// Serves what the configuration describes (behaviors, cache, `[tls]`), as
    /// [`Edge::from_config`] builds it.
    ///
    /// ```
    /// use cfsign_edge::config::ConfigFile;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::create_dir(dir.path().join("media")).unwrap();
    /// let file = dir.path().join("edge.toml");
    /// std::fs::write(&file, "[origins.m]\ntype = \"directory\"\nroot = \"media\"\n\
    ///     [default_behavior]\norigin = \"m\"\nrestricted = false\n").unwrap();
    /// let config = ConfigFile::read(&file).unwrap().load(dir.path()).unwrap();
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().config(config);
    /// # let _ = builder;
    /// ```
    pub fn config(mut self, config: EdgeConfig) -> Self {
        self.routing = Routing::Config(Box::new(config));
        self
    }

    /// Restricts the edge to URLs and cookies signed by `signer`, and keeps
    /// it for [`RunningEdge::signed`]. (With [`EdgeBuilder::behaviors`] or
    /// [`EdgeBuilder::config`], only kept.)
    ///
    /// ```
    /// use cfsign_testkit::signer::TestSigner;
    ///
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().signer(TestSigner::new("KA"));
    /// # let _ = builder;
    /// ```
    pub fn signer(mut self, signer: TestSigner) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Restricts the edge to what `verifier` allows (instead of the
    /// [`EdgeBuilder::signer`]'s own verifier).
    ///
    /// ```
    /// use cfsign_edge::access::SharedVerifier;
    /// use cfsign_testkit::signer::TestSigner;
    ///
    /// let keys = TestSigner::new("KA");
    /// let verifier = SharedVerifier::new(keys.verifier().with_signature_cache(1000));
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().signer(keys).verifier(verifier);
    /// # let _ = builder;
    /// ```
    pub fn verifier(mut self, verifier: SharedVerifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// The scheme of the viewer URLs the access check rebuilds (default: `https`
    /// over TLS, else `http`).
    ///
    /// ```
    /// use cfsign_edge::access::Scheme;
    ///
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().scheme(Scheme::Https);
    /// # let _ = builder;
    /// ```
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = Some(scheme);
        self
    }

    /// Adjusts the access check, e.g. a public base URL or a fixed clock.
    ///
    /// ```
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new()
    ///     .access(|access| access.public_base_url("https://cdn.example.com"));
    /// # let _ = builder;
    /// ```
    pub fn access(
        mut self,
        configure: impl FnOnce(AccessConfig) -> AccessConfig + Send + 'static,
    ) -> Self {
        self.configure = Some(Box::new(configure));
        self
    }

    /// Serves through `cache` (a clone: the test keeps a handle to look into it).
    ///
    /// ```
    /// use cfsign_edge::cache::{CacheSettings, ObjectCache};
    ///
    /// let cache = ObjectCache::new(CacheSettings::default());
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().cache(cache.clone());
    /// # let _ = builder;
    /// ```
    pub fn cache(mut self, cache: ObjectCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// How long cached objects stay fresh.
    ///
    /// ```
    /// use cfsign_edge::cache::TtlPolicy;
    ///
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().ttl(TtlPolicy::new(0, 1, 1).unwrap());
    /// # let _ = builder;
    /// ```
    pub fn ttl(mut self, ttl: TtlPolicy) -> Self {
        self.ttl = ttl;
        self
    }

    /// Counts into `metrics` (the edge's, the server's and the admin listener's).
    ///
    /// ```
    /// use cfsign_edge::observe::Metrics;
    ///
    /// let metrics = Metrics::new();
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().metrics(metrics.clone());
    /// # let _ = builder;
    /// ```
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Serves the edge under its observability layer ([`Edge::observed`]),
    /// which counts requests, without an access log.
    ///
    /// ```
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().observed();
    /// # let _ = builder;
    /// ```
    pub fn observed(mut self) -> Self {
        self.observed = true;
        self
    }

    /// Serves the edge under its observability layer, logging to `log`.
    ///
    /// ```
    /// use cfsign_edge::observe::AccessLogFormat;
    /// use cfsign_testkit::edge::{BufferedLog, EdgeBuilder};
    ///
    /// let log = BufferedLog::new(AccessLogFormat::Json);
    /// let builder = EdgeBuilder::new().access_log(log.log());
    /// # let _ = builder;
    /// ```
    pub fn access_log(mut self, log: AccessLog) -> Self {
        self.observed = true;
        self.access_log = Some(log);
        self
    }

    /// The server's limits.
    ///
    /// ```
    /// use cfsign_edge::server::Limits;
    ///
    /// let limits = Limits { max_connections: 2, ..Limits::default() };
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().limits(limits);
    /// # let _ = builder;
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Serves HTTPS with `cert` (its files are written to a temporary folder,
    /// [`RunningEdge::cert_file`]); the base URL becomes `https://localhost:PORT`.
    ///
    /// ```
    /// let cert = cfsign_testkit::tls::self_signed(&["localhost"]);
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().tls(cert);
    /// # let _ = builder;
    /// ```
    pub fn tls(mut self, cert: TestCert) -> Self {
        self.tls = Some(cert);
        self
    }

    /// Starts the admin listener too (`/healthz`, `/readyz`, `/metrics`, `POST
    /// /invalidations` on the edge's cache), on a port of its own.
    ///
    /// ```
    /// let builder = cfsign_testkit::edge::EdgeBuilder::new().admin();
    /// # let _ = builder;
    /// ```
    pub fn admin(mut self) -> Self {
        self.admin = true;
        self
    }

    /// Builds the edge and serves it (and the admin listener) on free ports of 127.0.0.1.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dir = tempfile::tempdir().unwrap();
    /// let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).start().await;
    /// assert!(edge.base().starts_with("http://127.0.0.1:"));
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If nothing is given to serve, or the TLS files do not load.
    pub async fn start(self) -> RunningEdge {
        let mut tls = None;
        let mut cert = None;
        let mut files = None;
        if let Some(test_cert) = self.tls {
            let dir = tempfile::tempdir().expect("a temporary folder for the TLS files");
            let (cert_file, key_file) = test_cert.write(dir.path(), "edge");
            let certificate = TlsCertificate::load(&cert_file, &key_file)
                .unwrap_or_else(|e| panic!("the test certificate: {e}"));
            tls = Some(EdgeTls::new(&certificate).unwrap_or_else(|e| panic!("{e}")));
            cert = Some((test_cert, cert_file));
            files = Some(dir);
        }
        let scheme = self.scheme.unwrap_or(if tls.is_some() {
            Scheme::Https
        } else {
            Scheme::Http
        });
        let edge = match self.routing {
            Routing::Origin(origin) => {
                let origin = origin.expect(
                    "an EdgeBuilder needs something to serve: .directory(), .origin(), \
                     .behaviors() or .config()",
                );
                let verifier = self
                    .verifier
                    .or_else(|| self.signer.as_ref().map(TestSigner::shared_verifier));
                let access = verifier.map(|verifier| {
                    let access = AccessConfig::new(verifier, scheme);
                    match self.configure {
                        Some(configure) => configure(access),
                        None => access,
                    }
                });
                Edge::new(
                    &behaviors(origin, access, self.ttl),
                    self.cache,
                    self.metrics.clone(),
                )
            }
            Routing::Behaviors(behaviors) => {
                Edge::new(&behaviors, self.cache, self.metrics.clone())
            }
            Routing::Config(config) => {
                if let Some(certificate) = &config.tls {
                    tls = Some(EdgeTls::new(certificate).unwrap_or_else(|e| panic!("{e}")));
                }
                Edge::from_config(&config, self.metrics.clone())
            }
        };
        let mut options = ServeOptions::default()
            .limits(self.limits)
            .metrics(self.metrics.clone());
        if let Some(tls) = &tls {
            options = options.tls(tls.clone());
        }
        let server = if self.observed {
            RunningServer::start(edge.observed(self.access_log), options).await
        } else {
            RunningServer::start(edge.clone(), options).await
        };
        let admin = if self.admin {
            let router = admin::edge_router(&edge);
            let options = ServeOptions::default().limits(admin::limits());
            Some(RunningServer::start(router, options).await)
        } else {
            None
        };
        RunningEdge {
            server,
            admin,
            edge,
            metrics: self.metrics,
            signer: self.signer,
            tls,
            cert,
            _files: files,
        }
    }
}

/// An edge serving on 127.0.0.1, stopped by [`RunningEdge::stop`] (or on drop,
/// see [`RunningServer`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let dir = tempfile::tempdir().unwrap();
/// let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).start().await;
/// assert_eq!(edge.url("/a.txt"), format!("http://{}/a.txt", edge.addr()));
/// edge.stop().await;
/// # }
/// ```
pub struct RunningEdge {
    server: RunningServer,
    admin: Option<RunningServer>,
    edge: Edge,
    metrics: Metrics,
    signer: Option<TestSigner>,
    tls: Option<EdgeTls>,
    cert: Option<(TestCert, std::path::PathBuf)>,
    _files: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for RunningEdge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEdge")
            .field("base", &self.server.base())
            .field("admin", &self.admin.as_ref().map(RunningServer::base))
            .finish_non_exhaustive()
    }
}

impl RunningEdge {
    /// The address the edge listens on.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).start().await;
    /// assert!(edge.addr().ip().is_loopback());
    /// # }
    /// ```
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT`, or `https://localhost:PORT` over TLS.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let edge = cfsign_testkit::edge::EdgeBuilder::new()
    ///     .directory(dir.path())
    ///     .tls(cfsign_testkit::tls::self_signed(&["localhost"]))
    ///     .start()
    ///     .await;
    /// assert_eq!(edge.base(), format!("https://localhost:{}", edge.addr().port()));
    /// # }
    /// ```
    #[must_use]
    pub fn base(&self) -> &str {
        self.server.base()
    }

    /// The URL of `path` (which starts with `/`) on this edge.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).start().await;
    /// assert_eq!(edge.url("/media/a.txt"), format!("{}/media/a.txt", edge.base()));
    /// # }
    /// ```
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// The URL of `path` on this edge, signed by the [`EdgeBuilder::signer`]
    /// with a canned policy expiring `expires_in` seconds from now (negative:
    /// already expired).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let edge = cfsign_testkit::edge::EdgeBuilder::new()
    ///     .directory(dir.path())
    ///     .signer(cfsign_testkit::signer::TestSigner::new("KA"))
    ///     .start()
    ///     .await;
    /// assert!(edge.signed("/a.txt", 60).contains("Key-Pair-Id=KA"));
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the edge was built without a signer.
    #[must_use]
    pub fn signed(&self, path: &str, expires_in: i64) -> String {
        self.signer().sign_url(&self.url(path), expires_in)
    }

    /// The [`EdgeBuilder::signer`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let edge = cfsign_testkit::edge::EdgeBuilder::new()
    ///     .directory(dir.path())
    ///     .signer(cfsign_testkit::signer::TestSigner::new("KA"))
    ///     .start()
    ///     .await;
    /// assert_eq!(edge.signer().id().as_str(), "KA");
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the edge was built without one.
    #[must_use]
    pub fn signer(&self) -> &TestSigner {
        self.signer
            .as_ref()
            .expect("the edge was built without .signer(...)")
    }

    /// The edge service itself (its cache, its metrics).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).start().await;
    /// assert!(edge.edge().cache().is_none());
    /// # }
    /// ```
    #[must_use]
    pub fn edge(&self) -> &Edge {
        &self.edge
    }

    /// The metrics the edge, its server and its admin listener count into.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).start().await;
    /// assert!(edge.metrics().encode().contains("cfsign_edge_connections 0\n"));
    /// # }
    /// ```
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The TLS state the edge serves with (to [`EdgeTls::replace`] the certificate).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path())
    /// #     .tls(cfsign_testkit::tls::self_signed(&["localhost"])).start().await;
    /// assert_eq!(edge.tls().chain()[0].as_ref(), &edge.cert().der[..]);
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the edge serves plain HTTP.
    #[must_use]
    pub fn tls(&self) -> &EdgeTls {
        self.tls.as_ref().expect("the edge serves plain HTTP")
    }

    /// The [`EdgeBuilder::tls`] certificate.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let cert = cfsign_testkit::tls::self_signed(&["localhost"]);
    /// let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).tls(cert.clone()).start().await;
    /// let reply = cfsign_testkit::tls::get(edge.addr(), "localhost", "/", &[edge.cert()]).await.unwrap();
    /// assert_eq!(reply.peer_certificate, cert.der);
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the edge was not given one.
    #[must_use]
    pub fn cert(&self) -> &TestCert {
        &self
            .cert
            .as_ref()
            .expect("the edge was built without .tls(...)")
            .0
    }

    /// The PEM file of the [`EdgeBuilder::tls`] certificate (a CA file for curl).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path())
    /// #     .tls(cfsign_testkit::tls::self_signed(&["localhost"])).start().await;
    /// assert_eq!(std::fs::read_to_string(edge.cert_file()).unwrap(), edge.cert().cert_pem);
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the edge was not given one.
    #[must_use]
    pub fn cert_file(&self) -> &Path {
        &self
            .cert
            .as_ref()
            .expect("the edge was built without .tls(...)")
            .1
    }

    /// The admin listener's address.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).admin().start().await;
    /// assert_ne!(edge.admin_addr(), edge.addr());
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the edge was built without [`EdgeBuilder::admin`].
    #[must_use]
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_server().addr()
    }

    /// `http://127.0.0.1:PORT` of the admin listener.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).admin().start().await;
    /// assert_eq!(edge.admin_base(), format!("http://{}", edge.admin_addr()));
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the edge was built without [`EdgeBuilder::admin`].
    #[must_use]
    pub fn admin_base(&self) -> &str {
        self.admin_server().base()
    }

    fn admin_server(&self) -> &RunningServer {
        self.admin
            .as_ref()
            .expect("the edge was built without .admin()")
    }

    /// Tells the edge (and its admin listener) to stop; returns at once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let mut edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).start().await;
    /// edge.signal_stop();
    /// assert!(matches!(edge.stopped(std::time::Duration::from_secs(10)).await, Ok(Ok(Ok(())))));
    /// # }
    /// ```
    pub fn signal_stop(&mut self) {
        self.server.signal_stop();
        if let Some(admin) = &mut self.admin {
            admin.signal_stop();
        }
    }

    /// Waits at most `bound` for the edge's server to end, after
    /// [`RunningEdge::signal_stop`]: what it ended with (see [`RunningServer::stopped`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let mut edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).start().await;
    /// assert!(edge.stopped(std::time::Duration::from_millis(10)).await.is_err(), "still running");
    /// # }
    /// ```
    pub async fn stopped(&mut self, bound: Duration) -> Stopped {
        self.server.stopped(bound).await
    }

    /// Stops the edge and its admin listener and waits until both have,
    /// cleanly, each within [`crate::server::STOP_TIMEOUT`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let edge = cfsign_testkit::edge::EdgeBuilder::new().directory(dir.path()).admin().start().await;
    /// edge.stop().await;
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If either does not stop in time, or failed.
    pub async fn stop(self) {
        self.server.stop().await;
        if let Some(admin) = self.admin {
            admin.stop().await;
        }
    }
}

/// An access log written to memory, for a test to read its lines.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cfsign_edge::observe::AccessLogFormat;
/// use cfsign_testkit::edge::{BufferedLog, EdgeBuilder};
///
/// let dir = tempfile::tempdir().unwrap();
/// let log = BufferedLog::new(AccessLogFormat::Json);
/// let edge = EdgeBuilder::new().directory(dir.path()).access_log(log.log()).start().await;
/// cfsign_testkit::http::get(&edge.url("/none.txt"), &[]).await;
/// let lines = log.lines(1).await;
/// assert!(lines[0].contains("\"sc-status\":404"), "{lines:?}");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BufferedLog {
    log: AccessLog,
    buffer: LogBuffer,
}

/// The bytes an access log wrote.
#[derive(Debug, Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("the log buffer's lock")
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl BufferedLog {
    /// A log in `format`, into memory.
    ///
    /// ```
    /// let log = cfsign_testkit::edge::BufferedLog::new(cfsign_edge::observe::AccessLogFormat::Text);
    /// # let _ = log;
    /// ```
    ///
    /// # Panics
    ///
    /// If the log's writer thread cannot be started.
    #[must_use]
    pub fn new(format: AccessLogFormat) -> Self {
        let buffer = LogBuffer::default();
        let log = AccessLog::new(format, buffer.clone()).expect("the access log's writer thread");
        Self { log, buffer }
    }

    /// The log, for [`EdgeBuilder::access_log`].
    ///
    /// ```
    /// let log = cfsign_testkit::edge::BufferedLog::new(cfsign_edge::observe::AccessLogFormat::Text);
    /// assert!(log.log().flush(std::time::Duration::from_secs(1)));
    /// ```
    #[must_use]
    pub fn log(&self) -> AccessLog {
        self.log.clone()
    }

    /// The lines logged so far, once there are at least `n` (or after 10 s).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let log = cfsign_testkit::edge::BufferedLog::new(cfsign_edge::observe::AccessLogFormat::Text);
    /// assert!(log.lines(0).await.is_empty());
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If the log cannot be flushed within 5 s, or is not UTF-8.
    pub async fn lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(self.log.flush(Duration::from_secs(5)));
            let bytes = self.buffer.0.lock().expect("the log buffer's lock").clone();
            let text = String::from_utf8(bytes).expect("the access log is UTF-8");
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
