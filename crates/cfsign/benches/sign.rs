//! Signing benchmarks: canned and custom URLs for every key/hash combination,
//! policy reuse (`SignedPolicy::apply_to`), policy building and key parsing.
//!
//! Everything uses a fixed "now" and expiry (`build_at`), so results do not
//! depend on the clock. Run with `cargo bench -p cfsign`; compare medians, the
//! machines are shared and noisy.

use std::hint::black_box;
use std::time::Duration;

use cfsign::{
    HashAlgorithm, KeyPairId, Policy, PrivateKey, Resource, SignableUrl, Signer, SourceIp,
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use jiff::Timestamp;

const KEY_PAIR_ID: &str = "K2JCJMDEHXQW5F";
const URL: &str = "https://d111111abcdef8.cloudfront.net/media/file-42.mp4?v=42";
const PATTERN: &str = "https://d111111abcdef8.cloudfront.net/media/*";
/// 2026-01-01T12:00:00Z, and one day later.
const NOW: i64 = 1_767_268_800;
const EXPIRES: i64 = NOW + 86_400;
const STARTS: i64 = NOW + 60;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).expect("valid timestamp")
}

fn key_pem(name: &str) -> String {
    let path = format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn signer(pem_name: &str, hash: HashAlgorithm) -> Signer {
    let key = PrivateKey::from_pem(&key_pem(pem_name)).expect("test key parses");
    Signer::new(KeyPairId::new(KEY_PAIR_ID).expect("key pair id"), key)
        .with_hash_algorithm(hash)
        .expect("hash supported")
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
        .source_ip("192.0.2.0/24".parse::<SourceIp>().expect("valid IP"))
        .build_at(at(NOW))
        .expect("custom policy")
}

/// (label, key file, hash)
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

/// Modest settings: `cargo bench -p cfsign` takes a few minutes on 2 cores.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// Canned policy: build the policy and sign the URL (what `cfsign url` does per URL).
fn sign_canned_url(c: &mut Criterion) {
    let url = url();
    let mut group = c.benchmark_group("sign_url/canned");
    for (label, key, hash) in COMBOS {
        let signer = signer(key, hash);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| {
                let policy = canned_policy(black_box(&url));
                signer
                    .sign_url(black_box(&url), &policy)
                    .expect("signs")
                    .into_string()
            });
        });
    }
    group.finish();
}

/// Custom policy (wildcard + IP + start): build the policy and sign the URL.
fn sign_custom_url(c: &mut Criterion) {
    let url = url();
    let mut group = c.benchmark_group("sign_url/custom");
    for (label, key, hash) in COMBOS {
        let signer = signer(key, hash);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| {
                let policy = custom_policy();
                signer
                    .sign_url(black_box(&url), &policy)
                    .expect("signs")
                    .into_string()
            });
        });
    }
    group.finish();
}

/// Policy reuse: stamp a pre-signed wildcard policy onto a URL (no key operation).
fn apply_signed_policy(c: &mut Criterion) {
    let url = url();
    let stamp = signer("rsa2048.pkcs8.pem", HashAlgorithm::Sha1)
        .sign_policy(&custom_policy())
        .expect("signs");
    let mut group = c.benchmark_group("signed_policy");
    group.bench_function("apply_to", |b| {
        b.iter(|| {
            stamp
                .apply_to(black_box(&url))
                .expect("covered")
                .into_string()
        });
    });
    group.bench_function("parse_url+apply_to", |b| {
        b.iter(|| {
            let url = SignableUrl::parse(black_box(URL)).expect("valid URL");
            stamp.apply_to(&url).expect("covered").into_string()
        });
    });
    group.finish();
}

/// Policy building alone (JSON rendering, no signing).
fn build_policy(c: &mut Criterion) {
    let url = url();
    let mut group = c.benchmark_group("policy_build");
    group.bench_function("canned", |b| b.iter(|| canned_policy(black_box(&url))));
    group.bench_function("custom", |b| b.iter(custom_policy));
    group.finish();
}

/// PEM → PrivateKey (what every `cfsign url` process pays once).
fn parse_key(c: &mut Criterion) {
    let mut group = c.benchmark_group("key_parse");
    for (label, name) in [
        ("rsa2048-pkcs8", "rsa2048.pkcs8.pem"),
        ("rsa2048-pkcs1", "rsa2048.pkcs1.pem"),
        ("ec-p256-pkcs8", "ec-p256.pkcs8.pem"),
        ("ec-p256-sec1", "ec-p256.sec1.pem"),
    ] {
        let pem = key_pem(name);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| PrivateKey::from_pem(black_box(&pem)).expect("parses"));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = sign_canned_url, sign_custom_url, apply_signed_policy, build_policy, parse_key
}
criterion_main!(benches);
