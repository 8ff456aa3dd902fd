//! `--json` output: `"schema": 1` everywhere, policies as objects, and the
//! `keygen` and `quickstart` reports (never the private key).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::process::Command;

use cfsign_testkit::cli;
use cfsign_testkit::data::path as data;
use serde_json::{Value, json};

/// The binary, without the test's own `CFSIGN_*` variables.
fn cfsign() -> Command {
    cli::command(env!("CARGO_BIN_EXE_cfsign"))
}

/// Runs, expects `code`, and parses stdout as one JSON object.
fn json_of(args: &[&str], code: i32) -> Value {
    let (got, out, err) = cli::run(cfsign().args(args));
    assert_eq!(got, code, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

const URL: &str = "https://d111111abcdef8.cloudfront.net/a.ts";
const PATTERN: &str = "https://d111111abcdef8.cloudfront.net/*";
const TIMES: [&str; 4] = ["--expires", "1767290400", "--now", "2026-01-01T00:00:00Z"];

fn canned_policy(resource: &str) -> Value {
    json!({"Statement": [{"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": 1_767_290_400}}}]})
}

#[test]
fn every_json_object_has_schema_1_and_policies_are_objects() {
    let key = data("keys/rsa2048.pkcs1.pem");
    let signing = [
        &["--key-pair-id", "K2JCJMDEHXQW5F", "--private-key", &key][..],
        &TIMES,
    ]
    .concat();

    let url = json_of(&[&["url", URL, "--json"][..], &signing].concat(), 0);
    assert_eq!(url["schema"], 1);
    assert_eq!(url["policy"], canned_policy(URL));

    let policy = json_of(&[&["policy", URL, "--json"][..], &TIMES].concat(), 0);
    assert_eq!(policy["schema"], 1);
    assert_eq!(policy["policy"], canned_policy(URL));

    let cookies = json_of(&[&["cookies", PATTERN, "--json"][..], &signing].concat(), 0);
    assert_eq!(cookies["schema"], 1);
    assert_eq!(cookies["policy"], canned_policy(PATTERN));

    // Beside the object, the exact text that was signed: CloudFront's layout, no spaces.
    for (output, resource) in [(&url, URL), (&policy, URL), (&cookies, PATTERN)] {
        let text = output["policy_text"].as_str().unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":1767290400}}}}}}]}}"#
            )
        );
        assert_eq!(
            serde_json::from_str::<Value>(text).unwrap(),
            output["policy"]
        );
    }

    let signed = url["url"].as_str().unwrap();
    let public = format!("K2JCJMDEHXQW5F={}", data("keys/rsa2048.pub.pem"));
    let verify = json_of(
        &[
            "verify",
            signed,
            "--public-key",
            &public,
            "--now",
            "2026-01-01T00:00:00Z",
            "--json",
        ],
        0,
    );
    assert_eq!(verify["schema"], 1);
    assert_eq!(verify["allowed"], true);
    assert_eq!(verify["policy"], canned_policy(URL));

    let explain = json_of(
        &[
            "explain",
            signed,
            "--public-key",
            &public,
            "--now",
            "2026-01-01T00:00:00Z",
            "--json",
        ],
        0,
    );
    assert_eq!(explain["schema"], 1);
    assert_eq!(explain["decision"]["policy"], canned_policy(URL));
    // Findings are objects with a code, a summary and a fix (none here).
    assert_eq!(explain["findings"], json!([]));

    let inspect = json_of(&["inspect", signed, "--json"], 0);
    assert_eq!(inspect["schema"], 1);
    assert_eq!(inspect["Key-Pair-Id"], "K2JCJMDEHXQW5F");
}

#[test]
fn keygen_json_names_the_files_and_never_the_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keys");
    let v = json_of(&["keygen", "--out", out.to_str().unwrap(), "--json"], 0);
    assert_eq!(v["schema"], 1);
    assert_eq!(v["key_type"], "ECDSA P-256");
    let private = out.join("private_key.pem");
    assert_eq!(v["private_key_file"], private.display().to_string());
    assert_eq!(
        v["public_key_file"],
        out.join("public_key.pem").display().to_string()
    );
    assert_eq!(v["key_pair_id"], Value::Null);
    assert!(
        v["key_pair_id_hint"]
            .as_str()
            .unwrap()
            .contains("--key-pair-id")
    );
    let text = v.to_string();
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    let pem = std::fs::read_to_string(&private).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!text.contains(&body[..40]), "{text}");
}

