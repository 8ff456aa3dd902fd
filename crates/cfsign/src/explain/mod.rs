//! `explain`: turn a denial into a diagnosis a person can act on.
//!
//! [`explain`] runs the same checks as [`Verifier::verify`], then investigates:
//! it decodes everything, shows the validity window relative to now, and for a
//! signature that does not verify it tries the usual culprits — the other hash,
//! the other trusted keys, common re-encodings of the URL (`%20` vs `+`, `%7E` vs
//! `~`, hex case, decoded path, reordered query), a query parameter added after
//! signing, the other scheme, a wildcard signed as a canned policy — and names
//! the one that verifies. Without keys it works in decode-only mode and says what
//! could not be checked.
//!
//! ```
//! use std::time::Duration;
//! use cfsign::{KeyPairId, KeyType, Policy, PrivateKey, Resource, SignableUrl, Signer};
//! use cfsign::explain::explain;
//! use cfsign::verify::{Verifier, ViewerRequest};
//!
//! let key = PrivateKey::generate(KeyType::Rsa2048)?;
//! let id = KeyPairId::new("K2JCJMDEHXQW5F")?;
//! let verifier = Verifier::new().with_key(id.clone(), key.public_key()?);
//! let url = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/a%20b.jpg")?;
//! let now = jiff::Timestamp::now();
//! let policy = Policy::builder(Resource::Url(url.clone())).expires_in(Duration::from_secs(60)).build_at(now)?;
//! let signed = Signer::new(id, key).sign_url(&url, &policy)?;
//!
//! // A client that sent '+' for the space:
//! let sent = signed.as_str().replace("a%20b", "a+b");
//! let report = explain(Some(&verifier), &ViewerRequest::new(&sent), now);
//! assert!(!report.decision.as_ref().unwrap().is_allowed());
//! assert_eq!(report.findings[0].code, "url-encoding-changed");
//! assert!(report.findings[0].summary.contains("%20"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::IpAddr;

use jiff::Timestamp;

use crate::cloudfront_base64;
use crate::excerpt::Excerpt;
use crate::key::{KeyType, PublicKey};
use crate::policy::{Policy, PolicyError, canned_policy_json};
use crate::signer::HashAlgorithm;
use crate::time::{EpochSeconds, TimeError};
use crate::verify::{
    CredentialProblem, CredentialSource, Credentials, Decision, DenialReason, Verifier,
    ViewerRequest, credentials, strict,
};

/// Expiry or start this close to now is reported as possible clock skew.
pub const CLOCK_SKEW_MARGIN_SECONDS: i64 = 300;

/// One thing found, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable identifier, e.g. `hash-algorithm-missing`.
    pub code: &'static str,
    /// What is wrong.
    pub summary: String,
    /// What to do.
    pub fix: String,
}

impl Finding {
    fn new(code: &'static str, summary: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            code,
            summary: summary.into(),
            fix: fix.into(),
        }
    }
}

/// The diagnosis of one request.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The verdict, when public keys were given (None in decode-only mode).
    pub decision: Option<Decision>,
    /// Decoded facts, in display order: (label, value).
    pub facts: Vec<(&'static str, String)>,
    /// Likely causes with fixes, most likely first.
    pub findings: Vec<Finding>,
    /// What could not be checked (decode-only mode).
    pub unchecked: Vec<String>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.decision {
            Some(Decision::Allowed(_)) => writeln!(f, "verdict: allowed")?,
            Some(Decision::Denied(d)) => writeln!(f, "verdict: {d}")?,
            None => writeln!(f, "verdict: not decided (decode-only: no public key given)")?,
        }
        for (label, value) in &self.facts {
            writeln!(f, "{label:>16}: {value}")?;
        }
        for finding in &self.findings {
            writeln!(
                f,
                "\n[{}] {}\n  fix: {}",
                finding.code, finding.summary, finding.fix
            )?;
        }
        for u in &self.unchecked {
            writeln!(f, "\nnot checked: {u}")?;
        }
        Ok(())
    }
}

