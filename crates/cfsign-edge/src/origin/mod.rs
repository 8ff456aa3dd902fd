//! Origins: where the edge fetches objects from, behind one trait.
//!
//! An [`Origin`] answers [`Origin::head`] (metadata only) and [`Origin::get`]
//! (metadata and a streamed body, optionally a byte range) for an
//! [`ObjectKey`]: the request path, percent-decoded and validated so that it can
//! never name anything outside the origin (see [`ObjectKey::from_request_path`]).
//! HTTP semantics (conditional requests, `If-Range`, status codes) are applied by
//! the edge on top of the metadata, the same way for every origin; every origin
//! runs the same [conformance suite](conformance).

pub mod conformance;
pub mod directory;

use std::fmt;
use std::pin::Pin;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::Stream;

pub use directory::DirectoryOrigin;

/// A boxed future, as origins are used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A streamed object body.
pub type BodyStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + 'static>>;

/// Why a request path cannot be an object key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The path does not start with `/`.
    #[error("the path must start with '/'")]
    NotAbsolute,
    /// `%` not followed by two hex digits.
    #[error("invalid percent-encoding in the path")]
    BadEscape,
    /// The decoded path is not UTF-8 (this includes overlong encodings).
    #[error("the decoded path is not valid UTF-8")]
    NotUtf8,
    /// A `.` or `..` segment, decoded or not.
    #[error("the path has a '.' or '..' segment")]
    DotSegment,
    /// A character that has no business in an object key.
    #[error("the path contains a forbidden character ({0})")]
    ForbiddenCharacter(&'static str),
    /// An empty segment (`//`).
    #[error("the path has an empty segment ('//')")]
    EmptySegment,
    /// Longer than any key the edge serves.
    #[error("the path is longer than {MAX_KEY_BYTES} bytes")]
    TooLong,
}

/// The longest object key accepted (S3's limit).
pub const MAX_KEY_BYTES: usize = 1024;

/// A validated object key: the request path without its leading `/`,
/// percent-decoded, UTF-8, with no `.`/`..`/empty segments, no backslash, NUL or
/// other control character. Every origin can rely on this; the directory origin
/// additionally checks the resolved file stays under its root (symlinks).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates the path part of a request URI (still percent-encoded).
    ///
    /// ```
    /// use cfsign_edge::origin::{KeyError, ObjectKey};
    ///
    /// assert_eq!(ObjectKey::from_request_path("/videos/a%20b.mp4")?.as_str(), "videos/a b.mp4");
    /// assert_eq!(ObjectKey::from_request_path("/a/%2e%2e/etc/passwd"), Err(KeyError::DotSegment));
    /// assert_eq!(ObjectKey::from_request_path("/a%2f..%2fb"), Err(KeyError::ForbiddenCharacter("encoded '/'")));
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn from_request_path(path: &str) -> Result<Self, KeyError> {
        let rest = path.strip_prefix('/').ok_or(KeyError::NotAbsolute)?;
        if rest.len() > MAX_KEY_BYTES * 3 {
            return Err(KeyError::TooLong);
        }
        let mut segments = Vec::new();
        for raw in rest.split('/') {
            let bytes = percent_decode(raw)?;
            if bytes.contains(&b'/') {
                return Err(KeyError::ForbiddenCharacter("encoded '/'"));
            }
            segments.push(String::from_utf8(bytes).map_err(|_| KeyError::NotUtf8)?);
        }
        let last = segments.len() - 1;
        for (i, segment) in segments.iter().enumerate() {
            if segment == "." || segment == ".." {
                return Err(KeyError::DotSegment);
            }
            if segment.is_empty() && i != last {
                return Err(KeyError::EmptySegment);
            }
            if segment.contains('\\') {
                return Err(KeyError::ForbiddenCharacter("backslash"));
            }
            if segment.contains('\0') {
                return Err(KeyError::ForbiddenCharacter("NUL"));
            }
            if segment.chars().any(char::is_control) {
                return Err(KeyError::ForbiddenCharacter("control character"));
            }
        }
        let key = segments.join("/");
        if key.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLong);
        }
        Ok(Self(key))
    }

    /// The key (no leading `/`; empty for the root; ends with `/` for a "folder").
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn percent_decode(segment: &str) -> Result<Vec<u8>, KeyError> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(KeyError::BadEscape)?;
            let text = std::str::from_utf8(hex).map_err(|_| KeyError::BadEscape)?;
            let value = u8::from_str_radix(text, 16).map_err(|_| KeyError::BadEscape)?;
            out.push(value);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// What the edge needs to know about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Size in bytes of the whole object.
    pub size: u64,
    /// A strong entity tag, quoted (`"abc"`), if the origin has one.
    pub etag: Option<String>,
    /// Last modification time.
    pub last_modified: Option<SystemTime>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// The origin's `Cache-Control`, if any.
    pub cache_control: Option<String>,
    /// The origin's `Expires`, if any.
    pub expires: Option<String>,
}

/// A satisfiable byte range, resolved against the object size by the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte, inclusive.
    pub start: u64,
    /// Last byte, inclusive.
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Never true (a range has at least one byte); for clippy's `len_without_is_empty`.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// An object (or a range of it) with its metadata.
pub struct GetResponse {
    /// Metadata of the whole object.
    pub meta: ObjectMeta,
    /// The range the body holds (None: the whole object).
    pub range: Option<ByteRange>,
    /// The bytes, streamed.
    pub body: BodyStream,
}

impl fmt::Debug for GetResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetResponse")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// Why an origin could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// No such object (404).
    #[error("not found")]
    NotFound,
    /// The origin refused access (403 from the origin, not a signature denial).
    #[error("the origin denied access: {0}")]
    Forbidden(String),
    /// The origin failed or is unreachable (502).
    #[error("origin error: {0}")]
    Unavailable(String),
    /// The origin did not answer in time (504).
    #[error("origin timeout: {0}")]
    Timeout(String),
}

/// A source of objects.
pub trait Origin: Send + Sync + 'static {
    /// A short name for logs and metrics (e.g. `directory`, `s3`).
    fn kind(&self) -> &'static str;

    /// Metadata of an object.
    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, OriginError>>;

    /// The object, or `range` of it (already validated against its size by the caller;
    /// an origin whose object changed size in between answers with the range clamped
    /// or [`OriginError::NotFound`]).
    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<GetResponse, OriginError>>;
}
