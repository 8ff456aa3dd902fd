//! The encoding contract: a URL is signed exactly as the client will send it.
//!
//! CloudFront rebuilds the canned policy from the URL it receives, byte for byte,
//! and matches custom-policy resources against it as a string. A signer that signs
//! one encoding and hands out another produces `403 AccessDenied` that nobody can
//! explain — the most reported CloudFront signing bug across all SDKs. cfsign
//! therefore never re-encodes: [`SignableUrl::parse`] accepts only a URL that is
//! already in its on-the-wire form and refuses anything else with the character,
//! its position and the fix. [`SignableUrl::encode`] is the opt-in helper that
//! percent-encodes a raw URL first; what it returns is then signed unchanged.
//!
//! Accepted: `http://` or `https://` (lower case), a lower-case host of letters,
//! digits, `-` and `.`, an optional port, a path starting with `/`, an optional
//! query; only ASCII characters RFC 3986 allows in a path or query
//! (`A–Z a–z 0–9 - . _ ~ ! $ & ' ( ) * + , ; = : @ /`, `?` in the query) and
//! `%` followed by two hex digits. No fragment, no user info, and none of the
//! parameters CloudFront reserves (`Expires`, `Policy`, `Signature`,
//! `Key-Pair-Id`, `Hash-Algorithm`, in any letter case).
//!
//! ```
//! use cfsign::SignableUrl;
//!
//! let url = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/a%20b.mp4?v=2")?;
//! assert_eq!(url.as_str(), "https://d111111abcdef8.cloudfront.net/a%20b.mp4?v=2");
//!
//! let err = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/a b.mp4").unwrap_err();
//! assert!(err.to_string().contains("%20"));
//!
//! let encoded = SignableUrl::encode("https://d111111abcdef8.cloudfront.net/résumé 1.pdf")?;
//! assert_eq!(encoded.as_str(), "https://d111111abcdef8.cloudfront.net/r%C3%A9sum%C3%A9%201.pdf");
//! # Ok::<(), cfsign::UrlError>(())
//! ```

use std::fmt;

use crate::excerpt::Excerpt;

/// The query parameters CloudFront reserves for signing.
pub const RESERVED_PARAMETERS: [&str; 5] = [
    "Expires",
    "Policy",
    "Signature",
    "Key-Pair-Id",
    "Hash-Algorithm",
];

/// CloudFront's documented maximum URL length in bytes (spec §2.8).
pub const MAX_URL_LENGTH: usize = 8192;

/// Which part of the URL a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlPart {
    /// `https://`
    Scheme,
    /// host and port
    Host,
    /// the path
    Path,
    /// the query string
    Query,
}

impl fmt::Display for UrlPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlPart::Scheme => "scheme",
            UrlPart::Host => "host",
            UrlPart::Path => "path",
            UrlPart::Query => "query",
        })
    }
}

