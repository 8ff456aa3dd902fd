//! Bounded reads of files and streams, with an error that names the input, the
//! bound and the fix.
//!
//! Every file and stream cfsign reads (keys, policies, the edge's configuration
//! and certificates, `cfsign batch` and `cfsign verify -` input) goes through a
//! [`Limit`] that fits its kind. Reading stops after `max_bytes + 1` bytes and
//! never allocates more, so `/dev/zero`, a FIFO that never ends or a file of
//! gigabytes is refused at once, in bounded memory.
//!
//! What "at once" means for an input that does not end:
//!
//! - **A file that is not a regular file** (a pipe, a FIFO, a device, a
//!   `<(...)` process substitution) must deliver its whole content and end
//!   within [`PIPE_DEADLINE`]. A writer that sends more than the bound is
//!   refused as soon as the bound is passed; a writer that keeps the pipe open
//!   and stays silent is refused when the deadline passes, instead of holding
//!   the read (and, in the edge, a reload) forever. Regular files have no
//!   deadline: they always end.
//! - **A stream** (standard input, read with [`Limit::read`] or line by line with
//!   [`Limit::lines`]) has no time limit: like any filter, it waits while its
//!   writer is silent. The bound applies to the whole stream, or to each line,
//!   and a line is refused while it is being read, never after it is in memory.
//!
//! ```
//! use cfsign::input::{InputError, Limit, Source};
//!
//! const NAME: Limit = Limit::new("the name file", 16, "a name is a few letters");
//!
//! assert_eq!(NAME.read(&b"Ada"[..], Source::Stdin)?, b"Ada");
//!
//! let err = NAME.read(std::io::repeat(0), Source::Stdin).unwrap_err();
//! assert!(matches!(err, InputError::TooLarge { .. }));
//! assert_eq!(
//!     err.to_string(),
//!     "the name file on standard input is larger than 16 bytes; a name is a few letters"
//! );
//! # Ok::<(), InputError>(())
//! ```

use std::fmt;
use std::fs::File;
use std::io::{BufRead, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// How long a file that is not a regular file (a pipe, FIFO or device) may take
/// to deliver its whole content.
pub const PIPE_DEADLINE: Duration = Duration::from_secs(10);

/// The bound for one kind of input: what it is called in messages, how many bytes
/// it may hold, and why (with the fix).
///
/// ```
/// use cfsign::input::Limit;
///
/// const CONFIG: Limit = Limit::new("the configuration file", 1 << 20, "a configuration is a few KiB");
/// assert_eq!(CONFIG.max_bytes(), 1_048_576);
/// assert_eq!(CONFIG.to_string(), "1 MiB (1048576 bytes)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    what: &'static str,
    max_bytes: usize,
    why: &'static str,
}

impl Limit {
    /// A bound of `max_bytes` for the input called `what` in messages (e.g. "the
    /// private key file"); `why` says why the bound fits and how to fix the input.
    #[must_use]
    pub const fn new(what: &'static str, max_bytes: usize, why: &'static str) -> Self {
        Self {
            what,
            max_bytes,
            why,
        }
    }

