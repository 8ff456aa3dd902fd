//! Every decision the verifier takes where CloudFront's behaviour is not
//! documented (**UNCONFIRMED** in the spec), in one place, each with the strict
//! reading: when in doubt, deny. Change a reading here and nowhere else.
//!
//! | Question (spec) | Reading |
//! |---|---|
//! | Both `Expires` and `Policy` present (§2.1, §13.2) | URL: the signed `Policy` applies, `Expires` is ignored (not parsed, not compared); cookies: see below; evidence below |
//! | A CloudFront parameter or cookie repeated (§2.1) | deny, `AccessDenied` |
//! | A parameter name differing only in case, e.g. `expires=` (§2.1) | deny, `AccessDenied` |
//! | `Hash-Algorithm` other than exactly `SHA1` / `SHA256`, e.g. `sha256` (§2.1) | deny, `AccessDenied` |
//! | Unpadded or standard-alphabet base64 (§2.4) | deny, `MalformedSignature` / `MalformedPolicy` |
//! | Percent-encoded signing values (`%7E` for `~`) | query values are percent-decoded once before they are read (`%XX` only: `+` stays `+`); an invalid escape or bytes that are not UTF-8: deny (`MalformedSignature` for `Signature`, `MalformedPolicy` for `Policy`/`Expires`, else `AccessDenied`); a decoded value outside its alphabet (`%2B`, `%257E` decoded once) is malformed as before; a percent-encoded parameter *name* (`%53ignature`): deny, `AccessDenied`; cookie values are not decoded; evidence below |
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
//! | Both `CloudFront-Expires` and `CloudFront-Policy` cookies (§4, §13.8) | deny, `MalformedPolicy`; evidence below |
//! | `Hash-Algorithm` alone in the query (§4.3) | the query is the credential source |
//!
//! ## Field evidence for the readings that follow the signers in use
//!
//! **Both `Expires` and `Policy` in a URL.** The npm module `aws-cloudfront-sign` (first released
//! 2014; 3.0.2 of July 2023 is current; about 261,000 downloads a month in 2026) puts both on every
//! URL: `getSignedUrl` in its `dist/cjs/cloudfront-signer.js` calls
//! `parsedUrl.searchParams.set` for `Expires`, `Policy`, `Signature` and `Key-Pair-Id`, as every
//! release since 2.1.0 (2016) did (jasonsims/aws-cloudfront-sign#13: "Adds serialised/encoded policy
//! to generated url to support custom policies"). Users report those URLs working ("The signed urls
//! work when an Ip is not specified", #34, 2017; "aws-cloudfront-sign is working nicely", #40,
//! 2017), so the pair is not refused. Its `ipRange` option (#21, 2.1.0, contributed by a team that
//! "needed the ability to tie a signed cloudfront URL to a specific IP CIDR mask") signs a policy
//! with an `IpAddress` condition, which a canned policy rebuilt from `Expires` can never match: the
//! `Policy` is what CloudFront verifies. (#34's failure with an IP was its `127.0.0.1/32` range,
//! which CloudFront never sees as a viewer.) Its `Expires` always equals the policy's
//! `DateLessThan`; it is not signed, so it grants nothing and is ignored, not compared.
//!
//! **Percent-encoded values in the query.** Since 3.0.0 (2023-07-10, #72 "Modernize the codebase")
//! that module builds the URL with WHATWG `URL` / `URLSearchParams`, whose serializer writes `~` as
//! `%7E` (2.x used Node's `querystring`, which leaves `~` alone). CloudFront base64 maps `/` to
//! `~`, so practically every URL it signs carries `%7E` in `Signature` and `Policy` (the chance that
//! none of the 344 characters of an RSA-2048 signature is `~` is under 1 %); its users keep
//! downloading it at the rate above and code in the field imports 3.x-only paths (e.g.
//! `aws-cloudfront-sign/dist/cjs/types` in bombies/lumi), and no issue thread found in its
//! tracker reports a `MalformedSignature` since. So CloudFront decodes query values before it reads them, as an HTTP
//! server does: once (`%257E` becomes `%7E`, which is not base64, so it is denied). `%XX` is what
//! RFC 3986 defines; reading `+` as a space is an HTML-form convention, and since CloudFront's
//! alphabet exists to keep `+`, `/` and `=` out of URLs (spec §2.4; a signer that left them in got
//! 403s, jasonsims/aws-cloudfront-sign#6), no value CloudFront accepts contains a `+`: both
//! readings give the same decisions, and `+` is kept. Names are not decoded: no signer encodes
//! them, so an encoded reserved name is an ambiguity and denied, like a case variant.
//!
//! **Cookie values are not decoded.** RFC 6265 defines no decoding, and CloudFront base64 is
//! already cookie-safe: both `aws-cloudfront-sign` and `@aws-sdk/cloudfront-signer` return the
//! values as they are, and Express's `res.cookie` (the usual way to send them) encodes with
//! `encodeURIComponent`, which leaves `-`, `_` and `~` alone. The field report about encoded cookie
//! values says the opposite of decoding: PHP's `setcookie` percent-encodes the value "and that will
//! break the signature" (mnm.at, 2015-04-05, "Serving private content through CloudFront using
//! signed cookies").
//!
//! **Both `CloudFront-Expires` and `CloudFront-Policy` cookies.** No signer sets both
//! (`aws-cloudfront-sign` sets `CloudFront-Policy` only, `@aws-sdk/cloudfront-signer` one or the
//! other), and AWS's own blog tells readers to clear a leftover `CloudFront-Expires` cookie before
//! testing custom-policy cookies (spec §11 item 9): nothing shows CloudFront serving the pair, so
//! it stays denied.

use crate::signer::HashAlgorithm;
use crate::verify::{CredentialSource, DenialCode};

/// Code for `Expires` together with `Policy` where the pair is denied (cookies).
pub(crate) const BOTH_EXPIRES_AND_POLICY: DenialCode = DenialCode::MalformedPolicy;

/// Whether the signed `Policy` decides when `Expires` comes with it (and
/// `Expires` is ignored): in a URL, as CloudFront serves `aws-cloudfront-sign`'s
/// URLs; not for cookies, where the pair is denied ([`BOTH_EXPIRES_AND_POLICY`]).
pub(crate) fn policy_overrides_expires(source: CredentialSource) -> bool {
    source == CredentialSource::Query
}

/// Whether credential values from `source` are percent-decoded (once, `%XX`
/// only) before they are read: query values yes, cookie values no.
pub(crate) fn percent_decodes(source: CredentialSource) -> bool {
    source == CredentialSource::Query
}

/// Code for a signing value whose percent-escapes cannot be decoded.
pub(crate) fn invalid_escape(name: &str) -> DenialCode {
    match name {
        "Signature" => DenialCode::MalformedSignature,
        "Policy" | "Expires" => DenialCode::MalformedPolicy,
        _ => DenialCode::AccessDenied,
    }
}

/// Code for a percent-encoded reserved parameter name (`%53ignature`).
pub(crate) const ENCODED_NAME: DenialCode = DenialCode::AccessDenied;

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
