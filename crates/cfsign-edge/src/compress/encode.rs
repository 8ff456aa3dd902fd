//! The gzip and Brotli encoders: a whole body at once (for a cached variant) or
//! a streamed body as it arrives. Levels and the measurements behind them are in
//! `docs/compression.md`.

use std::io::{self, Write as _};
use std::pin::Pin;
use std::task::{Context, Poll};

use async_compression::Level;
use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder};
use bytes::Bytes;
use futures_util::Stream;
use tokio_util::io::{ReaderStream, StreamReader};

use super::Encoding;
use crate::origin::BodyStream;

/// gzip level for a cached variant, computed once: 9 is under 0.3 % smaller
/// than 6 on web text for 5-30 % more CPU.
const CACHED_GZIP_LEVEL: u32 = 9;
/// Brotli quality for a cached variant of at most [`CACHED_BEST_UP_TO`] bytes:
/// 11 is 7-13 % smaller than 6 on web text, at 35-40 times the CPU.
const CACHED_BROTLI_BEST: u32 = 11;
/// Brotli quality for a larger cached variant, so that a Brotli variant costs
/// at most about 0.3 s of one core (10 MB at quality 6).
const CACHED_BROTLI_LARGE: u32 = 6;
/// Bodies up to this size get [`CACHED_BROTLI_BEST`] (about 0.3 s at most).
const CACHED_BEST_UP_TO: usize = 256 * 1024;
/// Brotli's largest window in its standard form, 4 MiB (`lgwin` 22; 24 would
/// need a 16 MiB ring buffer per encoder).
const MAX_LGWIN: u32 = 22;

/// gzip level on the request path: zlib's default; 9 gains under 0.3 %.
const STREAM_GZIP_LEVEL: i32 = 6;
/// Brotli quality on the request path: 5 is about as cheap as gzip 6 and
/// 13-22 % smaller; 4 is 6-9 % larger for up to a third less CPU.
const STREAM_BROTLI_QUALITY: i32 = 5;
/// Largest compressed chunk handed on at once.
const CHUNK_BYTES: usize = 32 * 1024;

/// Compresses a whole body with `encoding`, for a variant that is computed once
/// and cached (gzip level 9; Brotli quality 11 up to 256 KiB, 6 above, with a
/// window no larger than the body).
///
/// This is CPU-bound (up to about half a second of one core for a 10 MB body):
/// call it from `tokio::task::spawn_blocking`, never directly in an async task.
///
/// ```
/// use cfsign_edge::compress::{Encoding, compress_bytes};
///
/// let page = "<p>hello, compressed world</p>\n".repeat(100);
/// let gz = compress_bytes(Encoding::Gzip, page.as_bytes())?;
/// assert_eq!(&gz[..2], [0x1f, 0x8b]); // the gzip magic number
/// assert!(gz.len() < page.len() / 10);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// An I/O error from the encoder; writing to memory does not fail in practice.
pub fn compress_bytes(encoding: Encoding, body: &[u8]) -> io::Result<Bytes> {
    let mut out = Vec::with_capacity(body.len() / 3 + 64);
    match encoding {
        Encoding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(
                &mut out,
                flate2::Compression::new(CACHED_GZIP_LEVEL),
            );
            encoder.write_all(body)?;
            encoder.finish()?;
        }
        Encoding::Brotli => {
            let quality = if body.len() <= CACHED_BEST_UP_TO {
                CACHED_BROTLI_BEST
            } else {
                CACHED_BROTLI_LARGE
            };
            let mut encoder = brotli::CompressorWriter::new(
                &mut out,
                64 * 1024,
                quality,
                window_bits(body.len()),
            );
            encoder.write_all(body)?;
            encoder.flush()?;
            // Dropping the writer finishes the stream.
            drop(encoder);
        }
    }
    Ok(Bytes::from(out))
}

/// The smallest Brotli window (`lgwin`, 10 to [`MAX_LGWIN`]) that holds `len`
/// bytes: a larger one compresses no better and costs memory.
pub(super) fn window_bits(len: usize) -> u32 {
    // The window is 2^lgwin - 16 bytes.
    let needed = len.saturating_add(16);
    let mut bits = 10;
    while bits < MAX_LGWIN && (1_usize << bits) < needed {
        bits += 1;
    }
    bits
}

