#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
//! `*` and `?` wildcards in a policy `Resource` (spec §6.3): the signer, the
//! verifier and the documented rules agree.
//!
//! * **Property**: for generated patterns with `*` and `?` in every section
//!   (scheme, host, path position, query) and generated URLs,
//!   1. the resource is classified as a pattern exactly when the documented
//!      rules give it a wildcard, by the signer (`Resource::parse`) and by the
//!      verifier (`Policy::from_json` of the signed policy), and a canned
//!      policy never carries one;
//!   2. the signer's coverage decision (`Policy::covers`, and whether
//!      `Signer::sign_url` signs or refuses with `NotCovered`) equals the
//!      oracle;
//!   3. the verifier allows the signed URL exactly when the oracle covers it
//!      (and otherwise denies it with `ResourceMismatch`).
//!
//!   The oracle is written here from the documented rules, not from
//!   `cfsign::resource`: `*` alone matches everything; a pattern without a
//!   scheme is `*://` + pattern; the host ends at the first `/`; the first `?`
//!   after the host starts the query; `*` = zero or more, `?` = exactly one
//!   character, within a section; a trailing `*` in the path implies `?*`, in
//!   the host `/*?*`; no path means `/`; no query section means "no query".
//! * **The issue's example and one case per section**, through the library
//!   (the CLI is tested in `crates/cfsign-cli/tests/cli.rs`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use cfsign::verify::{Decision, DenialReason, Verifier, ViewerRequest};
use cfsign::{
    KeyPairId, Policy, PolicyForm, PrivateKey, PublicKey, Resource, SignError, SignableUrl, Signer,
};
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const NOW: i64 = 1_767_200_000;
const KEY_PAIR_ID: &str = "K2JCJMDEHXQW5F";

fn key_path(name: &str) -> String {
    format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

static SIGNER: LazyLock<Signer> = LazyLock::new(|| {
    Signer::new(
        KeyPairId::new(KEY_PAIR_ID).unwrap(),
        PrivateKey::from_file(key_path("ec-p256.sec1.pem")).unwrap(),
    )
});

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    Verifier::new().with_key(
        KeyPairId::new(KEY_PAIR_ID).unwrap(),
        PublicKey::from_file(key_path("ec-p256.pub.pem")).unwrap(),
    )
});

// ---------------------------------------------------------------------------
// The oracle: the documented rules, written independently of cfsign.
// ---------------------------------------------------------------------------

/// `*` = zero or more bytes, `?` = exactly one, everything else literal.
fn glob(p: &[u8], t: &[u8]) -> bool {
    match (p.split_first(), t.split_first()) {
        (None, _) => t.is_empty(),
        (Some((b'*', rest)), _) => glob(rest, t) || (!t.is_empty() && glob(p, &t[1..])),
        (Some(_), None) => false,
        (Some((&pc, prest)), Some((&tc, trest))) => (pc == b'?' || pc == tc) && glob(prest, trest),
    }
}

/// A pattern's four sections after the documented rewrites; `None` query:
/// the URL must not have one.
struct Sections {
    scheme: String,
    host: String,
    path: String,
    query: Option<String>,
}

fn pattern_sections(pattern: &str) -> Sections {
    // `*example.com` means `*://*example.com/`.
    let full = if pattern.contains("://") {
        pattern.to_owned()
    } else {
        format!("*://{pattern}")
    };
    let (scheme, rest) = full.split_once("://").unwrap();
    // `[protocol]://[domain]/[path]?[query]`: the domain ends at the first '/'.
    let (host, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (path, query) = if tail.is_empty() {
        if host.ends_with('*') {
            // `http://example.com*` ≡ `http://example.com*/*?*`
            ("/*".to_owned(), Some("*".to_owned()))
        } else {
            ("/".to_owned(), None)
        }
    } else {
        // The first '?' after the host starts the query section.
        match tail.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            // `http://example.com/hello*` ≡ `http://example.com/hello*?*`
            None if tail.ends_with('*') => (tail.to_owned(), Some("*".to_owned())),
            None => (tail.to_owned(), None),
        }
    };
    Sections {
        scheme: scheme.to_owned(),
        host: host.to_owned(),
        path,
        query,
    }
}

/// Whether the documented rules give `pattern` any wildcard.
fn oracle_has_wildcard(pattern: &str) -> bool {
    let s = pattern_sections(pattern);
    pattern.contains('*')
        || [&s.scheme, &s.host, &s.path]
            .into_iter()
            .chain(s.query.as_ref())
            .any(|section| section.contains('?'))
}

