//! One test per diagnosis `explain` must recognise.

use std::net::IpAddr;

use jiff::Timestamp;

use super::*;
use crate::policy::PolicyBuilder;
use crate::verify::KeyGroup;
use crate::{KeyPairId, PrivateKey, Resource, SignableUrl, Signer};

const NOW: i64 = 1_767_200_000;

fn now() -> Timestamp {
    Timestamp::from_second(NOW).unwrap()
}

fn path(name: &str) -> String {
    format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn verifier() -> Verifier {
    Verifier::new().with_key_group(
        KeyGroup::new("g")
            .with_key(
                KeyPairId::new("KRSA").unwrap(),
                PublicKey::from_file(path("rsa2048.pub.pem")).unwrap(),
            )
            .with_key(
                KeyPairId::new("KEC").unwrap(),
                PublicKey::from_file(path("ec-p256.pub.pem")).unwrap(),
            ),
    )
}

fn signer(id: &str, file: &str, hash: HashAlgorithm) -> Signer {
    Signer::new(
        KeyPairId::new(id).unwrap(),
        PrivateKey::from_file(path(file)).unwrap(),
    )
    .with_hash_algorithm(hash)
    .unwrap()
}

fn rsa() -> Signer {
    signer("KRSA", "rsa2048.pkcs8.pem", HashAlgorithm::Sha1)
}

fn policy(resource: Resource) -> PolicyBuilder {
    Policy::builder(resource).expires_at(Timestamp::from_second(NOW + 600).unwrap())
}

fn canned(signer: &Signer, url: &str) -> String {
    let u = SignableUrl::parse(url).unwrap();
    let p = policy(Resource::Url(u.clone())).build_at(now()).unwrap();
    signer.sign_url(&u, &p).unwrap().into_string()
}

fn codes(url: &str) -> Vec<&'static str> {
    codes_with(&ViewerRequest::new(url), Some(&verifier()), now())
}

fn codes_with(
    request: &ViewerRequest<'_>,
    verifier: Option<&Verifier>,
    t: Timestamp,
) -> Vec<&'static str> {
    let x = explain(verifier, request, t);
    if let Some(d) = &x.decision {
        assert!(!d.is_allowed(), "expected a denial:\n{x}");
    }
    x.findings.iter().map(|f| f.code).collect()
}

#[test]
fn allowed_request_has_no_findings() {
    let url = canned(&rsa(), "https://x.net/a.jpg");
    let x = explain(Some(&verifier()), &ViewerRequest::new(&url), now());
    assert!(x.decision.as_ref().unwrap().is_allowed());
    assert!(x.findings.is_empty(), "{x}");
    assert!(x.to_string().starts_with("verdict: allowed"));
}

#[test]
fn expiry_in_milliseconds() {
    let url = format!(
        "https://x.net/a.jpg?Expires={}000&Signature=AAAA&Key-Pair-Id=KRSA",
        NOW + 600
    );
    let x = explain(Some(&verifier()), &ViewerRequest::new(&url), now());
    assert_eq!(x.findings[0].code, "expires-in-milliseconds");
    assert!(x.findings[0].fix.contains(&(NOW + 600).to_string()), "{x}");
}

#[test]
fn expired_and_not_yet_valid_with_skew_margin() {
    let url = canned(&rsa(), "https://x.net/a.jpg");
    let x = explain(
        Some(&verifier()),
        &ViewerRequest::new(&url),
        Timestamp::from_second(NOW + 630).unwrap(),
    );
    assert_eq!(x.findings[0].code, "expired");
    assert!(
        x.findings[0].summary.contains("30 s ago") && x.findings[0].summary.contains("within"),
        "{x}"
    );
    let p = policy(Resource::pattern("https://x.net/*").unwrap())
        .not_before(Timestamp::from_second(NOW + 30).unwrap())
        .build_at(now())
        .unwrap();
    let url = rsa()
        .sign_url(&SignableUrl::parse("https://x.net/a").unwrap(), &p)
        .unwrap()
        .into_string();
    let x = explain(Some(&verifier()), &ViewerRequest::new(&url), now());
    assert_eq!(x.findings[0].code, "not-yet-valid");
    assert!(
        x.findings[0].summary.contains("in 30 s") && x.findings[0].summary.contains("ahead"),
        "{x}"
    );
}

