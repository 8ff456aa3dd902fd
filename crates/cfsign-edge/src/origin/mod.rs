//! Origins: where the edge fetches objects from, behind one trait.
//!
//! An [`Origin`] answers [`Origin::head`] (metadata only), [`Origin::get`]
//! (metadata and a streamed body, optionally a byte range) and
//! [`Origin::get_if_modified`] (a conditional GET revalidating a cached copy) for
//! an [`ObjectKey`]: the request path, percent-decoded and validated so that it
//! can never name anything outside the origin (see [`ObjectKey::from_request_path`]).
//! HTTP semantics (conditional requests, `If-Range`, status codes) are applied by
//! the edge on top of the metadata, the same way for every origin; every origin
//! runs the same conformance suite (`cfsign_testkit::conformance`, test-only).

#[cfg(feature = "aws-chain")]
pub mod aws_chain;
pub mod directory;
pub mod http;
pub mod s3;

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::Stream;

pub use directory::DirectoryOrigin;
pub use http::{HttpOrigin, HttpOriginError};
pub use s3::S3Origin;

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
/// Cheap to clone (the cache's keys share the text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(Arc<str>);

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
        // Most paths have no escape: they are their own key when every segment is
        // fine (anything else takes the full route below, which names the fault).
        if rest.len() <= MAX_KEY_BYTES
            && rest
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'%' && b != b'\\')
        {
            let mut segments = rest.split('/').peekable();
            let plain = loop {
                match segments.next() {
                    None => break true,
                    Some(segment) => {
                        let last = segments.peek().is_none();
                        if segment == "." || segment == ".." || (segment.is_empty() && !last) {
                            break false;
                        }
                    }
                }
            };
            if plain {
                return Ok(Self(Arc::from(rest)));
            }
        }
        Self::decoded(rest)
    }

    /// The full route of [`from_request_path`](Self::from_request_path): every
    /// segment decoded and checked (`rest`: the path without its leading `/`).
    fn decoded(rest: &str) -> Result<Self, KeyError> {
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
        Ok(Self(Arc::from(key)))
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

/// Percent-decodes one segment (exactly two hex digits after each `%`).
pub(crate) fn percent_decode(segment: &str) -> Result<Vec<u8>, KeyError> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Exactly two hex digits (`from_str_radix` alone would accept `%+1`).
            let (Some(&high), Some(&low)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
                return Err(KeyError::BadEscape);
            };
            let digit = |b: u8| char::from(b).to_digit(16).ok_or(KeyError::BadEscape);
            out.push(
                u8::try_from(digit(high)? * 16 + digit(low)?).map_err(|_| KeyError::BadEscape)?,
            );
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

/// An answer that came from the edge's [cache](crate::cache), not from the
/// origin just now. Only the cache makes one (origins answer `cached: None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedCopy {
    /// How long ago the copy was fetched or last confirmed by the origin (the
    /// `Age` header).
    pub age: Duration,
    /// The copy had expired and the origin has just confirmed it unchanged
    /// (CloudFront's `RefreshHit`).
    pub revalidated: bool,
    /// When the copy was stored: what tells it from a later copy of the same
    /// object (a compressed variant belongs to one copy).
    pub(crate) stored_at: Instant,
}

/// An object's metadata, as [`Origin::head`] answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadResponse {
    /// Metadata of the whole object.
    pub meta: ObjectMeta,
    /// `Some` when answered from a cached copy; origins themselves say `None`.
    pub cached: Option<CachedCopy>,
}