/// Why a URL cannot be signed as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not `http://` or `https://`.
    #[error(
        "{} does not start with http:// or https:// (lower case); sign the absolute URL the \
         viewer will request, e.g. https://d111111abcdef8.cloudfront.net/path",
        Excerpt::start(url)
    )]
    Scheme {
        /// The input.
        url: String,
    },
    /// A non-ASCII character.
    #[error(
        "non-ASCII character {character:?} at position {position} in the {part}; percent-encode its \
         UTF-8 bytes as {encoded} (or use the encode helper: `cfsign url --encode`){host_hint}"
    )]
    NonAscii {
        /// The character.
        character: char,
        /// Byte offset in the input.
        position: usize,
        /// Where it is.
        part: UrlPart,
        /// Its percent-encoded form.
        encoded: String,
        /// Extra advice for hosts.
        host_hint: &'static str,
    },
    /// An ASCII character that may not appear unencoded.
    #[error(
        "character {shown} at position {position} in the {part} is not sent as-is by HTTP clients; \
         percent-encode it as {encoded} (or use the encode helper: `cfsign url --encode`)"
    )]
    Unencoded {
        /// Printable description of the character.
        shown: String,
        /// Byte offset.
        position: usize,
        /// Where it is.
        part: UrlPart,
        /// `%XX`.
        encoded: String,
    },
    /// `%` not followed by two hex digits.
    #[error(
        "'%' at position {position} is not followed by two hex digits; write a literal percent \
         sign as %25"
    )]
    BadPercent {
        /// Byte offset.
        position: usize,
    },
    /// A `#fragment`.
    #[error(
        "the URL has a fragment ({}) at position {position}; browsers never send it to \
         CloudFront, so remove it (or encode '#' as %23 if it is part of the file name)",
        Excerpt::start(fragment)
    )]
    Fragment {
        /// The fragment including `#`.
        fragment: String,
        /// Byte offset.
        position: usize,
    },
    /// Host problems.
    #[error("the host {} is not valid: {reason}", Excerpt::start(host))]
    Host {
        /// The host (and port) as given.
        host: String,
        /// What is wrong and the fix.
        reason: String,
    },
    /// No path.
    #[error(
        "{} has no path; clients request at least \"/\", so sign {}",
        Excerpt::around(url, host_end(url)),
        Excerpt::around(fixed, host_end(fixed))
    )]
    MissingPath {
        /// The input.
        url: String,
        /// The input with `/` added.
        fixed: String,
    },
    /// A reserved CloudFront query parameter.
    #[error(
        "the query already contains the parameter {}, which CloudFront reserves for signing; \
         pass the URL without signing parameters, and rename your own parameter if it is yours \
         (letter case is not a way around this: CloudFront's handling of case variants is undocumented)",
        Excerpt::start(name)
    )]
    ReservedParameter {
        /// The parameter name as found.
        name: String,
    },
    /// `?` with nothing after it, or empty `&&` segments.
    #[error(
        "the query string has an empty {what}; remove it, since CloudFront's rebuilt URL would not \
         contain it and the signature would not match"
    )]
    EmptyQueryPart {
        /// "query" or "parameter".
        what: &'static str,
    },
    /// A `.` or `..` path segment (also `%2E`-encoded).
    #[error(
        "the path has the segment {}; browsers and CloudFront remove '.' and '..' segments \
         (also written %2E) before the request is matched, so the URL as signed is never the URL \
         requested: sign the normalised path",
        Excerpt::start(segment)
    )]
    DotSegment {
        /// The segment as written.
        segment: String,
    },
    /// The URL is longer than CloudFront accepts.
    #[error("the URL is {length} bytes; CloudFront refuses URLs over {MAX_URL_LENGTH} bytes")]
    TooLong {
        /// Length in bytes.
        length: usize,
    },
}

impl UrlError {
    /// The byte offset in the input that the error is about, if it is about one
    /// character (to show the input around it, e.g. with
    /// [`Excerpt::around`](crate::excerpt::Excerpt::around)).
    ///
    /// ```
    /// use cfsign::SignableUrl;
    ///
    /// let err = SignableUrl::parse("https://example.com/a b").unwrap_err();
    /// assert_eq!(err.position(), Some(21));
    /// ```
    #[must_use]
    pub fn position(&self) -> Option<usize> {
        match self {
            UrlError::NonAscii { position, .. }
            | UrlError::Unencoded { position, .. }
            | UrlError::BadPercent { position }
            | UrlError::Fragment { position, .. } => Some(*position),
            _ => None,
        }
    }
}

/// Where the host of `url` ends (the first `/`, `?` or `#` after the scheme), for
/// showing a URL without a path around the place the `/` is missing.
fn host_end(url: &str) -> usize {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i)
}

/// An absolute `http`/`https` URL in the exact form the client will send,
/// validated against the encoding contract (see the [module docs](self)).
///
/// It is never re-encoded or normalised: [`as_str`](Self::as_str) returns the
/// input unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignableUrl {
    text: String,
    /// Byte offset of the path's `/`.
    path_start: usize,
    /// Byte offset of `?`, if any.
    query_start: Option<usize>,
}