/// Explains `request` at `now`. With `verifier`, the verdict is CloudFront's; without,
/// only what can be decoded is checked.
#[must_use]
pub fn explain(
    verifier: Option<&Verifier>,
    request: &ViewerRequest<'_>,
    now: Timestamp,
) -> Explanation {
    let mut x = Explanation {
        decision: verifier.map(|v| v.verify(request, now)),
        facts: Vec::new(),
        findings: Vec::new(),
        unchecked: Vec::new(),
    };
    not_cloudfront(request.url(), &mut x);
    let creds = match credentials(request) {
        Ok(c) => c,
        Err(e) => {
            x.findings.push(Finding::new(
                "bad-request-url",
                e.to_string(),
                "give the full URL as the viewer requests it",
            ));
            return x;
        }
    };
    x.facts.push(("credentials", creds.source.to_string()));
    if creds.source == CredentialSource::None {
        no_credentials(request, &mut x);
        return x;
    }
    describe(&creds, now, request.ip(), &mut x);
    if let Some(Decision::Denied(denial)) = &x.decision {
        let reason = denial.reason().clone();
        if let Some(verifier) = verifier {
            investigate(verifier, &reason, &creds, &mut x);
        }
    }
    if verifier.is_none() {
        x.unchecked.push(
            "the signature: give the public key with --public-key KEY_PAIR_ID=public_key.pem to check it".to_owned(),
        );
    }
    x
}

/// S3 presigned URLs and other signing schemes.
fn not_cloudfront(url: &str, x: &mut Explanation) {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let has = |name: &str| query.split('&').any(|p| p.split('=').next() == Some(name));
    if has("X-Amz-Signature") || has("X-Amz-Credential") || has("X-Amz-Algorithm") {
        x.findings.push(Finding::new(
            "s3-presigned-url",
            "this is an S3 presigned URL (SigV4: X-Amz-Signature), not a CloudFront signed URL",
            "S3 presigned URLs go to the bucket directly and are checked by S3; for CloudFront, sign the \
             distribution's URL with a CloudFront key pair (cfsign url ... --key-pair-id ... --private-key ...)",
        ));
    } else if has("AWSAccessKeyId") {
        x.findings.push(Finding::new(
            "s3-presigned-url",
            "this is an S3 presigned URL (signature version 2: AWSAccessKeyId), not a CloudFront signed URL",
            "sign the CloudFront URL with a CloudFront key pair instead; S3's errors mention RequestId/HostId, \
             CloudFront's do not",
        ));
    }
}

fn no_credentials(request: &ViewerRequest<'_>, x: &mut Explanation) {
    let detail = match request.cookie() {
        Some(_) => "the Cookie header has no CloudFront-* cookies",
        None => "there is no Cookie header",
    };
    x.findings.push(Finding::new(
        "no-credentials",
        format!("the URL has no Expires/Policy/Signature/Key-Pair-Id parameters and {detail} (403 MissingKey)"),
        "sign the URL, or make sure the browser sends the signed cookies: their Domain must match this \
         host, their Path must be a prefix of this path (no '*'), Secure cookies need HTTPS, and cross-site \
         requests need SameSite=None; Secure",
    ));
}

