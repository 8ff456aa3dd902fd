//! Reading a viewer request: where the credentials are (query or cookies), their
//! values as CloudFront reads them (query values percent-decoded, see
//! [`strict`](super::strict)), and the URL without them. Borrowed slices, except
//! the URL without signing parameters and the values that needed decoding.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::verify::strict::{self, QUERY_CREDENTIAL_NAMES};

/// Longest request URL considered (CloudFront's documented limit).
pub const MAX_REQUEST_URL_BYTES: usize = 8192;

/// Longest `Cookie` header considered (CloudFront's documented request limit).
pub const MAX_COOKIE_HEADER_BYTES: usize = 20_480;

/// A request as the viewer sent it.
///
/// ```
/// use cfsign::verify::ViewerRequest;
///
/// let request = ViewerRequest::new("https://d111111abcdef8.cloudfront.net/a.jpg")
///     .cookie_header("CloudFront-Key-Pair-Id=K2JCJMDEHXQW5F")
///     .client_ip("192.0.2.10".parse().unwrap());
/// assert_eq!(request.url(), "https://d111111abcdef8.cloudfront.net/a.jpg");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewerRequest<'a> {
    url: &'a str,
    cookie_header: Option<&'a str>,
    client_ip: Option<IpAddr>,
}

impl<'a> ViewerRequest<'a> {
    /// The full URL as the viewer sent it: scheme, host (with port), path, raw query.
    /// (The method does not change CloudFront's decision, so it is not an input.)
    #[must_use]
    pub fn new(url: &'a str) -> Self {
        Self {
            url,
            cookie_header: None,
            client_ip: None,
        }
    }

    /// The `Cookie` header, if any.
    #[must_use]
    pub fn cookie_header(mut self, header: &'a str) -> Self {
        self.cookie_header = Some(header);
        self
    }

    /// The client's IP address (the TCP peer, or a trusted proxy's `X-Forwarded-For`).
    #[must_use]
    pub fn client_ip(mut self, ip: IpAddr) -> Self {
        self.client_ip = Some(ip);
        self
    }

    /// The URL.
    #[must_use]
    pub fn url(&self) -> &'a str {
        self.url
    }

    /// The `Cookie` header.
    #[must_use]
    pub fn cookie(&self) -> Option<&'a str> {
        self.cookie_header
    }

    /// The client IP.
    #[must_use]
    pub fn ip(&self) -> Option<IpAddr> {
        self.client_ip
    }
}

/// Where the credentials were taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    /// The query string (signed URL); cookies are ignored.
    Query,
    /// `CloudFront-*` cookies.
    Cookies,
    /// Neither.
    None,
}

impl std::fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CredentialSource::Query => "query string",
            CredentialSource::Cookies => "cookies",
            CredentialSource::None => "none",
        })
    }
}

/// Something ambiguous in how the credentials were sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialProblem {
    /// A CloudFront parameter or cookie appears more than once.
    Duplicate(String),
    /// A query parameter's name is a case variant of a CloudFront one.
    CaseVariant(String),
    /// A query parameter's name is a CloudFront one percent-encoded (`%53ignature`).
    EncodedName(String),
    /// The value of this CloudFront query parameter has a `%` that is not
    /// followed by two hex digits, or decodes to bytes that are not UTF-8.
    InvalidEscape(&'static str),
}

