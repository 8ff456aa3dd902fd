//! Observability: Prometheus metrics and CloudFront-style access logs (served
//! by the admin listener, [`crate::admin`]).
//!
//! - [`ObserveLayer`] goes around the whole edge router. It counts each request
//!   in [`Metrics`] and writes one [`AccessLog`] line when the response body has
//!   been sent, or when the viewer went away mid-body or stopped reading until the
//!   send timeout closed the connection (then `sc-bytes` is what was actually
//!   handed to the connection and `x-edge-detailed-result-type` is
//!   `ClientCommError`). Bodies are counted as they stream, never buffered.
//! - The signed-access check and the object handler time the verification and
//!   the origin calls into the same [`Metrics`] when they run under the layer.
//! - The admin listener ([`crate::admin`]) serves [`Metrics`] on `GET /metrics`.
//!
//! Access-log lines have CloudFront's standard-log fields in their order
//! ([`FIELDS`]). Differences: `x-edge-location` is `cfsign`; `cs(Host)` and
//! `x-host-header` are both the `Host` header; `c-ip` is the TCP peer (the
//! `X-Forwarded-For` header is logged as `x-forwarded-for`); `sc-bytes` counts
//! body bytes only; `cs-bytes` is reconstructed from the request head;
//! `x-edge-detailed-result-type` is the denial code (`MissingKey`,
//! `AccessDenied`, ...) for a denied request. `sc-status` is `000` when the
//! viewer left before the response.
//!
//! **No credential is logged, in any encoding.** Every value that comes from
//! the request or the response (`cs-method`, `cs(Host)`, `cs-uri-stem`,
//! `cs-uri-query`, `cs(Referer)`, `cs(User-Agent)`, `cs(Cookie)`,
//! `x-host-header`, `x-forwarded-for`, `sc-content-type`) goes through one
//! rule, [`redact`], before it is written (a record holds no other kind of
//! value). With every layer of percent-encoding, HTML entities and backslash
//! escapes undone, it replaces by `REDACTED`:
//!
//! 1. the value of a parameter named `Signature`, `Policy`,
//!    `CloudFront-Signature` or `CloudFront-Policy` (any case, `Signature[]=`,
//!    `Signature%3D`, `&amp;Signature=`, `+Signature%20=`, ...);
//! 2. every run of at least [`MIN_REDACTED_RUN`] (64) base64 characters, either
//!    alphabet, that has both upper- and lower-case letters, whatever precedes
//!    it: the shortest signature (ECDSA P-256) has 92, a policy over 100, so a
//!    signature or a policy pasted into a path, a header or another parameter
//!    is caught whole, under any name or none.
//!
//! `Expires`, `Key-Pair-Id` and `Hash-Algorithm` are not secret and stay, as do
//! ordinary parameters and paths (they are not 64 mixed-case base64
//! characters without a dot). Of the `Cookie` header only the cookie names are
//! logged. Then control characters, spaces and non-ASCII bytes are escaped as
//! `%XX` (no log injection) and values are cut at [`MAX_FIELD_BYTES`]. The
//! `Referer` is logged without its fragment.
//!
//! ```no_run
//! use cfsign_edge::admin;
//! use cfsign_edge::cache::{CacheSettings, ObjectCache};
//! use cfsign_edge::edge::Edge;
//! use cfsign_edge::observe::{AccessLog, AccessLogFormat, Metrics};
//! use cfsign_edge::server::{self, ServeOptions};
//! # async fn run(behaviors: cfsign_edge::behavior::Behaviors) -> std::io::Result<()> {
//! let metrics = Metrics::new();
//! let log = AccessLog::stdout(AccessLogFormat::Text)?;
//! let cache = ObjectCache::new(CacheSettings::default());
//! let edge = Edge::new(&behaviors, Some(cache), metrics.clone());
//!
//! let admin = tokio::net::TcpListener::bind("127.0.0.1:9901").await?;
//! tokio::spawn(server::serve(
//!     admin,
//!     admin::router(metrics.clone(), edge.cache().cloned()),
//!     ServeOptions::default().limits(admin::limits()),
//!     server::shutdown_signal(),
//! ));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let options = ServeOptions::default().metrics(metrics);
//! server::serve(listener, edge.observed(Some(log.clone())), options, server::shutdown_signal()).await?;
//! log.flush(std::time::Duration::from_secs(5));
//! # Ok(())
//! # }
//! ```

mod layer;
mod log;
mod metrics;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use crate::origin::{
    BoxFuture, ByteRange, GetResponse, HeadResponse, ObjectKey, ObjectMeta, Origin, OriginError,
    Revalidation,
};

pub use layer::{Observe, ObserveLayer, REQUEST_ID_HEADER};
pub use log::{
    AccessLog, AccessLogFormat, FIELDS, MAX_FIELD_BYTES, MIN_REDACTED_RUN, QUEUE_LINES, REDACTED,
    redact,
};
pub use metrics::{CONTENT_TYPE, Metrics};

/// An origin whose calls are timed into the metrics.
pub(crate) struct TimedOrigin {
    origin: Arc<dyn Origin>,
    metrics: Metrics,
}

impl TimedOrigin {
    pub(crate) fn new(origin: Arc<dyn Origin>, metrics: Metrics) -> Self {
        Self { origin, metrics }
    }
}

impl Origin for TimedOrigin {
    fn kind(&self) -> &'static str {
        self.origin.kind()
    }

    fn cache_identity(&self) -> String {
        self.origin.cache_identity()
    }

    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<HeadResponse, OriginError>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.origin.head(key).await;
            self.metrics.origin("head", started.elapsed());
            result
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<GetResponse, OriginError>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.origin.get(key, range).await;
            self.metrics.origin("get", started.elapsed());
            result
        })
    }

    fn get_if_modified<'a>(
        &'a self,
        key: &'a ObjectKey,
        cached: &'a ObjectMeta,
    ) -> BoxFuture<'a, Result<Revalidation, OriginError>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.origin.get_if_modified(key, cached).await;
            self.metrics.origin("get", started.elapsed());
            result
        })
    }
}
