//! Signed streaming through the edge (`sign_manifests = true` on a behavior):
//! when an HLS playlist or a DASH MPD is served to a viewer whose credentials
//! were a signed URL with a custom policy, the viewer's own parameters
//! (`Policy`, `Signature`, `Key-Pair-Id`, `Hash-Algorithm`, exactly as received)
//! are stamped on every URI of the manifest that the policy's resource covers
//! ([`cfsign::manifest`]). No new signature is made: what the viewer was granted
//! travels down the tree, so a player given one signed manifest URL fetches
//! child playlists, keys, init segments and segments with no cookies.
//!
//! The cached object is the origin's manifest; the rewrite happens per
//! response. A rewritten manifest is sent whole (a `Range` is ignored), with a
//! weak `ETag` (the origin's tag made weak: the same URL always carries the
//! same credentials, so a viewer revalidating its copy matches) and its new
//! length, then compressed if the behavior compresses.
//!
//! Sent unchanged, with the reason in the access log ([`ManifestSigning`]):
//! credentials from cookies (the browser sends them to the children itself), a
//! canned policy (it covers one exact URL), a policy without a resource, and a
//! manifest the rewrite refuses (served as the origin has it).

use std::fmt;

use axum::body::Body;
use bytes::Bytes;
use cfsign::manifest::{self, MAX_MANIFEST_BYTES, Signing};
use cfsign::url::RESERVED_PARAMETERS;
use cfsign::verify::{Allowed, CredentialSource};
use cfsign::{PolicyForm, Resource, SignableUrl};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Limited};

use crate::access::ErrorResponse;
use crate::compress;
use crate::respond;

/// The content types of manifests (besides the `.m3u8` and `.mpd` extensions).
const MANIFEST_TYPES: [&str; 5] = [
    "application/vnd.apple.mpegurl",
    "application/x-mpegurl",
    "audio/mpegurl",
    "audio/x-mpegurl",
    "application/dash+xml",
];

/// What `sign_manifests` did with a manifest: in the response's extensions,
/// and in the access log's `x-cfsign-manifest` field.
///
/// ```
/// use cfsign_edge::manifests::{ManifestSigning, Unsigned};
///
/// assert_eq!(ManifestSigning::Signed { uris: 12, left_alone: 1 }.to_string(), "signed:12,left-alone:1");
/// assert_eq!(ManifestSigning::Unchanged(Unsigned::CannedPolicy).to_string(), "unchanged:canned-policy");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestSigning {
    /// Rewritten: `uris` stamped, `left_alone` outside the policy or not URLs.
    Signed {
        /// URIs stamped.
        uris: usize,
        /// URIs left as they were.
        left_alone: usize,
    },
    /// Sent as the origin has it.
    Unchanged(Unsigned),
}

/// Why a manifest was sent unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsigned {
    /// The credentials were cookies: the browser sends them to every child.
    Cookies,
    /// A canned policy covers one exact URL, not the children.
    CannedPolicy,
    /// The custom policy has no resource the rewrite can match.
    NoResource,
    /// The viewer URL is not one a manifest's URIs can be resolved against.
    ViewerUrl,
    /// The origin answered part of the manifest (a range it was asked for).
    Partial,
    /// The manifest is declared larger than [`MAX_MANIFEST_BYTES`].
    TooLarge,
    /// The rewrite refused the manifest (malformed, not HLS or DASH), or the
    /// origin failed while sending it (then the answer is a 502).
    Unreadable,
}

impl Unsigned {
    /// The reason's code in the access log.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Unsigned::Cookies => "cookies",
            Unsigned::CannedPolicy => "canned-policy",
            Unsigned::NoResource => "no-resource",
            Unsigned::ViewerUrl => "viewer-url",
            Unsigned::Partial => "partial",
            Unsigned::TooLarge => "too-large",
            Unsigned::Unreadable => "unreadable",
        }
    }
}