/// Facts and the findings that need no key.
fn describe(
    creds: &Credentials<'_>,
    now: Timestamp,
    client_ip: Option<IpAddr>,
    x: &mut Explanation,
) {
    let raw = |v: Option<&str>| v.map_or_else(|| "(absent)".to_owned(), str::to_owned);
    x.facts
        .push(("Key-Pair-Id", raw(creds.key_pair_id.as_deref())));
    x.facts.push((
        "Hash-Algorithm",
        creds
            .hash_algorithm
            .as_deref()
            .map_or_else(|| "(absent: SHA1)".to_owned(), str::to_owned),
    ));
    x.facts
        .push(("unsigned URL", creds.unsigned_url.to_string()));
    if !creds.percent_decoded.is_empty() {
        x.facts.push((
            "encoding",
            format!(
                "{} arrived percent-encoded (e.g. %7E for '~', as URLSearchParams writes it) and {} read \
                 decoded, as CloudFront reads query values",
                creds.percent_decoded.join(", "),
                if creds.percent_decoded.len() == 1 { "is" } else { "are" }
            ),
        ));
    }
    let bad_escape = match &creds.problem {
        Some(CredentialProblem::InvalidEscape(name)) => {
            x.findings.push(Finding::new(
                "invalid-percent-escape",
                format!(
                    "the {name} value has a '%' that is not followed by two hex digits, or decodes to bytes \
                     that are not text (403 {})",
                    DenialReason::InvalidEscape(name).code()
                ),
                "hand out the signed URL exactly as produced: something cut or re-encoded it after signing",
            ));
            Some(*name)
        }
        Some(CredentialProblem::EncodedName(name)) => {
            x.findings.push(Finding::new(
                "encoded-parameter-name",
                format!("the query parameter name {} is a CloudFront parameter name, percent-encoded", Excerpt::start(name)),
                "send the CloudFront parameter names as they are (Expires, Policy, Signature, Key-Pair-Id, \
                 Hash-Algorithm), and do not use them, encoded or not, for your own parameters",
            ));
            None
        }
        _ => None,
    };
    if let Some(id) = creds.key_pair_id.as_deref() {
        key_pair_id_findings(id, x);
    }
    if let Some(sig) = creds.signature.as_deref() {
        match cloudfront_base64::decode(sig) {
            Ok(bytes) => x.facts.push((
                "Signature",
                format!("{} bytes ({})", bytes.len(), signature_shape(&bytes)),
            )),
            Err(_) if bad_escape == Some("Signature") => x.facts.push((
                "Signature",
                format!("undecodable ({} characters)", sig.len()),
            )),
            Err(e) => {
                x.facts.push((
                    "Signature",
                    format!("undecodable ({} characters)", sig.len()),
                ));
                let decoded_twice = creds.source == CredentialSource::Query
                    && creds.percent_decoded.contains(&"Signature")
                    && sig.contains('%');
                let repairable = cloudfront_base64::decode(&repair_base64(sig)).is_ok();
                x.findings.push(Finding::new(
                    "signature-alphabet-damaged",
                    format!("the Signature is not CloudFront base64: {e} (403 MalformedSignature)"),
                    if decoded_twice {
                        "the URL was percent-encoded twice (e.g. %257E for '~'): CloudFront decodes a query value \
                         once, so hand out the signed URL encoded at most once"
                    } else if repairable {
                        "something re-encoded the URL after signing (a URL encoder, a template, a redirect): hand \
                         out the signed URL exactly as produced, and keep '-', '_' and '~' as they are"
                    } else {
                        "use CloudFront's alphabet: standard base64, then '+' -> '-', '=' -> '_', '/' -> '~', \
                         padding kept, no line breaks"
                    },
                ));
            }
        }
    }
    let policy_decides = strict::policy_overrides_expires(creds.source);
    let expires = creds.expires.as_deref();
    let canned = match (expires, creds.policy.as_deref()) {
        (Some(_), Some(_)) if policy_decides => None,
        (Some(_), Some(_)) => {
            x.findings.push(Finding::new(
                "expires-and-policy",
                "both CloudFront-Expires (canned policy) and CloudFront-Policy (custom policy) cookies are \
                 present (403 MalformedPolicy)",
                "clear the old CloudFront-Expires cookie when switching to CloudFront-Policy (set it again with \
                 the same Domain and Path and an Expires in the past)",
            ));
            expires
        }
        _ => expires,
    };
    if let Some(expires) = canned {
        x.facts.push((
            "policy",
            "canned (rebuilt from the unsigned URL and Expires)".to_owned(),
        ));
        match expires.parse::<i64>().map_err(|_| None).and_then(|v| EpochSeconds::new(v).map_err(Some)) {
            Ok(e) => window(Some(e), None, now, x),
            Err(Some(TimeError::Milliseconds { seconds, .. })) => x.findings.push(Finding::new(
                "expires-in-milliseconds",
                format!("Expires={expires} is in milliseconds (403 MalformedPolicy)"),
                format!("CloudFront wants epoch seconds: {seconds} (in JavaScript, Math.floor(Date.now() / 1000))"),
            )),
            Err(e) => x.findings.push(Finding::new(
                "expires-invalid",
                format!("Expires={expires:?} is not a valid time{}", e.map_or_else(String::new, |e| format!(": {e}"))),
                "Expires is whole epoch seconds, e.g. 1767290400",
            )),
        }
        // Only '*': a '?' inside a canned URL's query is an ordinary character that
        // cfsign itself signs canned (see `Resource::from`), matching only itself.
        if creds.unsigned_url.contains('*') {
            x.findings.push(Finding::new(
                "wildcard-in-canned",
                "the URL contains '*' but uses a canned policy; a canned policy is rebuilt from the URL literally",
                "for wildcards use a custom policy (cfsign url ... --resource 'https://host/path/*')",
            ));
        }
    }
    let mut policy_expiry = None;
    if let Some(encoded) = creds.policy.as_deref() {
        match cloudfront_base64::decode(encoded).map(String::from_utf8) {
            Ok(Ok(text)) => {
                x.facts.push(("policy", text.clone()));
                match Policy::from_json(&text) {
                    Ok(p) => {
                        window(Some(p.date_less_than()), p.date_greater_than(), now, x);
                        policy_expiry = Some(p.date_less_than());
                        if let Some(r) = p.resource() {
                            x.facts.push(("resource", r.as_str().to_owned()));
                        } else {
                            x.facts.push(("resource", "(none: every file of every distribution trusting the key)".to_owned()));
                        }
                        if let Some(range) = p.source_ip() {
                            x.facts.push(("source IP", range.to_string()));
                            ip_findings(range, client_ip, x);
                        }
                        resource_findings(&p, &creds.unsigned_url, x);
                    }
                    Err(e) => policy_error_finding(&e, x),
                }
            }
            _ if bad_escape == Some("Policy") => {}
            _ => x.findings.push(Finding::new(
                "policy-undecodable",
                "the Policy value is not CloudFront base64 of a JSON text (403 MalformedPolicy)",
                "encode the policy JSON with CloudFront's base64 ('+' -> '-', '=' -> '_', '/' -> '~') and send it unchanged",
            )),
        }
    }
    if let (None, Some(e), Some(_)) = (canned, expires, creds.policy.as_deref()) {
        // An informational note, not a finding: aws-cloudfront-sign sends both.
        let differs = policy_expiry
            .filter(|d| d.get().to_string() != e)
            .map(|d| {
                format!("; it differs from the policy's DateLessThan {d}, which is what counts")
            })
            .unwrap_or_default();
        x.facts.push((
            "Expires param",
            format!(
                "{e} (ignored: the signed Policy decides; aws-cloudfront-sign adds Expires to every URL it \
                 signs){differs}"
            ),
        ));
    }
}

