//! A signed URL mangled the ways careless clients mangle it, and a check that
//! no fragment of a credential is in a text (an access log).
//!
//! [`corpus`] turns the parts of a real signed URL into requests: HTML-escaped
//! separators, `;` and `%26` separators, encoded `=`, `Signature[]=`, names with
//! spaces or in another case, `%7E` and double encoding, the standard base64
//! alphabet, line-wrapped base64, the signature in the path, in the method, in
//! a cookie name, and the whole URL in `User-Agent`, `Referer` and other headers.
//! [`leaks`] lists every 16-character window of a secret found in a text, read
//! raw and after undoing percent-encoding, HTML entities, backslash escapes and
//! the standard-base64 alphabet, so a credential is found in any of its forms.
//!
//! ```
//! use cfsign_testkit::mangle::{Credentials, corpus, leaks};
//!
//! let signature = "GvrDx3aAG1u1sAQF68c~xD6LVORt36mRTvC2u5RwLjsvusXI0sJPxy3D0R8AQp4qFZlRehwh~mablw8DBNRFLQ81";
//! let policy = "eyJTdGF0ZW1lbnQiOlt7IlJlc291cmNlIjoiaHR0cDovLzEyNy4wLjAuMS9tZWRpYS8qIn1dfQ__";
//! let credentials = Credentials {
//!     base: "http://127.0.0.1:8080",
//!     path: "/media/hello.txt",
//!     expires: "2000000000",
//!     signature,
//!     policy,
//!     policy_signature: signature,
//!     key_pair_id: "KEDGE",
//! };
//! assert!(corpus(&credentials).len() >= 20);
//! let log = format!("GET /media/hello.txt Signature={}", signature.replace('~', "%7E"));
//! assert!(!leaks(&log, &[signature]).is_empty());
//! assert!(leaks("GET /media/hello.txt Signature=REDACTED", &[signature]).is_empty());
//! ```

/// Shortest fragment of a secret that [`leaks`] looks for.
pub const WINDOW: usize = 16;

/// The parts of a real signed URL (canned) and of a custom-policy one for the
/// same key, as the signer produced them (CloudFront base64).
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// `http://host:port`, no trailing slash.
    pub base: &'a str,
    /// The signed path, e.g. `/media/hello.txt`.
    pub path: &'a str,
    /// The canned URL's `Expires`.
    pub expires: &'a str,
    /// The canned URL's `Signature`.
    pub signature: &'a str,
    /// The custom URL's `Policy`.
    pub policy: &'a str,
    /// The custom URL's `Signature`.
    pub policy_signature: &'a str,
    /// `Key-Pair-Id`.
    pub key_pair_id: &'a str,
}

impl Credentials<'_> {
    /// The secrets: both signatures and the policy.
    #[must_use]
    pub fn secrets(&self) -> Vec<&str> {
        vec![self.signature, self.policy, self.policy_signature]
    }

    fn canned_query(&self, signature: &str) -> String {
        format!(
            "Expires={}&Signature={signature}&Key-Pair-Id={}",
            self.expires, self.key_pair_id
        )
    }

    fn custom_query(&self) -> String {
        format!(
            "Policy={}&Signature={}&Key-Pair-Id={}",
            self.policy, self.policy_signature, self.key_pair_id
        )
    }

    /// The canned signed URL, as signed.
    #[must_use]
    pub fn canned_url(&self) -> String {
        format!(
            "{}{}?{}",
            self.base,
            self.path,
            self.canned_query(self.signature)
        )
    }

    /// The custom-policy signed URL, as signed.
    #[must_use]
    pub fn custom_url(&self) -> String {
        format!("{}{}?{}", self.base, self.path, self.custom_query())
    }
}

/// One request of the corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mangled {
    /// What was done to the signed URL.
    pub label: &'static str,
    /// The request method (`GET` but for one).
    pub method: String,
    /// The request target: path and query, as sent.
    pub target: String,
    /// Extra request headers.
    pub headers: Vec<(&'static str, String)>,
}

/// CloudFront base64 to standard base64 (`-_~` to `+=/`).
#[must_use]
pub fn standard_alphabet(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '=',
            '~' => '/',
            c => c,
        })
        .collect()
}

