//! Access logs: one line per request, CloudFront's standard-log fields, written
//! by a background thread so that a slow disk or pipe never holds up a request.

use crate::manifests::ManifestSigning;
use crate::tls::TlsSession;
use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use http::{HeaderMap, header};

use crate::outcome::CacheStatus;
use jiff::Timestamp;

/// Lines waiting for the writer; past this, lines are dropped (and counted in
/// `cfsign_edge_access_log_dropped_total`) rather than slowing requests down.
pub const QUEUE_LINES: usize = 16_384;

/// Longest logged value, after escaping; longer ones end in `...`.
pub const MAX_FIELD_BYTES: usize = 8_192;

/// What replaces a credential, or anything that could be one, in a logged
/// value (see [`redact`]).
pub const REDACTED: &str = "REDACTED";

/// Shortest run of base64 characters that [`redact`] replaces wherever it is,
/// with or without a parameter name, when it has both upper- and lower-case
/// letters.
///
/// The shortest credential is an ECDSA P-256 signature: 70 to 72 DER bytes,
/// 96 base64 characters (92 for about one in 500, whose `r` or `s` is a byte
/// shorter); RSA-2048 signatures are 344 characters and policies over 100. A
/// piece of a signature shorter than 64 (a truncated one) lacks at least 29
/// characters (174 bits): nothing to recover the signature from. Random base64 has both cases
/// except with probability 2·(38/64)^64 < 10⁻¹⁴ for 64 characters, and a
/// credential whose case was lost is lost (base64 is case-sensitive), while
/// ordinary long runs are one case: lower-case paths and slugs
/// (`/videos/customers/acme-corp/training-library/module-03/...`), hex
/// digests (SHA-256, an S3 presigned URL's `X-Amz-Signature`), which stay
/// readable.
pub const MIN_REDACTED_RUN: usize = 64;

/// The line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLogFormat {
    /// Tab-separated values in CloudFront's standard-log field order, `-` for none.
    Text,
    /// One JSON object per line with the same fields as keys, `null` for none.
    Json,
}

impl std::str::FromStr for AccessLogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("{other:?} is not \"text\" or \"json\"")),
        }
    }
}

enum Message {
    Line(String),
    Flush(SyncSender<()>),
    /// Write to this from now on (the old writer is flushed and dropped).
    Reopen(Box<dyn Write + Send>),
}

/// Where access-log lines go: a writer owned by a background thread, fed through
/// a bounded queue. Cheap to clone; the thread ends when the last clone is dropped.
///
/// ```
/// use std::time::Duration;
/// use cfsign_edge::observe::{AccessLog, AccessLogFormat};
///
/// let log = AccessLog::stderr(AccessLogFormat::Json)?;
/// // hand it to ObserveLayer::new; before the process exits:
/// log.flush(Duration::from_secs(5));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct AccessLog {
    format: AccessLogFormat,
    queue: SyncSender<Message>,
    /// The file it appends to, for [`reopen`](Self::reopen).
    path: Option<PathBuf>,
}

/// Opens `path` to append to, created `0640` (on Unix) if missing: access logs
/// hold viewers' addresses, not for every local user.
fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o640);
    options.open(path)
}

impl AccessLog {
    /// Lines in `format` written to `writer` (buffered; flushed whenever the queue empties).
    ///
    /// # Errors
    ///
    /// When the writer thread cannot be started.
    pub fn new(
        format: AccessLogFormat,
        writer: impl Write + Send + 'static,
    ) -> std::io::Result<Self> {
        let (queue, lines) = mpsc::sync_channel(QUEUE_LINES);
        let writer: Box<dyn Write + Send> = Box::new(writer);
        std::thread::Builder::new()
            .name("cfsign-access-log".to_owned())
            .spawn(move || write_lines(&lines, writer))?;
        Ok(Self {
            format,
            queue,
            path: None,
        })
    }

