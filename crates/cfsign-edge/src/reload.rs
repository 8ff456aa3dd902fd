//! Reloading a running edge's configuration, keys and certificate without a
//! restart, whatever asks for it: a signal, the admin listener's
//! `POST /reload` ([`admin`](crate::admin)), or a change of the files seen by
//! polling them.
//!
//! The routine itself belongs to the program that runs the edge (it knows where
//! the configuration comes from, how to report, whom to notify); it implements
//! [`Reload`], and every trigger calls that one implementation. The pieces here
//! are what the triggers share:
//!
//! - [`Reload`], [`Reloaded`] (what changed) and [`ReloadError`] (why the running
//!   configuration was kept);
//! - [`Fingerprint`]: the SHA-256 digests of the files a configuration is read
//!   from (see [`ConfigSource::inputs`](crate::config::ConfigSource::inputs)),
//!   to tell which ones changed;
//! - [`Debounce`]: a change is applied once it has held still for one polling
//!   interval, so a file caught half-written is read again on the next tick
//!   rather than applied broken.
//!
//! **Why polling, not inotify.** Kubernetes updates a mounted Secret or
//! ConfigMap by writing a new folder and swapping a `..data` symlink to it
//! atomically; the files the edge names are symlinks through `..data`, so a
//! watch on them (or on their folder) misses the swap or sees it as events on
//! other names, and modification times can go backwards. Reading the files and
//! comparing digests every couple of seconds sees exactly what a reload would
//! read, costs a few small reads, and needs no platform-specific API.
//!
//! ```
//! use cfsign_edge::reload::{Debounce, Fingerprint};
//!
//! let dir = tempfile::tempdir()?;
//! let key = dir.path().join("key.pem");
//! std::fs::write(&key, "one")?;
//! let loaded = Fingerprint::of([key.clone()]);
//! let mut debounce = Debounce::default();
//! assert!(!debounce.settled(&Fingerprint::of([key.clone()]), &loaded)); // nothing changed
//! std::fs::write(&key, "two")?;
//! assert!(!debounce.settled(&Fingerprint::of([key.clone()]), &loaded)); // changed: wait a tick
//! assert!(debounce.settled(&Fingerprint::of([key.clone()]), &loaded)); // still so: reload
//! assert_eq!(Fingerprint::of([key.clone()]).changed(&loaded), vec![key]);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use aws_lc_rs::digest::{Context, SHA256};
use cfsign::key::PUBLIC_KEY_FILE;
use serde::Serialize;

use crate::admin::TOKEN_FILE;
use crate::config::CONFIG_FILE;
use crate::tls::{TLS_CERT_FILE, TLS_KEY_FILE};

/// How often the files are polled unless told otherwise.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// The most bytes of one file a [`Fingerprint`] reads: one more than the
/// largest file a reload loads (the configuration file, or a TLS certificate
/// chain or key file: 1 MiB, [`CONFIG_FILE`]), so a file at that bound and one
/// past it differ. A larger file is fingerprinted by its first bytes and its
/// size (its size is digested too): it cannot be loaded anyway.
pub const MAX_FINGERPRINTED_BYTES: u64 = largest_loaded_file() + 1;

/// The largest bound of the files [`ConfigSource::load`](crate::config::ConfigSource::load) reads.
const fn largest_loaded_file() -> u64 {
    let bounds = [
        CONFIG_FILE.max_bytes(),
        TLS_CERT_FILE.max_bytes(),
        TLS_KEY_FILE.max_bytes(),
        PUBLIC_KEY_FILE.max_bytes(),
        TOKEN_FILE.max_bytes(),
    ];
    let mut largest = 0;
    let mut i = 0;
    while i < bounds.len() {
        if bounds[i] > largest {
            largest = bounds[i];
        }
        i += 1;
    }
    largest as u64
}

