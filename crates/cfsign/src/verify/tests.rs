//! One test per rule of the verifier.

use std::net::IpAddr;
use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::{KeyPairId, PrivateKey, Resource, SignableUrl, Signer};

fn key(name: &str) -> PrivateKey {
    PrivateKey::from_file(format!(
        "{}/tests/data/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn public(name: &str) -> PublicKey {
    PublicKey::from_file(format!(
        "{}/tests/data/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

const NOW: i64 = 1_767_200_000;

fn now() -> Timestamp {
    Timestamp::from_second(NOW).unwrap()
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

fn verifier() -> Verifier {
    Verifier::new().with_key_group(
        KeyGroup::new("main")
            .with_key(KeyPairId::new("KRSA").unwrap(), public("rsa2048.pub.pem"))
            .with_key(KeyPairId::new("KEC").unwrap(), public("ec-p256.pub.pem")),
    )
}

fn signer(id: &str, file: &str, hash: HashAlgorithm) -> Signer {
    Signer::new(KeyPairId::new(id).unwrap(), key(file))
        .with_hash_algorithm(hash)
        .unwrap()
}

fn canned(url: &str, expires: i64) -> String {
    let u = SignableUrl::parse(url).unwrap();
    let p = Policy::builder(Resource::Url(u.clone()))
        .expires_at(at(expires))
        .build_at(now())
        .unwrap();
    signer("KRSA", "rsa2048.pkcs8.pem", HashAlgorithm::Sha1)
        .sign_url(&u, &p)
        .unwrap()
        .into_string()
}

fn reason(url: &str) -> DenialReason {
    reason_with(&ViewerRequest::new(url), now())
}

fn reason_with(request: &ViewerRequest<'_>, t: Timestamp) -> DenialReason {
    match verifier().verify(request, t) {
        Decision::Denied(d) => d.reason().clone(),
        Decision::Allowed(a) => panic!("allowed: {a:?}"),
    }
}

fn allowed(request: &ViewerRequest<'_>, t: Timestamp) -> Allowed {
    match verifier().verify(request, t) {
        Decision::Allowed(a) => *a,
        Decision::Denied(d) => panic!("{d}"),
    }
}

#[test]
fn canned_url_is_allowed_and_forwarded_without_parameters() {
    let url = canned("https://x.net/a.jpg?b=1", NOW + 60);
    let a = allowed(&ViewerRequest::new(&url), now());
    assert_eq!(a.key_pair_id(), "KRSA");
    assert_eq!(a.key_group(), "main");
    assert_eq!(a.form(), PolicyForm::Canned);
    assert_eq!(a.forward_url(), "https://x.net/a.jpg?b=1");
    assert_eq!(a.source(), CredentialSource::Query);
    assert_eq!(a.resource(), Some("https://x.net/a.jpg?b=1"));
}

#[test]
fn all_four_key_and_hash_combinations_verify() {
    for (id, file) in [("KRSA", "rsa2048.pkcs1.pem"), ("KEC", "ec-p256.sec1.pem")] {
        for hash in [HashAlgorithm::Sha1, HashAlgorithm::Sha256] {
            let s = signer(id, file, hash);
            let p = Policy::builder(Resource::pattern("https://x.net/v/*").unwrap())
                .expires_at(at(NOW + 60))
                .build_at(now())
                .unwrap();
            let stamp = s.sign_policy(&p).unwrap();
            let url = stamp
                .apply_to(&SignableUrl::parse("https://x.net/v/1.ts").unwrap())
                .unwrap();
            let a = allowed(&ViewerRequest::new(url.as_str()), now());
            assert_eq!((a.key_pair_id(), a.hash_algorithm()), (id, hash));
            let cookies = stamp.to_cookies().cookie_header();
            let r = ViewerRequest::new("https://x.net/v/2.ts").cookie_header(&cookies);
            let a = allowed(&r, now());
            assert_eq!(a.source(), CredentialSource::Cookies);
        }
    }
}

#[test]
fn missing_key() {
    assert_eq!(reason("https://x.net/a.jpg"), DenialReason::NoCredentials);
    assert_eq!(
        reason("https://x.net/a.jpg?Expires=1&Signature=x"),
        DenialReason::MissingKeyPairId(CredentialSource::Query)
    );
    assert_eq!(
        reason("https://x.net/a.jpg?Key-Pair-Id=&Expires=1"),
        DenialReason::MissingKeyPairId(CredentialSource::Query)
    );
    let r = ViewerRequest::new("https://x.net/a.jpg").cookie_header("CloudFront-Signature=abc");
    assert_eq!(
        reason_with(&r, now()),
        DenialReason::MissingKeyPairId(CredentialSource::Cookies)
    );
    assert_eq!(
        DenialReason::NoCredentials.code().xml_body().len(),
        146,
        "CloudFront's MissingKey body is 146 bytes"
    );
}

#[test]
fn invalid_key_and_malformed_signature() {
    let url = canned("https://x.net/a.jpg", NOW + 60);
    assert_eq!(
        reason(&url.replace("Key-Pair-Id=KRSA", "Key-Pair-Id=KOTHER")),
        DenialReason::UnknownKey("KOTHER".into())
    );
    let sig = url
        .split("Signature=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let damaged = url.replace(sig, &sig.replace('~', "%7E").replace('-', "+"));
    assert!(
        matches!(reason(&damaged), DenialReason::UndecodableSignature(_)),
        "{damaged}"
    );
    let unpadded = url.replace(sig, sig.trim_end_matches('_'));
    assert!(matches!(
        reason(&unpadded),
        DenialReason::UndecodableSignature(_)
    ));
    assert_eq!(
        reason("https://x.net/a.jpg?Expires=1&Key-Pair-Id=KRSA"),
        DenialReason::MissingSignature
    );
}

#[test]
fn malformed_policy_cases() {
    let url = canned("https://x.net/a.jpg", NOW + 60);
    let ms = url.replace(
        &format!("Expires={}", NOW + 60),
        &format!("Expires={}000", NOW + 60),
    );
    assert!(matches!(
        reason(&ms),
        DenialReason::InvalidPolicy(PolicyError::Time {
            error: crate::TimeError::Milliseconds { .. },
            ..
        })
    ));
    // with Expires beside it, the Policy decides (and "{\"}" is not a policy)
    assert!(matches!(
        reason(&url.replace("Expires=", "Policy=eyJ9&Expires=")),
        DenialReason::InvalidPolicy(PolicyError::Json(_))
    ));
    let no_policy = url.replace(&format!("Expires={}&", NOW + 60), "");
    assert_eq!(reason(&no_policy), DenialReason::NoPolicy);
    let garbage = url.replace(&format!("Expires={}", NOW + 60), "Policy=bm90IGpzb24_");
    assert_eq!(reason(&garbage).code(), DenialCode::MalformedPolicy);
    let bad_b64 = url.replace(&format!("Expires={}", NOW + 60), "Policy=~~~");
    assert!(matches!(
        reason(&bad_b64),
        DenialReason::UndecodablePolicy(_)
    ));
    let bad_escape = url.replace(&format!("Expires={}", NOW + 60), "Policy=%%%");
    assert_eq!(reason(&bad_escape), DenialReason::InvalidEscape("Policy"));
    assert_eq!(reason(&bad_escape).code(), DenialCode::MalformedPolicy);
    assert!(matches!(
        reason(&url.replace(&format!("Expires={}", NOW + 60), "Expires=12x")),
        DenialReason::InvalidPolicy(_)
    ));
}

#[test]
fn strict_readings() {
    let url = canned("https://x.net/a.jpg", NOW + 60);
    assert_eq!(
        reason(&format!("{url}&Key-Pair-Id=KRSA")),
        DenialReason::Duplicate("Key-Pair-Id".into())
    );
    assert_eq!(
        reason(&format!("{url}&signature=x")),
        DenialReason::CaseVariant("signature".into())
    );
    assert_eq!(
        reason(&format!("{url}&Hash-Algorithm=sha256")),
        DenialReason::UnknownHashAlgorithm("sha256".into())
    );
    // SHA1 spelled out is accepted
    assert!(
        verifier()
            .verify(
                &ViewerRequest::new(&format!("{url}&Hash-Algorithm=SHA1")),
                now()
            )
            .is_allowed()
    );
    // canned URL with characters JSON would need to escape
    let r = reason("https://x.net/a\"b?Expires=1767200060&Signature=AAAA&Key-Pair-Id=KRSA");
    assert_eq!(r, DenialReason::UnrebuildableUrl);
}

#[test]
fn signature_mismatch_cases() {
    let url = canned("https://x.net/a.jpg?b=1", NOW + 60);
    for tampered in [
        url.replace("b=1", "b=2"),
        url.replace("https://", "http://"),
        url.replace("x.net", "y.net"),
        url.replace(
            &format!("Expires={}", NOW + 60),
            &format!("Expires={}", NOW + 61),
        ),
        url.replace("?b=1&", "?b=1&c=3&"),
        format!("{url}&Hash-Algorithm=SHA256"),
        url.replace("KRSA", "KEC"),
    ] {
        assert_eq!(
            reason(&tampered),
            DenialReason::SignatureMismatch,
            "{tampered}"
        );
    }
}

#[test]
fn time_boundaries() {
    let url = canned("https://x.net/a.jpg", NOW + 60);
    assert!(
        verifier()
            .verify(&ViewerRequest::new(&url), at(NOW + 59))
            .is_allowed()
    );
    assert!(matches!(
        reason_with(&ViewerRequest::new(&url), at(NOW + 60)),
        DenialReason::Expired { .. }
    ));
    assert!(matches!(
        reason_with(&ViewerRequest::new(&url), at(NOW + 61)),
        DenialReason::Expired { .. }
    ));
    let s = signer("KEC", "ec-p256.pkcs8.pem", HashAlgorithm::Sha256);
    let p = Policy::builder(Resource::pattern("https://x.net/*").unwrap())
        .expires_at(at(NOW + 600))
        .not_before(at(NOW + 100))
        .build_at(now())
        .unwrap();
    let url = s
        .sign_url(&SignableUrl::parse("https://x.net/a").unwrap(), &p)
        .unwrap()
        .into_string();
    for (t, ok) in [
        (NOW + 99, false),
        (NOW + 100, false),
        (NOW + 101, true),
        (NOW + 599, true),
        (NOW + 600, false),
    ] {
        assert_eq!(
            verifier()
                .verify(&ViewerRequest::new(&url), at(t))
                .is_allowed(),
            ok,
            "t = now + {}",
            t - NOW
        );
    }
}

#[test]
fn ip_conditions() {
    let s = signer("KEC", "ec-p256.pkcs8.pem", HashAlgorithm::Sha1);
    let p = Policy::builder(Resource::pattern("https://x.net/*").unwrap())
        .expires_at(at(NOW + 600))
        .source_ip("192.0.2.0/24".parse().unwrap())
        .build_at(now())
        .unwrap();
    let url = s
        .sign_url(&SignableUrl::parse("https://x.net/a").unwrap(), &p)
        .unwrap()
        .into_string();
    let with = |ip: &str| ViewerRequest::new(&url).client_ip(ip.parse::<IpAddr>().unwrap());
    assert!(verifier().verify(&with("192.0.2.255"), now()).is_allowed());
    assert!(
        verifier()
            .verify(&with("::ffff:192.0.2.1"), now())
            .is_allowed()
    );
    assert!(matches!(
        reason_with(&with("192.0.3.0"), now()),
        DenialReason::IpNotAllowed { .. }
    ));
    assert!(matches!(
        reason_with(&with("192.0.1.255"), now()),
        DenialReason::IpNotAllowed { .. }
    ));
    assert!(matches!(
        reason_with(&with("2001:db8::1"), now()),
        DenialReason::Ipv6Client(_)
    ));
    assert_eq!(
        reason_with(&ViewerRequest::new(&url), now()),
        DenialReason::NoClientIp
    );
}

#[test]
fn resource_matching() {
    let s = signer("KRSA", "rsa2048.pkcs8.pem", HashAlgorithm::Sha1);
    let p = Policy::builder(Resource::pattern("https://x.net/v/*.ts").unwrap())
        .expires_at(at(NOW + 600))
        .build_at(now())
        .unwrap();
    let stamp = s.sign_policy(&p).unwrap();
    let params = stamp.query_parameters();
    assert!(
        verifier()
            .verify(
                &ViewerRequest::new(&format!("https://x.net/v/a/1.ts?{params}")),
                now()
            )
            .is_allowed()
    );
    for other in [
        "https://x.net/v/1.mp4",
        "http://x.net/v/1.ts",
        "https://y.net/v/1.ts",
        "https://x.net/v/1.ts?extra=1",
    ] {
        let sep = if other.contains('?') { '&' } else { '?' };
        let r = reason(&format!("{other}{sep}{params}"));
        assert!(
            matches!(r, DenialReason::ResourceMismatch { .. }),
            "{other}: {r:?}"
        );
    }
}

#[test]
fn query_credentials_win_over_cookies() {
    let url = canned("https://x.net/a.jpg", NOW + 60);
    let bad_query = url.replace("Key-Pair-Id=KRSA", "Key-Pair-Id=KNOPE");
    let good_cookie = {
        let s = signer("KRSA", "rsa2048.pkcs8.pem", HashAlgorithm::Sha1);
        let p = Policy::builder(Resource::pattern("https://x.net/*").unwrap())
            .expires_at(at(NOW + 60))
            .build_at(now())
            .unwrap();
        s.sign_cookies(&p).unwrap().cookie_header()
    };
    let r = ViewerRequest::new(&bad_query).cookie_header(&good_cookie);
    assert_eq!(
        reason_with(&r, now()),
        DenialReason::UnknownKey("KNOPE".into())
    );
    let r = ViewerRequest::new("https://x.net/a.jpg").cookie_header(&good_cookie);
    assert!(verifier().verify(&r, now()).is_allowed());
    let both = format!("{good_cookie}; CloudFront-Expires=1767200060");
    let r = ViewerRequest::new("https://x.net/a.jpg").cookie_header(&both);
    assert_eq!(reason_with(&r, now()), DenialReason::BothExpiresAndPolicy);
}

#[test]
fn signature_cache_only_skips_the_public_key_operation() {
    let v = verifier().with_signature_cache(100);
    let url = canned("https://x.net/a.jpg", NOW + 60);
    assert!(v.verify(&ViewerRequest::new(&url), now()).is_allowed());
    assert!(
        v.verify(&ViewerRequest::new(&url), now()).is_allowed(),
        "cached"
    );
    // the cache never turns a failure into success: expiry is still checked
    assert!(
        !v.verify(&ViewerRequest::new(&url), at(NOW + 60))
            .is_allowed()
    );
    // and a different (tampered) signature is still verified
    let tampered = url.replace("Signature=", "Signature=AAAA");
    assert!(!v.verify(&ViewerRequest::new(&tampered), now()).is_allowed());
}

#[test]
fn a_cached_policy_decides_as_a_fresh_one() {
    let cached = verifier().with_signature_cache(100);
    let fresh = verifier();
    let s = signer("KRSA", "rsa2048.pkcs8.pem", HashAlgorithm::Sha1);
    let policy = Policy::builder(Resource::pattern("https://x.net/img/*").unwrap())
        .expires_at(at(NOW + 60))
        .build_at(now())
        .unwrap();
    let cookies = s.sign_cookies(&policy).unwrap().cookie_header();
    let undecodable = cookies.replace("CloudFront-Policy=", "CloudFront-Policy=!");
    let decide = |v: &Verifier, url: &str, cookies: &str, t: Timestamp| match v
        .verify(&ViewerRequest::new(url).cookie_header(cookies), t)
    {
        Decision::Allowed(a) => Ok(a.policy_json().to_owned()),
        Decision::Denied(d) => Err(d.reason().clone()),
    };
    // Twice each: the second answer of the cached verifier comes from its caches.
    for _ in 0..2 {
        for (url, cookies, t) in [
            ("https://x.net/img/a.jpg", cookies.as_str(), now()),
            ("https://x.net/img/b.jpg", cookies.as_str(), now()),
            ("https://x.net/other/a.jpg", cookies.as_str(), now()),
            ("https://x.net/img/a.jpg", cookies.as_str(), at(NOW + 60)),
            ("https://x.net/img/a.jpg", undecodable.as_str(), now()),
        ] {
            assert_eq!(
                decide(&cached, url, cookies, t),
                decide(&fresh, url, cookies, t),
                "{url} {cookies}"
            );
        }
    }
    assert!(decide(&cached, "https://x.net/img/a.jpg", &cookies, now()).is_ok());
    assert!(decide(&cached, "https://x.net/other/a.jpg", &cookies, now()).is_err());
    assert!(matches!(
        decide(&cached, "https://x.net/img/a.jpg", &undecodable, now()),
        Err(DenialReason::UndecodablePolicy(_))
    ));
}

#[test]
fn verifier_is_send_sync_and_cheap_to_share() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Verifier>();
}

#[test]
fn signature_length_does_not_panic() {
    let _ = Duration::from_secs(1);
    for sig in ["", "AA__", "AAAA"] {
        let url = format!(
            "https://x.net/a?Expires={}&Signature={sig}&Key-Pair-Id=KEC",
            NOW + 60
        );
        assert!(
            !verifier()
                .verify(&ViewerRequest::new(&url), now())
                .is_allowed()
        );
    }
}

/// A custom-policy URL as `aws-cloudfront-sign` 3.x writes it: `Expires` and
/// `Policy` both present, every `~` of the base64 values as `%7E`
/// (WHATWG `URLSearchParams`).
fn url_search_params_style(url: &str, expires: i64) -> String {
    let u = SignableUrl::parse(url).unwrap();
    let p = Policy::builder(Resource::Url(u.clone()))
        .expires_at(at(expires))
        .source_ip("192.0.2.0/24".parse().unwrap())
        .build_at(now())
        .unwrap();
    let stamp = signer("KRSA", "rsa2048.pkcs8.pem", HashAlgorithm::Sha1)
        .sign_policy(&p)
        .unwrap();
    let sig = stamp.signature().replace('~', "%7E");
    let policy = stamp.encoded_policy().unwrap().replace('~', "%7E");
    format!("{url}?Expires={expires}&Policy={policy}&Signature={sig}&Key-Pair-Id=KRSA")
}

#[test]
fn url_search_params_urls_are_allowed() {
    // A signature without '~' is rare; find an expiry that gives one with it.
    let (url, expires) = (NOW + 60..NOW + 160)
        .map(|e| (url_search_params_style("https://x.net/a.jpg", e), e))
        .find(|(u, _)| u.split("Signature=").nth(1).unwrap().contains("%7E"))
        .unwrap();
    let client = "192.0.2.7".parse::<IpAddr>().unwrap();
    let a = allowed(&ViewerRequest::new(&url).client_ip(client), now());
    assert_eq!(a.form(), PolicyForm::Custom);
    assert_eq!(a.forward_url(), "https://x.net/a.jpg");
    assert_eq!(a.date_less_than().get(), expires);
    // Expires is ignored when the Policy decides: another value changes nothing
    for other in ["1", "0999", "not-a-time", ""] {
        let changed = url.replace(&format!("Expires={expires}"), &format!("Expires={other}"));
        assert_ne!(changed, url);
        let a = allowed(&ViewerRequest::new(&changed).client_ip(client), now());
        assert_eq!(a.date_less_than().get(), expires, "{other}");
    }
    // ... nor does removing it
    let without = url.replace(&format!("Expires={expires}&"), "");
    assert!(
        verifier()
            .verify(&ViewerRequest::new(&without).client_ip(client), now())
            .is_allowed()
    );
    // the policy still decides: its IP condition and expiry hold
    let outside = ViewerRequest::new(&url).client_ip("198.51.100.1".parse().unwrap());
    assert!(matches!(
        reason_with(&outside, now()),
        DenialReason::IpNotAllowed { .. }
    ));
    assert!(matches!(
        reason_with(&ViewerRequest::new(&url).client_ip(client), at(expires)),
        DenialReason::Expired { .. }
    ));
    // a repeated Expires is still ambiguous
    assert_eq!(
        reason_with(
            &ViewerRequest::new(&format!("{url}&Expires={expires}")).client_ip(client),
            now()
        ),
        DenialReason::Duplicate("Expires".into())
    );
}

#[test]
fn percent_encoded_values_are_read_decoded_once() {
    let url = canned("https://x.net/a.jpg?b=%7E1", NOW + 60);
    let sig = url
        .split("Signature=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let encode_all = |s: &str| -> String { s.bytes().map(|b| format!("%{b:02X}")).collect() };
    // every signing value fully percent-encoded (hex in either case): allowed,
    // and the canned policy is still rebuilt from the URL exactly as sent
    let all = url
        .replace(sig, &encode_all(sig))
        .replace(
            "Key-Pair-Id=KRSA",
            &format!("Key-Pair-Id={}", encode_all("KRSA").to_lowercase()),
        )
        .replace(
            &format!("Expires={}", NOW + 60),
            &format!("Expires={}", encode_all(&(NOW + 60).to_string())),
        );
    let a = allowed(&ViewerRequest::new(&all), now());
    assert_eq!(a.forward_url(), "https://x.net/a.jpg?b=%7E1");
    assert_eq!(a.resource(), Some("https://x.net/a.jpg?b=%7E1"));
    let sha256 = format!(
        "{}&Hash-Algorithm=SHA%32%35%36",
        canned_sha256("https://x.net/a.jpg")
    );
    assert!(
        verifier()
            .verify(&ViewerRequest::new(&sha256), now())
            .is_allowed()
    );
    // the user's own query is not decoded: %7E in it is part of the signed URL
    assert_eq!(
        reason(&url.replace("b=%7E1", "b=~1")),
        DenialReason::SignatureMismatch
    );
    // decoded once: %257E is %7E, which is not base64
    let (p, _) = sig
        .char_indices()
        .find(|&(_, c)| c.is_ascii_alphanumeric())
        .unwrap();
    let twice = url.replace(
        sig,
        &format!("{}%25{:02X}{}", &sig[..p], sig.as_bytes()[p], &sig[p + 1..]),
    );
    assert!(matches!(
        reason(&twice),
        DenialReason::UndecodableSignature(_)
    ));
    // '+' is not a space, and %2B is '+': both outside CloudFront's alphabet
    for plus in ["+", "%2B"] {
        let damaged = url.replace(sig, &format!("{plus}{}", &sig[1..]));
        assert!(matches!(
            reason(&damaged),
            DenialReason::UndecodableSignature(_)
        ));
    }
    // invalid escapes are denied, with the code of the parameter they are in
    for (param, value, code) in [
        (
            "Signature",
            format!("{sig}%"),
            DenialCode::MalformedSignature,
        ),
        (
            "Signature",
            format!("%zz{}", &sig[3..]),
            DenialCode::MalformedSignature,
        ),
        (
            "Expires",
            format!("{}%FF", NOW + 60),
            DenialCode::MalformedPolicy,
        ),
        ("Key-Pair-Id", "KRSA%4".to_owned(), DenialCode::AccessDenied),
        (
            "Hash-Algorithm",
            "SHA%".to_owned(),
            DenialCode::AccessDenied,
        ),
    ] {
        let bad = match param {
            "Signature" => url.replace(sig, &value),
            "Expires" => url.replace(
                &format!("Expires={}", NOW + 60),
                &format!("Expires={value}"),
            ),
            "Key-Pair-Id" => url.replace("Key-Pair-Id=KRSA", &format!("Key-Pair-Id={value}")),
            _ => format!("{url}&Hash-Algorithm={value}"),
        };
        let r = reason(&bad);
        assert_eq!(r, DenialReason::InvalidEscape(param), "{bad}");
        assert_eq!(r.code(), code, "{param}");
    }
    // a percent-encoded CloudFront parameter name is ambiguous
    assert_eq!(
        reason(&format!("{url}&%48ash-Algorithm=SHA1")),
        DenialReason::EncodedName("%48ash-Algorithm".into())
    );
    assert_eq!(
        reason("https://x.net/a.jpg?%4Bey-Pair-Id=KRSA"),
        DenialReason::EncodedName("%4Bey-Pair-Id".into())
    );
}

fn canned_sha256(url: &str) -> String {
    let u = SignableUrl::parse(url).unwrap();
    let p = Policy::builder(Resource::Url(u.clone()))
        .expires_at(at(NOW + 60))
        .build_at(now())
        .unwrap();
    signer("KEC", "ec-p256.pkcs8.pem", HashAlgorithm::Sha256)
        .sign_url(&u, &p)
        .unwrap()
        .into_string()
        .replace("&Hash-Algorithm=SHA256", "")
}

#[test]
fn cookie_values_are_read_as_sent() {
    let s = signer("KRSA", "rsa2048.pkcs8.pem", HashAlgorithm::Sha1);
    let (header, p) = (NOW + 60..NOW + 160)
        .map(|e| {
            let p = Policy::builder(Resource::pattern("https://x.net/*").unwrap())
                .expires_at(at(e))
                .build_at(now())
                .unwrap();
            (s.sign_cookies(&p).unwrap().cookie_header(), p)
        })
        .find(|(h, _)| h.contains('~'))
        .unwrap();
    let r = ViewerRequest::new("https://x.net/a.jpg").cookie_header(&header);
    assert!(verifier().verify(&r, now()).is_allowed());
    // PHP's setcookie() percent-encodes values, and that breaks them at CloudFront
    let encoded = header.replace('~', "%7E");
    let r = ViewerRequest::new("https://x.net/a.jpg").cookie_header(&encoded);
    let reason = reason_with(&r, now());
    assert!(
        matches!(
            reason,
            DenialReason::UndecodableSignature(_) | DenialReason::UndecodablePolicy(_)
        ),
        "{reason:?}"
    );
    // both CloudFront-Expires and CloudFront-Policy cookies: still denied
    let both = format!("{header}; CloudFront-Expires={}", p.date_less_than());
    let r = ViewerRequest::new("https://x.net/a.jpg").cookie_header(&both);
    assert_eq!(reason_with(&r, now()), DenialReason::BothExpiresAndPolicy);
}

/// A denial about a long request (a 7 KB path, a 5 KB Key-Pair-Id, under the
/// 8 KiB request-URL bound) echoes a readable window of it, in the reason and in
/// every `explain` finding.
#[test]
fn denials_about_huge_requests_echo_a_window() {
    let long = "x".repeat(5_000);
    let p = Policy::builder(Resource::pattern("https://x.net/a/*").unwrap())
        .expires_at(at(NOW + 3600))
        .build_at(now())
        .unwrap();
    let stamp = signer("KRSA", "rsa2048.pkcs8.pem", HashAlgorithm::Sha1)
        .sign_policy(&p)
        .unwrap();
    let outside = format!("https://x.net/b/{long}{}", "y".repeat(2_000));
    let signed = format!("{outside}?{}", stamp.query_parameters());
    let unknown = format!(
        "{}&Key-Pair-Id=K{long}",
        canned("https://x.net/a/1", NOW + 60)
            .split("&Key-Pair-Id=")
            .next()
            .unwrap()
    );
    for url in [&signed, &unknown] {
        let denial = reason(url);
        assert!(
            matches!(
                denial,
                DenialReason::ResourceMismatch { .. } | DenialReason::UnknownKey(_)
            ),
            "{denial:?}"
        );
        let message = denial.to_string();
        assert!(message.len() < 1_000, "a {}-byte reason", message.len());
        assert!(message.contains("bytes)"), "{message}");
        let x = crate::explain::explain(Some(&verifier()), &ViewerRequest::new(url), now());
        for finding in &x.findings {
            assert!(
                finding.summary.len() < 1_000,
                "{}: {} bytes",
                finding.code,
                finding.summary.len()
            );
            assert!(
                finding.fix.len() < 1_000,
                "{}: {} bytes",
                finding.code,
                finding.fix.len()
            );
        }
    }
}
