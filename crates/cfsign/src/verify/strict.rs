//! Every decision the verifier takes where CloudFront's behaviour is not
//! documented (**UNCONFIRMED** in the spec), in one place, each with the strict
//! reading: when in doubt, deny. Change a reading here and nowhere else.
//!
//! | Question (spec) | Reading |
//! |---|---|
//! | Both `Expires` and `Policy` present (§2.1, §13.2) | deny, `MalformedPolicy` |
//! | A CloudFront parameter or cookie repeated (§2.1) | deny, `AccessDenied` |
//! | A parameter name differing only in case, e.g. `expires=` (§2.1) | deny, `AccessDenied` |
//! | `Hash-Algorithm` other than exactly `SHA1` / `SHA256`, e.g. `sha256` (§2.1) | deny, `AccessDenied` |
//! | Unpadded or standard-alphabet base64 (§2.4) | deny, `MalformedSignature` / `MalformedPolicy` |
//! | Percent-encoded signing values (`%7E` for `~`) | not decoded: deny as malformed |
//! | Neither `Expires` nor `Policy` (§6.2 step 6) | deny, `MalformedPolicy` |
//! | Epochs above 9223372036 s (§2.7) | deny, `MalformedPolicy` |
//! | `Expires` not in canonical decimal (leading zeros, a sign) | deny, `MalformedPolicy` |
//! | Dot segments in the path (`/./`, `/../`, also `%2E`-encoded), which CloudFront normalises before matching | deny, `AccessDenied` |
//! | `now == DateLessThan` (§6.4) | deny (access requires `now < DateLessThan`) |
//! | `now == DateGreaterThan` | deny (documented: refused "on or before") |
//! | Malformed policy vs bad signature order (§6.2) | policy format is checked first |
//! | `X-Forwarded-For` (§6.4) | never read here: the caller passes the client IP |
//! | IPv4-mapped IPv6 client (`::ffff:a.b.c.d`) | treated as the IPv4 address it carries |
//! | Any other IPv6 client with an `IpAddress` condition | deny |
//! | Resource matching details (§6.3) | byte-exact, case-sensitive (see [`crate::resource`]) |
//! | Which `?` in a Resource starts the query, which is a wildcard (§6.3) | the first `?` after the host (the host ends at the first `/`) starts the query; a `?` in the host and every later `?` match exactly one character; so `https://h/a?.ts` is path `/a` + query `.ts`, never a path wildcard (see [`crate::resource`]) |
//! | Canned URL with characters JSON would escape, or non-ASCII | deny, `AccessDenied` |
//! | Both `CloudFront-Expires` and `CloudFront-Policy` cookies (§4, §13.8) | deny, `MalformedPolicy` |
//! | `Hash-Algorithm` alone in the query (§4.3) | the query is the credential source |

use crate::signer::HashAlgorithm;
use crate::verify::DenialCode;

/// Code for `Expires` together with `Policy` (either as parameters or cookies).
pub(crate) const BOTH_EXPIRES_AND_POLICY: DenialCode = DenialCode::MalformedPolicy;

/// Code for a repeated CloudFront parameter or cookie.
pub(crate) const DUPLICATE: DenialCode = DenialCode::AccessDenied;

/// Code for a parameter whose name is a case variant of a CloudFront one.
pub(crate) const CASE_VARIANT: DenialCode = DenialCode::AccessDenied;

/// Code for an unsupported `Hash-Algorithm` value.
pub(crate) const UNKNOWN_HASH: DenialCode = DenialCode::AccessDenied;

/// Code for a request URL that cannot be put into a canned policy verbatim.
pub(crate) const UNREBUILDABLE_URL: DenialCode = DenialCode::AccessDenied;

/// The query parameters that make a request a signed-URL request (so cookies are
/// ignored). `Hash-Algorithm` is included: strict, since a request carrying it
/// meant to be a signed URL.
pub(crate) const QUERY_CREDENTIAL_NAMES: [&str; 5] = [
    "Expires",
    "Policy",
    "Signature",
    "Key-Pair-Id",
    "Hash-Algorithm",
];

/// Parses `Hash-Algorithm`: absent is SHA-1; only the exact documented spellings count.
pub(crate) fn hash_algorithm(value: Option<&str>) -> Option<HashAlgorithm> {
    match value {
        None | Some("SHA1") => Some(HashAlgorithm::Sha1),
        Some("SHA256") => Some(HashAlgorithm::Sha256),
        Some(_) => None,
    }
}

/// Whether access is still open at `now` (strict: equality is expired).
pub(crate) fn before_expiry(now: i64, date_less_than: i64) -> bool {
    now < date_less_than
}

/// Whether access has started at `now` (documented: refused on or before).
pub(crate) fn after_start(now: i64, date_greater_than: i64) -> bool {
    now > date_greater_than
}

/// Code for a request path with dot segments.
pub(crate) const DOT_SEGMENTS: DenialCode = DenialCode::AccessDenied;

/// Whether `Expires` is written canonically: decimal digits, no leading zero
/// (so that the rebuilt canned policy cannot differ from the text that was sent).
pub(crate) fn canonical_expires(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
}

/// Whether a URL's path has `.` or `..` segments, literally or percent-encoded.
/// CloudFront normalises them before matching; a wildcard resource must not be
/// escaped with `/videos/../private`, so such requests are denied.
pub(crate) fn has_dot_segments(url: &str) -> bool {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let path = match rest.find('/') {
        Some(i) => &rest[i..],
        None => return false,
    };
    let path = path.split('?').next().unwrap_or(path);
    path.split('/').any(crate::url::is_dot_segment)
}

/// Whether a URL can be inserted into the canned-policy template verbatim.
pub(crate) fn rebuildable(url: &str) -> bool {
    url.bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}
