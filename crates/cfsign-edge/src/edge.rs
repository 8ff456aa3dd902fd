//! The edge: a request flows one way through it.
//!
//! 1. **route**: the first behavior whose path pattern matches the request path,
//!    or the default ([`Behaviors::position`]);
//! 2. **access**: for a restricted behavior, the signed-access check
//!    ([`access`]): a denial ends here with CloudFront's 403; an
//!    allowed request goes on without its signing parameters. A public behavior
//!    only checks that the request names a valid authority;
//! 3. **cache and origin**: [`respond()`] answers from the behavior's origin,
//!    which is a [`CachedOrigin`](crate::cache::CachedOrigin) when the edge has a
//!    cache.
//!
//! [`Edge`] is that pipeline as a tower `Service`; observability
//! ([`ObserveLayer`]) is a layer around it, reading the typed
//! [outcome](crate::outcome) the stages leave in the response; the
//! [`server`](crate::server) accepts connections and hands it requests.
//! Behaviors can be replaced while serving ([`Edge::replace`], e.g. on SIGHUP):
//! one atomic swap, requests in flight finish with the behaviors they started
//! with.
//!
//! ```no_run
//! use cfsign_edge::edge::Edge;
//! use cfsign_edge::observe::{AccessLog, AccessLogFormat, Metrics};
//! use cfsign_edge::server::{self, ServeOptions};
//! # async fn run(config: cfsign_edge::config::EdgeConfig) -> std::io::Result<()> {
//! let edge = Edge::from_config(&config, Metrics::new());
//! let log = AccessLog::stdout(AccessLogFormat::Text)?;
//! let listener = server::bind(config.listen, config.listen_backlog)?;
//! let options = ServeOptions::default().metrics(edge.metrics().clone());
//! server::serve(listener, edge.observed(Some(log)), options, server::shutdown_signal()).await
//! # }
//! ```

use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use axum::body::Body;
use cfsign::verify::Decision;
use futures_util::future::BoxFuture;
use http::{Request, Response};
use tower::Service;

use crate::access::{self, AccessConfig, denial_response, request_authority};
use crate::behavior::Behaviors;
use crate::cache::ObjectCache;
use crate::config::EdgeConfig;
use crate::manifests::{self, ViewerCredentials};
use crate::observe::{AccessLog, Metrics, Observe, ObserveLayer, TimedOrigin};
use crate::origin::Origin;
use crate::outcome::BehaviorLabel;
use crate::respond::{self, respond};

/// How long [`Edge::not_ready`] waits for each origin's check.
pub const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The edge's request pipeline (see the [module docs](self)); cheap to clone.
#[derive(Clone)]
pub struct Edge {
    routes: Arc<ArcSwap<Routes>>,
    cache: Option<ObjectCache>,
    metrics: Metrics,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("behaviors", &self.routes.load().behaviors)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// The behaviors and, in the same order, what serving each one needs.
struct Routes {
    behaviors: Behaviors,
    routes: Vec<Route>,
}

/// One behavior, ready to serve.
struct Route {
    label: BehaviorLabel,
    access: Option<AccessConfig>,
    /// The origin, timed into the metrics, behind the cache if there is one.
    origin: Arc<dyn Origin>,
    /// CloudFront's "compress objects automatically".
    compress: bool,
    /// Stamp viewers' credentials on the manifests they fetch.
    sign_manifests: bool,
}

impl Routes {
    fn new(behaviors: &Behaviors, cache: Option<&ObjectCache>, metrics: &Metrics) -> Self {
        let routes = behaviors
            .iter()
            .map(|b| {
                let timed: Arc<dyn Origin> =
                    Arc::new(TimedOrigin::new(Arc::clone(&b.origin), metrics.clone()));
                Route {
                    label: BehaviorLabel::new(b.pattern.as_str()),
                    access: b.access.clone().map(|a| a.observed(metrics.clone())),
                    origin: match cache {
                        Some(cache) => Arc::new(cache.wrap(timed, b.ttl)),
                        None => timed,
                    },
                    compress: b.compress,
                    sign_manifests: b.sign_manifests,
                }
            })
            .collect();
        Self {
            behaviors: behaviors.clone(),
            routes,
        }
    }

    fn select(&self, path: &str) -> &Route {
        &self.routes[self.behaviors.position(path)]
    }
}

impl Edge {
    /// An edge serving `behaviors`, through `cache` when given, counting into
    /// `metrics`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use cfsign_edge::behavior::{Behavior, Behaviors, PathPattern};
    /// use cfsign_edge::cache::TtlPolicy;
    /// use cfsign_edge::edge::Edge;
    /// use cfsign_edge::observe::Metrics;
    /// use cfsign_edge::origin::DirectoryOrigin;
    /// use tower::ServiceExt as _;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("a.txt"), "hello")?;
    /// let public = Behavior {
    ///     pattern: PathPattern::any(),
    ///     origin: Arc::new(DirectoryOrigin::new(dir.path())?),
    ///     origin_name: "files".to_owned(),
    ///     access: None,
    ///     ttl: TtlPolicy::default(),
    ///     compress: false,
    ///     sign_manifests: false,
    /// };
    /// let edge = Edge::new(&Behaviors::new(vec![], public), None, Metrics::new());
    /// let request = http::Request::get("/a.txt")
    ///     .header("host", "example.com")
    ///     .body(axum::body::Body::empty())?;
    /// let response = edge.oneshot(request).await?;
    /// assert_eq!(response.status(), 200);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn new(behaviors: &Behaviors, cache: Option<ObjectCache>, metrics: Metrics) -> Self {
        let routes = Routes::new(behaviors, cache.as_ref(), &metrics);
        if let Some(cache) = &cache {
            metrics.watch_cache(cache);
        }
        Self {
            routes: Arc::new(ArcSwap::from_pointee(routes)),
            cache,
            metrics,
        }
    }

