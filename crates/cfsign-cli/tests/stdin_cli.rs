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
