//! Every file and stream input of the `cfsign` binary is read with a bound that
//! fits its kind: `/dev/zero` and a FIFO whose writer never stops are refused at
//! once (exit 2, within 1 s of the child's life, under 64 MiB of resident memory,
//! the message naming the input and the bound). A FIFO whose writer stays open and
//! silent is refused after the 10 s deadline when it stands for a file (a key, a
//! policy, a configuration, a certificate), and waited for like `cat` would when it
//! is a stream (standard input, `batch --input`). Errors about a 120 KB URL echo a
//! window of it, not all of it.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![cfg(unix)]

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cfsign_testkit::cli;
use cfsign_testkit::data::path as data;
use cfsign_testkit::process::{Measured, Outcome, mkfifo};
use cfsign_testkit::tls;

/// "At once": the whole life of the child, from spawn to exit.
const AT_ONCE: Duration = Duration::from_secs(1);
/// Peak resident memory allowed to a child fed an endless input.
const MAX_RSS_BYTES: u64 = 64 << 20;
/// How long a file that is a pipe may take (`cfsign::input::PIPE_DEADLINE`).
const PIPE_DEADLINE: Duration = Duration::from_secs(10);

const KEY_ID: &str = "K2JCJMDEHXQW5F";
const URL: &str = "https://d111111abcdef8.cloudfront.net/a.jpg";

/// Files the inputs that are not under test point to, and a place for FIFOs.
struct Fixture {
    dir: tempfile::TempDir,
    cert: String,
    tls_key: String,
    count: AtomicUsize,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("media")).unwrap();
        let (cert, tls_key) = tls::self_signed(&["localhost"]).write(dir.path(), "tls");
        Self {
            dir,
            cert: cert.to_string_lossy().into_owned(),
            tls_key: tls_key.to_string_lossy().into_owned(),
            count: AtomicUsize::new(0),
        }
    }

    fn fresh(&self, stem: &str) -> PathBuf {
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        self.dir.path().join(format!("{stem}-{n}"))
    }

    /// An edge configuration whose public key, TLS certificate and TLS key are the
    /// given files.
    fn config(&self, public_key: &str, tls_cert: &str, tls_key: &str) -> String {
        let path = self.fresh("edge.toml");
        let media = self.dir.path().join("media");
        std::fs::write(
            &path,
            format!(
                "[key_groups.main]\nkeys = [{{ id = \"{KEY_ID}\", public_key = \"{public_key}\" }}]\n\
                 [origins.media]\ntype = \"directory\"\nroot = \"{}\"\n\
                 [default_behavior]\norigin = \"media\"\ntrusted_key_groups = [\"main\"]\n\
                 [tls]\ncert_file = \"{tls_cert}\"\nkey_file = \"{tls_key}\"\n",
                media.display()
            ),
        )
        .unwrap();
        path.to_string_lossy().into_owned()
    }
}

/// Where the input under test goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// A path on the command line (or in a file it names).
    Path,
    /// Standard input.
    Stdin,
}

/// One input of the binary.
struct Input {
    name: &'static str,
    slot: Slot,
    /// The arguments, given the path of the input under test (for [`Slot::Path`]).
    args: fn(&Fixture, &str) -> Vec<String>,
    /// An environment variable that holds the path instead of an argument.
    env: Option<&'static str>,
    /// What the message must contain: the flag or field, and the input's name.
    names: &'static [&'static str],
    /// The bound, as the message says it.
    bound: &'static str,
    /// Read as a stream (line by line, no deadline): the exit code once a silent
    /// writer closes without writing; `None` for file inputs.
    stream_eof_code: Option<i32>,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn signing(extra: &[&str]) -> Vec<String> {
    let mut v = strings(&["url", URL, "--key-pair-id", KEY_ID]);
    v.extend(strings(extra));
    v
}