fn key_pair_id_findings(id: &str, x: &mut Explanation) {
    let access_key = id.len() == 20 && ["AKIA", "ASIA"].iter().any(|p| id.starts_with(p));
    if access_key {
        x.findings.push(Finding::new(
            "access-key-id",
            format!("Key-Pair-Id {id} is an AWS access key ID (IAM credentials), not a CloudFront public key ID"),
            "use the ID CloudFront shows for the uploaded public key (Key management > Public keys), e.g. K2JCJMDEHXQW5F",
        ));
    } else if id.contains("BEGIN") || id.contains("MII") || id.contains('%') || id.contains(' ') {
        x.findings.push(Finding::new(
            "key-pair-id-not-an-id",
            "Key-Pair-Id holds key material or encoded text, not an ID",
            "put the public key's ID (e.g. K2JCJMDEHXQW5F) in Key-Pair-Id, not the PEM",
        ));
    }
}

fn signature_shape(bytes: &[u8]) -> &'static str {
    match bytes {
        [0x30, len, ..]
            if (60..=72).contains(&bytes.len()) && usize::from(*len) + 2 == bytes.len() =>
        {
            "an ECDSA DER signature"
        }
        _ if bytes.len() == 256 => "an RSA-2048 signature",
        _ if bytes.len() == 64 => "a raw r||s ECDSA signature, which CloudFront does not document",
        _ => "neither an RSA-2048 nor an ECDSA P-256 signature",
    }
}

/// Undo the usual damage: (more) percent-encoding and the standard alphabet.
fn repair_base64(value: &str) -> String {
    percent_decode(value)
        .unwrap_or_else(|| value.to_owned())
        .replace('+', "-")
        .replace('=', "_")
        .replace('/', "~")
        .replace(' ', "-")
}

