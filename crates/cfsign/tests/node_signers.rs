#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
//! URLs and cookies made by the npm signers people use, verified by the core
//! `Verifier`: `aws-cloudfront-sign` (about 261,000 downloads a month; every URL
//! carries both `Expires` and `Policy`, and `URLSearchParams` writes the `~` of
//! CloudFront base64 as `%7E`) and `@aws-sdk/cloudfront-signer` (canned, custom,
//! wildcard, IP, SHA-256), URLs and cookies, signed by the real packages
//! (`cfsign_testkit::node`, installed by `scripts/setup-node-oracles`).
//!
//! Every one is allowed, with the expected key, hash, policy form, expiry and
//! forwarded URL; and tampering with any part (each signing value, the path, a
//! query value, the client IP, the encoding of a cookie) is denied. The
//! `Expires` of a URL that also carries `Policy` is ignored (verify/strict.rs):
//! changing or removing it changes nothing.

use std::net::IpAddr;
use std::sync::LazyLock;

use cfsign::verify::{Allowed, CredentialSource, Decision, DenialCode, Verifier, ViewerRequest};
use cfsign::{HashAlgorithm, KeyPairId, PolicyForm, PublicKey};
use cfsign_testkit::node::{self, Signed};
use jiff::Timestamp;

/// The time of signing (the real time: `aws-cloudfront-sign` refuses past expiries)
/// and everything the two packages signed.
static SIGNED: LazyLock<(Timestamp, Vec<Signed>)> = LazyLock::new(|| {
    let now = Timestamp::from_second(Timestamp::now().as_second()).unwrap();
    (now, node::sign_all(now.as_second()))
});

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    Verifier::new().with_key(
        KeyPairId::new(node::KEY_PAIR_ID).unwrap(),
        PublicKey::from_file(node::public_key_path()).unwrap(),
    )
});

fn decide(url: &str, cookie: Option<&str>, client: Option<IpAddr>) -> Decision {
    let mut request = ViewerRequest::new(url);
    if let Some(c) = cookie {
        request = request.cookie_header(c);
    }
    if let Some(ip) = client {
        request = request.client_ip(ip);
    }
    VERIFIER.verify(&request, SIGNED.0)
}

fn decide_as_signed(case: &Signed) -> Decision {
    decide(&case.url, case.cookie.as_deref(), case.client)
}

fn allowed(case: &Signed, decision: Decision, what: &str) -> Allowed {
    match decision {
        Decision::Allowed(a) => *a,
        Decision::Denied(d) => panic!(
            "{} ({} {} {}) {what}: {d}\n  url: {}\n  cookie: {:?}",
            case.id, case.package, case.version, case.api, case.url, case.cookie
        ),
    }
}

fn denied(case: &Signed, decision: &Decision, what: &str) -> DenialCode {
    match decision {
        Decision::Denied(d) => d.code(),
        Decision::Allowed(a) => panic!(
            "FALSE ACCEPT: {} ({}) {what} was allowed, forwarding {}",
            case.id,
            case.package,
            a.forward_url()
        ),
    }
}

/// `(name, value)` of `text` split on `separator` (query `&`, cookies `; `).
fn pairs<'a>(text: &'a str, separator: &str) -> Vec<(&'a str, &'a str)> {
    text.split(separator)
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect()
}

/// `text` with the value of `name` replaced by `f(value)`.
fn with_value(text: &str, separator: &str, name: &str, f: impl Fn(&str) -> String) -> String {
    let replaced: Vec<String> = pairs(text, separator)
        .into_iter()
        .map(|(n, v)| {
            if n == name {
                format!("{n}={}", f(v))
            } else {
                format!("{n}={v}")
            }
        })
        .collect();
    replaced.join(separator)
}

/// `text` without the pair `name`.
fn without(text: &str, separator: &str, name: &str) -> String {
    let kept: Vec<String> = pairs(text, separator)
        .into_iter()
        .filter(|(n, _)| *n != name)
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    kept.join(separator)
}

/// The URL's query with `f` applied, the rest unchanged.
fn with_query(url: &str, f: impl Fn(&str) -> String) -> String {
    let (base, query) = url.split_once('?').unwrap();
    format!("{base}?{}", f(query))
}

/// One alphanumeric character in the middle of `value`, outside `%XX` escapes,
/// replaced by another alphanumeric: still CloudFront's alphabet, other bytes.
fn one_character_changed(value: &str) -> String {
    let bytes = value.as_bytes();
    let in_escape = |i: usize| (i >= 1 && bytes[i - 1] == b'%') || (i >= 2 && bytes[i - 2] == b'%');
    let i = (value.len() / 2..value.len())
        .chain(0..value.len() / 2)
        .find(|&i| bytes[i].is_ascii_alphanumeric() && !in_escape(i))
        .unwrap();
    let new = if bytes[i] == b'A' { 'B' } else { 'A' };
    format!("{}{new}{}", &value[..i], &value[i + 1..])
}

