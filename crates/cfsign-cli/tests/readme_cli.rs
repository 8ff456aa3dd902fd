//! Every command of the README is run. The commands are those of its `sh`,
//! `bash`, `shell` and `console` code blocks (`\` continuations joined,
//! comments and blank lines dropped); each one is either
//!
//! - run here, literally, by bash in a temporary folder where `cfsign` is the
//!   binary under test (first on `PATH`), `HOME` and `TMPDIR` are inside the
//!   folder, and the inputs the README assumes (`urls.txt`, `index.m3u8`,
//!   `media/video.mp4`, `$SIGNED_URL`, `$DENIED_URL`) are prepared, with a check
//!   of its exit code and output ([`STEPS`]); `cfsign edge` is started, probed on
//!   127.0.0.1 by the commands after it in its block, then stopped;
//! - or listed in [`ELSEWHERE`] with the test or script that runs it (building
//!   and installing: `scripts/test`, `cargo install`, the wheel, the addon).
//!
//! A README command in neither table fails the test, and so does an entry of
//! either table that the README no longer has. The second test checks every
//! relative link of README.md, CONTRIBUTING.md and docs/*.md: the file exists,
//! and an `#anchor` names a heading of it (GitHub's slugs).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cfsign_testkit::cli;
use serde_json::Value;

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// The README's commands
// ---------------------------------------------------------------------------

/// One command of a shell block, and the block it is in.
#[derive(Debug, Clone)]
struct ReadmeCommand {
    block: usize,
    text: String,
}

/// The commands of the shell blocks of `markdown`, in order.
fn shell_commands(markdown: &str) -> Vec<ReadmeCommand> {
    let mut commands = Vec::new();
    let mut block = 0;
    let mut fence: Option<(String, bool)> = None; // (the fence, whether a shell block)
    let mut pending = String::new();
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if let Some((ticks, shell)) = &fence {
            if trimmed.starts_with(ticks.as_str()) && trimmed.trim_end() == ticks {
                assert!(
                    pending.is_empty(),
                    "README block {block}: a continuation runs into the end of the block: {pending}"
                );
                fence = None;
                continue;
            }
            if !*shell {
                continue;
            }
            let code = strip_comment(line);
            let code = code.trim_end();
            if code.trim().is_empty() && pending.is_empty() {
                continue;
            }
            let (code, continues) = match code.strip_suffix('\\') {
                Some(rest) => (rest.trim_end().to_owned(), true),
                None => (code.to_owned(), code.ends_with('|') || code.ends_with("&&")),
            };
            if pending.is_empty() {
                pending = code.trim().to_owned();
            } else {
                pending.push(' ');
                pending.push_str(code.trim());
            }
            if !continues {
                commands.push(ReadmeCommand {
                    block,
                    text: std::mem::take(&mut pending),
                });
            }
        } else if let Some(rest) = trimmed.strip_prefix("```") {
            let ticks =
                "```".to_owned() + &"`".repeat(rest.len() - rest.trim_start_matches('`').len());
            let language = rest.trim_start_matches('`').trim();
            let shell = matches!(language, "sh" | "bash" | "shell" | "console");
            assert!(
                language != "console",
                "README: a `console` block (prompts and output) is not supported here; use `sh`"
            );
            block += 1;
            fence = Some((ticks, shell));
        }
    }
    assert!(fence.is_none(), "README: a code block is not closed");
    commands
}

/// `line` without a `#` comment (a `#` at the start or after a blank, outside quotes).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double, mut previous) = (false, false, ' ');
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && previous.is_whitespace() => return &line[..i],
            _ => {}
        }
        previous = c;
    }
    line
}

#[test]
fn the_parser_joins_continuations_and_drops_comments() {
    let markdown = "text\n```sh\n# a comment\ncfsign url 'https://h/a#b' \\\n    --x 1   # trailing\n\nls |\n  wc -l\n```\n```toml\nx = 1\n```\n```sh\necho \"#not\" # yes\n```\n";
    let commands: Vec<(usize, String)> = shell_commands(markdown)
        .into_iter()
        .map(|c| (c.block, c.text))
        .collect();
    assert_eq!(
        commands,
        [
            (1, "cfsign url 'https://h/a#b' --x 1".to_owned()),
            (1, "ls | wc -l".to_owned()),
            (3, "echo \"#not\"".to_owned()),
        ]
    );
}

