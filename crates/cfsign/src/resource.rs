//! Policy resources: an exact URL, a wildcard pattern, or a legacy RTMP stream name,
//! and CloudFront's wildcard matching.
//!
//! Matching follows the custom-policy documentation (spec §6.3): the URL is split
//! into scheme, host (with port), path and query
//! (`[protocol]://[domain]/[path]?[query]`); `*` matches zero or more and `?`
//! exactly one character **within its own section**. Exceptions: a trailing `*` in
//! the path also covers the query; a trailing `*` in the host covers path and query;
//! `*://` matches either scheme; a resource of `*` matches every URL; a resource
//! without a scheme that starts with `*` (e.g. `*example.com`) means
//! `*://*example.com/`.
//!
//! # Which `?` is a wildcard
//!
//! A `?` is both the query delimiter and the one-character wildcard, so the
//! sections are found first, in one place (`split_pattern`), and every other
//! decision (matching, [`has_wildcard`], [`Resource::parse`], how a policy's
//! `Resource` is read) follows from them:
//!
//! - the host section runs from after `://` to the first `/`, so a `?` in it is
//!   a wildcard: `https://cdn?.example.com/a.ts` covers `https://cdn1.example.com/a.ts`;
//! - the first `?` after the host starts the query section, and every later `?`
//!   is a wildcard in it: `https://h/a.ts?v=?` covers `https://h/a.ts?v=7`, not
//!   `?v=77` or `?v=`;
//! - so a `?` can never be a path wildcard: `https://h/a?.ts` is path `/a` with
//!   query `.ts` (an exact URL, canned-eligible), not "`/a`, any character, `.ts`".
//!
//! Evidence: the documentation's section syntax `[protocol]://[domain]/[path]?[query]`
//! (the domain ends at `/`, the path at `?`), its rule that a wildcard matches only
//! within its section, and its instruction not to backslash-escape "the `?` that
//! starts the query string" (spec §6.3, [D-CUSTOM]); a `?` placed in a path is
//! not discussed, and this reading grants the least there (the text after it must
//! be the query). Recorded with the other undocumented points in
//! [`crate::verify::strict`].
//!
//! A resource is a pattern (custom policy only) exactly when it has a wildcard
//! in that sense: any `*`, or a `?` other than the query delimiter. A URL whose
//! only `?` starts its query is a plain URL.
//!
//! Other strict readings of undocumented points (each is one place in
//! [`ResourcePattern::matches`] / `split_pattern`):
//! - comparisons are byte-exact and case-sensitive, with no percent-decoding
//!   or normalisation, and the port is part of the host;
//! - a pattern without a query section and without a trailing path `*` does not
//!   match a URL that has a query.
//!
//! ```
//! use cfsign::{Resource, SignableUrl};
//!
//! let pattern = Resource::pattern("https://d111111abcdef8.cloudfront.net/videos/*")?;
//! let url = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/videos/a.mp4?t=10")?;
//! assert!(pattern.matches(&url));
//! let other = SignableUrl::parse("http://d111111abcdef8.cloudfront.net/videos/a.mp4")?;
//! assert!(!pattern.matches(&other)); // scheme differs
//!
//! let one = Resource::parse("https://cdn.example.com/v/a.ts?v=?")?;
//! assert!(matches!(one, Resource::Pattern(_)));
//! assert!(one.matches_str("https://cdn.example.com/v/a.ts?v=7"));
//! assert!(!one.matches_str("https://cdn.example.com/v/a.ts?v=77"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use crate::excerpt::Excerpt;
use crate::url::{SignableUrl, UrlError};

/// Why a resource pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceError {
    /// Not a URL, a `*://` pattern or `*`.
    #[error(
        "resource {} must start with http://, https://, *:// or http*://, or be \"*\" \
         (or start with '*' in the host, like *example.com)",
        Excerpt::start(resource)
    )]
    Scheme {
        /// The input.
        resource: String,
    },
    /// A character that would need JSON escaping or is not ASCII.
    #[error(
        "resource {} contains {shown} at position {position}; resources are percent-encoded \
         ASCII URLs (CloudFront compares them byte for byte), so encode it as {encoded}",
        Excerpt::around(resource, *position)
    )]
    Character {
        /// The input.
        resource: String,
        /// Description of the character.
        shown: String,
        /// Byte offset.
        position: usize,
        /// Suggested encoding.
        encoded: String,
    },
    /// Empty string.
    #[error("the resource is empty; use a URL or a pattern such as https://example.com/*")]
    Empty,
    /// A URL resource failed URL validation.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// An RTMP stream name with a scheme or bad characters.
    #[error("RTMP stream name {} {reason}", Excerpt::start(name))]
    Rtmp {
        /// The input.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// What a policy statement grants access to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Exactly one URL. Eligible for a canned policy.
    Url(SignableUrl),
    /// A pattern with `*`/`?` wildcards (or any resource different from the URL
    /// that is delivered). Always signed as a custom policy.
    Pattern(ResourcePattern),
    /// A legacy RTMP stream name such as `videos/mediafile.flv` (no scheme).
    ///
    /// CloudFront retired RTMP distributions on 31 December 2020; this exists only
    /// to reproduce signatures of old integrations.
    RtmpStream(String),
}

