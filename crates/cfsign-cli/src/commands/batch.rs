//! `cfsign batch`: sign many URLs, in order, on all cores.
//!
//! The key is parsed once. Input is read in chunks; each chunk is signed in
//! parallel (the core's `parallel_map`: scoped threads; the calling thread alone for `--threads 1`) and written in
//! input order. A bad line is reported with its line number and leaves an empty
//! output line (plain mode) or an error object (JSON lines), so output lines stay
//! aligned with input lines; the others are signed.
//!
//! From a regular file the input is read in large chunks. From anything else (a
//! pipe, a terminal, another program's output) the command streams: a chunk ends
//! where the bytes read so far end, so each line is signed, written and flushed
//! as soon as it arrives, before the command waits for more.
//!
//! A line longer than [`LINE`] (64 KiB) is refused while it is read: it stops
//! the command (exit 2) after the lines before it were signed and written, since
//! input with such a line is not a list of URLs (and reading on to its end could
//! take forever, e.g. from `/dev/zero`).

use std::io::{BufReader, BufWriter, IsTerminal as _, Read, Write as _};

use anyhow::{Context as _, Result, anyhow};
use cfsign::batch::{UrlBatch, parallel_map};
use cfsign::input::{InputError, Limit, Lines, Source};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use crate::cli::BatchArgs;
use crate::signing::{Overrides, SigningConfig, flag_hints};

/// Concurrent `kms:Sign` calls with --kms-key-id (unless --threads says otherwise): KMS
/// allows a few hundred Sign requests per second per account and region; throttled
/// calls are retried with backoff by the KMS signer.
const KMS_CONCURRENCY: usize = 8;

/// Lines per chunk: large enough to keep every core busy, small enough to stream.
const CHUNK_LINES: usize = 4096;

/// Bytes of input per chunk at most, so that a chunk of long lines stays small.
const CHUNK_BYTES: usize = 4 << 20;

/// One input line: CloudFront refuses URLs over 8,192 bytes; JSON lines carry a few
/// options more.
const LINE: Limit = Limit::new(
    "an input line",
    64 * 1024,
    "a line holds one URL (CloudFront accepts at most 8,192 bytes) or one JSON object: check \
     that the input is a list with one per line",
);

/// What happened to the lines.
pub(crate) struct BatchOutcome {
    pub(crate) lines: usize,
    pub(crate) failed: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLine {
    url: String,
    expires: Option<serde_json::Value>,
    expires_in: Option<String>,
    not_before: Option<serde_json::Value>,
    ip: Option<String>,
    resource: Option<String>,
    encode: Option<bool>,
}

/// Signs one URL with the shared settings (the core's [`UrlBatch`]: a wildcard
/// given with --resource is signed once and stamped on every line).
struct LineSigner {
    config: SigningConfig,
    batch: UrlBatch,
    jsonl: bool,
}

impl LineSigner {
    fn new(config: SigningConfig, jsonl: bool) -> Result<Self> {
        let batch = UrlBatch::new(config.signer.clone(), config.policy.options.clone()).map_err(
            |e| match e {
                cfsign::Error::Options(o) => flag_hints(o).context("--resource"),
                other => anyhow!(other),
            },
        )?;
        Ok(Self {
            config,
            batch,
            jsonl,
        })
    }

    fn sign_plain(&self, line: &str) -> Result<String> {
        let url = self.config.policy.url(line)?;
        Ok(self.batch.sign(&url)?.into_string())
    }

    fn sign_json(&self, line: &str) -> Result<String> {
        let parsed: JsonLine = serde_json::from_str(line).context("not a JSON-lines record")?;
        let expires = parsed.expires.as_ref().map(value_text);
        let not_before = parsed.not_before.as_ref().map(value_text);
        let overrides = Overrides {
            expires: expires.as_deref(),
            expires_in: parsed.expires_in.as_deref(),
            not_before: not_before.as_deref(),
            ip: parsed.ip.as_deref(),
            resource: parsed.resource.as_deref(),
            encode: parsed.encode,
        };
        let plain_override = overrides.expires.is_none()
            && overrides.expires_in.is_none()
            && overrides.not_before.is_none()
            && overrides.ip.is_none()
            && overrides.resource.is_none()
            && overrides.encode.is_none();
        if plain_override {
            return self.sign_plain(&parsed.url);
        }
        // Per-line options change the policy, so it is signed for this line.
        let config = self.config.policy.with_overrides(&overrides)?;
        let url = config.url(&parsed.url)?;
        let policy = config.policy_for(&url)?;
        Ok(self.config.signer.sign_url(&url, &policy)?.into_string())
    }