impl SignableUrl {
    /// Validates a URL that is already percent-encoded as the client will send it.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        if url.len() > MAX_URL_LENGTH {
            return Err(UrlError::TooLong { length: url.len() });
        }
        let after_scheme = if let Some(rest) = url.strip_prefix("https://") {
            url.len() - rest.len()
        } else if let Some(rest) = url.strip_prefix("http://") {
            url.len() - rest.len()
        } else {
            // A non-ASCII character before the scheme is still a scheme problem.
            return Err(UrlError::Scheme {
                url: url.to_owned(),
            });
        };
        let host_end = url[after_scheme..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |i| after_scheme + i);
        validate_host(&url[after_scheme..host_end], after_scheme)?;
        if host_end == url.len() || url.as_bytes()[host_end] != b'/' {
            if let Some(p) = url[host_end..].find('#') {
                return Err(fragment_error(url, host_end + p));
            }
            let mut fixed = url[..host_end].to_owned();
            fixed.push('/');
            fixed.push_str(&url[host_end..]);
            return Err(UrlError::MissingPath {
                url: url.to_owned(),
                fixed,
            });
        }
        let path_start = host_end;
        let mut query_start = None;
        for (position, character) in url[path_start..].char_indices() {
            let position = position + path_start;
            let part = if query_start.is_some() {
                UrlPart::Query
            } else {
                UrlPart::Path
            };
            match character {
                '#' => return Err(fragment_error(url, position)),
                '?' if query_start.is_none() => query_start = Some(position),
                '%' => {
                    let hex = url.as_bytes().get(position + 1..position + 3);
                    if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                        return Err(UrlError::BadPercent { position });
                    }
                }
                c if !c.is_ascii() => return Err(non_ascii(c, position, part)),
                c if is_allowed(c as u8, part) => {}
                c => return Err(unencoded(c as u8, position, part)),
            }
        }
        if let Some(q) = query_start {
            check_query(&url[q + 1..])?;
        }
        let path = &url[path_start..query_start.unwrap_or(url.len())];
        if let Some(segment) = path.split('/').find(|s| is_dot_segment(s)) {
            return Err(UrlError::DotSegment {
                segment: segment.to_owned(),
            });
        }
        Ok(Self {
            text: url.to_owned(),
            path_start,
            query_start,
        })
    }

    /// Percent-encodes a raw URL, then validates it. Opt-in: use it only when the
    /// input is *not* yet in its on-the-wire form, and hand out exactly
    /// [`as_str`](Self::as_str) of the result.
    ///
    /// In the path and query, every byte a client would not send as-is (spaces,
    /// non-ASCII as UTF-8, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`, `[`,
    /// `]`, controls) becomes `%XX` with upper-case hex. Existing valid `%XX`
    /// escapes are kept; a `%` not followed by two hex digits becomes `%25`.
    /// A `#` is refused (a fragment is never sent); the scheme and host are not
    /// changed (an internationalised host must be given in Punycode).
    ///
    /// ```
    /// use cfsign::SignableUrl;
    ///
    /// let url = SignableUrl::encode("https://example.com/100% sure/ça.txt?q=a b")?;
    /// assert_eq!(url.as_str(), "https://example.com/100%25%20sure/%C3%A7a.txt?q=a%20b");
    /// # Ok::<(), cfsign::UrlError>(())
    /// ```
    pub fn encode(raw: &str) -> Result<Self, UrlError> {
        let after_scheme = raw
            .strip_prefix("https://")
            .or_else(|| raw.strip_prefix("http://"))
            .map(|rest| raw.len() - rest.len())
            .ok_or_else(|| UrlError::Scheme {
                url: raw.to_owned(),
            })?;
        let host_end = raw[after_scheme..]
            .find(['/', '?', '#'])
            .map_or(raw.len(), |i| after_scheme + i);
        let mut out = String::with_capacity(raw.len() + 16);
        out.push_str(&raw[..host_end]);
        let mut in_query = false;
        let bytes = raw.as_bytes();
        for (i, &b) in bytes.iter().enumerate().skip(host_end) {
            let part = if in_query {
                UrlPart::Query
            } else {
                UrlPart::Path
            };
            match b {
                b'#' => return Err(fragment_error(raw, i)),
                b'?' if !in_query => {
                    in_query = true;
                    out.push('?');
                }
                b'%' if bytes
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                {
                    out.push('%');
                }
                b if b.is_ascii() && b != b'%' && is_allowed(b, part) => out.push(b as char),
                b => out.push_str(&format!("%{b:02X}")),
            }
        }
        Self::parse(&out)
    }

    /// The URL exactly as validated.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `http` or `https`.
    #[must_use]
    pub fn scheme(&self) -> &str {
        if self.text.starts_with("https://") {
            "https"
        } else {
            "http"
        }
    }

    /// Host with port, if any (e.g. `example.com:8443`).
    #[must_use]
    pub fn host(&self) -> &str {
        let start = self.scheme().len() + 3;
        &self.text[start..self.path_start]
    }

    /// The path, starting with `/`, without the query.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.text[self.path_start..self.query_start.unwrap_or(self.text.len())]
    }

    /// The query string without `?`, if the URL has one.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.query_start.map(|q| &self.text[q + 1..])
    }

    /// The separator that goes before appended signing parameters: `&` when the
    /// URL already has a query, `?` otherwise.
    #[must_use]
    pub fn parameter_separator(&self) -> char {
        if self.query_start.is_some() { '&' } else { '?' }
    }
}

