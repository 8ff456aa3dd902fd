//! Values given outside the configuration file (a command line, a test) that
//! win over the file's, and the one place where they are applied:
//! [`Settings::new`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::{ConfigFile, Field, Setting, TlsFile};

/// Settings that replace the configuration's top-level fields of the same name
/// (see [`Setting`]); `None` keeps the file's value. They are checked as the
/// file's values are, and an error about one names it as an override
/// ([`Field::Override`]). Their paths are used as given (relative to the current
/// folder), not resolved against the configuration file's folder. A reload
/// applies the same overrides again.
///
/// ```
/// use cfsign_edge::config::{ConfigFile, ConfigOverrides};
///
/// let dir = tempfile::tempdir()?;
/// let file: ConfigFile = toml::from_str(
///     "send_timeout = 5\n[origins.m]\ntype = \"directory\"\nroot = \".\"\n\
///      [default_behavior]\norigin = \"m\"\nrestricted = false\n",
/// )?;
/// let overrides = ConfigOverrides {
///     send_timeout: Some(60),
///     listen: Some("127.0.0.1:9000".parse()?),
///     ..ConfigOverrides::default()
/// };
/// let config = file.load_with(dir.path(), &overrides)?;
/// assert_eq!(config.send_timeout.as_secs(), 60);
/// assert_eq!(config.listen.port(), 9000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConfigOverrides {
    /// `listen`: the address to listen on.
    pub listen: Option<SocketAddr>,
    /// `listen_backlog`: connections the kernel queues (1 to 65,535).
    pub listen_backlog: Option<u64>,
    /// `send_timeout`: seconds a response may wait for the viewer to read (1 to 3,600).
    pub send_timeout: Option<u64>,
    /// `[tls]`: serve HTTPS with this certificate and key.
    pub tls: Option<TlsFile>,
    /// `public_base_url`: the scheme and host viewers use.
    pub public_base_url: Option<String>,
    /// `trusted_proxies`: the whole list, replacing the file's.
    pub trusted_proxies: Option<Vec<String>>,
    /// `admin_listen`: the address of the admin listener.
    pub admin_listen: Option<SocketAddr>,
    /// `admin_token_file`: the file holding the admin listener's bearer token.
    pub admin_token_file: Option<PathBuf>,
    /// `access_log`: `text`, `json` or `off`.
    pub access_log: Option<String>,
    /// `access_log_file`: where the access log is appended.
    pub access_log_file: Option<PathBuf>,
    /// `cache.max_bytes`: bytes the object cache holds (0: no cache).
    pub cache_max_bytes: Option<u64>,
}

/// A value, and the field an error about it names.
#[derive(Debug, Clone)]
pub(super) struct Given<T> {
    pub(super) value: T,
    pub(super) field: Field,
}

/// The certificate and key files, resolved.
#[derive(Debug)]
pub(super) struct TlsPaths {
    pub(super) cert_file: Given<PathBuf>,
    pub(super) key_file: Given<PathBuf>,
}

/// The `[cache]` section with its override.
#[derive(Debug)]
pub(super) struct CacheSection {
    pub(super) max_bytes: Option<Given<u64>>,
    pub(super) max_object_bytes: Option<Given<u64>>,
    pub(super) error_ttl: Option<u64>,
}

/// The top-level settings, `[tls]` and `[cache]` as they apply: the file's
/// values with the overrides in their place, paths resolved.
#[derive(Debug)]
pub(super) struct Settings<'a> {
    pub(super) listen: Option<SocketAddr>,
    pub(super) listen_backlog: Option<Given<u64>>,
    pub(super) send_timeout: Option<Given<u64>>,
    pub(super) tls: Option<TlsPaths>,
    pub(super) viewer_scheme: Option<Given<&'a str>>,
    pub(super) public_base_url: Option<Given<&'a str>>,
    pub(super) trusted_proxies: Vec<Given<&'a str>>,
    pub(super) signature_cache: Option<usize>,
    pub(super) admin_listen: Option<SocketAddr>,
    pub(super) admin_token_file: Option<Given<PathBuf>>,
    pub(super) access_log: Option<Given<&'a str>>,
    pub(super) access_log_file: Option<PathBuf>,
    pub(super) cache: CacheSection,
}

