//! What the viewer sent: the URL CloudFront would see, and the client address.

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, Request};
use ipnet::IpNet;

use super::AccessConfig;

/// Why the request does not name a usable authority, or the viewer URL cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViewerError {
    /// No `Host` header and no authority in the request target: an HTTP/1.1
    /// request must have one (RFC 9112 §3.2), and a viewer URL needs one.
    #[error("the request has no Host header")]
    NoHost,
    /// More than one `Host` header (RFC 9112 §3.2 requires a 400).
    #[error("the request has more than one Host header")]
    DuplicateHost,
    /// A `Host` header that is not a plain `host` or `host:port`.
    #[error("the Host header is not a valid host name")]
    BadHost,
    /// An absolute-form target whose authority is not a plain `host` or
    /// `host:port` (e.g. it has user information).
    #[error("the request target's authority is not a valid host name")]
    BadTarget,
    /// An absolute-form target whose scheme is not the viewers' scheme.
    #[error("the request target's scheme is not the scheme of this connection")]
    SchemeMismatch,
}

/// The authority (`host` or `host:port`, in lower case) the request names, per
/// RFC 9112 §3.2: the `Host` header must appear at most once (exactly once in
/// HTTP/1.1) and be valid, and an absolute-form target's authority wins over it
/// (§3.2.2). `None`: an HTTP/1.0 request without `Host` and with an origin-form
/// target, which names no authority.
///
/// ```
/// use cfsign_edge::access::{ViewerError, request_authority};
///
/// let origin_form = http::Request::get("/a.jpg").header("host", "CDN.example.com").body(())?;
/// assert_eq!(request_authority(&origin_form), Ok(Some("cdn.example.com".to_owned())));
/// let absolute = http::Request::get("http://a.example/a.jpg").header("host", "b.example").body(())?;
/// assert_eq!(request_authority(&absolute), Ok(Some("a.example".to_owned())));
/// let twice = http::Request::get("/a.jpg")
///     .header("host", "a.example")
///     .header("host", "a.example")
///     .body(())?;
/// assert_eq!(request_authority(&twice), Err(ViewerError::DuplicateHost));
/// let none = http::Request::get("/a.jpg").body(())?;
/// assert_eq!(request_authority(&none), Err(ViewerError::NoHost));
/// # Ok::<(), http::Error>(())
/// ```
pub fn request_authority<B>(request: &Request<B>) -> Result<Option<String>, ViewerError> {
    // Hosts are case-insensitive; browsers send them in lower case, as signers sign them.
    named_authority(request).map(|a| a.map(str::to_ascii_lowercase))
}

/// [`request_authority`] as the request spells it (not yet in lower case).
fn named_authority<B>(request: &Request<B>) -> Result<Option<&str>, ViewerError> {
    let mut hosts = request.headers().get_all(http::header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(ViewerError::DuplicateHost);
    }
    let host = match host {
        Some(h) => Some(
            h.to_str()
                .ok()
                .filter(|h| is_host(h))
                .ok_or(ViewerError::BadHost)?,
        ),
        None => None,
    };
    if let Some(target) = request.uri().authority() {
        let target = target.as_str();
        if !is_host(target) {
            return Err(ViewerError::BadTarget);
        }
        return Ok(Some(target));
    }
    match host {
        Some(h) => Ok(Some(h)),
        None if request.version() >= http::Version::HTTP_11 => Err(ViewerError::NoHost),
        None => Ok(None),
    }
}

/// A plain `host` or `host:port` (an IPv6 literal in brackets): no user
/// information, path or anything else.
fn is_host(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 255
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
}

/// The URL as CloudFront would see it: `scheme://authority/path?query` (raw, not
/// decoded), with the authority of [`request_authority`] (the absolute-form
/// target's, else the `Host` header's), or the configured public base URL plus
/// the path and query (behind a load balancer, the base wins over both, but the
/// request's `Host` headers are still checked).
pub fn viewer_url<B>(request: &Request<B>, config: &AccessConfig) -> Result<String, ViewerError> {
    let authority = named_authority(request)?;
    let path_and_query = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    if let Some(base) = &config.public_base_url {
        return Ok(format!("{base}{path_and_query}"));
    }
    let authority = authority.ok_or(ViewerError::NoHost)?;
    let scheme = config.scheme.as_str();
    if request.uri().scheme_str().is_some_and(|s| s != scheme) {
        return Err(ViewerError::SchemeMismatch);
    }
    let mut url = String::with_capacity(scheme.len() + 3 + authority.len() + path_and_query.len());
    url.push_str(scheme);
    url.push_str("://");
    // The authority of `request_authority`: in lower case.
    url.extend(authority.chars().map(|c| c.to_ascii_lowercase()));
    url.push_str(path_and_query);
    Ok(url)
}

/// The client address: the TCP peer, or — only when the peer is a trusted proxy —
/// the right-most `X-Forwarded-For` address that is not a trusted proxy.
pub fn client_ip(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer.map(|p| canonical(p.ip()))?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return Some(peer);
        };
        for part in text.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => chain.push(canonical(ip)),
                // An unparsable entry ends what can be believed.
                Err(_) => return Some(peer),
            }
        }
    }
    for ip in chain.iter().rev() {
        if !is_trusted(*ip) {
            return Some(*ip);
        }
    }
    chain.first().copied().or(Some(peer))
}

/// `::ffff:a.b.c.d` is the IPv4 client a dual-stack listener saw.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
