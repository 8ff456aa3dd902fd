//! A child process's output read line by line, each wait bounded in time.
//!
//! A thread reads the stream and hands lines over a channel, so a test that
//! waits for a line the process never prints fails after [`Lines::TIMEOUT`]
//! instead of hanging until CI kills it.

use std::io::{BufRead as _, BufReader, Read};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

/// Lines of a stream (e.g. a child's standard error).
#[derive(Debug)]
pub struct Lines {
    lines: Receiver<String>,
}

impl Lines {
    /// How long [`Lines::next`] waits for a line.
    pub const TIMEOUT: Duration = Duration::from_secs(20);

    /// Starts reading `stream` on a thread.
    #[must_use]
    pub fn new(stream: impl Read + Send + 'static) -> Self {
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { lines }
    }

    /// The next line (without its end of line).
    ///
    /// # Panics
    ///
    /// If none comes within [`Lines::TIMEOUT`], or the stream ended (the process exited).
    #[must_use]
    pub fn next(&self) -> String {
        match self.lines.recv_timeout(Self::TIMEOUT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("no line within {:?}", Self::TIMEOUT)
            }
            Err(RecvTimeoutError::Disconnected) => panic!("the stream ended: the process exited"),
        }
    }
}
