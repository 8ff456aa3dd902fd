//! Access logs: one line per request, CloudFront's standard-log fields, written
//! by a background thread so that a slow disk or pipe never holds up a request.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use http::{HeaderMap, header};
use jiff::Timestamp;
use percent_encoding::percent_decode_str;

/// Lines waiting for the writer; past this, lines are dropped (and counted in
/// `cfsign_edge_access_log_dropped_total`) rather than slowing requests down.
pub const QUEUE_LINES: usize = 16_384;

/// Longest logged value, after escaping; longer ones end in `...`.
pub const MAX_FIELD_BYTES: usize = 8_192;

/// What replaces the value of a `Signature` or `Policy` query parameter.
pub const REDACTED: &str = "REDACTED";

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
        std::thread::Builder::new()
            .name("cfsign-access-log".to_owned())
            .spawn(move || write_lines(&lines, writer))?;
        Ok(Self { format, queue })
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

    /// Lines appended to a file (created if missing).
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or the writer thread cannot be started.
    pub fn file(format: AccessLogFormat, path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Self::new(format, file)
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
        let mut message = Message::Flush(done);
        // The queue may be full: retry until the deadline rather than block.
        loop {
            match self.queue.try_send(message) {
                Ok(()) => break,
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

fn write_lines(lines: &Receiver<Message>, writer: impl Write) {
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
fn handle(message: Message, out: &mut impl Write) {
    match message {
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
    Miss,
    Error,
}

impl ResultType {
    /// From the `X-Cache` header, else from the status.
    pub(crate) fn of(headers: &HeaderMap, status: u16) -> Self {
        let x_cache = headers
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if x_cache.starts_with("Hit") {
            ResultType::Hit
        } else if x_cache.starts_with("Error") || (x_cache.is_empty() && status >= 400) {
            ResultType::Error
        } else {
            ResultType::Miss
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ResultType::Hit => "Hit",
            ResultType::Miss => "Miss",
            ResultType::Error => "Error",
        }
    }

    /// The metric label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            ResultType::Hit => "hit",
            ResultType::Miss => "miss",
            ResultType::Error => "error",
        }
    }
}

/// One request, as logged. String fields are already escaped (and redacted).
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) received: Timestamp,
    pub(crate) request_id: String,
    pub(crate) client: Option<SocketAddr>,
    pub(crate) method: String,
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) referer: String,
    pub(crate) user_agent: String,
    pub(crate) cookies: String,
    pub(crate) forwarded_for: String,
    pub(crate) protocol_version: &'static str,
    pub(crate) request_bytes: u64,
    // the response
    pub(crate) status: u16,
    /// The response's own result (`x-edge-response-result-type`).
    pub(crate) result: ResultType,
    /// The viewer went away (or the origin failed) before the body was sent:
    /// `x-edge-result-type` is then `Error`.
    pub(crate) aborted: bool,
    pub(crate) detailed: &'static str,
    pub(crate) content_type: String,
    pub(crate) content_length: Option<u64>,
    pub(crate) range: Option<(u64, u64)>,
    pub(crate) first_byte: Option<Duration>,
    // when done
    pub(crate) sent: u64,
    pub(crate) taken: Duration,
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

    fn opt(n: Option<u64>) -> Self {
        n.map_or(Value::None, Value::Int)
    }
}

/// The fields, in the order of CloudFront's standard logs.
pub const FIELDS: [&str; 33] = [
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
        let values = [
            Value::Str(&date),
            Value::Str(&time),
            Value::Str("cfsign"),
            Value::Int(self.sent),
            Value::str(&ip),
            Value::str(&self.method),
            Value::str(&self.host),
            Value::str(&self.path),
            Value::Status(self.status),
            Value::str(&self.referer),
            Value::str(&self.user_agent),
            Value::str(&self.query),
            Value::str(&self.cookies),
            Value::Str(if self.aborted {
                ResultType::Error.as_str()
            } else {
                self.result.as_str()
            }),
            Value::str(&self.request_id),
            Value::str(&self.host),
            Value::Str("http"),
            Value::Int(self.request_bytes),
            Value::Secs(self.taken),
            Value::str(&self.forwarded_for),
            Value::None, // ssl-protocol
            Value::None, // ssl-cipher
            Value::Str(self.result.as_str()),
            Value::Str(self.protocol_version),
            Value::None, // fle-status
            Value::None, // fle-encrypted-fields
            Value::opt(self.client.map(|c| u64::from(c.port()))),
            self.first_byte.map_or(Value::None, Value::Secs),
            Value::Str(self.detailed),
            Value::str(&self.content_type),
            Value::opt(self.content_length),
            Value::opt(self.range.map(|r| r.0)),
            Value::opt(self.range.map(|r| r.1)),
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
        line.push('{');
        self.each(|name, value| {
            if name != FIELDS[0] {
                line.push(',');
            }
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
#[must_use]
pub fn escape(raw: &[u8]) -> String {
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

/// Whether a query parameter's value is a credential that must not be logged.
fn is_secret_parameter(name: &str) -> bool {
    let name: Cow<'_, str> = percent_decode_str(name).decode_utf8_lossy();
    ["Signature", "Policy"]
        .iter()
        .any(|s| name.eq_ignore_ascii_case(s))
}

/// The query with the values of `Signature` and `Policy` (any case, even
/// percent-encoded names) replaced by [`REDACTED`]; then escaped.
///
/// ```
/// use cfsign_edge::observe::redact_query;
///
/// assert_eq!(
///     redact_query("Expires=1&Signature=abc~&Key-Pair-Id=K1&x=1"),
///     "Expires=1&Signature=REDACTED&Key-Pair-Id=K1&x=1"
/// );
/// assert_eq!(redact_query("policy=e30_&Sig%6Eature=zz"), "policy=REDACTED&Sig%6Eature=REDACTED");
/// ```
#[must_use]
pub fn redact_query(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        if is_secret_parameter(name) {
            out.push_str(name);
            out.push('=');
            out.push_str(REDACTED);
        } else {
            out.push_str(pair);
        }
    }
    escape(out.as_bytes())
}

/// A URL (a `Referer`) with its query redacted like [`redact_query`]; the
/// fragment is dropped.
#[must_use]
pub fn redact_url(url: &[u8]) -> String {
    let text = String::from_utf8_lossy(url);
    let text = text.split('#').next().unwrap_or_default();
    match text.split_once('?') {
        Some((base, query)) => format!("{}?{}", escape(base.as_bytes()), redact_query(query)),
        None => escape(text.as_bytes()),
    }
}

/// Longest list of cookie names logged.
const MAX_COOKIES: usize = 64;

/// The names of the request's cookies, `;`-separated; never their values
/// (`CloudFront-Signature` and `CloudFront-Policy` are credentials).
#[must_use]
pub fn cookie_names(headers: &HeaderMap) -> String {
    let mut names = Vec::new();
    for value in headers.get_all(header::COOKIE) {
        for pair in value.as_bytes().split(|&b| b == b';') {
            let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
            let name = name.trim_ascii();
            if !name.is_empty() && names.len() < MAX_COOKIES {
                names.push(escape(name));
            }
        }
    }
    let joined = names.join(";");
    if joined.len() > MAX_FIELD_BYTES {
        escape(joined.as_bytes())
    } else {
        joined
    }
}