    /// The most bytes the input may hold.
    #[must_use]
    pub const fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// What the input is called in messages.
    #[must_use]
    pub const fn what(&self) -> &'static str {
        self.what
    }

    /// Reads a whole file of at most [`max_bytes`](Self::max_bytes). A file that
    /// is not a regular file must end within [`PIPE_DEADLINE`].
    ///
    /// ```
    /// use cfsign::input::{InputError, Limit};
    ///
    /// const KEY: Limit = Limit::new("the key file", 64 * 1024, "a key is a few KiB");
    /// let err = KEY.read_file("/dev/zero".as_ref()).unwrap_err();
    /// assert!(matches!(err, InputError::TooLarge { .. }));
    /// assert!(err.to_string().starts_with("the key file /dev/zero is larger than 64 KiB (65536 bytes)"));
    /// ```
    pub fn read_file(&self, path: &Path) -> Result<Vec<u8>, InputError> {
        let source = Source::File(path.to_owned());
        let metadata = std::fs::metadata(path).map_err(|error| self.io(&source, error))?;
        if metadata.is_file() {
            let file = File::open(path).map_err(|error| self.io(&source, error))?;
            let hint = usize::try_from(metadata.len()).unwrap_or(usize::MAX);
            return self.read_with_hint(file, source, hint);
        }
        // Opening a FIFO blocks until a writer comes, and reading it blocks while the
        // writer is silent: both happen on a thread that is given up on (and left
        // blocked) after the deadline.
        let (sender, receiver) = mpsc::sync_channel(1);
        let limit = *self;
        let owned = path.to_owned();
        let thread_source = source.clone();
        std::thread::Builder::new()
            .name("cfsign-read".to_owned())
            .spawn(move || {
                let result = File::open(&owned)
                    .map_err(|error| limit.io(&thread_source, error))
                    .and_then(|file| limit.read(file, thread_source));
                let _ = sender.send(result);
            })
            .map_err(|error| self.io(&source, error))?;
        receiver
            .recv_timeout(PIPE_DEADLINE)
            .unwrap_or(Err(InputError::Stalled {
                input: source,
                limit: *self,
                waited: PIPE_DEADLINE,
            }))
    }

    /// [`read_file`](Self::read_file), as UTF-8 text.
    pub fn read_file_to_string(&self, path: &Path) -> Result<String, InputError> {
        let bytes = self.read_file(path)?;
        self.text(bytes, Source::File(path.to_owned()))
    }

    /// Reads a stream to its end, refusing it once it passes
    /// [`max_bytes`](Self::max_bytes). No time limit: a silent writer is waited for.
    pub fn read(&self, reader: impl Read, source: Source) -> Result<Vec<u8>, InputError> {
        self.read_with_hint(reader, source, 0)
    }

    /// [`read`](Self::read), as UTF-8 text.
    pub fn read_to_string(&self, reader: impl Read, source: Source) -> Result<String, InputError> {
        let bytes = self.read(reader, source.clone())?;
        self.text(bytes, source)
    }

    /// A reader of lines of at most [`max_bytes`](Self::max_bytes) each (without
    /// the `\n`).
    ///
    /// ```
    /// use cfsign::input::{InputError, Limit, Source};
    ///
    /// const LINE: Limit = Limit::new("a line", 4, "a line holds one word");
    /// let mut lines = LINE.lines(&b"one\nfour\nthree\n"[..], Source::Stdin);
    /// let mut line = Vec::new();
    /// assert!(lines.read_line(&mut line)?);
    /// assert_eq!(line, b"one");
    /// assert!(lines.read_line(&mut line)?);
    /// assert_eq!(line, b"four");
    /// let err = lines.read_line(&mut line).unwrap_err();
    /// assert!(matches!(err, InputError::LineTooLong { line: 3, .. }));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "line 3 of standard input is longer than 4 bytes; a line holds one word"
    /// );
    /// # Ok::<(), InputError>(())
    /// ```
    pub fn lines<R: BufRead>(&self, reader: R, source: Source) -> Lines<R> {
        Lines {
            reader,
            source,
            limit: *self,
            number: 0,
        }
    }

    fn read_with_hint(
        &self,
        mut reader: impl Read,
        source: Source,
        hint: usize,
    ) -> Result<Vec<u8>, InputError> {
        let cap = self.max_bytes.saturating_add(1);
        let mut bytes = Vec::with_capacity(hint.saturating_add(1).min(cap).min(1 << 20));
        let mut chunk = [0_u8; 8192];
        while bytes.len() < cap {
            let room = (cap - bytes.len()).min(chunk.len());
            let n = match reader.read(&mut chunk[..room]) {
                Ok(0) => return Ok(bytes),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return Err(self.io(&source, error)),
            };
            push_bounded(&mut bytes, &chunk[..n], cap);
        }
        Err(InputError::TooLarge {
            input: source,
            limit: *self,
        })
    }

    fn text(&self, bytes: Vec<u8>, source: Source) -> Result<String, InputError> {
        String::from_utf8(bytes).map_err(|e| InputError::NotText {
            input: source,
            limit: *self,
            offset: e.utf8_error().valid_up_to(),
        })
    }

    fn io(&self, source: &Source, error: std::io::Error) -> InputError {
        InputError::Io {
            input: source.clone(),
            limit: *self,
            error,
        }
    }
}

/// The bound in words: `64 KiB (65536 bytes)`, `1 MiB (1048576 bytes)`, `100 bytes`.
impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.max_bytes;
        if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
            write!(f, "{} MiB ({n} bytes)", n >> 20)
        } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
            write!(f, "{} KiB ({n} bytes)", n >> 10)
        } else {
            write!(f, "{n} bytes")
        }
    }
}