// ---------------------------------------------------------------------------
// What runs them
// ---------------------------------------------------------------------------

/// README commands that build or install things, and the test or script that runs each.
struct Elsewhere {
    command: &'static str,
    /// The file that runs it (relative to the repository's root).
    file: &'static str,
    /// A text that file contains, showing that it runs the command.
    needle: &'static str,
}

const ELSEWHERE: &[Elsewhere] = &[
    Elsewhere {
        command: "cargo run -p cfsign-cli -- quickstart",
        file: "scripts/test",
        needle: "first_run cargo run -p cfsign-cli -- quickstart",
    },
    Elsewhere {
        command: "scripts/test",
        file: ".ci/run",
        needle: "exec scripts/test",
    },
    Elsewhere {
        command: "cargo install --locked --path crates/cfsign-cli",
        file: "scripts/test",
        needle: "cargo install --locked --path crates/cfsign-cli",
    },
    Elsewhere {
        command: "cd bindings/python && maturin build --release && pip install ../../target/wheels/cfsign_rs-*.whl",
        file: "scripts/test-python",
        needle: "maturin build --release",
    },
    Elsewhere {
        command: "cd bindings/node && npm install && npm run build",
        file: "scripts/test-node",
        needle: "npm run build",
    },
];

/// What a command did.
#[derive(Debug)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// How a README command is checked.
#[derive(Clone, Copy)]
enum Check {
    /// Run to its end (within [`COMMAND_TIMEOUT`]); then this check.
    Run(fn(&Outcome, &Fixture)),
    /// A server on 127.0.0.1 at this port: started, probed by the commands after
    /// it in its block, stopped at the end of the block.
    Server(u16),
}

struct Step {
    command: &'static str,
    check: Check,
}

const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
const SERVER_TIMEOUT: Duration = Duration::from_secs(10);

