//! `cfsign edge --config`: behaviors, and a key rotation by SIGHUP without a restart.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![cfg(unix)]

use cfsign::{KeyType, PrivateKey};
use cfsign_testkit::cli::{self, EdgeProcess};
use cfsign_testkit::http::get_blocking;
use cfsign_testkit::signer::TestSigner;
use http::StatusCode;

const CFSIGN: &str = env!("CARGO_BIN_EXE_cfsign");

/// `cfsign edge --config FILE EXTRA...` on 127.0.0.1.
fn start(config: &std::path::Path, extra: &[&str]) -> EdgeProcess {
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    EdgeProcess::start(CFSIGN, &args)
}

fn status(url: &str) -> (StatusCode, String) {
    let reply = get_blocking(url, &[]);
    (reply.status, reply.text())
}

fn signed(signer: &TestSigner, url: &str) -> String {
    signer.sign_url(url, 300)
}

fn config(key_id: &str, key_file: &str) -> String {
    format!(
        "[key_groups.main]\nkeys = [{{ id = \"{key_id}\", public_key = \"{key_file}\" }}]\n\
         [origins.media]\ntype = \"directory\"\nroot = \"media\"\n\
         [[behaviors]]\npath_pattern = \"/public/*\"\norigin = \"media\"\nrestricted = false\n\
         [default_behavior]\norigin = \"media\"\ntrusted_key_groups = [\"main\"]\n"
    )
}

#[test]
fn behaviors_and_key_rotation_by_sighup() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media/public")).unwrap();
    std::fs::write(dir.path().join("media/public/free.txt"), "free").unwrap();
    std::fs::write(dir.path().join("media/paid.txt"), "paid").unwrap();
    let mut signers = Vec::new();
    for name in ["a", "b"] {
        let signer = TestSigner::new(&format!("K{}", name.to_uppercase()));
        signer.write_public_key(&dir.path().join(format!("{name}.pem")));
        signers.push(signer);
    }
    let (a, b) = (&signers[0], &signers[1]);
    let file = dir.path().join("edge.toml");
    std::fs::write(&file, config("KA", "a.pem")).unwrap();
    let mut edge = start(&file, &[]);
    let paid = format!("{}/paid.txt", edge.base());

    assert_eq!(
        status(&format!("{}/public/free.txt", edge.base())),
        (StatusCode::OK, "free".to_owned())
    );
    assert_eq!(status(&paid).0, StatusCode::FORBIDDEN);
    assert_eq!(
        status(&signed(a, &paid)),
        (StatusCode::OK, "paid".to_owned())
    );
    assert!(status(&signed(b, &paid)).1.contains("InvalidKey"));

    // rotate: trust only key B, reload without restarting
    std::fs::write(&file, config("KB", "b.pem")).unwrap();
    edge.signal("HUP");
    assert!(edge.next_line().contains("reloaded"));
    assert!(status(&signed(a, &paid)).1.contains("InvalidKey"));
    assert_eq!(
        status(&signed(b, &paid)),
        (StatusCode::OK, "paid".to_owned())
    );

    // a broken configuration is refused and the running one keeps serving
    std::fs::write(&file, "[origins.media]\ntype = \"directory\"\nroot = \"nope\"\n[default_behavior]\norigin = \"media\"\nrestricted = false\n").unwrap();
    edge.signal("HUP");
    let line = edge.next_line();
    assert!(
        line.contains("reload failed") && line.contains("origins.media.root"),
        "{line}"
    );
    assert_eq!(status(&signed(b, &paid)).0, StatusCode::OK);
    assert_eq!(status(&paid).0, StatusCode::FORBIDDEN);

    // SIGTERM: a clean exit
    edge.signal("TERM");
    edge.wait_for_exit();
}