    /// Lines written to standard output.
    ///
    /// # Errors
    ///
    /// When the writer thread cannot be started.
    pub fn stdout(format: AccessLogFormat) -> std::io::Result<Self> {
        Self::new(format, std::io::stdout())
    }

    /// Lines written to standard error.
    ///
    /// # Errors
    ///
    /// When the writer thread cannot be started.
    pub fn stderr(format: AccessLogFormat) -> std::io::Result<Self> {
        Self::new(format, std::io::stderr())
    }

    /// Lines appended to a file (created `0640` if missing); see
    /// [`reopen`](Self::reopen) for log rotation.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or the writer thread cannot be started.
    pub fn file(format: AccessLogFormat, path: &Path) -> std::io::Result<Self> {
        let file = open_append(path)?;
        let mut log = Self::new(format, file)?;
        log.path = Some(path.to_owned());
        Ok(log)
    }

    /// Opens the file again by its path and writes there from now on, for log
    /// rotation without `copytruncate` (`cfsign edge` does it on SIGHUP): once
    /// the file was renamed, the lines queued before go to the renamed file, the
    /// later ones to a new file at the path (created `0640`). `Ok(false)` for a
    /// log that is not a file (standard output, a writer).
    ///
    /// ```
    /// use cfsign_edge::observe::{AccessLog, AccessLogFormat};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("access.log");
    /// let log = AccessLog::file(AccessLogFormat::Text, &path)?;
    /// std::fs::rename(&path, dir.path().join("access.log.1"))?;
    /// assert!(log.reopen()?);
    /// assert!(path.is_file());
    /// assert!(!AccessLog::stderr(AccessLogFormat::Text)?.reopen()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When the file cannot be opened (the old one stays in use), or the writer
    /// thread is gone or did not take the new file within 5 s.
    pub fn reopen(&self) -> std::io::Result<bool> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let file = open_append(path)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        if self.enqueue(Message::Reopen(Box::new(file)), deadline) {
            Ok(true)
        } else {
            Err(std::io::Error::other(
                "the access-log writer did not take the reopened file",
            ))
        }
    }

    /// Queues `message`, retrying while the queue is full until `deadline`
    /// rather than blocking; `false` if it was not queued.
    fn enqueue(&self, mut message: Message, deadline: std::time::Instant) -> bool {
        loop {
            match self.queue.try_send(message) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(m)) => {
                    if std::time::Instant::now() >= deadline {
                        return false;
                    }
                    message = m;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }

    /// The line format.
    #[must_use]
    pub fn format(&self) -> AccessLogFormat {
        self.format
    }

    /// Waits until every line queued so far is written and flushed, at most
    /// `timeout`; `false` if that did not happen in time.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (done, wait) = mpsc::sync_channel(1);
        let deadline = std::time::Instant::now() + timeout;
        // The queue may be full: retry until the deadline rather than block.
        if !self.enqueue(Message::Flush(done), deadline) {
            return false;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        wait.recv_timeout(left).is_ok()
    }

    /// Queues one record; `false` when it was dropped (queue full or writer gone).
    pub(crate) fn write(&self, record: &Record) -> bool {
        let line = match self.format {
            AccessLogFormat::Text => record.text(),
            AccessLogFormat::Json => record.json(),
        };
        self.queue.try_send(Message::Line(line)).is_ok()
    }
}

fn write_lines(lines: &Receiver<Message>, writer: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::new(writer);
    while let Ok(message) = lines.recv() {
        handle(message, &mut out);
        while let Ok(more) = lines.try_recv() {
            handle(more, &mut out);
        }
        let _ = out.flush();
    }
    let _ = out.flush();
}

/// Write errors are ignored: there is nowhere to report them, and serving goes on.
fn handle(message: Message, out: &mut std::io::BufWriter<Box<dyn Write + Send>>) {
    match message {
        Message::Reopen(writer) => {
            let _ = out.flush();
            *out = std::io::BufWriter::new(writer);
        }
        Message::Line(line) => {
            let _ = out.write_all(line.as_bytes());
        }
        Message::Flush(done) => {
            let _ = out.flush();
            let _ = done.send(());
        }
    }
}

