//! The default origin: files under a local directory.
//!
//! Keys are already validated ([`ObjectKey`]: no `.`/`..`, no backslash, NUL or
//! control characters). On top of that, the file is resolved with
//! `canonicalize` (following symlinks) and must still be under the canonical
//! root, so a symlink pointing outside the root is treated as not found (as is
//! a dangling symlink or a symlink loop). Only regular files are served; a
//! directory (or a FIFO, socket, device) is not found (no listings). The
//! `Content-Type` is guessed from the key's extension, as the viewer sees it,
//! not from the name of the file a symlink points to.
//!
//! The entity tag is the size and the modification time in nanoseconds
//! (`"<size hex>-<mtime ns hex>"`), so any rewrite that changes either is seen.
//! [`Origin::get_if_modified`] reads the metadata once (one trip to the blocking
//! pool) and compares: the entity tag when the cached copy has one, else the
//! modification time in whole seconds (`If-Modified-Since` semantics: a change
//! within the same second as the cached `Last-Modified` is not seen without an
//! entity tag). No file is opened when the object is unchanged.

use std::io::SeekFrom;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use tokio::io::AsyncReadExt as _;
use tokio_util::io::ReaderStream;

use super::{
    BoxFuture, ByteRange, GetResponse, HeadResponse, ObjectKey, ObjectMeta, Origin, OriginError,
    Revalidation,
};

/// Read buffer for streaming file bodies.
const CHUNK: usize = 64 * 1024;

/// Files under a root directory.
#[derive(Debug, Clone)]
pub struct DirectoryOrigin {
    root: PathBuf,
}

impl DirectoryOrigin {
    /// Serves files under `root` (which must exist and be a directory).
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<Self> {
        let root = std::fs::canonicalize(root.as_ref())?;
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(Self { root })
    }

    /// The canonical root.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path for a key: each segment must be exactly one plain path component,
    /// whatever the platform's path syntax (a drive prefix like `C:` on Windows
    /// would otherwise replace the root in `join`).
    fn path_of(&self, key: &ObjectKey) -> Result<PathBuf, OriginError> {
        if key.as_str().is_empty() || key.as_str().ends_with('/') {
            return Err(OriginError::NotFound);
        }
        let mut joined = self.root.clone();
        for segment in key.as_str().split('/') {
            let mut components = Path::new(segment).components();
            match (components.next(), components.next()) {
                (Some(Component::Normal(name)), None) if name == segment => joined.push(name),
                _ => return Err(OriginError::NotFound),
            }
        }
        Ok(joined)
    }

    /// Resolves, checks and opens the file in ONE trip to the blocking thread pool
    /// (each `tokio::fs` call is a trip of its own). Small objects, or small ranges,
    /// are read in the same trip.
    async fn open(&self, key: &ObjectKey, read: Read) -> Result<Opened, OriginError> {
        let joined = self.path_of(key)?;
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || open_blocking(&root, &joined, read))
            .await
            .map_err(|e| OriginError::Unavailable(e.to_string()))?
    }

    fn meta(key: &ObjectKey, meta: &std::fs::Metadata) -> ObjectMeta {
        let modified = meta.modified().ok();
        let nanos = modified
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        ObjectMeta {
            size: meta.len(),
            etag: Some(format!("\"{:x}-{:x}\"", meta.len(), nanos)),
            last_modified: modified,
            content_type: Some(content_type(key.as_str())),
            cache_control: None,
            expires: None,
        }
    }
}

/// Streaming types that `mime_guess` gives otherwise (`.ts` as DLNA's
/// `video/vnd.dlna.mpeg-tts`, `.m3u8` as `audio/x-mpegurl`, `.m4s` unknown):
/// the types RFC 8216 §4 and §3.2 name for HLS playlists and MPEG-TS
/// segments, and IANA's `video/iso.segment` for fMP4 media segments.
const STREAMING_TYPES: [(&str, &str); 3] = [
    (".m3u8", "application/vnd.apple.mpegurl"),
    (".ts", "video/mp2t"),
    (".m4s", "video/iso.segment"),
];

/// The content type a file's name suggests.
fn content_type(key: &str) -> String {
    for (extension, content_type) in STREAMING_TYPES {
        // On bytes: a name may end in any character, `😀.txt` included.
        if key.len() > extension.len()
            && key.as_bytes()[key.len() - extension.len()..]
                .eq_ignore_ascii_case(extension.as_bytes())
        {
            return content_type.to_owned();
        }
    }
    mime_guess::from_path(key)
        .first_or_octet_stream()
        .essence_str()
        .to_owned()
}

