//! The layer.

use std::sync::Arc;

use tower::Layer;

use super::{AccessConfig, SignedAccess};

/// Wraps a service with the signed-access check.
///
/// ```
/// use axum::{Router, routing::get};
/// use cfsign::verify::Verifier;
/// use cfsign_edge::access::{AccessConfig, Scheme, SharedVerifier, SignedAccessLayer};
///
/// let verifier = SharedVerifier::new(Verifier::new()); // add keys with with_key / with_key_group
/// let app: Router = Router::new()
///     .route("/private/{*path}", get(|| async { "secret" }))
///     .layer(SignedAccessLayer::new(AccessConfig::new(verifier, Scheme::Https)));
/// ```
#[derive(Debug, Clone)]
pub struct SignedAccessLayer {
    config: Arc<AccessConfig>,
}

impl SignedAccessLayer {
    /// A layer with these settings.
    #[must_use]
    pub fn new(config: AccessConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for SignedAccessLayer {
    type Service = SignedAccess<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SignedAccess::new(inner, Arc::clone(&self.config))
    }
}