fn window(
    expires: Option<EpochSeconds>,
    starts: Option<EpochSeconds>,
    now: Timestamp,
    x: &mut Explanation,
) {
    let now_s = now.as_second();
    if let Some(e) = expires {
        let delta = e.get() - now_s;
        x.facts.push((
            "expires",
            format!("{} ({e}), {}", e.to_timestamp(), relative(delta)),
        ));
        if delta <= 0 {
            let skew = if -delta <= CLOCK_SKEW_MARGIN_SECONDS {
                format!(
                    " — within {CLOCK_SKEW_MARGIN_SECONDS} s, so a slow signer clock or a short lifetime may be the cause"
                )
            } else {
                String::new()
            };
            x.findings.push(Finding::new(
                "expired",
                format!("the signature expired {} (403 AccessDenied){skew}", relative(delta)),
                "sign again with a later expiry (cfsign url ... --expires-in 1h); check the signer's clock",
            ));
        }
    }
    if let Some(s) = starts {
        let delta = s.get() - now_s;
        x.facts.push((
            "valid after",
            format!("{} ({s}), {}", s.to_timestamp(), relative(delta)),
        ));
        if delta >= 0 {
            let skew = if delta <= CLOCK_SKEW_MARGIN_SECONDS {
                " — only just: the signer's clock is probably ahead of the edge's"
            } else {
                ""
            };
            x.findings.push(Finding::new(
                "not-yet-valid",
                format!("the signature is not valid yet: DateGreaterThan is {} (403 AccessDenied){skew}", relative(delta)),
                "set DateGreaterThan a few minutes in the past, or leave it out",
            ));
        }
    }
    x.facts.push(("now", now.to_string()));
}

fn relative(delta: i64) -> String {
    let (n, unit) = match delta.unsigned_abs() {
        s if s < 120 => (s, "s"),
        s if s < 7200 => (s / 60, "min"),
        s if s < 172_800 => (s / 3600, "h"),
        s => (s / 86_400, "days"),
    };
    if delta >= 0 {
        format!("in {n} {unit}")
    } else {
        format!("{n} {unit} ago")
    }
}

fn ip_findings(range: crate::SourceIp, client: Option<IpAddr>, x: &mut Explanation) {
    match client {
        None => x.findings.push(Finding::new(
            "ip-unknown",
            format!("the policy only allows {range}, and no client IP was given"),
            "give the viewer's IP (--client-ip) to check it",
        )),
        Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => x.findings.push(Finding::new(
            "ipv6-client",
            format!("the client {v6} is IPv6 and the policy has an IPv4-only IP condition ({range})"),
            "disable IPv6 on the distribution (viewers then connect over IPv4), or drop the IP condition",
        )),
        Some(ip) => {
            let v4 = match ip {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(v6) => v6.to_ipv4_mapped(),
            };
            if v4.is_some_and(|v| !range.contains(v)) {
                x.findings.push(Finding::new(
                    "ip-not-allowed",
                    format!("the client {ip} is outside {range}"),
                    "sign for the viewer's public IP as CloudFront sees it (behind NAT or a proxy it differs from the local one)",
                ));
            }
        }
    }
}

fn policy_error_finding(e: &PolicyError, x: &mut Explanation) {
    let (code, fix) = match e {
        PolicyError::Time {
            error: TimeError::Milliseconds { .. },
            ..
        } => (
            "policy-epoch-milliseconds",
            "write AWS:EpochTime in seconds",
        ),
        _ => (
            "policy-invalid",
            "a policy is {\"Statement\":[{\"Resource\":...,\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":N}}}]}",
        ),
    };
    x.findings.push(Finding::new(
        code,
        format!("{e} (403 MalformedPolicy)"),
        fix,
    ));
}

