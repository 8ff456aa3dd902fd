//! The edge's configuration: a TOML file, or a [`SimpleEdge`] (one folder, a few
//! values) that stands for the equivalent file, with [`ConfigOverrides`] (e.g.
//! from a command line) in place of some of its fields. Loading validates
//! everything (names, paths, keys) and builds the [`Behaviors`];
//! every error names the field ([`ConfigError`]).
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! # viewer URLs are built from this instead of http:// + Host (behind a load balancer)
//! public_base_url = "https://cdn.example.com"
//! trusted_proxies = ["10.0.0.0/8"]        # X-Forwarded-For is believed only from these
//! signature_cache = 100000                # verified signatures (and decoded policies) remembered (0: off)
//! admin_listen = "127.0.0.1:9901"         # GET /healthz and /metrics here (off unless set)
//! admin_token_file = "admin-token"        # bearer token for POST /reload and /invalidations (mode 0600)
//! access_log = "text"                     # "text" (default), "json" or "off"
//! access_log_file = "logs/access.log"     # appended to; default: standard output
//! send_timeout = 30                       # seconds a response may wait for the viewer to read (1-3600)
//! listen_backlog = 511                    # connections the kernel queues before accept (1-65535)
//!
//! [cache]                                 # the in-memory object cache (on by default)
//! max_bytes = 268_435_456                 # 256 MiB in all (0: no cache)
//! max_object_bytes = 8_388_608            # larger objects are streamed uncached
//! error_ttl = 10                          # seconds origin errors (404, 403, 502, 504) are cached
//!
//! [tls]                                   # optional: serve HTTPS (viewer_scheme then defaults to "https")
//! cert_file = "tls/fullchain.pem"         # PEM certificate chain, the server's certificate first
//! key_file = "tls/privkey.pem"            # PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC), unencrypted
//!
//! [key_groups.main]
//! keys = [{ id = "K2JCJMDEHXQW5F", public_key = "keys/public_key.pem" }]
//!
//! [origins.media]
//! type = "directory"
//! root = "./media"
//!
//! [origins.bucket]                        # an S3-compatible bucket
//! type = "s3"
//! bucket = "my-private-media"
//! prefix = "site/"                        # optional; also region, endpoint, allow_http, and profile
//!                                         # (credentials of ~/.aws/config, as for `cfsign aws`)
//!
//! [origins.app]                           # an HTTP application (a custom origin)
//! type = "http"
//! url = "http://127.0.0.1:3000/assets"
//! timeout_seconds = 30
//!
//! [[behaviors]]                           # tried in order
//! path_pattern = "/public/*"
//! origin = "media"
//! restricted = false
//! compress = true                         # CloudFront's "compress objects automatically" (default false)
//!
//! [[behaviors]]
//! path_pattern = "/streams/*"
//! origin = "media"
//! trusted_key_groups = ["main"]
//! sign_manifests = true                   # HLS/DASH: the viewer's signed URL travels to every child URI (default false)
//!
//! [default_behavior]                      # everything else
//! origin = "media"
//! trusted_key_groups = ["main"]           # restricted = true is the default
//! min_ttl = 0                             # seconds; CloudFront's defaults: 0,
//! default_ttl = 86400                     #   1 day when the origin sends no
//! max_ttl = 31536000                      #   Cache-Control/Expires, 1 year
//! ```
//!
//! Relative paths are resolved against the configuration file's folder (paths
//! in [`ConfigOverrides`] are used as given). `listen`, `listen_backlog`,
//! `send_timeout`, `admin_listen`, `[cache]`, the access-log settings and whether
//! TLS is on are read at start; a reload (SIGHUP, the admin listener's
//! `POST /reload`, or a change of the files seen by a watch: see
//! [`reload`](crate::reload)) replaces the keys and behaviors, the TLS
//! certificate and key (re-read from their files, for a renewed certificate)
//! and the admin token. [`ConfigSource::inputs`] lists the files a
//! configuration is read from, for a watch.
//!
//! Loading is one small builder per section, in this folder: `top` (the
//! top-level settings), `tls`, `cache`, `keys`, `origins` and `behaviors`; the
//! overrides are applied in one place, before them (`overrides`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cfsign::input::Limit;

use crate::admin::AdminToken;
use crate::behavior::Behaviors;
use crate::cache::CacheSettings;
use crate::observe::AccessLogFormat;
use crate::tls::TlsCertificate;

mod behaviors;
mod cache;
mod error;
mod file;
mod keys;
mod origins;
mod overrides;
mod simple;
mod tls;
mod top;

pub use error::{ConfigError, Field, Setting, SyntaxError};
pub use file::{BehaviorFile, CacheFile, ConfigFile, KeyFile, KeyGroupFile, OriginFile, TlsFile};
pub use overrides::ConfigOverrides;
pub use simple::SimpleEdge;

