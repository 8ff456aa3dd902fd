//! The admin listener's bearer token: [`AdminToken`], read from a file kept
//! private like a private key, and [`AdminAuth`], the token a running admin
//! listener checks (replaced by a reload).

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

use arc_swap::ArcSwapOption;
use aws_lc_rs::digest::{SHA256, digest};
use cfsign::input::{InputError, Limit, PIPE_DEADLINE, Source};

/// The fewest characters a token may have (`openssl rand -hex 32` makes 64).
pub const MIN_TOKEN_CHARS: usize = 32;

/// The bound for a token file: a token is a line of at most a few hundred characters.
pub const TOKEN_FILE: Limit = Limit::new(
    "the admin token file",
    4096,
    "a token is one line, e.g. 64 hex digits from `openssl rand -hex 32`: check that the path names the token file",
);

/// A bearer token for the admin listener's protected endpoints (`POST /reload`,
/// and `POST /invalidations` once a token is set: see the [module
/// documentation](crate::admin)).
///
/// It is at least [`MIN_TOKEN_CHARS`] visible ASCII characters (no spaces);
/// leading and trailing whitespace of the file (a final newline) is not part of
/// it. Only its SHA-256 digest is compared, in constant time. Its `Debug` does
/// not show it.
///
/// ```
/// use cfsign_edge::admin::{AdminToken, AdminTokenError};
///
/// let token = AdminToken::new("3f6c0e2b9a7d41f58e0c2d6b7a9f1e4c")?;
/// assert!(token.matches("3f6c0e2b9a7d41f58e0c2d6b7a9f1e4c"));
/// assert!(!token.matches("3f6c0e2b9a7d41f58e0c2d6b7a9f1e4d"));
/// assert!(!format!("{token:?}").contains("3f6c"));
/// assert!(matches!(AdminToken::new("short"), Err(AdminTokenError::TooShort { .. })));
/// # Ok::<(), AdminTokenError>(())
/// ```
#[derive(Clone)]
pub struct AdminToken {
    secret: Arc<str>,
    digest: [u8; 32],
    file: Option<PathBuf>,
    group_readable: bool,
}