/// The CloudFront values of a request, as CloudFront reads them: query values
/// percent-decoded once (`Signature=ab%7Ecd` is `ab~cd`), cookie values as sent.
///
/// ```
/// use cfsign::verify::{credentials, CredentialSource, ViewerRequest};
///
/// let request = ViewerRequest::new(
///     "https://d111111abcdef8.cloudfront.net/a.jpg?v=%7E1&Policy=eyJ9&Signature=ab%7Ecd&Key-Pair-Id=K2JCJMDEHXQW5F",
/// );
/// let c = credentials(&request)?;
/// assert_eq!(c.source, CredentialSource::Query);
/// assert_eq!(c.signature.as_deref(), Some("ab~cd"));
/// assert_eq!(c.percent_decoded, ["Signature"]);
/// // The URL without the signing parameters keeps every other byte as sent.
/// assert_eq!(c.unsigned_url, "https://d111111abcdef8.cloudfront.net/a.jpg?v=%7E1");
/// # Ok::<(), cfsign::verify::RequestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// Where they came from.
    pub source: CredentialSource,
    /// `Expires` / `CloudFront-Expires`.
    pub expires: Option<Cow<'a, str>>,
    /// `Policy` / `CloudFront-Policy`.
    pub policy: Option<Cow<'a, str>>,
    /// `Signature` / `CloudFront-Signature`.
    pub signature: Option<Cow<'a, str>>,
    /// `Key-Pair-Id` / `CloudFront-Key-Pair-Id`.
    pub key_pair_id: Option<Cow<'a, str>>,
    /// `Hash-Algorithm` / `CloudFront-Hash-Algorithm`.
    pub hash_algorithm: Option<Cow<'a, str>>,
    /// The parameters whose values arrived percent-encoded and were read decoded
    /// (in the order `Expires`, `Policy`, `Signature`, `Key-Pair-Id`,
    /// `Hash-Algorithm`; never for cookies).
    pub percent_decoded: Vec<&'static str>,
    /// The first ambiguity found, if any.
    pub problem: Option<CredentialProblem>,
    /// The request URL without the signing parameters: what a canned policy is
    /// rebuilt from, what resources are matched against, what goes to the origin.
    pub unsigned_url: Cow<'a, str>,
}

/// Why a request URL cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Longer than CloudFront accepts.
    #[error("the request URL is {0} bytes, over CloudFront's {MAX_REQUEST_URL_BYTES}-byte limit")]
    UrlTooLong(usize),
    /// The `Cookie` header is too large.
    #[error(
        "the Cookie header is {0} bytes, over the {MAX_COOKIE_HEADER_BYTES}-byte request limit"
    )]
    CookieTooLong(usize),
    /// Not `scheme://host/path`.
    #[error("the request URL {0:?} is not absolute (scheme://host/path?query)")]
    NotAbsolute(String),
    /// Has a fragment, which viewers never send.
    #[error(
        "the request URL has a fragment ('#...'), which is never sent to CloudFront; remove it"
    )]
    Fragment,
}

const COOKIE_NAMES: [&str; 5] = [
    "CloudFront-Expires",
    "CloudFront-Policy",
    "CloudFront-Signature",
    "CloudFront-Key-Pair-Id",
    "CloudFront-Hash-Algorithm",
];

#[derive(Default)]
struct Slots<'a> {
    values: [Option<&'a str>; 5],
    problem: Option<CredentialProblem>,
    any: bool,
}

impl<'a> Slots<'a> {
    fn set(&mut self, index: usize, name: &str, value: &'a str) {
        self.any = true;
        if self.values[index].is_some() {
            self.problem
                .get_or_insert_with(|| CredentialProblem::Duplicate(name.to_owned()));
        } else {
            self.values[index] = Some(value);
        }
    }
}

/// Splits `scheme://host/path?query`; returns the index of `?` if any.
pub(crate) fn check_url(url: &str) -> Result<Option<usize>, RequestError> {
    if url.len() > MAX_REQUEST_URL_BYTES {
        return Err(RequestError::UrlTooLong(url.len()));
    }
    let after_scheme = url
        .find("://")
        .filter(|&i| i > 0)
        .map(|i| i + 3)
        .ok_or_else(|| RequestError::NotAbsolute(url.to_owned()))?;
    if !url[after_scheme..].contains('/') && !url[after_scheme..].contains('?') {
        return Err(RequestError::NotAbsolute(url.to_owned()));
    }
    if url.contains('#') {
        return Err(RequestError::Fragment);
    }
    Ok(url.find('?'))
}