/// What asked for a reload (for messages).
///
/// ```
/// use cfsign_edge::reload::Trigger;
///
/// assert_eq!(Trigger::Admin.to_string(), "POST /reload");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// SIGHUP.
    Signal,
    /// The admin listener's `POST /reload`.
    Admin,
    /// A change of the watched files.
    Watch,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Trigger::Signal => "SIGHUP",
            Trigger::Admin => "POST /reload",
            Trigger::Watch => "a change of the watched files",
        })
    }
}

/// What a successful reload changed; `POST /reload` answers it as JSON, with
/// `"reloaded": true`.
///
/// ```
/// use cfsign_edge::reload::Reloaded;
///
/// let done = Reloaded {
///     behaviors: 2,
///     changed: vec!["keys/b.pem".into()],
///     not_applied: vec!["listen".into()],
///     ..Reloaded::default()
/// };
/// let json = serde_json::to_value(&done)?;
/// assert_eq!(json["changed"][0], "keys/b.pem");
/// assert_eq!(json["not_applied"][0], "listen");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reloaded {
    /// How many behaviors now serve (the default one included).
    pub behaviors: usize,
    /// Whether a TLS certificate and key were read again and now serve.
    pub tls_certificate: bool,
    /// Whether an admin token was read again and is now required.
    pub admin_token: bool,
    /// The files whose contents differ from those the running configuration
    /// was read from (added, changed or gone), as paths.
    pub changed: Vec<String>,
    /// The settings the new configuration changes that only a restart applies
    /// (named as in the configuration file: `listen`, `admin_listen`,
    /// `listen_backlog`, `send_timeout`, `cache`, `access_log`,
    /// `access_log_file`); the running values stay until then. Everything else
    /// was applied.
    pub not_applied: Vec<String>,
}

/// Why a reload was not applied; the running configuration, keys and
/// certificate stay.
///
/// ```
/// use cfsign_edge::reload::ReloadError;
///
/// let err = ReloadError::Invalid("origins.media.root: cannot serve nope".into());
/// assert_eq!(err.to_string(), "origins.media.root: cannot serve nope");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The new configuration, a key or the certificate cannot be used (the
    /// message names it and the fix).
    #[error("{0}")]
    Invalid(String),
    /// The new configuration changes something only a restart applies (e.g.
    /// turning TLS on or off).
    #[error("{0}")]
    NeedsRestart(String),
}

/// The future a [`Reload`] returns.
pub type ReloadFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Reloaded, ReloadError>> + Send + 'a>>;

/// The one reload routine of a running edge: load the configuration, keys and
/// certificate again and put them in place, or keep the running ones and say
/// why. Implementations run one reload at a time (a second caller waits), count
/// it in [`Metrics::reloaded`](crate::observe::Metrics::reloaded), and report
/// it as their program reports things. Loading reads files (a FIFO may take
/// seconds): do it on a blocking thread (`tokio::task::spawn_blocking`), not on
/// the async workers that serve requests. Settings the running edge cannot
/// change (its listeners, for one) are named in [`Reloaded::not_applied`],
/// with the rest applied.
///
/// ```
/// use std::sync::Arc;
/// use cfsign_edge::reload::{Reload, ReloadError, ReloadFuture, Reloaded, Trigger};
///
/// struct Refuses;
/// impl Reload for Refuses {
///     fn reload(&self, trigger: Trigger) -> ReloadFuture<'_> {
///         Box::pin(async move { Err(ReloadError::Invalid(format!("{trigger}: nothing to load"))) })
///     }
/// }
/// let hook: Arc<dyn Reload> = Arc::new(Refuses);
/// # let _ = hook;
/// ```
pub trait Reload: Send + Sync {
    /// Reloads, for `trigger`.
    fn reload(&self, trigger: Trigger) -> ReloadFuture<'_>;
}

