//! The `cfsign` binary, run for real.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::process::Command;

use cfsign_testkit::cli;
use cfsign_testkit::data::path as data;
use proptest::prelude::*;

fn kat(name: &str) -> String {
    std::fs::read_to_string(data(&format!("kat/{name}"))).unwrap()
}

/// The binary, without the test's own `CFSIGN_*` variables.
fn cfsign() -> Command {
    cli::command(env!("CARGO_BIN_EXE_cfsign"))
}

/// Runs and returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    cli::run(cfsign().args(args))
}

const CANNED_URL: &str =
    "https://d111111abcdef8.cloudfront.net/images/image.jpg?color=red&size=medium";

#[test]
fn url_canned_known_answer() {
    let key = data("keys/rsa2048.pkcs1.pem");
    let (code, out, err) = run(&[
        "url",
        CANNED_URL,
        "--key-pair-id",
        "K2JCJMDEHXQW5F",
        "--private-key",
        &key,
        "--expires",
        "1767290400",
        "--now",
        "2026-01-01T00:00:00Z",
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    let expected = format!(
        "{CANNED_URL}&Expires=1767290400&Signature={}&Key-Pair-Id=K2JCJMDEHXQW5F\n",
        kat("canned.rsa2048.sha1.sig")
    );
    assert_eq!(out, expected);
}

#[test]
fn url_custom_known_answer_with_sha256() {
    let key = data("keys/rsa2048.pkcs8.der");
    let (code, out, err) = run(&[
        "url",
        "https://d111111abcdef8.cloudfront.net/videos/a.mp4",
        "--resource",
        "https://d111111abcdef8.cloudfront.net/videos/*",
        "--key-pair-id",
        "K2JCJMDEHXQW5F",
        "--private-key",
        &key,
        "--hash",
        "sha256",
        "--expires",
        "2026-01-01T18:00:00Z",
        "--not-before",
        "1767200000",
        "--ip",
        "192.0.2.0/24",
        "--now",
        "2025-12-31T00:00:00Z",
    ]);
    assert_eq!(code, 0, "{err}");
    let policy = cfsign::cloudfront_base64::encode(kat("custom.json").as_bytes());
    assert_eq!(
        out,
        format!(
            "https://d111111abcdef8.cloudfront.net/videos/a.mp4?Policy={policy}&Signature={}&Key-Pair-Id=K2JCJMDEHXQW5F&Hash-Algorithm=SHA256\n",
            kat("custom.rsa2048.sha256.sig")
        )
    );
    // the IP condition is valid but deserves the IPv6 warning
    assert!(err.contains("warning[ip-condition-ipv6]"), "{err}");
}

#[test]
fn aws_cli_aliases_give_identical_output() {
    let key = data("keys/rsa2048.pkcs1.pem");
    let native = run(&[
        "url",
        "https://x.example.com/a.jpg",
        "--key-pair-id",
        "K1",
        "--private-key",
        &key,
        "--expires",
        "2030-01-01",
        "--not-before",
        "2029-01-01",
        "--ip",
        "10.0.0.1",
        "--resource",
        "https://x.example.com/*",
        "--hash",
        "sha1",
        "--now",
        "2028-06-01",
    ]);
    let file_key = format!("file://{key}");
    let aliases = run(&[
        "url",
        "--url",
        "https://x.example.com/a.jpg",
        "--key-pair-id",
        "K1",
        "--private-key",
        &file_key,
        "--date-less-than",
        "2030-01-01",
        "--date-greater-than",
        "2029-01-01",
        "--ip-address",
        "10.0.0.1",
        "--policy-resource",
        "https://x.example.com/*",
        "--hash-algorithm",
        "SHA1",
        "--now",
        "2028-06-01",
    ]);
    assert_eq!(native.0, 0, "{}", native.2);
    assert_eq!(native, aliases);
}

#[test]
fn key_and_id_from_environment() {
    let pem = std::fs::read_to_string(data("keys/ec-p256.sec1.pem")).unwrap();
    let out = cfsign()
        .args(["url", "https://x.example.com/a.jpg", "--expires-in", "5m"])
        .env("CFSIGN_KEY_PAIR_ID", "KENV")
        .env("CFSIGN_PRIVATE_KEY_PEM", pem.replace('\n', "\\n"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap();
    assert!(
        url.starts_with("https://x.example.com/a.jpg?Expires=")
            && url.ends_with("&Key-Pair-Id=KENV\n"),
        "{url}"
    );
    let out = cfsign()
        .args([
            "url",
            "https://x.example.com/a.jpg",
            "--key-pair-id",
            "K1",
            "--expires-in",
            "5m",
        ])
        .env("CFSIGN_PRIVATE_KEY", data("keys/rsa2048.pkcs8.pem"))
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn json_output() {
    let key = data("keys/ec-p256.pkcs8.pem");
    let (code, out, _) = run(&[
        "url",
        "https://x.example.com/a.jpg",
        "--key-pair-id",
        "K1",
        "--private-key",
        &key,
        "--expires",
        "1767290400",
        "--now",
        "1767200000",
        "--json",
        "--hash",
        "sha256",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["policy_form"], "canned");
    assert_eq!(v["expires"], 1_767_290_400);
    assert_eq!(v["expires_at"], "2026-01-01T18:00:00Z");
    assert_eq!(v["hash_algorithm"], "SHA256");
    assert_eq!(v["key_type"], "ECDSA P-256");
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .ends_with("&Key-Pair-Id=K1&Hash-Algorithm=SHA256")
    );
    assert_eq!(v["schema"], 1);
    // The policy is a JSON object, not a string holding JSON.
    assert_eq!(
        v["policy"],
        serde_json::json!({"Statement":[{"Resource":"https://x.example.com/a.jpg","Condition":{"DateLessThan":{"AWS:EpochTime":1_767_290_400}}}]})
    );
}

/// The shared bad-input corpus (`crates/cfsign/tests/data/bad_inputs.json`, also
/// run through the Python package) as `cfsign url` arguments and the expected text.
fn corpus_cases() -> Vec<(Vec<String>, String)> {
    let text = std::fs::read_to_string(data("bad_inputs.json")).unwrap();
    let corpus: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = corpus["cases"].as_array().unwrap();
    assert!(cases.len() >= 25, "the corpus lost cases");
    cases
        .iter()
        .map(|case| {
            let text = |v: &serde_json::Value| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let key = case["key"].as_str().unwrap_or("keys/rsa2048.pkcs1.pem");
            let mut args = vec![
                "url".to_owned(),
                text(&case["url"]),
                "--key-pair-id".to_owned(),
                case["key_pair_id"].as_str().unwrap_or("K1").to_owned(),
                "--private-key".to_owned(),
                data(key),
            ];
            for (name, value) in case["options"].as_object().unwrap() {
                // `--name=value`, so that a value such as `-5` is not read as a flag.
                args.push(format!("--{}={}", name.replace('_', "-"), text(value)));
            }
            let needle = case
                .get("cli_message")
                .unwrap_or(&case["message"])
                .as_str()
                .unwrap()
                .to_owned();
            (args, needle)
        })
        .collect()
}

#[test]
fn refusals_exit_2_with_nothing_on_stdout() {
    let rsa = data("keys/rsa2048.pkcs1.pem");
    let mut cases: Vec<(Vec<String>, String)> = corpus_cases();
    let flag_cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "url".into(),
                "https://x.example.com/a.jpg".into(),
                "--private-key".into(),
                rsa.clone(),
                "--expires-in".into(),
                "1h".into(),
            ],
            "--key-pair-id",
        ),
        (
            vec![
                "url".into(),
                "https://x.example.com/a.jpg".into(),
                "--key-pair-id".into(),
                "K1".into(),
                "--expires-in".into(),
                "1h".into(),
            ],
            "no private key",
        ),
        (vec!["frobnicate".into()], "unrecognized subcommand"),
    ];
    cases.extend(
        flag_cases
            .into_iter()
            .map(|(args, needle)| (args, needle.to_owned())),
    );
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}\nstderr: {err}");
        assert_eq!(out, "", "{args:?} printed to stdout");
        assert!(
            err.contains(&needle),
            "{args:?}\nstderr {err:?} lacks {needle:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any URL with a character a client would not send as-is is refused with exit
    /// code 2 and no URL on stdout; the same URL with that character percent-encoded
    /// (as `--encode` does) is signed.
    #[test]
    fn refused_urls_never_produce_output(
        segment in "[a-z0-9]{1,12}",
        bad in prop::sample::select(vec![' ', '"', '<', '>', '\\', '^', '`', '{', '|', '}', 'é', '日', '\t']),
        position in 0usize..12,
    ) {
        let rsa = data("keys/ec-p256.sec1.pem");
        let at = position.min(segment.len());
        let raw = format!("https://x.example.com/{}{}{}", &segment[..at], bad, &segment[at..]);
        let (code, out, err) = run(&["url", &raw, "--key-pair-id", "K1", "--private-key", &rsa, "--expires-in", "1h"]);
        prop_assert_eq!(code, 2, "{}", err);
        prop_assert_eq!(out, "");
        let (code, out, _) = run(&["url", &raw, "--encode", "--key-pair-id", "K1", "--private-key", &rsa, "--expires-in", "1h"]);
        prop_assert_eq!(code, 0);
        prop_assert!(out.starts_with("https://x.example.com/") && out.contains("%"), "{}", out);
    }
}

#[test]
fn keygen_defaults_to_ecdsa_p256() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, stdout, err) = run(&["keygen", "--out", out]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.starts_with("Generated an ECDSA P-256 key pair:\n"),
        "{stdout}"
    );
    let key = cfsign::PrivateKey::from_file(dir.path().join("private_key.pem")).unwrap();
    assert_eq!(key.key_type(), cfsign::KeyType::EcdsaP256);
    let (code, help, _) = run(&["keygen", "--help"]);
    assert_eq!(code, 0);
    assert!(help.contains("[default: ecdsa]"), "{help}");
}