impl From<ObjectMeta> for HeadResponse {
    /// Metadata just read from the origin (`cached: None`).
    fn from(meta: ObjectMeta) -> Self {
        Self { meta, cached: None }
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
    /// `Some` when answered from a cached copy; origins themselves say `None`.
    pub cached: Option<CachedCopy>,
}

impl fmt::Debug for GetResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetResponse")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .field("cached", &self.cached)
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

/// What a conditional GET ([`Origin::get_if_modified`]) found.
///
/// ```
/// use cfsign_edge::origin::{DirectoryOrigin, ObjectKey, Origin, Revalidation};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "first")?;
/// let origin = DirectoryOrigin::new(dir.path())?;
/// let key = ObjectKey::from_request_path("/a.txt")?;
/// let cached = origin.head(&key).await?.meta;
/// assert!(matches!(origin.get_if_modified(&key, &cached).await?, Revalidation::NotModified(_)));
///
/// std::fs::write(dir.path().join("a.txt"), "second")?;
/// match origin.get_if_modified(&key, &cached).await? {
///     Revalidation::Modified(response) => assert_eq!(response.meta.size, 6),
///     Revalidation::NotModified(_) => unreachable!("the file changed"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub enum Revalidation {
    /// The cached copy is still the object: the origin's current metadata (the
    /// 304's `Cache-Control`/`Expires`/`ETag`/`Last-Modified` over the cached
    /// ones; size and type kept).
    NotModified(ObjectMeta),
    /// The object changed: the whole new object.
    Modified(GetResponse),
}

impl ObjectMeta {
    /// Whether there is anything to revalidate with: an entity tag or a
    /// modification time (without either, a conditional GET is a plain GET).
    ///
    /// ```
    /// use cfsign_edge::origin::ObjectMeta;
    ///
    /// let mut meta = ObjectMeta {
    ///     size: 3,
    ///     etag: Some("\"abc\"".to_owned()),
    ///     last_modified: None,
    ///     content_type: None,
    ///     cache_control: None,
    ///     expires: None,
    /// };
    /// assert!(meta.has_validators());
    /// meta.etag = None;
    /// assert!(!meta.has_validators());
    /// ```
    #[must_use]
    pub fn has_validators(&self) -> bool {
        self.etag.is_some() || self.last_modified.is_some()
    }

    /// This (cached) metadata refreshed by a `304 Not Modified` (RFC 9111
    /// §4.3.4): each of the answer's `ETag`, `Last-Modified`, `Cache-Control`
    /// and `Expires` that is present replaces the cached one; the size and the
    /// content type are kept (a 304 describes the same representation).
    ///
    /// ```
    /// use cfsign_edge::origin::ObjectMeta;
    ///
    /// let cached = ObjectMeta {
    ///     size: 3,
    ///     etag: Some("\"abc\"".to_owned()),
    ///     last_modified: None,
    ///     content_type: Some("text/plain".to_owned()),
    ///     cache_control: Some("max-age=60".to_owned()),
    ///     expires: None,
    /// };
    /// let answer = ObjectMeta {
    ///     size: 0,
    ///     etag: None,
    ///     last_modified: None,
    ///     content_type: None,
    ///     cache_control: Some("max-age=600".to_owned()),
    ///     expires: None,
    /// };
    /// let refreshed = cached.refreshed_by(answer);
    /// assert_eq!(refreshed.cache_control.as_deref(), Some("max-age=600"));
    /// assert_eq!(refreshed.etag.as_deref(), Some("\"abc\""));
    /// assert_eq!((refreshed.size, refreshed.content_type.as_deref()), (3, Some("text/plain")));
    /// ```
    #[must_use]
    pub fn refreshed_by(&self, answer: ObjectMeta) -> ObjectMeta {
        ObjectMeta {
            size: self.size,
            content_type: self.content_type.clone(),
            etag: answer.etag.or_else(|| self.etag.clone()),
            last_modified: answer.last_modified.or(self.last_modified),
            cache_control: answer.cache_control.or_else(|| self.cache_control.clone()),
            expires: answer.expires.or_else(|| self.expires.clone()),
        }
    }
}