/// The contents of some files, as SHA-256 digests: what a reload would read.
/// A missing or unreadable file, or one that is not a regular file, counts as
/// absent (a FIFO is never opened: that could block). Symlinks are followed
/// (Kubernetes' `..data` layout). Each file's size and at most
/// [`MAX_FINGERPRINTED_BYTES`] of its contents are digested.
///
/// Reading is synchronous: from async code, take it on a blocking thread.
///
/// ```
/// use cfsign_edge::reload::Fingerprint;
///
/// let dir = tempfile::tempdir()?;
/// let (a, b) = (dir.path().join("a"), dir.path().join("b"));
/// std::fs::write(&a, "a")?;
/// let before = Fingerprint::of([a.clone(), b.clone()]);
/// std::fs::write(&b, "b")?;
/// let after = Fingerprint::of([a.clone(), b.clone()]);
/// assert_ne!(before, after);
/// assert_eq!(after.changed(&before), vec![b]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint(BTreeMap<PathBuf, Option<[u8; 32]>>);

impl Fingerprint {
    /// Reads `paths` and digests each (at most [`MAX_FINGERPRINTED_BYTES`] of each).
    pub fn of(paths: impl IntoIterator<Item = PathBuf>) -> Self {
        Self(
            paths
                .into_iter()
                .map(|path| {
                    let digest = digest_file(&path);
                    (path, digest)
                })
                .collect(),
        )
    }

    /// The files whose contents differ between `earlier` and this one (in
    /// either, absent from the other, or changed), in path order.
    #[must_use]
    pub fn changed(&self, earlier: &Fingerprint) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = (self.0.keys())
            .chain(earlier.0.keys())
            .filter(|p| self.0.get(*p) != earlier.0.get(*p))
            .cloned()
            .collect();
        paths.sort();
        paths.dedup();
        paths
    }

    /// The files it covers.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.0.keys().map(PathBuf::as_path)
    }
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> Option<std::fs::File> {
    // Elsewhere: no FIFOs that block an open; only what is a regular file now.
    std::fs::metadata(path)
        .ok()?
        .is_file()
        .then(|| std::fs::File::open(path).ok())?
}