const STEPS: &[Step] = &[
    Step {
        command: "cfsign quickstart",
        check: Check::Run(|o, _| {
            succeeded(o);
            for needle in [
                "-> 200 OK",
                "-> 403 MissingKey",
                "-> 403 AccessDenied",
                "-> 206 Partial Content",
            ] {
                assert!(o.stdout.contains(needle), "no {needle:?} in:\n{}", o.stdout);
            }
        }),
    },
    Step {
        command: "mkdir -p ~/.local/share/bash-completion/completions",
        check: Check::Run(|o, f| {
            succeeded(o);
            assert!(
                f.home
                    .join(".local/share/bash-completion/completions")
                    .is_dir()
            );
        }),
    },
    Step {
        command: "cfsign completions bash > ~/.local/share/bash-completion/completions/cfsign",
        check: Check::Run(|o, f| {
            succeeded(o);
            let script = read(
                &f.home
                    .join(".local/share/bash-completion/completions/cfsign"),
            );
            assert!(
                script.contains("complete -F _cfsign") && script.contains("quickstart"),
                "not a bash completion script for cfsign:\n{script}"
            );
        }),
    },
    Step {
        command: "cfsign keygen --out keys/",
        check: Check::Run(|o, f| {
            succeeded(o);
            assert!(o.stdout.contains("ECDSA P-256"), "{}", o.stdout);
            let private = f.work.join("keys/private_key.pem");
            let mode = std::fs::metadata(&private).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the private key's mode");
            assert!(read(&private).starts_with("-----BEGIN PRIVATE KEY-----"));
            let public = read(&f.work.join("keys/public_key.pem"));
            assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
        }),
    },
    Step {
        command: "cfsign url 'https://d111111abcdef8.cloudfront.net/videos/intro.mp4' --key-pair-id K2JCJMDEHXQW5F --private-key keys/private_key.pem --expires-in 15m",
        check: Check::Run(|o, f| {
            succeeded(o);
            let url = one_line(&o.stdout);
            assert!(
                url.starts_with("https://d111111abcdef8.cloudfront.net/videos/intro.mp4?Expires=")
                    && url.ends_with("&Key-Pair-Id=K2JCJMDEHXQW5F"),
                "not a canned signed URL: {url}"
            );
            assert_eq!(f.verify(&[url]), (0, "allowed".to_owned()));
        }),
    },
    Step {
        command: "cfsign url 'https://d111111abcdef8.cloudfront.net/report.pdf' --key-pair-id K2JCJMDEHXQW5F --private-key keys/private_key.pem --expires 2030-01-01T00:00:00Z --not-before 2029-12-31 --ip 203.0.113.0/24 --hash sha256 --json",
        check: Check::Run(|o, f| {
            succeeded(o);
            let json: Value = serde_json::from_str(&o.stdout).unwrap();
            assert_eq!(json["schema"], 1);
            assert_eq!(json["policy_form"], "custom");
            assert_eq!(json["hash_algorithm"], "SHA256");
            let condition = &json["policy"]["Statement"][0]["Condition"];
            assert_eq!(condition["DateLessThan"]["AWS:EpochTime"], 1_893_456_000);
            assert_eq!(condition["DateGreaterThan"]["AWS:EpochTime"], 1_893_369_600);
            assert_eq!(condition["IpAddress"]["AWS:SourceIp"], "203.0.113.0/24");
            let url = json["url"].as_str().unwrap();
            assert!(
                url.contains("?Policy=") && url.ends_with("&Hash-Algorithm=SHA256"),
                "{url}"
            );
            let inside = [
                "--now",
                "2029-12-31T12:00:00Z",
                "--client-ip",
                "203.0.113.7",
            ];
            assert_eq!(f.verify(&[&[url][..], &inside].concat()).0, 0);
            let outside = [
                "--now",
                "2029-12-31T12:00:00Z",
                "--client-ip",
                "198.51.100.7",
            ];
            assert_eq!(f.verify(&[&[url][..], &outside].concat()).0, 1);
        }),
    },
    Step {
        command: "cfsign url 'https://d111111abcdef8.cloudfront.net/album/1.jpg' --resource 'https://d111111abcdef8.cloudfront.net/album/*' --key-pair-id K2JCJMDEHXQW5F --private-key keys/private_key.pem --expires-in 1h",
        check: Check::Run(|o, f| {
            succeeded(o);
            let url = one_line(&o.stdout);
            assert!(
                url.starts_with("https://d111111abcdef8.cloudfront.net/album/1.jpg?Policy="),
                "{url}"
            );
            // The same signature serves every file under /album/.
            let other = url.replace("/album/1.jpg?", "/album/2.jpg?");
            assert_eq!(f.verify(&[url]).0, 0);
            assert_eq!(f.verify(&[&other]).0, 0);
        }),
    },
    Step {
        command: "cfsign url 'https://d111111abcdef8.cloudfront.net/Résumé 2026.pdf' --encode --key-pair-id K2JCJMDEHXQW5F --private-key keys/private_key.pem --expires-in 1h",
        check: Check::Run(|o, f| {
            succeeded(o);
            let url = one_line(&o.stdout);
            assert!(
                url.starts_with(
                    "https://d111111abcdef8.cloudfront.net/R%C3%A9sum%C3%A9%202026.pdf?Expires="
                ),
                "{url}"
            );
            assert_eq!(f.verify(&[url]).0, 0);
        }),
    },
    Step {
        command: "cfsign cookies 'https://media.example.com/course-42/*' --key-pair-id K2JCJMDEHXQW5F --private-key keys/private_key.pem --expires-in 4h --domain media.example.com --path /course-42/",
        check: Check::Run(|o, f| {
            succeeded(o);
            let lines: Vec<&str> = o.stdout.lines().collect();
            assert_eq!(lines.len(), 3, "{}", o.stdout);
            let mut pairs = Vec::new();
            for (line, name) in lines.iter().zip([
                "CloudFront-Policy=",
                "CloudFront-Signature=",
                "CloudFront-Key-Pair-Id=K2JCJMDEHXQW5F;",
            ]) {
                let value = line.strip_prefix("Set-Cookie: ").unwrap();
                assert!(value.starts_with(name), "{line}");
                assert!(
                    value.ends_with(
                        "; Domain=media.example.com; Path=/course-42/; Secure; HttpOnly; SameSite=Lax"
                    ),
                    "{line}"
                );
                pairs.push(value.split(';').next().unwrap().to_owned());
            }
            let cookie = pairs.join("; ");
            let video = "https://media.example.com/course-42/intro.mp4";
            assert_eq!(f.verify(&[video, "--cookie", &cookie]).0, 0);
        }),
    },
    Step {
        command: "cfsign policy 'https://d111111abcdef8.cloudfront.net/videos/*' --expires-in 1h --ip 192.0.2.0/24",
        check: Check::Run(|o, _| {
            succeeded_with_warnings(o);
            let policy: Value = serde_json::from_str(&o.stdout).unwrap();
            let statement = &policy["Statement"][0];
            assert_eq!(
                statement["Resource"],
                "https://d111111abcdef8.cloudfront.net/videos/*"
            );
            assert_eq!(
                statement["Condition"]["IpAddress"]["AWS:SourceIp"],
                "192.0.2.0/24"
            );
            assert!(
                o.stderr.contains("warning[ip-condition-ipv6]"),
                "{}",
                o.stderr
            );
        }),
    },
    Step {
        command: "cfsign batch --key-pair-id K2JCJMDEHXQW5F --private-key keys/private_key.pem --expires-in 1h < urls.txt > signed.txt",
        check: Check::Run(|o, f| {
            succeeded(o);
            assert_eq!(o.stdout, "");
            let signed = read(&f.work.join("signed.txt"));
            let signed: Vec<&str> = signed.lines().collect();
            assert_eq!(signed.len(), URLS.len());
            for (url, signed) in URLS.iter().zip(&signed) {
                assert!(signed.starts_with(&format!("{url}?Expires=")), "{signed}");
                assert_eq!(f.verify(&[signed]).0, 0);
            }
        }),
    },
    Step {
        command: "cfsign manifest https://d111111abcdef8.cloudfront.net/movies/42/index.m3u8 --input index.m3u8 --key-pair-id K2JCJMDEHXQW5F --private-key keys/private_key.pem --expires-in 6h > signed.m3u8",
        check: Check::Run(|o, f| {
            assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{o:?}");
            assert!(
                o.stderr.contains(
                    "HLS: signed 2 URIs under https://d111111abcdef8.cloudfront.net/movies/42/*"
                ),
                "{}",
                o.stderr
            );
            let signed = read(&f.work.join("signed.m3u8"));
            let uris: Vec<&str> = signed.lines().filter(|l| !l.starts_with('#')).collect();
            assert_eq!(uris.len(), 2, "{signed}");
            for uri in uris {
                assert!(
                    uri.starts_with("seg") && uri.contains(".ts?Policy="),
                    "{uri}"
                );
                let url = format!("https://d111111abcdef8.cloudfront.net/movies/42/{uri}");
                assert_eq!(f.verify(&[&url]).0, 0, "{url}");
            }
        }),
    },
    Step {
        command: "cfsign verify \"$SIGNED_URL\" --public-key K2JCJMDEHXQW5F=keys/public_key.pem",
        check: Check::Run(|o, _| {
            succeeded(o);
            assert_eq!(o.stdout.lines().next(), Some("allowed"), "{}", o.stdout);
        }),
    },
    Step {
        command: "cfsign inspect \"$SIGNED_URL\"",
        check: Check::Run(|o, _| {
            succeeded(o);
            for needle in [
                "Key-Pair-Id: K2JCJMDEHXQW5F",
                "policy: canned",
                "unsigned URL: https://d111111abcdef8.cloudfront.net/videos/intro%20final.mp4",
            ] {
                assert!(o.stdout.contains(needle), "no {needle:?} in:\n{}", o.stdout);
            }
        }),
    },
    Step {
        command: "cfsign edge --root ./media --public-key K2JCJMDEHXQW5F=keys/public_key.pem --listen 127.0.0.1:8080",
        check: Check::Server(8080),
    },
    Step {
        command: "curl -i \"$(cfsign url http://127.0.0.1:8080/video.mp4 --key-pair-id K2JCJMDEHXQW5F --private-key keys/private_key.pem --expires-in 10m)\"",
        check: Check::Run(|o, _| {
            succeeded_with_warnings(o);
            assert!(o.stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{}", o.stdout);
            assert!(
                o.stdout.ends_with(&format!("\r\n\r\n{VIDEO}")),
                "{}",
                o.stdout
            );
        }),
    },
    Step {
        command: "curl -i http://127.0.0.1:8080/video.mp4",
        check: Check::Run(|o, _| {
            succeeded_with_warnings(o);
            assert!(
                o.stdout.starts_with("HTTP/1.1 403 Forbidden\r\n"),
                "{}",
                o.stdout
            );
            assert!(o.stdout.contains("<Code>MissingKey</Code>"), "{}", o.stdout);
        }),
    },
    Step {
        command: "cfsign explain \"$DENIED_URL\" --public-key K2JCJMDEHXQW5F=keys/public_key.pem",
        check: Check::Run(|o, _| {
            assert_eq!(o.code, 1, "{o:?}");
            assert!(
                o.stdout.starts_with("verdict: 403 AccessDenied"),
                "{}",
                o.stdout
            );
            assert!(
                o.stdout.contains("[url-encoding-changed]")
                    && o.stdout.contains("where the request has '+'"),
                "{}",
                o.stdout
            );
            assert!(o.stdout.contains("  fix: "), "{}", o.stdout);
        }),
    },
];

/// `urls.txt`, the input of the README's `batch`.
const URLS: &[&str] = &[
    "https://d111111abcdef8.cloudfront.net/scans/1.png",
    "https://d111111abcdef8.cloudfront.net/scans/2.png",
    "https://d111111abcdef8.cloudfront.net/scans/3.png",
];

/// `index.m3u8`, the input of the README's `manifest`.
const PLAYLIST: &str =
    "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nseg0.ts\n#EXTINF:6,\nseg1.ts\n#EXT-X-ENDLIST\n";

/// `media/video.mp4`, served by the README's edge.
const VIDEO: &str = "not really a video\n";

fn succeeded(o: &Outcome) {
    assert_eq!((o.code, o.stderr.as_str()), (0, ""), "{o:?}");
}

/// Exit 0; standard error may hold warnings or progress.
fn succeeded_with_warnings(o: &Outcome) {
    assert_eq!(o.code, 0, "{o:?}");
}

fn one_line(stdout: &str) -> &str {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {stdout}");
    lines[0]
}

/// The folder the README's commands run in.
struct Fixture {
    _dir: tempfile::TempDir,
    work: PathBuf,
    home: PathBuf,
    tmp: PathBuf,
    bin: PathBuf,
    outputs: PathBuf,
    /// `$SIGNED_URL` and `$DENIED_URL`, made once `keys/` exists.
    urls: Option<(String, String)>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let [work, home, tmp, bin, outputs] =
            ["work", "home", "tmp", "bin", "outputs"].map(|name| dir.path().join(name));
        for d in [&work, &home, &tmp, &bin, &outputs, &work.join("media")] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cfsign"), bin.join("cfsign")).unwrap();
        std::fs::write(work.join("urls.txt"), URLS.join("\n") + "\n").unwrap();
        std::fs::write(work.join("index.m3u8"), PLAYLIST).unwrap();
        std::fs::write(work.join("media/video.mp4"), VIDEO).unwrap();
        Self {
            _dir: dir,
            work,
            home,
            tmp,
            bin,
            outputs,
            urls: None,
        }
    }

    /// `bash -c COMMAND` in the folder, in its own process group, output to files.
    fn bash(&mut self, command: &str, n: usize) -> (Child, PathBuf, PathBuf) {
        if command.contains("$SIGNED_URL") || command.contains("$DENIED_URL") {
            self.make_urls();
        }
        let (signed, denied) = self.urls.clone().unwrap_or_default();
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let stdout = self.outputs.join(format!("{n}.out"));
        let stderr = self.outputs.join(format!("{n}.err"));
        let child = cli::command("bash")
            .args(["--noprofile", "--norc", "-c", command])
            .current_dir(&self.work)
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("TMPDIR", &self.tmp)
            .env("SIGNED_URL", signed)
            .env("DENIED_URL", denied)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("bash -c {command}: {e}"));
        (child, stdout, stderr)
    }

    /// `$SIGNED_URL`: a URL signed with the README's `keys/`; `$DENIED_URL`: the
    /// same with its `%20` re-encoded as `+`, as a form encoder does.
    fn make_urls(&mut self) {
        if self.urls.is_some() {
            return;
        }
        let key = self.work.join("keys/private_key.pem");
        assert!(
            key.exists(),
            "the README uses $SIGNED_URL or $DENIED_URL before `cfsign keygen --out keys/`"
        );
        let (code, out, err) = cli::run(
            cli::command(env!("CARGO_BIN_EXE_cfsign"))
                .args([
                    "url",
                    "https://d111111abcdef8.cloudfront.net/videos/intro%20final.mp4",
                    "--key-pair-id",
                    "K2JCJMDEHXQW5F",
                    "--expires-in",
                    "1h",
                    "--private-key",
                ])
                .arg(&key),
        );
        assert_eq!(code, 0, "{err}");
        let signed = out.trim().to_owned();
        let denied = signed.replace("intro%20final", "intro+final");
        self.urls = Some((signed, denied));
    }

    /// `cfsign verify ARGS --public-key K2JCJMDEHXQW5F=keys/public_key.pem`:
    /// (exit code, first line of the output).
    fn verify(&self, args: &[&str]) -> (i32, String) {
        let (code, out, err) = cli::run(
            cli::command(env!("CARGO_BIN_EXE_cfsign"))
                .current_dir(&self.work)
                .arg("verify")
                .args(args)
                .args(["--public-key", "K2JCJMDEHXQW5F=keys/public_key.pem"]),
        );
        assert!(code == 0 || code == 1, "verify {args:?}: {code}: {err}");
        (code, out.lines().next().unwrap_or_default().to_owned())
    }
}