/// Whether the object described by `current` is still the `cached` copy, as
/// an origin server decides a conditional GET (RFC 9110 §13.2.2: `If-None-Match`
/// when there is an entity tag, else `If-Modified-Since` at one-second resolution).
fn unchanged(cached: &ObjectMeta, current: &ObjectMeta) -> bool {
    if let Some(etag) = &cached.etag {
        return current.etag.as_ref() == Some(etag);
    }
    match (cached.last_modified, current.last_modified) {
        (Some(since), Some(modified)) => whole_seconds(modified) <= whole_seconds(since),
        _ => false,
    }
}

/// HTTP dates have one-second resolution.
fn whole_seconds(t: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// Errors that mean "no such object": missing, a file used as a directory, a
/// name too long for the file system (`ENAMETOOLONG`), a symlink loop.
fn is_missing(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::InvalidFilename
    ) || ELOOP.is_some_and(|code| e.raw_os_error() == Some(code))
}

/// `ELOOP` (`ErrorKind::FilesystemLoop` is not stable yet): 40 on Linux, 62 on
/// macOS and the BSDs. Elsewhere a loop is reported as an origin error (502)
/// instead of not found; either way nothing is served.
#[cfg(any(target_os = "linux", target_os = "android"))]
const ELOOP: Option<i32> = Some(40);
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const ELOOP: Option<i32> = Some(62);
#[cfg(not(unix))]
const ELOOP: Option<i32> = None;

/// An I/O error as an origin answer.
fn io_error(e: &std::io::Error) -> OriginError {
    if is_missing(e) {
        OriginError::NotFound
    } else {
        OriginError::Unavailable(e.to_string())
    }
}

/// What to do with the file once it is found.
#[derive(Clone, Copy)]
enum Read {
    /// Metadata only.
    Nothing,
    /// The bytes of this range (None: the whole object).
    Body(Option<ByteRange>),
}

/// Objects (or ranges) up to this size are read at once instead of streamed.
const READ_AT_ONCE: u64 = 64 * 1024;

struct Opened {
    meta: std::fs::Metadata,
    /// The range to serve, clamped to the size.
    range: Option<ByteRange>,
    /// The bytes, for small reads; otherwise the open file, to stream.
    content: Content,
}

enum Content {
    None,
    Bytes(bytes::Bytes),
    File(std::fs::File),
}

fn open_blocking(root: &Path, joined: &Path, read: Read) -> Result<Opened, OriginError> {
    use std::io::{Read as _, Seek as _};
    let real = std::fs::canonicalize(joined).map_err(|e| io_error(&e))?;
    if !real.starts_with(root) {
        return Err(OriginError::NotFound);
    }
    let Read::Body(range) = read else {
        let meta = std::fs::metadata(&real).map_err(|e| io_error(&e))?;
        if !meta.is_file() {
            return Err(OriginError::NotFound);
        }
        return Ok(Opened {
            meta,
            range: None,
            content: Content::None,
        });
    };
    // Check the type before opening: opening a FIFO for reading blocks until a
    // writer appears, which would hang this thread.
    if !std::fs::metadata(&real)
        .map_err(|e| io_error(&e))?
        .is_file()
    {
        return Err(OriginError::NotFound);
    }
    let mut file = std::fs::File::open(&real).map_err(|e| io_error(&e))?;
    // And the metadata of the opened file, not of the path: what is served is what was checked.
    let meta = file.metadata().map_err(|e| io_error(&e))?;
    if !meta.is_file() {
        return Err(OriginError::NotFound);
    }
    let size = meta.len();
    let range = match range {
        Some(r) if r.start >= size => return Err(OriginError::NotFound),
        Some(r) => Some(ByteRange {
            start: r.start,
            end: r.end.min(size - 1),
        }),
        None => None,
    };
    let (start, len) = range.map_or((0, size), |r| (r.start, r.len()));
    if start > 0 {
        file.seek(SeekFrom::Start(start))
            .map_err(|e| OriginError::Unavailable(e.to_string()))?;
    }
    if len <= READ_AT_ONCE {
        let mut buf = Vec::with_capacity(len as usize);
        // Never more than the announced length, even if the file grows meanwhile.
        (&mut file)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| OriginError::Unavailable(e.to_string()))?;
        return Ok(Opened {
            meta,
            range,
            content: Content::Bytes(buf.into()),
        });
    }
    Ok(Opened {
        meta,
        range,
        content: Content::File(file),
    })
}