impl Resource {
    /// An exact URL resource (validated by [`SignableUrl::parse`]). Use
    /// [`Resource::parse`] to classify; a wildcard left in a URL resource is still
    /// read as one by [`Policy::builder`](crate::Policy::builder) (custom policy).
    pub fn url(url: &str) -> Result<Self, ResourceError> {
        Ok(Resource::Url(SignableUrl::parse(url)?))
    }

    /// A wildcard pattern such as `https://example.com/videos/*`.
    pub fn pattern(pattern: &str) -> Result<Self, ResourceError> {
        Ok(Resource::Pattern(ResourcePattern::new(pattern)?))
    }

    /// A legacy RTMP stream name (see [`Resource::RtmpStream`]).
    pub fn rtmp_stream(name: &str) -> Result<Self, ResourceError> {
        let bad = |reason| ResourceError::Rtmp {
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(bad("is empty"));
        }
        if name.contains("://") || name.starts_with('/') {
            return Err(bad(
                "must be the bare stream name without scheme, host or leading '/' (e.g. videos/mediafile.flv)",
            ));
        }
        check_characters(name)
            .map_err(|_| bad("must be percent-encoded ASCII without quotes or backslashes"))?;
        Ok(Resource::RtmpStream(name.to_owned()))
    }

    /// Parses user input: a URL without wildcards becomes [`Resource::Url`]; one
    /// with a wildcard ([`has_wildcard`]: a `*` anywhere, or a `?` in the host or
    /// after the `?` that starts the query) becomes [`Resource::Pattern`].
    ///
    /// ```
    /// use cfsign::Resource;
    ///
    /// assert!(matches!(Resource::parse("https://x.net/a.ts?v=7")?, Resource::Url(_)));
    /// assert!(matches!(Resource::parse("https://x.net/a.ts?v=?")?, Resource::Pattern(_)));
    /// assert!(matches!(Resource::parse("https://x.net/*")?, Resource::Pattern(_)));
    /// # Ok::<(), cfsign::ResourceError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, ResourceError> {
        if has_wildcard(text) {
            Self::pattern(text)
        } else {
            Self::url(text)
        }
    }

    /// The resource string as it appears in the policy.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Resource::Url(u) => u.as_str(),
            Resource::Pattern(p) => p.as_str(),
            Resource::RtmpStream(s) => s,
        }
    }

    /// For a pattern `scheme://host/path*` with no other wildcard, the text
    /// before the `*` (see [`ResourcePattern::literal_prefix`]); `None` for
    /// anything else, URLs included.
    #[must_use]
    pub fn literal_prefix(&self) -> Option<&str> {
        match self {
            Resource::Pattern(p) => p.literal_prefix(),
            _ => None,
        }
    }

    /// Whether a request for `url` is covered, as CloudFront decides it.
    #[must_use]
    pub fn matches(&self, url: &SignableUrl) -> bool {
        self.matches_str(url.as_str())
    }

    /// Whether a request for the URL text (scheme://host/path[?query], without
    /// CloudFront's parameters) is covered: the signer's and the verifier's one
    /// coverage rule. A URL resource covers exactly itself, a pattern what
    /// [`ResourcePattern::matches_str`] says, an RTMP stream name no URL.
    ///
    /// ```
    /// use cfsign::Resource;
    ///
    /// let host = Resource::parse("https://cdn?.example.com/a.ts")?;
    /// assert!(host.matches_str("https://cdn1.example.com/a.ts"));
    /// assert!(!host.matches_str("https://cdn12.example.com/a.ts"));
    /// # Ok::<(), cfsign::ResourceError>(())
    /// ```
    #[must_use]
    pub fn matches_str(&self, url: &str) -> bool {
        match self {
            Resource::Url(u) => u.as_str() == url,
            Resource::Pattern(p) => p.matches_str(url),
            Resource::RtmpStream(_) => false,
        }
    }
}

