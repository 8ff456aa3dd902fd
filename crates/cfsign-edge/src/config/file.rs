//! The configuration as written: the TOML file's sections, deserialized but not
//! yet checked (see [`ConfigFile::load`](super::ConfigFile::load)).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{CONFIG_FILE, ConfigError, SyntaxError};

/// The configuration file as written (unknown fields are refused).
///
/// ```
/// use cfsign_edge::config::ConfigFile;
///
/// let file: ConfigFile = toml::from_str(
///     "[origins.media]\ntype = \"directory\"\nroot = \"media\"\n\
///      [default_behavior]\norigin = \"media\"\nrestricted = false\n",
/// )?;
/// assert_eq!(file.default_behavior.origin, "media");
/// assert!(toml::from_str::<ConfigFile>("colour = \"blue\"").is_err());
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// Scheme viewers use when no `public_base_url` is set: `http` (default) or
    /// `https` (the default with `[tls]`, where `http` is refused).
    pub viewer_scheme: Option<String>,
    /// Base of viewer URLs (scheme and host) when behind a load balancer.
    pub public_base_url: Option<String>,
    /// Serve HTTPS with this certificate and key (plain HTTP unless set).
    pub tls: Option<TlsFile>,
    /// Peers whose `X-Forwarded-For` is believed (addresses or CIDR ranges).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Verified signatures remembered per behavior (0 disables the cache).
    pub signature_cache: Option<usize>,
    /// Address of the admin listener (`/healthz`, `/metrics`); none unless set.
    pub admin_listen: Option<SocketAddr>,
    /// A file holding the bearer token the admin listener requires for
    /// `POST /reload` and `POST /invalidations` (see [`AdminToken`](crate::admin::AdminToken));
    /// it needs `admin_listen` (refused without one).
    pub admin_token_file: Option<PathBuf>,
    /// Access-log format: `text` (the default), `json` or `off`.
    pub access_log: Option<String>,
    /// File the access log is appended to (default: standard output).
    pub access_log_file: Option<PathBuf>,
    /// Seconds a response may wait for the viewer to accept any data before the
    /// connection is closed (default 30; see [`Limits::send_timeout`](crate::server::Limits::send_timeout)).
    pub send_timeout: Option<u64>,
    /// Connections the kernel queues for the edge before it accepts them
    /// (default 511; see [`server::bind`](crate::server::bind)).
    pub listen_backlog: Option<u64>,
    /// The object cache (defaults when absent).
    pub cache: Option<CacheFile>,
    /// Named key groups.
    #[serde(default)]
    pub key_groups: BTreeMap<String, KeyGroupFile>,
    /// Named origins.
    pub origins: BTreeMap<String, OriginFile>,
    /// Ordered behaviors.
    #[serde(default)]
    pub behaviors: Vec<BehaviorFile>,
    /// The behavior for everything else (its pattern is `*`).
    pub default_behavior: BehaviorFile,
}

impl ConfigFile {
    /// Reads and parses a TOML file of at most [`CONFIG_FILE`] (not yet
    /// validated: see [`ConfigFile::load`]).
    ///
    /// ```
    /// use cfsign_edge::config::{ConfigError, ConfigFile};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("edge.toml");
    /// std::fs::write(&path, "[origins.m]\ntype = \"directory\"\nroot = \".\"\n[default_behavior]\norigin = \"m\"\nrestricted = false\n")?;
    /// assert_eq!(ConfigFile::read(&path)?.origins.len(), 1);
    ///
    /// std::fs::write(&path, "[default_behavior]\norigin = \"m\"\ncolour = \"blue\"\n")?;
    /// let err = ConfigFile::read(&path).unwrap_err();
    /// assert!(matches!(&err, ConfigError::Syntax(e) if e.line == Some(3)), "{err}");
    /// assert!(err.to_string().contains("unknown field `colour`"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = CONFIG_FILE
            .read_file_to_string(path)
            .map_err(ConfigError::Read)?;
        toml::from_str(&text).map_err(|source: toml::de::Error| {
            let (line, column) = source
                .span()
                .map_or((None, None), |span| line_and_column(&text, span.start));
            ConfigError::Syntax(Box::new(SyntaxError {
                path: path.to_owned(),
                line,
                column,
                source,
            }))
        })
    }
}

/// The 1-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (Option<usize>, Option<usize>) {
    let Some(before) = text.get(..offset) else {
        return (None, None);
    };
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[start..].chars().count() + 1;
    (Some(line), Some(column))
}

/// The `[cache]` section: the object cache's bounds (see
/// [`CacheSettings`](crate::cache::CacheSettings) for the defaults).
///
/// ```
/// use cfsign_edge::config::CacheFile;
///
/// let cache: CacheFile = toml::from_str("max_bytes = 0")?;
/// assert_eq!(cache.max_bytes, Some(0));
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheFile {
    /// Bytes cached in all; 0 turns the cache off.
    pub max_bytes: Option<u64>,
    /// Objects larger than this are streamed through uncached.
    pub max_object_bytes: Option<u64>,
    /// Seconds origin errors are cached.
    pub error_ttl: Option<u64>,
}