/// Compresses a streamed body with `encoding` as it arrives (gzip level 6,
/// Brotli quality 5), for a response on the request path. Nothing is buffered
/// beyond the encoder's window; compressed chunks are handed on as the encoder
/// produces them, up to 32 KiB each.
///
/// `length` is the body's `Content-Length`, which [`decide`](super::decide)
/// requires. The compressed stream ends with an error, never with a clean end,
/// when `body` yields an error (passed on as it is) or ends before `length` bytes
/// or runs past them (an [`io::Error`] of kind `UnexpectedEof` or `InvalidData`
/// wrapping a [`LengthMismatch`], see [`io::Error::get_ref`]): a viewer never gets
/// a shorter object that decodes cleanly. The encoder's work happens inside the
/// stream's polls, about 3 ms of CPU per 100 KB.
///
/// ```
/// use cfsign_edge::compress::{Encoding, compress_stream};
/// use futures_util::{StreamExt as _, stream};
///
/// let page = bytes::Bytes::from("<li>item</li>\n".repeat(500));
/// let body = Box::pin(stream::iter([Ok(page.slice(..3000)), Ok(page.slice(3000..))]));
/// let length = page.len() as u64;
/// let compressed = tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
///     let mut out = Vec::new();
///     let mut stream = compress_stream(Encoding::Gzip, body, length);
///     while let Some(chunk) = stream.next().await {
///         out.extend_from_slice(&chunk?);
///     }
///     Ok::<_, std::io::Error>(out)
/// })?;
/// assert_eq!(&compressed[..2], [0x1f, 0x8b]);
/// assert!(compressed.len() < page.len() / 10);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use]
pub fn compress_stream(encoding: Encoding, body: BodyStream, length: u64) -> BodyStream {
    let reader = StreamReader::new(Exact {
        inner: body,
        expected: length,
        received: 0,
        done: false,
    });
    match encoding {
        Encoding::Gzip => Box::pin(ReaderStream::with_capacity(
            GzipEncoder::with_quality(reader, Level::Precise(STREAM_GZIP_LEVEL)),
            CHUNK_BYTES,
        )),
        Encoding::Brotli => Box::pin(ReaderStream::with_capacity(
            BrotliEncoder::with_quality(reader, Level::Precise(STREAM_BROTLI_QUALITY)),
            CHUNK_BYTES,
        )),
    }
}

/// A streamed body that did not have the length its `Content-Length` announced:
/// the error inside the [`io::Error`] that then ends a [`compress_stream`].
///
/// ```
/// use cfsign_edge::compress::LengthMismatch;
///
/// let e = LengthMismatch::Short { expected: 5000, received: 4096 };
/// assert_eq!(
///     e.to_string(),
///     "the origin's body ended after 4096 of the 5000 bytes its Content-Length announced",
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LengthMismatch {
    /// The body ended early.
    #[error(
        "the origin's body ended after {received} of the {expected} bytes its Content-Length announced"
    )]
    Short {
        /// The announced length.
        expected: u64,
        /// The bytes that came.
        received: u64,
    },
    /// The body went on past its length.
    #[error(
        "the origin's body ran past the {expected} bytes its Content-Length announced ({received} so far)"
    )]
    Long {
        /// The announced length.
        expected: u64,
        /// The bytes that came, so far.
        received: u64,
    },
}

/// `inner`, checked against its announced length: an error item instead of a
/// clean end (or of more bytes) when they disagree.
struct Exact {
    inner: BodyStream,
    expected: u64,
    received: u64,
    done: bool,
}

impl Stream for Exact {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = match self.inner.as_mut().poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(item) => item,
        };
        let mismatch = match item {
            Some(Ok(chunk)) => {
                self.received = self
                    .received
                    .saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
                if self.received <= self.expected {
                    return Poll::Ready(Some(Ok(chunk)));
                }
                LengthMismatch::Long {
                    expected: self.expected,
                    received: self.received,
                }
            }
            Some(Err(e)) => {
                self.done = true;
                return Poll::Ready(Some(Err(e)));
            }
            None if self.received < self.expected => LengthMismatch::Short {
                expected: self.expected,
                received: self.received,
            },
            None => {
                self.done = true;
                return Poll::Ready(None);
            }
        };
        self.done = true;
        let kind = match mismatch {
            LengthMismatch::Short { .. } => io::ErrorKind::UnexpectedEof,
            LengthMismatch::Long { .. } => io::ErrorKind::InvalidData,
        };
        Poll::Ready(Some(Err(io::Error::new(kind, mismatch))))
    }
}