#[test]
fn keygen_writes_0600_private_key_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("keys");
    let out = out_dir.to_str().unwrap();
    for t in ["rsa", "ecdsa"] {
        let (code, stdout, err) = run(&["keygen", "--type", t, "--out", out, "--force"]);
        assert_eq!(code, 0, "{err}");
        assert!(stdout.contains("Next steps"), "{stdout}");
        let private = out_dir.join("private_key.pem");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{t}");
        }
        let key = cfsign::PrivateKey::from_file(&private).unwrap();
        let public = cfsign::PublicKey::from_file(out_dir.join("public_key.pem")).unwrap();
        assert_eq!(key.key_type(), public.key_type());
        assert_eq!(
            key.public_key().unwrap().to_pem().unwrap(),
            std::fs::read_to_string(out_dir.join("public_key.pem")).unwrap()
        );
        let expected = if t == "rsa" {
            cfsign::KeyType::Rsa2048
        } else {
            cfsign::KeyType::EcdsaP256
        };
        assert_eq!(key.key_type(), expected);
        assert!(
            stdout.starts_with(&format!("Generated an {expected} key pair:\n")),
            "{stdout}"
        );
    }
    let before = std::fs::read(out_dir.join("private_key.pem")).unwrap();
    let (code, _, err) = run(&["keygen", "--out", out]);
    assert_eq!(code, 2);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(out_dir.join("private_key.pem")).unwrap(),
        before,
        "an existing key must not be touched"
    );
}

