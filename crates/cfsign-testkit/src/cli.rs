//! The `cfsign` binary, run for real by the CLI's tests: one command and its
//! output ([`command`], [`run`], [`run_with_stdin`]), or `cfsign edge` running
//! as a child process on 127.0.0.1 ([`EdgeProcess`]).
//!
//! The binary's path comes from the test (`env!("CARGO_BIN_EXE_cfsign")`,
//! which Cargo sets for the CLI crate's integration tests only).
//!
//! ```
//! use cfsign_testkit::cli;
//!
//! // Any program runs the same way; the CLI's tests give the cfsign binary.
//! let (code, stdout, stderr) = cli::run(cli::command("echo").arg("hello"));
//! assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "hello\n", ""));
//! ```

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::lines::Lines;

/// How long [`EdgeProcess::wait_for_exit`] waits.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// `program` with none of the `CFSIGN_*` variables of the test's own
/// environment (a key or key-pair ID there would change what `cfsign` does).
///
/// ```
/// let out = cfsign_testkit::cli::command("env").env("CFSIGN_X", "set here").output().unwrap();
/// assert!(String::from_utf8(out.stdout).unwrap().contains("CFSIGN_X=set here"));
/// ```
#[must_use]
pub fn command(program: &str) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CFSIGN_") {
            command.env_remove(name);
        }
    }
    command
}

/// The admin listener's base URL (`http://127.0.0.1:PORT`) from the line
/// `cfsign edge` announces it with (`cfsign edge: admin listening on URL (...)`).
///
/// ```
/// let line = "cfsign edge: admin listening on http://127.0.0.1:9901 (/healthz, /readyz, /metrics)";
/// assert_eq!(cfsign_testkit::cli::admin_base(line), "http://127.0.0.1:9901");
/// ```
///
/// # Panics
///
/// If `line` is not that line.
#[must_use]
pub fn admin_base(line: &str) -> String {
    line.strip_prefix("cfsign edge: admin listening on ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("not the admin listener's line: {line:?}"))
        .to_owned()
}

/// Writes `text` to `path` and makes the file readable by its owner only
/// (0600), as the edge requires of a secret such as its admin token file. An
/// existing file is overwritten and its mode set again.
///
/// ```
/// use std::os::unix::fs::PermissionsExt as _;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("admin-token");
/// cfsign_testkit::cli::write_private(&path, "secret\n");
/// let mode = std::fs::metadata(&path).unwrap().permissions().mode();
/// assert_eq!(mode & 0o777, 0o600);
/// ```
///
/// # Panics
///
/// If the file cannot be written or its mode set.
#[cfg(unix)]
pub fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;

    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("chmod 600 {}: {e}", path.display()));
}

/// The value of the first line of the admin listener's `/metrics` (at
/// `admin`, as [`admin_base`] gives it) that starts with `name`.
///
/// # Panics
///
/// If no line starts with `name`.
#[must_use]
pub fn metric(admin: &str, name: &str) -> String {
    let text = crate::http::get_blocking(&format!("{admin}/metrics"), &[]).text();
    text.lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name}:\n{text}"))
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Runs `command` to its end, standard input empty: (exit code, or -1 when
/// killed by a signal; standard output; standard error).
///
/// ```
/// let (code, _, stderr) = cfsign_testkit::cli::run(std::process::Command::new("ls").arg("/no/such/path"));
/// assert_ne!(code, 0);
/// assert!(!stderr.is_empty());
/// ```
///
/// # Panics
///
/// If it cannot be started, or its output is not UTF-8.
pub fn run(command: &mut Command) -> (i32, String, String) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    split(output)
}

/// [`run`] with `input` on standard input, written from a thread (the child may
/// stop reading early: a broken pipe is not an error).
///
/// ```
/// let (code, stdout, _) = cfsign_testkit::cli::run_with_stdin(&mut std::process::Command::new("cat"), "a\nb\n");
/// assert_eq!((code, stdout.as_str()), (0, "a\nb\n"));
/// ```
///
/// # Panics
///
/// If it cannot be started, or its output is not UTF-8.
pub fn run_with_stdin(command: &mut Command, input: &str) -> (i32, String, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let mut stdin = child.stdin.take().expect("a piped stdin");
    let input = input.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child.wait_with_output().expect("the child's output");
    writer.join().expect("the stdin writer thread");
    split(output)
}

fn split(output: Output) -> (i32, String, String) {
    let text = |bytes: Vec<u8>, stream: &str| {
        String::from_utf8(bytes)
            .unwrap_or_else(|e| panic!("the {stream} is not UTF-8: {:?}", e.as_bytes()))
    };
    (
        output.status.code().unwrap_or(-1),
        text(output.stdout, "standard output"),
        text(output.stderr, "standard error"),
    )
}