/// Appends `data`, growing `buf` at most to `cap` bytes of capacity.
fn push_bounded(buf: &mut Vec<u8>, data: &[u8], cap: usize) {
    let needed = buf.len() + data.len();
    if needed > buf.capacity() {
        let target = (buf.capacity() * 2)
            .max(needed)
            .max(256)
            .min(cap.max(needed));
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(data);
}

/// Where an input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file, by its path.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Stdin => f.write_str("standard input"),
        }
    }
}

/// The input as named in messages: `the private key file key.pem`, `the policy
/// file on standard input`.
struct Named<'a>(&'a Limit, &'a Source);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Source::File(path) => write!(f, "{} {}", self.0.what, path.display()),
            Source::Stdin => write!(f, "{} on standard input", self.0.what),
        }
    }
}

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Opening or reading failed.
    #[error("cannot read {}: {error}", Named(limit, input))]
    Io {
        /// The input.
        input: Source,
        /// Its kind.
        limit: Limit,
        /// The I/O error (included in the message, so not exposed as `source()`).
        error: std::io::Error,
    },
    /// More than the bound.
    #[error("{} is larger than {limit}; {}", Named(limit, input), limit.why)]
    TooLarge {
        /// The input.
        input: Source,
        /// The bound it passed.
        limit: Limit,
    },
    /// One line of a stream is longer than the bound.
    #[error("line {line} of {input} is longer than {limit}; {}", limit.why)]
    LineTooLong {
        /// The input.
        input: Source,
        /// The line's number, from 1.
        line: usize,
        /// The bound it passed.
        limit: Limit,
    },
    /// A pipe, FIFO or device that did not end within [`PIPE_DEADLINE`].
    #[error(
        "{} is not a regular file (a pipe, FIFO or device) and did not end within {} s; give a \
         regular file, or a pipe whose writer sends the whole content, at most {limit}, and closes it \
         in time",
        Named(limit, input),
        waited.as_secs()
    )]
    Stalled {
        /// The input.
        input: Source,
        /// Its kind.
        limit: Limit,
        /// How long the read was waited for.
        waited: Duration,
    },
    /// Text input that is not UTF-8.
    #[error(
        "{} is not UTF-8 text (an invalid byte at offset {offset}); save it as UTF-8",
        Named(limit, input)
    )]
    NotText {
        /// The input.
        input: Source,
        /// Its kind.
        limit: Limit,
        /// Where the first invalid byte is.
        offset: usize,
    },
}

impl InputError {
    /// The input the error is about.
    #[must_use]
    pub fn input(&self) -> &Source {
        match self {
            InputError::Io { input, .. }
            | InputError::TooLarge { input, .. }
            | InputError::LineTooLong { input, .. }
            | InputError::Stalled { input, .. }
            | InputError::NotText { input, .. } => input,
        }
    }
}

/// Lines of a stream, each at most a [`Limit`] long; made by [`Limit::lines`].
///
/// A line longer than the bound is an error as soon as its first `max_bytes + 1`
/// bytes are read, whether or not it ever ends; stop reading after an error.
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    source: Source,
    limit: Limit,
    number: usize,
}