impl fmt::Display for SignableUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for SignableUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// RFC 3986 `pchar` plus `/` in the path, plus `?` in the query.
fn is_allowed(b: u8, part: UrlPart) -> bool {
    match b {
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => true,
        b'-' | b'.' | b'_' | b'~' => true,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => true,
        b':' | b'@' | b'/' => true,
        b'?' => part == UrlPart::Query,
        _ => false,
    }
}

fn validate_host(host_port: &str, offset: usize) -> Result<(), UrlError> {
    let err = |reason: String| UrlError::Host {
        host: host_port.to_owned(),
        reason,
    };
    if host_port.is_empty() {
        return Err(err("it is empty".to_owned()));
    }
    if let Some((position, c)) = host_port.char_indices().find(|(_, c)| !c.is_ascii()) {
        return Err(UrlError::NonAscii {
            character: c,
            position: offset + position,
            part: UrlPart::Host,
            encoded: percent_bytes(c),
            host_hint: "; an internationalised host must be given in Punycode (xn--...), not percent-encoded",
        });
    }
    if host_port.contains('@') {
        return Err(err(
            "user info (user@host) is not sent by browsers and CloudFront does not sign it; remove it"
                .to_owned(),
        ));
    }
    if host_port.starts_with('[') {
        return Err(err(
            "IPv6 literal hosts are not supported; use a host name".to_owned()
        ));
    }
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host_port, None),
    };
    if host.is_empty() {
        return Err(err("it is empty".to_owned()));
    }
    if let Some(c) = host.chars().find(char::is_ascii_uppercase) {
        return Err(err(format!(
            "it contains the upper-case letter {c:?}; clients send host names in lower case, so sign \
             {}",
            Excerpt::start(&host_port.to_ascii_lowercase())
        )));
    }
    if let Some(c) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(err(format!(
            "the character {c:?} is not allowed in a host name (letters, digits, '-' and '.')"
        )));
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p > 0);
        if !valid {
            return Err(err(format!(
                "the port {} is not a number from 1 to 65535",
                Excerpt::start(port)
            )));
        }
    }
    Ok(())
}

fn check_query(query: &str) -> Result<(), UrlError> {
    if query.is_empty() {
        return Err(UrlError::EmptyQueryPart {
            what: "query (a '?' with nothing after it)",
        });
    }
    for segment in query.split('&') {
        if segment.is_empty() {
            return Err(UrlError::EmptyQueryPart {
                what: "parameter ('&&' or a trailing '&')",
            });
        }
        let name = segment.split_once('=').map_or(segment, |(n, _)| n);
        if RESERVED_PARAMETERS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
        {
            return Err(UrlError::ReservedParameter {
                name: name.to_owned(),
            });
        }
    }
    Ok(())
}