fn batch(args: &[&str], input: &str) -> (i32, String, String) {
    cli::run_with_stdin(cfsign().arg("batch").args(args), input)
}

#[test]
fn batch_keeps_order_across_threads_and_matches_single_url_signing() {
    let key = data("keys/rsa2048.pkcs1.pem");
    let urls: Vec<String> = (0..9000)
        .map(|i| format!("https://x.example.com/f/{i}.jpg?v={i}"))
        .collect();
    let input = urls.join("\n") + "\n";
    let common = [
        "--key-pair-id",
        "K1",
        "--private-key",
        &key,
        "--expires",
        "2030-01-01",
        "--no-progress",
    ];
    let one = batch(&[&common[..], &["--threads", "1"]].concat(), &input);
    let two = batch(&[&common[..], &["--threads", "2"]].concat(), &input);
    assert_eq!(one.0, 0, "{}", one.2);
    assert_eq!(
        one, two,
        "RSA is deterministic: thread count must not change a byte"
    );
    let lines: Vec<&str> = one.1.lines().collect();
    assert_eq!(lines.len(), urls.len());
    for (i, line) in lines.iter().enumerate() {
        assert!(
            line.starts_with(&format!("{}&Expires=1893456000&Signature=", urls[i])),
            "line {i}: {line}"
        );
    }
    // line 4567 equals what `cfsign url` prints for that URL
    let (_, single, _) = run(&[
        "url",
        &urls[4567],
        "--key-pair-id",
        "K1",
        "--private-key",
        &key,
        "--expires",
        "2030-01-01",
    ]);
    assert_eq!(format!("{}\n", lines[4567]), single);
}

