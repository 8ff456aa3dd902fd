//! Signed access as a tower [`Layer`](tower::Layer): CloudFront's "restrict viewer
//! access" for any service.
//!
//! [`SignedAccessLayer`] checks every request with the `cfsign` verifier *before*
//! the inner service sees it. A denial is answered with CloudFront's 403 XML body
//! and code; an allowed request reaches the inner service with the signing
//! parameters removed from its URI and the [`Allowed`] decision in its
//! extensions. The edge server uses this same layer.
//!
//! - The viewer URL is the scheme plus the authority the request names plus the
//!   raw path and query, or the configured public base URL plus the path and
//!   query (an edge behind a load balancer). The authority is the absolute-form
//!   target's (`GET http://cdn.example.com/a.jpg HTTP/1.1`), else the `Host`
//!   header's, as RFC 9112 §3.2.2 says; two `Host` headers, none in HTTP/1.1, or
//!   an invalid one are a 400 ([`request_authority`]), with or without a public
//!   base URL.
//! - Errors the edge answers itself (a bad `Host`, a missing object, an origin
//!   failure, ...) have the same XML form as the denials ([`ErrorResponse`]).
//! - The client IP is the TCP peer ([`axum::extract::ConnectInfo`]); the
//!   `X-Forwarded-For` header is only read when the peer is a configured trusted
//!   proxy, and then the right-most address that is not a trusted proxy wins.
//! - Keys can be replaced while serving ([`SharedVerifier::replace`]), so a key
//!   rotation needs no restart.

mod error;
mod layer;
mod service;
mod viewer;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use arc_swap::ArcSwap;

use cfsign::verify::Verifier;
use ipnet::IpNet;
use jiff::Timestamp;

use crate::observe::Metrics;

pub use cfsign::verify::Allowed;
pub use error::ErrorResponse;
pub use layer::SignedAccessLayer;
pub(crate) use service::check;
pub use service::{SignedAccess, denial_response};
pub use viewer::{ViewerError, client_ip, request_authority, viewer_url};

/// A verifier that can be swapped while requests are being served (one atomic
/// swap: no lock on the request path).
///
/// ```
/// use cfsign::verify::Verifier;
/// use cfsign_edge::access::SharedVerifier;
///
/// let shared = SharedVerifier::new(Verifier::new());
/// let before = shared.current();
/// shared.replace(Verifier::new());
/// assert!(!std::sync::Arc::ptr_eq(&before, &shared.current()));
/// ```
#[derive(Debug, Clone)]
pub struct SharedVerifier(Arc<ArcSwap<Verifier>>);

impl SharedVerifier {
    /// Wraps a verifier.
    #[must_use]
    pub fn new(verifier: Verifier) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(verifier)))
    }

    /// The current verifier.
    #[must_use]
    pub fn current(&self) -> Arc<Verifier> {
        self.0.load_full()
    }

    /// Replaces the verifier; requests already in flight finish with the old one.
    pub fn replace(&self, verifier: Verifier) {
        self.0.store(Arc::new(verifier));
    }
}

/// Which scheme viewers use to reach this service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http://`
    Http,
    /// `https://`
    Https,
}

impl Scheme {
    /// `http` or `https`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Settings of the access check.
#[derive(Clone)]
pub struct AccessConfig {
    verifier: SharedVerifier,
    scheme: Scheme,
    public_base_url: Option<String>,
    trusted_proxies: Vec<IpNet>,
    clock: Arc<dyn Fn() -> Timestamp + Send + Sync>,
    metrics: Option<Metrics>,
}

impl std::fmt::Debug for AccessConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessConfig")
            .field("verifier", &self.verifier)
            .field("scheme", &self.scheme)
            .field("public_base_url", &self.public_base_url)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

impl AccessConfig {
    /// Checks requests with `verifier`, for viewers using `scheme` and the `Host` header.
    #[must_use]
    pub fn new(verifier: SharedVerifier, scheme: Scheme) -> Self {
        Self {
            verifier,
            scheme,
            public_base_url: None,
            trusted_proxies: Vec::new(),
            clock: Arc::new(Timestamp::now),
            metrics: None,
        }
    }

    /// Builds viewer URLs from this base (e.g. `https://cdn.example.com`) instead
    /// of the scheme and `Host` header: for an edge behind a load balancer.
    #[must_use]
    pub fn public_base_url(mut self, base: impl Into<String>) -> Self {
        let base: String = base.into();
        self.public_base_url = Some(base.trim_end_matches('/').to_owned());
        self
    }

    /// Peers whose `X-Forwarded-For` header is believed.
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: Vec<IpNet>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// The clock (tests).
    #[must_use]
    pub fn clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Times each verification into `metrics`, counted by decision.
    ///
    /// ```
    /// use cfsign::verify::Verifier;
    /// use cfsign_edge::access::{AccessConfig, Scheme, SharedVerifier};
    /// use cfsign_edge::observe::Metrics;
    ///
    /// let config = AccessConfig::new(SharedVerifier::new(Verifier::new()), Scheme::Https)
    ///     .observed(Metrics::new());
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn observed(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The verifier handle.
    #[must_use]
    pub fn verifier(&self) -> &SharedVerifier {
        &self.verifier
    }
}