/// Why an admin token cannot be used. Messages name the file and the fix;
/// they never show the token.
///
/// ```
/// use cfsign_edge::admin::{AdminToken, AdminTokenError};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("token");
/// std::fs::write(&path, "short\n")?;
/// # #[cfg(unix)] {
/// # use std::os::unix::fs::PermissionsExt as _;
/// # std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
/// # }
/// let err = AdminToken::from_file(&path).unwrap_err();
/// assert!(matches!(err, AdminTokenError::TooShort { chars: 5, .. }));
/// assert!(err.to_string().contains("openssl rand -hex 32 >"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminTokenError {
    /// The file cannot be read, or is too large.
    #[error(transparent)]
    Read(InputError),
    /// Fewer than [`MIN_TOKEN_CHARS`] characters.
    #[error(
        "{}holds a token of {chars} characters; an admin token needs at least {MIN_TOKEN_CHARS}: make one \
         with `openssl rand -hex 32 > {}`",
        in_file(file.as_deref()),
        file.as_deref().map_or_else(|| "token".to_owned(), |f| f.display().to_string())
    )]
    TooShort {
        /// The file, if the token came from one.
        file: Option<PathBuf>,
        /// How many characters it has.
        chars: usize,
    },
    /// A character an `Authorization` header cannot carry as given (a space,
    /// a control character, non-ASCII).
    #[error(
        "{}holds a character other than visible ASCII (a space, a control character or non-ASCII) \
         inside the token; keep the token on one line, e.g. the output of `openssl rand -hex 32`",
        in_file(file.as_deref())
    )]
    BadCharacter {
        /// The file, if the token came from one.
        file: Option<PathBuf>,
    },
    /// Other users can read or change the file.
    #[error(
        "the admin token file {} can be {} by other users (mode {mode:04o}): run `chmod 600 {}` (in \
         Kubernetes: defaultMode: 0400 on the secret's volume)",
        file.display(),
        if mode & 0o002 != 0 || mode & 0o020 != 0 { "changed" } else { "read" },
        file.display()
    )]
    Exposed {
        /// The file.
        file: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

fn in_file(file: Option<&Path>) -> String {
    match file {
        Some(path) => format!("the admin token file {} ", path.display()),
        None => "the admin token ".to_owned(),
    }
}

impl AdminToken {
    /// A token from its text (surrounding whitespace removed); checked as
    /// [`from_file`](Self::from_file) checks a file's.
    pub fn new(secret: &str) -> Result<Self, AdminTokenError> {
        Self::checked(secret, None, false)
    }

    /// Reads the token from `path` (at most [`TOKEN_FILE`]). On Unix the file
    /// must not be readable or writable by other users, nor writable by its
    /// group (refused: [`AdminTokenError::Exposed`]); a file its group can read
    /// is accepted (Kubernetes' `fsGroup` makes secrets so) and reported by
    /// [`group_readable`](Self::group_readable), for a warning.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use std::os::unix::fs::PermissionsExt as _;
    /// use cfsign_edge::admin::{AdminToken, AdminTokenError};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("token");
    /// std::fs::write(&path, "0123456789abcdef0123456789abcdef\n")?;
    /// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    /// let token = AdminToken::from_file(&path)?;
    /// assert!(token.matches("0123456789abcdef0123456789abcdef") && !token.group_readable());
    ///
    /// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    /// let err = AdminToken::from_file(&path).unwrap_err();
    /// assert!(matches!(err, AdminTokenError::Exposed { mode: 0o644, .. }));
    /// assert!(err.to_string().contains("chmod 600"));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_file(path: &Path) -> Result<Self, AdminTokenError> {
        let (text, group_readable) = read_private(path)?;
        Self::checked(&text, Some(path.to_owned()), group_readable)
    }

    fn checked(
        text: &str,
        file: Option<PathBuf>,
        group_readable: bool,
    ) -> Result<Self, AdminTokenError> {
        let secret = text.trim();
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AdminTokenError::BadCharacter { file });
        }
        if secret.len() < MIN_TOKEN_CHARS {
            return Err(AdminTokenError::TooShort {
                file,
                chars: secret.len(),
            });
        }
        Ok(Self {
            digest: sha256(secret.as_bytes()),
            secret: Arc::from(secret),
            file,
            group_readable,
        })
    }

    /// Whether `presented` is the token: their SHA-256 digests compared in
    /// constant time (neither the token's length nor where they differ shows
    /// in the time taken).
    #[must_use]
    pub fn matches(&self, presented: &str) -> bool {
        let other = sha256(presented.as_bytes());
        let difference = (self.digest.iter())
            .zip(other.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(difference) == 0
    }

    /// The token itself, for a client's `Authorization: Bearer` header (never
    /// log it).
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The file it was read from.
    #[must_use]
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Whether the file's group may read it (accepted, worth a warning unless
    /// the group is the edge's alone).
    #[must_use]
    pub fn group_readable(&self) -> bool {
        self.group_readable
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminToken")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// Reads the token file through one handle, whose own permissions are checked
/// (not those of whatever the path named a moment before): `Ok((text, true))`
/// if its group can read it.
fn read_private(path: &Path) -> Result<(String, bool), AdminTokenError> {
    let source = Source::File(path.to_owned());
    let metadata = std::fs::metadata(path).map_err(|error| io_error(&source, error))?;
    if metadata.is_file() {
        let file = File::open(path).map_err(|error| io_error(&source, error))?;
        return read_opened(&file, path);
    }
    // Not a regular file (a FIFO such as `<(...)`, a device): opening it blocks
    // until a writer comes, and reading it while the writer is silent, so both
    // happen on a thread that is given up on after PIPE_DEADLINE, as
    // `Limit::read_file` does.
    let (sender, receiver) = mpsc::sync_channel(1);
    let owned = path.to_owned();
    std::thread::Builder::new()
        .name("cfsign-token".to_owned())
        .spawn(move || {
            let result = File::open(&owned)
                .map_err(|error| io_error(&Source::File(owned.clone()), error))
                .and_then(|file| read_opened(&file, &owned));
            let _ = sender.send(result);
        })
        .map_err(|error| io_error(&source, error))?;
    receiver
        .recv_timeout(PIPE_DEADLINE)
        .unwrap_or(Err(AdminTokenError::Read(InputError::Stalled {
            input: source,
            limit: TOKEN_FILE,
            waited: PIPE_DEADLINE,
        })))
}

/// Checks the opened file's permissions, then reads it (at most [`TOKEN_FILE`]).
fn read_opened(file: &File, path: &Path) -> Result<(String, bool), AdminTokenError> {
    let source = Source::File(path.to_owned());
    let metadata = file.metadata().map_err(|error| io_error(&source, error))?;
    let group_readable = private(path, &metadata)?;
    let text = TOKEN_FILE
        .read_to_string(file, source)
        .map_err(AdminTokenError::Read)?;
    Ok((text, group_readable))
}

/// Refuses a file others can read or change; `Ok(true)` if its group can read it.
#[cfg(unix)]
fn private(path: &Path, metadata: &std::fs::Metadata) -> Result<bool, AdminTokenError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o027 != 0 {
        return Err(AdminTokenError::Exposed {
            file: path.to_owned(),
            mode,
        });
    }
    Ok(mode & 0o040 != 0)
}

#[cfg(not(unix))]
fn private(_: &Path, _: &std::fs::Metadata) -> Result<bool, AdminTokenError> {
    Ok(false)
}

fn io_error(source: &Source, error: std::io::Error) -> AdminTokenError {
    AdminTokenError::Read(InputError::Io {
        input: source.clone(),
        limit: TOKEN_FILE,
        error,
    })
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// The token a running admin listener requires, shared with whatever replaces
/// it (a reload that read a new token file). Empty: no token is configured, so
/// `POST /reload` is refused and `POST /invalidations` is open (as before tokens
/// existed).
///
/// ```
/// use cfsign_edge::admin::{AdminAuth, AdminToken};
///
/// let auth = AdminAuth::new(None);
/// assert!(auth.token().is_none());
/// auth.replace(Some(AdminToken::new("0123456789abcdef0123456789abcdef")?));
/// assert!(auth.token().is_some_and(|t| t.matches("0123456789abcdef0123456789abcdef")));
/// # Ok::<(), cfsign_edge::admin::AdminTokenError>(())
/// ```
#[derive(Clone, Default)]
pub struct AdminAuth(Arc<ArcSwapOption<AdminToken>>);

impl AdminAuth {
    /// Requires `token` (nothing when `None`).
    #[must_use]
    pub fn new(token: Option<AdminToken>) -> Self {
        Self(Arc::new(ArcSwapOption::new(token.map(Arc::new))))
    }

    /// The token now required.
    #[must_use]
    pub fn token(&self) -> Option<Arc<AdminToken>> {
        self.0.load_full()
    }

    /// Requires `token` from now on, for every listener sharing this.
    pub fn replace(&self, token: Option<AdminToken>) {
        self.0.store(token.map(Arc::new));
    }
}

impl fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AdminAuth").field(&self.token()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn tokens_are_checked_and_compared() {
        let token = AdminToken::new(&format!("  {GOOD}\n")).unwrap();
        assert!(token.matches(GOOD));
        for other in [
            "",
            "0123456789abcdef",
            &format!("{GOOD}0"),
            &GOOD.to_uppercase(),
        ] {
            assert!(!token.matches(other), "{other}");
        }
        let err = AdminToken::new(&GOOD[1..]).unwrap_err();
        assert!(matches!(
            err,
            AdminTokenError::TooShort {
                chars: 31,
                file: None
            }
        ));
        assert!(err.to_string().contains("at least 32"), "{err}");
        let err = AdminToken::new(&format!("{GOOD} {GOOD}")).unwrap_err();
        assert!(matches!(err, AdminTokenError::BadCharacter { .. }), "{err}");
        assert!(matches!(
            AdminToken::new(&format!("{GOOD}é")),
            Err(AdminTokenError::BadCharacter { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn token_files_must_be_private() {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, format!("{GOOD}\n")).unwrap();
        let chmod = |mode| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        for (mode, ok, group) in [
            (0o600, true, false),
            (0o400, true, false),
            (0o640, true, true),
            (0o440, true, true),
            (0o644, false, false),
            (0o604, false, false),
            (0o620, false, false),
            (0o602, false, false),
        ] {
            chmod(mode);
            match AdminToken::from_file(&path) {
                Ok(token) => {
                    assert!(ok, "{mode:o} accepted");
                    assert_eq!(token.group_readable(), group, "{mode:o}");
                    assert_eq!(token.file(), Some(path.as_path()));
                }
                Err(e) => {
                    assert!(!ok, "{mode:o} refused: {e}");
                    let text = e.to_string();
                    assert!(text.contains(&path.display().to_string()), "{text}");
                    assert!(text.contains("chmod 600"), "{text}");
                    assert!(!text.contains(GOOD), "{text}");
                }
            }
        }
        chmod(0o600);
        std::fs::write(&path, "short\n").unwrap();
        let err = AdminToken::from_file(&path).unwrap_err().to_string();
        assert!(
            err.contains(&format!("openssl rand -hex 32 > {}", path.display())),
            "{err}"
        );
        let missing = AdminToken::from_file(&dir.path().join("none")).unwrap_err();
        assert!(matches!(missing, AdminTokenError::Read(_)), "{missing}");
    }

    /// The permissions checked are those of the file read: through a symlink,
    /// the target's; a FIFO's own (read on a thread with a deadline).
    #[cfg(unix)]
    #[test]
    fn the_opened_file_is_the_one_checked() {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, format!("{GOOD}\n")).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("token");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = AdminToken::from_file(&link).unwrap_err();
        assert!(
            matches!(err, AdminTokenError::Exposed { mode: 0o644, .. }),
            "{err}"
        );
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(AdminToken::from_file(&link).unwrap().matches(GOOD));

        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg("-m")
            .arg("600")
            .arg(&fifo)
            .status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("no mkfifo: the FIFO case is not tried");
            return;
        }
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, format!("{GOOD}\n")))
        };
        assert!(AdminToken::from_file(&fifo).unwrap().matches(GOOD));
        writer.join().unwrap().unwrap();
        std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o644)).unwrap();
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, format!("{GOOD}\n")))
        };
        let err = AdminToken::from_file(&fifo).unwrap_err();
        assert!(
            matches!(err, AdminTokenError::Exposed { mode: 0o644, .. }),
            "{err}"
        );
        // the writer is released once the refused reader closes the FIFO
        let _ = writer.join().unwrap();
    }
}