impl<R: BufRead> Lines<R> {
    /// Reads the next line into `line` (cleared first), without its `\n` (a `\r`
    /// before it is kept). `Ok(false)` at the end of the stream.
    pub fn read_line(&mut self, line: &mut Vec<u8>) -> Result<bool, InputError> {
        line.clear();
        let mut started = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return Err(self.limit.io(&self.source, error)),
            };
            if available.is_empty() {
                if started {
                    self.number += 1;
                }
                return Ok(started);
            }
            started = true;
            let (take, ends) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (available.len(), false),
            };
            if line.len() + take > self.limit.max_bytes {
                return Err(InputError::LineTooLong {
                    input: self.source.clone(),
                    line: self.number + 1,
                    limit: self.limit,
                });
            }
            push_bounded(line, &available[..take], self.limit.max_bytes);
            self.reader.consume(take + usize::from(ends));
            if ends {
                self.number += 1;
                return Ok(true);
            }
        }
    }

    /// The number of the last line read (from 1; 0 before the first).
    #[must_use]
    pub fn number(&self) -> usize {
        self.number
    }

    /// The underlying reader (e.g. to see whether a [`std::io::BufReader`] still
    /// holds buffered bytes, or the next read would wait for more input).
    #[must_use]
    pub fn get_ref(&self) -> &R {
        &self.reader
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: Limit = Limit::new("the test input", 10, "fix it");

    #[test]
    fn reads_up_to_the_bound_and_refuses_one_byte_more() {
        assert_eq!(TINY.read(&[7_u8; 10][..], Source::Stdin).unwrap(), [7; 10]);
        let err = TINY.read(&[7_u8; 11][..], Source::Stdin).unwrap_err();
        assert!(matches!(err, InputError::TooLarge { .. }), "{err:?}");
    }

    /// A reader that counts what was asked of it and never ends.
    struct Endless<'a>(&'a mut usize);

    impl Read for Endless<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            *self.0 += buf.len();
            buf.fill(b'x');
            Ok(buf.len())
        }
    }

    #[test]
    fn an_endless_stream_is_read_only_to_the_bound_plus_one() {
        let mut asked = 0;
        let limit = Limit::new("x", 100_000, "y");
        let err = limit.read(Endless(&mut asked), Source::Stdin).unwrap_err();
        assert!(matches!(err, InputError::TooLarge { .. }));
        assert_eq!(asked, 100_001);
    }

    #[test]
    fn the_buffer_never_grows_past_the_bound_plus_one() {
        let limit = Limit::new("x", 100_000, "y");
        let mut bytes = Vec::new();
        let mut reader = std::io::repeat(1).take(100_000);
        // Through the same path as read_with_hint, watching the capacity.
        let mut chunk = [0_u8; 8192];
        loop {
            let n = reader.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            push_bounded(&mut bytes, &chunk[..n], limit.max_bytes + 1);
            assert!(
                bytes.capacity() <= limit.max_bytes + 1,
                "{}",
                bytes.capacity()
            );
        }
        assert_eq!(bytes.len(), 100_000);
    }

    #[test]
    fn lines_are_refused_while_being_read() {
        // A line that never ends: refused after the bound, not read to the end.
        let mut asked = 0;
        let reader = std::io::BufReader::with_capacity(16, Endless(&mut asked));
        let mut lines = TINY.lines(reader, Source::Stdin);
        let mut line = Vec::new();
        let err = lines.read_line(&mut line).unwrap_err();
        assert!(matches!(err, InputError::LineTooLong { line: 1, .. }));
        assert!(line.capacity() <= 10, "{}", line.capacity());
        assert!(asked <= 32, "{asked}");
    }

    #[test]
    fn lines_count_and_end() {
        let text = b"a\n\nexactly10b\nlast";
        let mut lines = TINY.lines(&text[..], Source::File("in.txt".into()));
        let mut line = Vec::new();
        let mut seen = Vec::new();
        while lines.read_line(&mut line).unwrap() {
            seen.push((lines.number(), String::from_utf8(line.clone()).unwrap()));
        }
        assert_eq!(
            seen,
            [
                (1, "a".to_owned()),
                (2, String::new()),
                (3, "exactly10b".to_owned()),
                (4, "last".to_owned())
            ]
        );
        let mut lines = TINY.lines(&b"ok\n12345678901\n"[..], Source::File("in.txt".into()));
        assert!(lines.read_line(&mut line).unwrap());
        let err = lines.read_line(&mut line).unwrap_err().to_string();
        assert_eq!(err, "line 2 of in.txt is longer than 10 bytes; fix it");
    }

    #[test]
    fn files_are_named_with_their_kind() {
        let dir = tempdir();
        let path = dir.join("big.bin");
        std::fs::write(&path, [0_u8; 11]).unwrap();
        let err = TINY.read_file(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "the test input {} is larger than 10 bytes; fix it",
                path.display()
            )
        );
        let err = TINY.read_file(&dir.join("nope")).unwrap_err().to_string();
        assert!(err.starts_with("cannot read the test input "), "{err}");
        std::fs::write(&path, [0xff_u8]).unwrap();
        let err = TINY.read_file_to_string(&path).unwrap_err().to_string();
        assert!(
            err.contains("not UTF-8 text (an invalid byte at offset 0)"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sizes_in_words() {
        assert_eq!(
            Limit::new("", 65_536, "").to_string(),
            "64 KiB (65536 bytes)"
        );
        assert_eq!(
            Limit::new("", 16_384, "").to_string(),
            "16 KiB (16384 bytes)"
        );
        assert_eq!(
            Limit::new("", 1 << 20, "").to_string(),
            "1 MiB (1048576 bytes)"
        );
        assert_eq!(Limit::new("", 1000, "").to_string(), "1000 bytes");
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cfsign-input-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
