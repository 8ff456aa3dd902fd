//! `cfsign verify`, `explain` and `inspect`, run for real.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use cfsign_testkit::cli;
use cfsign_testkit::data::key_path as key;

fn run(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut c = cli::command(env!("CARGO_BIN_EXE_cfsign"));
    c.args(args);
    match stdin {
        Some(s) => cli::run_with_stdin(&mut c, s),
        None => cli::run(&mut c),
    }
}

const NOW: &str = "1767200000";

fn sign(url: &str, extra: &[&str]) -> String {
    let k = key("rsa2048.pkcs1.pem");
    let mut args = vec![
        "url",
        url,
        "--key-pair-id",
        "K2JCJMDEHXQW5F",
        "--private-key",
        &k,
        "--expires",
        "1767290400",
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args, None);
    assert_eq!(code, 0, "{err}");
    out.trim().to_owned()
}

fn public() -> String {
    format!("K2JCJMDEHXQW5F={}", key("rsa2048.pub.pem"))
}

#[test]
fn verify_allowed_and_denied_with_exit_codes() {
    let url = sign("https://d111111abcdef8.cloudfront.net/a.jpg?x=1", &[]);
    let p = public();
    let (code, out, _) = run(&["verify", &url, "--public-key", &p, "--now", NOW], None);
    assert_eq!(code, 0);
    assert_eq!(out.lines().next(), Some("allowed"));
    assert!(
        out.contains("origin URL: https://d111111abcdef8.cloudfront.net/a.jpg?x=1"),
        "{out}"
    );

    let (code, out, _) = run(
        &[
            "verify",
            &url.replace("x=1", "x=2"),
            "--public-key",
            &p,
            "--now",
            NOW,
        ],
        None,
    );
    assert_eq!(code, 1);
    assert_eq!(out.lines().next(), Some("403 AccessDenied: Access denied"));
    assert!(
        out.contains("reason: the signature does not match"),
        "{out}"
    );

    let (code, out, _) = run(
        &[
            "verify",
            &url,
            "--public-key",
            &p,
            "--now",
            "2026-01-01T18:00:00Z",
        ],
        None,
    );
    assert_eq!(code, 1);
    assert!(out.contains("expired at 2026-01-01T18:00:00Z"), "{out}");

    let (code, out, _) = run(
        &[
            "verify",
            "https://d111111abcdef8.cloudfront.net/a.jpg",
            "--public-key",
            &p,
        ],
        None,
    );
    assert_eq!(
        (code, out.lines().next()),
        (
            1,
            Some("403 MissingKey: Missing Key-Pair-Id query parameter or cookie value")
        )
    );
}