fn resource_findings(policy: &Policy, url: &str, x: &mut Explanation) {
    let Some(resource) = policy.resource() else {
        return;
    };
    if resource.matches_str(url) {
        return;
    }
    let r = resource.as_str();
    let (rs, rh) = scheme_host(r);
    let (us, uh) = scheme_host(url);
    let summary = format!(
        "the policy's Resource {} does not cover {} (403 AccessDenied)",
        Excerpt::start(r),
        Excerpt::start(url)
    );
    let (code, fix) = if rs != "*" && !rs.contains('*') && rs != us {
        (
            "resource-scheme-differs",
            format!(
                "the resource is for {rs}:// but the request uses {us}://; use {us}:// or *:// in the resource"
            ),
        )
    } else if !rh.contains('*') && !rh.contains('?') && rh != uh {
        (
            "resource-host-differs",
            format!(
                "the resource names host {} but the request went to {}: sign for the host viewers use (the alternate domain name or the *.cloudfront.net name, never the S3 bucket)",
                Excerpt::start(rh),
                Excerpt::start(uh)
            ),
        )
    } else if let Some((base, _)) = url.split_once('?')
        && resource.matches_str(base)
    {
        ("query-not-covered", "the request has a query string the resource does not allow: end the resource's path with '*', or add '?*'".to_owned())
    } else if let Some(v) = variants(url)
        .into_iter()
        .find(|v| resource.matches_str(&v.url))
    {
        (
            "url-encoding-changed",
            format!(
                "the resource matches {}: {}",
                Excerpt::start(&v.url),
                v.describe
            ),
        )
    } else {
        ("resource-mismatch", "sign a resource that covers this URL; wildcards match within each of scheme, host, path and query".to_owned())
    };
    x.findings.push(Finding::new(code, summary, fix));
}

fn scheme_host(url: &str) -> (&str, &str) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?']).next().unwrap_or("");
    (scheme, host)
}

/// After a denial with keys at hand: what would have verified?
fn investigate(
    verifier: &Verifier,
    reason: &DenialReason,
    creds: &Credentials<'_>,
    x: &mut Explanation,
) {
    match reason {
        DenialReason::UnknownKey(id) => {
            let ids = verifier.key_ids();
            x.findings.insert(0, Finding::new(
                "unknown-key",
                format!("Key-Pair-Id {} is not trusted here (403 InvalidKey); trusted: {}", Excerpt::start(id), ids.join(", ")),
                "use the ID of a public key in a key group trusted by this cache behavior (a key group's ID is \
                 not a public key's ID)",
            ));
        }
        DenialReason::SignatureMismatch => {
            if let Some(f) = signature_experiments(verifier, creds) {
                x.findings.insert(0, f);
            }
        }
        DenialReason::Duplicate(name) => x.findings.insert(0, Finding::new(
            "duplicate-parameter",
            format!("{name} appears more than once"),
            "send each CloudFront parameter or cookie once; for cookies, clear old ones set for another Path or Domain",
        )),
        DenialReason::CaseVariant(name) => x.findings.insert(0, Finding::new(
            "parameter-case",
            format!("{} is a CloudFront parameter name in the wrong letter case", Excerpt::start(name)),
            "use Expires, Policy, Signature, Key-Pair-Id, Hash-Algorithm exactly, and do not use these names for your own parameters",
        )),
        DenialReason::UnknownHashAlgorithm(v) => x.findings.insert(0, Finding::new(
            "hash-algorithm-value",
            format!("Hash-Algorithm={v} is not a documented value"),
            "use SHA256 (upper case) or leave it out for SHA-1",
        )),
        _ => {}
    }
}

/// Candidates that might be what was signed, each with what changed.
struct Variant {
    url: String,
    describe: String,
}