/// How the request was answered, as CloudFront's `x-edge-result-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResultType {
    Hit,
    RefreshHit,
    Miss,
    Error,
}

impl ResultType {
    /// From the response's cache status, else from its status code (a service
    /// that is not the edge: 4xx and 5xx are errors).
    pub(crate) fn of(cache: Option<CacheStatus>, status: u16) -> Self {
        match cache {
            Some(CacheStatus::Hit) => ResultType::Hit,
            Some(CacheStatus::RefreshHit) => ResultType::RefreshHit,
            Some(CacheStatus::Miss) => ResultType::Miss,
            Some(CacheStatus::Error) => ResultType::Error,
            None if status >= 400 => ResultType::Error,
            None => ResultType::Miss,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ResultType::Hit => "Hit",
            ResultType::RefreshHit => "RefreshHit",
            ResultType::Miss => "Miss",
            ResultType::Error => "Error",
        }
    }

    /// The metric label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            ResultType::Hit => "hit",
            ResultType::RefreshHit => "refresh_hit",
            ResultType::Miss => "miss",
            ResultType::Error => "error",
        }
    }
}

/// A request id: 32 hex digits (a per-process prefix and a counter), kept
/// inline so that naming a request allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestId([u8; 32]);

impl RequestId {
    pub(crate) fn new(prefix: u64, n: u64) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut digits = [0u8; 32];
        for (i, d) in digits.iter_mut().enumerate() {
            let word = if i < 16 { prefix } else { n };
            let shift = 60 - 4 * (i % 16);
            *d = HEX[((word >> shift) & 0xf) as usize];
        }
        Self(digits)
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// One request, as logged. Every value from the request (or the response) is
/// [`Logged`]: redacted and escaped.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) received: Timestamp,
    /// Made by the edge.
    pub(crate) request_id: RequestId,
    pub(crate) client: Option<SocketAddr>,
    pub(crate) method: Logged,
    pub(crate) host: Logged,
    pub(crate) path: Logged,
    pub(crate) query: Logged,
    pub(crate) referer: Logged,
    pub(crate) user_agent: Logged,
    pub(crate) cookies: Logged,
    pub(crate) forwarded_for: Logged,
    pub(crate) protocol_version: &'static str,
    /// The TLS session, for a request over HTTPS.
    pub(crate) tls: Option<TlsSession>,
    pub(crate) request_bytes: u64,
    // the response
    pub(crate) status: u16,
    /// The response's own result (`x-edge-response-result-type`).
    pub(crate) result: ResultType,
    /// The viewer went away (or the origin failed) before the body was sent:
    /// `x-edge-result-type` is then `Error`.
    pub(crate) aborted: bool,
    pub(crate) detailed: &'static str,
    pub(crate) content_type: Logged,
    pub(crate) content_length: Option<u64>,
    pub(crate) range: Option<(u64, u64)>,
    pub(crate) first_byte: Option<Duration>,
    /// What `sign_manifests` did, for a manifest.
    pub(crate) manifest: Option<ManifestSigning>,
    // when done
    pub(crate) sent: u64,
    pub(crate) taken: Duration,
}

impl Record {
    /// The response fields of a request not answered (yet): `000`, an error,
    /// nothing sent. The request fields are for the caller to fill.
    pub(crate) fn unanswered(request_id: RequestId, received: Timestamp) -> Self {
        Self {
            received,
            request_id,
            client: None,
            method: Logged::default(),
            host: Logged::default(),
            path: Logged::default(),
            query: Logged::default(),
            referer: Logged::default(),
            user_agent: Logged::default(),
            cookies: Logged::default(),
            forwarded_for: Logged::default(),
            protocol_version: "HTTP/1.1",
            tls: None,
            request_bytes: 0,
            status: 0,
            result: ResultType::Error,
            aborted: true,
            detailed: "ClientCommError",
            content_type: Logged::default(),
            content_length: None,
            range: None,
            first_byte: None,
            manifest: None,
            sent: 0,
            taken: Duration::ZERO,
        }
    }
}

