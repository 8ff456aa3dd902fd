//! The admin listener: health, metrics, invalidations and reloads, on a socket of its own.
//!
//! [`router`] serves:
//!
//! - `GET /healthz`: `200 ok` (liveness: the process answers);
//! - `GET /readyz`: readiness, for a load balancer or Kubernetes: `200 ready`
//!   when the configuration and keys are loaded (they are, once the edge
//!   exists) and every origin answers a cheap check ([`Edge::not_ready`]: a
//!   directory origin's root is a readable directory, an S3 or HTTP origin
//!   answers a `HEAD`, each within 2 s); otherwise `503` with one line per
//!   origin that is not ready, as plain text. Without an [`Edge`]
//!   ([`router`] rather than [`edge_router`]) there is nothing to check: `200`;
//! - `GET /metrics`: the [`Metrics`] in the OpenMetrics text format;
//! - `POST /invalidations` with `Content-Type: application/json` and a body
//!   `{"paths": ["/a.jpg", "/videos/*"]}` (at most [`MAX_BODY_BYTES`]): the
//!   paths are validated as CloudFront's `CreateInvalidation` validates them
//!   ([`InvalidationPaths`]) and every matching cached entry is dropped
//!   ([`ObjectCache::invalidate`]). Answers, all JSON: `200`
//!   `{"paths": N, "invalidated": M}` (M: the matching entries the cache held);
//!   `400` `{"error": ..., "index": I, "path": ...}` naming the first bad path
//!   (nothing is dropped then); `409` when the edge runs without a cache; `413`
//!   for a larger body; `415` without the JSON content type;
//! - `POST /reload` (no body; [`edge_router_with`] given a
//!   [`Reload`] hook, and an [`AdminToken`]): loads the
//!   configuration, keys, TLS certificate and admin token again, as SIGHUP
//!   does, through the same routine (one reload at a time). Answers, all JSON:
//!   `200` `{"reloaded": true, "behaviors": N, "tls_certificate": ..., "admin_token": ..., "changed": [FILE, ...], "not_applied": [SETTING, ...]}`
//!   ([`Reloaded`](crate::reload::Reloaded); `not_applied` names the changed
//!   settings only a restart applies, such as `listen` or `cache`, kept as
//!   they run while the rest is applied); `422` `{"reloaded": false, "error": ...}`
//!   when the new configuration cannot be used and `409` when it changes what
//!   only a restart changes (the running configuration keeps serving in both
//!   cases); `403` when no token is configured (it never reloads
//!   unauthenticated); `501` without a reload hook;
//! - anything else: `404` (`405` for another method on a known path).
//!
//! **Authentication.** With an [`AdminToken`] (the configuration's
//! `admin_token_file`), `POST /reload` and `POST /invalidations` require
//! `Authorization: Bearer TOKEN`; without it, or with another token, they
//! answer `401` with `WWW-Authenticate: Bearer` and do nothing. The token is
//! compared by its SHA-256 digest in constant time, and never logged or
//! echoed. Without a token, `POST /invalidations` stays open as it always was
//! (for compatibility) and `POST /reload` is refused. `GET /healthz`,
//! `/readyz` and `/metrics` are never authenticated: probes and Prometheus
//! read them.
//!
//! **Keep the admin listener private** all the same (loopback, or a network
//! only operators reach): it speaks plain HTTP, so the token crosses the
//! network in clear, and without a token anyone who can reach it can empty
//! the cache (sending every request to the origin); anyone can read the
//! metrics. Requiring `Content-Type: application/json` means a web page
//! cannot post an invalidation from a browser with a plain form (that needs a
//! CORS preflight, which this listener never allows). [`limits`] keeps it
//! small: a few connections, small heads.
//!
//! Every edge instance has its own cache: behind a load balancer, invalidate
//! every instance ([`InvalidationRequest::send`] to each admin address, as
//! `cfsign edge invalidate --admin URL --admin URL ...` does).
//!
//! ```no_run
//! use cfsign_edge::admin;
//! use cfsign_edge::cache::{CacheSettings, ObjectCache};
//! use cfsign_edge::observe::Metrics;
//! use cfsign_edge::server::{self, ServeOptions};
//!
//! # async fn run() -> std::io::Result<()> {
//! let metrics = Metrics::new();
//! let cache = ObjectCache::new(CacheSettings::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9901").await?;
//! server::serve(
//!     listener,
//!     admin::router(metrics, Some(cache)),
//!     ServeOptions::default().limits(admin::limits()),
//!     server::shutdown_signal(),
//! )
//! .await
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::json;

use crate::cache::ObjectCache;
use crate::cache::invalidation::{InvalidationError, InvalidationPaths};
use crate::edge::Edge;
use crate::observe::{CONTENT_TYPE, Metrics};
use crate::reload::{Reload, ReloadError, Trigger};
use crate::server::Limits;

