//! `cfsign edge` over TLS: `--tls-cert/--tls-key` (and `[tls]` with `--config`),
//! signed URLs over HTTPS, the certificate re-read on SIGHUP (a broken one refused
//! while the running one keeps serving), `--check` validating the TLS files.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![cfg(unix)]

use std::net::SocketAddr;
use std::path::Path;

use cfsign_testkit::cli::{self, EdgeProcess};
use cfsign_testkit::http::path_of;
use cfsign_testkit::signer::TestSigner;
use cfsign_testkit::tls::{self as tk, TestCert};

const CFSIGN: &str = env!("CARGO_BIN_EXE_cfsign");

/// `cfsign edge ARGS --access-log off`, over TLS.
fn start(args: &[&str]) -> EdgeProcess {
    let mut all = args.to_vec();
    all.extend(["--access-log", "off"]);
    let edge = EdgeProcess::start(CFSIGN, &all);
    assert!(
        edge.base().starts_with("https://"),
        "not an https listener: {}",
        edge.base()
    );
    edge
}

fn get(edge: &EdgeProcess, path: &str, trusted: &[&TestCert]) -> tk::Reply {
    tk::get_blocking(edge.addr(), "localhost", path, trusted).unwrap()
}

fn signed_path(signer: &TestSigner, addr: SocketAddr, path: &str) -> String {
    let url = format!("https://localhost:{}{path}", addr.port());
    path_of(&signer.sign_url(&url, 300)).to_owned()
}

/// A folder with `media/paid.txt`, a public key `public.pem`, and the signer.
fn site() -> (tempfile::TempDir, TestSigner) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    std::fs::write(dir.path().join("media/paid.txt"), "paid").unwrap();
    let signer = TestSigner::new("KA");
    signer.write_public_key(&dir.path().join("public.pem"));
    (dir, signer)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn https_with_flags_and_certificate_reload_by_sighup() {
    let (dir, signer) = site();
    let first = tk::self_signed(&["localhost"]);
    let (cert, key) = first.write(dir.path(), "live");
    let public_key = format!("KA={}", s(&dir.path().join("public.pem")));
    let mut edge = start(&[
        "--root",
        s(&dir.path().join("media")),
        "--public-key",
        &public_key,
        "--tls-cert",
        s(&cert),
        "--tls-key",
        s(&key),
    ]);
    let second = tk::self_signed(&["localhost"]);
    let both = [&first, &second];

    // a URL signed for https://localhost:PORT/paid.txt
    let ok = get(
        &edge,
        &signed_path(&signer, edge.addr(), "/paid.txt"),
        &both,
    );
    assert_eq!((ok.status, &ok.body[..]), (200, &b"paid"[..]));
    assert_eq!(ok.peer_certificate, first.der);
    let denied = get(&edge, "/paid.txt", &both);
    assert_eq!(denied.status, 403);
    assert!(
        String::from_utf8_lossy(&denied.body).contains("<Code>MissingKey</Code>"),
        "{denied:?}"
    );

    // a renewed certificate: the same paths, re-read on SIGHUP
    second.write(dir.path(), "live");
    edge.signal("HUP");
    let line = edge.next_line();
    assert!(line.contains("TLS certificate reloaded"), "{line}");
    let renewed = get(
        &edge,
        &signed_path(&signer, edge.addr(), "/paid.txt"),
        &both,
    );
    assert_eq!(renewed.peer_certificate, second.der);
    assert_eq!(renewed.status, 200);

    // a key that does not match is refused, naming the flag that gave it; the running
    // certificate keeps serving
    let stranger = tk::self_signed(&["localhost"]);
    std::fs::write(&key, &stranger.key_pem).unwrap();
    edge.signal("HUP");
    let line = edge.next_line();
    assert!(
        line.contains("reload failed (SIGHUP), keeping the running configuration: --tls-key: ")
            && line.contains(s(&key)),
        "{line}"
    );
    let still = get(&edge, "/paid.txt", &both);
    assert_eq!(
        (still.status, still.peer_certificate),
        (403, second.der.clone())
    );

    // SIGTERM: a clean exit
    edge.signal("TERM");
    edge.wait_for_exit();
}

/// `cfsign edge ARGS`: (exit code, stdout, stderr).
fn edge_output(args: &[&str]) -> (i32, String, String) {
    cli::run(cli::command(CFSIGN).arg("edge").args(args))
}

#[test]
fn tls_flags_go_together() {
    let (dir, _) = site();
    let cert = tk::self_signed(&["localhost"]);
    let (cert_file, key_file) = cert.write(dir.path(), "a");
    let public_key = format!("KA={}", s(&dir.path().join("public.pem")));
    for (given, missing) in [("--tls-cert", "--tls-key"), ("--tls-key", "--tls-cert")] {
        let file = if given == "--tls-cert" {
            &cert_file
        } else {
            &key_file
        };
        let (code, _, stderr) = edge_output(&[
            "--root",
            s(dir.path()),
            "--public-key",
            &public_key,
            given,
            s(file),
            "--check",
        ]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(missing), "{stderr}");
    }
}

#[test]
fn check_validates_the_tls_files() {
    let (dir, _) = site();
    let cert = tk::self_signed(&["localhost"]);
    let (cert_file, key_file) = cert.write(dir.path(), "site");
    let toml = |tls: &str| {
        format!(
            "{tls}\n[key_groups.main]\nkeys = [{{ id = \"KA\", public_key = \"public.pem\" }}]\n\
             [origins.media]\ntype = \"directory\"\nroot = \"media\"\n\
             [default_behavior]\norigin = \"media\"\ntrusted_key_groups = [\"main\"]\n"
        )
    };
    let file = dir.path().join("edge.toml");
    std::fs::write(
        &file,
        toml("[tls]\ncert_file = \"site-cert.pem\"\nkey_file = \"site-key.pem\""),
    )
    .unwrap();
    let (code, stdout, stderr) = edge_output(&["--config", s(&file), "--check"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("(https)")
            && stdout.contains("TLS: certificate")
            && stdout.contains(s(&cert_file)),
        "{stdout}"
    );

    // the key of another certificate: refused, naming the field and the file
    let other = tk::self_signed(&["localhost"]);
    let (_, other_key) = other.write(dir.path(), "other");
    std::fs::write(
        &file,
        toml("[tls]\ncert_file = \"site-cert.pem\"\nkey_file = \"other-key.pem\""),
    )
    .unwrap();
    let (code, _, stderr) = edge_output(&["--config", s(&file), "--check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("tls.key_file")
            && stderr.contains(s(&other_key))
            && stderr.contains("does not belong"),
        "{stderr}"
    );

    // --tls-cert/--tls-key with --config: they take the place of the file's [tls]
    let (code, stdout, stderr) = edge_output(&[
        "--config",
        s(&file),
        "--tls-cert",
        s(&cert_file),
        "--tls-key",
        s(&key_file),
        "--check",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(s(&key_file)), "{stdout}");

    // and a plain configuration says so
    std::fs::write(&file, toml("")).unwrap();
    let (code, stdout, _) = edge_output(&["--config", s(&file), "--check"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("(http)") && stdout.contains("TLS: off"),
        "{stdout}"
    );
}