/// A field value.
enum Value<'a> {
    Str(&'a str),
    Int(u64),
    /// Three digits in text (`000`: the viewer left before a response).
    Status(u16),
    Secs(Duration),
    None,
}

impl<'a> Value<'a> {
    fn str(s: &'a str) -> Self {
        if s.is_empty() {
            Value::None
        } else {
            Value::Str(s)
        }
    }

    fn logged(s: &'a Logged) -> Self {
        Self::str(s.as_str())
    }

    fn opt(n: Option<u64>) -> Self {
        n.map_or(Value::None, Value::Int)
    }
}

/// The fields, in the order of CloudFront's standard logs, then cfsign's own:
/// `x-cfsign-manifest`, what `sign_manifests` did with a manifest
/// ([`ManifestSigning`]: `signed:12,left-alone:0`, `unchanged:cookies`, …).
pub const FIELDS: [&str; 34] = [
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
    "x-cfsign-manifest",
];

impl Record {
    /// Calls `f` with each field's name and value, in [`FIELDS`] order.
    fn each(&self, mut f: impl FnMut(&'static str, &Value<'_>)) {
        let date = self.received.strftime("%Y-%m-%d").to_string();
        let time = self.received.strftime("%H:%M:%S").to_string();
        let ip = self
            .client
            .map(|c| c.ip().to_canonical().to_string())
            .unwrap_or_default();
        let manifest = self.manifest.map(|m| m.to_string()).unwrap_or_default();
        let values = [
            Value::Str(&date),
            Value::Str(&time),
            Value::Str("cfsign"),
            Value::Int(self.sent),
            Value::str(&ip),
            Value::logged(&self.method),
            Value::logged(&self.host),
            Value::logged(&self.path),
            Value::Status(self.status),
            Value::logged(&self.referer),
            Value::logged(&self.user_agent),
            Value::logged(&self.query),
            Value::logged(&self.cookies),
            Value::Str(if self.aborted {
                ResultType::Error.as_str()
            } else {
                self.result.as_str()
            }),
            Value::str(self.request_id.as_str()),
            Value::logged(&self.host),
            Value::Str(if self.tls.is_some() { "https" } else { "http" }),
            Value::Int(self.request_bytes),
            Value::Secs(self.taken),
            Value::logged(&self.forwarded_for),
            self.tls.map_or(Value::None, |t| Value::Str(t.protocol)),
            self.tls.map_or(Value::None, |t| Value::Str(t.cipher)),
            Value::Str(self.result.as_str()),
            Value::Str(self.protocol_version),
            Value::None, // fle-status
            Value::None, // fle-encrypted-fields
            Value::opt(self.client.map(|c| u64::from(c.port()))),
            self.first_byte.map_or(Value::None, Value::Secs),
            Value::Str(self.detailed),
            Value::logged(&self.content_type),
            Value::opt(self.content_length),
            Value::opt(self.range.map(|r| r.0)),
            Value::opt(self.range.map(|r| r.1)),
            Value::str(&manifest),
        ];
        for (name, value) in FIELDS.iter().zip(values.iter()) {
            f(name, value);
        }
    }

    /// Tab-separated, newline-terminated.
    pub(crate) fn text(&self) -> String {
        let mut line = String::with_capacity(512);
        self.each(|name, value| {
            if name != FIELDS[0] {
                line.push('\t');
            }
            let _ = match value {
                Value::Str(s) => write!(line, "{s}"),
                Value::Int(n) => write!(line, "{n}"),
                Value::Status(n) => write!(line, "{n:03}"),
                Value::Secs(d) => write!(line, "{:.3}", d.as_secs_f64()),
                Value::None => write!(line, "-"),
            };
        });
        line.push('\n');
        line
    }