impl<'a> Settings<'a> {
    /// The file's settings with `overrides` applied: the one place where an
    /// override wins. The file's paths are resolved against `base`.
    pub(super) fn new(file: &'a ConfigFile, overrides: &'a ConfigOverrides, base: &Path) -> Self {
        let trusted_proxies = match &overrides.trusted_proxies {
            Some(list) => list
                .iter()
                .map(|p| given(p.as_str(), Field::Override(Setting::TrustedProxies)))
                .collect(),
            None => (file.trusted_proxies.iter().enumerate())
                .map(|(i, p)| given(p.as_str(), Field::file(format!("trusted_proxies[{i}]"))))
                .collect(),
        };
        let tls = match (&overrides.tls, &file.tls) {
            (Some(t), _) => Some(TlsPaths {
                cert_file: given(t.cert_file.clone(), Field::Override(Setting::TlsCertFile)),
                key_file: given(t.key_file.clone(), Field::Override(Setting::TlsKeyFile)),
            }),
            (None, Some(t)) => Some(TlsPaths {
                cert_file: given(base.join(&t.cert_file), Field::file("tls.cert_file")),
                key_file: given(base.join(&t.key_file), Field::file("tls.key_file")),
            }),
            (None, None) => None,
        };
        let cache = file.cache.clone().unwrap_or_default();
        Self {
            listen: overrides.listen.or(file.listen),
            listen_backlog: pick(
                overrides.listen_backlog,
                file.listen_backlog,
                Setting::ListenBacklog,
            ),
            send_timeout: pick(
                overrides.send_timeout,
                file.send_timeout,
                Setting::SendTimeout,
            ),
            tls,
            viewer_scheme: (file.viewer_scheme.as_deref())
                .map(|s| given(s, Field::file("viewer_scheme"))),
            public_base_url: pick(
                overrides.public_base_url.as_deref(),
                file.public_base_url.as_deref(),
                Setting::PublicBaseUrl,
            ),
            trusted_proxies,
            signature_cache: file.signature_cache,
            admin_listen: overrides.admin_listen.or(file.admin_listen),
            admin_token_file: match &overrides.admin_token_file {
                Some(f) => Some(given(f.clone(), Field::Override(Setting::AdminTokenFile))),
                None => (file.admin_token_file.as_ref())
                    .map(|f| given(base.join(f), Field::file(Setting::AdminTokenFile.field()))),
            },
            access_log: pick(
                overrides.access_log.as_deref(),
                file.access_log.as_deref(),
                Setting::AccessLog,
            ),
            access_log_file: match &overrides.access_log_file {
                Some(f) => Some(f.clone()),
                None => file.access_log_file.as_ref().map(|f| base.join(f)),
            },
            cache: CacheSection {
                max_bytes: pick(
                    overrides.cache_max_bytes,
                    cache.max_bytes,
                    Setting::CacheMaxBytes,
                ),
                max_object_bytes: (cache.max_object_bytes)
                    .map(|v| given(v, Field::file("cache.max_object_bytes"))),
                error_ttl: cache.error_ttl,
            },
        }
    }
}

fn given<T>(value: T, field: Field) -> Given<T> {
    Given { value, field }
}

/// The override if given, else the file's value (named as the setting's field).
fn pick<T>(over: Option<T>, file: Option<T>, setting: Setting) -> Option<Given<T>> {
    match over {
        Some(value) => Some(given(value, Field::Override(setting))),
        None => file.map(|value| given(value, Field::file(setting.field()))),
    }
}