#[test]
fn admin_listener_and_json_access_log_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    std::fs::write(dir.path().join("media/paid.txt"), "paid").unwrap();
    let signer = TestSigner::new("KA");
    signer.write_public_key(&dir.path().join("a.pem"));
    let file = dir.path().join("edge.toml");
    std::fs::write(&file, config("KA", "a.pem")).unwrap();
    let log_file = dir.path().join("access.log");
    let mut edge = start(
        &file,
        &[
            "--admin-listen",
            "127.0.0.1:0",
            "--access-log",
            "json",
            "--access-log-file",
            log_file.to_str().unwrap(),
        ],
    );
    // the second line names the admin address
    let line = edge.next_line();
    let admin = line
        .strip_prefix("cfsign edge: admin listening on ")
        .and_then(|rest| rest.strip_suffix(" (/healthz, /readyz, /metrics, POST /invalidations)"))
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    assert_eq!(
        status(&format!("{admin}/healthz")),
        (StatusCode::OK, "ok".to_owned())
    );

    let url = signed(&signer, &format!("{}/paid.txt", edge.base()));
    assert_eq!(status(&url), (StatusCode::OK, "paid".to_owned()));
    assert_eq!(
        status(&format!("{}/paid.txt", edge.base())).0,
        StatusCode::FORBIDDEN
    );
    let (code, metrics) = status(&format!("{admin}/metrics"));
    assert_eq!(code, StatusCode::OK);
    for needle in [
        r#"cfsign_edge_requests_total{code="200",error_code="-",behavior="*"} 1"#,
        r#"cfsign_edge_requests_total{code="403",error_code="MissingKey",behavior="*"} 1"#,
    ] {
        assert!(metrics.contains(needle), "lacks {needle}:\n{metrics}");
    }

    // SIGTERM flushes the log; one JSON object per request, no signature
    edge.signal("TERM");
    edge.wait_for_exit();
    let text = std::fs::read_to_string(&log_file).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["sc-status"], 200);
    assert_eq!(lines[1]["x-edge-detailed-result-type"], "MissingKey");
    let signature = url
        .split("Signature=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(!text.contains(signature), "{text}");
}