#[test]
fn hash_algorithm_missing_or_wrong() {
    let sha256 = canned(
        &signer("KEC", "ec-p256.sec1.pem", HashAlgorithm::Sha256),
        "https://x.net/a.jpg",
    );
    let without = sha256.replace("&Hash-Algorithm=SHA256", "");
    assert_eq!(codes(&without), ["hash-algorithm-missing"]);
    let sha1 = canned(&rsa(), "https://x.net/a.jpg");
    assert_eq!(
        codes(&format!("{sha1}&Hash-Algorithm=SHA256")),
        ["hash-algorithm-wrong"]
    );
}

#[test]
fn re_encodings_are_named() {
    let cases = [
        (
            "https://x.net/a%20b.jpg",
            "a%20b",
            "a+b",
            "%20 where the request has '+'",
        ),
        (
            "https://x.net/a+b.jpg",
            "a+b",
            "a%20b",
            "'+' where the request has %20",
        ),
        (
            "https://x.net/~u/a.jpg",
            "~u",
            "%7Eu",
            "'~' where the request has %7E",
        ),
        (
            "https://x.net/%7Eu/a.jpg",
            "%7Eu",
            "~u",
            "%7E where the request has '~'",
        ),
        ("https://x.net/a%2Fb.jpg", "%2F", "%2f", "upper-case"),
        ("https://x.net/a%2fb.jpg", "%2f", "%2F", "lower-case"),
        ("https://x.net/it's.jpg", "it's", "it%27s", "'''"),
        (
            "https://x.net/a.jpg?b=1&a=2",
            "b=1&a=2",
            "a=2&b=1",
            "another order",
        ),
    ];
    for (signed_url, from, to, needle) in cases {
        let url = canned(&rsa(), signed_url).replacen(from, to, 1);
        let x = explain(Some(&verifier()), &ViewerRequest::new(&url), now());
        assert_eq!(
            x.findings[0].code, "url-encoding-changed",
            "{signed_url}\n{x}"
        );
        assert!(
            x.findings[0].summary.contains(needle),
            "{signed_url}: {}",
            x.findings[0].summary
        );
    }
}

#[test]
fn decoded_path_signature() {
    // Someone signed the canned policy over the raw "a b.jpg" and sent it encoded.
    let key = PrivateKey::from_file(path("rsa2048.pkcs8.pem")).unwrap();
    let json = canned_policy_json(
        "https://x.net/a b.jpg",
        EpochSeconds::new(NOW + 600).unwrap(),
    );
    let sig = cloudfront_base64::encode(
        &crate::SigningKey::sign(&key, HashAlgorithm::Sha1, json.as_bytes()).unwrap(),
    );
    let url = format!(
        "https://x.net/a%20b.jpg?Expires={}&Signature={sig}&Key-Pair-Id=KRSA",
        NOW + 600
    );
    let x = explain(Some(&verifier()), &ViewerRequest::new(&url), now());
    assert_eq!(x.findings[0].code, "url-encoding-changed");
    assert!(x.findings[0].summary.contains("decoded URL"), "{x}");
}

#[test]
fn parameter_added_after_signing() {
    let url = canned(&rsa(), "https://x.net/a.jpg?v=1");
    let added = url.replace("?v=1&", "?v=1&utm_source=mail&");
    let x = explain(Some(&verifier()), &ViewerRequest::new(&added), now());
    assert_eq!(x.findings[0].code, "url-encoding-changed");
    assert!(
        x.findings[0]
            .summary
            .contains("\"utm_source=mail\" was added after signing"),
        "{x}"
    );
}

/// A URL as `aws-cloudfront-sign` 3.x writes it (URLSearchParams): `Expires`
/// and `Policy`, and `%7E` for every `~` of the base64 values.
fn url_search_params_style(url: &str) -> String {
    let u = SignableUrl::parse(url).unwrap();
    (0..100)
        .map(|i| {
            let p = policy(Resource::Url(u.clone()))
                .expires_at(Timestamp::from_second(NOW + 600 + i).unwrap())
                .force_custom(true)
                .build_at(now())
                .unwrap();
            let stamp = rsa().sign_policy(&p).unwrap();
            format!(
                "{url}?Expires={}&Policy={}&Signature={}&Key-Pair-Id=KRSA",
                NOW + 600 + i,
                stamp.encoded_policy().unwrap().replace('~', "%7E"),
                stamp.signature().replace('~', "%7E")
            )
        })
        .find(|u| u.split("Signature=").nth(1).unwrap().contains("%7E"))
        .unwrap()
}