/// A source of objects.
pub trait Origin: Send + Sync + 'static {
    /// A short name for logs and metrics (e.g. `directory`, `s3`).
    fn kind(&self) -> &'static str;

    /// What this origin serves, as a string: two origins with the same identity
    /// serve the same objects, so the edge's [cache](crate::cache) shares their
    /// entries (also across a configuration reload). E.g. `directory:/srv/media`,
    /// `s3:http://127.0.0.1:9000/bucket/prefix`.
    fn cache_identity(&self) -> String;

    /// Metadata of an object.
    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<HeadResponse, OriginError>>;

    /// The whole object encoded with `encoding`, when this origin keeps encoded
    /// copies (the edge's [cache](crate::cache::CachedOrigin) does, computed
    /// once), with `meta.size` the encoded length; `None`, the default: the
    /// caller encodes the body itself. `copy` is the cached copy that
    /// [`get`](Self::get) just answered from, if any: its variant is found
    /// without looking the object up again.
    fn encoded<'a>(
        &'a self,
        key: &'a ObjectKey,
        encoding: crate::compress::Encoding,
        copy: Option<CachedCopy>,
    ) -> BoxFuture<'a, Option<GetResponse>> {
        let _ = (key, encoding, copy);
        Box::pin(std::future::ready(None))
    }

    /// The object, or `range` of it (already validated against its size by the caller;
    /// an origin whose object changed size in between answers with the range clamped
    /// or [`OriginError::NotFound`]).
    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<GetResponse, OriginError>>;

    /// Revalidates a cached copy whose metadata is `cached`, as CloudFront does
    /// when a cached object with an `ETag` or `Last-Modified` has expired: a
    /// conditional GET with `If-None-Match: <cached etag>` and/or
    /// `If-Modified-Since: <cached last_modified>` (both when both exist; the
    /// entity tag decides when the origin has one, RFC 9110 §13.2.2).
    /// [`Revalidation::NotModified`] transfers no body; a changed object is
    /// [`Revalidation::Modified`] with the whole new object; a deleted one
    /// [`OriginError::NotFound`]. Without validators in `cached` it is a plain
    /// `get`.
    ///
    /// The default implementation always answers with a plain `get` (correct,
    /// never cheaper); the directory, S3 and HTTP origins implement the real
    /// conditional request, and wrappers must forward it.
    fn get_if_modified<'a>(
        &'a self,
        key: &'a ObjectKey,
        cached: &'a ObjectMeta,
    ) -> BoxFuture<'a, Result<Revalidation, OriginError>> {
        let _ = cached;
        Box::pin(async move { self.get(key, None).await.map(Revalidation::Modified) })
    }

    /// A cheap check that the origin can serve, for the admin listener's
    /// `/readyz`: `Err` says why not. The default is a `head` of
    /// [`READINESS_PROBE`], which is not expected to exist: an object, `404` or
    /// `403` (a missing key when the edge may not list the bucket) all show an
    /// origin that answers; an unreachable one, or a server error, does not.
    /// The caller bounds the time it takes.
    fn ready(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let key = ObjectKey::from_request_path(READINESS_PROBE)
                .map_err(|e| format!("the probe key: {e}"))?;
            match self.head(&key).await {
                Ok(_) | Err(OriginError::NotFound | OriginError::Forbidden(_)) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        })
    }
}