/// Whether `pattern` covers the (unsigned) `url` under the documented rules.
fn oracle_covers(pattern: &str, url: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p = pattern_sections(pattern);
    let (scheme, rest) = url.split_once("://").unwrap();
    let (host, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    glob(p.scheme.as_bytes(), scheme.as_bytes())
        && glob(p.host.as_bytes(), host.as_bytes())
        && glob(p.path.as_bytes(), path.as_bytes())
        && match (&p.query, query) {
            (None, query) => query.is_none(),
            // A URL without a query offers an empty query section.
            (Some(pq), query) => glob(pq.as_bytes(), query.unwrap_or("").as_bytes()),
        }
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

/// Valid signable URLs over a small alphabet, so that patterns often match;
/// `*` and `?` appear literally too (`?` only in the query, as the contract says).
fn url() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("http"), Just("https")],
        "[ab]{1,2}(\\.[ab]{1,2})?(:8)?",
        prop::collection::vec("[ab*]{1,2}", 0..3),
        any::<bool>(),
        prop::option::weighted(0.5, "[ab=*?]{1,4}"),
    )
        .prop_map(|(scheme, host, segments, trailing_slash, query)| {
            let mut u = format!("{scheme}://{host}/{}", segments.join("/"));
            if trailing_slash && !segments.is_empty() {
                u.push('/');
            }
            if let Some(q) = query {
                u.push('?');
                u.push_str(&q);
            }
            u
        })
}

/// A pattern written from scratch: every scheme form, `?` and `*` in the host,
/// and a tail where `?` and `*` fall anywhere (the first `?` is the query's start).
fn random_pattern() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("http://"),
            Just("https://"),
            Just("*://"),
            Just("http*://"),
            Just(""),
        ],
        "[ab.?*]{1,4}",
        prop::option::weighted(0.8, "/[ab/?*=]{0,6}"),
    )
        .prop_map(|(scheme, host, tail)| {
            // Without a scheme, the pattern must start with '*' (`*example.com`).
            let host = if scheme.is_empty() {
                format!("*{host}")
            } else {
                host
            };
            format!("{scheme}{host}{}", tail.unwrap_or_default())
        })
}

/// A pattern made from a URL: some characters after the scheme become `?` or
/// `*`, gain a `*` or disappear, the scheme may become a wildcard, and a
/// suffix may add a query section.
fn mutated_pattern(url: String) -> impl Strategy<Value = String> {
    (
        prop_oneof![4 => Just(None), 1 => Just(Some("*")), 1 => Just(Some("http*"))],
        prop::collection::vec(0u8..12, 24),
        prop_oneof![
            Just(""),
            Just("*"),
            Just("?"),
            Just("?*"),
            Just("?a=?"),
            Just("?*?")
        ],
    )
        .prop_map(move |(scheme, ops, suffix)| {
            let (original_scheme, rest) = url.split_once("://").unwrap();
            let mut out = format!("{}://", scheme.unwrap_or(original_scheme));
            for (i, c) in rest.chars().enumerate() {
                match ops.get(i).copied().unwrap_or(0) {
                    8 => out.push('?'),
                    9 => out.push('*'),
                    10 => {
                        out.push('*');
                        out.push(c);
                    }
                    11 => {}
                    _ => out.push(c),
                }
            }
            out.push_str(suffix);
            out
        })
}

fn case() -> impl Strategy<Value = (String, String)> {
    url().prop_flat_map(|u| {
        let pattern = prop_oneof![
            1 => random_pattern(),
            3 => mutated_pattern(u.clone()),
            1 => Just(u.clone()),
        ];
        (pattern, Just(u))
    })
}

// ---------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------

/// Appends the stamp's parameters to `url` without asking the signer (so that
/// the verifier also decides URLs the signer refused).
fn stamped(url: &str, parameters: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{parameters}")
}

fn expiry_policy(resource: Resource, force_custom: bool) -> Policy {
    Policy::builder(resource)
        .expires_at(at(NOW + 3600))
        .force_custom(force_custom)
        .build_at(at(NOW))
        .unwrap()
}

fn verifier_allows(request: &str) -> Result<bool, TestCaseError> {
    match VERIFIER.verify(&ViewerRequest::new(request), at(NOW)) {
        Decision::Allowed(_) => Ok(true),
        Decision::Denied(d) => {
            prop_assert!(
                matches!(d.reason(), DenialReason::ResourceMismatch { .. }),
                "{request}: denied for another reason: {d}"
            );
            Ok(false)
        }
    }
}