/// The first path segment's first character changed: outside every resource signed.
fn path_changed(url: &str) -> String {
    let path = url.find("://").unwrap() + 3;
    let i = path + url[path..].find('/').unwrap() + 1;
    let new = if url.as_bytes()[i] == b'x' { 'y' } else { 'x' };
    format!("{}{new}{}", &url[..i], &url[i + 1..])
}

fn cases() -> &'static [Signed] {
    &SIGNED.1
}

#[test]
fn the_signers_made_every_kind_of_request() {
    let ids: Vec<&str> = cases().iter().map(|c| c.id.as_str()).collect();
    for id in [
        "acs/url",
        "acs/url-query",
        "acs/url-ip",
        "acs/url-wildcard",
        "acs/cookies",
        "acs/cookies-wildcard",
        "acs/cookies-ip",
        "js3/url-canned",
        "js3/url-canned-sha256",
        "js3/url-canned-query",
        "js3/url-custom-start",
        "js3/url-ip",
        "js3/url-wildcard",
        "js3/cookies-canned",
        "js3/cookies-wildcard",
        "js3/cookies-ip-sha256",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    for case in cases() {
        eprintln!("{:<24} {} {}", case.id, case.package, case.version);
    }
    // The shapes this test exists for: aws-cloudfront-sign's URLs carry Expires and
    // Policy together, and (practically always) %7E in the signature.
    let acs_urls: Vec<&Signed> = cases()
        .iter()
        .filter(|c| c.is_aws_cloudfront_sign() && c.cookie.is_none())
        .collect();
    assert_eq!(acs_urls.len(), 4);
    for c in &acs_urls {
        let query = c.url.split_once('?').unwrap().1;
        let names: Vec<&str> = pairs(query, "&").into_iter().map(|(n, _)| n).collect();
        assert!(
            names.contains(&"Expires") && names.contains(&"Policy"),
            "{}: {}",
            c.id,
            c.url
        );
    }
    assert!(
        acs_urls.iter().any(|c| {
            let query = c.url.split_once('?').unwrap().1;
            pairs(query, "&")
                .iter()
                .any(|(n, v)| *n == "Signature" && v.contains("%7E"))
        }),
        "no aws-cloudfront-sign signature with %7E among {} URLs",
        acs_urls.len()
    );
}

#[test]
fn every_signed_request_verifies() {
    for case in cases() {
        let a = allowed(case, decide_as_signed(case), "as signed");
        assert_eq!(a.key_pair_id(), node::KEY_PAIR_ID, "{}", case.id);
        let hash = if case.sha256 {
            HashAlgorithm::Sha256
        } else {
            HashAlgorithm::Sha1
        };
        assert_eq!(a.hash_algorithm(), hash, "{}", case.id);
        let form = if case.custom {
            PolicyForm::Custom
        } else {
            PolicyForm::Canned
        };
        assert_eq!(a.form(), form, "{}", case.id);
        assert_eq!(a.date_less_than().get(), case.expires, "{}", case.id);
        let source = if case.cookie.is_some() {
            CredentialSource::Cookies
        } else {
            CredentialSource::Query
        };
        assert_eq!(a.source(), source, "{}", case.id);
        assert_eq!(a.forward_url(), case.unsigned_url(), "{}", case.id);
    }
}

#[test]
fn tampering_with_a_signed_url_is_denied() {
    for case in cases().iter().filter(|c| c.cookie.is_none()) {
        let query = case.url.split_once('?').unwrap().1;
        let names: Vec<&str> = pairs(query, "&").into_iter().map(|(n, _)| n).collect();
        let has_policy = names.contains(&"Policy");
        let decide_url = |url: &str| decide(url, None, case.client);
        for name in names.iter().copied() {
            let change =
                |f: &dyn Fn(&str) -> String| with_query(&case.url, |q| with_value(q, "&", name, f));
            match name {
                "Signature" | "Policy" => {
                    let tampered = change(&one_character_changed);
                    denied(case, &decide_url(&tampered), &format!("{name} changed"));
                }
                "Key-Pair-Id" => {
                    let tampered = change(&|_| "K2OTHERKEY".to_owned());
                    let code = denied(case, &decide_url(&tampered), "Key-Pair-Id changed");
                    assert_eq!(code, DenialCode::InvalidKey, "{}", case.id);
                }
                "Hash-Algorithm" => {
                    let tampered = change(&|_| "SHA1".to_owned());
                    denied(case, &decide_url(&tampered), "Hash-Algorithm changed");
                    let dropped = with_query(&case.url, |q| without(q, "&", name));
                    denied(case, &decide_url(&dropped), "Hash-Algorithm dropped");
                }
                "Expires" if has_policy => {
                    // Ignored beside Policy (strict.rs): any value, or none, decides alike.
                    for value in [(case.expires + 86_400).to_string(), "0".to_owned()] {
                        let changed = change(&|_| value.clone());
                        let a = allowed(case, decide_url(&changed), "with Expires changed");
                        assert_eq!(a.date_less_than().get(), case.expires, "{}", case.id);
                    }
                    let dropped = with_query(&case.url, |q| without(q, "&", name));
                    allowed(case, decide_url(&dropped), "without Expires");
                }
                "Expires" => {
                    let tampered = change(&|v| (v.parse::<i64>().unwrap() + 1).to_string());
                    denied(case, &decide_url(&tampered), "Expires changed");
                }
                own => {
                    // the user's own parameters are part of what was signed
                    let tampered = change(&|v| format!("{v}1"));
                    denied(
                        case,
                        &decide_url(&tampered),
                        &format!("query value {own} changed"),
                    );
                }
            }
        }
        denied(case, &decide_url(&path_changed(&case.url)), "path changed");
        let added = case.url.replacen('?', "?utm=1&", 1);
        if case.id.contains("wildcard") {
            // the wildcard resource covers any query: still allowed
            allowed(
                case,
                decide_url(&added),
                "with a parameter added under a wildcard",
            );
        } else {
            denied(case, &decide_url(&added), "parameter added");
        }
        if let Some(ip) = case.client {
            let outside: IpAddr = "198.51.100.7".parse().unwrap();
            assert_ne!(ip, outside);
            let d = decide(&case.url, None, Some(outside));
            assert_eq!(
                denied(case, &d, "from another IP"),
                DenialCode::AccessDenied
            );
        }
    }
}

#[test]
fn percent_encoding_of_url_values_is_read_as_a_server_does() {
    for case in cases().iter().filter(|c| c.cookie.is_none()) {
        for name in ["Signature", "Policy"] {
            let query = case.url.split_once('?').unwrap().1;
            let Some((_, value)) = pairs(query, "&").into_iter().find(|(n, _)| *n == name) else {
                continue;
            };
            let change =
                |f: &dyn Fn(&str) -> String| with_query(&case.url, |q| with_value(q, "&", name, f));
            // the same value, '~' written either way: the same decision
            let (tilde, escaped) = (
                change(&|v| v.replace("%7E", "~")),
                change(&|v| v.replace('~', "%7E")),
            );
            for url in [&tilde, &escaped] {
                if *url != case.url {
                    allowed(case, decide(url, None, case.client), "re-encoded");
                }
            }
            // encoded twice: read once, '%7E' is not base64
            if value.contains('~') || value.contains("%7E") {
                let twice = change(&|v| v.replace('~', "%7E").replace("%7E", "%257E"));
                let code = denied(case, &decide(&twice, None, case.client), "encoded twice");
                let want = if name == "Signature" {
                    DenialCode::MalformedSignature
                } else {
                    DenialCode::MalformedPolicy
                };
                assert_eq!(code, want, "{}: {name}", case.id);
            }
        }
    }
}

#[test]
fn tampering_with_signed_cookies_is_denied() {
    for case in cases().iter().filter(|c| c.cookie.is_some()) {
        let header = case.cookie.as_deref().unwrap();
        let decide_cookie = |h: &str| decide(&case.url, Some(h), case.client);
        for (name, value) in pairs(header, "; ") {
            let change = |f: &dyn Fn(&str) -> String| with_value(header, "; ", name, f);
            let code = match name {
                "CloudFront-Key-Pair-Id" => {
                    let code = denied(
                        case,
                        &decide_cookie(&change(&|_| "K2OTHERKEY".to_owned())),
                        name,
                    );
                    assert_eq!(code, DenialCode::InvalidKey, "{}", case.id);
                    code
                }
                "CloudFront-Hash-Algorithm" => denied(
                    case,
                    &decide_cookie(&without(header, "; ", name)),
                    "dropped",
                ),
                "CloudFront-Expires" => denied(
                    case,
                    &decide_cookie(&change(&|v| (v.parse::<i64>().unwrap() + 1).to_string())),
                    name,
                ),
                _ => denied(case, &decide_cookie(&change(&one_character_changed)), name),
            };
            eprintln!("{} {name} changed: {code}", case.id);
            // cookie values are not percent-decoded (strict.rs): '~' as %7E breaks them
            if value.contains('~') {
                let encoded = change(&|v| v.replace('~', "%7E"));
                denied(
                    case,
                    &decide_cookie(&encoded),
                    "cookie value percent-encoded",
                );
            }
        }
        // a CloudFront-Expires cookie next to CloudFront-Policy: denied (strict.rs)
        if header.contains("CloudFront-Policy=") {
            let both = format!("{header}; CloudFront-Expires={}", case.expires);
            let code = denied(case, &decide_cookie(&both), "with CloudFront-Expires added");
            assert_eq!(code, DenialCode::MalformedPolicy, "{}", case.id);
        }
        let elsewhere = path_changed(&case.url);
        denied(
            case,
            &decide(&elsewhere, Some(header), case.client),
            "sent with another path",
        );
        if case.client.is_some() {
            let d = decide(
                &case.url,
                Some(header),
                Some("198.51.100.7".parse().unwrap()),
            );
            denied(case, &d, "from another IP");
        }
    }
}