#[test]
fn quickstart_json_reports_every_step_without_the_private_key() {
    let v = json_of(&["quickstart", "--json"], 0);
    assert_eq!(v["schema"], 1);
    let pair = &v["key_pair"];
    assert_eq!(pair["key_type"], "ECDSA P-256");
    assert_eq!(pair["key_pair_id"], "K2JCJMDEHXQW5F");
    let private = pair["private_key_file"].as_str().unwrap();
    assert!(private.ends_with("private_key.pem"), "{private}");
    assert!(
        v["url"]["signed_url"]
            .as_str()
            .unwrap()
            .contains("&Signature=")
    );
    assert_eq!(v["url"]["policy_form"], "canned");
    assert!(v["url"]["policy"].is_object());
    assert_eq!(v["url"]["verified"], true);
    assert_eq!(v["cookies"]["policy_form"], "custom");
    assert!(v["cookies"]["policy"].is_object());
    assert_eq!(v["cookies"]["verified"], true);
    assert_eq!(v["cookies"]["set_cookie"].as_array().unwrap().len(), 3);
    let statuses: Vec<&Value> = v["edge"]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["status"])
        .collect();
    assert_eq!(
        statuses,
        [&json!(200), &json!(403), &json!(403), &json!(206)]
    );
    assert!(!v["next"].as_array().unwrap().is_empty());
    let text = v.to_string();
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    let pem = std::fs::read_to_string(private).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!text.contains(&body[..40]), "{text}");
    std::fs::remove_dir_all(v["dir"].as_str().unwrap()).unwrap();
    // --json reports a run that ends; --serve does not end.
    let (code, _, err) = cli::run(cfsign().args(["quickstart", "--json", "--serve"]));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn edge_check_json_describes_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("media")).unwrap();
    let config = dir.path().join("edge.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:8443"
admin_listen = "127.0.0.1:9901"
[key_groups.main]
keys = [{{ id = "K2JCJMDEHXQW5F", public_key = "{}" }}]
[origins.media]
type = "directory"
root = "media"
[[behaviors]]
path_pattern = "/public/*"
origin = "media"
restricted = false
compress = true
[default_behavior]
origin = "media"
trusted_key_groups = ["main"]
"#,
            data("keys/rsa2048.pub.pem")
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let checked = json_of(&["edge", "--config", config, "--check", "--json"], 0);
    assert_eq!(checked["schema"], 1);
    assert_eq!(checked["ok"], true);
    assert_eq!(checked["listen"], "127.0.0.1:8443");
    assert_eq!(checked["scheme"], "http");
    assert_eq!(checked["tls"], Value::Null);
    assert_eq!(checked["admin"]["listen"], "127.0.0.1:9901");
    assert_eq!(checked["admin"]["token_file"], Value::Null);
    assert_eq!(checked["watch"], Value::Null);
    let behaviors = checked["behaviors"].as_array().unwrap();
    assert_eq!(behaviors.len(), 2, "{checked}");
    assert_eq!(behaviors[0]["path_pattern"], "/public/*");
    assert_eq!(behaviors[0]["restricted"], false);
    assert_eq!(behaviors[0]["compress"], true);
    assert_eq!(behaviors[1]["path_pattern"], "*");
    assert_eq!(behaviors[1]["restricted"], true);
    assert_eq!(behaviors[1]["origin"], "media");
    assert!(behaviors[1]["ttl_seconds"]["default"].as_u64().unwrap() > 0);

    // --json without --check is bad usage; a broken configuration is exit 2 with nothing on stdout.
    let (code, out, err) = cli::run(cfsign().args(["edge", "--config", config, "--json"]));
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("--check"), "{err}");
    std::fs::remove_dir(dir.path().join("media")).unwrap();
    let (code, out, err) =
        cli::run(cfsign().args(["edge", "--config", config, "--check", "--json"]));
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("origins.media.root"), "{err}");
}

/// Every optional object of `--check --json` when its setting is given: TLS,
/// the admin listener with its token file, the watch and the access-log file.
#[cfg(unix)]
#[test]
fn edge_check_json_reports_tls_token_watch_and_access_log() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("media")).unwrap();
    let (cert, key) = cfsign_testkit::tls::self_signed(&["localhost"]).write(dir.path(), "edge");
    let token = dir.path().join("admin-token");
    cfsign_testkit::cli::write_private(&token, &format!("{}\n", "7e".repeat(32)));
    let log = dir.path().join("access.log");
    let config = dir.path().join("edge.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:8443"
admin_listen = "127.0.0.1:9901"
admin_token_file = "{}"
access_log = "json"
access_log_file = "{}"
[tls]
cert_file = "{}"
key_file = "{}"
[key_groups.main]
keys = [{{ id = "K2JCJMDEHXQW5F", public_key = "{}" }}]
[origins.media]
type = "directory"
root = "media"
[default_behavior]
origin = "media"
trusted_key_groups = ["main"]
"#,
            token.display(),
            log.display(),
            cert.display(),
            key.display(),
            data("keys/rsa2048.pub.pem")
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let checked = json_of(
        &[
            "edge",
            "--config",
            config,
            "--check",
            "--json",
            "--watch-config",
            "--watch-interval",
            "5",
        ],
        0,
    );
    assert_eq!(checked["schema"], 1);
    assert_eq!(checked["scheme"], "https", "{checked}");
    assert_eq!(
        checked["tls"],
        json!({
            "certificate": cert.display().to_string(),
            "chain_length": 1,
            "key": key.display().to_string(),
        })
    );
    assert_eq!(
        checked["admin"],
        json!({"listen": "127.0.0.1:9901", "token_file": token.display().to_string()})
    );
    // the configuration, the public key, the certificate, its key and the token
    assert_eq!(
        checked["watch"],
        json!({"files": 5, "interval_seconds": 5}),
        "{checked}"
    );
    assert_eq!(
        checked["access_log"],
        json!({"format": "json", "file": log.display().to_string()})
    );
    assert!(!checked.to_string().contains(&"7e".repeat(32)));
}