    /// The edge a loaded configuration describes: its behaviors, and its cache
    /// if it has one.
    #[must_use]
    pub fn from_config(config: &EdgeConfig, metrics: Metrics) -> Self {
        Self::new(
            &config.behaviors,
            config.cache.map(ObjectCache::new),
            metrics,
        )
    }

    /// Replaces the behaviors; the object cache stays (entries of origins the
    /// new behaviors still use remain valid: see [`cache`](crate::cache)).
    pub fn replace(&self, behaviors: &Behaviors) {
        let routes = Routes::new(behaviors, self.cache.as_ref(), &self.metrics);
        self.routes.store(Arc::new(routes));
    }

    /// What keeps the edge from serving now, for the admin listener's
    /// `/readyz`: one line per origin (each once, however many behaviors use
    /// it) whose [`ready`](Origin::ready) check fails or takes more than
    /// [`READINESS_TIMEOUT`]; empty when every origin answers. The checks run
    /// concurrently, on the origins themselves (not through the cache).
    pub async fn not_ready(&self) -> Vec<String> {
        let routes = self.routes.load_full();
        let mut seen = std::collections::HashSet::new();
        let checks = routes
            .behaviors
            .iter()
            .filter(|b| seen.insert(b.origin.cache_identity()))
            .map(|b| async move {
                let problem = match tokio::time::timeout(READINESS_TIMEOUT, b.origin.ready()).await
                {
                    Ok(Ok(())) => return None,
                    Ok(Err(why)) => why,
                    Err(_) => format!("no answer within {}s", READINESS_TIMEOUT.as_secs()),
                };
                Some(format!(
                    "origin {} ({}, behavior {}): {problem}",
                    b.origin_name,
                    b.origin.kind(),
                    b.pattern.as_str()
                ))
            });
        futures_util::future::join_all(checks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// The object cache.
    #[must_use]
    pub fn cache(&self) -> Option<&ObjectCache> {
        self.cache.as_ref()
    }

    /// The metrics it counts into.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The edge wrapped in its observability layer (metrics, request ids, and
    /// the access log when given): what the server runs.
    #[must_use]
    pub fn observed(&self, log: Option<AccessLog>) -> Observe<Edge> {
        tower::Layer::layer(&ObserveLayer::new(self.metrics.clone(), log), self.clone())
    }
}

/// Steps 2 and 3 of the pipeline for one request.
async fn answer<B>(route: &Route, mut request: Request<B>) -> Response<Body> {
    // For sign_manifests: what the viewer was allowed with, and the URI it sent
    // (its query holds the parameters). Read only if the answer is a manifest.
    let mut viewer = None;
    match &route.access {
        Some(config) => match access::check(&request, config) {
            Err(e) => return respond::error(e),
            Ok((_, Decision::Denied(denial))) => return denial_response(&denial),
            Ok((uri, Decision::Allowed(allowed))) => {
                let sent = std::mem::replace(request.uri_mut(), uri);
                if route.sign_manifests {
                    viewer = Some((allowed, sent));
                }
            }
        },
        None => {
            if let Err(e) = request_authority(&request) {
                return respond::error(e.into());
            }
        }
    }
    // GET and HEAD carry no body the edge reads.
    let (parts, _) = request.into_parts();
    let Some((allowed, sent)) = viewer else {
        return respond(
            route.origin.as_ref(),
            &Request::from_parts(parts, ()),
            route.compress,
        )
        .await;
    };
    let manifest_path = manifests::is_manifest_path(parts.uri.path());
    let mut request = Request::from_parts(parts, ());
    // A manifest whose credentials pass down is fetched whole, and compressed
    // after the rewrite.
    let passes_down = manifest_path && ViewerCredentials::can_pass_down(&allowed).is_ok();
    if passes_down {
        manifests::prepare(&mut request);
    }
    let response = respond(
        route.origin.as_ref(),
        &request,
        route.compress && !passes_down,
    )
    .await;
    // The compression decision sees the request as it was answered: a range
    // a rewritten manifest ignores is gone.
    let viewer = manifests::Viewer {
        version: request.version(),
        method: request.method(),
        headers: request.headers(),
        manifest_path,
        allowed: &allowed,
        query: sent.query(),
    };
    manifests::sign(response, &viewer, route.compress).await
}

impl<B: Send + 'static> Service<Request<B>> for Edge {
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let routes = self.routes.load_full();
        Box::pin(async move {
            let route = routes.select(request.uri().path());
            let mut response = answer(route, request).await;
            response.extensions_mut().insert(route.label.clone());
            Ok(response)
        })
    }
}