/// `cfsign edge ARGS --listen 127.0.0.1:0` running as a child process, killed
/// on drop. Its standard error is read line by line; the first line names the
/// address it listens on.
///
/// ```no_run
/// use cfsign_testkit::cli::EdgeProcess;
///
/// let dir = tempfile::tempdir().unwrap();
/// let root = dir.path().to_str().unwrap();
/// // In the CLI's tests: env!("CARGO_BIN_EXE_cfsign").
/// let mut edge = EdgeProcess::start("target/debug/cfsign", &["--root", root, "--public"]);
/// let reply = cfsign_testkit::http::get_blocking(&format!("{}/a.txt", edge.base()), &[]);
/// assert_eq!(reply.status, http::StatusCode::NOT_FOUND);
/// edge.signal("TERM");
/// edge.wait_for_exit();
/// ```
#[derive(Debug)]
pub struct EdgeProcess {
    child: Child,
    stderr: Lines,
    base: String,
}

impl EdgeProcess {
    /// Starts `binary edge ARGS --listen 127.0.0.1:0` (standard output
    /// discarded) and waits for the line that names its address.
    ///
    /// ```no_run
    /// # use cfsign_testkit::cli::EdgeProcess;
    /// let edge = EdgeProcess::start("target/debug/cfsign", &["--config", "edge.toml"]);
    /// assert!(edge.base().starts_with("http://127.0.0.1:"));
    /// ```
    ///
    /// # Panics
    ///
    /// If it cannot be started, or exits or says something else first.
    #[must_use]
    pub fn start(binary: &str, args: &[&str]) -> Self {
        Self::start_with_env(binary, args, &[])
    }

    /// [`EdgeProcess::start`] with these environment variables set too.
    ///
    /// ```no_run
    /// # use cfsign_testkit::cli::EdgeProcess;
    /// let edge = EdgeProcess::start_with_env("target/debug/cfsign", &[], &[("NOTIFY_SOCKET", "/tmp/n.sock")]);
    /// # let _ = edge;
    /// ```
    ///
    /// # Panics
    ///
    /// As [`EdgeProcess::start`].
    #[must_use]
    pub fn start_with_env(binary: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(binary)
            .arg("edge")
            .args(args)
            .envs(env.iter().copied())
            .args(["--listen", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary} edge: {e}"));
        let stderr = Lines::new(child.stderr.take().expect("a piped stderr"));
        let line = stderr.next();
        let base = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("not the line naming the address: {line:?}"))
            .to_owned();
        Self {
            child,
            stderr,
            base,
        }
    }

    /// `http://127.0.0.1:PORT` (`https://…` with TLS), as the edge printed it.
    ///
    /// ```no_run
    /// # let edge = cfsign_testkit::cli::EdgeProcess::start("target/debug/cfsign", &[]);
    /// let url = format!("{}/public/free.txt", edge.base());
    /// # let _ = url;
    /// ```
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The address it listens on.
    ///
    /// ```no_run
    /// # let edge = cfsign_testkit::cli::EdgeProcess::start("target/debug/cfsign", &[]);
    /// assert!(edge.addr().ip().is_loopback());
    /// ```
    ///
    /// # Panics
    ///
    /// If the printed address is not `scheme://IP:PORT`.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        let authority = self.base.split("://").nth(1).unwrap_or_default();
        authority
            .parse()
            .unwrap_or_else(|e| panic!("{}: not an IP address and port: {e}", self.base))
    }

    /// The next line of its standard error (bounded in time, see [`Lines::next`]).
    ///
    /// ```no_run
    /// # let mut edge = cfsign_testkit::cli::EdgeProcess::start("target/debug/cfsign", &[]);
    /// edge.signal("HUP");
    /// assert!(edge.next_line().contains("reloaded"));
    /// ```
    ///
    /// # Panics
    ///
    /// If no line comes in time, or the process exited.
    #[must_use]
    pub fn next_line(&self) -> String {
        self.stderr.next()
    }

    /// Sends it the signal `name` (`HUP`, `TERM`, ...) with `kill`.
    ///
    /// ```no_run
    /// # let edge = cfsign_testkit::cli::EdgeProcess::start("target/debug/cfsign", &[]);
    /// edge.signal("TERM");
    /// ```
    ///
    /// # Panics
    ///
    /// If `kill` fails.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("kill -{name}: {e}"));
        assert!(
            status.success(),
            "kill -{name} {}: {status}",
            self.child.id()
        );
    }

    /// Waits for it to exit, within [`EXIT_TIMEOUT`], and asserts a successful exit.
    ///
    /// ```no_run
    /// # let mut edge = cfsign_testkit::cli::EdgeProcess::start("target/debug/cfsign", &[]);
    /// edge.signal("TERM");
    /// edge.wait_for_exit();
    /// ```
    ///
    /// # Panics
    ///
    /// If it does not exit in time, or exits with a failure.
    pub fn wait_for_exit(&mut self) {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(exit) = self.child.try_wait().expect("the child's status") {
                assert!(exit.success(), "{exit:?}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no exit within {EXIT_TIMEOUT:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for EdgeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