    /// The output line for one input line, and whether it failed.
    fn process(&self, number: usize, line: &Result<String, String>) -> (String, Option<String>) {
        let result = match line {
            Err(e) => Err(anyhow!("{e}")),
            Ok(l) if l.is_empty() => Err(anyhow!("empty line")),
            Ok(l) if self.jsonl => self.sign_json(l),
            Ok(l) => self.sign_plain(l),
        };
        match result {
            Ok(url) if self.jsonl => (
                serde_json::json!({ "line": number, "url": url }).to_string(),
                None,
            ),
            Ok(url) => (url, None),
            Err(e) => {
                let message = format!("{e:#}");
                let out = if self.jsonl {
                    serde_json::json!({ "line": number, "error": message }).to_string()
                } else {
                    String::new()
                };
                (out, Some(message))
            }
        }
    }
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn run(args: &BatchArgs) -> Result<BatchOutcome> {
    let config = SigningConfig::from_args(
        &args.signing,
        match &args.input {
            Some(path) if path.as_os_str() != "-" => None,
            Some(_) => Some("--input -"),
            None => Some("the URL list (standard input without --input FILE)"),
        },
    )?;
    let threads = match args.threads {
        Some(0) => return Err(anyhow!("--threads must be at least 1")),
        Some(n) => n,
        None if config.kms => KMS_CONCURRENCY,
        None => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
    };
    let threads = std::num::NonZeroUsize::new(threads).unwrap_or(std::num::NonZeroUsize::MIN);
    let signer = LineSigner::new(config, args.jsonl)?;
    let (input, source, streaming): (Box<dyn Read>, _, _) = match &args.input {
        Some(path) if path.as_os_str() != "-" => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("--input: cannot open {}", path.display()))?;
            let streaming = !file.metadata().is_ok_and(|m| m.is_file());
            (Box::new(file), Source::File(path.clone()), streaming)
        }
        _ => (
            Box::new(std::io::stdin().lock()),
            Source::Stdin,
            !stdin_is_regular_file(),
        ),
    };
    let input = BufReader::with_capacity(256 * 1024, input);
    let progress = (!args.no_progress && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos} URLs signed ({per_sec}) {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    });
    let mut out = BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
    let mut reader = LineReader {
        lines: LINE.lines(input, source),
        streaming,
    };
    let mut outcome = BatchOutcome {
        lines: 0,
        failed: 0,
    };
    loop {
        let (chunk, stop) = reader.next_chunk();
        if chunk.is_empty() && stop.is_none() {
            break;
        }
        let first = outcome.lines + 1;
        let numbered: Vec<_> = chunk.iter().enumerate().collect();
        let results: Vec<(String, Option<String>)> =
            parallel_map(&numbered, threads, |(i, line)| {
                signer.process(first + i, line)
            });
        for (i, (line, error)) in results.iter().enumerate() {
            if let Some(e) = error {
                outcome.failed += 1;
                if let Some(bar) = &progress {
                    bar.suspend(|| eprintln!("line {}: {e}", first + i));
                } else {
                    eprintln!("line {}: {e}", first + i);
                }
            }
            out.write_all(line.as_bytes())
                .context("writing to stdout")?;
            out.write_all(b"\n").context("writing to stdout")?;
        }
        outcome.lines += chunk.len();
        if streaming {
            out.flush().context("writing to stdout")?;
        }
        if let Some(bar) = &progress {
            bar.set_position(outcome.lines as u64);
        }
        if let Some(error) = stop {
            out.flush().context("writing to stdout")?;
            if let Some(bar) = progress {
                bar.finish_and_clear();
            }
            // The message names the file (or standard input); a file came from --input.
            let error_source = error.input().clone();
            let error = anyhow!(error);
            return Err(if matches!(error_source, Source::File(_)) {
                error.context("--input")
            } else {
                error
            });
        }
    }
    out.flush().context("writing to stdout")?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if outcome.failed > 0 {
        eprintln!(
            "{} of {} lines failed (see the messages above); the others were signed",
            outcome.failed, outcome.lines
        );
    }
    Ok(outcome)
}

/// Whether standard input is a regular file (`< file`), which always ends and
/// is read in chunks; anything else (a pipe, a terminal) is streamed.
fn stdin_is_regular_file() -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd as _;
        std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|f| f.metadata())
            .is_ok_and(|m| m.is_file())
    }
    #[cfg(windows)]
    {
        use std::os::windows::io::AsHandle as _;
        std::io::stdin()
            .as_handle()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|f| f.metadata())
            .is_ok_and(|m| m.is_file())
    }
    #[cfg(not(any(unix, windows)))]
    {
        false
    }
}

/// Reads lines as bytes so that one invalid line (not UTF-8) is an error for that
/// line only.
struct LineReader<R> {
    lines: Lines<BufReader<R>>,
    /// End a chunk where the bytes read so far end (input that is not a regular file).
    streaming: bool,
}

impl<R: Read> LineReader<R> {
    /// The next lines (at most [`CHUNK_LINES`], about [`CHUNK_BYTES`]; when
    /// streaming, only those already read, so that none waits for later input),
    /// and the error that ends the input after them, if any.
    fn next_chunk(&mut self) -> (Vec<Result<String, String>>, Option<InputError>) {
        let mut chunk = Vec::with_capacity(CHUNK_LINES);
        let mut bytes = 0;
        let mut buf = Vec::with_capacity(512);
        while chunk.len() < CHUNK_LINES && bytes < CHUNK_BYTES {
            match self.lines.read_line(&mut buf) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return (chunk, Some(e)),
            }
            bytes += buf.len();
            let line = match std::str::from_utf8(&buf) {
                Ok(s) => Ok(s.trim_matches(|c: char| c.is_ascii_whitespace()).to_owned()),
                Err(e) => Err(format!("not UTF-8 text ({e})")),
            };
            chunk.push(line);
            if self.streaming && self.lines.get_ref().buffer().is_empty() {
                break;
            }
        }
        (chunk, None)
    }
}