fn inputs() -> Vec<Input> {
    const KEY: &str = "64 KiB (65536 bytes)";
    const MIB: &str = "1 MiB (1048576 bytes)";
    vec![
        Input {
            name: "--private-key PATH",
            slot: Slot::Path,
            args: |_, p| signing(&["--expires-in", "1h", "--private-key", p]),
            env: None,
            names: &["--private-key", "the private key file"],
            bound: KEY,
            stream_eof_code: None,
        },
        Input {
            name: "--private-key file://PATH",
            slot: Slot::Path,
            args: |_, p| {
                signing(&[
                    "--expires-in",
                    "1h",
                    "--private-key",
                    &format!("file://{p}"),
                ])
            },
            env: None,
            names: &["--private-key", "the private key file"],
            bound: KEY,
            stream_eof_code: None,
        },
        Input {
            name: "CFSIGN_PRIVATE_KEY=PATH",
            slot: Slot::Path,
            args: |_, _| signing(&["--expires-in", "1h"]),
            env: Some("CFSIGN_PRIVATE_KEY"),
            names: &["--private-key", "the private key file"],
            bound: KEY,
            stream_eof_code: None,
        },
        Input {
            name: "--policy FILE",
            slot: Slot::Path,
            args: |_, p| {
                signing(&[
                    "--private-key",
                    &data("keys/rsa2048.pkcs8.pem"),
                    "--policy",
                    p,
                ])
            },
            env: None,
            names: &["--policy", "the policy file"],
            bound: "16 KiB (16384 bytes)",
            stream_eof_code: None,
        },
        Input {
            name: "--policy - (standard input)",
            slot: Slot::Stdin,
            args: |_, _| {
                signing(&[
                    "--private-key",
                    &data("keys/rsa2048.pkcs8.pem"),
                    "--policy",
                    "-",
                ])
            },
            env: None,
            names: &["--policy", "the policy file on standard input"],
            bound: "16 KiB (16384 bytes)",
            // An empty policy is not JSON.
            stream_eof_code: Some(2),
        },
        Input {
            name: "verify --public-key K=PATH",
            slot: Slot::Path,
            args: |_, p| strings(&["verify", URL, "--public-key", &format!("{KEY_ID}={p}")]),
            env: None,
            names: &["--public-key", "the public key file"],
            bound: KEY,
            stream_eof_code: None,
        },
        Input {
            name: "verify - (standard input)",
            slot: Slot::Stdin,
            args: |_, _| {
                let key = format!("{KEY_ID}={}", data("keys/rsa2048.pub.pem"));
                strings(&["verify", "-", "--public-key", &key])
            },
            env: None,
            names: &["line 1 of standard input"],
            bound: "16 KiB (16384 bytes)",
            stream_eof_code: Some(0),
        },
        Input {
            name: "batch --input FILE",
            slot: Slot::Path,
            args: |_, p| {
                let key = data("keys/ec-p256.sec1.pem");
                strings(&[
                    "batch",
                    "--key-pair-id",
                    KEY_ID,
                    "--private-key",
                    &key,
                    "--expires-in",
                    "1h",
                    "--input",
                    p,
                ])
            },
            env: None,
            names: &["--input", "line 1 of "],
            bound: KEY,
            stream_eof_code: Some(0),
        },
        Input {
            name: "batch < standard input",
            slot: Slot::Stdin,
            args: |_, _| {
                let key = data("keys/ec-p256.sec1.pem");
                strings(&[
                    "batch",
                    "--key-pair-id",
                    KEY_ID,
                    "--private-key",
                    &key,
                    "--expires-in",
                    "1h",
                ])
            },
            env: None,
            names: &["line 1 of standard input"],
            bound: KEY,
            stream_eof_code: Some(0),
        },
        Input {
            name: "batch --jsonl < standard input",
            slot: Slot::Stdin,
            args: |_, _| {
                let key = data("keys/ec-p256.sec1.pem");
                strings(&[
                    "batch",
                    "--jsonl",
                    "--key-pair-id",
                    KEY_ID,
                    "--private-key",
                    &key,
                    "--expires-in",
                    "1h",
                ])
            },
            env: None,
            names: &["line 1 of standard input"],
            bound: KEY,
            stream_eof_code: Some(0),
        },
        Input {
            name: "edge --config FILE --check",
            slot: Slot::Path,
            args: |_, p| strings(&["edge", "--config", p, "--check"]),
            env: None,
            names: &["--config", "the configuration file"],
            bound: MIB,
            stream_eof_code: None,
        },
        Input {
            name: "edge --tls-cert PATH --check",
            slot: Slot::Path,
            args: |f, p| {
                strings(&[
                    "edge",
                    "--public",
                    "--tls-cert",
                    p,
                    "--tls-key",
                    &f.tls_key,
                    "--check",
                ])
            },
            env: None,
            names: &["--tls-cert", "the TLS certificate file"],
            bound: MIB,
            stream_eof_code: None,
        },
        Input {
            name: "edge --tls-key PATH --check",
            slot: Slot::Path,
            args: |f, p| {
                strings(&[
                    "edge",
                    "--public",
                    "--tls-cert",
                    &f.cert,
                    "--tls-key",
                    p,
                    "--check",
                ])
            },
            env: None,
            names: &["--tls-key", "the TLS private key file"],
            bound: MIB,
            stream_eof_code: None,
        },
        Input {
            name: "edge --config with [tls] cert_file = PATH",
            slot: Slot::Path,
            args: |f, p| {
                let config = f.config(&data("keys/rsa2048.pub.pem"), p, &f.tls_key);
                strings(&["edge", "--config", &config, "--check"])
            },
            env: None,
            names: &["--config", "tls.cert_file", "the TLS certificate file"],
            bound: MIB,
            stream_eof_code: None,
        },
        Input {
            name: "edge --config with [tls] key_file = PATH",
            slot: Slot::Path,
            args: |f, p| {
                let config = f.config(&data("keys/rsa2048.pub.pem"), &f.cert, p);
                strings(&["edge", "--config", &config, "--check"])
            },
            env: None,
            names: &["--config", "tls.key_file", "the TLS private key file"],
            bound: MIB,
            stream_eof_code: None,
        },
        Input {
            name: "edge --config with a key group's public_key = PATH",
            slot: Slot::Path,
            args: |f, p| {
                let config = f.config(p, &f.cert, &f.tls_key);
                strings(&["edge", "--config", &config, "--check"])
            },
            env: None,
            names: &["--config", "the public key file"],
            bound: KEY,
            stream_eof_code: None,
        },
    ]
}