impl Origin for DirectoryOrigin {
    fn kind(&self) -> &'static str {
        "directory"
    }

    fn cache_identity(&self) -> String {
        format!("directory:{}", self.root.display())
    }

    /// The root is still a directory this process can list.
    fn ready(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            match tokio::fs::read_dir(&self.root).await {
                Ok(_) => Ok(()),
                Err(e) => Err(format!(
                    "cannot read the directory {}: {e}",
                    self.root.display()
                )),
            }
        })
    }

    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<HeadResponse, OriginError>> {
        Box::pin(async move {
            let opened = self.open(key, Read::Nothing).await?;
            Ok(Self::meta(key, &opened.meta).into())
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<GetResponse, OriginError>> {
        Box::pin(async move {
            let opened = self.open(key, Read::Body(range)).await?;
            let object = Self::meta(key, &opened.meta);
            let length = opened.range.map_or(object.size, |r| r.len());
            let body = match opened.content {
                Content::Bytes(bytes) => {
                    futures_util::stream::once(async move { Ok(bytes) }).boxed()
                }
                // The file is positioned at the range start; never more than the
                // announced length (the Content-Length), even if the file grows.
                Content::File(file) => {
                    ReaderStream::with_capacity(tokio::fs::File::from_std(file).take(length), CHUNK)
                        .boxed()
                }
                Content::None => {
                    return Err(OriginError::Unavailable("internal: no content".to_owned()));
                }
            };
            Ok(GetResponse {
                meta: object,
                range: opened.range,
                body,
                cached: None,
            })
        })
    }

    fn get_if_modified<'a>(
        &'a self,
        key: &'a ObjectKey,
        cached: &'a ObjectMeta,
    ) -> BoxFuture<'a, Result<Revalidation, OriginError>> {
        Box::pin(async move {
            if cached.has_validators() {
                let opened = self.open(key, Read::Nothing).await?;
                let current = Self::meta(key, &opened.meta);
                if unchanged(cached, &current) {
                    return Ok(Revalidation::NotModified(cached.refreshed_by(current)));
                }
            }
            self.get(key, None).await.map(Revalidation::Modified)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_files_get_their_standard_types() {
        for (name, want) in [
            ("v/index.m3u8", "application/vnd.apple.mpegurl"),
            ("v/SEG0.TS", "video/mp2t"),
            ("v/chunk-0-1.m4s", "video/iso.segment"),
            ("v/manifest.mpd", "application/dash+xml"),
            ("v/init.mp4", "video/mp4"),
            ("v/readme", "application/octet-stream"),
            ("ファイル 😀.txt", "text/plain"),
            ("😀", "application/octet-stream"),
        ] {
            assert_eq!(content_type(name), want, "{name}");
        }
    }

    fn key(path: &str) -> ObjectKey {
        ObjectKey::from_request_path(path).unwrap()
    }

    async fn body(response: GetResponse) -> Vec<u8> {
        let mut body = response.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            bytes.extend_from_slice(&chunk.unwrap());
        }
        bytes
    }

    fn validators(etag: Option<&str>, seconds: Option<u64>, nanos: u32) -> ObjectMeta {
        ObjectMeta {
            size: 1,
            etag: etag.map(str::to_owned),
            last_modified: seconds.map(|s| UNIX_EPOCH + Duration::new(s, nanos)),
            content_type: None,
            cache_control: None,
            expires: None,
        }
    }

    /// The entity tag decides when the cached copy has one; otherwise the
    /// modification time, in whole seconds as `If-Modified-Since` has it.
    #[test]
    fn unchanged_is_decided_like_a_conditional_get() {
        let current = validators(Some("\"b\""), Some(100), 500);
        assert!(unchanged(&validators(Some("\"b\""), None, 0), &current));
        assert!(!unchanged(
            &validators(Some("\"a\""), Some(200), 0),
            &current
        ));
        assert!(unchanged(&validators(None, Some(100), 0), &current));
        assert!(unchanged(&validators(None, Some(101), 0), &current));
        assert!(!unchanged(
            &validators(None, Some(99), 999_999_999),
            &current
        ));
        assert!(!unchanged(&validators(None, None, 0), &current));
        assert!(!unchanged(
            &validators(None, Some(100), 0),
            &validators(None, None, 0)
        ));
    }

    #[tokio::test]
    async fn revalidation_reads_the_metadata_and_the_body_only_when_changed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "one").unwrap();
        let origin = DirectoryOrigin::new(dir.path()).unwrap();
        let cached = origin.head(&key("/a.txt")).await.unwrap().meta;
        match origin.get_if_modified(&key("/a.txt"), &cached).await {
            Ok(Revalidation::NotModified(meta)) => assert_eq!(meta, cached),
            other => panic!("{other:?}"),
        }
        std::fs::write(dir.path().join("a.txt"), "three").unwrap();
        match origin.get_if_modified(&key("/a.txt"), &cached).await {
            Ok(Revalidation::Modified(response)) => {
                assert_eq!(response.meta.size, 5);
                assert_eq!(body(response).await, b"three");
            }
            other => panic!("{other:?}"),
        }
        std::fs::remove_file(dir.path().join("a.txt")).unwrap();
        assert_eq!(
            origin
                .get_if_modified(&key("/a.txt"), &cached)
                .await
                .unwrap_err(),
            OriginError::NotFound
        );
    }

    #[test]
    fn new_needs_an_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        assert!(DirectoryOrigin::new(dir.path().join("missing")).is_err());
        assert!(DirectoryOrigin::new(dir.path().join("file")).is_err());
        let origin = DirectoryOrigin::new(dir.path()).unwrap();
        assert_eq!(origin.root(), dir.path().canonicalize().unwrap());
        assert_eq!(origin.kind(), "directory");
    }

    /// A file that grows after `get` is never served beyond the announced size.
    #[tokio::test]
    async fn body_is_capped_at_the_announced_size() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("log.txt"), "0123456789").unwrap();
        let origin = DirectoryOrigin::new(dir.path()).unwrap();
        let response = origin.get(&key("/log.txt"), None).await.unwrap();
        assert_eq!(response.meta.size, 10);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("log.txt"))
            .unwrap();
        std::io::Write::write_all(&mut file, b"appended").unwrap();
        assert_eq!(body(response).await, b"0123456789");
    }

    #[tokio::test]
    async fn ranges_are_clamped_and_a_start_beyond_the_size_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.bin"), "0123456789").unwrap();
        let origin = DirectoryOrigin::new(dir.path()).unwrap();
        let response = origin
            .get(&key("/f.bin"), Some(ByteRange { start: 7, end: 100 }))
            .await
            .unwrap();
        assert_eq!(response.range, Some(ByteRange { start: 7, end: 9 }));
        assert_eq!(body(response).await, b"789");
        let err = origin
            .get(&key("/f.bin"), Some(ByteRange { start: 10, end: 12 }))
            .await
            .unwrap_err();
        assert_eq!(err, OriginError::NotFound);
    }

    /// The content type follows the key the viewer asked for, not the symlink target.
    #[cfg(unix)]
    #[tokio::test]
    async fn content_type_follows_the_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("blobs")).unwrap();
        std::fs::write(dir.path().join("blobs/3f2a"), "{}").unwrap();
        std::os::unix::fs::symlink("blobs/3f2a", dir.path().join("data.json")).unwrap();
        let origin = DirectoryOrigin::new(dir.path()).unwrap();
        let meta = origin.head(&key("/data.json")).await.unwrap().meta;
        assert_eq!(meta.content_type.as_deref(), Some("application/json"));
        let meta = origin.head(&key("/blobs/3f2a")).await.unwrap().meta;
        assert_eq!(
            meta.content_type.as_deref(),
            Some("application/octet-stream")
        );
    }

    /// Only regular files: a FIFO would block a reader forever.
    #[cfg(unix)]
    #[tokio::test]
    async fn special_files_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "mkfifo (coreutils) is needed by this test: apt-get install coreutils"
        );
        let origin = DirectoryOrigin::new(dir.path()).unwrap();
        assert_eq!(
            origin.head(&key("/fifo")).await.unwrap_err(),
            OriginError::NotFound
        );
        assert_eq!(
            origin.get(&key("/fifo"), None).await.unwrap_err(),
            OriginError::NotFound
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symlink_loops_and_long_names_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
        std::os::unix::fs::symlink("pong", dir.path().join("ping")).unwrap();
        std::os::unix::fs::symlink("ping", dir.path().join("pong")).unwrap();
        let origin = DirectoryOrigin::new(dir.path()).unwrap();
        for path in ["/loop", "/ping", "/loop/x"] {
            assert_eq!(
                origin.head(&key(path)).await.unwrap_err(),
                OriginError::NotFound,
                "{path}"
            );
        }
        let long = format!("/{}", "n".repeat(1000));
        assert_eq!(
            origin.head(&key(&long)).await.unwrap_err(),
            OriginError::NotFound
        );
    }
}
