//! Standard input: `cfsign batch` streaming from a pipe, and `-` for stdin.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cfsign_testkit::cli;
use cfsign_testkit::data::path as data;

/// The binary, without the test's own `CFSIGN_*` variables.
fn cfsign() -> Command {
    cli::command(env!("CARGO_BIN_EXE_cfsign"))
}

const ID: &str = "K2JCJMDEHXQW5F";
const URL_A: &str = "https://d111111abcdef8.cloudfront.net/a.ts";
const URL_B: &str = "https://d111111abcdef8.cloudfront.net/b.ts";

fn signing_args(key: &str) -> Vec<String> {
    [
        "--key-pair-id",
        ID,
        "--private-key",
        key,
        "--expires",
        "1767290400",
        "--now",
        "2026-01-01T00:00:00Z",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn batch_from_a_pipe_writes_each_line_as_it_arrives() {
    let key = data("keys/rsa2048.pkcs1.pem");
    let mut child = cfsign()
        .arg("batch")
        .args(signing_args(&key))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    // Lines of stdout arrive on a channel, so that a missing one is a timeout.
    let (sender, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if sender.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    for url in [URL_A, URL_B] {
        writeln!(stdin, "{url}").unwrap();
        stdin.flush().unwrap();
        // The pipe is still open: the signed line must come without the end of input.
        let signed = lines
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| {
                let _ = child.kill();
                panic!("no signed line for {url} within 5 s while stdin is open: {e}")
            });
        assert!(
            signed.starts_with(&format!("{url}?Expires=1767290400&Signature=")),
            "{signed}"
        );
        assert!(signed.ends_with(&format!("&Key-Pair-Id={ID}")), "{signed}");
    }
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(lines.try_recv().is_err(), "no more output lines");
}

#[test]
fn batch_from_a_regular_file_or_input_dash_signs_the_same() {
    let key = data("keys/rsa2048.pkcs1.pem");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("urls.txt");
    std::fs::write(&file, format!("{URL_A}\n{URL_B}\n")).unwrap();
    let from_file = cli::run(
        cfsign()
            .args(["batch", "--input", file.to_str().unwrap()])
            .args(signing_args(&key)),
    );
    assert_eq!(from_file.0, 0, "{}", from_file.2);
    assert_eq!(from_file.1.lines().count(), 2);
    // `--input -` reads stdin, here a pipe.
    let from_dash = cli::run_with_stdin(
        cfsign()
            .args(["batch", "--input", "-"])
            .args(signing_args(&key)),
        &format!("{URL_A}\n{URL_B}\n"),
    );
    assert_eq!(from_dash, from_file);
    // stdin redirected from the regular file takes the chunked path, same output.
    let from_redirect = cfsign()
        .arg("batch")
        .args(signing_args(&key))
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert_eq!(from_redirect.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(from_redirect.stdout).unwrap(),
        from_file.1
    );
}

fn url_args(url: &str, key: &str) -> Vec<String> {
    let mut args = vec!["url".to_owned(), url.to_owned()];
    args.extend(signing_args(key));
    args
}

#[test]
fn url_dash_reads_one_url_from_stdin() {
    let key = data("keys/rsa2048.pkcs1.pem");
    let (code, expected, err) = cli::run(cfsign().args(url_args(URL_A, &key)));
    assert_eq!((code, err.as_str()), (0, ""));
    for input in [
        format!("{URL_A}\n"),
        format!("{URL_A}\r\n"),
        URL_A.to_owned(),
    ] {
        let got = cli::run_with_stdin(cfsign().args(url_args("-", &key)), &input);
        assert_eq!(got, (0, expected.clone(), String::new()), "{input:?}");
    }
    // One URL only: a list belongs to `cfsign batch`.
    let (code, out, err) = cli::run_with_stdin(
        cfsign().args(url_args("-", &key)),
        &format!("{URL_A}\n{URL_B}\n"),
    );
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("URL -: standard input holds more than one line"),
        "{err}"
    );
}

#[test]
fn inspect_dash_reads_the_signed_url_from_stdin() {
    let key = data("keys/rsa2048.pkcs1.pem");
    let (_, signed, _) = cli::run(cfsign().args(url_args(URL_A, &key)));
    for json in [false, true] {
        let mut direct = cfsign();
        direct.args(["inspect", signed.trim()]);
        let mut piped = cfsign();
        piped.args(["inspect", "-"]);
        if json {
            direct.arg("--json");
            piped.arg("--json");
        }
        let (code, expected, err) = cli::run(&mut direct);
        assert_eq!(code, 0, "{err}");
        assert!(expected.contains("1767290400"), "{expected}");
        let (code, got, err) = cli::run_with_stdin(&mut piped, &signed);
        assert_eq!((code, err.as_str()), (0, ""));
        assert_eq!(without_now(&got, json), without_now(&expected, json));
    }
}

/// `inspect`'s output without its "now" (which differs between two runs).
fn without_now(output: &str, json: bool) -> String {
    if json {
        let mut value: serde_json::Value = serde_json::from_str(output).unwrap();
        value.as_object_mut().unwrap().remove("now").unwrap();
        value.to_string()
    } else {
        output
            .lines()
            .filter(|l| !l.trim_start().starts_with("now:"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[test]
fn private_key_dash_reads_the_key_from_stdin_within_its_bound() {
    let key = data("keys/rsa2048.pkcs1.pem");
    let (code, expected, _) = cli::run(cfsign().args(url_args(URL_A, &key)));
    assert_eq!(code, 0);
    let pem = std::fs::read_to_string(&key).unwrap();
    let got = cli::run_with_stdin(cfsign().args(url_args(URL_A, "-")), &pem);
    assert_eq!(got, (0, expected, String::new()));
    // batch with --input FILE leaves stdin to the key.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("urls.txt");
    std::fs::write(&file, format!("{URL_A}\n")).unwrap();
    let (code, out, err) = cli::run_with_stdin(
        cfsign()
            .args(["batch", "--input", file.to_str().unwrap()])
            .args(signing_args("-")),
        &pem,
    );
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.starts_with(URL_A));
    // The core's PRIVATE_KEY_FILE bound (64 KiB) applies to stdin too.
    let huge = "A".repeat(64 * 1024 + 1);
    let (code, out, err) = cli::run_with_stdin(cfsign().args(url_args(URL_A, "-")), &huge);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains(
            "--private-key -: the private key file on standard input is larger than 64 KiB"
        ),
        "{err}"
    );
}

#[test]
fn two_stdin_uses_in_one_command_are_refused() {
    let key = data("keys/rsa2048.pkcs1.pem");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            url_args("-", "-"),
            "URL - and --private-key - both read standard input",
        ),
        (
            [
                "batch",
                "--private-key",
                "-",
                "--key-pair-id",
                ID,
                "--expires",
                "1767290400",
            ]
            .map(str::to_owned)
            .to_vec(),
            "the URL list (standard input without --input FILE) and --private-key - both read \
             standard input",
        ),
        (
            [
                "batch",
                "--input",
                "-",
                "--policy",
                "-",
                "--key-pair-id",
                ID,
                "--private-key",
                &key,
            ]
            .map(str::to_owned)
            .to_vec(),
            "--input - and --policy - both read standard input",
        ),
        (
            [
                "url",
                URL_A,
                "--policy",
                "-",
                "--key-pair-id",
                ID,
                "--private-key",
                "-",
            ]
            .map(str::to_owned)
            .to_vec(),
            "--private-key - and --policy - both read standard input",
        ),
    ];
    for (args, message) in cases {
        let (code, out, err) = cli::run_with_stdin(cfsign().args(&args), "whatever\n");
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
}
