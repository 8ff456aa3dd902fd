//! Verification benchmarks: a full `Verifier::verify` (read the request, decode,
//! rebuild or parse the policy, check the signature, time, IP and resource) of
//! canned URLs, custom (wildcard) URLs and custom cookies, for every key/hash
//! combination, and the signature-cache hit path on a repeated custom policy.
//!
//! Everything is signed before timing and verified at a fixed "now", so results do
//! not depend on the clock. Run with `cargo bench -p cfsign --bench verify`;
//! compare medians, the machines are shared and noisy.

use std::hint::black_box;
use std::time::Duration;

use cfsign::verify::{Decision, Verifier, ViewerRequest};
use cfsign::{
    HashAlgorithm, KeyPairId, Policy, PrivateKey, Resource, SignableUrl, Signer, SourceIp,
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use jiff::Timestamp;

const KEY_PAIR_ID: &str = "K2JCJMDEHXQW5F";
const URL: &str = "https://d111111abcdef8.cloudfront.net/media/file-42.mp4?v=42";
const PATTERN: &str = "https://d111111abcdef8.cloudfront.net/media/*";
const CLIENT_IP: &str = "192.0.2.10";
/// 2026-01-01T12:00:00Z (signing time), one day later, one minute later.
const NOW: i64 = 1_767_268_800;
const EXPIRES: i64 = NOW + 86_400;
const STARTS: i64 = NOW + 60;
/// The time of every verification: after `STARTS`, before `EXPIRES`.
const VERIFY_AT: i64 = NOW + 3_600;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).expect("valid timestamp")
}

fn key_pem(name: &str) -> String {
    let path = format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (label, private key file, hash)
const COMBOS: [(&str, &str, HashAlgorithm); 4] = [
    ("rsa2048-sha1", "rsa2048.pkcs8.pem", HashAlgorithm::Sha1),
    ("rsa2048-sha256", "rsa2048.pkcs8.pem", HashAlgorithm::Sha256),
    ("ecdsa-p256-sha1", "ec-p256.pkcs8.pem", HashAlgorithm::Sha1),
    (
        "ecdsa-p256-sha256",
        "ec-p256.pkcs8.pem",
        HashAlgorithm::Sha256,
    ),
];

/// The signer and a verifier trusting its public key.
fn keys(pem_name: &str, hash: HashAlgorithm) -> (Signer, Verifier) {
    let key = PrivateKey::from_pem(&key_pem(pem_name)).expect("test key parses");
    let id = KeyPairId::new(KEY_PAIR_ID).expect("key pair id");
    let verifier = Verifier::new().with_key(id.clone(), key.public_key().expect("public key"));
    let signer = Signer::new(id, key)
        .with_hash_algorithm(hash)
        .expect("hash supported");
    (signer, verifier)
}

fn url() -> SignableUrl {
    SignableUrl::parse(URL).expect("valid URL")
}

fn canned_policy(url: &SignableUrl) -> Policy {
    Policy::builder(Resource::Url(url.clone()))
        .expires_at(at(EXPIRES))
        .build_at(at(NOW))
        .expect("canned policy")
}

fn custom_policy() -> Policy {
    Policy::builder(Resource::pattern(PATTERN).expect("valid pattern"))
        .expires_at(at(EXPIRES))
        .not_before(at(STARTS))
        .source_ip(CLIENT_IP.parse::<SourceIp>().expect("valid IP"))
        .build_at(at(NOW))
        .expect("custom policy")
}

/// Checks once, before timing, that the request is allowed.
fn assert_allowed(verifier: &Verifier, request: &ViewerRequest<'_>, what: &str) {
    match verifier.verify(request, at(VERIFY_AT)) {
        Decision::Allowed(_) => {}
        Decision::Denied(d) => panic!("{what}: expected allowed, got {d}"),
    }
}

/// Modest settings: the whole file takes a few minutes on 2 cores.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// Canned policy URL: the policy is rebuilt from the URL, then verified.
fn verify_canned_url(c: &mut Criterion) {
    let url = url();
    let mut group = c.benchmark_group("verify/canned_url");
    for (label, key, hash) in COMBOS {
        let (signer, verifier) = keys(key, hash);
        let signed = signer
            .sign_url(&url, &canned_policy(&url))
            .expect("signs")
            .into_string();
        assert_allowed(&verifier, &ViewerRequest::new(&signed), label);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| verifier.verify(&ViewerRequest::new(black_box(&signed)), at(VERIFY_AT)));
        });
    }
    group.finish();
}

/// Custom policy URL (wildcard + IP + start): decode and parse the policy, verify,
/// match the resource.
fn verify_custom_url(c: &mut Criterion) {
    let url = url();
    let ip = CLIENT_IP.parse().expect("valid IP");
    let mut group = c.benchmark_group("verify/custom_url");
    for (label, key, hash) in COMBOS {
        let (signer, verifier) = keys(key, hash);
        let signed = signer
            .sign_url(&url, &custom_policy())
            .expect("signs")
            .into_string();
        assert_allowed(&verifier, &ViewerRequest::new(&signed).client_ip(ip), label);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| {
                let request = ViewerRequest::new(black_box(&signed)).client_ip(ip);
                verifier.verify(&request, at(VERIFY_AT))
            });
        });
    }
    group.finish();
}

/// Custom policy cookies: the credentials come from the `Cookie` header.
fn verify_custom_cookies(c: &mut Criterion) {
    let ip = CLIENT_IP.parse().expect("valid IP");
    let mut group = c.benchmark_group("verify/custom_cookies");
    for (label, key, hash) in COMBOS {
        let (signer, verifier) = keys(key, hash);
        let header = format!(
            "session=abc123; {}; theme=dark",
            signer
                .sign_cookies(&custom_policy())
                .expect("signs")
                .cookie_header()
        );
        let request = ViewerRequest::new(URL).cookie_header(&header).client_ip(ip);
        assert_allowed(&verifier, &request, label);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| verifier.verify(black_box(&request), at(VERIFY_AT)));
        });
    }
    group.finish();
}

/// The same custom policy again and again with a signature cache: after the first
/// request, the public-key operation is skipped (a cache hit).
fn verify_cached_custom_url(c: &mut Criterion) {
    let url = url();
    let ip = CLIENT_IP.parse().expect("valid IP");
    let mut group = c.benchmark_group("verify/custom_url_cache_hit");
    for (label, key, hash) in COMBOS {
        let (signer, verifier) = keys(key, hash);
        let verifier = verifier.with_signature_cache(10_000);
        let signed = signer
            .sign_url(&url, &custom_policy())
            .expect("signs")
            .into_string();
        // Also fills the cache.
        assert_allowed(&verifier, &ViewerRequest::new(&signed).client_ip(ip), label);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| {
                let request = ViewerRequest::new(black_box(&signed)).client_ip(ip);
                verifier.verify(&request, at(VERIFY_AT))
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = verify_canned_url, verify_custom_url, verify_custom_cookies, verify_cached_custom_url
}
criterion_main!(benches);