/// The `[tls]` section: the certificate and key files.
///
/// ```
/// use cfsign_edge::config::TlsFile;
///
/// let tls: TlsFile = toml::from_str("cert_file = \"fullchain.pem\"\nkey_file = \"privkey.pem\"")?;
/// assert_eq!(tls.key_file.to_str(), Some("privkey.pem"));
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    /// The PEM certificate chain, the server's certificate first.
    pub cert_file: PathBuf,
    /// The PEM private key of that certificate (PKCS#8, PKCS#1 RSA or SEC1 EC; unencrypted).
    pub key_file: PathBuf,
}

/// A key group (`[key_groups.NAME]`): public keys by key-pair ID.
///
/// ```
/// use cfsign_edge::config::KeyGroupFile;
///
/// let group: KeyGroupFile =
///     toml::from_str("keys = [{ id = \"K2JCJMDEHXQW5F\", public_key = \"keys/public_key.pem\" }]")?;
/// assert_eq!(group.keys[0].id, "K2JCJMDEHXQW5F");
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyGroupFile {
    /// The keys.
    pub keys: Vec<KeyFile>,
}

/// One trusted public key.
///
/// ```
/// use cfsign_edge::config::KeyFile;
///
/// let key = KeyFile { id: "K2JCJMDEHXQW5F".into(), public_key: "public_key.pem".into() };
/// assert_eq!(key.public_key.to_str(), Some("public_key.pem"));
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// The key-pair ID viewers' URLs carry.
    pub id: String,
    /// The public key file (SPKI PEM, as uploaded to CloudFront).
    pub public_key: PathBuf,
}

/// An origin (`[origins.NAME]`, told apart by its `type`).
///
/// ```
/// use cfsign_edge::config::OriginFile;
///
/// let origin: OriginFile = toml::from_str("type = \"http\"\nurl = \"http://127.0.0.1:3000\"")?;
/// assert!(matches!(origin, OriginFile::Http { timeout_seconds: None, .. }));
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum OriginFile {
    /// Files under a folder.
    Directory {
        /// The folder.
        root: PathBuf,
    },
    /// An S3-compatible bucket. With the `aws-chain` feature (the `cfsign` binary
    /// has it), credentials come from the AWS SDK's default chain, as for
    /// `cfsign aws`: the environment (`AWS_ACCESS_KEY_ID`, ...), then the profile
    /// (`profile`, else `AWS_PROFILE`, else `default`) of `~/.aws/config` with its
    /// `credential_process`, SSO, `aws login` session or role, then web identity,
    /// ECS, instance metadata; the region too, when not set. Without it, from the
    /// environment, web identity or instance metadata, as object_store's S3 client
    /// reads them (no profiles).
    S3 {
        /// The bucket.
        bucket: String,
        /// A key prefix (a "folder") under which objects are looked up.
        prefix: Option<String>,
        /// The region (default from the environment, else `us-east-1`).
        region: Option<String>,
        /// A custom endpoint (an S3-compatible server).
        endpoint: Option<String>,
        /// Allow a plain-http endpoint (for a server on a private network or loopback).
        #[serde(default)]
        allow_http: bool,
        /// The profile of `~/.aws/config` the credentials come from (default:
        /// `AWS_PROFILE`, else `default`); needs the `aws-chain` feature.
        profile: Option<String>,
    },
    /// An HTTP server (a custom origin, e.g. an application).
    Http {
        /// The base URL, `http://host:port/path`.
        url: String,
        /// Seconds to wait for the response head (default 30).
        timeout_seconds: Option<u64>,
    },
}

/// A behavior (`[[behaviors]]` or `[default_behavior]`).
///
/// ```
/// use cfsign_edge::config::BehaviorFile;
///
/// let b: BehaviorFile = toml::from_str("path_pattern = \"/public/*\"\norigin = \"media\"\nrestricted = false")?;
/// assert!(!b.restricted && !b.compress, "compress is off unless set");
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviorFile {
    /// Path pattern (not allowed on the default behavior).
    pub path_pattern: Option<String>,
    /// The origin's name.
    pub origin: String,
    /// Whether signed URLs or cookies are required (default: true).
    #[serde(default = "yes")]
    pub restricted: bool,
    /// Key groups whose keys are trusted (required when restricted).
    #[serde(default)]
    pub trusted_key_groups: Vec<String>,
    /// Seconds an object stays cached at least (default 0).
    pub min_ttl: Option<u64>,
    /// Seconds an object stays cached when the origin sends no
    /// `Cache-Control` max-age or `Expires` (default 86,400).
    pub default_ttl: Option<u64>,
    /// Seconds an object stays cached at most (default 31,536,000).
    pub max_ttl: Option<u64>,
    /// Compress objects for viewers that accept it, as CloudFront's "compress
    /// objects automatically" (default false; see [`Behavior::compress`](crate::behavior::Behavior::compress)).
    #[serde(default)]
    pub compress: bool,
    /// Stamp a viewer's signed-URL credentials on the child URIs of the HLS and
    /// DASH manifests it fetches (default false; restricted behaviors only; see
    /// [`Behavior::sign_manifests`](crate::behavior::Behavior::sign_manifests)).
    #[serde(default)]
    pub sign_manifests: bool,
}

fn yes() -> bool {
    true
}