/// What the input under test is fed.
#[derive(Clone, Copy, Debug)]
enum Feed {
    DevZero,
    /// A FIFO a writer fills with zero bytes until the reader goes away.
    EndlessFifo,
    /// A FIFO whose writer keeps it open and writes nothing.
    SilentFifo,
}

/// The input under test, ready to be given to a child; the writer ends on drop.
struct Fed {
    path: String,
    stdin: Option<File>,
    writer: Option<Child>,
    /// The silent writer's end of the FIFO: dropping it is the end of the stream.
    silent: Option<File>,
}

impl Drop for Fed {
    fn drop(&mut self) {
        if let Some(mut writer) = self.writer.take() {
            let _ = writer.kill();
            let _ = writer.wait();
        }
    }
}

fn feed(fixture: &Fixture, feed: Feed, slot: Slot) -> Fed {
    let mut fed = Fed {
        path: "/dev/zero".to_owned(),
        stdin: None,
        writer: None,
        silent: None,
    };
    let fifo = match feed {
        Feed::DevZero => {
            if slot == Slot::Stdin {
                fed.stdin = Some(File::open("/dev/zero").unwrap());
            }
            return fed;
        }
        Feed::EndlessFifo | Feed::SilentFifo => {
            let fifo = fixture.fresh("fifo");
            mkfifo(&fifo);
            fifo
        }
    };
    fed.path = fifo.to_string_lossy().into_owned();
    match feed {
        Feed::EndlessFifo => {
            // Opening the FIFO to write waits for the reader: the child, or this test for stdin.
            fed.writer = Some(
                Command::new("sh")
                    .args(["-c", "exec cat /dev/zero > \"$1\"", "sh", &fed.path])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
        }
        Feed::SilentFifo => {
            // Read-write: opens at once and counts as a writer that never writes.
            fed.silent = Some(
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&fifo)
                    .unwrap(),
            );
        }
        Feed::DevZero => unreachable!(),
    }
    if slot == Slot::Stdin {
        fed.stdin = Some(File::open(&fifo).unwrap());
    }
    fed
}