/// Issue 9 item 4: a `?` after the query's start is CloudFront's one-character
/// wildcard, for `url --resource`, `policy` and `verify` alike.
#[test]
fn question_mark_wildcard_in_resource_signs_and_verifies() {
    let resource = "https://cdn.example.com/v/a.ts?v=?";
    let url = sign(
        "https://cdn.example.com/v/a.ts?v=7",
        &["--resource", resource],
    );
    assert!(
        url.starts_with("https://cdn.example.com/v/a.ts?v=7&Policy="),
        "{url}"
    );
    let p = public();
    let (code, out, _) = run(&["verify", &url, "--public-key", &p, "--now", NOW], None);
    assert_eq!((code, out.lines().next()), (0, Some("allowed")), "{out}");

    // The same signature on ?v=77 is denied, and signing it is refused.
    let params = url.split_once("v=7&").unwrap().1;
    let other = format!("https://cdn.example.com/v/a.ts?v=77&{params}");
    let (code, out, _) = run(&["verify", &other, "--public-key", &p, "--now", NOW], None);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            r#"the policy's Resource "https://cdn.example.com/v/a.ts?v=?" does not cover"#
        ),
        "{out}"
    );
    let k = key("rsa2048.pkcs1.pem");
    let (code, out, err) = run(
        &[
            "url",
            "https://cdn.example.com/v/a.ts?v=77",
            "--resource",
            resource,
            "--key-pair-id",
            "K2JCJMDEHXQW5F",
            "--private-key",
            &k,
            "--expires",
            "1767290400",
            "--now",
            NOW,
        ],
        None,
    );
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("does not cover"), "{err}");

    // `policy` treats it as the pattern it is: a custom policy, no warnings.
    let (code, out, err) = run(
        &["policy", resource, "--expires", "1767290400", "--now", NOW],
        None,
    );
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "{\"Statement\":[{\"Resource\":\"https://cdn.example.com/v/a.ts?v=?\",\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":1767290400}}}]}\n"
    );
    let (code, out, _) = run(
        &[
            "policy",
            resource,
            "--expires",
            "1767290400",
            "--now",
            NOW,
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0);
    assert!(out.contains(r#""policy_form":"custom""#), "{out}");
    assert!(out.contains(r#""warnings":[]"#), "{out}");
}

#[test]
fn verify_usage_errors_exit_2() {
    let url = sign("https://d111111abcdef8.cloudfront.net/a.jpg", &[]);
    for (args, needle) in [
        (vec!["verify", url.as_str()], "no public key"),
        (
            vec!["verify", url.as_str(), "--public-key", "nokeyid.pem"],
            "KEYID=PATH",
        ),
        (
            vec!["verify", url.as_str(), "--public-key", "K1=/nope.pem"],
            "cannot read",
        ),
        (
            vec!["verify", url.as_str(), "--public-key", "K1=/nope.pem"],
            "--public-key",
        ),
        (
            vec![
                "verify",
                url.as_str(),
                "--client-ip",
                "1.2.3",
                "--public-key",
                "K1=x",
            ],
            "",
        ),
    ] {
        let (code, out, err) = run(&args, None);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let private = format!("K2JCJMDEHXQW5F={}", key("rsa2048.pkcs8.pem"));
    let (code, _, err) = run(&["verify", &url, "--public-key", &private], None);
    assert_eq!(code, 2);
    assert!(err.contains("this is a private key"), "{err}");
}

#[test]
fn verify_many_from_stdin_and_json() {
    let good = sign("https://d111111abcdef8.cloudfront.net/a.jpg", &[]);
    let bad = good.replace("a.jpg", "b.jpg");
    let p = public();
    let input = format!("{good}\n{bad}\n\n{good}\n");
    let (code, out, _) = run(
        &["verify", "-", "--public-key", &p, "--now", NOW],
        Some(&input),
    );
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("allowed https://d111111abcdef8.cloudfront.net/a.jpg"));
    assert!(lines[1].starts_with("403 AccessDenied: Access denied ("));
    assert!(lines[2].starts_with("allowed"));
    let (code, out, _) = run(
        &["verify", "-", "--public-key", &p, "--now", NOW, "--json"],
        Some(&format!("{good}\n")),
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (
            v["allowed"].as_bool(),
            v["line"].as_u64(),
            v["policy_form"].as_str()
        ),
        (Some(true), Some(1), Some("canned"))
    );
}

#[test]
fn verify_cookies_and_client_ip() {
    let k = key("ec-p256.sec1.pem");
    let (code, out, _) = run(
        &[
            "cookies",
            "https://d111111abcdef8.cloudfront.net/v/*",
            "--key-pair-id",
            "KEC",
            "--private-key",
            &k,
            "--expires",
            "1767290400",
            "--now",
            NOW,
            "--ip",
            "192.0.2.0/24",
            "--json",
            "--hash",
            "sha256",
        ],
        None,
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let cookie = format!("Cookie: {}", v["cookie_header"].as_str().unwrap());
    let p = format!("KEC={}", key("ec-p256.pub.pem"));
    let base = [
        "verify",
        "https://d111111abcdef8.cloudfront.net/v/1.ts",
        "--public-key",
        &p,
        "--now",
        NOW,
        "--cookie",
        &cookie,
    ];
    let (code, out, _) = run(&[&base[..], &["--client-ip", "192.0.2.9"]].concat(), None);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = run(&[&base[..], &["--client-ip", "192.0.3.9"]].concat(), None);
    assert_eq!(code, 1);
    assert!(out.contains("outside 192.0.2.0/24"), "{out}");
    let (code, out, _) = run(&[&base[..], &["--client-ip", "2001:db8::1"]].concat(), None);
    assert_eq!(code, 1);
    assert!(out.contains("IPv6"), "{out}");
}

#[test]
fn explain_names_the_cause() {
    let url = sign(
        "https://d111111abcdef8.cloudfront.net/a%20b.jpg",
        &["--hash", "sha256"],
    );
    let p = public();
    let no_flag = url.replace("&Hash-Algorithm=SHA256", "");
    let (code, out, _) = run(
        &["explain", &no_flag, "--public-key", &p, "--now", NOW],
        None,
    );
    assert_eq!(code, 1);
    assert!(out.starts_with("verdict: 403 AccessDenied"), "{out}");
    assert!(
        out.contains("[hash-algorithm-missing]")
            && out.contains("fix: append &Hash-Algorithm=SHA256"),
        "{out}"
    );
    let (code, out, _) = run(
        &[
            "explain",
            &url.replace("a%20b", "a+b"),
            "--public-key",
            &p,
            "--now",
            NOW,
            "--json",
        ],
        None,
    );
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["findings"][0]["code"], "url-encoding-changed");
    assert_eq!(v["decision"]["code"], "AccessDenied");
    let (code, out, _) = run(&["explain", &url, "--public-key", &p, "--now", NOW], None);
    assert_eq!(code, 0);
    assert!(out.starts_with("verdict: allowed"), "{out}");
}

#[test]
fn explain_without_keys_is_decode_only() {
    let url = sign("https://d111111abcdef8.cloudfront.net/a.jpg", &[]);
    let (code, out, _) = run(&["explain", &url, "--now", NOW], None);
    assert_eq!(code, 0);
    assert!(out.contains("not decided (decode-only"), "{out}");
    assert!(out.contains("not checked: the signature"), "{out}");
    let ms = url.replace("Expires=1767290400", "Expires=1767290400000");
    let (code, out, _) = run(&["explain", &ms, "--now", NOW], None);
    assert_eq!(code, 1);
    assert!(out.contains("[expires-in-milliseconds]"), "{out}");
}

#[test]
fn inspect_urls_and_cookie_headers() {
    let url = sign(
        "https://d111111abcdef8.cloudfront.net/a.jpg",
        &["--ip", "192.0.2.1"],
    );
    let (code, out, _) = run(&["inspect", &url], None);
    assert_eq!(code, 0);
    assert!(out.contains("\"AWS:SourceIp\":\"192.0.2.1/32\""), "{out}");
    assert!(!out.contains("verdict"), "{out}");
    let (code, out, _) = run(
        &[
            "inspect",
            "CloudFront-Expires=1767290400; CloudFront-Signature=AAAA; CloudFront-Key-Pair-Id=K1",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["credentials"], "cookies");
    assert_eq!(v["Key-Pair-Id"], "K1");
    let (code, _, err) = run(&["inspect", "hello"], None);
    assert_eq!(code, 2);
    assert!(err.contains("neither a URL"), "{err}");
}
