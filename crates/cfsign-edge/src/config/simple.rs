//! The simple edge: one folder behind one default behavior, described by a few
//! values instead of a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{BehaviorFile, ConfigFile, KeyFile, KeyGroupFile, OriginFile};

/// An edge that serves one folder: everything is restricted to URLs and cookies
/// signed with one of `keys`, or (with `public`) served without signatures.
/// [`SimpleEdge::config_file`] is the equivalent configuration file, so it loads,
/// takes [`ConfigOverrides`](super::ConfigOverrides) and reports errors as a file
/// does: its origin is named [`SimpleEdge::ORIGIN`] (errors about the folder name
/// `origins.root.root`), its key group [`SimpleEdge::KEY_GROUP`] (errors about a
/// key name `key_groups.keys.keys[i].id` or `.public_key`), its behavior
/// `default_behavior`. Relative paths are resolved against the folder given to
/// [`ConfigFile::load`] (the current one for [`ConfigSource::Simple`](super::ConfigSource::Simple)).
///
/// ```
/// use cfsign_edge::config::SimpleEdge;
///
/// let dir = tempfile::tempdir()?;
/// let mut edge = SimpleEdge::new(dir.path());
/// edge.public = true;
/// edge.default_ttl = Some(0);
/// let config = edge.config_file().load(dir.path())?;
/// let behavior = config.behaviors.select("/any/path");
/// assert!(behavior.access.is_none());
/// assert_eq!(behavior.ttl.default_ttl().as_secs(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SimpleEdge {
    /// The folder served.
    pub root: PathBuf,
    /// The trusted public keys (one key group).
    pub keys: Vec<KeyFile>,
    /// Serve without signatures (then `keys` must be empty).
    pub public: bool,
    /// Seconds an object stays cached when the origin says nothing (default 86,400).
    pub default_ttl: Option<u64>,
    /// Stamp viewers' signed-URL credentials on the URIs of the HLS and DASH
    /// manifests they fetch (`sign_manifests`).
    pub sign_manifests: bool,
}

impl SimpleEdge {
    /// The origin's name in the equivalent file.
    pub const ORIGIN: &str = "root";
    /// The key group's name in the equivalent file.
    pub const KEY_GROUP: &str = "keys";

    /// Serves `root`, restricted, with no key yet (add some to `keys`, or set `public`).
    ///
    /// ```
    /// use cfsign_edge::config::{KeyFile, SimpleEdge};
    ///
    /// let mut edge = SimpleEdge::new("./media");
    /// edge.keys.push(KeyFile { id: "K2JCJMDEHXQW5F".into(), public_key: "public_key.pem".into() });
    /// assert!(!edge.public);
    /// ```
    pub fn new(root: impl AsRef<Path>) -> Self {
        Self {
            root: root.as_ref().to_owned(),
            keys: Vec::new(),
            public: false,
            default_ttl: None,
            sign_manifests: false,
        }
    }

    /// The equivalent configuration file: the origin [`SimpleEdge::ORIGIN`], the
    /// key group [`SimpleEdge::KEY_GROUP`] (when there are keys), and a default
    /// behavior that trusts it (restricted unless `public`). Every other setting
    /// is left to its default, or to [`ConfigOverrides`](super::ConfigOverrides).
    ///
    /// ```
    /// use cfsign_edge::config::{KeyFile, SimpleEdge};
    ///
    /// let mut edge = SimpleEdge::new("./media");
    /// edge.keys.push(KeyFile { id: "K2JCJMDEHXQW5F".into(), public_key: "public_key.pem".into() });
    /// let file = edge.config_file();
    /// assert_eq!(file.default_behavior.origin, SimpleEdge::ORIGIN);
    /// assert_eq!(file.default_behavior.trusted_key_groups, [SimpleEdge::KEY_GROUP]);
    /// assert!(file.default_behavior.restricted && file.behaviors.is_empty());
    /// ```
    #[must_use]
    pub fn config_file(&self) -> ConfigFile {
        let mut key_groups = BTreeMap::new();
        if !self.keys.is_empty() {
            key_groups.insert(
                Self::KEY_GROUP.to_owned(),
                KeyGroupFile {
                    keys: self.keys.clone(),
                },
            );
        }
        ConfigFile {
            listen: None,
            viewer_scheme: None,
            public_base_url: None,
            tls: None,
            trusted_proxies: Vec::new(),
            signature_cache: None,
            admin_listen: None,
            admin_token_file: None,
            access_log: None,
            access_log_file: None,
            send_timeout: None,
            listen_backlog: None,
            cache: None,
            origins: BTreeMap::from([(
                Self::ORIGIN.to_owned(),
                OriginFile::Directory {
                    root: self.root.clone(),
                },
            )]),
            behaviors: Vec::new(),
            default_behavior: BehaviorFile {
                path_pattern: None,
                origin: Self::ORIGIN.to_owned(),
                restricted: !self.public,
                trusted_key_groups: key_groups.keys().cloned().collect(),
                min_ttl: None,
                default_ttl: self.default_ttl,
                max_ttl: None,
                compress: false,
                sign_manifests: self.sign_manifests,
            },
            key_groups,
        }
    }
}
