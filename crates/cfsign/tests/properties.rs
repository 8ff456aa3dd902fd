//! Property tests of signed URLs and cookies, for all four key/hash combinations:
//!
//! * the signed URL is the input URL, unchanged, then `?` (or `&` when it has a
//!   query) and exactly `Expires|Policy`, `Signature`, `Key-Pair-Id` and, iff
//!   SHA-256, `Hash-Algorithm=SHA256`;
//! * the signature verifies (`PublicKey::verify`) over the policy bytes: rebuilt
//!   with `canned_policy_json` for canned, the decoded `Policy` for custom;
//! * flipping one byte of the signature or of the policy breaks verification;
//! * `sign_cookies` carries the same values (RSA: byte-identical signature;
//!   ECDSA: both verify).

// Helpers outside #[test] fns are not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

use std::sync::LazyLock;
use std::time::Duration;

use cfsign::{
    HashAlgorithm, KeyPairId, Policy, PolicyForm, PrivateKey, PublicKey, Resource, SignableUrl,
    Signer, SourceIp, cloudfront_base64, policy::canned_policy_json, time::EpochSeconds,
};
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::sample::Index;

const NOW: i64 = 1_767_200_000;
const KEY_PAIR_ID: &str = "K2JCJMDEHXQW5F";

fn key_path(name: &str) -> String {
    format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

struct Keys {
    rsa: PrivateKey,
    rsa_public: PublicKey,
    ec: PrivateKey,
    ec_public: PublicKey,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    rsa: PrivateKey::from_file(key_path("rsa2048.pkcs8.pem")).unwrap(),
    rsa_public: PublicKey::from_file(key_path("rsa2048.pub.pem")).unwrap(),
    ec: PrivateKey::from_file(key_path("ec-p256.sec1.pem")).unwrap(),
    ec_public: PublicKey::from_file(key_path("ec-p256.pub.pem")).unwrap(),
});

#[derive(Clone, Copy, Debug)]
struct Combo {
    rsa: bool,
    hash: HashAlgorithm,
}

impl Combo {
    fn signer(self) -> Signer {
        let key = if self.rsa { &KEYS.rsa } else { &KEYS.ec };
        Signer::new(KeyPairId::new(KEY_PAIR_ID).unwrap(), key.clone())
            .with_hash_algorithm(self.hash)
            .unwrap()
    }
    fn public(self) -> &'static PublicKey {
        if self.rsa {
            &KEYS.rsa_public
        } else {
            &KEYS.ec_public
        }
    }
}

/// One generated input.
#[derive(Debug, Clone)]
struct Input {
    url: String,
    expires_in: u64,
    /// Seconds from NOW (may be negative), always before the expiry.
    start: Option<i64>,
    ip: Option<String>,
    wildcard: bool,
    force_custom: bool,
    /// Positions and masks for the one-byte flips.
    flip_sig: (Index, u8),
    flip_policy: (Index, u8),
}

/// A path segment of unreserved characters and %XX escapes.
fn segment() -> impl Strategy<Value = String> {
    "([A-Za-z0-9._~-]|%[0-9A-Fa-f]{2}){1,8}".prop_filter(
        "no dot segments (refused by the contract)",
        |s| {
            let d = s.replace("%2E", ".").replace("%2e", ".");
            d != "." && d != ".."
        },
    )
}

fn url() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("https"), Just("http")],
        prop_oneof![
            Just("d111111abcdef8.cloudfront.net"),
            Just("cdn.example.com"),
            Just("a-b.example.org:8443"),
        ],
        prop::collection::vec(segment(), 0..4),
        prop::option::of(prop::collection::vec(
            // names of at most 5 letters can never be a reserved parameter
            "[a-z]{1,5}(=([A-Za-z0-9._~'+-]|%[0-9A-F]{2}){0,6})?",
            1..4,
        )),
        any::<bool>(),
    )
        .prop_map(|(scheme, host, segments, query, trailing_slash)| {
            let mut u = format!("{scheme}://{host}/{}", segments.join("/"));
            if trailing_slash && !segments.is_empty() {
                u.push('/');
            }
            if let Some(params) = query {
                u.push('?');
                u.push_str(&params.join("&"));
            }
            u
        })
}

fn ip() -> impl Strategy<Value = String> {
    (any::<[u8; 4]>(), prop::option::of(0u8..=32)).prop_map(|(a, prefix)| {
        let addr = format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        match prefix {
            Some(p) => format!("{addr}/{p}"),
            None => addr,
        }
    })
}