mod token;

pub use token::{AdminAuth, AdminToken, AdminTokenError, MIN_TOKEN_CHARS, TOKEN_FILE};

/// The largest `POST /invalidations` body accepted (1 MiB: hundreds of paths of
/// ordinary length; split longer lists into several invalidations).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The path of the invalidation endpoint.
pub const INVALIDATIONS_PATH: &str = "/invalidations";

/// The path of the reload endpoint.
pub const RELOAD_PATH: &str = "/reload";

/// The largest answer the client reads.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What the admin handlers share.
#[derive(Clone)]
struct AdminState {
    metrics: Metrics,
    cache: Option<ObjectCache>,
    /// Whose origins `/readyz` checks.
    edge: Option<Edge>,
    /// The token `POST /reload` and `POST /invalidations` require.
    auth: AdminAuth,
    /// What `POST /reload` calls.
    reloader: Option<Arc<dyn Reload>>,
}

/// What [`edge_router_with`] adds to the plain admin endpoints: the token that
/// protects them and the hook `POST /reload` calls.
///
/// ```
/// use std::sync::Arc;
/// use cfsign_edge::admin::{AdminAuth, AdminOptions, AdminToken};
/// use cfsign_edge::reload::{Reload, ReloadError, ReloadFuture, Trigger};
///
/// struct Never;
/// impl Reload for Never {
///     fn reload(&self, _: Trigger) -> ReloadFuture<'_> {
///         Box::pin(async { Err(ReloadError::Invalid("not today".into())) })
///     }
/// }
/// let token = AdminToken::new("0123456789abcdef0123456789abcdef")?;
/// let options = AdminOptions::default()
///     .auth(AdminAuth::new(Some(token)))
///     .reloader(Arc::new(Never));
/// # let _ = options;
/// # Ok::<(), cfsign_edge::admin::AdminTokenError>(())
/// ```
#[derive(Clone, Default)]
pub struct AdminOptions {
    auth: AdminAuth,
    reloader: Option<Arc<dyn Reload>>,
}

impl AdminOptions {
    /// Require this token (shared: a reload may replace it).
    #[must_use]
    pub fn auth(mut self, auth: AdminAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Serve `POST /reload` by calling `reloader`.
    #[must_use]
    pub fn reloader(mut self, reloader: Arc<dyn Reload>) -> Self {
        self.reloader = Some(reloader);
        self
    }
}

impl std::fmt::Debug for AdminOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminOptions")
            .field("auth", &self.auth)
            .field("reloader", &self.reloader.is_some())
            .finish()
    }
}

/// The admin endpoints (see the [module documentation](self)) over `metrics`
/// and the edge's cache (`None` when it runs without one: invalidations then
/// answer `409`).
///
/// ```
/// use cfsign_edge::admin;
/// use cfsign_edge::cache::{CacheSettings, ObjectCache};
/// use cfsign_edge::observe::Metrics;
/// use http_body_util::BodyExt as _;
/// use tower::ServiceExt as _;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let cache = ObjectCache::new(CacheSettings::default());
/// let admin = admin::router(Metrics::new(), Some(cache));
/// let request = http::Request::post("/invalidations")
///     .header("content-type", "application/json")
///     .body(axum::body::Body::from(r#"{"paths": ["/videos/*"]}"#))
///     .unwrap();
/// let response = admin.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 200);
/// let body = response.into_body().collect().await.unwrap().to_bytes();
/// let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
/// assert_eq!(answer, serde_json::json!({"paths": 1, "invalidated": 0}));
/// # }
/// ```
pub fn router(metrics: Metrics, cache: Option<ObjectCache>) -> Router {
    build(AdminState {
        metrics,
        cache,
        edge: None,
        auth: AdminAuth::default(),
        reloader: None,
    })
}

/// The admin endpoints of `edge`: its metrics and cache, and `/readyz`
/// checking its origins (see the [module documentation](self)).
///
/// ```
/// use std::sync::Arc;
/// use cfsign_edge::admin;
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
/// let request = http::Request::get("/readyz").body(axum::body::Body::empty())?;
/// let response = admin::edge_router(&edge).oneshot(request).await?;
/// assert_eq!(response.status(), 200);
/// # Ok(())
/// # }
/// ```
pub fn edge_router(edge: &Edge) -> Router {
    edge_router_with(edge, AdminOptions::default())
}