    /// One JSON object, newline-terminated.
    pub(crate) fn json(&self) -> String {
        let mut line = String::with_capacity(1024);
        // First the time as RFC 3339 (`date` and `time` follow, as CloudFront's).
        let _ = write!(
            line,
            "{{\"timestamp\":\"{}\"",
            self.received.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        );
        self.each(|name, value| {
            line.push(',');
            let _ = write!(line, "\"{name}\":");
            let _ = match value {
                Value::Str(s) => write!(line, "{}", serde_json::Value::from(*s)),
                Value::Int(n) => write!(line, "{n}"),
                Value::Status(n) => write!(line, "{n}"),
                Value::Secs(d) => write!(line, "{:.3}", d.as_secs_f64()),
                Value::None => write!(line, "null"),
            };
        });
        line.push_str("}\n");
        line
    }
}

/// A value made safe for a log line: controls (tab, CR, LF, ESC, ...), space
/// and non-ASCII bytes as `%XX`, so that a value can neither split a line or a
/// field nor carry terminal escapes; at most [`MAX_FIELD_BYTES`] (then `...`).
/// Only [`redact`] calls it, after redacting.
fn escape(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_FIELD_BYTES));
    for &b in raw {
        let escaped = b.is_ascii_control() || b == b' ' || !b.is_ascii();
        if out.len() + if escaped { 3 } else { 1 } > MAX_FIELD_BYTES {
            out.push_str("...");
            break;
        }
        if escaped {
            let _ = write!(out, "%{b:02X}");
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// A value as it may be written to a log line. The only way to make one is
/// [`redact`], so no client-controlled byte reaches a line unredacted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Logged(String);

impl Logged {
    /// `raw` redacted and escaped by [`redact`].
    pub(crate) fn new(raw: &[u8]) -> Self {
        Self(redact(raw))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The credential redaction rule of access logs, applied to every value a
/// client (or an origin) controls, after which the value is escaped and cut
/// like every logged value. The value is read with every layer of encoding
/// undone (percent-encoding to any depth, `%uXXXX`, HTML entities named and
/// numeric, `\uXXXX`, `\xHH` and `\/` backslash escapes), and the raw bytes
/// that these decoded parts came from are replaced by [`REDACTED`]:
///
/// 1. **The value of a reserved credential parameter**: a name that is, in any
///    case, `Signature`, `Policy`, `CloudFront-Signature` or `CloudFront-Policy`,
///    followed by `=` or `:` (`[]` with or without an index, spaces, `+` and
///    quotes in between are ignored);
///    the value runs to the next `&`, `;`, `,`, `#`, `?`, quote or angle
///    bracket. `Expires`, `Key-Pair-Id` and `Hash-Algorithm` are not secret (a
///    viewer cannot do anything with them without the signature) and stay.
/// 2. **Every run of at least [`MIN_REDACTED_RUN`] base64 characters with
///    both upper- and lower-case letters**, names or not: CloudFront's
///    alphabet (`A-Z a-z 0-9 - _ ~`) and the standard one (`+ /`), across line
///    breaks (wrapped base64). A signature pasted in a path, a header or
///    under another name is such a run.
///
/// Undoing the encodings before looking means a mangled URL (`&amp;`, `%26`,
/// `%2526`, `Signature%3D`, `%7E`, a URL inside a parameter) is read the way a
/// person or a lenient server would read it; what is cut out is the raw bytes
/// the credential came from, whatever their encoding. (Decoding can only join
/// runs, never split one: an escape needs a `%`, `\` or `&`, which base64 has
/// not, so at most the few characters after an escape just before a run are
/// read as part of that escape.)
///
/// ```
/// use cfsign_edge::observe::redact;
///
/// let signature = "MEUCIQC8Vb2v6B5bD2nbqFw~7IR3ABJ2mAeofb-FfwmXvJGBnAIgU2xXrB3c4jc46B6SfT1JZ1l5Na~AtA4tCqYHpsIL8s0_";
/// assert_eq!(
///     redact(format!("Expires=1767225600&Signature={signature}&Key-Pair-Id=K2JCJMDEHXQW5F").as_bytes()),
///     "Expires=1767225600&Signature=REDACTED&Key-Pair-Id=K2JCJMDEHXQW5F"
/// );
/// // mangled: HTML-escaped separators, `~` as `%7E`
/// let mangled = format!("Expires=1&amp;Signature={}&amp;x=1", signature.replace('~', "%7E"));
/// assert_eq!(redact(mangled.as_bytes()), "Expires=1&amp;Signature=REDACTED&amp;x=1");
/// // a short value after a reserved name, in another case, with an encoded `=`
/// assert_eq!(redact(b"policy%3Dabc&a=1"), "policy%3DREDACTED&a=1");
/// // a signature without a name, in a header or a path (`/` is base64 too)
/// assert_eq!(redact(format!("curl {signature}").as_bytes()), "curl%20REDACTED");
/// assert_eq!(redact(format!("/media/{signature}.ts").as_bytes()), "REDACTED.ts");
/// // ordinary values stay as they were (escaped)
/// assert_eq!(redact(b"/video/2024/intro_1080p.mp4"), "/video/2024/intro_1080p.mp4");
/// assert_eq!(redact(b"curl/8.5.0 (x)"), "curl/8.5.0%20(x)");
/// ```
#[must_use]
pub fn redact(raw: &[u8]) -> String {
    let decoded = Decoded::new(raw);
    let mut cut: Vec<Range<usize>> = long_runs(&decoded.bytes)
        .into_iter()
        .chain(secret_values(&decoded.bytes))
        .map(|r| decoded.raw_span(r))
        .collect();
    cut.sort_by_key(|r| r.start);
    let mut out = Vec::with_capacity(raw.len());
    let mut done = 0;
    let mut current: Option<Range<usize>> = None;
    for r in cut {
        match &mut current {
            Some(c) if r.start <= c.end => c.end = c.end.max(r.end),
            _ => {
                if let Some(c) = current.replace(r) {
                    out.extend_from_slice(&raw[done..c.start]);
                    out.extend_from_slice(REDACTED.as_bytes());
                    done = c.end;
                }
            }
        }
    }
    if let Some(c) = current {
        out.extend_from_slice(&raw[done..c.start]);
        out.extend_from_slice(REDACTED.as_bytes());
        done = c.end;
    }
    out.extend_from_slice(&raw[done..]);
    escape(&out)
}

/// Parameter names (compared ignoring case) whose values are credentials.
const SECRET_NAMES: [&str; 4] = [
    "Signature",
    "Policy",
    "CloudFront-Signature",
    "CloudFront-Policy",
];

/// A base64 character, in CloudFront's alphabet or the standard one (`=`
/// padding excepted: it carries nothing, and separates `name=value`).
fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~' | b'+' | b'/')
}

/// The runs of at least [`MIN_REDACTED_RUN`] base64 characters with both
/// cases (line breaks inside a run are skipped, not counted), as index ranges.
fn long_runs(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !is_base64(bytes[i]) {
            i += 1;
            continue;
        }
        let (start, mut end, mut count) = (i, i, 0);
        let (mut upper, mut lower) = (false, false);
        while i < bytes.len() && (is_base64(bytes[i]) || matches!(bytes[i], b'\r' | b'\n')) {
            if is_base64(bytes[i]) {
                count += 1;
                end = i + 1;
                upper |= bytes[i].is_ascii_uppercase();
                lower |= bytes[i].is_ascii_lowercase();
            }
            i += 1;
        }
        if count >= MIN_REDACTED_RUN && upper && lower {
            runs.push(start..end);
        }
    }
    runs
}

/// A byte of a parameter name.
fn is_name(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// The values of reserved credential parameters, as index ranges.
fn secret_values(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut values = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !is_name(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_name(bytes[i]) {
            i += 1;
        }
        let name = &bytes[start..i];
        if !SECRET_NAMES
            .iter()
            .any(|s| name.eq_ignore_ascii_case(s.as_bytes()))
        {
            continue;
        }
        let skip = |from: usize, what: &dyn Fn(u8) -> bool| {
            bytes[from..]
                .iter()
                .position(|&b| !what(b))
                .map_or(bytes.len(), |n| from + n)
        };
        let after = skip(i, &|b| {
            matches!(b, b'[' | b']' | b' ' | b'\t' | b'"' | b'\'' | b'+') || b.is_ascii_digit()
        });
        if !matches!(bytes.get(after), Some(b'=' | b':')) {
            continue;
        }
        let value = skip(after + 1, &|b| matches!(b, b' ' | b'\t' | b'"' | b'\''));
        let end = skip(value, &|b| {
            !matches!(
                b,
                b'&' | b';' | b',' | b'#' | b'?' | b'"' | b'\'' | b'<' | b'>'
            )
        });
        if end > value {
            values.push(value..end);
        }
        i = end;
    }
    values
}

/// Named HTML character references that decode to ASCII (compared ignoring
/// case; `tilde`, `hyphen` and `dash` are look-alikes, read as `~` and `-`).
const ENTITIES: [(&str, u8); 30] = [
    ("amp", b'&'),
    ("lt", b'<'),
    ("gt", b'>'),
    ("quot", b'"'),
    ("apos", b'\''),
    ("sol", b'/'),
    ("bsol", b'\\'),
    ("plus", b'+'),
    ("equals", b'='),
    ("lowbar", b'_'),
    ("tilde", b'~'),
    ("hyphen", b'-'),
    ("dash", b'-'),
    ("semi", b';'),
    ("colon", b':'),
    ("comma", b','),
    ("period", b'.'),
    ("num", b'#'),
    ("percnt", b'%'),
    ("quest", b'?'),
    ("excl", b'!'),
    ("lsqb", b'['),
    ("rsqb", b']'),
    ("lbrack", b'['),
    ("rbrack", b']'),
    ("lpar", b'('),
    ("rpar", b')'),
    ("tab", b'\t'),
    ("newline", b'\n'),
    ("nbsp", b' '),
];

/// Longest character reference looked for (`&#x0000007E;`).
const MAX_REFERENCE: usize = 12;

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// `digits` in `radix`, if it is an ASCII code point.
fn ascii_code(digits: &[u8], radix: u32) -> Option<u8> {
    let text = std::str::from_utf8(digits).ok()?;
    u8::try_from(u32::from_str_radix(text, radix).ok()?)
        .ok()
        .filter(u8::is_ascii)
}

/// A value with every layer of encoding undone, each byte knowing the span of
/// raw bytes it was decoded from. Escapes are decoded at the end of the output
/// as they complete, so an escape that decoding produced is decoded in turn
/// (`%2526` → `%26` → `&`), to any depth, in one pass: each decoding shortens
/// the output, so there are fewer decodings than raw bytes.
struct Decoded {
    bytes: Vec<u8>,
    spans: Vec<Range<usize>>,
}

impl Decoded {
    fn new(raw: &[u8]) -> Self {
        let mut decoded = Self {
            bytes: Vec::with_capacity(raw.len()),
            spans: Vec::with_capacity(raw.len()),
        };
        for (i, &b) in raw.iter().enumerate() {
            decoded.push(b, i..i + 1);
        }
        // A reference without `;` at the very end (`&#38`) is ended by the end
        // of the value: push a NUL (which completes no other escape) and drop it.
        decoded.push(0, raw.len()..raw.len());
        decoded.bytes.pop();
        decoded.spans.pop();
        decoded
    }

    /// The raw bytes that `range` of the decoded bytes came from.
    fn raw_span(&self, range: Range<usize>) -> Range<usize> {
        self.spans[range.start].start..self.spans[range.end - 1].end
    }

    fn push(&mut self, byte: u8, span: Range<usize>) {
        self.bytes.push(byte);
        self.spans.push(span);
        while let Some((range, byte)) = self.completed() {
            let span = self.spans[range.start].start..self.spans[range.end - 1].end;
            let tail: Vec<_> = self.bytes.drain(range.end..).collect();
            let tail_spans: Vec<_> = self.spans.drain(range.end..).collect();
            self.bytes.truncate(range.start);
            self.spans.truncate(range.start);
            self.bytes.push(byte);
            self.spans.push(span);
            self.bytes.extend(tail);
            self.spans.extend(tail_spans);
        }
    }

    /// An escape that the last byte completed: the range it takes and its value.
    fn completed(&self) -> Option<(Range<usize>, u8)> {
        let b = &self.bytes;
        let n = b.len();
        let last = *b.last()?;
        let from = |len: usize| n.checked_sub(len).map(|start| (start, &b[start..]));
        // %XX
        if let Some((start, [b'%', h, l])) = from(3)
            && let (Some(h), Some(l)) = (hex(*h), hex(*l))
        {
            return Some((start..n, h * 16 + l));
        }
        // %uXXXX, \uXXXX
        if let Some((start, [b'%' | b'\\', b'u' | b'U', digits @ ..])) = from(6)
            && digits.iter().all(u8::is_ascii_hexdigit)
            && let Some(v) = ascii_code(digits, 16)
        {
            return Some((start..n, v));
        }
        // \xHH
        if let Some((start, [b'\\', b'x' | b'X', h, l])) = from(4)
            && let (Some(h), Some(l)) = (hex(*h), hex(*l))
        {
            return Some((start..n, h * 16 + l));
        }
        // \/ and any other escaped punctuation
        if let Some((start, [b'\\', p])) = from(2)
            && p.is_ascii_punctuation()
        {
            return Some((start..n, *p));
        }
        // &name; &#N; &#xH;
        if last == b';' {
            let window = &b[n.saturating_sub(MAX_REFERENCE)..n - 1];
            let amp = window.iter().rposition(|&c| c == b'&')?;
            let start = n.saturating_sub(MAX_REFERENCE) + amp;
            let reference = &b[start + 1..n - 1];
            let value = match reference {
                [b'#', b'x' | b'X', digits @ ..] => ascii_code(digits, 16),
                [b'#', digits @ ..] => ascii_code(digits, 10),
                name => ENTITIES
                    .iter()
                    .find(|(e, _)| name.eq_ignore_ascii_case(e.as_bytes()))
                    .map(|(_, v)| *v),
            };
            return value.map(|v| (start..n, v));
        }
        // &#N and &#xH without `;`, ended by the byte just pushed
        let body = &b[n.saturating_sub(MAX_REFERENCE)..n - 1];
        let hash = body.iter().rposition(|&c| c == b'#')?;
        let start = n.saturating_sub(MAX_REFERENCE) + hash;
        if start == 0 || b[start - 1] != b'&' {
            return None;
        }
        let (digits, radix) = match &b[start + 1..n - 1] {
            [b'x' | b'X', digits @ ..] => (digits, 16),
            digits => (digits, 10),
        };
        let continues = char::from(last).is_digit(radix) || (radix == 10 && digits.is_empty());
        if digits.is_empty() || continues || !digits.iter().all(|&d| char::from(d).is_digit(radix))
        {
            return None;
        }
        ascii_code(digits, radix).map(|v| (start - 1..n - 1, v))
    }
}

/// Longest list of cookie names logged.
const MAX_COOKIES: usize = 64;

/// The names of the request's cookies, `;`-separated, never their values
/// (`CloudFront-Signature` and `CloudFront-Policy` are credentials); the list
/// goes through [`redact`] like every logged value (a signature pasted as a
/// cookie name is still a signature).
pub(crate) fn cookie_names(headers: &HeaderMap) -> Logged {
    let mut names: Vec<&[u8]> = Vec::new();
    for value in headers.get_all(header::COOKIE) {
        for pair in value.as_bytes().split(|&b| b == b';') {
            let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
            let name = name.trim_ascii();
            if !name.is_empty() && names.len() < MAX_COOKIES {
                names.push(name);
            }
        }
    }
    Logged::new(&names.join(&b';'))
}
