//! A child process measured as it runs: its wall time from spawn to exit and its
//! peak resident memory (`ru_maxrss` from `wait4`, for that child), plus FIFOs to
//! feed it.
//!
//! Linux seeds a spawned child's `ru_maxrss` with the peak of the process it was
//! spawned from (`posix_spawn` shares the parent's memory until `exec`, and `exec`
//! keeps the larger of the two peaks). [`Measured::spawn`] therefore first resets
//! this process's peak to its current size (`/proc/self/clear_refs`), so the
//! figure is the child's own peak or this process's size at the spawn, whichever
//! is larger ([`Outcome::parent_rss_bytes`]): never less than the child's own.
//!
//! ```no_run
//! use std::process::Command;
//! use std::time::Duration;
//! use cfsign_testkit::process::Measured;
//!
//! let mut command = Command::new("true");
//! let outcome = Measured::spawn(&mut command).finish(Duration::from_secs(5));
//! assert_eq!(outcome.code, Some(0));
//! assert!(outcome.max_rss_bytes < 64 << 20);
//! ```
#![allow(unsafe_code)] // wait4, kill and mkfifo have no safe wrapper in std; each call says why it is sound

use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a measured child ended.
#[derive(Debug)]
pub struct Outcome {
    /// The exit code, if it exited (not killed by a signal).
    pub code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// Whether it was killed because it outlived the timeout given to [`Measured::finish`].
    pub timed_out: bool,
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// Peak resident memory of the child, in bytes (at least this test process's
    /// size at the spawn: see the module docs).
    pub max_rss_bytes: u64,
    /// This test process's resident memory just before the spawn, in bytes.
    pub parent_rss_bytes: u64,
    /// Everything it wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything it wrote to standard error (lossy UTF-8).
    pub stderr: String,
}

/// A running child whose end is measured.
#[derive(Debug)]
pub struct Measured {
    child: Child,
    start: Instant,
    parent_rss_bytes: u64,
    ended: Option<(i32, Duration, u64)>,
    stdout: JoinHandle<Vec<u8>>,
    stderr: JoinHandle<Vec<u8>>,
}

impl Measured {
    /// Spawns `command` with standard output and error captured (standard input
    /// is whatever the command says; set it before).
    ///
    /// # Panics
    ///
    /// If the command cannot be started.
    #[must_use]
    pub fn spawn(command: &mut Command) -> Self {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        // "5": reset the peak resident size to the current one (proc(5)).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let parent_rss_bytes = own_rss_bytes();
        let start = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = drain(child.stdout.take().expect("stdout is piped"));
        let stderr = drain(child.stderr.take().expect("stderr is piped"));
        Self {
            child,
            start,
            parent_rss_bytes,
            ended: None,
            stdout,
            stderr,
        }
    }

    /// The child's process ID.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Time since the child was spawned.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Whether the child is still running (reaping it, and recording its end, if
    /// it is not).
    pub fn running(&mut self) -> bool {
        self.reap(false);
        self.ended.is_none()
    }

    /// Waits for the child's end, killing it if it runs longer than `timeout` from
    /// its start, and returns how it ended.
    ///
    /// # Panics
    ///
    /// If waiting fails.
    #[must_use]
    pub fn finish(mut self, timeout: Duration) -> Outcome {
        let mut timed_out = false;
        loop {
            self.reap(false);
            if self.ended.is_some() {
                break;
            }
            if self.start.elapsed() > timeout {
                // SAFETY: kill(2) with a PID we spawned and have not reaped (ended is
                // None), so it cannot name another process; no memory is involved.
                unsafe { libc::kill(self.pid(), libc::SIGKILL) };
                timed_out = true;
                self.reap(true);
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let (status, wall, max_rss_bytes) = self.ended.expect("reaped");
        let stdout = self.stdout.join().expect("stdout reader");
        let stderr = self.stderr.join().expect("stderr reader");
        Outcome {
            code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
            signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
            timed_out,
            wall,
            max_rss_bytes,
            parent_rss_bytes: self.parent_rss_bytes,
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.child.id()).expect("a PID fits pid_t")
    }

    fn reap(&mut self, block: bool) {
        if self.ended.is_some() {
            return;
        }
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value of this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if block { 0 } else { libc::WNOHANG };
        // SAFETY: wait4(2) on our own child, writing only into the two locals it is
        // given pointers to, which live across the call.
        let reaped = unsafe { libc::wait4(self.pid(), &raw mut status, flags, &raw mut usage) };
        let wall = self.start.elapsed();
        assert!(reaped >= 0, "wait4: {}", std::io::Error::last_os_error());
        if reaped == self.pid() {
            // Linux reports ru_maxrss in KiB.
            let max_rss = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
            self.ended = Some((status, wall, max_rss));
        }
    }
}

/// `VmRSS` of this process, in bytes (0 if unknown).
fn own_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn drain(mut stream: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        bytes
    })
}

/// Makes a FIFO (named pipe) at `path`, mode 0600.
///
/// # Panics
///
/// If it cannot be made.
pub fn mkfifo(path: &Path) {
    let c_path = CString::new(path.as_os_str().as_bytes()).expect("no NUL in the path");
    // SAFETY: mkfifo(3) reads the NUL-terminated string, which outlives the call.
    let made = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert!(
        made == 0,
        "mkfifo {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}