/// [`edge_router`] with a token and a reload hook: `POST /reload` and, with a
/// token, `POST /invalidations` require `Authorization: Bearer TOKEN` (see the
/// [module documentation](self)).
///
/// ```
/// use std::sync::Arc;
/// use cfsign_edge::admin::{self, AdminAuth, AdminOptions, AdminToken};
/// use cfsign_edge::reload::{Reload, ReloadFuture, Reloaded, Trigger};
/// use tower::ServiceExt as _;
///
/// struct Counted;
/// impl Reload for Counted {
///     fn reload(&self, _: Trigger) -> ReloadFuture<'_> {
///         Box::pin(async { Ok(Reloaded { behaviors: 1, ..Reloaded::default() }) })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let edge = cfsign_testkit::edge::edge(
/// #     Arc::new(cfsign_edge::origin::DirectoryOrigin::new(dir.path())?), None);
/// let secret = "0123456789abcdef0123456789abcdef";
/// let options = AdminOptions::default()
///     .auth(AdminAuth::new(Some(AdminToken::new(secret)?)))
///     .reloader(Arc::new(Counted));
/// let admin = admin::edge_router_with(&edge, options);
/// let reload = |auth: &str| {
///     http::Request::post("/reload").header("authorization", auth).body(axum::body::Body::empty())
/// };
/// let refused = admin.clone().oneshot(reload("Bearer wrong")?).await?;
/// assert_eq!(refused.status(), 401);
/// assert!(refused.headers()["www-authenticate"].to_str()?.starts_with("Bearer"));
/// let done = admin.oneshot(reload(&format!("Bearer {secret}"))?).await?;
/// assert_eq!(done.status(), 200);
/// # Ok(())
/// # }
/// ```
pub fn edge_router_with(edge: &Edge, options: AdminOptions) -> Router {
    build(AdminState {
        metrics: edge.metrics().clone(),
        cache: edge.cache().cloned(),
        edge: Some(edge.clone()),
        auth: options.auth,
        reloader: options.reloader,
    })
}

fn build(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(scrape))
        .route(INVALIDATIONS_PATH, post(invalidations))
        .route(RELOAD_PATH, post(reload))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(state)
}

async fn readyz(State(state): State<AdminState>) -> Response {
    let not_ready = match &state.edge {
        Some(edge) => edge.not_ready().await,
        None => Vec::new(),
    };
    if not_ready.is_empty() {
        return "ready".into_response();
    }
    let mut body = String::from("not ready:\n");
    for line in not_ready {
        body.push_str(&line);
        body.push('\n');
    }
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}

/// Limits for the admin listener: a few connections, small heads, quick drain.
///
/// ```
/// assert_eq!(cfsign_edge::admin::limits().max_connections, 64);
/// ```
#[must_use]
pub fn limits() -> Limits {
    Limits {
        max_connections: 64,
        header_read_timeout: Duration::from_secs(10),
        max_concurrent_streams: 16,
        max_head_bytes: 8_192,
        drain_timeout: Duration::from_secs(5),
        send_timeout: Duration::from_secs(10),
    }
}

async fn scrape(State(state): State<AdminState>) -> impl IntoResponse {
    // The cache gauges read the cache as of its last applied evictions.
    if let Some(cache) = &state.cache {
        cache.settle().await;
    }
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        state.metrics.encode(),
    )
}

/// The body of `POST /invalidations`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InvalidationBody {
    paths: Vec<String>,
}

fn json_answer(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        value.to_string(),
    )
        .into_response()
}

fn json_error(status: StatusCode, message: &str) -> Response {
    json_answer(status, &json!({ "error": message }))
}

/// `WWW-Authenticate` of a request without credentials (RFC 6750).
const CHALLENGE: &str = "Bearer realm=\"cfsign edge admin\"";

/// `WWW-Authenticate` of a request with a wrong or malformed token.
const CHALLENGE_INVALID: &str = "Bearer realm=\"cfsign edge admin\", error=\"invalid_token\"";

/// `None` when no token is required or the request carries it; otherwise the
/// `401` to answer.
fn unauthorized(auth: &AdminAuth, headers: &http::HeaderMap) -> Option<Response> {
    let token = auth.token()?;
    let refuse = |challenge: &'static str, message: &str| {
        let mut response = json_error(StatusCode::UNAUTHORIZED, message);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        Some(response)
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return refuse(
            CHALLENGE,
            "this admin listener requires its token: send Authorization: Bearer TOKEN (the token in the edge's admin_token_file)",
        );
    };
    let presented = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credentials)| credentials.trim());
    match presented {
        Some(presented) if token.matches(presented) => None,
        Some(_) => refuse(
            CHALLENGE_INVALID,
            "the bearer token is not this admin listener's token (the one in the edge's admin_token_file)",
        ),
        None => refuse(
            CHALLENGE_INVALID,
            "the Authorization header is not \"Bearer TOKEN\"",
        ),
    }
}