fn variants(url: &str) -> Vec<Variant> {
    let mut out: Vec<Variant> = Vec::new();
    let mut add = |candidate: String, describe: String| {
        if candidate != url && !out.iter().any(|v| v.url == candidate) {
            out.push(Variant {
                url: candidate,
                describe,
            });
        }
    };
    if url.contains('+') {
        add(url.replace('+', "%20"), "it was signed with %20 where the request has '+' (a form encoder turned spaces into '+')".to_owned());
    }
    if url.contains("%20") {
        add(
            url.replace("%20", "+"),
            "it was signed with '+' where the request has %20".to_owned(),
        );
    }
    if url.contains('~') {
        add(
            url.replace('~', "%7E"),
            "it was signed with %7E where the request has '~'".to_owned(),
        );
    }
    if url.to_ascii_uppercase().contains("%7E") {
        add(
            url.replace("%7E", "~").replace("%7e", "~"),
            "it was signed with '~' where the request has %7E".to_owned(),
        );
    }
    let upper = map_escapes(url, true);
    add(upper, "it was signed with upper-case percent-encoding (%2F) where the request has lower case (%2f)".to_owned());
    let lower = map_escapes(url, false);
    add(lower, "it was signed with lower-case percent-encoding (%2f) where the request has upper case (%2F)".to_owned());
    for (raw, enc) in [
        ("'", "%27"),
        ("(", "%28"),
        (")", "%29"),
        ("*", "%2A"),
        ("!", "%21"),
        (":", "%3A"),
        ("@", "%40"),
        (",", "%2C"),
    ] {
        if url.contains(raw) {
            add(
                url.replace(raw, enc),
                format!("it was signed with {enc} where the request has '{raw}'"),
            );
        }
        if url.contains(enc) {
            add(
                url.replace(enc, raw),
                format!("it was signed with '{raw}' where the request has {enc}"),
            );
        }
    }
    if let Some(decoded) = percent_decode(url) {
        add(decoded, "it was signed over the decoded URL (raw spaces or UTF-8) while the request is percent-encoded: sign the encoded form (cfsign url --encode)".to_owned());
    }
    if let Some((base, query)) = url.split_once('?') {
        let params: Vec<&str> = query.split('&').collect();
        if params.len() > 1 {
            let mut sorted = params.clone();
            sorted.sort_unstable();
            add(format!("{base}?{}", sorted.join("&")), "it was signed with the query parameters in another order (sorted); keep the order that was signed".to_owned());
            let reversed: Vec<&str> = params.iter().rev().copied().collect();
            add(format!("{base}?{}", reversed.join("&")), "it was signed with the query parameters in another order; keep the order that was signed".to_owned());
        }
        for (i, p) in params.iter().enumerate() {
            let rest: Vec<&str> = params
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, q)| *q)
                .collect();
            let candidate = if rest.is_empty() {
                base.to_owned()
            } else {
                format!("{base}?{}", rest.join("&"))
            };
            add(
                candidate,
                format!(
                    "the query parameter {} was added after signing: sign the URL with it, or use a custom policy whose resource ends in '*'",
                    Excerpt::start(p)
                ),
            );
        }
        add(
            base.to_owned(),
            "the query string was added after signing".to_owned(),
        );
    }
    if let Some(rest) = url.strip_prefix("https://") {
        add(
            format!("http://{rest}"),
            "it was signed for http:// but requested over https://".to_owned(),
        );
    } else if let Some(rest) = url.strip_prefix("http://") {
        add(
            format!("https://{rest}"),
            "it was signed for https:// but requested over http://".to_owned(),
        );
    }
    out
}