/// Checks one (pattern, url) pair; returns labels for the coverage report.
fn check(pattern: &str, url_text: &str) -> Result<Vec<String>, TestCaseError> {
    let url = SignableUrl::parse(url_text).unwrap();
    let wildcard = oracle_has_wildcard(pattern);
    let covered = oracle_covers(pattern, url_text);
    let mut labels = vec![format!("covered={covered}"), format!("wildcard={wildcard}")];
    let s = pattern_sections(pattern);
    if s.host.contains('?') {
        labels.push("? in host".to_owned());
    }
    if s.query.as_ref().is_some_and(|q| q.contains('?')) {
        labels.push("? in query".to_owned());
    }
    let tail = pattern.split_once("://").map_or(pattern, |(_, rest)| rest);
    if s.path.len() > 1 && tail.split_once('/').is_some_and(|(_, t)| t.contains('?')) {
        labels.push("? after a path (query start)".to_owned());
    }
    if url_text.matches('?').count() > 1 || url_text.contains('*') {
        labels.push("literal ? or * in the URL".to_owned());
    }

    // 1. Classification, signer side.
    let resource = match Resource::parse(pattern) {
        Ok(r) => r,
        Err(e) => {
            // Only a wildcard-free text that is not a signable URL is refused.
            prop_assert!(!wildcard, "{pattern:?} has a wildcard but was refused: {e}");
            prop_assert!(SignableUrl::parse(pattern).is_err());
            labels.push("refused (not a URL, no wildcard)".to_owned());
            return Ok(labels);
        }
    };
    prop_assert_eq!(
        matches!(resource, Resource::Pattern(_)),
        wildcard,
        "{:?} classified as {:?}",
        pattern,
        resource
    );

    // A canned policy never carries a wildcard.
    let plain = expiry_policy(resource.clone(), false);
    prop_assert_eq!(plain.form() == PolicyForm::Canned, !wildcard, "{}", pattern);

    // 2. The signer's coverage decision, on a custom policy.
    let policy = expiry_policy(resource.clone(), true);
    prop_assert_eq!(
        policy.covers(&url),
        covered,
        "covers({:?}, {:?})",
        pattern,
        url_text
    );
    match SIGNER.sign_url(&url, &policy) {
        Ok(signed) => {
            prop_assert!(covered, "signed {url_text:?} under {pattern:?}");
            prop_assert!(verifier_allows(signed.as_str())?, "{}", signed);
        }
        Err(SignError::NotCovered { .. }) => prop_assert!(!covered),
        Err(e) => return Err(TestCaseError::fail(format!("{pattern:?}: {e}"))),
    }

    // 1. Classification, verifier side: the signed policy read back.
    let read_back = Policy::from_json(policy.json()).unwrap();
    prop_assert_eq!(read_back.resource(), Some(&resource));

    // 3. The verifier's decision on the URL stamped with this policy.
    let stamp = SIGNER.sign_policy(&policy).unwrap();
    let request = stamped(url_text, stamp.query_parameters());
    prop_assert_eq!(verifier_allows(&request)?, covered, "{}", request);
    Ok(labels)
}