#[test]
fn url_search_params_urls_are_not_called_damaged() {
    let url = url_search_params_style("https://x.net/a.jpg");
    for verifier in [Some(verifier()), None] {
        let x = explain(verifier.as_ref(), &ViewerRequest::new(&url), now());
        if let Some(d) = &x.decision {
            assert!(d.is_allowed(), "{x}");
        }
        // no finding: `cfsign explain` exits 0 in decode-only mode too
        assert!(x.findings.is_empty(), "{x}");
        let fact = |label: &str| {
            x.facts
                .iter()
                .find(|(l, _)| *l == label)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert!(
            fact("Expires param").contains("ignored: the signed Policy decides"),
            "{x}"
        );
        assert!(!fact("Expires param").contains("differs"), "{x}");
        assert!(fact("encoding").contains("Signature"), "{x}");
        assert!(fact("encoding").contains("%7E"), "{x}");
        assert!(fact("Signature").contains("256 bytes"), "{x}");
        assert!(fact("policy").starts_with("{\"Statement\""), "{x}");
        assert!(!x.to_string().contains("damaged"), "{x}");
    }
    // an Expires that is not the policy's DateLessThan is pointed out, and changes nothing
    let other = url.replacen("Expires=", "Expires=1", 1);
    let x = explain(Some(&verifier()), &ViewerRequest::new(&other), now());
    assert!(x.decision.as_ref().unwrap().is_allowed(), "{x}");
    assert!(
        x.facts
            .iter()
            .any(|(l, v)| *l == "Expires param"
                && v.contains("differs from the policy's DateLessThan")),
        "{x}"
    );
}

#[test]
fn expires_and_policy_cookies_both_present() {
    let p = policy(Resource::pattern("https://x.net/*").unwrap())
        .build_at(now())
        .unwrap();
    let header = format!(
        "{}; CloudFront-Expires={}",
        rsa().sign_cookies(&p).unwrap().cookie_header(),
        NOW + 600
    );
    let r = ViewerRequest::new("https://x.net/a.jpg").cookie_header(&header);
    assert_eq!(
        codes_with(&r, Some(&verifier()), now()),
        ["expires-and-policy"]
    );
}

#[test]
fn encoding_damage_is_named() {
    let url = canned(&rsa(), "https://x.net/a.jpg");
    let sig = url
        .split("Signature=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    // encoded twice
    let twice = url.replace(&sig, &format!("%2541{}", &sig[1..]));
    let x = explain(Some(&verifier()), &ViewerRequest::new(&twice), now());
    assert_eq!(x.findings[0].code, "signature-alphabet-damaged", "{x}");
    assert!(x.findings[0].fix.contains("encoded twice"), "{x}");
    // an escape that is not one
    let cut = url.replace(&sig, &format!("{}%4", &sig[..sig.len() - 1]));
    let x = explain(Some(&verifier()), &ViewerRequest::new(&cut), now());
    assert_eq!(
        x.findings.iter().map(|f| f.code).collect::<Vec<_>>(),
        ["invalid-percent-escape"],
        "{x}"
    );
    assert!(x.findings[0].summary.contains("MalformedSignature"), "{x}");
    // a CloudFront parameter name, percent-encoded
    let named = format!("{url}&%53ignature=x");
    assert!(codes(&named).contains(&"encoded-parameter-name"));
}

#[test]
fn damaged_base64_alphabet() {
    let url = canned(&rsa(), "https://x.net/a.jpg");
    let sig = url
        .split("Signature=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    // '=' sent (percent-encoded) for the '_' padding: decoded, still not CloudFront's alphabet
    let damaged = url.replace(&sig, &sig.replace('~', "%7E").replace('_', "%3D"));
    assert_eq!(codes(&damaged), ["signature-alphabet-damaged"]);
    let standard = url.replace(
        &sig,
        &sig.replace('-', "+").replace('~', "/").replace('_', "="),
    );
    let x = explain(Some(&verifier()), &ViewerRequest::new(&standard), now());
    assert_eq!(x.findings[0].code, "signature-alphabet-damaged");
}

#[test]
fn wildcard_in_canned_policy() {
    // Someone signed a canned policy with a wildcard resource and delivered a specific URL.
    let key = PrivateKey::from_file(path("rsa2048.pkcs8.pem")).unwrap();
    let json = canned_policy_json(
        "https://x.net/photos/*",
        EpochSeconds::new(NOW + 600).unwrap(),
    );
    let sig = cloudfront_base64::encode(
        &crate::SigningKey::sign(&key, HashAlgorithm::Sha1, json.as_bytes()).unwrap(),
    );
    let url = format!(
        "https://x.net/photos/1.jpg?Expires={}&Signature={sig}&Key-Pair-Id=KRSA",
        NOW + 600
    );
    let x = explain(Some(&verifier()), &ViewerRequest::new(&url), now());
    assert_eq!(x.findings[0].code, "wildcard-in-canned", "{x}");
    assert!(x.findings[0].summary.contains("https://x.net/photos/*"));
}

#[test]
fn resource_with_other_host_or_scheme() {
    let p = policy(Resource::pattern("https://cdn.example.com/*").unwrap())
        .build_at(now())
        .unwrap();
    let stamp = rsa().sign_policy(&p).unwrap();
    let q = stamp.query_parameters();
    assert_eq!(
        codes(&format!("https://d111.cloudfront.net/a?{q}")),
        ["resource-host-differs"]
    );
    assert_eq!(
        codes(&format!("http://cdn.example.com/a?{q}")),
        ["resource-scheme-differs"]
    );
    let p = policy(Resource::pattern("https://cdn.example.com/a.jpg").unwrap())
        .build_at(now())
        .unwrap();
    let q = rsa().sign_policy(&p).unwrap().query_parameters().to_owned();
    assert_eq!(
        codes(&format!("https://cdn.example.com/a.jpg?x=1&{q}")),
        ["query-not-covered"]
    );
}

#[test]
fn ipv6_client_with_ip_policy() {
    let p = policy(Resource::pattern("https://x.net/*").unwrap())
        .source_ip("192.0.2.0/24".parse().unwrap())
        .build_at(now())
        .unwrap();
    let url = rsa()
        .sign_url(&SignableUrl::parse("https://x.net/a").unwrap(), &p)
        .unwrap()
        .into_string();
    let r = ViewerRequest::new(&url).client_ip("2001:db8::1".parse::<IpAddr>().unwrap());
    assert_eq!(codes_with(&r, Some(&verifier()), now()), ["ipv6-client"]);
    let r = ViewerRequest::new(&url).client_ip("198.51.100.1".parse::<IpAddr>().unwrap());
    assert_eq!(codes_with(&r, Some(&verifier()), now()), ["ip-not-allowed"]);
}

#[test]
fn key_mismatch_and_wrong_key_pair_id() {
    // signed with the EC key, but named the RSA key
    let url = canned(
        &signer("KRSA", "ec-p256.sec1.pem", HashAlgorithm::Sha1),
        "https://x.net/a.jpg",
    );
    let x = explain(Some(&verifier()), &ViewerRequest::new(&url), now());
    assert_eq!(x.findings[0].code, "wrong-key-pair-id", "{x}");
    assert!(x.findings[0].fix.contains("Key-Pair-Id=KEC"));
    // signed with a key nobody trusts
    let url = canned(
        &signer("KRSA", "rsa2048-b.pkcs8.pem", HashAlgorithm::Sha1),
        "https://x.net/a.jpg",
    );
    assert_eq!(codes(&url), ["key-mismatch"]);
    let url = canned(
        &signer("KRSA", "ec-p256-b.pkcs8.pem", HashAlgorithm::Sha1),
        "https://x.net/a.jpg",
    );
    let x = explain(Some(&verifier()), &ViewerRequest::new(&url), now());
    assert!(
        x.findings[0].summary.contains("names an RSA-2048 key"),
        "{x}"
    );
}

#[test]
fn access_key_id_and_unknown_key() {
    let url = canned(&rsa(), "https://x.net/a.jpg")
        .replace("Key-Pair-Id=KRSA", "Key-Pair-Id=AKIAIOSFODNN7EXAMPLE");
    let c = codes(&url);
    assert!(
        c.contains(&"access-key-id") && c.contains(&"unknown-key"),
        "{c:?}"
    );
}

#[test]
fn s3_presigned_urls() {
    let v4 = "https://bucket.s3.amazonaws.com/a.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20260101&X-Amz-Signature=abc";
    assert_eq!(codes(v4), ["s3-presigned-url", "no-credentials"]);
    let v2 = "https://bucket.s3.amazonaws.com/a.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1767290400&Signature=abc%3D";
    assert!(
        codes(v2).starts_with(&["s3-presigned-url"]),
        "{:?}",
        codes(v2)
    );
}

#[test]
fn decode_only_mode_says_what_was_not_checked() {
    let url = canned(&rsa(), "https://x.net/a.jpg");
    let x = explain(None, &ViewerRequest::new(&url), now());
    assert!(x.decision.is_none());
    assert!(x.findings.is_empty());
    assert!(x.unchecked[0].contains("--public-key"));
    assert!(
        x.facts
            .iter()
            .any(|(l, v)| *l == "expires" && v.contains("in 10 min")),
        "{x}"
    );
}