/// Every byte as `%XX`.
fn encode_all(value: &str) -> String {
    value.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// What `encodeURIComponent` does to an ASCII URL (keeps `A-Za-z0-9-_.!~*'()`).
fn encode_component(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Base64 wrapped as Ruby's `Base64.encode64` does: a newline every 60 characters.
fn line_wrapped(value: &str, newline: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    chars
        .chunks(60)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(newline)
}

/// At least 20 manglings of the signed URLs in `c`, each a request to send to
/// an edge serving `c.base`. The first two are the URLs as signed.
#[must_use]
#[allow(clippy::too_many_lines)] // one entry per mangling, read as a list
pub fn corpus(c: &Credentials<'_>) -> Vec<Mangled> {
    let (path, e, s, k) = (c.path, c.expires, c.signature, c.key_pair_id);
    let canned = c.canned_query(s);
    let custom = c.custom_query();
    let canned_url = c.canned_url();
    let custom_url = c.custom_url();
    let std = standard_alphabet(s);
    let std_encoded = std
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let get = |label, target: String| Mangled {
        label,
        method: "GET".to_owned(),
        target,
        headers: Vec::new(),
    };
    let header = |label, name, value: String| Mangled {
        label,
        method: "GET".to_owned(),
        target: format!("{path}?x=1"),
        headers: vec![(name, value)],
    };
    vec![
        get("canned URL as signed", format!("{path}?{canned}")),
        get("custom-policy URL as signed", format!("{path}?{custom}")),
        get(
            "HTML-escaped &amp; separators",
            format!("{path}?{}", canned.replace('&', "&amp;")),
        ),
        get(
            "HTML-escaped &amp; separators, custom policy",
            format!("{path}?{}", custom.replace('&', "&amp;")),
        ),
        get(
            ";-separated",
            format!("{path}?{}", canned.replace('&', ";")),
        ),
        get(
            "%26 separators",
            format!("{path}?{}", canned.replace('&', "%26")),
        ),
        get(
            "%2526 separators (encoded twice)",
            format!("{path}?{}", canned.replace('&', "%2526")),
        ),
        get(
            "Signature%3D",
            format!("{path}?Expires={e}&Signature%3D{s}&Key-Pair-Id={k}"),
        ),
        get(
            "every = as %253D, every & as %2526",
            format!(
                "{path}?{}",
                canned.replace('=', "%253D").replace('&', "%2526")
            ),
        ),
        get(
            "Signature%5B%5D=",
            format!("{path}?Expires={e}&Signature%5B%5D={s}&Key-Pair-Id={k}"),
        ),
        get(
            "Policy[]= and Signature[]=",
            format!(
                "{path}?Policy[]={}&Signature[]={}&Key-Pair-Id={k}",
                c.policy, c.policy_signature
            ),
        ),
        get(
            "&%20Signature=",
            format!("{path}?Expires={e}&%20Signature={s}&Key-Pair-Id={k}"),
        ),
        get(
            "&+Signature= and Signature%20=%20",
            format!("{path}?Expires={e}&+Signature%20=%20{s}&Key-Pair-Id={k}"),
        ),
        get(
            "lower-case names",
            format!("{path}?expires={e}&signature={s}&key-pair-id={k}"),
        ),
        get(
            "~ as %7E",
            format!("{path}?{}", c.canned_query(&s.replace('~', "%7E"))),
        ),
        get(
            "~ as %257E",
            format!("{path}?{}", c.canned_query(&s.replace('~', "%257E"))),
        ),
        get(
            "~ as %u007E",
            format!("{path}?{}", c.canned_query(&s.replace('~', "%u007E"))),
        ),
        get(
            "standard base64 alphabet (+/=)",
            format!("{path}?{}", c.canned_query(&std)),
        ),
        get(
            "standard base64, %2B %2F %3D",
            format!("{path}?{}", c.canned_query(&std_encoded)),
        ),
        get(
            "standard base64, + read as a space (%20)",
            format!("{path}?{}", c.canned_query(&std.replace('+', "%20"))),
        ),
        get(
            "every byte of the signature percent-encoded",
            format!("{path}?{}", c.canned_query(&encode_all(s))),
        ),
        get(
            "line-wrapped base64 (%0A every 60) under another name",
            format!("{path}?token={}", line_wrapped(s, "%0A")),
        ),
        get(
            "line-wrapped base64 (%0D%0A every 60) in the path",
            format!(
                "/media/{}",
                line_wrapped(&std, "\r\n")
                    .replace('+', "%2B")
                    .replace('/', "%2F")
                    .replace('=', "%3D")
                    .replace('\r', "%0D")
                    .replace('\n', "%0A")
            ),
        ),
        get("signature pasted as a path segment", format!("/media/{s}")),
        get(
            "? escaped: the parameters in the path",
            format!(
                "{path}%3F{}",
                canned.replace('=', "%3D").replace('&', "%26")
            ),
        ),
        get(
            "the signed URL in a parameter (encodeURIComponent)",
            format!("/media/login?next={}", encode_component(&canned_url)),
        ),
        get(
            "the signed URL in a parameter, encoded twice",
            format!(
                "/media/login?next={}",
                encode_component(&encode_component(&canned_url))
            ),
        ),
        get(
            "JSON in the query",
            format!(
                "{path}?q={}",
                encode_component(&format!(
                    "{{\"Signature\":\"{s}\",\"Key-Pair-Id\":\"{k}\"}}"
                ))
            ),
        ),
        header(
            "User-Agent: the signed URL",
            "user-agent",
            canned_url.clone(),
        ),
        header(
            "User-Agent: the signed URL with &amp;",
            "user-agent",
            format!("Mozilla/5.0 ({})", canned_url.replace('&', "&amp;")),
        ),
        header(
            "User-Agent: &#38; and &#x26; entities, %7E",
            "user-agent",
            format!(
                "{}{path}?Expires={e}&#38;Signature={}&#x26;Key-Pair-Id={k}",
                c.base,
                s.replace('~', "%7E")
            ),
        ),
        header(
            "User-Agent: JSON-escaped \\u0026 and \\/",
            "user-agent",
            format!(
                "{{\"url\":\"{}{path}?Expires={e}\\u0026Signature={}\\u0026Key-Pair-Id={k}\"}}",
                c.base.replace('/', "\\/"),
                std.replace('/', "\\/")
            ),
        ),
        header(
            "User-Agent: the bare policy and signature",
            "user-agent",
            format!("cfsign-test {} {}", c.policy, c.policy_signature),
        ),
        header("Referer: the signed URL", "referer", canned_url.clone()),
        header(
            "Referer: the custom-policy URL with &amp; and %7E",
            "referer",
            custom_url.replace('&', "&amp;").replace('~', "%7E"),
        ),
        header(
            "Referer: the signed URL in a parameter",
            "referer",
            format!("https://site.example/p?u={}", encode_component(&custom_url)),
        ),
        header(
            "Cookie: the signature as a cookie name",
            "cookie",
            format!("{s}; Signature%3D{}", c.policy_signature),
        ),
        header(
            "Cookie: signed cookies",
            "cookie",
            format!(
                "CloudFront-Policy={}; CloudFront-Signature={}; CloudFront-Key-Pair-Id={k}",
                c.policy, c.policy_signature
            ),
        ),
        header(
            "X-Forwarded-For: a signature",
            "x-forwarded-for",
            s.to_owned(),
        ),
        header("Host: a signature", "host", format!("{s}.example")),
        Mangled {
            label: "method: the signature",
            method: s.to_owned(),
            target: path.to_owned(),
            headers: Vec::new(),
        },
    ]
}

fn hex(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

/// One pass of decoding: `%XX`, `%uXXXX`, `\uXXXX`, `\/`, `&amp;`, `&#N;`, `&#xH;`.
fn decode_once(text: &str) -> String {
    let b = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    let ascii = |v: u32| u8::try_from(v).ok().filter(u8::is_ascii);
    while i < b.len() {
        let rest = &b[i..];
        let four_hex = |from: usize| -> Option<u32> {
            let digits = rest.get(from..from + 4)?;
            digits.iter().try_fold(0, |n, &d| Some(n * 16 + hex(d)?))
        };
        let decoded: Option<(u8, usize)> = match rest {
            [b'%' | b'\\', b'u' | b'U', ..] => four_hex(2).and_then(ascii).map(|v| (v, 6)),
            [b'%', h, l, ..] => hex(*h)
                .zip(hex(*l))
                .and_then(|(h, l)| ascii(h * 16 + l))
                .map(|v| (v, 3)),
            [b'\\', p, ..] if p.is_ascii_punctuation() => Some((*p, 2)),
            [b'&', ..] => {
                let end = rest.iter().take(12).position(|&c| c == b';');
                end.and_then(|end| {
                    let entity = std::str::from_utf8(&rest[1..end]).ok()?;
                    let value = if entity.eq_ignore_ascii_case("amp") {
                        u32::from(b'&')
                    } else if let Some(h) = entity
                        .strip_prefix("#x")
                        .or_else(|| entity.strip_prefix("#X"))
                    {
                        u32::from_str_radix(h, 16).ok()?
                    } else {
                        entity.strip_prefix('#')?.parse().ok()?
                    };
                    Some((ascii(value)?, end + 1))
                })
            }
            _ => None,
        };
        match decoded {
            Some((byte, used)) => {
                out.push(byte);
                i += used;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` with every encoding layer undone (at most 8).
fn decoded(text: &str) -> String {
    let mut text = text.to_owned();
    for _ in 0..8 {
        let next = decode_once(&text);
        if next == text {
            break;
        }
        text = next;
    }
    text
}

/// The 16-character windows of any of `secrets` (CloudFront base64) found in
/// `text`: raw, decoded, and decoded with the standard alphabet (and a space
/// for `+`) mapped back to CloudFront's. Empty when nothing leaked.
#[must_use]
pub fn leaks(text: &str, secrets: &[&str]) -> Vec<String> {
    let decoded = decoded(text);
    let mapped: String = decoded
        .chars()
        .map(|c| match c {
            '+' | ' ' => '-',
            '=' => '_',
            '/' => '~',
            c => c,
        })
        .collect();
    let views = [text, &decoded, &mapped];
    let mut found = Vec::new();
    for secret in secrets {
        assert!(
            secret.len() >= WINDOW,
            "a secret shorter than {WINDOW} characters"
        );
        for start in 0..=secret.len() - WINDOW {
            let window = &secret[start..start + WINDOW];
            if views.iter().any(|v| v.contains(window)) && !found.iter().any(|f| f == window) {
                found.push(window.to_owned());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "GvrDx3aAG1u1sAQF68c~xD6LVORt36mRTvC2u5RwLjsvusXI0sJPxy3D0R8AQp4qFZlRehwh~mablw8DBNRFLQ81mazmb_";

    #[test]
    fn every_encoding_of_a_fragment_is_found() {
        let std = standard_alphabet(SIG);
        for text in [
            SIG.to_owned(),
            SIG.replace('~', "%7E"),
            SIG.replace('~', "%257E"),
            SIG.replace('~', "%u007E"),
            encode_all(SIG),
            encode_component(&encode_component(SIG)),
            std.clone(),
            std.replace('+', "%2B").replace('/', "%2F"),
            std.replace('/', "\\/"),
            format!("x{}", &SIG[40..40 + WINDOW]),
        ] {
            assert!(!leaks(&text, &[SIG]).is_empty(), "not found in {text}");
        }
        // a window split by a line break is not a window; the rest of each line is
        let wrapped = line_wrapped(SIG, "\n");
        let found = leaks(&wrapped, &[SIG]);
        assert_eq!(
            found.len(),
            SIG.len() - WINDOW + 1 - (WINDOW - 1),
            "{found:?}"
        );
        assert!(leaks("Signature=REDACTED&Key-Pair-Id=K", &[SIG]).is_empty());
        assert!(leaks(&SIG[..WINDOW - 1], &[SIG]).is_empty());
    }

    #[test]
    fn decoding_undoes_each_layer() {
        assert_eq!(decoded("a%2526b%7E"), "a&b~");
        assert_eq!(decoded("x&amp;amp;y&#38;z&#x26;w"), "x&y&z&w");
        assert_eq!(decoded("\\u0026\\/%u007E"), "&/~");
        assert_eq!(decoded("100% sure &nbsp;"), "100% sure &nbsp;");
    }
}