/// The default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The bound for the configuration file: a configuration with many behaviors and
/// key groups is a few KiB of TOML.
pub const CONFIG_FILE: Limit = Limit::new(
    "the configuration file",
    1 << 20,
    "an edge configuration is a few KiB of TOML: check that the path names the configuration file",
);

/// A loaded, validated configuration, overrides applied.
///
/// ```
/// use cfsign_edge::config::{ConfigOverrides, ConfigSource, SimpleEdge};
///
/// let dir = tempfile::tempdir()?;
/// let mut edge = SimpleEdge::new(dir.path());
/// edge.public = true;
/// let config = ConfigSource::Simple(edge).load(&ConfigOverrides::default())?;
/// assert_eq!(config.listen.to_string(), cfsign_edge::config::DEFAULT_LISTEN);
/// assert!(config.tls.is_none() && config.cache.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The listen backlog.
    pub listen_backlog: u32,
    /// How long a response may wait for the viewer to accept any data.
    pub send_timeout: std::time::Duration,
    /// The TLS certificate and key, read and checked; `None`: plain HTTP.
    pub tls: Option<TlsCertificate>,
    /// The behaviors, ready to serve.
    pub behaviors: Behaviors,
    /// Address of the admin listener, if any.
    pub admin_listen: Option<SocketAddr>,
    /// The admin listener's bearer token, read and checked; `None`: no token
    /// (`POST /reload` is refused, `POST /invalidations` is open).
    pub admin_token: Option<AdminToken>,
    /// The access-log format; `None` when off.
    pub access_log: Option<AccessLogFormat>,
    /// The access-log file (resolved); `None` for standard output.
    pub access_log_file: Option<PathBuf>,
    /// The object cache's bounds; `None` when the cache is off.
    pub cache: Option<CacheSettings>,
}

impl ConfigFile {
    /// Validates and builds the behaviors; relative paths are resolved against `base`.
    ///
    /// ```
    /// use cfsign_edge::config::ConfigFile;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let file: ConfigFile = toml::from_str(
    ///     "[origins.m]\ntype = \"directory\"\nroot = \".\"\n[default_behavior]\norigin = \"m\"\nrestricted = false\n",
    /// )?;
    /// assert_eq!(file.load(dir.path())?.behaviors.iter().count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(&self, base: &Path) -> Result<EdgeConfig, ConfigError> {
        self.load_with(base, &ConfigOverrides::default())
    }

    /// [`ConfigFile::load`] with `overrides` in place of the file's fields.
    ///
    /// ```
    /// use cfsign_edge::config::{ConfigError, ConfigFile, ConfigOverrides, Field, Setting};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let file: ConfigFile = toml::from_str(
    ///     "listen_backlog = 64\n[origins.m]\ntype = \"directory\"\nroot = \".\"\n\
    ///      [default_behavior]\norigin = \"m\"\nrestricted = false\n",
    /// )?;
    /// let overrides = ConfigOverrides { listen_backlog: Some(0), ..ConfigOverrides::default() };
    /// let err = file.load_with(dir.path(), &overrides).unwrap_err();
    /// assert!(matches!(err, ConfigError::OutOfRange { field: Field::Override(Setting::ListenBacklog), .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_with(
        &self,
        base: &Path,
        overrides: &ConfigOverrides,
    ) -> Result<EdgeConfig, ConfigError> {
        let settings = overrides::Settings::new(self, overrides, base);
        let listening = top::listening(&settings)?;
        let tls = tls::certificate(settings.tls.as_ref())?;
        let viewers = top::viewers(&settings, tls.is_some())?;
        let cache = cache::settings(&settings.cache)?;
        let admin_token = top::admin_token(&settings)?;
        let key_groups = keys::key_groups(&self.key_groups, base)?;
        let origins = origins::origins(&self.origins, base)?;
        let context = behaviors::Context {
            origins: &origins,
            key_groups: &key_groups,
            viewers: &viewers,
        };
        let behaviors = behaviors::behaviors(&self.behaviors, &self.default_behavior, &context)?;
        Ok(EdgeConfig {
            listen: listening.listen,
            listen_backlog: listening.listen_backlog,
            send_timeout: listening.send_timeout,
            tls,
            behaviors,
            admin_listen: listening.admin_listen,
            admin_token,
            access_log: listening.access_log,
            access_log_file: listening.access_log_file,
            cache,
        })
    }
}

/// Where the configuration comes from; [`ConfigSource::load`] reads it again
/// each time (a reload).
///
/// ```no_run
/// use cfsign_edge::config::{ConfigOverrides, ConfigSource};
///
/// let source = ConfigSource::File("/etc/cfsign/edge.toml".into());
/// let config = source.load(&ConfigOverrides::default())?;
/// println!("{} behavior(s)", config.behaviors.iter().count());
/// # Ok::<(), cfsign_edge::config::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// A TOML file; its relative paths start at its folder.
    File(PathBuf),
    /// A simple edge; its relative paths start at the current folder.
    Simple(SimpleEdge),
}