fn spawn(fixture: &Fixture, input: &Input, fed: &mut Fed) -> Measured {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cfsign"));
    command
        .args((input.args)(fixture, &fed.path))
        .env_remove("CFSIGN_KEY_PAIR_ID")
        .env_remove("CFSIGN_PRIVATE_KEY")
        .env_remove("CFSIGN_PRIVATE_KEY_PEM")
        .stdin(fed.stdin.take().map_or_else(Stdio::null, Stdio::from));
    if let Some(var) = input.env {
        command.env(var, &fed.path);
    }
    Measured::spawn(&mut command)
}

fn describe(input: &Input, feed: Feed, o: &Outcome) -> String {
    format!(
        "{} fed {feed:?}: exit {:?} (signal {:?}, timed out {}), {:?}, {} KiB peak (this test \
         process: {} KiB)\nstderr: {}",
        input.name,
        o.code,
        o.signal,
        o.timed_out,
        o.wall,
        o.max_rss_bytes >> 10,
        o.parent_rss_bytes >> 10,
        o.stderr
    )
}

fn assert_refused(input: &Input, feed: Feed, o: &Outcome, within: Duration, needles: &[&str]) {
    let what = describe(input, feed, o);
    assert_eq!(o.code, Some(2), "{what}");
    assert!(o.wall < within, "not within {within:?}: {what}");
    assert!(o.max_rss_bytes < MAX_RSS_BYTES, "over 64 MiB: {what}");
    assert!(o.stdout.is_empty(), "printed to stdout: {what}");
    for needle in input.names.iter().chain(needles) {
        assert!(o.stderr.contains(needle), "stderr lacks {needle:?}: {what}");
    }
    assert_eq!(o.stderr.lines().count(), 1, "one line of error: {what}");
}

fn refused_at_once(feed_kind: Feed) {
    let fixture = Fixture::new();
    for input in inputs() {
        let mut fed = feed(&fixture, feed_kind, input.slot);
        let child = spawn(&fixture, &input, &mut fed);
        let outcome = child.finish(Duration::from_secs(20));
        drop(fed);
        assert_refused(&input, feed_kind, &outcome, AT_ONCE, &[input.bound]);
    }
}

#[test]
fn dev_zero_is_refused_at_once_in_bounded_memory() {
    refused_at_once(Feed::DevZero);
}

#[test]
fn a_fifo_that_never_ends_is_refused_at_once_in_bounded_memory() {
    refused_at_once(Feed::EndlessFifo);
}

/// A key, policy, configuration or certificate that is a FIFO whose writer stays
/// open and silent: refused after the deadline, not waited for forever. All at
/// once, so the test takes the deadline once.
#[test]
fn a_silent_fifo_standing_for_a_file_is_refused_after_the_deadline() {
    let fixture = Fixture::new();
    let inputs: Vec<Input> = inputs()
        .into_iter()
        .filter(|i| i.stream_eof_code.is_none())
        .collect();
    let running: Vec<(Fed, Measured)> = inputs
        .iter()
        .map(|input| {
            let mut fed = feed(&fixture, Feed::SilentFifo, input.slot);
            let child = spawn(&fixture, input, &mut fed);
            (fed, child)
        })
        .collect();
    for (input, (fed, child)) in inputs.iter().zip(running) {
        let outcome = child.finish(PIPE_DEADLINE * 2);
        drop(fed);
        let what = describe(input, Feed::SilentFifo, &outcome);
        assert!(outcome.wall >= PIPE_DEADLINE, "before the deadline: {what}");
        assert_refused(
            input,
            Feed::SilentFifo,
            &outcome,
            PIPE_DEADLINE + Duration::from_secs(3),
            &[
                "is not a regular file",
                "did not end within 10 s",
                input.bound,
            ],
        );
    }
}