#[test]
fn batch_reports_bad_lines_without_stopping_or_reordering() {
    let key = data("keys/ec-p256.sec1.pem");
    let input = "https://x.example.com/1.jpg\n\nhttps://x.example.com/3 x.jpg\r\nhttps://x.example.com/4.jpg?Expires=1\n  https://x.example.com/5.jpg  \n";
    let (code, out, err) = batch(
        &[
            "--key-pair-id",
            "K1",
            "--private-key",
            &key,
            "--expires-in",
            "1h",
            "--threads",
            "2",
        ],
        input,
    );
    assert_eq!(code, 1, "{err}");
    let lines: Vec<&str> = out.split('\n').collect();
    assert_eq!(lines.len(), 6, "{out:?}"); // 5 lines + trailing empty
    assert!(lines[0].starts_with("https://x.example.com/1.jpg?Expires="));
    assert_eq!((lines[1], lines[2], lines[3]), ("", "", ""));
    assert!(lines[4].starts_with("https://x.example.com/5.jpg?Expires="));
    for needle in [
        "line 2: empty line",
        "line 3: ",
        "%20",
        "line 4: ",
        "\"Expires\"",
        "3 of 5 lines failed",
    ] {
        assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    }
}

#[test]
fn batch_reuses_one_wildcard_signature() {
    let key = data("keys/ec-p256.sec1.pem");
    let input = "https://x.example.com/hls/a/1.ts\nhttps://x.example.com/hls/a/2.ts\nhttps://x.example.com/other/3.ts\n";
    let (code, out, err) = batch(
        &[
            "--resource",
            "https://x.example.com/hls/a/*",
            "--key-pair-id",
            "K1",
            "--private-key",
            &key,
            "--expires-in",
            "1h",
        ],
        input,
    );
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    let params = |l: &str| l.split_once('?').unwrap().1.to_owned();
    assert_eq!(
        params(lines[0]),
        params(lines[1]),
        "one signature stamped on both"
    );
    assert!(params(lines[0]).starts_with("Policy="));
    assert_eq!(lines[2], "");
    assert!(
        err.contains("line 3") && err.contains("does not cover"),
        "{err}"
    );
}

#[test]
fn batch_json_lines_with_per_line_options() {
    let key = data("keys/rsa2048.pkcs8.pem");
    let input = concat!(
        r#"{"url":"https://x.example.com/a.jpg"}"#,
        "\n",
        r#"{"url":"https://x.example.com/b.jpg","expires":1893456000,"ip":"192.0.2.1"}"#,
        "\n",
        r#"{"url":"https://x.example.com/c d.jpg","encode":true}"#,
        "\n",
        r#"{"url":"https://x.example.com/e.jpg","expires":"2030-01-01","expires_in":"1h"}"#,
        "\n",
        "not json\n",
    );
    let (code, out, _) = batch(
        &[
            "--jsonl",
            "--key-pair-id",
            "K1",
            "--private-key",
            &key,
            "--expires-in",
            "1h",
        ],
        input,
    );
    assert_eq!(code, 1);
    let v: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.len(), 5);
    assert!(v[0]["url"].as_str().unwrap().contains("?Expires="));
    assert!(
        v[1]["url"].as_str().unwrap().contains("?Policy="),
        "IP makes it custom"
    );
    assert!(
        v[2]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://x.example.com/c%20d.jpg?Expires=")
    );
    assert!(v[3]["error"].as_str().unwrap().contains("not both"));
    assert_eq!(v[4]["line"], 5);
    assert!(v[4]["error"].as_str().unwrap().contains("JSON"));
}