fn flip() -> impl Strategy<Value = (Index, u8)> {
    (any::<Index>(), 1u8..=255)
}

fn input() -> impl Strategy<Value = Input> {
    (
        url(),
        60u64..=10 * 365 * 86_400,
        prop::option::of(any::<Index>()),
        prop::option::of(ip()),
        any::<bool>(),
        prop::bool::weighted(0.1),
        flip(),
        flip(),
    )
        .prop_map(
            |(url, expires_in, start, ip, wildcard, force_custom, flip_sig, flip_policy)| {
                // a start from a day before now up to one second before the expiry
                let start = start.map(|i| i.index(expires_in as usize + 86_400) as i64 - 86_400);
                Input {
                    url,
                    expires_in,
                    start,
                    ip,
                    wildcard,
                    force_custom,
                    flip_sig,
                    flip_policy,
                }
            },
        )
}

fn policy_for(input: &Input) -> (SignableUrl, Policy) {
    let url = SignableUrl::parse(&input.url).unwrap();
    let resource = if input.wildcard {
        let path = url.path();
        let dir = &path[..=path.rfind('/').unwrap()];
        Resource::pattern(&format!("{}://{}{dir}*", url.scheme(), url.host())).unwrap()
    } else {
        Resource::Url(url.clone())
    };
    let mut b = Policy::builder(resource)
        .expires_in(Duration::from_secs(input.expires_in))
        .force_custom(input.force_custom);
    if let Some(s) = input.start {
        b = b.not_before(Timestamp::from_second(NOW + s).unwrap());
    }
    if let Some(ip) = &input.ip {
        b = b.source_ip(ip.parse::<SourceIp>().unwrap());
    }
    let policy = b.build_at(Timestamp::from_second(NOW).unwrap()).unwrap();
    (url, policy)
}

fn flipped(bytes: &[u8], (index, mask): (Index, u8)) -> Vec<u8> {
    let mut v = bytes.to_vec();
    let i = index.index(v.len());
    v[i] ^= mask;
    v
}

/// Signs `input` as a URL and checks everything about it.
fn check_url(combo: Combo, input: &Input) -> Result<(), TestCaseError> {
    let (url, policy) = policy_for(input);
    let signed = combo.signer().sign_url(&url, &policy).unwrap();
    let signed = signed.as_str();

    // The URL, unchanged, then the right separator.
    let separator = if url.query().is_some() { '&' } else { '?' };
    let prefix = format!("{}{separator}", url.as_str());
    prop_assert!(signed.starts_with(&prefix), "{signed}");
    let params: Vec<(&str, &str)> = signed[prefix.len()..]
        .split('&')
        .map(|p| p.split_once('=').unwrap())
        .collect();
    let names: Vec<&str> = params.iter().map(|p| p.0).collect();
    let first = match policy.form() {
        PolicyForm::Canned => "Expires",
        PolicyForm::Custom => "Policy",
    };
    let mut want = vec![first, "Signature", "Key-Pair-Id"];
    if combo.hash == HashAlgorithm::Sha256 {
        want.push("Hash-Algorithm");
    }
    prop_assert_eq!(&names, &want, "{}", signed);
    prop_assert_eq!(params[2].1, KEY_PAIR_ID);
    if combo.hash == HashAlgorithm::Sha256 {
        prop_assert_eq!(params[3].1, "SHA256");
    }
    prop_assert_eq!(
        signed.contains("Hash-Algorithm=SHA256"),
        combo.hash == HashAlgorithm::Sha256
    );

    // The policy bytes, as CloudFront obtains them.
    let canned = input.start.is_none() && input.ip.is_none() && !input.wildcard;
    prop_assert_eq!(
        policy.form() == PolicyForm::Canned,
        canned && !input.force_custom
    );
    let policy_bytes = match policy.form() {
        PolicyForm::Canned => {
            let expires = EpochSeconds::new(params[0].1.parse().unwrap()).unwrap();
            prop_assert_eq!(expires.get(), NOW + input.expires_in as i64);
            canned_policy_json(url.as_str(), expires).into_bytes()
        }
        PolicyForm::Custom => cloudfront_base64::decode(params[0].1).unwrap(),
    };
    prop_assert_eq!(policy_bytes.as_slice(), policy.json().as_bytes());

    let signature = cloudfront_base64::decode(params[1].1).unwrap();
    let public = combo.public();
    prop_assert!(public.verify(combo.hash, &policy_bytes, &signature));
    prop_assert!(!public.verify(
        combo.hash,
        &policy_bytes,
        &flipped(&signature, input.flip_sig)
    ));
    prop_assert!(!public.verify(
        combo.hash,
        &flipped(&policy_bytes, input.flip_policy),
        &signature
    ));
    // and the other hash does not verify it either
    let other = match combo.hash {
        HashAlgorithm::Sha1 => HashAlgorithm::Sha256,
        HashAlgorithm::Sha256 => HashAlgorithm::Sha1,
    };
    prop_assert!(!public.verify(other, &policy_bytes, &signature));
    Ok(())
}