/// Standard input and `batch --input` are streams: a silent writer is waited for
/// (as `cat` would), in bounded memory, and the stream's end is seen at once.
#[test]
fn a_silent_stream_is_waited_for_until_its_writer_closes() {
    let fixture = Fixture::new();
    let inputs: Vec<Input> = inputs()
        .into_iter()
        .filter(|i| i.stream_eof_code.is_some())
        .collect();
    let mut running: Vec<(Fed, Measured)> = inputs
        .iter()
        .map(|input| {
            let mut fed = feed(&fixture, Feed::SilentFifo, input.slot);
            let child = spawn(&fixture, input, &mut fed);
            (fed, child)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    for (input, (_, child)) in inputs.iter().zip(running.iter_mut()) {
        assert!(
            child.running(),
            "{} did not wait for its writer",
            input.name
        );
    }
    for (input, (mut fed, child)) in inputs.iter().zip(running) {
        let closed_at = child.elapsed();
        drop(fed.silent.take());
        let outcome = child.finish(Duration::from_secs(20));
        drop(fed);
        let what = describe(input, Feed::SilentFifo, &outcome);
        assert_eq!(outcome.code, input.stream_eof_code, "{what}");
        assert!(
            outcome.wall.saturating_sub(closed_at) < AT_ONCE,
            "the end of the stream was not seen at once: {what}"
        );
        assert!(outcome.max_rss_bytes < MAX_RSS_BYTES, "over 64 MiB: {what}");
    }
}

/// A line over the bound stops `batch` with exit 2 after the lines before it were
/// signed and written (in order); `verify -` likewise after its earlier verdicts.
#[test]
fn a_long_line_stops_the_stream_after_the_lines_before_it() {
    let key = data("keys/ec-p256.sec1.pem");
    let long = format!("https://x.example.com/{}", "a".repeat(70_000));
    let input = format!(
        "https://x.example.com/1.jpg\nhttps://x.example.com/2.jpg\n{long}\nhttps://x.example.com/4.jpg\n"
    );
    let (code, stdout, stderr) = cli::run_with_stdin(
        cli::command(env!("CARGO_BIN_EXE_cfsign")).args([
            "batch",
            "--key-pair-id",
            KEY_ID,
            "--private-key",
            &key,
            "--expires-in",
            "1h",
        ]),
        &input,
    );
    assert_eq!(code, 2, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("https://x.example.com/1.jpg?Expires="));
    assert!(lines[1].starts_with("https://x.example.com/2.jpg?Expires="));
    assert!(
        stderr.contains("line 3 of standard input is longer than 64 KiB (65536 bytes)"),
        "{stderr}"
    );

    let public = format!("{KEY_ID}={}", data("keys/ec-p256.pub.pem"));
    let long = format!("https://x.example.com/{}", "a".repeat(20_000));
    let input = format!("https://x.example.com/1.jpg\n{long}\nhttps://x.example.com/3.jpg\n");
    let (code, stdout, stderr) = cli::run_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_cfsign")).args(["verify", "-", "--public-key", &public]),
        &input,
    );
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("403 MissingKey"), "{stdout}");
    assert!(
        stderr.contains("line 2 of standard input is longer than 16 KiB (16384 bytes)"),
        "{stderr}"
    );
}

