//! The edge's configuration: a TOML file, or the same structure built from
//! command-line flags for the simple case. Loading validates everything (names,
//! paths, keys) and builds the [`Behaviors`]; every error names the field.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! # viewer URLs are built from this instead of http:// + Host (behind a load balancer)
//! public_base_url = "https://cdn.example.com"
//! trusted_proxies = ["10.0.0.0/8"]        # X-Forwarded-For is believed only from these
//! signature_cache = 100000                # verified signatures remembered (0: off)
//! admin_listen = "127.0.0.1:9901"         # GET /healthz and /metrics here (off unless set)
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
//! prefix = "site/"                        # optional; also region, endpoint, allow_http
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
//! [default_behavior]                      # everything else
//! origin = "media"
//! trusted_key_groups = ["main"]           # restricted = true is the default
//! min_ttl = 0                             # seconds; CloudFront's defaults: 0,
//! default_ttl = 86400                     #   1 day when the origin sends no
//! max_ttl = 31536000                      #   Cache-Control/Expires, 1 year
//! ```
//!
//! Relative paths are resolved against the configuration file's folder.
//! `listen`, `listen_backlog`, `send_timeout`, `admin_listen`, `[cache]`, the
//! access-log settings and whether TLS is on are read at start; a reload
//! (SIGHUP) replaces the keys and behaviors, and the TLS certificate and key
//! (re-read from their files, for a renewed certificate).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cfsign::input::{InputError, Limit};
use cfsign::verify::{KeyGroup, Verifier};
use cfsign::{KeyPairId, PublicKey};
use serde::Deserialize;

use crate::access::{AccessConfig, Scheme, SharedVerifier};
use crate::behavior::{Behavior, Behaviors, PathPattern};
use crate::cache::{CacheSettings, TtlPolicy};
use crate::observe::AccessLogFormat;
use crate::origin::{DirectoryOrigin, HttpOrigin, Origin, S3Origin};
use crate::tls::{TlsCertificate, TlsError};

/// The default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The bound for the configuration file: a configuration with many behaviors and
/// key groups is a few KiB of TOML.
pub const CONFIG_FILE: Limit = Limit::new(
    "the configuration file",
    1 << 20,
    "an edge configuration is a few KiB of TOML: check that the path names the configuration file",
);

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read, or is larger than [`CONFIG_FILE`] allows.
    #[error(transparent)]
    Read(InputError),
    /// Not valid TOML, or an unknown or mistyped field.
    #[error("{}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A value that does not make sense; the message names the field and the fix.
    #[error("{0}")]
    Invalid(String),
    /// The `[tls]` certificate or key cannot be used; the message names the field,
    /// the file and the fix.
    #[error("tls.{field}: {0}", field = .0.field())]
    Tls(TlsError),
}

/// The configuration as written (TOML or flags).
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

/// The object cache's bounds (see [`CacheSettings`] for the defaults).
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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    /// The PEM certificate chain, the server's certificate first.
    pub cert_file: PathBuf,
    /// The PEM private key of that certificate (PKCS#8, PKCS#1 RSA or SEC1 EC; unencrypted).
    pub key_file: PathBuf,
}

/// A key group: public keys by key-pair ID.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyGroupFile {
    /// The keys.
    pub keys: Vec<KeyFile>,
}

/// One trusted public key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// The key-pair ID viewers' URLs carry.
    pub id: String,
    /// The public key file (SPKI PEM, as uploaded to CloudFront).
    pub public_key: PathBuf,
}

/// An origin.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum OriginFile {
    /// Files under a folder.
    Directory {
        /// The folder.
        root: PathBuf,
    },
    /// An S3-compatible bucket. Credentials come from the environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, web identity,
    /// instance metadata), as object_store's S3 client reads them.
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
    },
    /// An HTTP server (a custom origin, e.g. an application).
    Http {
        /// The base URL, `http://host:port/path`.
        url: String,
        /// Seconds to wait for the response head (default 30).
        timeout_seconds: Option<u64>,
    },
}

/// A behavior.
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
    /// objects automatically" (default false; see [`Behavior::compress`]).
    #[serde(default)]
    pub compress: bool,
}

fn yes() -> bool {
    true
}

/// A loaded, validated configuration.
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
    /// The access-log format; `None` when off.
    pub access_log: Option<AccessLogFormat>,
    /// The access-log file (resolved); `None` for standard output.
    pub access_log_file: Option<PathBuf>,
    /// The object cache's bounds; `None` when the cache is off.
    pub cache: Option<CacheSettings>,
}