/// Collects the CloudFront values of a request (query first, then cookies).
pub fn credentials<'a>(request: &ViewerRequest<'a>) -> Result<Credentials<'a>, RequestError> {
    let url = request.url;
    let query_start = check_url(url)?;
    let mut query = Slots::default();
    let mut own: Vec<&str> = Vec::new();
    if let Some(q) = query_start {
        for segment in url[q + 1..].split('&') {
            let name = segment.split_once('=').map_or(segment, |(n, _)| n);
            let value = segment.split_once('=').map_or("", |(_, v)| v);
            if let Some(index) = QUERY_CREDENTIAL_NAMES.iter().position(|&n| n == name) {
                query.set(index, name, value);
            } else {
                if let Some(problem) = reserved_name_variant(name) {
                    query.problem.get_or_insert(problem);
                }
                own.push(segment);
            }
        }
    }
    let unsigned_url = match query_start {
        Some(q) if query.any => {
            let mut s =
                String::with_capacity(q + 1 + own.iter().map(|p| p.len() + 1).sum::<usize>());
            s.push_str(&url[..q]);
            for (i, part) in own.iter().enumerate() {
                s.push(if i == 0 { '?' } else { '&' });
                s.push_str(part);
            }
            Cow::Owned(s)
        }
        _ => Cow::Borrowed(url),
    };
    let (slots, source) = if query.any {
        (query, CredentialSource::Query)
    } else {
        let mut cookies = Slots {
            problem: query.problem,
            ..Slots::default()
        };
        if let Some(header) = request.cookie_header {
            if header.len() > MAX_COOKIE_HEADER_BYTES {
                return Err(RequestError::CookieTooLong(header.len()));
            }
            for pair in header.split(';') {
                let pair = pair.trim_matches(|c| c == ' ' || c == '\t');
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                if let Some(index) = COOKIE_NAMES.iter().position(|&n| n == name) {
                    cookies.set(index, name, value);
                }
            }
        }
        let source = if cookies.any {
            CredentialSource::Cookies
        } else {
            CredentialSource::None
        };
        (cookies, source)
    };
    let mut problem = slots.problem;
    let mut percent_decoded = Vec::new();
    let decode = strict::percent_decodes(source);
    let [expires, policy, signature, key_pair_id, hash_algorithm] = std::array::from_fn(|index| {
        let raw = slots.values[index]?;
        if !decode || !raw.contains('%') {
            return Some(Cow::Borrowed(raw));
        }
        let name = QUERY_CREDENTIAL_NAMES[index];
        match percent_decode(raw) {
            Some(value) => {
                percent_decoded.push(name);
                Some(Cow::Owned(value))
            }
            None => {
                problem.get_or_insert(CredentialProblem::InvalidEscape(name));
                Some(Cow::Borrowed(raw))
            }
        }
    });
    Ok(Credentials {
        source,
        expires,
        policy,
        signature,
        key_pair_id,
        hash_algorithm,
        percent_decoded,
        problem,
        unsigned_url,
    })
}

/// A query parameter name that CloudFront reserves in another letter case, or
/// percent-encoded: an ambiguity (see [`strict`](super::strict)).
fn reserved_name_variant(name: &str) -> Option<CredentialProblem> {
    let reserved = |n: &str| {
        QUERY_CREDENTIAL_NAMES
            .iter()
            .any(|r| r.eq_ignore_ascii_case(n))
    };
    if reserved(name) {
        Some(CredentialProblem::CaseVariant(name.to_owned()))
    } else if name.contains('%') && percent_decode(name).is_some_and(|n| reserved(&n)) {
        Some(CredentialProblem::EncodedName(name.to_owned()))
    } else {
        None
    }
}