async fn reload(State(state): State<AdminState>, headers: http::HeaderMap) -> Response {
    let Some(reloader) = state.reloader.clone() else {
        return json_error(
            StatusCode::NOT_IMPLEMENTED,
            "this admin listener cannot reload its edge (it was built without a reload hook)",
        );
    };
    if state.auth.token().is_none() {
        return json_error(
            StatusCode::FORBIDDEN,
            "POST /reload needs an admin token, and this edge has none: write one to a file readable by the \
             edge alone (e.g. `(umask 077; openssl rand -hex 32 > admin-token)`), set admin_token_file to \
             it in the configuration, and reload the edge by its signal or restart it",
        );
    }
    if let Some(refused) = unauthorized(&state.auth, &headers) {
        return refused;
    }
    // On a task of its own: a client that hangs up must not cut a reload short.
    let done = tokio::spawn(async move { reloader.reload(Trigger::Admin).await }).await;
    match done {
        Ok(Ok(reloaded)) => {
            let mut answer = json!({ "reloaded": true });
            if let (Some(map), Ok(serde_json::Value::Object(details))) =
                (answer.as_object_mut(), serde_json::to_value(&reloaded))
            {
                map.extend(details);
            }
            json_answer(StatusCode::OK, &answer)
        }
        Ok(Err(e)) => {
            let status = match e {
                ReloadError::NeedsRestart(_) => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            json_answer(
                status,
                &json!({
                    "reloaded": false,
                    "error": e.to_string(),
                    "running": "the configuration that was running is kept",
                }),
            )
        }
        Err(_) => json_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "reloaded": false, "error": "the reload did not complete; the running configuration is kept" }),
        ),
    }
}

async fn invalidations(State(state): State<AdminState>, request: Request) -> Response {
    if let Some(refused) = unauthorized(&state.auth, request.headers()) {
        return refused;
    }
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the paths as JSON, with Content-Type: application/json: {\"paths\": [\"/a.jpg\", \"/videos/*\"]}",
        );
    }
    let body = match axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "the body is larger than {MAX_BODY_BYTES} bytes: split the paths into several invalidations, or use a wildcard such as /videos/*"
                ),
            );
        }
    };
    let parsed: InvalidationBody = match serde_json::from_slice(&body) {
        Ok(parsed) => parsed,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "the body is not {{\"paths\": [\"/a.jpg\", ...]}}: {e} (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            );
        }
    };
    let paths = match InvalidationPaths::parse(&parsed.paths) {
        Ok(paths) => paths,
        Err(e) => {
            let mut answer = json!({ "error": e.to_string() });
            if let Some((index, shown)) = e.path() {
                answer["index"] = json!(index);
                answer["path"] = json!(shown);
            }
            return json_answer(StatusCode::BAD_REQUEST, &answer);
        }
    };
    let Some(cache) = &state.cache else {
        return json_error(
            StatusCode::CONFLICT,
            "this edge runs without an object cache, so there is nothing to invalidate (the cache is on unless [cache] max_bytes is 0)",
        );
    };
    // Scanning the entries is synchronous work proportional to their number:
    // off the async workers.
    let (cache, count) = (cache.clone(), paths.len());
    let Ok(invalidated) = tokio::task::spawn_blocking(move || cache.invalidate(&paths)).await
    else {
        return json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the invalidation did not complete: send it again",
        );
    };
    json_answer(
        StatusCode::OK,
        &json!({ "paths": count, "invalidated": invalidated }),
    )
}

/// What an edge instance answered to an invalidation.
///
/// ```
/// let answer: cfsign_edge::admin::Invalidated =
///     serde_json::from_str(r#"{"paths": 2, "invalidated": 5}"#)?;
/// assert_eq!((answer.paths, answer.invalidated), (2, 5));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Invalidated {
    /// How many paths it received.
    pub paths: u64,
    /// How many matching entries its cache held (and dropped).
    pub invalidated: u64,
}

/// Why an invalidation could not be sent to an admin listener, or was refused.
///
/// ```
/// use cfsign_edge::admin::{AdminClientError, invalidations_url};
///
/// let err = invalidations_url("localhost:9901").unwrap_err();
/// assert!(matches!(err, AdminClientError::BadUrl { .. }));
/// assert!(err.to_string().contains("http://HOST:PORT"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminClientError {
    /// The paths are invalid (nothing was sent).
    #[error(transparent)]
    Paths(#[from] InvalidationError),
    /// The JSON body would be larger than the endpoint accepts.
    #[error(
        "the paths make a body of {bytes} bytes, more than the {MAX_BODY_BYTES} an admin listener accepts: split them into several invalidations, or use a wildcard such as /videos/*"
    )]
    TooLarge {
        /// The body's size.
        bytes: usize,
    },
    /// Not an `http://` URL of an admin listener.
    #[error("admin URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong, and the fix.
        reason: &'static str,
    },
    /// No connection, or the connection failed.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The invalidation URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// No complete answer in time.
    #[error("no answer from {url} within {timeout:?}")]
    Timeout {
        /// The invalidation URL.
        url: String,
        /// The time allowed.
        timeout: Duration,
    },
    /// The listener refused the invalidation.
    #[error("{url} answered {status}: {message}")]
    Refused {
        /// The invalidation URL.
        url: String,
        /// Its status.
        status: StatusCode,
        /// Its error message (or the start of its body).
        message: String,
    },
    /// A `200` whose body is not `{"paths": N, "invalidated": M}`.
    #[error("{url} answered 200 with an unexpected body: {reason}")]
    BadAnswer {
        /// The invalidation URL.
        url: String,
        /// Why it could not be read.
        reason: String,
    },
}