#[test]
fn signer_verifier_and_documented_rules_agree_on_wildcards() {
    let counts: RefCell<BTreeMap<String, usize>> = RefCell::new(BTreeMap::new());
    let mut runner = TestRunner::new(Config {
        cases: 1024,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&case(), |(pattern, url)| {
            for label in check(&pattern, &url)? {
                *counts.borrow_mut().entry(label).or_default() += 1;
            }
            Ok(())
        })
        .unwrap();
    // The generators must exercise every interesting shape, both ways (the
    // minimums are about half of what 1024 cases give on average).
    let counts = counts.into_inner();
    for (label, minimum) in [
        ("covered=true", 150),
        ("covered=false", 300),
        ("wildcard=true", 600),
        ("wildcard=false", 30),
        ("? in host", 150),
        ("? in query", 150),
        ("? after a path (query start)", 150),
        ("literal ? or * in the URL", 300),
    ] {
        let n = counts.get(label).copied().unwrap_or(0);
        assert!(n >= minimum, "only {n} cases with {label}: {counts:?}");
    }
}

#[test]
fn oracle_self_check() {
    // The oracle itself, on the documented examples (spec §6.3).
    let zip = "https://d111111abcdef8.cloudfront.net/*game_download.zip*";
    assert!(oracle_covers(
        zip,
        "https://d111111abcdef8.cloudfront.net/game_download.zip"
    ));
    assert!(oracle_covers(
        zip,
        "https://d111111abcdef8.cloudfront.net/a/game_download.zip?license=x"
    ));
    assert!(oracle_covers(
        "http://example.com/hello*",
        "http://example.com/hello/w?a=b"
    ));
    assert!(oracle_covers(
        "http://example.com*",
        "http://example.com.x.net/a?b"
    ));
    assert!(oracle_covers("*example.com", "https://www.example.com/"));
    assert!(!oracle_covers("*example.com", "https://www.example.com/a"));
    assert!(oracle_covers("https://h/a?v=?", "https://h/a?v=7"));
    assert!(!oracle_covers("https://h/a?v=?", "https://h/a?v=77"));
    assert!(oracle_has_wildcard("https://h/a?v=?"));
    assert!(oracle_has_wildcard("https://h?/a"));
    assert!(!oracle_has_wildcard("https://h/a?v=1"));
    assert!(!oracle_has_wildcard("https://h/a?.ts"));
}

// ---------------------------------------------------------------------------
// The issue's example and one case per section
// ---------------------------------------------------------------------------

/// Signs `url` under a policy for `resource` (as `cfsign url --resource` does:
/// custom when the resource differs from the URL).
fn sign(resource: &str, url: &str) -> Result<String, SignError> {
    let resource = Resource::parse(resource).unwrap();
    let differs = resource.as_str() != url;
    let policy = expiry_policy(resource, differs);
    SIGNER
        .sign_url(&SignableUrl::parse(url).unwrap(), &policy)
        .map(|s| s.into_string())
}

/// The verifier's decision on `url` carrying the signed `policy_json`.
fn decide(policy_json: &str, url: &str) -> Decision {
    let policy = Policy::from_json(policy_json).unwrap();
    let stamp = SIGNER.sign_policy(&policy).unwrap();
    VERIFIER.verify(
        &ViewerRequest::new(&stamped(url, stamp.query_parameters())),
        at(NOW),
    )
}

fn custom_json(resource: &str) -> String {
    format!(
        r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{}}}}}}}]}}"#,
        NOW + 3600
    )
}

#[test]
fn issue_example_question_mark_matches_one_query_character() {
    let resource = "https://cdn.example.com/v/a.ts?v=?";
    assert!(matches!(
        Resource::parse(resource).unwrap(),
        Resource::Pattern(_)
    ));
    // Signer: signs ?v=7, refuses ?v=77 and ?v=.
    let signed = sign(resource, "https://cdn.example.com/v/a.ts?v=7").unwrap();
    assert!(signed.starts_with("https://cdn.example.com/v/a.ts?v=7&Policy="));
    assert!(
        VERIFIER
            .verify(&ViewerRequest::new(&signed), at(NOW))
            .is_allowed()
    );
    for other in [
        "https://cdn.example.com/v/a.ts?v=77",
        "https://cdn.example.com/v/a.ts?v=",
    ] {
        assert!(
            matches!(sign(resource, other), Err(SignError::NotCovered { .. })),
            "{other}"
        );
    }
    // Verifier: a policy made elsewhere with this Resource.
    let json = custom_json(resource);
    assert!(decide(&json, "https://cdn.example.com/v/a.ts?v=7").is_allowed());
    for other in [
        "https://cdn.example.com/v/a.ts?v=77",
        "https://cdn.example.com/v/a.ts?v=",
        "https://cdn.example.com/v/a.ts",
        "https://cdn.example.com/v/b.ts?v=7",
    ] {
        let d = decide(&json, other);
        assert!(
            matches!(
                d.denial().map(|d| d.reason()),
                Some(DenialReason::ResourceMismatch { .. })
            ),
            "{other}: {d:?}"
        );
    }
}

#[test]
fn question_mark_in_the_host_matches_one_host_character() {
    let resource = "https://cdn?.example.com/v/a.ts";
    assert!(matches!(
        Resource::parse(resource).unwrap(),
        Resource::Pattern(_)
    ));
    assert!(sign(resource, "https://cdn1.example.com/v/a.ts").is_ok());
    for other in [
        "https://cdn.example.com/v/a.ts",
        "https://cdn12.example.com/v/a.ts",
        "https://cdn1.example.com/v/b.ts",
    ] {
        assert!(
            matches!(sign(resource, other), Err(SignError::NotCovered { .. })),
            "{other}"
        );
    }
    let json = custom_json(resource);
    assert!(decide(&json, "https://cdn1.example.com/v/a.ts").is_allowed());
    assert!(decide(&json, "https://cdnx.example.com/v/a.ts").is_allowed());
    assert!(!decide(&json, "https://cdn12.example.com/v/a.ts").is_allowed());
    assert!(!decide(&json, "https://cdn1.example.com/v/a.ts?x=1").is_allowed());
}

