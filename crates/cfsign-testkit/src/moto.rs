//! moto's server (S3, CloudFront's control plane, KMS) on 127.0.0.1, started for
//! one test and stopped on drop.
//!
//! A real server, never a mock: moto's own server (`.venv/bin/python3 moto_shim.py -H
//! 127.0.0.1 -p PORT`, which calls `moto.server.main`) on a free port, waited for
//! (at most [`START_TIMEOUT`]), killed when the [`Moto`] is dropped.
//!
//! `moto_shim.py` (next to this file, [`MOTO_SHIM`]) first fills a few gaps of
//! moto 5.2's CloudFront control plane that provisioning tests need, as the
//! CloudFront API reference describes them: origins keep `OriginAccessControlId`
//! and `S3OriginConfig`; `UpdateKeyGroup`, `DeleteKeyGroup` and
//! `ListDistributionsByKeyGroup` exist; key-group and distribution updates check
//! `If-Match` and get a new ETag. S3 and KMS are moto as shipped. Clients get the dummy credentials below explicitly; the test
//! process's environment is never changed. A machine without moto fails the
//! test with [`INSTALL_HINT`]; nothing is skipped.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// What to do when moto is missing.
pub const INSTALL_HINT: &str = crate::python::INSTALL_HINT;
/// Dummy credentials (moto accepts any).
pub const ACCESS_KEY_ID: &str = "testing";
/// Dummy credentials (moto accepts any).
pub const SECRET_ACCESS_KEY: &str = "testing";
/// The region buckets are created in.
pub const REGION: &str = "us-east-1";
/// The longest moto may take to answer after being started.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// The launcher: moto's server with the CloudFront additions described above.
pub const MOTO_SHIM: &str = include_str!("moto_shim.py");
/// The longest a boto3 helper script may run.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// A running moto server.
pub struct Moto {
    child: Option<Child>,
    port: u16,
    log: tempfile::NamedTempFile,
    shim: tempfile::NamedTempFile,
}

impl Moto {
    /// Starts moto on a free port of 127.0.0.1 and waits until it answers.
    ///
    /// # Panics
    ///
    /// If moto is not installed (with [`INSTALL_HINT`]) or does not start in time.
    #[must_use]
    pub fn start() -> Self {
        check_installed();
        let mut last_log = String::new();
        // The port is free when chosen, but another process may take it before
        // moto binds it: try a few.
        for _ in 0..3 {
            let port = free_port();
            let log = tempfile::NamedTempFile::new().expect("a temporary log file");
            let shim = write_shim();
            let mut moto = Self {
                child: Some(spawn(port, &log, &shim)),
                port,
                log,
                shim,
            };
            match moto.wait_ready() {
                Ok(()) => return moto,
                Err(log) => {
                    moto.kill();
                    if !log.contains("Address already in use") {
                        panic!("moto did not start on 127.0.0.1:{port}: {log}\n{INSTALL_HINT}");
                    }
                    last_log = log;
                }
            }
        }
        panic!("moto could not bind a port: {last_log}");
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("moto exited ({status}): {}", self.log()));
            }
            if answers(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer within {START_TIMEOUT:?}: {}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// moto's log so far (its stderr), for failure messages.
    #[must_use]
    pub fn log(&self) -> String {
        let mut text = String::new();
        let _ = std::fs::File::open(self.log.path()).and_then(|mut f| f.read_to_string(&mut text));
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Stops the server now (it is also stopped on drop).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port after [`Moto::kill`], waiting
    /// until it answers. moto keeps its state in memory: buckets and objects
    /// are gone and must be created again.
    ///
    /// # Panics
    ///
    /// If it is still running, or does not answer within [`START_TIMEOUT`] (for
    /// instance because another process took the port meanwhile).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "moto is still running: kill it first");
        self.child = Some(spawn(self.port, &self.log, &self.shim));
        if let Err(log) = self.wait_ready() {
            self.kill();
            panic!("moto did not restart on 127.0.0.1:{}: {log}", self.port);
        }
    }

    /// Runs a Python script with boto3 pointed at this server: the environment
    /// has the dummy credentials, the region and `MOTO_ENDPOINT`; `input` goes
    /// to its standard input. Returns its standard output.
    ///
    /// # Panics
    ///
    /// If the script fails or runs longer than [`SCRIPT_TIMEOUT`].
    #[must_use]
    pub fn python(&self, script: &str, input: &[u8]) -> String {
        let mut command = crate::python::command();
        command.args(["-c", script]);
        // Nothing from the developer's own AWS set-up may leak in.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("MOTO_ENDPOINT", self.endpoint())
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("python3: {e}. {INSTALL_HINT}"));
        let mut stdin = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let deadline = Instant::now() + SCRIPT_TIMEOUT;
        let mut stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let out = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            stdout.read_to_end(&mut bytes).map(|_| bytes)
        });
        let err = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            stderr.read_to_end(&mut bytes).map(|_| bytes)
        });
        let status = loop {
            if let Some(status) = child.try_wait().expect("python3 status") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the boto3 script ran longer than {SCRIPT_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let _ = writer.join();
        let stdout = out.join().expect("stdout reader").unwrap_or_default();
        let stderr = err.join().expect("stderr reader").unwrap_or_default();
        assert!(
            status.success(),
            "the boto3 script failed ({status}):\n{}\nmoto's log:\n{}",
            String::from_utf8_lossy(&stderr),
            self.log()
        );
        String::from_utf8(stdout).expect("the script's output is UTF-8")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes [`MOTO_SHIM`] to a temporary file.
fn write_shim() -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .prefix("moto_shim")
        .suffix(".py")
        .tempfile()
        .expect("a temporary file for moto_shim.py");
    file.write_all(MOTO_SHIM.as_bytes())
        .expect("writing moto_shim.py");
    file
}

/// Starts moto's server on `port` through the shim, its log going to `log` (appended to).
fn spawn(port: u16, log: &tempfile::NamedTempFile, shim: &tempfile::NamedTempFile) -> Child {
    let stderr = std::fs::OpenOptions::new()
        .append(true)
        .open(log.path())
        .expect("the temporary log file");
    crate::python::command()
        .arg(shim.path())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // moto logs every request: a file, not a pipe nobody reads.
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("could not start moto ({e}). {INSTALL_HINT}"))
}

/// moto and boto3 can be imported (moto's server needs `moto[server]`).
fn check_installed() {
    crate::python::require(&["moto.server", "boto3"]);
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}

/// Whether an HTTP server answers on the port.
fn answers(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(2));
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return false;
    }
    let request = b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    let mut status = [0u8; 5];
    stream.write_all(request).is_ok()
        && stream.read_exact(&mut status).is_ok()
        && &status == b"HTTP/"
}
