//! The service.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use cfsign::verify::{Decision, Denial, ViewerRequest};
use futures_util::future::BoxFuture;
use http::{Request, Response, StatusCode, Uri, header};
use tower::Service;

use super::AccessConfig;
use super::error::{ErrorResponse, xml_response};
use super::viewer::{client_ip, viewer_url};
use crate::outcome::CacheStatus;

/// Longest `Cookie` header set considered (CloudFront's request limit).
const MAX_COOKIE_BYTES: usize = 20_480;

/// The signed-access check around an inner service (see [`super::SignedAccessLayer`]).
#[derive(Debug, Clone)]
pub struct SignedAccess<S> {
    inner: S,
    config: Arc<AccessConfig>,
}

impl<S> SignedAccess<S> {
    pub(crate) fn new(inner: S, config: Arc<AccessConfig>) -> Self {
        Self { inner, config }
    }
}

/// CloudFront's 403 for a denial (`Content-Type: text/xml`, the one-line XML body).
#[must_use]
pub fn denial_response(denial: &Denial) -> Response<Body> {
    let mut response = xml_response(StatusCode::FORBIDDEN, denial.xml_body());
    CacheStatus::Error.mark(&mut response);
    response.extensions_mut().insert(denial.clone());
    response
}

/// Decides a request; on success returns the URI without signing parameters.
pub(crate) fn check<B>(
    request: &Request<B>,
    config: &AccessConfig,
) -> Result<(Uri, Decision), ErrorResponse> {
    let url = viewer_url(request, config)?;
    let mut cookies = String::new();
    for value in request.headers().get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        if !cookies.is_empty() {
            cookies.push_str("; ");
        }
        cookies.push_str(text);
        if cookies.len() > MAX_COOKIE_BYTES {
            return Err(ErrorResponse::CookiesTooLarge);
        }
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let mut viewer = ViewerRequest::new(&url);
    if !cookies.is_empty() {
        viewer = viewer.cookie_header(&cookies);
    }
    if let Some(ip) = client_ip(peer, request.headers(), &config.trusted_proxies) {
        viewer = viewer.client_ip(ip);
    }
    let started = Instant::now();
    let decision = config.verifier.current().verify(&viewer, (config.clock)());
    if let Some(metrics) = &config.metrics {
        metrics.verification(started.elapsed(), matches!(decision, Decision::Allowed(_)));
    }
    let Decision::Allowed(allowed) = &decision else {
        return Ok((request.uri().clone(), decision));
    };
    // The forward URL is the viewer URL minus the signing parameters: keep its
    // path and query, and the request's own scheme/authority (if any).
    let forward = allowed.forward_url();
    let after_scheme = forward.find("://").map_or(0, |i| i + 3);
    let path_and_query = forward[after_scheme..]
        .find('/')
        .map_or("/", |i| &forward[after_scheme + i..]);
    // Signed cookies leave the URL as it was: nothing to take out.
    if request.uri().path_and_query().map(|pq| pq.as_str()) == Some(path_and_query) {
        return Ok((request.uri().clone(), decision));
    }
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = Some(
        path_and_query
            .parse()
            .map_err(|_| ErrorResponse::InvalidUri)?,
    );
    let uri = Uri::from_parts(parts).map_err(|_| ErrorResponse::InvalidUri)?;
    Ok((uri, decision))
}

impl<S, B> Service<Request<B>> for SignedAccess<S>
where
    S: Service<Request<B>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // Take the service that was driven to readiness; leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        match check(&request, &self.config) {
            Err(error) => {
                let response = error.response();
                Box::pin(async move { Ok(response) })
            }
            Ok((_, Decision::Denied(denial))) => {
                let response = denial_response(&denial);
                Box::pin(async move { Ok(response) })
            }
            Ok((uri, Decision::Allowed(allowed))) => {
                *request.uri_mut() = uri;
                request.extensions_mut().insert(Arc::new(*allowed));
                Box::pin(inner.call(request))
            }
        }
    }
}
