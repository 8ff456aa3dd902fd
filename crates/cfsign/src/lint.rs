//! Policy linting: signatures that are valid but will probably not do what was meant.
//!
//! ```
//! use std::time::Duration;
//! use cfsign::{lint, Policy, Resource, SignableUrl};
//!
//! let now = jiff::Timestamp::now();
//! let policy = Policy::builder(Resource::pattern("https://example.com/videos/*")?)
//!     .expires_in(Duration::from_secs(400 * 86_400))
//!     .build_at(now)?;
//! let url = SignableUrl::parse("https://example.com/images/a.jpg")?;
//! let warnings = lint::lint_policy(&policy, Some(&url), now, None);
//! let codes: Vec<_> = warnings.iter().map(|w| w.code).collect();
//! assert_eq!(codes, ["resource-does-not-cover-url", "long-lifetime"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use jiff::Timestamp;

use crate::excerpt::Excerpt;
use crate::key::KeyType;
use crate::policy::{Policy, PolicyForm};
use crate::resource::Resource;
use crate::url::{MAX_URL_LENGTH, SignableUrl};

/// Lifetimes longer than this are flagged.
pub const LONG_LIFETIME_SECONDS: i64 = 30 * 86_400;

/// Margin for clock-skew warnings.
pub const CLOCK_SKEW_SECONDS: i64 = 60;

/// One finding: a stable machine-readable code and a message with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Stable identifier, e.g. `long-lifetime`.
    pub code: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

impl Warning {
    pub(crate) fn new(code: &'static str, message: String) -> Self {
        Self { code, message }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "warning[{}]: {}", self.code, self.message)
    }
}

/// Lints `policy` as it would be delivered on `url` (if known) at `now`, signed
/// with a key of `key_type` (if known; used to estimate the URL length).
#[must_use]
pub fn lint_policy(
    policy: &Policy,
    url: Option<&SignableUrl>,
    now: Timestamp,
    key_type: Option<KeyType>,
) -> Vec<Warning> {
    let mut out = Vec::new();
    let resource = policy.resource();
    match resource {
        None => out.push(Warning::new(
            "no-resource",
            "the policy has no Resource, so it grants every file of every distribution that trusts this key; \
             add a Resource such as https://d111111abcdef8.cloudfront.net/path/*"
                .to_owned(),
        )),
        Some(Resource::Pattern(p)) if p.as_str() == "*" => out.push(Warning::new(
            "any-resource",
            "the Resource \"*\" grants every file of every distribution that trusts this key; narrow it".to_owned(),
        )),
        _ => {}
    }
    if let (Some(Resource::Pattern(p)), Some(u)) = (resource, url)
        && p.as_str() == u.as_str()
    {
        out.push(Warning::new(
            "wildcard-in-url",
            "the URL contains '*' or a '?' inside its query, which a policy treats as wildcards, so a custom \
             policy is used (a canned policy with a wildcard is denied); if the character is part of the \
             name or value, percent-encode it ('*' as %2A, '?' as %3F)"
                .to_owned(),
        ));
    }
    // A resource that is the delivered URL itself has no '?' to misread.
    if let Some(r @ (Resource::Pattern(_) | Resource::Url(_))) = resource
        && url.is_none_or(|u| u.as_str() != r.as_str())
    {
        check_question_marks(r.as_str(), &mut out);
    }
    if let Some(r @ Resource::Pattern(_)) = resource {
        check_host_section(r.as_str(), &mut out);
    }
    if let Some(u) = url
        && !policy.covers(u)
    {
        out.push(Warning::new(
            "resource-does-not-cover-url",
            format!(
                "the resource {} does not cover {}: CloudFront would answer 403 AccessDenied",
                Excerpt::start(resource.map_or("", Resource::as_str)),
                Excerpt::start(u.as_str())
            ),
        ));
    }
    let expires = policy.date_less_than().get();
    let lifetime = expires - now.as_second();
    if lifetime > LONG_LIFETIME_SECONDS {
        out.push(Warning::new(
            "long-lifetime",
            format!(
                "the signature is valid for {} days; anyone who gets the URL or cookie can use it until then, \
                 so prefer short lifetimes and sign again when needed",
                lifetime / 86_400
            ),
        ));
    } else if (0..CLOCK_SKEW_SECONDS).contains(&lifetime) {
        out.push(Warning::new(
            "short-lifetime",
            format!("the signature expires in {lifetime} s; viewers whose first request is later, or edges with clock skew, are denied"),
        ));
    }
    if let Some(start) = policy.date_greater_than()
        && (start.get() - now.as_second()).abs() < CLOCK_SKEW_SECONDS
    {
        out.push(Warning::new(
            "start-near-now",
            "DateGreaterThan is within a minute of now; CloudFront refuses requests on or before it, so a \
             signer clock running ahead denies the first requests (set it a few minutes in the past, or omit it)"
                .to_owned(),
        ));
    }
    if let Some(ip) = policy.source_ip()
        && ip.net().addr() != ip.net().network()
    {
        out.push(Warning::new(
            "ip-host-bits",
            format!(
                "AWS:SourceIp {ip} has host bits set; the range is {}/{} — write that to avoid surprises",
                ip.net().network(),
                ip.net().prefix_len()
            ),
        ));
    }
    if policy.source_ip().is_some() {
        out.push(Warning::new(
            "ip-condition-ipv6",
            "IP conditions are IPv4-only: viewers that reach an IPv6-enabled distribution over IPv6 are \
             denied; disable IPv6 on the distribution"
                .to_owned(),
        ));
    }
    if policy.form() == PolicyForm::Custom && policy.json().bytes().any(|b| b.is_ascii_whitespace())
    {
        out.push(Warning::new(
            "policy-whitespace",
            "the policy JSON contains whitespace; it is signed and sent as given (valid), but it makes URLs longer"
                .to_owned(),
        ));
    }
    if let Some(u) = url {
        let length = estimated_signed_length(policy, u, key_type);
        if length > MAX_URL_LENGTH {
            out.push(Warning::new(
                "url-too-long",
                format!(
                    "the signed URL will be about {length} bytes, over CloudFront's {MAX_URL_LENGTH}-byte limit; \
                     shorten the resource, use an ECDSA key, or use signed cookies"
                ),
            ));
        }
    }
    out
}