fn map_escapes(url: &str, upper: bool) -> String {
    let bytes = url.as_bytes();
    let mut out = String::with_capacity(url.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
        {
            let hex = &url[i + 1..i + 3];
            out.push('%');
            out.push_str(&if upper {
                hex.to_ascii_uppercase()
            } else {
                hex.to_ascii_lowercase()
            });
            i += 3;
        } else {
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    out
}

/// Percent-decodes; None if nothing changes or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

fn signature_experiments(verifier: &Verifier, creds: &Credentials<'_>) -> Option<Finding> {
    let id = creds.key_pair_id.as_deref()?;
    let key = verifier.key(id)?;
    let signature = cloudfront_base64::decode(creds.signature.as_deref()?).ok()?;
    let hash = strict::hash_algorithm(creds.hash_algorithm.as_deref())?;
    let other = match hash {
        HashAlgorithm::Sha1 => HashAlgorithm::Sha256,
        HashAlgorithm::Sha256 => HashAlgorithm::Sha1,
    };
    let url = creds.unsigned_url.as_ref();
    // The bytes that were checked.
    let canned_expires = match (creds.expires.as_deref(), creds.policy.as_deref()) {
        (Some(e), None) => Some(EpochSeconds::new(e.parse().ok()?).ok()?),
        _ => None,
    };
    let policy_bytes: Vec<u8> = match (canned_expires, creds.policy.as_deref()) {
        (Some(expires), _) => canned_policy_json(url, expires).into_bytes(),
        (None, Some(p)) => cloudfront_base64::decode(p).ok()?,
        (None, None) => return None,
    };
    if key.verify(other, &policy_bytes, &signature) {
        return Some(match other {
            HashAlgorithm::Sha256 => Finding::new(
                "hash-algorithm-missing",
                "the signature is SHA-256, but the request does not say so (no Hash-Algorithm=SHA256), so CloudFront checks it as SHA-1",
                "append &Hash-Algorithm=SHA256 to the URL (cookies: CloudFront-Hash-Algorithm=SHA256), or sign with SHA-1",
            ),
            HashAlgorithm::Sha1 => Finding::new(
                "hash-algorithm-wrong",
                "the signature is SHA-1, but the request says Hash-Algorithm=SHA256",
                "drop Hash-Algorithm (SHA-1 is the default), or sign with SHA-256",
            ),
        });
    }
    for other_id in verifier.key_ids().into_iter().filter(|k| *k != id) {
        let Some(other_key) = verifier.key(other_id) else {
            continue;
        };
        if [HashAlgorithm::Sha1, HashAlgorithm::Sha256]
            .iter()
            .any(|&h| other_key.verify(h, &policy_bytes, &signature))
        {
            return Some(Finding::new(
                "wrong-key-pair-id",
                format!(
                    "the signature verifies with the public key {other_id}, but the request names Key-Pair-Id {id}"
                ),
                format!(
                    "set Key-Pair-Id={other_id} (the ID of the key pair whose private key signed)"
                ),
            ));
        }
    }
    if let Some(expires) = canned_expires {
        let verifies = |candidate: &str| {
            let json = canned_policy_json(candidate, expires);
            [hash, other]
                .iter()
                .any(|&h| key.verify(h, json.as_bytes(), &signature))
        };
        for v in variants(url) {
            if verifies(&v.url) {
                return Some(Finding::new(
                    "url-encoding-changed",
                    format!(
                        "the signature is valid for {}, not for the URL requested: {}",
                        Excerpt::start(&v.url),
                        v.describe
                    ),
                    "hand out exactly the URL that was signed; sign the URL in the form clients send it",
                ));
            }
        }
        for candidate in wildcard_candidates(url) {
            if verifies(&candidate) {
                return Some(Finding::new(
                    "wildcard-in-canned",
                    format!(
                        "a canned policy was signed for the wildcard {}: CloudFront rebuilds canned policies from the exact URL, so wildcards never match",
                        Excerpt::start(&candidate)
                    ),
                    "use a custom policy for wildcards (cfsign url URL --resource 'PATTERN')",
                ));
            }
        }
    }
    Some(key_mismatch_finding(key, id, &signature))
}

fn wildcard_candidates(url: &str) -> Vec<String> {
    let base = url.split('?').next().unwrap_or(url);
    let mut out = vec!["*".to_owned()];
    let Some((scheme, rest)) = base.split_once("://") else {
        return out;
    };
    let mut prefix = format!("{scheme}://");
    for (i, part) in rest.split('/').enumerate() {
        prefix.push_str(part);
        if i > 0 || !part.is_empty() {
            out.push(format!("{prefix}/*"));
            out.push(format!("{prefix}*"));
            out.push(format!("*://{}/*", &prefix[scheme.len() + 3..]));
        }
        prefix.push('/');
    }
    out
}

fn key_mismatch_finding(key: &PublicKey, id: &str, signature: &[u8]) -> Finding {
    let shape = signature_shape(signature);
    let summary = match (key.key_type(), shape) {
        (KeyType::Rsa2048, s) if s.contains("ECDSA") => format!(
            "the signature is {s}, but Key-Pair-Id {id} names an RSA-2048 key: it was signed with another (EC) private key"
        ),
        (KeyType::EcdsaP256, s) if s.contains("RSA") => format!(
            "the signature is {s}, but Key-Pair-Id {id} names an ECDSA P-256 key: it was signed with another (RSA) private key"
        ),
        _ => format!(
            "the signature does not verify with the public key {id} under any variant tried (other hash, re-encodings, \
             query changes, scheme): it was most likely made with a private key that does not belong to this public key, \
             or the URL was changed in a way not tried"
        ),
    };
    Finding::new(
        "key-mismatch",
        summary,
        "check that the private key used for signing is the pair of the public key uploaded under this ID \
         (openssl pkey -in private_key.pem -pubout must equal the public key)",
    )
}

#[cfg(test)]
mod tests;