impl ConfigFile {
    /// Reads and parses a TOML file of at most [`CONFIG_FILE`] (not yet
    /// validated: see [`ConfigFile::load`]).
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = CONFIG_FILE
            .read_file_to_string(path)
            .map_err(ConfigError::Read)?;
        toml::from_str(&text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Validates and builds the behaviors; relative paths are resolved against `base`.
    pub fn load(&self, base: &Path) -> Result<EdgeConfig, ConfigError> {
        let invalid = |m: String| ConfigError::Invalid(m);
        let listen = match self.listen {
            Some(a) => a,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|_| invalid("internal: default listen address".to_owned()))?,
        };
        let scheme = match (self.viewer_scheme.as_deref(), self.tls.is_some()) {
            (None, true) | (Some("https"), _) => Scheme::Https,
            (None, false) | (Some("http"), false) => Scheme::Http,
            (Some("http"), true) => {
                return Err(invalid(
                    "viewer_scheme: \"http\" contradicts [tls]: viewers of a TLS edge use https; \
                     remove viewer_scheme (with [tls] it is \"https\"), or set public_base_url if \
                     viewers really reach the edge through plain http"
                        .to_owned(),
                ));
            }
            (Some(other), _) => {
                return Err(invalid(format!(
                    "viewer_scheme: {other:?} is not \"http\" or \"https\""
                )));
            }
        };
        let tls = match &self.tls {
            Some(t) => Some(
                TlsCertificate::load(&base.join(&t.cert_file), &base.join(&t.key_file))
                    .map_err(ConfigError::Tls)?,
            ),
            None => None,
        };
        let send_timeout = match self.send_timeout {
            Some(s) => crate::server::send_timeout(s).map_err(|e| {
                invalid(format!(
                    "send_timeout: {e} (seconds a response may wait for the viewer to read)"
                ))
            })?,
            None => crate::server::DEFAULT_SEND_TIMEOUT,
        };
        let listen_backlog = match self.listen_backlog {
            Some(n) => crate::server::listen_backlog(n).map_err(|e| {
                invalid(format!(
                    "listen_backlog: {e} (connections the kernel queues before the edge accepts them)"
                ))
            })?,
            None => crate::server::DEFAULT_LISTEN_BACKLOG,
        };
        let access_log = match self.access_log.as_deref() {
            None => Some(AccessLogFormat::Text),
            Some("off") => None,
            Some(other) => Some(
                other
                    .parse::<AccessLogFormat>()
                    .map_err(|e| invalid(format!("access_log: {e} (or \"off\")")))?,
            ),
        };
        if let Some(b) = &self.public_base_url {
            let ok = (b.starts_with("http://") || b.starts_with("https://"))
                && b.trim_end_matches('/').matches('/').count() == 2;
            if !ok {
                return Err(invalid(format!(
                    "public_base_url: {b:?} must be a scheme and host only, e.g. \"https://cdn.example.com\""
                )));
            }
        }
        let proxies = self
            .trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, p)| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        invalid(format!(
                            "trusted_proxies[{i}]: {p:?} is not an IP address or CIDR range"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut groups: BTreeMap<&str, KeyGroup> = BTreeMap::new();
        for (name, group) in &self.key_groups {
            if group.keys.is_empty() {
                return Err(invalid(format!(
                    "key_groups.{name}: a key group needs at least one key"
                )));
            }
            let mut built = KeyGroup::new(name.clone());
            for (i, key) in group.keys.iter().enumerate() {
                let field = format!("key_groups.{name}.keys[{i}]");
                let id =
                    KeyPairId::new(&key.id).map_err(|e| invalid(format!("{field}.id: {e}")))?;
                let path = base.join(&key.public_key);
                let public = PublicKey::from_file(&path)
                    .map_err(|e| invalid(format!("{field}.public_key: {e}")))?;
                built = built.with_key(id, public);
            }
            groups.insert(name, built);
        }
        let mut origins: BTreeMap<&str, Arc<dyn Origin>> = BTreeMap::new();
        for (name, origin) in &self.origins {
            let built: Arc<dyn Origin> = match origin {
                OriginFile::Directory { root } => {
                    let root = base.join(root);
                    Arc::new(DirectoryOrigin::new(&root).map_err(|e| {
                        invalid(format!("origins.{name}.root: {}: {e}", root.display()))
                    })?)
                }
                OriginFile::S3 {
                    bucket,
                    prefix,
                    region,
                    endpoint,
                    allow_http,
                } => {
                    let mut builder = S3Origin::builder(bucket.clone()).allow_http(*allow_http);
                    if let Some(p) = prefix {
                        builder = builder.prefix(p.clone());
                    }
                    if let Some(r) = region {
                        builder = builder.region(r.clone());
                    }
                    if let Some(e) = endpoint {
                        builder = builder.endpoint(e.clone());
                    }
                    Arc::new(
                        builder
                            .build()
                            .map_err(|e| invalid(format!("origins.{name}: {e}")))?,
                    )
                }
                OriginFile::Http {
                    url,
                    timeout_seconds,
                } => {
                    let timeout =
                        std::time::Duration::from_secs(timeout_seconds.unwrap_or(30).max(1));
                    Arc::new(
                        HttpOrigin::new(url, timeout)
                            .map_err(|e| invalid(format!("origins.{name}.url: {e}")))?,
                    )
                }
            };
            origins.insert(name, built);
        }
        let cache = self.signature_cache.unwrap_or(100_000);
        let build = |field: &str,
                     b: &BehaviorFile,
                     pattern: PathPattern|
         -> Result<Behavior, ConfigError> {
            let origin = origins.get(b.origin.as_str()).cloned().ok_or_else(|| {
                invalid(format!(
                    "{field}.origin: no origin named {:?}; defined: {}",
                    b.origin,
                    names(origins.keys().copied())
                ))
            })?;
            let access = if b.restricted {
                if b.trusted_key_groups.is_empty() {
                    return Err(invalid(format!(
                        "{field}: a restricted behavior needs trusted_key_groups (or set restricted = false to serve without signatures)"
                    )));
                }
                let mut verifier = Verifier::new().with_signature_cache(cache);
                for g in &b.trusted_key_groups {
                    let group = groups.get(g.as_str()).ok_or_else(|| {
                        invalid(format!(
                            "{field}.trusted_key_groups: no key group named {g:?}; defined: {}",
                            names(groups.keys().copied())
                        ))
                    })?;
                    verifier = verifier.with_key_group(group.clone());
                }
                let mut config = AccessConfig::new(SharedVerifier::new(verifier), scheme)
                    .trusted_proxies(proxies.clone());
                if let Some(base_url) = &self.public_base_url {
                    config = config.public_base_url(base_url.clone());
                }
                Some(config)
            } else {
                if !b.trusted_key_groups.is_empty() {
                    return Err(invalid(format!(
                        "{field}: trusted_key_groups is set but restricted = false; remove one of them"
                    )));
                }
                None
            };
            let defaults = TtlPolicy::default();
            let ttl = TtlPolicy::new(
                b.min_ttl.unwrap_or(defaults.min().as_secs()),
                b.default_ttl.unwrap_or(defaults.default_ttl().as_secs()),
                b.max_ttl.unwrap_or(defaults.max().as_secs()),
            )
            .map_err(|e| invalid(format!("{field}: {e}")))?;
            Ok(Behavior {
                pattern,
                origin,
                origin_name: b.origin.clone(),
                access,
                ttl,
                compress: b.compress,
            })
        };
        let mut ordered = Vec::with_capacity(self.behaviors.len());
        for (i, b) in self.behaviors.iter().enumerate() {
            let field = format!("behaviors[{i}]");
            let text = b
                .path_pattern
                .as_deref()
                .ok_or_else(|| invalid(format!("{field}.path_pattern is required")))?;
            let pattern = PathPattern::new(text)
                .map_err(|e| invalid(format!("{field}.path_pattern: {e}")))?;
            ordered.push(build(&field, b, pattern)?);
        }
        if self.default_behavior.path_pattern.is_some() {
            return Err(invalid(
                "default_behavior.path_pattern: the default behavior always matches \"*\"; remove the pattern".to_owned(),
            ));
        }
        let default = build(
            "default_behavior",
            &self.default_behavior,
            PathPattern::any(),
        )?;
        let cache = cache_settings(self.cache.as_ref().cloned().unwrap_or_default())?;
        Ok(EdgeConfig {
            listen,
            listen_backlog,
            send_timeout,
            cache,
            tls,
            behaviors: Behaviors::new(ordered, default),
            admin_listen: self.admin_listen,
            access_log,
            access_log_file: self.access_log_file.as_ref().map(|f| base.join(f)),
        })
    }
}

fn cache_settings(file: CacheFile) -> Result<Option<CacheSettings>, ConfigError> {
    let defaults = CacheSettings::default();
    let max_bytes = file.max_bytes.unwrap_or(defaults.max_bytes);
    if max_bytes == 0 {
        return Ok(None);
    }
    let max_object_bytes = file.max_object_bytes.unwrap_or(defaults.max_object_bytes);
    if max_object_bytes > crate::cache::MAX_CACHEABLE_OBJECT {
        return Err(ConfigError::Invalid(format!(
            "cache.max_object_bytes: {max_object_bytes} is above the largest cacheable object ({}, about 4 GiB); lower it",
            crate::cache::MAX_CACHEABLE_OBJECT
        )));
    }
    if max_object_bytes > max_bytes {
        return Err(ConfigError::Invalid(format!(
            "cache.max_object_bytes: {max_object_bytes} is larger than cache.max_bytes ({max_bytes}); lower it or raise max_bytes"
        )));
    }
    Ok(Some(CacheSettings {
        max_bytes,
        max_object_bytes,
        error_ttl: file
            .error_ttl
            .map_or(defaults.error_ttl, std::time::Duration::from_secs),
    }))
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = it.collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests;