/// Length of the signed URL: URL, separator, parameters (RSA-2048 signatures are
/// 344 characters, ECDSA P-256 at most 96; unknown key type assumes RSA).
#[must_use]
pub fn estimated_signed_length(
    policy: &Policy,
    url: &SignableUrl,
    key_type: Option<KeyType>,
) -> usize {
    let signature = match key_type {
        Some(KeyType::EcdsaP256) => 96,
        _ => 344,
    };
    let first = match policy.form() {
        PolicyForm::Canned => "Expires=".len() + policy.date_less_than().to_string().len(),
        PolicyForm::Custom => "Policy=".len() + policy.json().len().div_ceil(3) * 4,
    };
    url.as_str().len()
        + 1
        + first
        + "&Signature=".len()
        + signature
        + "&Key-Pair-Id=".len()
        + 14
        + "&Hash-Algorithm=SHA256".len()
}

/// The warnings for a URL that was signed: [`lint_policy`] without
/// `resource-does-not-cover-url` (signing refuses that case).
#[must_use]
pub fn lint_signed_url(
    policy: &Policy,
    url: &SignableUrl,
    now: Timestamp,
    key_type: Option<KeyType>,
) -> Vec<Warning> {
    let mut warnings = lint_policy(policy, Some(url), now, key_type);
    warnings.retain(|w| w.code != "resource-does-not-cover-url");
    warnings
}

/// The warnings for signed cookies set with `attributes`:
/// [`SignedCookies::warnings`](crate::SignedCookies::warnings) (canned cookie,
/// cookie path), then [`lint_policy`] without `url-too-long` (cookies have no URL).
///
/// ```
/// use std::time::Duration;
/// use cfsign::{lint, CookieAttributes, KeyPairId, KeyType, Policy, PrivateKey, Resource, Signer};
///
/// let now = jiff::Timestamp::now();
/// let signer = Signer::new(KeyPairId::new("K2JCJMDEHXQW5F")?, PrivateKey::generate(KeyType::EcdsaP256)?);
/// let policy = Policy::builder(Resource::url("https://example.com/a.mp4")?)
///     .expires_in(Duration::from_secs(600))
///     .build_at(now)?;
/// let cookies = signer.sign_cookies(&policy)?;
/// let warnings = lint::lint_cookies(&cookies, &policy, &CookieAttributes::default(), now, Some(signer.key_type()));
/// assert_eq!(warnings[0].code, "canned-cookie");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn lint_cookies(
    cookies: &crate::SignedCookies,
    policy: &Policy,
    attributes: &crate::CookieAttributes,
    now: Timestamp,
    key_type: Option<KeyType>,
) -> Vec<Warning> {
    let mut warnings = cookies.warnings(attributes);
    warnings.extend(
        lint_policy(policy, None, now, key_type)
            .into_iter()
            .filter(|w| w.code != "url-too-long"),
    );
    warnings
}

/// Warns when a pattern's host section has a character no host name has (the
/// host runs to the first `/`, so `https://example.com?a=1` is a host pattern with
/// a one-character wildcard, not a query): such a resource covers no URL.
fn check_host_section(resource: &str, out: &mut Vec<Warning>) {
    let host = crate::resource::host_section(resource);
    if let Some(c) = host
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '*' | '?')))
    {
        out.push(Warning::new(
            "host-matches-nothing",
            format!(
                "the resource's host section {host:?} contains {c:?}, which no host name has, so it covers \
                 no URL; the host ends at the first '/' (a '?' before it matches one host character): put \
                 a '/' after the host, e.g. https://example.com/?a=1"
            ),
        ));
    }
}