/// A URL signed as its own resource: [`Resource::Url`], or [`Resource::Pattern`]
/// if it contains `*` (as the AWS CLI and botocore decide, so such a URL gets a
/// custom policy). A `?` inside its query stays exact: the URL is signed with a
/// canned policy, which CloudFront checks by rebuilding it from the URL it
/// receives, so that `?` only ever stands for itself (a custom policy would let
/// it match any one character, granting more than the URL asked for). Use
/// [`Resource::parse`] for a resource given on its own, where `?` wildcards count.
/// No re-validation: a valid [`SignableUrl`] is always a valid pattern.
///
/// ```
/// use cfsign::{Resource, SignableUrl};
///
/// let exact = Resource::from(SignableUrl::parse("https://x.net/a.jpg?v=1")?);
/// assert!(matches!(exact, Resource::Url(_)));
/// let star = Resource::from(SignableUrl::parse("https://x.net/a*.jpg")?);
/// assert!(matches!(star, Resource::Pattern(_)));
/// let literal = Resource::from(SignableUrl::parse("https://x.net/a.jpg?v=?")?);
/// assert!(matches!(literal, Resource::Url(_)));
/// # Ok::<(), cfsign::UrlError>(())
/// ```
impl From<SignableUrl> for Resource {
    fn from(url: SignableUrl) -> Self {
        if url.as_str().contains('*') {
            Resource::Pattern(ResourcePattern::from_valid(url.as_str().to_owned()))
        } else {
            Resource::Url(url)
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated resource pattern (see the [module docs](self) for matching rules).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourcePattern {
    text: String,
    /// For `scheme://host/path*` with no other wildcard: the length of the text
    /// before the `*`. A URL is then covered exactly when it starts with that
    /// text (the scheme and host match whole, the path by its prefix, any query):
    /// the common folder-and-below resource, matched without splitting.
    literal_prefix: Option<usize>,
}

impl ResourcePattern {
    /// Validates a pattern: ASCII, nothing JSON would escape, a known scheme form.
    pub fn new(pattern: &str) -> Result<Self, ResourceError> {
        if pattern.is_empty() {
            return Err(ResourceError::Empty);
        }
        check_characters(pattern).map_err(|(position, b)| ResourceError::Character {
            resource: pattern.to_owned(),
            shown: if b.is_ascii() && !b.is_ascii_control() && b != b' ' {
                format!("{:?}", b as char)
            } else if b == b' ' {
                "a space".to_owned()
            } else {
                format!("the byte 0x{b:02X}")
            },
            position,
            encoded: if b.is_ascii() {
                format!("%{b:02X}")
            } else {
                "its UTF-8 bytes (%XX each)".to_owned()
            },
        })?;
        let ok_scheme = pattern == "*"
            || pattern.starts_with("http://")
            || pattern.starts_with("https://")
            || pattern.starts_with("*://")
            || pattern.starts_with("http*://")
            || (pattern.starts_with('*') && !pattern.contains("://"));
        if !ok_scheme {
            return Err(ResourceError::Scheme {
                resource: pattern.to_owned(),
            });
        }
        Ok(Self::from_valid(pattern.to_owned()))
    }

    fn from_valid(text: String) -> Self {
        let literal_prefix = text.strip_suffix('*').and_then(|prefix| {
            let after_scheme = prefix.find("://")? + 3;
            let literal = !prefix.contains(['*', '?']);
            let has_path = prefix[after_scheme..].contains('/');
            (literal && has_path).then_some(prefix.len())
        });
        Self {
            text,
            literal_prefix,
        }
    }

    /// The pattern text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// For `scheme://host/path*` with no other wildcard, the text before the
    /// `*`: a URL is covered exactly when it starts with it.
    ///
    /// ```
    /// use cfsign::ResourcePattern;
    /// let folder = ResourcePattern::new("https://cdn.example.com/v/1/*")?;
    /// assert_eq!(folder.literal_prefix(), Some("https://cdn.example.com/v/1/"));
    /// assert_eq!(ResourcePattern::new("https://*.example.com/v/*")?.literal_prefix(), None);
    /// # Ok::<(), cfsign::ResourceError>(())
    /// ```
    #[must_use]
    pub fn literal_prefix(&self) -> Option<&str> {
        self.literal_prefix.map(|len| &self.text[..len])
    }

    /// Whether `url` is covered.
    #[must_use]
    pub fn matches(&self, url: &SignableUrl) -> bool {
        self.matches_str(url.as_str())
    }

    /// Whether the URL text (scheme://host/path[?query], no CloudFront parameters)
    /// is covered. Any URL that does not split into sections is not covered.
    #[must_use]
    pub fn matches_str(&self, url: &str) -> bool {
        if let Some(len) = self.literal_prefix {
            return url.starts_with(&self.text[..len]);
        }
        if self.text == "*" {
            return true;
        }
        let Some(u) = split_url(url) else {
            return false;
        };
        let p = split_pattern(&self.text);
        wildcard_match(p.scheme, u.scheme)
            && wildcard_match(p.host, u.host)
            && wildcard_match(p.path, u.path)
            && match (p.query, u.query) {
                (QueryPattern::Any, _) => true,
                (QueryPattern::Absent, None) => true,
                (QueryPattern::Absent, Some(_)) => false,
                // A pattern query section cannot match a URL without a query, except
                // one consisting only of '*' (zero or more characters).
                (QueryPattern::Glob(q), None) => q.bytes().all(|b| b == b'*'),
                (QueryPattern::Glob(q), Some(uq)) => wildcard_match(q, uq),
            }
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Returns the position and byte of the first character that cannot appear in a
/// resource (non-ASCII, control, space, `"`, `\`).
fn check_characters(text: &str) -> Result<(), (usize, u8)> {
    match text.bytes().enumerate().find(|&(_, b)| {
        !b.is_ascii() || b.is_ascii_control() || b == b' ' || b == b'"' || b == b'\\'
    }) {
        Some(found) => Err(found),
        None => Ok(()),
    }
}

struct UrlSections<'a> {
    scheme: &'a str,
    host: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

fn split_url(url: &str) -> Option<UrlSections<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (host, rest) = rest.split_at(host_end);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    Some(UrlSections {
        scheme,
        host,
        path,
        query,
    })
}

enum QueryPattern<'a> {
    /// Anything, including no query at all.
    Any,
    /// The URL must have no query.
    Absent,
    /// The URL's query must match this glob.
    Glob(&'a str),
}

struct PatternSections<'a> {
    scheme: &'a str,
    host: &'a str,
    path: &'a str,
    query: QueryPattern<'a>,
}

/// Splits a pattern into sections, applying CloudFront's implicit wildcards. The
/// one place that decides which `?` starts the query (see the [module docs](self)).
fn split_pattern(pattern: &str) -> PatternSections<'_> {
    let (scheme, rest) = match pattern.split_once("://") {
        Some((s, r)) => (s, r),
        // `*example.com` means `*://*example.com/`.
        None => ("*", pattern),
    };
    // The host ends at the first '/'. A '?' in the host is a wildcard there.
    let host_end = rest.find('/').unwrap_or(rest.len());
    let (host, rest) = rest.split_at(host_end);
    if rest.is_empty() {
        if host.ends_with('*') {
            // `http://example.com*` ≡ `http://example.com*/*?*`
            return PatternSections {
                scheme,
                host,
                path: "/*",
                query: QueryPattern::Any,
            };
        }
        return PatternSections {
            scheme,
            host,
            path: "/",
            query: QueryPattern::Absent,
        };
    }
    // Strict reading: the first '?' after the host starts the query section.
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let query = match query {
        Some(q) => QueryPattern::Glob(q),
        // `http://example.com/hello*` ≡ `http://example.com/hello*?*`
        None if path.ends_with('*') => QueryPattern::Any,
        None => QueryPattern::Absent,
    };
    PatternSections {
        scheme,
        host,
        path,
        query,
    }
}

/// Whether a resource text has a wildcard, i.e. is a pattern that only a custom
/// policy can carry: a `*` anywhere, or a `?` that is not the query delimiter (a
/// `?` in the scheme or host, or any `?` after the first one that follows the
/// host; see the [module docs](self)).
///
/// ```
/// use cfsign::resource::has_wildcard;
///
/// assert!(has_wildcard("https://cdn.example.com/v/*"));
/// assert!(has_wildcard("https://cdn.example.com/v/a.ts?v=?"));
/// assert!(has_wildcard("https://cdn?.example.com/v/a.ts"));
/// assert!(!has_wildcard("https://cdn.example.com/v/a.ts?v=7"));
/// // The first '?' after the host starts the query: path "/v/a", query ".ts".
/// assert!(!has_wildcard("https://cdn.example.com/v/a?.ts"));
/// ```
#[must_use]
pub fn has_wildcard(resource: &str) -> bool {
    let p = split_pattern(resource);
    resource.contains('*')
        || [p.scheme, p.host, p.path]
            .iter()
            .any(|section| section.contains('?'))
        || matches!(p.query, QueryPattern::Glob(q) if q.contains('?'))
}

/// The host section of a resource (with the port; empty for `*`).
pub(crate) fn host_section(resource: &str) -> &str {
    if resource == "*" {
        return "";
    }
    split_pattern(resource).host
}

/// The query section as written in a resource (after the `?` that starts it), if
/// it has one; a query implied by a trailing `*` is not written.
pub(crate) fn written_query(resource: &str) -> Option<&str> {
    match split_pattern(resource).query {
        QueryPattern::Glob(q) => Some(q),
        QueryPattern::Any | QueryPattern::Absent => None,
    }
}

/// CloudFront's wildcard match: `*` = zero or more bytes, `?` = exactly one
/// byte, everything else literal and case-sensitive. Iterative with single-star
/// backtracking: O(len(pattern) * len(text)) worst case, no recursion.
///
/// ```
/// use cfsign::resource::wildcard_match;
///
/// assert!(wildcard_match("/videos/*.m3u8", "/videos/a/index.m3u8"));
/// assert!(wildcard_match("img?.png", "img1.png"));
/// assert!(!wildcard_match("img?.png", "img10.png"));
/// ```
#[must_use]
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) && p[pi] != b'*' {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_literal_prefix_shortcut_decides_as_the_sections_do() {
        let patterns = [
            "https://cdn.example.com/movies/42/*",
            "https://cdn.example.com/*",
            "http://cdn.example.com:8080/a/b*",
            "https://cdn.example.com/movies/42/index*",
        ];
        let urls = [
            "https://cdn.example.com/movies/42/a.ts",
            "https://cdn.example.com/movies/42/",
            "https://cdn.example.com/movies/42/sub/a.ts?x=1&y=?",
            "https://cdn.example.com/movies/42",
            "https://cdn.example.com/movies/421/a.ts",
            "https://cdn.example.com.evil/movies/42/a.ts",
            "https://cdn.example.com:443/movies/42/a.ts",
            "http://cdn.example.com/movies/42/a.ts",
            "https://cdn.example.com/movies/42/index.m3u8",
            "http://cdn.example.com:8080/a/b",
            "http://cdn.example.com:8080/a/bc/d?e",
            "http://cdn.example.com:80801/a/b",
            "https://cdn.example.com?/movies/42/a.ts",
            "not a url",
        ];
        for pattern in patterns {
            let fast = ResourcePattern::new(pattern).unwrap();
            assert!(fast.literal_prefix.is_some(), "{pattern}");
            let slow = ResourcePattern {
                literal_prefix: None,
                ..fast.clone()
            };
            for url in urls {
                assert_eq!(
                    fast.matches_str(url),
                    slow.matches_str(url),
                    "{pattern} {url}"
                );
            }
        }
        for pattern in [
            "https://*.example.com/a/*",
            "https://cdn.example.com/a?b*",
            "https://cdn.example.com*",
            "*",
        ] {
            assert!(
                ResourcePattern::new(pattern)
                    .unwrap()
                    .literal_prefix
                    .is_none(),
                "{pattern}"
            );
        }
    }
    use proptest::prelude::*;

    fn m(pattern: &str, url: &str) -> bool {
        ResourcePattern::new(pattern).unwrap().matches_str(url)
    }

    #[test]
    fn documented_examples() {
        // spec §6.3
        assert!(m(
            "https://d111111abcdef8.cloudfront.net/*game_download.zip*",
            "https://d111111abcdef8.cloudfront.net/game_download.zip"
        ));
        assert!(m(
            "https://d111111abcdef8.cloudfront.net/*game_download.zip*",
            "https://d111111abcdef8.cloudfront.net/x/y/game_download.zip?license=abc"
        ));
        assert!(m(
            "http://example.com/hello*",
            "http://example.com/hello/world?a=b"
        ));
        assert!(m("http://example.com*", "http://example.com.evil.net/a?b"));
        assert!(m("http://example.com*", "http://example.com:8080/x"));
        assert!(m("*", "ftp://anything"));
        assert!(m("*://example.com/a", "http://example.com/a"));
        assert!(m("*://example.com/a", "https://example.com/a"));
        assert!(m("http*://example.com/a", "https://example.com/a"));
        assert!(m("*example.com", "https://www.example.com/"));
        assert!(!m("*example.com", "https://www.example.com/a"));
    }

    #[test]
    fn wildcards_stay_in_their_section() {
        // '*' in the host does not reach into the path
        assert!(!m("https://*.example.com/a", "https://x.example.com/b/a"));
        assert!(m("https://*.example.com/a", "https://x.y.example.com/a"));
        // '*' in the path (not trailing) does not cover the query
        assert!(!m(
            "https://example.com/*.jpg",
            "https://example.com/a.jpg?x=1"
        ));
        assert!(m(
            "https://example.com/*.jpg",
            "https://example.com/a/b.jpg"
        ));
        // scheme is its own section
        assert!(!m("https://example.com/*", "http://example.com/a"));
        // '?' is exactly one character, within the query here
        assert!(m("https://example.com/a?v=?", "https://example.com/a?v=1"));
        assert!(!m(
            "https://example.com/a?v=?",
            "https://example.com/a?v=12"
        ));
        // host '?' wildcard
        assert!(m(
            "https://cdn?.example.com/a",
            "https://cdn1.example.com/a"
        ));
    }

    #[test]
    fn strict_readings() {
        // no query section, no trailing '*': a URL with a query is not covered
        assert!(!m("https://example.com/a", "https://example.com/a?x=1"));
        // the first '?' after the host is the query delimiter, not a path wildcard
        assert!(!m("https://example.com/a?c", "https://example.com/abc"));
        // case-sensitive, no percent-decoding
        assert!(!m("https://example.com/A*", "https://example.com/a"));
        assert!(!m(
            "https://example.com/a%20*",
            "https://example.com/a%2520"
        ));
        assert!(!m("https://example.com/a%20*", "https://example.com/a 1"));
        // port is part of the host
        assert!(!m("https://example.com/*", "https://example.com:8443/a"));
        // explicit empty-capable query glob
        assert!(m("https://example.com/a?*", "https://example.com/a"));
        assert!(!m("https://example.com/a?x*", "https://example.com/a"));
    }

    #[test]
    fn url_resource_matches_only_itself() {
        let r = Resource::url("https://example.com/a?b=1").unwrap();
        assert!(r.matches(&SignableUrl::parse("https://example.com/a?b=1").unwrap()));
        assert!(!r.matches(&SignableUrl::parse("https://example.com/a?b=2").unwrap()));
    }

    #[test]
    fn validation() {
        assert!(matches!(
            ResourcePattern::new(""),
            Err(ResourceError::Empty)
        ));
        assert!(matches!(
            ResourcePattern::new("ftp://x/*"),
            Err(ResourceError::Scheme { .. })
        ));
        assert!(matches!(
            ResourcePattern::new("example.com/*"),
            Err(ResourceError::Scheme { .. })
        ));
        let e = ResourcePattern::new("https://example.com/a b*")
            .unwrap_err()
            .to_string();
        assert!(e.contains("%20") && e.contains("position 21"), "{e}");
        assert!(ResourcePattern::new("https://example.com/\"*").is_err());
        assert!(ResourcePattern::new("https://example.com/é*").is_err());
        assert!(Resource::rtmp_stream("videos/mediafile.flv").is_ok());
        assert!(Resource::rtmp_stream("rtmp://x/videos/a.flv").is_err());
        assert!(matches!(
            Resource::parse("https://x.com/a").unwrap(),
            Resource::Url(_)
        ));
        assert!(matches!(
            Resource::parse("https://x.com/*").unwrap(),
            Resource::Pattern(_)
        ));
    }

    /// Oracle: translate a glob into a regex-free backtracking matcher.
    fn glob_oracle(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (None, Some(_)) => false,
            (Some(b'*'), _) => {
                glob_oracle(&p[1..], t) || (!t.is_empty() && glob_oracle(p, &t[1..]))
            }
            (Some(_), None) => false,
            (Some(&pc), Some(&tc)) => (pc == b'?' || pc == tc) && glob_oracle(&p[1..], &t[1..]),
        }
    }

    proptest! {
        #[test]
        fn glob_agrees_with_recursive_oracle(p in "[ab*?]{0,8}", t in "[ab]{0,10}") {
            prop_assert_eq!(wildcard_match(&p, &t), glob_oracle(p.as_bytes(), t.as_bytes()));
        }
    }
}
