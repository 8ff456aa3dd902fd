//! What the viewer sent: the URL CloudFront would see, and the client address.

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, Request};
use ipnet::IpNet;

use super::AccessConfig;

/// Why the viewer URL cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViewerError {
    /// No `Host` header and no authority in the URI.
    #[error("the request has no Host header")]
    NoHost,
    /// A `Host` header that is not a plain `host` or `host:port`.
    #[error("the Host header is not a valid host name")]
    BadHost,
}

/// The URL as CloudFront would see it: `scheme://host/path?query` (raw, not decoded).
pub fn viewer_url<B>(request: &Request<B>, config: &AccessConfig) -> Result<String, ViewerError> {
    let path_and_query = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    if let Some(base) = &config.public_base_url {
        return Ok(format!("{base}{path_and_query}"));
    }
    let host = match request.headers().get(http::header::HOST) {
        Some(h) => h.to_str().map_err(|_| ViewerError::BadHost)?,
        None => request
            .uri()
            .authority()
            .map(|a| a.as_str())
            .ok_or(ViewerError::NoHost)?,
    };
    let valid = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !valid {
        return Err(ViewerError::BadHost);
    }
    // Hosts are case-insensitive; browsers send them in lower case, as signers sign them.
    let host = host.to_ascii_lowercase();
    Ok(format!(
        "{}://{host}{path_and_query}",
        config.scheme.as_str()
    ))
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