/// Warns when the text after the first `?` past the host reads like the rest of a
/// path (no `=`, and a `.` or `/`), e.g. `/v/a?.ts` or `/v?/*.ts`: that `?` was
/// probably meant as a one-character path wildcard, but it starts the query.
fn check_question_marks(resource: &str, out: &mut Vec<Warning>) {
    let Some(query) = crate::resource::written_query(resource) else {
        return;
    };
    if !query.contains('=') && query.contains(['.', '/']) {
        out.push(Warning::new(
            "question-mark-ambiguity",
            format!(
                "in a resource, the first '?' after the host starts the query string (here {query:?}) and \
                 only later '?'s match exactly one character; a '?' meant as a path wildcard therefore \
                 splits the path instead. Use '*' in paths, or percent-encode a literal '?' as %3F"
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn now() -> Timestamp {
        Timestamp::from_second(1_767_200_000).unwrap()
    }

    fn codes(policy: &Policy, url: Option<&str>) -> Vec<&'static str> {
        let url = url.map(|u| SignableUrl::parse(u).unwrap());
        lint_policy(policy, url.as_ref(), now(), None)
            .into_iter()
            .map(|w| w.code)
            .collect()
    }

    fn build(resource: &str) -> crate::PolicyBuilder {
        Policy::builder(Resource::parse(resource).unwrap()).expires_in(Duration::from_secs(3600))
    }

    #[test]
    fn clean_policy_has_no_warnings() {
        let p = build("https://x.net/a.jpg").build_at(now()).unwrap();
        assert!(codes(&p, Some("https://x.net/a.jpg")).is_empty());
    }

    #[test]
    fn findings() {
        let p = build("https://x.net/a*b.jpg").build_at(now()).unwrap();
        assert_eq!(
            codes(&p, Some("https://x.net/a*b.jpg")),
            ["wildcard-in-url"]
        );
        let p = build("https://x.net/v?/*.ts").build_at(now()).unwrap();
        assert_eq!(codes(&p, None), ["question-mark-ambiguity"]);
        let p = build("https://x.net/v/a?.ts").build_at(now()).unwrap();
        assert_eq!(
            codes(&p, Some("https://x.net/v/a?.ts")),
            [] as [&str; 0],
            "the delivered URL itself"
        );
        assert_eq!(codes(&p, None), ["question-mark-ambiguity"]);
        // A '?' before the first '/' is in the host: a typo for a query.
        let p = build("https://x.net?a=1").build_at(now()).unwrap();
        assert_eq!(codes(&p, None), ["host-matches-nothing"]);
        let p = build("https://cdn?.x.net:8?/*").build_at(now()).unwrap();
        assert_eq!(codes(&p, None), [] as [&str; 0]);
        // A '?' wildcard in a query is what it looks like: no warning.
        let p = build("https://x.net/v/a.ts?v=?").build_at(now()).unwrap();
        assert_eq!(codes(&p, Some("https://x.net/v/a.ts?v=7")), [] as [&str; 0]);
        let p = build("https://x.net/v/a.ts?v=?").build_at(now()).unwrap();
        assert_eq!(
            codes(&p, Some("https://x.net/v/a.ts?v=?")),
            ["wildcard-in-url"]
        );
        let p = build("https://x.net/*")
            .source_ip("10.1.2.3/8".parse().unwrap())
            .build_at(now())
            .unwrap();
        assert_eq!(codes(&p, None), ["ip-host-bits", "ip-condition-ipv6"]);
        let p = build("https://x.net/*")
            .not_before(now())
            .build_at(now())
            .unwrap();
        assert_eq!(codes(&p, None), ["start-near-now"]);
        let p = Policy::builder(Resource::parse("https://x.net/*").unwrap())
            .expires_in(Duration::from_secs(30))
            .build_at(now())
            .unwrap();
        assert_eq!(codes(&p, None), ["short-lifetime"]);
        let p = build("*").build_at(now()).unwrap();
        assert_eq!(codes(&p, None), ["any-resource"]);
        let raw = Policy::from_json(
            "{\"Statement\": [{\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":1767290400}}}]}",
        )
        .unwrap();
        assert_eq!(codes(&raw, None), ["no-resource", "policy-whitespace"]);
    }

    #[test]
    fn too_long() {
        let url = format!("https://x.net/{}", "a".repeat(8000));
        let p = build(&url).build_at(now()).unwrap();
        assert_eq!(codes(&p, Some(&url)), ["url-too-long"]);
    }
}