#[test]
fn check_prints_the_behaviors_and_refuses_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    let key = PrivateKey::generate(KeyType::Rsa2048).unwrap();
    TestSigner::with_key("KA", key).write_public_key(&dir.path().join("a.pem"));
    let file = dir.path().join("edge.toml");
    std::fs::write(&file, config("KA", "a.pem")).unwrap();
    let (code, text, _) = edge_check(&["--config", file.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        text.contains("/public/*")
            && text.contains("public")
            && text.contains("signed URLs or cookies required"),
        "{text}"
    );
    std::fs::write(&file, config("KA", "missing.pem")).unwrap();
    let (code, _, stderr) = edge_check(&["--config", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("key_groups.main.keys[0].public_key"));
}

#[test]
fn cache_flags_reach_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let check = |extra: &[&str]| check_public(dir.path(), extra);
    let (code, text, _) = check(&[]);
    assert_eq!(code, 0);
    assert!(
        text.contains("cache: 268435456 bytes in all, objects up to 8388608 bytes, errors for 10s")
            && text.contains("TTL min/default/max 0/86400/31536000s"),
        "{text}"
    );
    let (code, text, _) = check(&["--cache-max-bytes", "0", "--default-ttl", "5"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("cache: off") && text.contains("TTL min/default/max 0/5/31536000s"),
        "{text}"
    );
    let (code, _, err) = check(&["--default-ttl", "40000000"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("default_ttl = 40000000") && err.contains("max_ttl = 31536000"),
        "{err}"
    );
}

#[test]
fn send_timeout_and_listen_backlog_flags() {
    let dir = tempfile::tempdir().unwrap();
    let check = |extra: &[&str]| check_public(dir.path(), extra);
    let (code, text, _) = check(&[]);
    assert_eq!(code, 0);
    assert!(
        text.contains("listen backlog 511; send timeout 30s"),
        "{text}"
    );
    let (code, text, _) = check(&["--send-timeout", "5", "--listen-backlog", "4096"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("listen backlog 4096; send timeout 5s"),
        "{text}"
    );
    for (flags, message) in [
        (
            ["--send-timeout", "0"],
            "--send-timeout: 0 is not between 1 and 3600 seconds; leave it out for the default, 30 seconds",
        ),
        (
            ["--send-timeout", "999999"],
            "--send-timeout: 999999 is not between 1 and 3600 seconds",
        ),
        (
            ["--listen-backlog", "0"],
            "--listen-backlog: 0 is not between 1 and 65535; leave it out for the default, 511",
        ),
        (
            ["--listen-backlog", "100000"],
            "--listen-backlog: 100000 is not between 1 and 65535",
        ),
    ] {
        let (code, stdout, err) = check(&flags);
        assert_eq!(code, 2, "{flags:?}");
        assert!(stdout.is_empty());
        assert!(err.contains(message), "{flags:?}: {err}");
    }
}

/// `cfsign edge ARGS --check`: (exit code, stdout, stderr).
fn edge_check(args: &[&str]) -> (i32, String, String) {
    cli::run(cli::command(CFSIGN).arg("edge").args(args).arg("--check"))
}

/// `cfsign edge --root ROOT --public EXTRA... --check`.
fn check_public(root: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["--root", root.to_str().unwrap(), "--public"];
    args.extend_from_slice(extra);
    edge_check(&args)
}

#[test]
fn flags_override_the_file_and_check_shows_the_result() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    let file = dir.path().join("edge.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:8081\"\nsend_timeout = 5\nlisten_backlog = 64\naccess_log = \"json\"\n\
         [origins.media]\ntype = \"directory\"\nroot = \"media\"\n\
         [[behaviors]]\npath_pattern = \"/text/*\"\norigin = \"media\"\nrestricted = false\ncompress = true\n\
         [default_behavior]\norigin = \"media\"\nrestricted = false\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let (code, stdout, stderr) = edge_check(&["--config", config]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("would listen on 127.0.0.1:8081 (http)")
            && stdout.contains("listen backlog 64; send timeout 5s")
            && stdout.contains("access log: json, to standard output")
            && stdout.contains("admin listener: off"),
        "{stdout}"
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains("-> origin")).collect();
    assert!(
        lines.len() == 2
            && lines[0].contains("/text/*")
            && lines[0].ends_with("; compress on; sign manifests off")
            && lines[1].ends_with("; compress off; sign manifests off"),
        "{stdout}"
    );
    let log = dir.path().join("access.log");
    let (code, stdout, stderr) = edge_check(&[
        "--config",
        config,
        "--listen",
        "127.0.0.1:9000",
        "--send-timeout",
        "60",
        "--listen-backlog",
        "128",
        "--access-log",
        "text",
        "--access-log-file",
        log.to_str().unwrap(),
        "--admin-listen",
        "127.0.0.1:9901",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("would listen on 127.0.0.1:9000 (http)")
            && stdout.contains("listen backlog 128; send timeout 60s")
            && stdout.contains(&format!("access log: text, appended to {}", log.display()))
            && stdout.contains(
                "admin (/healthz, /readyz, /metrics, POST /invalidations, POST /reload) on 127.0.0.1:9901"
            ),
        "{stdout}"
    );
}

#[test]
fn errors_name_the_flag_or_the_file_that_gave_the_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    let root = dir.path().join("media");
    let root = root.to_str().unwrap();
    let file = dir.path().join("edge.toml");
    std::fs::write(
        &file,
        "[origins.media]\ntype = \"directory\"\nroot = \"media\"\n\
         [default_behavior]\norigin = \"media\"\nrestricted = false\nmin_ttl = 10\ndefault_ttl = 5\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let missing = dir.path().join("missing.pem");
    let missing_key = format!("KA={}", missing.display());
    let cases: &[(&[&str], String)] = &[
        // a mistake in the file names the file and the field
        (
            &["--config", config],
            format!("--config {config}: default_behavior: TTLs must satisfy"),
        ),
        // a flag's value names the flag, also with a file
        (
            &["--config", config, "--send-timeout", "0"],
            "--send-timeout: 0 is not between 1 and 3600 seconds".to_owned(),
        ),
        (
            &["--root", root, "--public", "--cache-max-bytes", "1000"],
            "--cache-max-bytes: 1000 bytes cannot hold an object".to_owned(),
        ),
        (
            &[
                "--root",
                root,
                "--public",
                "--public-base-url",
                "https://a/b",
            ],
            "--public-base-url: \"https://a/b\" must be a scheme and host only".to_owned(),
        ),
        (
            &["--root", root, "--public", "--trusted-proxy", "10.0.0.0/33"],
            "--trusted-proxy: \"10.0.0.0/33\" is not an IP address or CIDR range".to_owned(),
        ),
        (
            &["--root", "no-such-folder", "--public"],
            "--root: cannot serve no-such-folder: ".to_owned(),
        ),
        (
            &["--root", root, "--public-key", &missing_key],
            format!(
                "--public-key: cannot read the public key file {}",
                missing.display()
            ),
        ),
        (
            &["--root", root, "--public-key", "K A=public.pem"],
            "--public-key: key pair ID \"K A\"".to_owned(),
        ),
        (
            &["--root", root, "--public-key", "public.pem"],
            "--public-key \"public.pem\": write KEYID=PATH".to_owned(),
        ),
    ];
    for (args, message) in cases {
        let (code, stdout, stderr) = edge_check(args);
        assert_eq!(code, 2, "{args:?}: {stdout}");
        assert!(
            stderr.starts_with(&format!("error: {message}")),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "the cause once: {stderr}");
    }
}

#[test]
fn sighup_reopens_the_access_log_and_counts_reloads() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media/public")).unwrap();
    std::fs::write(dir.path().join("media/public/a.txt"), "a").unwrap();
    let signer = TestSigner::new("KR");
    signer.write_public_key(&dir.path().join("r.pem"));
    let file = dir.path().join("edge.toml");
    std::fs::write(&file, config("KR", "r.pem")).unwrap();
    let log_file = dir.path().join("access.log");
    let rotated = dir.path().join("access.log.1");
    let mut edge = start(
        &file,
        &[
            "--admin-listen",
            "127.0.0.1:0",
            "--access-log",
            "text",
            "--access-log-file",
            log_file.to_str().unwrap(),
        ],
    );
    let line = edge.next_line();
    let admin = cfsign_testkit::cli::admin_base(&line);
    let metric = |name: &str| cli::metric(&admin, name);
    assert_eq!(metric("cfsign_edge_reloads_total{result=\"ok\"}"), "0");
    assert_eq!(metric("cfsign_edge_last_reload_timestamp_seconds "), "0");

    let first = format!("{}/public/a.txt?first", edge.base());
    assert_eq!(status(&first).0, StatusCode::OK);
    // logrotate without copytruncate: rename, then SIGHUP
    std::fs::rename(&log_file, &rotated).unwrap();
    edge.signal("HUP");
    assert!(edge.next_line().contains("reloaded"));
    let second = format!("{}/public/a.txt?second", edge.base());
    assert_eq!(status(&second).0, StatusCode::OK);
    assert_eq!(metric("cfsign_edge_reloads_total{result=\"ok\"}"), "1");
    assert_eq!(metric("cfsign_edge_reloads_total{result=\"error\"}"), "0");
    let at: u64 = metric("cfsign_edge_last_reload_timestamp_seconds ")
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(at <= now && at + 60 > now, "{at} vs {now}");

    // a broken configuration is a failed reload, counted; the timestamp stays
    std::fs::write(&file, "[[behaviors]\n").unwrap();
    edge.signal("HUP");
    assert!(edge.next_line().contains("reload failed"));
    assert_eq!(metric("cfsign_edge_reloads_total{result=\"error\"}"), "1");
    assert_eq!(metric("cfsign_edge_reloads_total{result=\"ok\"}"), "1");
    assert_eq!(
        metric("cfsign_edge_last_reload_timestamp_seconds "),
        at.to_string()
    );

    edge.signal("TERM");
    edge.wait_for_exit();
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&log_file).unwrap();
    assert_eq!(old.lines().count(), 1, "{old}");
    assert!(old.contains("first"), "{old}");
    assert_eq!(new.lines().count(), 1, "{new}");
    assert!(new.contains("second"), "{new}");
    let mode = std::fs::metadata(&log_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o640, 0, "{mode:o}");
}