/// Sends `signal` to the process group `child` leads.
fn signal_group(child: &Child, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{}", child.id())])
        .status();
}

/// Waits for `child` within `timeout`; kills its group and panics after it.
fn wait(child: &mut Child, timeout: Duration, command: &str) -> i32 {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            signal_group(child, "KILL");
            let _ = child.wait();
            panic!("{command}: still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server started by a README command, stopped at the end of its block.
struct Server {
    child: Child,
    command: String,
    stderr: PathBuf,
    block: usize,
}

impl Server {
    fn start(fixture: &mut Fixture, command: &ReadmeCommand, port: u16, n: usize) -> Self {
        // The port must be free: wait a little for a previous user to let it go.
        let deadline = Instant::now() + SERVER_TIMEOUT;
        while TcpListener::bind(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "127.0.0.1:{port} is in use, so the README's `{}` cannot be run",
                command.text
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let (mut child, _, stderr) = fixture.bash(&command.text, n);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("{}: exited ({status}):\n{}", command.text, read(&stderr));
            }
            if Instant::now() > deadline {
                signal_group(&child, "KILL");
                let _ = child.wait();
                panic!(
                    "{}: not listening on 127.0.0.1:{port} after {SERVER_TIMEOUT:?}",
                    command.text
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            command: command.text.clone(),
            stderr,
            block: command.block,
        }
    }

    /// SIGTERM, then a graceful exit within [`SERVER_TIMEOUT`].
    fn stop(mut self) {
        signal_group(&self.child, "TERM");
        let code = wait(&mut self.child, SERVER_TIMEOUT, &self.command);
        let log = read(&self.stderr);
        assert_eq!(
            code, 0,
            "{}: exit {code} after SIGTERM:\n{log}",
            self.command
        );
        assert!(log.contains("listening on http://127.0.0.1:"), "{log}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            signal_group(&self.child, "KILL");
            let _ = self.child.wait();
        }
    }
}

#[test]
fn every_readme_command_is_run() {
    let readme = read(&root().join("README.md"));
    let commands = shell_commands(&readme);
    assert!(commands.len() >= 10, "{commands:?}");
    let texts: BTreeSet<&str> = commands.iter().map(|c| c.text.as_str()).collect();

    // Every table entry is a README command, and the tables do not overlap.
    for command in STEPS
        .iter()
        .map(|s| s.command)
        .chain(ELSEWHERE.iter().map(|e| e.command))
    {
        assert!(
            texts.contains(command),
            "the README no longer has this command; remove it from the test's tables:\n{command}"
        );
    }
    for e in ELSEWHERE {
        assert!(
            STEPS.iter().all(|s| s.command != e.command),
            "in both tables: {}",
            e.command
        );
        assert!(
            read(&root().join(e.file)).contains(e.needle),
            "{} is said to run `{}`, but does not contain {:?}",
            e.file,
            e.command,
            e.needle
        );
    }

    // Every README command is in a table; those of STEPS run here, in the README's order.
    let mut fixture = Fixture::new();
    let mut server: Option<Server> = None;
    let started = Instant::now();
    for (n, command) in commands.iter().enumerate() {
        if let Some(s) = server.take_if(|s| s.block != command.block) {
            s.stop();
        }
        if ELSEWHERE.iter().any(|e| e.command == command.text) {
            continue;
        }
        let Some(step) = STEPS.iter().find(|s| s.command == command.text) else {
            panic!(
                "this README command is not run by any test: add it to STEPS (run here, with a \
                 check) or to ELSEWHERE (with the test that runs it):\n{}",
                command.text
            );
        };
        match step.check {
            Check::Server(port) => {
                assert!(server.is_none(), "two servers in one block");
                server = Some(Server::start(&mut fixture, command, port, n));
            }
            Check::Run(check) => {
                let (mut child, stdout, stderr) = fixture.bash(&command.text, n);
                let code = wait(&mut child, COMMAND_TIMEOUT, &command.text);
                let outcome = Outcome {
                    code,
                    stdout: read(&stdout),
                    stderr: read(&stderr),
                };
                eprintln!("ran ({code}): {}", command.text);
                check(&outcome, &fixture);
            }
        }
    }
    if let Some(s) = server.take() {
        s.stop();
    }
    eprintln!(
        "{} README commands in {:?}",
        commands.len(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------

/// GitHub's anchor for a heading: lower case; letters, digits, `-` and `_`
/// kept, spaces made `-`, everything else dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings (outside code blocks), with
/// GitHub's `-1`, `-2` suffixes for repeated ones.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let text = line.trim_start_matches('#');
        if !text.starts_with(' ') {
            continue;
        }
        let base = slug(text);
        let mut anchor = base.clone();
        let mut n = 0;
        while anchors.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        anchors.insert(anchor);
    }
    anchors
}

/// The targets of the inline links `[text](target)` of a Markdown file, outside
/// code blocks and inline code.
fn links(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // Drop inline code spans, so `a](b)` in code is not a link.
        let mut text = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                text.push_str(part);
            }
        }
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            out.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("Local edge: `cfsign edge`"), "local-edge-cfsign-edge");
    assert_eq!(slug("Node.js"), "nodejs");
    assert_eq!(slug("HTTP/2"), "http2");
    assert_eq!(slug("The README's examples"), "the-readmes-examples");
    assert_eq!(
        slug("Exit codes, time limits, `--dry-run`"),
        "exit-codes-time-limits---dry-run"
    );
    let twice = anchors("# A\n```sh\n# not a heading\n```\n## A\n#not\n");
    assert_eq!(twice, BTreeSet::from(["a".to_owned(), "a-1".to_owned()]));
    assert_eq!(
        links("[a](b.md#c) `[x](y)` [d](https://e)"),
        ["b.md#c", "https://e"]
    );
}

#[test]
fn every_relative_link_and_anchor_exists() {
    let root = root();
    let mut files = vec![root.join("README.md"), root.join("CONTRIBUTING.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = read(file);
        let name = file.strip_prefix(&root).unwrap().display().to_string();
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let linked = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            if !linked.exists() {
                broken.push(format!("{name}: {target}: no such file"));
                continue;
            }
            if anchor.is_empty() {
                continue;
            }
            let is_markdown = linked.extension().is_some_and(|e| e == "md");
            if !is_markdown || !anchors(&read(&linked)).contains(anchor) {
                broken.push(format!("{name}: {target}: no heading #{anchor}"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked > 20, "only {checked} relative links found");
}