/// Cookies carry the same values as the URL form.
fn check_cookies(combo: Combo, input: &Input) -> Result<(), TestCaseError> {
    let (url, policy) = policy_for(input);
    let signer = combo.signer();
    let signed = signer.sign_policy(&policy).unwrap();
    let url_form = signed.apply_to(&url).unwrap();
    let cookies = signer.sign_cookies(&policy).unwrap();
    let pairs = cookies.pairs();

    let names: Vec<&str> = pairs.iter().map(|p| p.0).collect();
    let mut want = vec![
        match policy.form() {
            PolicyForm::Canned => "CloudFront-Expires",
            PolicyForm::Custom => "CloudFront-Policy",
        },
        "CloudFront-Signature",
        "CloudFront-Key-Pair-Id",
    ];
    if combo.hash == HashAlgorithm::Sha256 {
        want.push("CloudFront-Hash-Algorithm");
    }
    prop_assert_eq!(&names, &want);
    match signed.encoded_policy() {
        Some(p) => prop_assert_eq!(&pairs[0].1, p),
        None => prop_assert_eq!(&pairs[0].1, &policy.date_less_than().to_string()),
    }
    prop_assert_eq!(&pairs[2].1, KEY_PAIR_ID);
    if combo.hash == HashAlgorithm::Sha256 {
        prop_assert_eq!(&pairs[3].1, "SHA256");
    }
    // The URL form carries the same first value.
    let first_param = match policy.form() {
        PolicyForm::Canned => "Expires",
        PolicyForm::Custom => "Policy",
    };
    let expected = format!("{first_param}={}&Signature=", pairs[0].1);
    prop_assert!(url_form.as_str().contains(&expected));

    let cookie_sig = cloudfront_base64::decode(&pairs[1].1).unwrap();
    let url_sig = cloudfront_base64::decode(signed.signature()).unwrap();
    prop_assert!(url_form.as_str().contains(signed.signature()));
    if combo.rsa {
        prop_assert_eq!(&pairs[1].1, signed.signature());
    } else {
        let public = combo.public();
        prop_assert!(public.verify(combo.hash, policy.json().as_bytes(), &cookie_sig));
        prop_assert!(public.verify(combo.hash, policy.json().as_bytes(), &url_sig));
    }
    Ok(())
}

const RSA_SHA1: Combo = Combo {
    rsa: true,
    hash: HashAlgorithm::Sha1,
};
const RSA_SHA256: Combo = Combo {
    rsa: true,
    hash: HashAlgorithm::Sha256,
};
const EC_SHA1: Combo = Combo {
    rsa: false,
    hash: HashAlgorithm::Sha1,
};
const EC_SHA256: Combo = Combo {
    rsa: false,
    hash: HashAlgorithm::Sha256,
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn url_rsa_sha1(input in input()) { check_url(RSA_SHA1, &input)?; }
    #[test]
    fn url_rsa_sha256(input in input()) { check_url(RSA_SHA256, &input)?; }
    #[test]
    fn url_ecdsa_sha1(input in input()) { check_url(EC_SHA1, &input)?; }
    #[test]
    fn url_ecdsa_sha256(input in input()) { check_url(EC_SHA256, &input)?; }

    #[test]
    fn cookies_rsa_sha1(input in input()) { check_cookies(RSA_SHA1, &input)?; }
    #[test]
    fn cookies_rsa_sha256(input in input()) { check_cookies(RSA_SHA256, &input)?; }
    #[test]
    fn cookies_ecdsa_sha1(input in input()) { check_cookies(EC_SHA1, &input)?; }
    #[test]
    fn cookies_ecdsa_sha256(input in input()) { check_cookies(EC_SHA256, &input)?; }
}
