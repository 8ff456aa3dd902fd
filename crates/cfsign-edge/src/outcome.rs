//! What the edge decided about a request, as typed values in the response's
//! extensions: the behavior that answered ([`BehaviorLabel`]), how the cache
//! took part ([`CacheStatus`]), and, for a denial, the
//! [`Denial`](cfsign::verify::Denial). The stages write them; the
//! [observability layer](crate::observe) reads them, never header text.
//!
//! ```
//! use cfsign_edge::outcome::CacheStatus;
//!
//! let mut response = http::Response::new(axum::body::Body::empty());
//! CacheStatus::Hit.mark(&mut response);
//! assert_eq!(response.headers()["x-cache"], "Hit from cfsign");
//! assert_eq!(response.extensions().get::<CacheStatus>(), Some(&CacheStatus::Hit));
//! ```

use std::sync::Arc;

use http::{HeaderValue, Response};

/// How the edge's cache took part in an answer (CloudFront's `X-Cache` and
/// `x-edge-result-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheStatus {
    /// Answered from a cached copy.
    Hit,
    /// Answered from a cached copy that had expired and that the origin just
    /// confirmed unchanged (a `304` to a conditional request).
    RefreshHit,
    /// Fetched from the origin (no cache, not cacheable, or not cached yet).
    Miss,
    /// An error: a denial, a bad request, or an origin error (cached or not).
    Error,
}

impl CacheStatus {
    /// The `X-Cache` header value (`Hit from cfsign`, ...).
    ///
    /// ```
    /// use cfsign_edge::outcome::CacheStatus;
    ///
    /// assert_eq!(CacheStatus::RefreshHit.x_cache(), "RefreshHit from cfsign");
    /// ```
    #[must_use]
    pub fn x_cache(self) -> &'static str {
        match self {
            CacheStatus::Hit => "Hit from cfsign",
            CacheStatus::RefreshHit => "RefreshHit from cfsign",
            CacheStatus::Miss => "Miss from cfsign",
            CacheStatus::Error => "Error from cfsign",
        }
    }

    /// Writes the status into `response`: its `X-Cache` header, and itself as
    /// an extension (what the access log and the metrics read).
    ///
    /// ```
    /// use cfsign_edge::outcome::CacheStatus;
    ///
    /// let mut response = http::Response::new(());
    /// CacheStatus::Miss.mark(&mut response);
    /// assert_eq!(response.headers()["x-cache"], "Miss from cfsign");
    /// ```
    pub fn mark<B>(self, response: &mut Response<B>) {
        response
            .headers_mut()
            .insert("x-cache", HeaderValue::from_static(self.x_cache()));
        response.extensions_mut().insert(self);
    }
}

/// The path pattern of the behavior that answered (the metrics' `behavior`
/// label).
///
/// ```
/// use cfsign_edge::outcome::BehaviorLabel;
///
/// let label = BehaviorLabel::new("/videos/*");
/// assert_eq!(label.as_str(), "/videos/*");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BehaviorLabel(Arc<str>);

impl BehaviorLabel {
    /// A label for a behavior's path pattern.
    #[must_use]
    pub fn new(pattern: &str) -> Self {
        Self(Arc::from(pattern))
    }

    /// The pattern.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn shared(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }
}
