//! The default origin: files under a local directory.
//!
//! Keys are already validated ([`ObjectKey`]: no `.`/`..`, no backslash, NUL or
//! control characters). On top of that, the file is resolved with
//! `canonicalize` (following symlinks) and must still be under the canonical
//! root, so a symlink pointing outside the root is treated as not found. Only
//! regular files are served; a directory is not found (no listings).

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio_util::io::ReaderStream;

use super::{BoxFuture, ByteRange, GetResponse, ObjectKey, ObjectMeta, Origin, OriginError};

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

    /// The file for a key, if it is a regular file under the root.
    async fn resolve(&self, key: &ObjectKey) -> Result<(PathBuf, std::fs::Metadata), OriginError> {
        if key.as_str().is_empty() || key.as_str().ends_with('/') {
            return Err(OriginError::NotFound);
        }
        let joined = self.root.join(key.as_str());
        let real = match tokio::fs::canonicalize(&joined).await {
            Ok(p) => p,
            Err(e) if is_missing(&e) => return Err(OriginError::NotFound),
            Err(e) => return Err(OriginError::Unavailable(e.to_string())),
        };
        if !real.starts_with(&self.root) {
            return Err(OriginError::NotFound);
        }
        let meta = tokio::fs::metadata(&real).await.map_err(|e| {
            if is_missing(&e) {
                OriginError::NotFound
            } else {
                OriginError::Unavailable(e.to_string())
            }
        })?;
        if !meta.is_file() {
            return Err(OriginError::NotFound);
        }
        Ok((real, meta))
    }

    fn meta(path: &Path, meta: &std::fs::Metadata) -> ObjectMeta {
        let modified = meta.modified().ok();
        let nanos = modified
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        ObjectMeta {
            size: meta.len(),
            etag: Some(format!("\"{:x}-{:x}\"", meta.len(), nanos)),
            last_modified: modified,
            content_type: Some(
                mime_guess::from_path(path)
                    .first_or_octet_stream()
                    .essence_str()
                    .to_owned(),
            ),
            cache_control: None,
            expires: None,
        }
    }
}

fn is_missing(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    ) || e.raw_os_error() == Some(36) // ENAMETOOLONG
}

impl Origin for DirectoryOrigin {
    fn kind(&self) -> &'static str {
        "directory"
    }

    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, OriginError>> {
        Box::pin(async move {
            let (path, meta) = self.resolve(key).await?;
            Ok(Self::meta(&path, &meta))
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<GetResponse, OriginError>> {
        Box::pin(async move {
            let (path, meta) = self.resolve(key).await?;
            let object = Self::meta(&path, &meta);
            let mut file = tokio::fs::File::open(&path).await.map_err(|e| {
                if is_missing(&e) {
                    OriginError::NotFound
                } else {
                    OriginError::Unavailable(e.to_string())
                }
            })?;
            let range = range.map(|r| ByteRange {
                start: r.start,
                end: r.end.min(object.size.saturating_sub(1)),
            });
            let body = match range {
                Some(r) if r.start >= object.size => return Err(OriginError::NotFound),
                Some(r) => {
                    file.seek(SeekFrom::Start(r.start))
                        .await
                        .map_err(|e| OriginError::Unavailable(e.to_string()))?;
                    ReaderStream::with_capacity(file.take(r.len()), CHUNK).boxed()
                }
                None => ReaderStream::with_capacity(file, CHUNK).boxed(),
            };
            Ok(GetResponse {
                meta: object,
                range,
                body,
            })
        })
    }
}