/// `.` or `..`, literally or with `%2E`/`%2e` (as the WHATWG URL standard reads
/// them). Allocation-free: the verifier calls it for every path segment.
pub(crate) fn is_dot_segment(segment: &str) -> bool {
    fn strip_dot(s: &str) -> Option<&str> {
        s.strip_prefix('.').or_else(|| {
            s.get(..3)
                .filter(|p| p.eq_ignore_ascii_case("%2e"))
                .map(|_| &s[3..])
        })
    }
    match strip_dot(segment) {
        Some("") => true,
        Some(rest) => strip_dot(rest) == Some(""),
        None => false,
    }
}

fn fragment_error(url: &str, position: usize) -> UrlError {
    UrlError::Fragment {
        fragment: url[position..].to_owned(),
        position,
    }
}

fn non_ascii(c: char, position: usize, part: UrlPart) -> UrlError {
    UrlError::NonAscii {
        character: c,
        position,
        part,
        encoded: percent_bytes(c),
        host_hint: "",
    }
}

fn unencoded(b: u8, position: usize, part: UrlPart) -> UrlError {
    let shown = match b {
        b' ' => "' ' (space)".to_owned(),
        0x00..=0x1f | 0x7f => format!("0x{b:02X} (a control character)"),
        other => format!("{:?}", other as char),
    };
    let mut encoded = format!("%{b:02X}");
    if b == b' ' {
        encoded.push_str(" (not '+', which CloudFront does not treat as a space)");
    }
    UrlError::Unencoded {
        shown,
        position,
        part,
        encoded,
    }
}