impl fmt::Display for ManifestSigning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestSigning::Signed { uris, left_alone } => {
                write!(f, "signed:{uris},left-alone:{left_alone}")
            }
            ManifestSigning::Unchanged(why) => write!(f, "unchanged:{}", why.code()),
        }
    }
}

/// A viewer's credentials, ready to be stamped on a manifest's URIs.
#[derive(Debug)]
pub(crate) struct ViewerCredentials {
    /// The signing parameters, as the viewer sent them.
    parameters: String,
    covers: Resource,
    /// The viewer URL without the signing parameters: the base of relative URIs.
    manifest_url: SignableUrl,
}

impl ViewerCredentials {
    /// The credentials of an allowed request whose query was `query`, or why
    /// they cannot be passed down.
    pub(crate) fn of(allowed: &Allowed, query: Option<&str>) -> Result<Self, Unsigned> {
        Self::can_pass_down(allowed)?;
        let covers = allowed
            .resource()
            .and_then(|r| Resource::parse(r).ok())
            .ok_or(Unsigned::NoResource)?;
        let manifest_url =
            SignableUrl::parse(allowed.forward_url()).map_err(|_| Unsigned::ViewerUrl)?;
        let mut parameters = String::with_capacity(query.map_or(0, str::len));
        for pair in query.unwrap_or_default().split('&') {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            if RESERVED_PARAMETERS.contains(&name) {
                if !parameters.is_empty() {
                    parameters.push('&');
                }
                parameters.push_str(pair);
            }
        }
        Ok(Self {
            parameters,
            covers,
            manifest_url,
        })
    }
}

impl ViewerCredentials {
    /// Whether the credentials' kind can be passed down (a signed URL with a
    /// custom policy), without reading them: decided before the origin is asked.
    pub(crate) fn can_pass_down(allowed: &Allowed) -> Result<(), Unsigned> {
        match (allowed.source(), allowed.form()) {
            (CredentialSource::Query, PolicyForm::Custom) => Ok(()),
            (CredentialSource::Cookies, _) => Err(Unsigned::Cookies),
            (_, _) => Err(Unsigned::CannedPolicy),
        }
    }
}

/// Whether a path names a manifest by its extension (`.m3u8`, `.mpd`).
pub(crate) fn is_manifest_path(path: &str) -> bool {
    let lower = |ext: &str| {
        path.len() > ext.len()
            && path.as_bytes()[path.len() - ext.len()..].eq_ignore_ascii_case(ext.as_bytes())
    };
    lower(".m3u8") || lower(".mpd")
}

fn is_manifest_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|t| t.split(';').next().unwrap_or_default().trim())
        .is_some_and(|t| MANIFEST_TYPES.iter().any(|m| t.eq_ignore_ascii_case(m)))
}

/// Prepares a request for a manifest path whose credentials can be passed
/// down: the whole object is fetched (no range), with `GET` for a `HEAD` (its
/// length is the rewritten one's).
pub(crate) fn prepare<B>(request: &mut Request<B>) {
    request.headers_mut().remove(header::RANGE);
    request.headers_mut().remove(header::IF_RANGE);
    if request.method() == Method::HEAD {
        *request.method_mut() = Method::GET;
    }
}

/// The viewer's request, as far as the rewrite and the compression decision
/// need it.
pub(crate) struct Viewer<'r> {
    pub(crate) version: http::Version,
    pub(crate) method: &'r Method,
    pub(crate) headers: &'r HeaderMap,
    /// Whether the request's path names a manifest.
    pub(crate) manifest_path: bool,
    /// What the viewer was allowed with.
    pub(crate) allowed: &'r Allowed,
    /// The query the viewer sent (its signing parameters among it).
    pub(crate) query: Option<&'r str>,
}