/// The invalidation endpoint of an admin listener's base URL: `http://HOST:PORT`
/// (a path prefix is kept, a trailing `/` is not doubled).
///
/// ```
/// use cfsign_edge::admin::invalidations_url;
///
/// assert_eq!(invalidations_url("http://127.0.0.1:9901")?.to_string(), "http://127.0.0.1:9901/invalidations");
/// assert_eq!(invalidations_url("http://edge-1:9901/admin/")?.to_string(), "http://edge-1:9901/admin/invalidations");
/// assert!(invalidations_url("127.0.0.1:9901").is_err());
/// # Ok::<(), cfsign_edge::admin::AdminClientError>(())
/// ```
pub fn invalidations_url(admin: &str) -> Result<Uri, AdminClientError> {
    let bad = |reason| AdminClientError::BadUrl {
        url: admin.to_owned(),
        reason,
    };
    let uri: Uri = admin
        .parse()
        .map_err(|_| bad("not a URL; write it as http://HOST:PORT, e.g. http://127.0.0.1:9901"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(_) => {
            return Err(bad(
                "admin listeners speak plain http://; write http://HOST:PORT",
            ));
        }
        None => {
            return Err(bad(
                "no scheme; write it as http://HOST:PORT, e.g. http://127.0.0.1:9901",
            ));
        }
    }
    let Some(authority) = uri.authority() else {
        return Err(bad("no host; write it as http://HOST:PORT"));
    };
    if uri.query().is_some() {
        return Err(bad("an admin URL has no query; write http://HOST:PORT"));
    }
    let base = uri.path().trim_end_matches('/');
    format!("http://{authority}{base}{INVALIDATIONS_PATH}")
        .parse()
        .map_err(|_| bad("not a URL; write it as http://HOST:PORT"))
}

/// An invalidation ready to be posted to admin listeners: the paths validated
/// and the body built once, so that a mistake is found before anything is sent.
///
/// ```no_run
/// use std::time::Duration;
/// use cfsign_edge::admin::InvalidationRequest;
/// use cfsign_edge::cache::invalidation::InvalidationPaths;
///
/// # async fn run() -> Result<(), cfsign_edge::admin::AdminClientError> {
/// let request = InvalidationRequest::new(&InvalidationPaths::parse(&["/videos/*"])?)?;
/// for admin in ["http://10.0.0.1:9901", "http://10.0.0.2:9901"] {
///     let answer = request.send(admin, Duration::from_secs(10)).await?;
///     println!("{admin}: {} entries dropped", answer.invalidated);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct InvalidationRequest {
    body: Bytes,
    token: Option<AdminToken>,
}