fn percent_bytes(c: char) -> String {
    let mut buf = [0u8; 4];
    c.encode_utf8(&mut buf)
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> SignableUrl {
        SignableUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn accepts_encoded_urls_unchanged() {
        for s in [
            "https://d111111abcdef8.cloudfront.net/",
            "http://example.com/a/b.jpg",
            "https://example.com:8443/a%20b.jpg?x=1&y=%2F&z=~'(*)",
            "https://example.com/a?b?c=d",
            "https://127.0.0.1:8080/file.bin",
            "https://example.com/weird!$&'()*+,;=:@path",
        ] {
            assert_eq!(ok(s).as_str(), s);
        }
    }

    #[test]
    fn splits_parts() {
        let u = ok("https://example.com:8443/a/b.jpg?x=1&y=2");
        assert_eq!(u.scheme(), "https");
        assert_eq!(u.host(), "example.com:8443");
        assert_eq!(u.path(), "/a/b.jpg");
        assert_eq!(u.query(), Some("x=1&y=2"));
        assert_eq!(u.parameter_separator(), '&');
        let v = ok("http://example.com/");
        assert_eq!(
            (v.scheme(), v.path(), v.query(), v.parameter_separator()),
            ("http", "/", None, '?')
        );
    }

    #[test]
    fn errors_about_long_urls_echo_a_window() {
        let a = "a".repeat(60_000);
        let fragment = SignableUrl::encode(&format!("https://example.com/{a}#{a}")).unwrap_err();
        let scheme = SignableUrl::encode(&format!("htps://example.com/{a}{a}")).unwrap_err();
        let short = "a".repeat(4_000);
        let no_path = SignableUrl::parse(&format!("https://example.com?{short}")).unwrap_err();
        let host = SignableUrl::parse(&format!("https://{short}A{short}.com/")).unwrap_err();
        let port = SignableUrl::parse(&format!("https://example.com:{short}/")).unwrap_err();
        for (err, needle) in [
            (&fragment, "at position 60020"),
            (&fragment, "(60001 bytes)"),
            (&scheme, "\"htps://example.com/aaa"),
            (&scheme, "(120019 bytes)"),
            (&no_path, "\"https://example.com?aaa"),
            (&no_path, "\"https://example.com/?aaa"),
            (&host, "upper-case letter 'A'"),
            (&port, "the port \"aaa"),
        ] {
            let message = err.to_string();
            assert!(message.len() < 800, "{} bytes: {message}", message.len());
            assert!(message.contains(needle), "{message} lacks {needle}");
        }
        assert_eq!(fragment.position(), Some(60_020));
        assert_eq!(scheme.position(), None);
    }

    #[test]
    fn refusals_name_position_and_fix() {
        let cases: &[(&str, &str)] = &[
            ("ftp://example.com/a", "http:// or https://"),
            ("HTTPS://example.com/a", "http:// or https://"),
            ("https://example.com/a b", "position 21 in the path"),
            ("https://example.com/a b", "%20"),
            ("https://example.com/é", "%C3%A9"),
            ("https://exämple.com/", "Punycode"),
            ("https://example.com/a#top", "fragment"),
            ("https://example.com/a%2", "'%' at position 21"),
            ("https://example.com/a%zz", "%25"),
            ("https://Example.com/a", "lower case"),
            ("https://user@example.com/a", "user info"),
            ("https://example.com:0/a", "port"),
            ("https://example.com:99999/a", "port"),
            ("https://example.com", "has no path"),
            ("https://example.com?x=1", "\"https://example.com/?x=1\""),
            ("https://example.com/a?Expires=1", "\"Expires\""),
            ("https://example.com/a?x=1&signature=2", "\"signature\""),
            ("https://example.com/a?Key-Pair-Id", "\"Key-Pair-Id\""),
            (
                "https://example.com/a?Hash-Algorithm=SHA256",
                "\"Hash-Algorithm\"",
            ),
            ("https://example.com/a?", "empty query"),
            ("https://example.com/a?x=1&", "empty parameter"),
            ("https://example.com/a\"b", "%22"),
            ("https://example.com/a{b}", "%7B"),
            ("https://example.com/a\tb", "control character"),
            ("https://example.com/a?q=<x>", "in the query"),
            ("https://example.com/[x]", "%5B"),
            ("https:///a", "is empty"),
            ("https://example.com/a/../b", "\"..\""),
            ("https://example.com/./b", "\".\""),
            ("https://example.com/a/%2e%2E/b", "%2e%2E"),
            ("https://example.com/a/.%2E", "normalised"),
        ];
        for (input, needle) in cases {
            let err = SignableUrl::parse(input).expect_err(input).to_string();
            assert!(err.contains(needle), "{input}: {err:?} lacks {needle:?}");
        }
    }

    #[test]
    fn dot_segments() {
        for dot in [".", "..", "%2e", "%2E", ".%2e", "%2E.", "%2e%2E"] {
            assert!(is_dot_segment(dot), "{dot}");
        }
        for other in [
            "",
            "...",
            "a",
            ".a",
            "%2e%2e%2e",
            "%2",
            "%2f",
            "..a",
            "%2ea",
        ] {
            assert!(!is_dot_segment(other), "{other}");
        }
    }

    #[test]
    fn too_long() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LENGTH));
        assert!(matches!(
            SignableUrl::parse(&long),
            Err(UrlError::TooLong { .. })
        ));
    }

    #[test]
    fn encode_helper() {
        let cases = [
            ("https://example.com/a b", "https://example.com/a%20b"),
            ("https://example.com/a%20b", "https://example.com/a%20b"),
            ("https://example.com/a%2", "https://example.com/a%252"),
            (
                "https://example.com/日本.txt",
                "https://example.com/%E6%97%A5%E6%9C%AC.txt",
            ),
            (
                "https://example.com/x?a=\"q\"&b=c d",
                "https://example.com/x?a=%22q%22&b=c%20d",
            ),
            ("https://example.com/x?a=b?c", "https://example.com/x?a=b?c"),
            ("https://example.com/x?a=b+c", "https://example.com/x?a=b+c"),
        ];
        for (raw, want) in cases {
            assert_eq!(SignableUrl::encode(raw).unwrap().as_str(), want, "{raw}");
        }
        assert!(SignableUrl::encode("https://example.com/a#b").is_err());
        assert!(SignableUrl::encode("https://example.com/a?Signature=x").is_err());
    }
}