#[test]
fn cookies_lines_and_json() {
    let key = data("keys/ec-p256.pkcs8.pem");
    let (code, out, err) = run(&[
        "cookies",
        "https://x.example.com/course/*",
        "--key-pair-id",
        "K1",
        "--private-key",
        &key,
        "--expires-in",
        "1h",
        "--path",
        "/course/",
        "--domain",
        "x.example.com",
        "--hash",
        "sha256",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4);
    for (line, name) in lines.iter().zip([
        "CloudFront-Policy",
        "CloudFront-Signature",
        "CloudFront-Key-Pair-Id",
        "CloudFront-Hash-Algorithm",
    ]) {
        assert!(line.starts_with(&format!("Set-Cookie: {name}=")), "{line}");
        assert!(
            line.ends_with("; Domain=x.example.com; Path=/course/; Secure; HttpOnly; SameSite=Lax"),
            "{line}"
        );
    }
    let (code, out, _) = run(&[
        "cookies",
        "https://x.example.com/a.jpg",
        "--key-pair-id",
        "K1",
        "--private-key",
        &key,
        "--expires-in",
        "1h",
        "--json",
        "--same-site",
        "strict",
        "--max-age",
        "1h",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["policy_form"], "canned");
    assert_eq!(v["cookies"][0]["name"], "CloudFront-Expires");
    let codes: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"canned-cookie") && codes.contains(&"persistent-cookie"),
        "{codes:?}"
    );
    assert!(
        v["set_cookie"][0]
            .as_str()
            .unwrap()
            .contains("; Max-Age=3600; Secure; HttpOnly; SameSite=Strict")
    );
    let (code, _, err) = run(&[
        "cookies",
        "https://x.example.com/*",
        "--key-pair-id",
        "K1",
        "--private-key",
        &key,
        "--expires-in",
        "1h",
        "--same-site",
        "none",
        "--no-secure",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("SameSite=None requires Secure"), "{err}");
}

#[test]
fn policy_prints_exact_json_and_lints() {
    let (code, out, err) = run(&[
        "policy",
        "https://x.example.com/v/*",
        "--expires",
        "1767290400",
        "--now",
        "1767200000",
        "--ip",
        "192.0.2.9/24",
        "--not-before",
        "1767200010",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "{\"Statement\":[{\"Resource\":\"https://x.example.com/v/*\",\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":1767290400},\"IpAddress\":{\"AWS:SourceIp\":\"192.0.2.9/24\"},\"DateGreaterThan\":{\"AWS:EpochTime\":1767200010}}}]}\n"
    );
    for code in ["ip-host-bits", "start-near-now", "ip-condition-ipv6"] {
        assert!(err.contains(&format!("warning[{code}]")), "{err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    std::fs::write(&file, "{\"Statement\":[{\"Resource\":\"https://x.example.com/*\",\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":1767290400000}}}]}").unwrap();
    let (code, out, err) = run(&[
        "policy",
        "https://x.example.com/a",
        "--policy",
        file.to_str().unwrap(),
    ]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("milliseconds"), "{err}");
}

#[test]
fn policy_file_is_signed_exactly_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    let text = "{\"Statement\":[{\"Resource\":\"https://x.example.com/*\",\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":1893456000}}}]}\n";
    std::fs::write(&file, text).unwrap();
    let key = data("keys/rsa2048.pkcs1.pem");
    let (code, out, err) = run(&[
        "url",
        "https://x.example.com/any/thing.mp4",
        "--policy",
        file.to_str().unwrap(),
        "--key-pair-id",
        "K1",
        "--private-key",
        &key,
    ]);
    assert_eq!(code, 0, "{err}");
    let policy = out
        .split("Policy=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert_eq!(
        cfsign::cloudfront_base64::decode(policy).unwrap(),
        text.as_bytes()
    );
    let (code, _, err) = run(&[
        "url",
        "https://other.example.com/a",
        "--policy",
        file.to_str().unwrap(),
        "--key-pair-id",
        "K1",
        "--private-key",
        &key,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("does not cover"), "{err}");
}

#[test]
fn quickstart_runs_without_arguments() {
    let (code, out, err) = run(&["quickstart"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.matches("Checked: the signature verifies").count(),
        2,
        "{out}"
    );
    let url = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("https://") && l.contains("Signature="))
        .unwrap();
    assert!(
        url.contains("?Expires=") && url.ends_with("&Key-Pair-Id=K2JCJMDEHXQW5F"),
        "{url}"
    );
    assert_eq!(out.matches("Set-Cookie: CloudFront-").count(), 3);
    // the local edge answered the four requests as CloudFront would
    for needle in [
        "GET signed URL                     -> 200 OK",
        "GET unsigned URL                   -> 403 MissingKey: Missing Key-Pair-Id query parameter or cookie value",
        "GET expired URL                    -> 403 AccessDenied: Access denied",
        "-> 206 Partial Content, Content-Range: bytes 0-6/79, body \"Welcome\"",
    ] {
        assert!(
            out.contains(needle),
            "quickstart output lacks {needle:?}:\n{out}"
        );
    }
    let dir = out
        .lines()
        .find_map(|l| l.split(" key pair, in ").nth(1))
        .unwrap()
        .trim();
    let key_path = std::path::Path::new(dir).join("private_key.pem");
    assert!(key_path.exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_command_has_help_with_examples() {
    for cmd in [
        "url",
        "cookies",
        "policy",
        "keygen",
        "batch",
        "quickstart",
        "verify",
        "explain",
        "inspect",
        "edge",
    ] {
        let (code, out, _) = run(&[cmd, "--help"]);
        assert_eq!(code, 0);
        assert!(out.contains("Example"), "{cmd} --help has no examples");
    }
}