impl ConfigSource {
    /// Reads (for a file) and validates, with `overrides` applied; keys, origins
    /// and the TLS certificate are loaded afresh.
    ///
    /// ```
    /// use cfsign_edge::config::{ConfigOverrides, ConfigSource};
    ///
    /// let dir = tempfile::tempdir()?;
    /// std::fs::create_dir(dir.path().join("media"))?;
    /// let path = dir.path().join("edge.toml");
    /// std::fs::write(&path, "[origins.m]\ntype = \"directory\"\nroot = \"media\"\n[default_behavior]\norigin = \"m\"\nrestricted = false\n")?;
    /// let config = ConfigSource::File(path).load(&ConfigOverrides::default())?;
    /// assert_eq!(config.behaviors.select("/a").origin_name, "m");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(&self, overrides: &ConfigOverrides) -> Result<EdgeConfig, ConfigError> {
        match self {
            ConfigSource::File(path) => {
                let base = path.parent().unwrap_or(Path::new("."));
                ConfigFile::read(path)?.load_with(base, overrides)
            }
            // "" rather than ".": messages show `media`, not `./media`
            ConfigSource::Simple(edge) => edge.config_file().load_with(Path::new(""), overrides),
        }
    }

    /// The files [`load`](Self::load) reads as of now, for a watch that reloads
    /// when they change: the configuration file, and the public keys, TLS
    /// certificate and key and admin token file it names (with `overrides`
    /// applied; relative paths resolved as `load` resolves them). Origins'
    /// contents are not configuration and are not listed. A configuration file
    /// that cannot be read or parsed, or is not a regular file (a pipe the load
    /// has read), is listed alone.
    ///
    /// ```
    /// use std::path::PathBuf;
    /// use cfsign_edge::config::{ConfigOverrides, ConfigSource};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("edge.toml");
    /// std::fs::write(&path, "[key_groups.main]\nkeys = [{ id = \"K2JCJMDEHXQW5F\", public_key = \"keys/a.pem\" }]\n\
    ///     [origins.m]\ntype = \"directory\"\nroot = \"media\"\n\
    ///     [default_behavior]\norigin = \"m\"\ntrusted_key_groups = [\"main\"]\n")?;
    /// let inputs = ConfigSource::File(path.clone()).inputs(&ConfigOverrides::default());
    /// assert_eq!(inputs, vec![path, dir.path().join("keys/a.pem")]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn inputs(&self, overrides: &ConfigOverrides) -> Vec<PathBuf> {
        match self {
            ConfigSource::File(path) => {
                let base = path.parent().unwrap_or(Path::new("."));
                let mut files = vec![path.clone()];
                // Read again only a regular file: a pipe or FIFO was read by the load, and a
                // second read would consume another writer's content or wait for one.
                let regular = std::fs::metadata(path).is_ok_and(|m| m.is_file());
                if let Some(file) = regular.then(|| ConfigFile::read(path).ok()).flatten() {
                    files.extend(file.inputs(base, overrides));
                }
                files
            }
            ConfigSource::Simple(edge) => edge.config_file().inputs(Path::new(""), overrides),
        }
    }
}

impl ConfigFile {
    /// The files [`load_with`](Self::load_with) reads besides this one: the
    /// public keys, the TLS certificate and key, and the admin token file.
    ///
    /// ```
    /// use std::path::Path;
    /// use cfsign_edge::config::{ConfigFile, ConfigOverrides};
    ///
    /// let file: ConfigFile = toml::from_str(
    ///     "admin_token_file = \"token\"\n[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n\
    ///      [origins.m]\ntype = \"directory\"\nroot = \".\"\n[default_behavior]\norigin = \"m\"\nrestricted = false\n",
    /// )?;
    /// let inputs = file.inputs(Path::new("/etc/cfsign"), &ConfigOverrides::default());
    /// assert_eq!(inputs, ["/etc/cfsign/c.pem", "/etc/cfsign/k.pem", "/etc/cfsign/token"].map(std::path::PathBuf::from));
    /// # Ok::<(), toml::de::Error>(())
    /// ```
    #[must_use]
    pub fn inputs(&self, base: &Path, overrides: &ConfigOverrides) -> Vec<PathBuf> {
        let settings = overrides::Settings::new(self, overrides, base);
        let keys = (self.key_groups.values())
            .flat_map(|group| &group.keys)
            .map(|key| base.join(&key.public_key));
        let mut files: Vec<PathBuf> = Vec::new();
        files.extend(keys);
        if let Some(tls) = &settings.tls {
            files.push(tls.cert_file.value.clone());
            files.push(tls.key_file.value.clone());
        }
        if let Some(token) = &settings.admin_token_file {
            files.push(token.value.clone());
        }
        files
    }
}

#[cfg(test)]
mod tests;