/// Rewrites `response` if it is a manifest (by the path, or its content type)
/// with the credentials the viewer brought, read only then. Anything else
/// passes unchanged.
pub(crate) async fn sign(
    response: Response<Body>,
    viewer: &Viewer<'_>,
    compress: bool,
) -> Response<Body> {
    let status = response.status();
    let is_manifest = viewer.manifest_path || is_manifest_type(response.headers());
    if !is_manifest
        || !(status == StatusCode::OK
            || status == StatusCode::PARTIAL_CONTENT
            || status == StatusCode::NOT_MODIFIED)
    {
        return response;
    }
    let credentials = match ViewerCredentials::of(viewer.allowed, viewer.query) {
        Ok(c) => c,
        Err(why) => return mark(response, ManifestSigning::Unchanged(why)),
    };
    let (mut parts, body) = response.into_parts();
    if status == StatusCode::NOT_MODIFIED {
        compress::convert_etag(&mut parts.headers);
        return Response::from_parts(parts, body);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let response = Response::from_parts(parts, body);
        return mark(response, ManifestSigning::Unchanged(Unsigned::Partial));
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_MANIFEST_BYTES as u64) {
        let response = Response::from_parts(parts, body);
        return mark(response, ManifestSigning::Unchanged(Unsigned::TooLarge));
    }
    let Ok(collected) = Limited::new(body, MAX_MANIFEST_BYTES).collect().await else {
        // The origin failed mid-body, or sent more than it declared.
        let response = respond::error(ErrorResponse::OriginError);
        return mark(response, ManifestSigning::Unchanged(Unsigned::Unreadable));
    };
    let bytes = collected.to_bytes();
    let signing = Signing::Stamp {
        parameters: &credentials.parameters,
        covers: &credentials.covers,
    };
    let outcome = match manifest::rewrite(&bytes, &credentials.manifest_url, &signing) {
        Ok(rewritten) => {
            let outcome = ManifestSigning::Signed {
                uris: rewritten.report.signed,
                left_alone: rewritten.report.left_alone.len(),
            };
            let body = Bytes::from(rewritten.text);
            compress::convert_etag(&mut parts.headers);
            parts.headers.remove(header::ACCEPT_RANGES);
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            let body = if compress {
                compressed(&mut parts.headers, viewer, body)
            } else {
                body
            };
            let response = Response::from_parts(parts, Body::from(body));
            return mark(response, outcome);
        }
        Err(_) => ManifestSigning::Unchanged(Unsigned::Unreadable),
    };
    mark(Response::from_parts(parts, Body::from(bytes)), outcome)
}

/// The body compressed as the behavior's "compress objects automatically"
/// decides for this viewer, with the headers to match.
fn compressed(headers: &mut HeaderMap, viewer: &Viewer<'_>, body: Bytes) -> Bytes {
    let Ok(encoding) = compress::decide(
        viewer.version,
        viewer.method,
        viewer.headers,
        StatusCode::OK,
        headers,
    ) else {
        return body;
    };
    match compress::compress_bytes(encoding, &body) {
        Ok(encoded) => {
            compress::response_headers(encoding, headers);
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(encoded.len()));
            encoded
        }
        Err(_) => body,
    }
}

fn mark(mut response: Response<Body>, outcome: ManifestSigning) -> Response<Body> {
    response.extensions_mut().insert(outcome);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_and_types() {
        assert!(is_manifest_path("/v/index.m3u8"));
        assert!(is_manifest_path("/v/STREAM.MPD"));
        assert!(!is_manifest_path("/v/seg.ts"));
        assert!(!is_manifest_path(".mpd"));
        assert!(!is_manifest_path("/v/😀"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.apple.mpegURL; charset=utf-8"),
        );
        assert!(is_manifest_type(&headers));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp2t"));
        assert!(!is_manifest_type(&headers));
    }

    #[test]
    fn etags_become_weak_once() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ETAG, HeaderValue::from_static("\"v1\""));
        compress::convert_etag(&mut headers);
        assert_eq!(headers[header::ETAG], "W/\"v1\"");
        compress::convert_etag(&mut headers);
        assert_eq!(headers[header::ETAG], "W/\"v1\"");
    }
}