fn digest_file(path: &Path) -> Option<[u8; 32]> {
    // Not a FIFO or a device: opening one could block, reading it never end, and
    // even opening and closing it disturbs its writer (who then feeds the real
    // reader nothing). So what is not a regular file now is not opened; the open
    // itself never blocks (O_NONBLOCK), and what was opened is checked on the
    // handle, for a path replaced by a FIFO between the two looks; the size comes
    // from that handle.
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let file = open_nonblocking(path)?;
    let metadata = file.metadata().ok()?;
    if !metadata.is_file() {
        return None;
    }
    let mut context = Context::new(&SHA256);
    context.update(&metadata.len().to_le_bytes());
    let mut contents = file.take(MAX_FINGERPRINTED_BYTES);
    let mut buffer = [0u8; 8192];
    loop {
        match contents.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => context.update(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    Some(out)
}

/// Decides, tick by tick, when watched files have changed and held still: a
/// change is applied when the same new contents are seen on two consecutive
/// ticks. Files caught half-written change again by the next tick, and are
/// waited for; contents that stay as they are (broken or not) are applied
/// once, and not again until they change (the caller records what it loaded,
/// whether the reload succeeded or not).
///
/// ```
/// use cfsign_edge::reload::{Debounce, Fingerprint};
///
/// let dir = tempfile::tempdir()?;
/// let f = dir.path().join("edge.toml");
/// std::fs::write(&f, "v1")?;
/// let loaded = Fingerprint::of([f.clone()]);
/// let mut d = Debounce::default();
/// std::fs::write(&f, "v2 half")?;
/// assert!(!d.settled(&Fingerprint::of([f.clone()]), &loaded));
/// std::fs::write(&f, "v2 whole")?; // still changing: wait again
/// assert!(!d.settled(&Fingerprint::of([f.clone()]), &loaded));
/// assert!(d.settled(&Fingerprint::of([f.clone()]), &loaded));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Debounce {
    pending: Option<Fingerprint>,
}

impl Debounce {
    /// Whether to reload now, given this tick's fingerprint and that of the
    /// files as last loaded (or attempted).
    pub fn settled(&mut self, now: &Fingerprint, loaded: &Fingerprint) -> bool {
        if now == loaded {
            self.pending = None;
            return false;
        }
        if self.pending.as_ref() == Some(now) {
            self.pending = None;
            return true;
        }
        self.pending = Some(now.clone());
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn fingerprints_follow_symlink_swaps_and_ignore_mtimes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Kubernetes: key.pem -> ..data/key.pem, ..data -> ..v1
        std::fs::create_dir(root.join("..v1")).unwrap();
        std::fs::write(root.join("..v1/key.pem"), "one").unwrap();
        std::os::unix::fs::symlink("..v1", root.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/key.pem", root.join("key.pem")).unwrap();
        let key = root.join("key.pem");
        let before = Fingerprint::of([key.clone()]);
        assert!(before.0[&key].is_some());

        std::fs::create_dir(root.join("..v2")).unwrap();
        std::fs::write(root.join("..v2/key.pem"), "two").unwrap();
        std::os::unix::fs::symlink("..v2", root.join("..tmp")).unwrap();
        std::fs::rename(root.join("..tmp"), root.join("..data")).unwrap();
        let after = Fingerprint::of([key.clone()]);
        assert_eq!(after.changed(&before), vec![key.clone()]);

        // the same contents again (a new mtime): no change
        std::fs::write(root.join("..v2/key.pem"), "two").unwrap();
        assert_eq!(Fingerprint::of([key.clone()]), after);

        // gone, or not a regular file: absent
        std::fs::remove_dir_all(root.join("..v2")).unwrap();
        let gone = Fingerprint::of([key.clone(), root.to_owned()]);
        assert_eq!(gone.0[&key], None);
        assert_eq!(gone.0[root], None);
        assert_eq!(gone.changed(&after), vec![root.to_owned(), key]);
    }

    #[test]
    fn a_large_file_counts_by_its_first_bytes_and_its_size() {
        assert_eq!(MAX_FINGERPRINTED_BYTES, CONFIG_FILE.max_bytes() as u64 + 1);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big");
        let bound = usize::try_from(MAX_FINGERPRINTED_BYTES).unwrap();
        std::fs::write(&f, vec![b'a'; bound + 10]).unwrap();
        let first = Fingerprint::of([f.clone()]);
        assert!(first.0[&f].is_some());
        // the same bytes as far as read, another size: changed
        std::fs::write(&f, vec![b'a'; bound + 20]).unwrap();
        let second = Fingerprint::of([f.clone()]);
        assert_eq!(second.changed(&first), vec![f.clone()]);
        // past the bytes read, at the same size: not seen (it cannot load anyway)
        let mut other = vec![b'a'; bound + 20];
        other[bound + 5] = b'b';
        std::fs::write(&f, other).unwrap();
        assert_eq!(Fingerprint::of([f.clone()]), second);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_absent_and_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("no mkfifo: not tried");
            return;
        }
        // opening it for reading would block here, with no writer
        let started = std::time::Instant::now();
        assert_eq!(Fingerprint::of([fifo.clone()]).0[&fifo], None);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn debounce_waits_for_contents_to_hold_still_and_applies_them_once() {
        let fp = |s: &str| {
            let mut map = BTreeMap::new();
            map.insert(PathBuf::from("f"), Some(digest_of(s)));
            Fingerprint(map)
        };
        let mut d = Debounce::default();
        let mut loaded = fp("v1");
        assert!(!d.settled(&fp("v1"), &loaded));
        assert!(!d.settled(&fp("half"), &loaded));
        assert!(!d.settled(&fp("v2"), &loaded));
        assert!(d.settled(&fp("v2"), &loaded));
        loaded = fp("v2");
        for _ in 0..3 {
            assert!(!d.settled(&fp("v2"), &loaded));
        }
        // a change that reverts within a tick is not applied
        assert!(!d.settled(&fp("v3"), &loaded));
        assert!(!d.settled(&fp("v2"), &loaded));
        assert!(!d.settled(&fp("v3"), &loaded));
        assert!(d.settled(&fp("v3"), &loaded));
    }

    fn digest_of(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(aws_lc_rs::digest::digest(&SHA256, s.as_bytes()).as_ref());
        out
    }
}
