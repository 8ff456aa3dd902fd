//! `cfsign verify`, `explain` and `inspect` on URLs and cookies signed by the npm
//! signers people use (`cfsign_testkit::node`: the real `aws-cloudfront-sign` and
//! `@aws-sdk/cloudfront-signer`, installed by `scripts/setup-node-oracles`).
//! `aws-cloudfront-sign`'s URLs carry `Expires` beside `Policy` and `%7E` for
//! `~`: they verify, and `explain` no longer calls them damaged.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::LazyLock;

use cfsign_testkit::cli;
use cfsign_testkit::node::{self, Signed};

static SIGNED: LazyLock<(String, Vec<Signed>)> = LazyLock::new(|| {
    let now = jiff::Timestamp::now().as_second();
    (now.to_string(), node::sign_all(now))
});

fn case(id: &str) -> &'static Signed {
    SIGNED.1.iter().find(|c| c.id == id).unwrap()
}

fn run(args: &[&str]) -> (i32, String, String) {
    cli::run(cli::command(env!("CARGO_BIN_EXE_cfsign")).args(args))
}

fn public_key() -> String {
    format!(
        "{}={}",
        node::KEY_PAIR_ID,
        node::public_key_path().display()
    )
}

/// `cfsign verify` for the case, with its cookie and client IP, as signed or with `url`.
fn verify(c: &Signed, url: &str) -> (i32, String, String) {
    let key = public_key();
    let mut args = vec!["verify", url, "--public-key", &key, "--now", &SIGNED.0];
    let cookie = c.cookie.as_ref().map(|h| format!("Cookie: {h}"));
    if let Some(h) = &cookie {
        args.extend(["--cookie", h]);
    }
    let ip = c.client.map(|ip| ip.to_string());
    if let Some(ip) = &ip {
        args.extend(["--client-ip", ip]);
    }
    run(&args)
}

#[test]
fn verify_allows_what_the_npm_signers_signed() {
    for id in [
        "acs/url",
        "acs/url-ip",
        "acs/cookies-wildcard",
        "js3/url-canned-sha256",
        "js3/cookies-ip-sha256",
    ] {
        let c = case(id);
        let (code, out, err) = verify(c, &c.url);
        assert_eq!(code, 0, "{id}: {out}{err}");
        assert_eq!(out.lines().next(), Some("allowed"), "{id}: {out}");
        assert!(
            out.contains(&format!("origin URL: {}", c.unsigned_url())),
            "{id}: {out}"
        );
    }
}

#[test]
fn verify_denies_a_changed_signature() {
    let c = case("acs/url");
    // A letter or digit of the signature (not a `%7E` escape, `~`, `-` or `_`,
    // which the signature has or not depending on the signed time).
    let start = c.url.find("Signature=").unwrap() + "Signature=".len() + 40;
    let at = start
        + c.url.as_bytes()[start..]
            .iter()
            .position(u8::is_ascii_alphanumeric)
            .unwrap();
    let old = c.url.as_bytes()[at];
    assert!(at < c.url.find("&Key-Pair-Id").unwrap(), "{}", c.url);
    let new = if old == b'A' { "B" } else { "A" };
    let tampered = format!("{}{new}{}", &c.url[..at], &c.url[at + 1..]);
    let (code, out, _) = verify(c, &tampered);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("403 "), "{out}");
}

#[test]
fn explain_calls_url_search_params_urls_valid_with_a_note() {
    let c = case("acs/url-ip");
    let key = public_key();
    let ip = c.client.unwrap().to_string();
    let (code, out, err) = run(&[
        "explain",
        &c.url,
        "--public-key",
        &key,
        "--now",
        &SIGNED.0,
        "--client-ip",
        &ip,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("verdict: allowed"), "{out}");
    assert!(out.contains("(ignored: the signed Policy decides"), "{out}");
    assert!(!out.contains("damaged") && !out.contains("fix:"), "{out}");

    // decode-only (no key): nothing wrong is seen, so the exit code is 0
    let (code, out, _) = run(&[
        "explain",
        &c.url,
        "--now",
        &SIGNED.0,
        "--client-ip",
        &ip,
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["findings"], serde_json::json!([]), "{out}");
    let facts = v["facts"].as_array().unwrap();
    let fact = |label: &str| {
        facts
            .iter()
            .find(|f| f["label"] == label)
            .and_then(|f| f["value"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(fact("Expires param").contains("ignored"), "{out}");
    if c.url.contains("%7E") {
        assert!(fact("encoding").contains("read decoded"), "{out}");
    }
}