#[test]
fn question_mark_after_the_path_starts_the_query() {
    // `/a?.ts` is path `/a` and query `.ts`, not a one-character path wildcard.
    let exact = "https://cdn.example.com/v/a?.ts";
    let r = Resource::parse(exact).unwrap();
    assert!(matches!(r, Resource::Url(_)), "{r:?}");
    assert_eq!(expiry_policy(r, false).form(), PolicyForm::Canned);
    assert!(matches!(
        sign(exact, "https://cdn.example.com/v/ab.ts"),
        Err(SignError::NotCovered { .. })
    ));
    let json = custom_json(exact);
    assert!(decide(&json, exact).is_allowed());
    assert!(!decide(&json, "https://cdn.example.com/v/ab.ts").is_allowed());

    // A later '?' is a wildcard in that query: `/a?.t?` covers `/a?.ts` only.
    let wild = "https://cdn.example.com/v/a?.t?";
    assert!(matches!(
        Resource::parse(wild).unwrap(),
        Resource::Pattern(_)
    ));
    assert!(sign(wild, "https://cdn.example.com/v/a?.ts").is_ok());
    assert!(matches!(
        sign(wild, "https://cdn.example.com/v/ab.ts"),
        Err(SignError::NotCovered { .. })
    ));
    let json = custom_json(wild);
    assert!(decide(&json, "https://cdn.example.com/v/a?.ts").is_allowed());
    assert!(!decide(&json, "https://cdn.example.com/v/ab.ts").is_allowed());
    assert!(!decide(&json, "https://cdn.example.com/v/a?.tss").is_allowed());
}

#[test]
fn a_url_with_a_plain_query_stays_canned_and_a_literal_second_question_mark_does_not() {
    let plain = SignableUrl::parse("https://cdn.example.com/v/a.ts?v=7").unwrap();
    assert!(matches!(Resource::from(plain.clone()), Resource::Url(_)));
    assert_eq!(
        expiry_policy(Resource::from(plain), false).form(),
        PolicyForm::Canned
    );
    // A URL signed as its own resource keeps a '?' inside its query literal: a
    // canned policy, as botocore and the AWS CLI sign it, which CloudFront checks
    // against the exact URL, so it covers itself and nothing else.
    let literal = SignableUrl::parse("https://cdn.example.com/go?to=/b?c=1").unwrap();
    let resource = Resource::from(literal.clone());
    assert!(matches!(resource, Resource::Url(_)));
    let policy = expiry_policy(resource, false);
    assert_eq!(policy.form(), PolicyForm::Canned);
    let signed = SIGNER.sign_url(&literal, &policy).unwrap();
    assert!(
        VERIFIER
            .verify(&ViewerRequest::new(signed.as_str()), at(NOW))
            .is_allowed()
    );
    let other = signed.as_str().replace("/b?c=1", "/bXc=1");
    assert!(
        !VERIFIER
            .verify(&ViewerRequest::new(&other), at(NOW))
            .is_allowed()
    );
    // The same text given as a resource on its own is a pattern: custom policy.
    let pattern = Resource::parse(literal.as_str()).unwrap();
    assert!(matches!(pattern, Resource::Pattern(_)));
    assert_eq!(expiry_policy(pattern, false).form(), PolicyForm::Custom);
}

#[test]
fn explain_flags_a_star_in_a_canned_url_but_not_a_literal_question_mark() {
    // A canned URL made by hand with '*' (cfsign never signs one) is flagged; a
    // '?' inside a canned query is literal (cfsign signs such URLs canned).
    let key = PrivateKey::from_file(key_path("ec-p256.sec1.pem")).unwrap();
    let codes = |url: &str| -> Vec<&'static str> {
        let expires = cfsign::EpochSeconds::new(NOW + 3600).unwrap();
        let json = cfsign::policy::canned_policy_json(url, expires);
        let signature =
            cfsign::SigningKey::sign(&key, cfsign::HashAlgorithm::Sha1, json.as_bytes()).unwrap();
        let signed = format!(
            "{url}&Expires={expires}&Signature={}&Key-Pair-Id={KEY_PAIR_ID}",
            cfsign::cloudfront_base64::encode(&signature)
        );
        let x = cfsign::explain::explain(None, &ViewerRequest::new(&signed), at(NOW));
        x.findings.iter().map(|f| f.code).collect()
    };
    assert!(codes("https://cdn.example.com/v/a*.ts?v=7").contains(&"wildcard-in-canned"));
    assert!(!codes("https://cdn.example.com/v/a.ts?v=?").contains(&"wildcard-in-canned"));
    assert!(!codes("https://cdn.example.com/v/a.ts?v=7").contains(&"wildcard-in-canned"));
}