/// Errors about a 120 KB URL (or resource) show a window of it, with the length,
/// and keep the position of the bad character.
#[test]
fn errors_about_a_120_kb_url_echo_a_window() {
    let key = data("keys/rsa2048.pkcs8.pem");
    let public = format!("{KEY_ID}={}", data("keys/rsa2048.pub.pem"));
    let a = "a".repeat(60_000);
    let spaced = format!("https://x.example.com/{a} {a}");
    let too_long = format!("https://x.example.com/{a}{a}");
    let no_scheme = format!("htps://x.example.com/{a}{a}");
    let wildcard = format!("https://x.example.com/{a}{a}*");
    let with_key = |v: &[&str]| {
        let mut args = strings(v);
        args.extend(strings(&[
            "--key-pair-id",
            KEY_ID,
            "--private-key",
            &key,
            "--expires-in",
            "1h",
        ]));
        args
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            with_key(&["url", &too_long]),
            vec![
                "URL \"https://x.example.com/aaa",
                "(120022 bytes)",
                "over 8192 bytes",
            ],
        ),
        (
            with_key(&["url", &spaced, "--encode"]),
            vec!["URL \"https://x.example.com/aaa", "bytes)"],
        ),
        (
            with_key(&["url", &no_scheme, "--encode"]),
            vec![
                "\"htps://x.example.com/aaa",
                "(120021 bytes)",
                "http:// or https://",
            ],
        ),
        (
            with_key(&["url", &format!("https://x.example.com/{a}#{a}"), "--encode"]),
            vec!["fragment", "at position 60022", "(60001 bytes)"],
        ),
        (
            with_key(&["url", URL, "--resource", &wildcard]),
            vec!["does not cover", "(120023 bytes)"],
        ),
        (
            with_key(&["cookies", URL, "--resource", &wildcard]),
            vec!["does not cover", "(120023 bytes)"],
        ),
        (
            strings(&["policy", &no_scheme, "--expires-in", "1h"]),
            vec!["\"htps://x.example.com/aaa", "(120021 bytes)"],
        ),
        (
            strings(&[
                "policy",
                &format!("https://x.example.com/{a} {a}*"),
                "--expires-in",
                "1h",
            ]),
            vec![
                "at position 60022",
                "...\"aaa",
                "aaa aaa",
                "aaa\"... (120024 bytes)",
            ],
        ),
        (
            strings(&[
                "policy",
                &format!("htps://x.example.com/{a}*"),
                "--expires-in",
                "1h",
            ]),
            vec!["resource \"htps://x.example.com/aaa", "(60022 bytes)"],
        ),
        (
            strings(&["inspect", &format!("x{a}")]),
            vec!["is neither a URL", "(60001 bytes)"],
        ),
        (
            strings(&["verify", URL, "--public-key", &public, "--client-ip", &a]),
            vec!["--client-ip \"aaa", "(60000 bytes)"],
        ),
    ];
    for (args, needles) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_cfsign"))
            .args(&args)
            .env_remove("CFSIGN_PRIVATE_KEY")
            .env_remove("CFSIGN_PRIVATE_KEY_PEM")
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        let shown: Vec<&str> = args.iter().map(|a| &a[..a.len().min(40)]).collect();
        assert_eq!(out.status.code(), Some(2), "{shown:?}: {stderr}");
        assert!(
            stderr.len() < 2_000,
            "{shown:?}: {} bytes of error: {stderr}",
            stderr.len()
        );
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{shown:?}: stderr lacks {needle:?}: {stderr}"
            );
        }
    }
    // The window is around the bad character, which the message still locates.
    let url = format!(
        "https://x.example.com/{} b{}",
        "a".repeat(7_000),
        "c".repeat(500)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_cfsign"))
        .args(with_key(&["url", &url]))
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("URL ...\"aaa"), "{stderr}");
    assert!(stderr.contains("aaa bccc"), "{stderr}");
    assert!(stderr.contains("ccc\"... (7524 bytes)"), "{stderr}");
    assert!(stderr.contains("position 7022 in the path"), "{stderr}");
    assert!(stderr.len() < 2_000, "{stderr}");
}