/// Percent-decodes once, as an HTTP server decodes a query component (RFC 3986
/// `%XX`; `+` stays `+`). `None` when a `%` is not followed by two hex digits,
/// or the bytes are not UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let digit = |h: u8| char::from(h).to_digit(16);
            let value = digit(hex[0])? * 16 + digit(hex[1])?;
            out.push(u8::try_from(value).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(url: &str, cookie: Option<&str>) -> Credentials<'static> {
        let url: &'static str = Box::leak(url.to_owned().into_boxed_str());
        let mut r = ViewerRequest::new(url);
        if let Some(c) = cookie {
            r = r.cookie_header(Box::leak(c.to_owned().into_boxed_str()));
        }
        credentials(&r).unwrap()
    }

    #[test]
    fn query_wins_and_is_removed_in_order() {
        let c = creds(
            "https://x.net/a?b=1&Expires=5&c=2&Signature=s&Key-Pair-Id=K",
            Some("CloudFront-Key-Pair-Id=C"),
        );
        assert_eq!(c.source, CredentialSource::Query);
        assert_eq!(
            (
                c.expires.as_deref(),
                c.signature.as_deref(),
                c.key_pair_id.as_deref()
            ),
            (Some("5"), Some("s"), Some("K"))
        );
        assert_eq!(c.unsigned_url, "https://x.net/a?b=1&c=2");
        let c = creds(
            "https://x.net/a?Policy=p&Signature=s&Key-Pair-Id=K&Hash-Algorithm=SHA256",
            None,
        );
        assert_eq!(c.unsigned_url, "https://x.net/a");
        assert_eq!(c.hash_algorithm.as_deref(), Some("SHA256"));
    }

    #[test]
    fn cookies_when_query_has_no_credentials() {
        let c = creds(
            "https://x.net/a?x=1",
            Some(
                "other=1; CloudFront-Policy=p;CloudFront-Signature=s;  CloudFront-Key-Pair-Id=K; cloudfront-policy=zzz",
            ),
        );
        assert_eq!(c.source, CredentialSource::Cookies);
        assert_eq!(
            (
                c.policy.as_deref(),
                c.signature.as_deref(),
                c.key_pair_id.as_deref()
            ),
            (Some("p"), Some("s"), Some("K"))
        );
        assert_eq!(c.unsigned_url, "https://x.net/a?x=1");
        assert_eq!(c.problem, None);
        assert_eq!(
            creds("https://x.net/a", None).source,
            CredentialSource::None
        );
    }

    #[test]
    fn ambiguities_are_recorded() {
        let c = creds(
            "https://x.net/a?Expires=1&Expires=2&Signature=s&Key-Pair-Id=K",
            None,
        );
        assert_eq!(
            c.problem,
            Some(CredentialProblem::Duplicate("Expires".into()))
        );
        assert_eq!(c.expires.as_deref(), Some("1"));
        let c = creds("https://x.net/a?expires=1&Signature=s&Key-Pair-Id=K", None);
        assert_eq!(
            c.problem,
            Some(CredentialProblem::CaseVariant("expires".into()))
        );
        assert_eq!(c.unsigned_url, "https://x.net/a?expires=1");
        let c = creds(
            "https://x.net/a",
            Some("CloudFront-Signature=a; CloudFront-Signature=b"),
        );
        assert_eq!(
            c.problem,
            Some(CredentialProblem::Duplicate("CloudFront-Signature".into()))
        );
    }

    #[test]
    fn query_values_are_percent_decoded_once_and_the_unsigned_url_is_kept() {
        // aws-cloudfront-sign (URLSearchParams): every '~' arrives as %7E.
        let c = creds(
            "https://x.net/a%7Eb?q=%7E+1&Expires=17&Policy=ab%7Ecd__&Signature=%7e%7E-_&Key-Pair-Id=%4B1&Hash-Algorithm=SHA%32%356",
            None,
        );
        assert_eq!(c.policy.as_deref(), Some("ab~cd__"));
        assert_eq!(c.signature.as_deref(), Some("~~-_"));
        assert_eq!(c.key_pair_id.as_deref(), Some("K1"));
        assert_eq!(c.hash_algorithm.as_deref(), Some("SHA256"));
        assert_eq!(c.expires.as_deref(), Some("17"));
        assert_eq!(
            c.percent_decoded,
            ["Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm"]
        );
        assert_eq!(c.problem, None);
        // the rest of the URL is byte for byte what was sent (canned rebuild, origin)
        assert_eq!(c.unsigned_url, "https://x.net/a%7Eb?q=%7E+1");
        // undecoded values stay borrowed
        assert!(matches!(c.expires, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn plus_double_encoding_and_bad_escapes() {
        // '+' is not a space (RFC 3986 decoding, not form decoding)
        let c = creds("https://x.net/a?Signature=a+b&Key-Pair-Id=K", None);
        assert_eq!(c.signature.as_deref(), Some("a+b"));
        // decoded once: %257E is %7E, and %2B is '+'
        let c = creds("https://x.net/a?Signature=a%257E%2B&Key-Pair-Id=K", None);
        assert_eq!(c.signature.as_deref(), Some("a%7E+"));
        assert_eq!(c.problem, None);
        for bad in ["a%7", "a%", "a%zz", "%G0a", "a%FF", "a%C3"] {
            let c = creds(
                &format!("https://x.net/a?Key-Pair-Id=K&Signature={bad}"),
                None,
            );
            assert_eq!(
                c.problem,
                Some(CredentialProblem::InvalidEscape("Signature")),
                "{bad}"
            );
            assert_eq!(c.signature.as_deref(), Some(bad), "kept as sent");
        }
        // a valid multi-byte character decodes (and is then not base64)
        let c = creds("https://x.net/a?Key-Pair-Id=K&Signature=%C3%A9", None);
        assert_eq!(c.signature.as_deref(), Some("é"));
    }

    #[test]
    fn encoded_reserved_names_are_ambiguous() {
        for name in ["%53ignature", "Key%2DPair-Id", "%65xpires", "%50OLICY"] {
            let c = creds(&format!("https://x.net/a?{name}=1&Key-Pair-Id=K"), None);
            assert_eq!(
                c.problem,
                Some(CredentialProblem::EncodedName(name.to_owned())),
                "{name}"
            );
            // not read as the parameter: it stays in the URL
            assert_eq!(c.unsigned_url, format!("https://x.net/a?{name}=1"));
        }
        let c = creds("https://x.net/a?%41=1&Key-Pair-Id=K", None);
        assert_eq!(c.problem, None);
    }

    #[test]
    fn cookie_values_are_not_decoded() {
        let c = creds(
            "https://x.net/a",
            Some("CloudFront-Signature=ab%7Ecd; CloudFront-Key-Pair-Id=%4B1"),
        );
        assert_eq!(c.source, CredentialSource::Cookies);
        assert_eq!(c.signature.as_deref(), Some("ab%7Ecd"));
        assert_eq!(c.key_pair_id.as_deref(), Some("%4B1"));
        assert!(c.percent_decoded.is_empty());
        let c = creds("https://x.net/a", Some("CloudFront-Signature=a%zz"));
        assert_eq!(c.problem, None, "cookie values are not decoded at all");
    }

    #[test]
    fn bad_urls() {
        let r = |u: &'static str| credentials(&ViewerRequest::new(u));
        assert!(matches!(
            r("/a?Expires=1"),
            Err(RequestError::NotAbsolute(_))
        ));
        assert!(matches!(
            r("https://x.net"),
            Err(RequestError::NotAbsolute(_))
        ));
        assert!(matches!(
            r("https://x.net/a#b"),
            Err(RequestError::Fragment)
        ));
        let long: &'static str =
            Box::leak(format!("https://x.net/{}", "a".repeat(9000)).into_boxed_str());
        assert!(matches!(r(long), Err(RequestError::UrlTooLong(_))));
    }
}
