//! Single-thread verification throughput, for `scripts/bench-peers` (compared with
//! `openssl speed` verify/s on the same machine).
//!
//! Pre-signs `--urls` distinct URLs (so no signature cache could help; none is
//! configured anyway), checks that every one is allowed, then runs a full
//! `Verifier::verify` (parse the request, decode, rebuild or parse the policy,
//! check the signature, time, IP and resource) over them in a loop on ONE thread
//! for `--seconds`, and prints `verifies_per_second=<n>`.
//!
//! ```text
//! cargo build --release -p cfsign --example verify_throughput
//! target/release/examples/verify_throughput --key rsa --form canned --hash sha1 --seconds 3
//! ```
//!
//! `--form custom` signs each URL with its own custom policy (wildcard resource,
//! start time and IP condition), so every request decodes and parses a policy.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cfsign::verify::{Verifier, ViewerRequest};
use cfsign::{HashAlgorithm, KeyPairId, Policy, PrivateKey, Resource, SignableUrl, Signer};
use jiff::Timestamp;

const USAGE: &str = "usage: verify_throughput [--key rsa|ecdsa] [--form canned|custom] \
                     [--hash sha1|sha256] [--seconds S] [--urls N]";
const KEY_PAIR_ID: &str = "K2JCJMDEHXQW5F";
const HOST: &str = "https://d111111abcdef8.cloudfront.net";
const CLIENT_IP: &str = "192.0.2.10";
/// 2026-01-01T12:00:00Z (signing time), one day later, one minute later.
const NOW: i64 = 1_767_268_800;
const EXPIRES: i64 = NOW + 86_400;
const STARTS: i64 = NOW + 60;
/// The time of every verification: after `STARTS`, before `EXPIRES`.
const VERIFY_AT: i64 = NOW + 3_600;

struct Options {
    key: &'static str,
    custom: bool,
    hash: HashAlgorithm,
    seconds: f64,
    urls: usize,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        key: "rsa",
        custom: false,
        hash: HashAlgorithm::Sha1,
        seconds: 3.0,
        urls: 1000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = || format!("bad value {value:?} for {flag}\n{USAGE}");
        match flag.as_str() {
            "--key" => {
                o.key = match value.as_str() {
                    "rsa" => "rsa",
                    "ecdsa" => "ecdsa",
                    _ => return Err(bad()),
                }
            }
            "--form" => {
                o.custom = match value.as_str() {
                    "canned" => false,
                    "custom" => true,
                    _ => return Err(bad()),
                }
            }
            "--hash" => {
                o.hash = match value.as_str() {
                    "sha1" => HashAlgorithm::Sha1,
                    "sha256" => HashAlgorithm::Sha256,
                    _ => return Err(bad()),
                }
            }
            "--seconds" => {
                o.seconds = value
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or_else(bad)?;
            }
            "--urls" => o.urls = value.parse().ok().filter(|&n| n > 0).ok_or_else(bad)?,
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    Ok(o)
}

fn at(seconds: i64) -> Result<Timestamp, Box<dyn std::error::Error>> {
    Ok(Timestamp::from_second(seconds)?)
}

/// Signs `o.urls` distinct URLs and returns them with a verifier for the key.
fn presign(o: &Options) -> Result<(Vec<String>, Verifier), Box<dyn std::error::Error>> {
    let pem = match o.key {
        "rsa" => include_str!("../tests/data/keys/rsa2048.pkcs8.pem"),
        _ => include_str!("../tests/data/keys/ec-p256.pkcs8.pem"),
    };
    let key = PrivateKey::from_pem(pem)?;
    let id = KeyPairId::new(KEY_PAIR_ID)?;
    let verifier = Verifier::new().with_key(id.clone(), key.public_key()?);
    let signer = Signer::new(id, key).with_hash_algorithm(o.hash)?;
    let mut signed = Vec::with_capacity(o.urls);
    for i in 0..o.urls {
        let url = SignableUrl::parse(&format!("{HOST}/media/file-{i}.mp4?v={i}"))?;
        let policy = if o.custom {
            Policy::builder(Resource::pattern(&format!("{HOST}/media/file-{i}.mp4*"))?)
                .not_before(at(STARTS)?)
                .source_ip(CLIENT_IP.parse()?)
        } else {
            Policy::builder(Resource::Url(url.clone()))
        }
        .expires_at(at(EXPIRES)?)
        .build_at(at(NOW)?)?;
        signed.push(signer.sign_url(&url, &policy)?.into_string());
    }
    Ok((signed, verifier))
}

fn run(o: &Options) -> Result<f64, Box<dyn std::error::Error>> {
    let (signed, verifier) = presign(o)?;
    let ip: IpAddr = CLIENT_IP.parse()?;
    let now = at(VERIFY_AT)?;
    // Checked before timing (and a warm-up): every request is allowed.
    for url in &signed {
        let decision = verifier.verify(&ViewerRequest::new(url).client_ip(ip), now);
        if let Some(denial) = decision.denial() {
            return Err(format!("{url}: expected allowed, got {denial}").into());
        }
    }
    let budget = Duration::from_secs_f64(o.seconds);
    let start = Instant::now();
    let mut count: u64 = 0;
    let mut denied: u64 = 0;
    'timed: loop {
        for url in &signed {
            let decision = verifier.verify(&ViewerRequest::new(url).client_ip(ip), now);
            denied += u64::from(!decision.is_allowed());
            count += 1;
            if count.is_multiple_of(64) && start.elapsed() >= budget {
                break 'timed;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    if denied > 0 {
        return Err(format!("{denied} of {count} timed verifications were denied").into());
    }
    Ok(count as f64 / elapsed)
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&o) {
        Ok(rate) => {
            println!("verifies_per_second={rate:.0}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("verify_throughput: {e}");
            ExitCode::FAILURE
        }
    }
}