impl InvalidationRequest {
    /// The request for `paths`; refused if its body would exceed [`MAX_BODY_BYTES`].
    ///
    /// ```
    /// use cfsign_edge::admin::InvalidationRequest;
    /// use cfsign_edge::cache::invalidation::InvalidationPaths;
    ///
    /// let paths = InvalidationPaths::parse(&["/a.jpg"])?;
    /// assert_eq!(InvalidationRequest::new(&paths)?.body(), r#"{"paths":["/a.jpg"]}"#.as_bytes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(paths: &InvalidationPaths) -> Result<Self, AdminClientError> {
        let body = json!({ "paths": paths.paths().collect::<Vec<_>>() }).to_string();
        if body.len() > MAX_BODY_BYTES {
            return Err(AdminClientError::TooLarge { bytes: body.len() });
        }
        Ok(Self {
            body: Bytes::from(body),
            token: None,
        })
    }

    /// Sends `Authorization: Bearer TOKEN`, for admin listeners that require
    /// their token.
    ///
    /// ```
    /// use cfsign_edge::admin::{AdminToken, InvalidationRequest};
    /// use cfsign_edge::cache::invalidation::InvalidationPaths;
    ///
    /// let token = AdminToken::new("0123456789abcdef0123456789abcdef")?;
    /// let request = InvalidationRequest::new(&InvalidationPaths::parse(&["/a.jpg"])?)?.with_token(token);
    /// assert!(!format!("{request:?}").contains("0123"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_token(mut self, token: AdminToken) -> Self {
        self.token = Some(token);
        self
    }

    /// The JSON body.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Posts the invalidation to the admin listener at `admin` (`http://HOST:PORT`,
    /// see [`invalidations_url`]); the whole exchange is bounded by `timeout`.
    pub async fn send(
        &self,
        admin: &str,
        timeout: Duration,
    ) -> Result<Invalidated, AdminClientError> {
        let uri = invalidations_url(admin)?;
        let url = uri.to_string();
        let mut request = http::Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.token {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", token.secret())).map_err(|e| {
                    AdminClientError::Unreachable {
                        url: url.clone(),
                        reason: e.to_string(),
                    }
                })?;
            value.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, value);
        }
        let request = request.body(Full::new(self.body.clone())).map_err(|e| {
            AdminClientError::Unreachable {
                url: url.clone(),
                reason: e.to_string(),
            }
        })?;
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let exchange = async {
            let response =
                client
                    .request(request)
                    .await
                    .map_err(|e| AdminClientError::Unreachable {
                        url: url.clone(),
                        reason: error_chain(&e),
                    })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| AdminClientError::Unreachable {
                    url: url.clone(),
                    reason: format!("reading the answer: {e}"),
                })?
                .to_bytes();
            Ok::<_, AdminClientError>((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| AdminClientError::Timeout {
                url: url.clone(),
                timeout,
            })??;
        if status != StatusCode::OK {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                .unwrap_or_else(|| {
                    let text = String::from_utf8_lossy(&body);
                    cfsign::excerpt::Excerpt::start(text.trim()).to_string()
                });
            return Err(AdminClientError::Refused {
                url,
                status,
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|e| AdminClientError::BadAnswer {
            url,
            reason: e.to_string(),
        })
    }
}

/// An error and its causes, `: `-separated (hyper-util's client error alone
/// says only "client error (Connect)").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower::ServiceExt as _;

    use super::*;
    use crate::cache::{CacheSettings, TtlPolicy};
    use crate::origin::{DirectoryOrigin, ObjectKey, Origin};
    use std::sync::Arc;

    fn post(body: impl Into<Body>) -> Request {
        http::Request::post(INVALIDATIONS_PATH)
            .header("content-type", "application/json")
            .body(body.into())
            .unwrap()
    }

    async fn call(admin: &Router, request: Request) -> (StatusCode, serde_json::Value) {
        let response = admin.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn health_and_metrics() {
        let admin = router(Metrics::new(), None);
        let response = admin
            .clone()
            .oneshot(http::Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], CONTENT_TYPE);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let text = std::str::from_utf8(&body).unwrap();
        for name in [
            "cfsign_edge_cache",
            "cfsign_edge_response_bytes",
            "cfsign_edge_verification_seconds",
            "cfsign_edge_origin_seconds",
            "cfsign_edge_connections",
        ] {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}:\n{text}");
        }
        let response = admin
            .clone()
            .oneshot(http::Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        for (method, path, status) in [
            (Method::GET, "/other", StatusCode::NOT_FOUND),
            (
                Method::GET,
                INVALIDATIONS_PATH,
                StatusCode::METHOD_NOT_ALLOWED,
            ),
        ] {
            let request = http::Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap();
            let response = admin.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), status, "{path}");
        }
    }

    #[tokio::test]
    async fn invalidations_drop_cached_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jpg"), "a").unwrap();
        std::fs::write(dir.path().join("b.jpg"), "b").unwrap();
        let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(dir.path()).unwrap());
        let cache = ObjectCache::new(CacheSettings::default());
        let behavior = cache.wrap(origin, TtlPolicy::default());
        let key = |p: &str| ObjectKey::from_request_path(p).unwrap();
        for path in ["/a.jpg", "/b.jpg"] {
            behavior.get(&key(path), None).await.unwrap();
        }
        let held = |path: &'static str| {
            let behavior = behavior.clone();
            async move {
                behavior
                    .head(&key(path))
                    .await
                    .is_ok_and(|h| h.cached.is_some())
            }
        };
        let admin = router(Metrics::new(), Some(cache));

        // A bad path: 400 naming it, and nothing is dropped.
        let (status, answer) = call(&admin, post(r#"{"paths": ["/a.jpg", "/b*.jpg"]}"#)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["index"], 1);
        assert_eq!(answer["path"], "\"/b*.jpg\"");
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains("only as the last character"), "{message}");
        assert!(held("/a.jpg").await);

        let (status, answer) = call(&admin, post(r#"{"paths": ["/a.jpg"]}"#)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer, json!({"paths": 1, "invalidated": 1}));
        assert!(!held("/a.jpg").await);
        assert!(held("/b.jpg").await);

        let (status, answer) = call(&admin, post(r#"{"paths": ["/*", "/x.jpg"]}"#)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer, json!({"paths": 2, "invalidated": 1}));
        assert!(!held("/b.jpg").await);
    }

    #[tokio::test]
    async fn malformed_requests_are_refused_with_a_json_error() {
        let admin = router(
            Metrics::new(),
            Some(ObjectCache::new(CacheSettings::default())),
        );
        for (body, status, needle) in [
            ("not json", StatusCode::BAD_REQUEST, "is not {\"paths\""),
            (
                r#"{"path": ["/a"]}"#,
                StatusCode::BAD_REQUEST,
                "unknown field",
            ),
            (
                r#"{"paths": "/a"}"#,
                StatusCode::BAD_REQUEST,
                "invalid type",
            ),
            (
                r#"{"paths": []}"#,
                StatusCode::BAD_REQUEST,
                "no invalidation paths",
            ),
            (
                r#"{"paths": ["a.jpg"]}"#,
                StatusCode::BAD_REQUEST,
                "must start with '/'",
            ),
        ] {
            let (got, answer) = call(&admin, post(body)).await;
            assert_eq!(got, status, "{body}");
            let message = answer["error"].as_str().unwrap();
            assert!(message.contains(needle), "{body}: {message}");
        }
        let huge = format!(r#"{{"paths": ["/{}"]}}"#, "a".repeat(MAX_BODY_BYTES));
        let (status, answer) = call(&admin, post(huge)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("split the paths")
        );
        let plain = http::Request::post(INVALIDATIONS_PATH)
            .header("content-type", "text/plain")
            .body(Body::from(r#"{"paths": ["/a"]}"#))
            .unwrap();
        let (status, _) = call(&admin, plain).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let charset = http::Request::post(INVALIDATIONS_PATH)
            .header("content-type", "Application/JSON; charset=utf-8")
            .body(Body::from(r#"{"paths": ["/a"]}"#))
            .unwrap();
        let (status, _) = call(&admin, charset).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn without_a_cache_invalidations_are_a_conflict() {
        let admin = router(Metrics::new(), None);
        let (status, answer) = call(&admin, post(r#"{"paths": ["/a.jpg"]}"#)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains("without an object cache"), "{message}");
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef";

    /// Counts its calls; fails with `fail` when set.
    struct Fake {
        calls: std::sync::atomic::AtomicUsize,
        fail: Option<ReloadError>,
    }

    impl Reload for Fake {
        fn reload(&self, trigger: Trigger) -> crate::reload::ReloadFuture<'_> {
            Box::pin(async move {
                assert_eq!(trigger, Trigger::Admin);
                self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                match &self.fail {
                    Some(e) => Err(e.clone()),
                    None => Ok(crate::reload::Reloaded {
                        behaviors: 2,
                        changed: vec!["keys/b.pem".to_owned()],
                        not_applied: vec!["listen".to_owned()],
                        ..crate::reload::Reloaded::default()
                    }),
                }
            })
        }
    }

    fn fake(fail: Option<ReloadError>) -> Arc<Fake> {
        Arc::new(Fake {
            calls: std::sync::atomic::AtomicUsize::new(0),
            fail,
        })
    }

    fn admin_with(token: Option<&str>, reloader: &Arc<Fake>) -> Router {
        let dir = tempfile::tempdir().unwrap();
        let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(dir.path()).unwrap());
        let edge = Edge::new(
            &crate::behavior::Behaviors::new(
                vec![],
                crate::behavior::Behavior {
                    pattern: crate::behavior::PathPattern::any(),
                    origin,
                    origin_name: "files".to_owned(),
                    access: None,
                    ttl: TtlPolicy::default(),
                    compress: false,
                    sign_manifests: false,
                },
            ),
            Some(ObjectCache::new(CacheSettings::default())),
            Metrics::new(),
        );
        let auth = AdminAuth::new(token.map(|t| AdminToken::new(t).unwrap()));
        let reloader: Arc<dyn Reload> = reloader.clone();
        edge_router_with(&edge, AdminOptions::default().auth(auth).reloader(reloader))
    }

    fn reload_request(authorization: Option<&str>) -> Request {
        let mut request = http::Request::post(RELOAD_PATH);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn reload_needs_the_token() {
        let reloader = fake(None);
        let admin = admin_with(Some(SECRET), &reloader);
        let wrong = format!("Bearer {}", SECRET.replace('0', "1"));
        for (authorization, challenge) in [
            (None, CHALLENGE),
            (Some(wrong.as_str()), CHALLENGE_INVALID),
            (Some(SECRET), CHALLENGE_INVALID),
            (Some("Basic dXNlcjpwYXNz"), CHALLENGE_INVALID),
            (Some("Bearer"), CHALLENGE_INVALID),
        ] {
            let response = admin
                .clone()
                .oneshot(reload_request(authorization))
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{authorization:?}"
            );
            assert_eq!(response.headers()[header::WWW_AUTHENTICATE], challenge);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let text = std::str::from_utf8(&body).unwrap();
            assert!(!text.contains(SECRET), "{text}");
            assert!(
                text.contains("admin_token_file") || text.contains("Bearer TOKEN"),
                "{text}"
            );
        }
        assert_eq!(reloader.calls.load(std::sync::atomic::Ordering::SeqCst), 0);

        for scheme in ["Bearer", "bearer", "BEARER"] {
            let (status, answer) =
                call(&admin, reload_request(Some(&format!("{scheme} {SECRET}")))).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(
                answer,
                json!({"reloaded": true, "behaviors": 2, "tls_certificate": false, "admin_token": false, "changed": ["keys/b.pem"], "not_applied": ["listen"]})
            );
        }
        assert_eq!(reloader.calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        let get = http::Request::get(RELOAD_PATH).body(Body::empty()).unwrap();
        let response = admin.clone().oneshot(get).await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn a_failed_reload_says_why() {
        for (error, status) in [
            (
                ReloadError::Invalid("origins.media.root: cannot serve nope".to_owned()),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                ReloadError::NeedsRestart("[tls] was added".to_owned()),
                StatusCode::CONFLICT,
            ),
        ] {
            let reloader = fake(Some(error.clone()));
            let admin = admin_with(Some(SECRET), &reloader);
            let (got, answer) =
                call(&admin, reload_request(Some(&format!("Bearer {SECRET}")))).await;
            assert_eq!(got, status);
            assert_eq!(answer["reloaded"], false);
            assert_eq!(answer["error"], error.to_string());
        }
    }

    #[tokio::test]
    async fn without_a_token_reload_is_refused_and_invalidations_stay_open() {
        let reloader = fake(None);
        let admin = admin_with(None, &reloader);
        for authorization in [None, Some(format!("Bearer {SECRET}"))] {
            let (status, answer) = call(&admin, reload_request(authorization.as_deref())).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            let message = answer["error"].as_str().unwrap();
            assert!(
                message.contains("admin_token_file") && message.contains("openssl rand -hex 32"),
                "{message}"
            );
        }
        assert_eq!(reloader.calls.load(std::sync::atomic::Ordering::SeqCst), 0);
        let (status, _) = call(&admin, post(r#"{"paths": ["/a.jpg"]}"#)).await;
        assert_eq!(status, StatusCode::OK);
        // no hook at all: 501
        let (status, _) = call(&router(Metrics::new(), None), reload_request(None)).await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    }

    #[tokio::test]
    async fn with_a_token_invalidations_need_it_too() {
        let admin = admin_with(Some(SECRET), &fake(None));
        let (status, answer) = call(&admin, post(r#"{"paths": ["/a.jpg"]}"#)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(answer["error"].as_str().unwrap().contains("Bearer"));
        let mut request = post(r#"{"paths": ["/a.jpg"]}"#);
        request.headers_mut().insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {SECRET}")).unwrap(),
        );
        let (status, answer) = call(&admin, request).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        // health and metrics stay open (/readyz too: the origin's folder is gone, so 503)
        for (path, expected) in [
            ("/healthz", StatusCode::OK),
            ("/metrics", StatusCode::OK),
            ("/readyz", StatusCode::SERVICE_UNAVAILABLE),
        ] {
            let response = admin
                .clone()
                .oneshot(http::Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), expected, "{path}");
        }
    }

    #[test]
    fn admin_urls() {
        for (given, expected) in [
            (
                "http://127.0.0.1:9901",
                "http://127.0.0.1:9901/invalidations",
            ),
            (
                "http://127.0.0.1:9901/",
                "http://127.0.0.1:9901/invalidations",
            ),
            ("http://[::1]:9901", "http://[::1]:9901/invalidations"),
            ("http://edge/admin", "http://edge/admin/invalidations"),
        ] {
            assert_eq!(invalidations_url(given).unwrap().to_string(), expected);
        }
        for given in [
            "127.0.0.1:9901",
            "https://127.0.0.1:9901",
            "http://",
            "http://a/?x=1",
            "not a url",
            "",
        ] {
            let err = invalidations_url(given).unwrap_err();
            assert!(
                matches!(err, AdminClientError::BadUrl { .. }),
                "{given}: {err:?}"
            );
            assert!(err.to_string().contains("http://"), "{given}: {err}");
        }
    }

    #[test]
    fn request_bodies_are_bounded() {
        let paths: Vec<String> = (0..1_100)
            .map(|i| format!("/{i}/{}*", "x".repeat(1_000)))
            .collect();
        let parsed = InvalidationPaths::parse(&paths).unwrap();
        let err = InvalidationRequest::new(&parsed).unwrap_err();
        assert!(
            matches!(err, AdminClientError::TooLarge { bytes } if bytes > MAX_BODY_BYTES),
            "{err:?}"
        );
        let request =
            InvalidationRequest::new(&InvalidationPaths::parse(&["/a%22b"]).unwrap()).unwrap();
        let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
        assert_eq!(body, json!({"paths": ["/a%22b"]}));
    }
}