/// The path [`Origin::ready`]'s default looks up (a `HEAD`; it need not exist).
pub const READINESS_PROBE: &str = "/cfsign-edge-readiness-probe";

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> Result<String, KeyError> {
        ObjectKey::from_request_path(path).map(|k| k.as_str().to_owned())
    }

    #[test]
    fn root_trailing_slash_and_empty_segments() {
        assert_eq!(key("/"), Ok(String::new()));
        assert_eq!(key("/a"), Ok("a".to_owned()));
        assert_eq!(key("/a/"), Ok("a/".to_owned()));
        assert_eq!(key("/a/b/"), Ok("a/b/".to_owned()));
        assert_eq!(key("//"), Err(KeyError::EmptySegment));
        assert_eq!(key("//a"), Err(KeyError::EmptySegment));
        assert_eq!(key("/a//b"), Err(KeyError::EmptySegment));
        assert_eq!(key("/a//"), Err(KeyError::EmptySegment));
        assert_eq!(key("/a/b//"), Err(KeyError::EmptySegment));
        assert_eq!(key(""), Err(KeyError::NotAbsolute));
        assert_eq!(key("a/b"), Err(KeyError::NotAbsolute));
        assert_eq!(key("%2fa"), Err(KeyError::NotAbsolute));
        assert_eq!(key("\\a"), Err(KeyError::NotAbsolute));
        assert_eq!(key("http://example.com/a"), Err(KeyError::NotAbsolute));
    }

    #[test]
    fn dot_segments() {
        for path in [
            "/.", "/..", "/./a", "/../a", "/a/.", "/a/..", "/a/../b", "/a/./b", "/./", "/../",
        ] {
            assert_eq!(key(path), Err(KeyError::DotSegment), "{path}");
        }
        for path in [
            "/%2e",
            "/%2E",
            "/%2e%2e",
            "/%2E%2e",
            "/.%2e",
            "/%2e.",
            "/a/%2e%2e/b",
            "/a/%2e%2e/",
        ] {
            assert_eq!(key(path), Err(KeyError::DotSegment), "{path}");
        }
        // Not dot segments: other names with dots.
        for path in [
            "/...",
            "/.a",
            "/a.",
            "/..a",
            "/a..",
            "/.hidden/x",
            "/%2e%2e%2e",
        ] {
            assert!(key(path).is_ok(), "{path}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(key("/a%20b"), Ok("a b".to_owned()));
        assert_eq!(key("/%41%42%43"), Ok("ABC".to_owned()));
        assert_eq!(key("/%c3%a9"), Ok("é".to_owned()));
        assert_eq!(key("/%C3%A9"), Ok("é".to_owned()));
        assert_eq!(key("/%c3%A9"), Ok("é".to_owned()));
        assert_eq!(key("/%E6%97%A5%E6%9C%AC"), Ok("日本".to_owned()));
        assert_eq!(key("/%F0%9F%98%80"), Ok("😀".to_owned()));
        assert_eq!(key("/日本/é"), Ok("日本/é".to_owned()));
        // Decoded once only.
        assert_eq!(key("/%2541"), Ok("%41".to_owned()));
        assert_eq!(key("/%252e%252e"), Ok("%2e%2e".to_owned()));
        assert_eq!(key("/100%25"), Ok("100%".to_owned()));
        // `+` is not a space in a path.
        assert_eq!(key("/a+b"), Ok("a+b".to_owned()));
        // Reserved characters, raw or encoded, are kept.
        assert_eq!(key("/a;b=c&d"), Ok("a;b=c&d".to_owned()));
        assert_eq!(key("/a%3Fb%23c"), Ok("a?b#c".to_owned()));
    }

    #[test]
    fn bad_escapes() {
        for path in [
            "/%", "/%2", "/a%", "/a%2", "/%zz", "/%2z", "/%z2", "/%g0", "/%-1", "/%+1", "/% 1",
            "/%%41", "/%u0041",
        ] {
            assert_eq!(key(path), Err(KeyError::BadEscape), "{path}");
        }
        // A multi-byte character after '%' is not two hex digits (and must not panic).
        assert_eq!(key("/%é"), Err(KeyError::BadEscape));
        assert_eq!(key("/%1é"), Err(KeyError::BadEscape));
        assert_eq!(key("/%日本"), Err(KeyError::BadEscape));
    }

    #[test]
    fn encoded_slash_backslash_and_invalid_utf8() {
        assert_eq!(
            key("/a%2fb"),
            Err(KeyError::ForbiddenCharacter("encoded '/'"))
        );
        assert_eq!(
            key("/a%2Fb"),
            Err(KeyError::ForbiddenCharacter("encoded '/'"))
        );
        assert_eq!(key("/a\\b"), Err(KeyError::ForbiddenCharacter("backslash")));
        assert_eq!(
            key("/a%5cb"),
            Err(KeyError::ForbiddenCharacter("backslash"))
        );
        assert_eq!(
            key("/a%5Cb"),
            Err(KeyError::ForbiddenCharacter("backslash"))
        );
        for path in [
            "/%c0%ae",
            "/%c0%af",
            "/%e0%80%ae",
            "/%f0%80%80%ae",
            "/%c3",
            "/%ff",
            "/%80",
            "/%ed%a0%80",
        ] {
            assert_eq!(key(path), Err(KeyError::NotUtf8), "{path}");
        }
    }

    #[test]
    fn control_characters() {
        assert_eq!(key("/a%00b"), Err(KeyError::ForbiddenCharacter("NUL")));
        assert_eq!(key("/a\0b"), Err(KeyError::ForbiddenCharacter("NUL")));
        for path in [
            "/a%01", "/%09", "/%0a", "/%0D", "/%1b", "/%1F", "/%7f", "/%c2%80", "/%c2%9f", "/a\tb",
            "/a\nb", "/\u{7f}", "/\u{85}",
        ] {
            assert_eq!(
                key(path),
                Err(KeyError::ForbiddenCharacter("control character")),
                "{path}"
            );
        }
        // Space, NBSP and other non-control characters are fine.
        for path in ["/%20", "/%c2%a0", "/%e2%80%a8", "/%ef%bb%bf"] {
            assert!(key(path).is_ok(), "{path}");
        }
    }

    #[test]
    fn max_length() {
        let longest = "x".repeat(MAX_KEY_BYTES);
        assert_eq!(key(&format!("/{longest}")), Ok(longest.clone()));
        assert_eq!(key(&format!("/{longest}x")), Err(KeyError::TooLong));
        // The limit applies to the decoded key, in bytes.
        let encoded = "%41".repeat(MAX_KEY_BYTES);
        assert_eq!(
            key(&format!("/{encoded}")).map(|k| k.len()),
            Ok(MAX_KEY_BYTES)
        );
        assert_eq!(key(&format!("/{encoded}%41")), Err(KeyError::TooLong));
        let two_byte = "é".repeat(MAX_KEY_BYTES / 2);
        assert_eq!(
            key(&format!("/{two_byte}")).map(|k| k.len()),
            Ok(MAX_KEY_BYTES)
        );
        assert_eq!(key(&format!("/{two_byte}é")), Err(KeyError::TooLong));
        // A huge path is refused before decoding.
        assert_eq!(
            key(&format!("/{}", "%zz".repeat(100_000))),
            Err(KeyError::TooLong)
        );
        // Slashes count.
        let segments = "a/".repeat(MAX_KEY_BYTES / 2);
        assert_eq!(
            key(&format!("/{segments}")).map(|k| k.len()),
            Ok(MAX_KEY_BYTES)
        );
        assert_eq!(key(&format!("/{segments}a")), Err(KeyError::TooLong));
    }

    #[test]
    fn the_plain_path_shortcut_agrees_with_the_full_route() {
        let pieces = [
            "a", "b.txt", "", ".", "..", "...", "~x", "a+b", "@:", "é", "%41", "a b",
        ];
        let mut checked = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for path in [
                        format!("/{a}/{b}/{c}"),
                        format!("/{a}{b}/{c}"),
                        format!("/{a}/{b}{c}"),
                    ] {
                        let rest = &path[1..];
                        assert_eq!(
                            ObjectKey::from_request_path(&path),
                            ObjectKey::decoded(rest),
                            "{path:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 3 * 12 * 12 * 12);
    }

    #[test]
    fn display_and_errors() {
        let k = ObjectKey::from_request_path("/dir/a%20b").unwrap();
        assert_eq!(k.to_string(), "dir/a b");
        assert_eq!(
            KeyError::TooLong.to_string(),
            "the path is longer than 1024 bytes"
        );
        assert_eq!(ByteRange { start: 3, end: 3 }.len(), 1);
        assert_eq!(ByteRange { start: 0, end: 9 }.len(), 10);
        assert!(!ByteRange { start: 0, end: 0 }.is_empty());
    }
}
