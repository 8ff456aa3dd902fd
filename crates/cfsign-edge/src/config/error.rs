//! Why a configuration is refused: [`ConfigError`], and the [`Field`] each
//! error is about.

use std::fmt;
use std::path::PathBuf;

use cfsign::input::InputError;

use crate::admin::AdminTokenError;
use crate::behavior::PatternError;
use crate::cache::{MAX_CACHEABLE_OBJECT, TtlError};
use crate::origin::HttpOriginError;
use crate::origin::s3::S3ConfigError;
use crate::server::OutOfRange;
use crate::tls::TlsError;

/// A setting that [`ConfigOverrides`](super::ConfigOverrides) can give, replacing
/// the configuration file's field of the same name.
///
/// ```
/// use cfsign_edge::config::Setting;
///
/// assert_eq!(Setting::SendTimeout.field(), "send_timeout");
/// assert_eq!(Setting::TlsCertFile.field(), "tls.cert_file");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// `listen`.
    Listen,
    /// `listen_backlog`.
    ListenBacklog,
    /// `send_timeout`.
    SendTimeout,
    /// `tls.cert_file`.
    TlsCertFile,
    /// `tls.key_file`.
    TlsKeyFile,
    /// `public_base_url`.
    PublicBaseUrl,
    /// `trusted_proxies`.
    TrustedProxies,
    /// `admin_listen`.
    AdminListen,
    /// `admin_token_file`.
    AdminTokenFile,
    /// `access_log`.
    AccessLog,
    /// `access_log_file`.
    AccessLogFile,
    /// `cache.max_bytes`.
    CacheMaxBytes,
}

impl Setting {
    /// The configuration file's field this setting replaces.
    ///
    /// ```
    /// use cfsign_edge::config::Setting;
    ///
    /// assert_eq!(Setting::CacheMaxBytes.field(), "cache.max_bytes");
    /// ```
    #[must_use]
    pub fn field(self) -> &'static str {
        match self {
            Setting::Listen => "listen",
            Setting::ListenBacklog => "listen_backlog",
            Setting::SendTimeout => "send_timeout",
            Setting::TlsCertFile => "tls.cert_file",
            Setting::TlsKeyFile => "tls.key_file",
            Setting::PublicBaseUrl => "public_base_url",
            Setting::TrustedProxies => "trusted_proxies",
            Setting::AdminListen => "admin_listen",
            Setting::AdminTokenFile => "admin_token_file",
            Setting::AccessLog => "access_log",
            Setting::AccessLogFile => "access_log_file",
            Setting::CacheMaxBytes => "cache.max_bytes",
        }
    }
}

/// Where a refused value was written: a field of the configuration file, named
/// as written there, or an override.
///
/// ```
/// use cfsign_edge::config::{Field, Setting};
///
/// let file = Field::File("behaviors[2].path_pattern".to_owned());
/// assert_eq!(file.to_string(), "behaviors[2].path_pattern");
/// let given = Field::Override(Setting::SendTimeout);
/// assert_eq!((given.name(), given.to_string().as_str()), ("send_timeout", "send_timeout (override)"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A field of the file: `send_timeout`, `behaviors[2].path_pattern`,
    /// `key_groups.main.keys[0].public_key`, ...
    File(String),
    /// A value of [`ConfigOverrides`](super::ConfigOverrides), which replaced the
    /// file's field [`Setting::field`].
    Override(Setting),
}

impl Field {
    /// The field's name as in the configuration file (for an override: the
    /// field it replaced).
    ///
    /// ```
    /// use cfsign_edge::config::{Field, Setting};
    ///
    /// assert_eq!(Field::Override(Setting::TlsKeyFile).name(), "tls.key_file");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Field::File(name) => name,
            Field::Override(setting) => setting.field(),
        }
    }

    /// The override the value came from; `None` for the file's own fields.
    ///
    /// ```
    /// use cfsign_edge::config::{Field, Setting};
    ///
    /// assert_eq!(Field::Override(Setting::Listen).setting(), Some(Setting::Listen));
    /// assert_eq!(Field::File("listen".into()).setting(), None);
    /// ```
    #[must_use]
    pub fn setting(&self) -> Option<Setting> {
        match self {
            Field::File(_) => None,
            Field::Override(setting) => Some(*setting),
        }
    }

    pub(super) fn file(name: impl Into<String>) -> Self {
        Field::File(name.into())
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::File(name) => f.write_str(name),
            Field::Override(setting) => write!(f, "{} (override)", setting.field()),
        }
    }
}

/// The configuration file is not valid TOML, or has an unknown, missing or
/// mistyped field: the parser's message names it and shows the line. Its
/// [`source`](std::error::Error::source) is the parser's error.
///
/// ```
/// use cfsign_edge::config::{ConfigError, ConfigFile};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("edge.toml");
/// std::fs::write(&path, "listen = \"127.0.0.1:8080\"\nlisten_backlogg = 64\n")?;
/// let Err(ConfigError::Syntax(e)) = ConfigFile::read(&path) else { panic!() };
/// assert_eq!((e.line, e.column), (Some(2), Some(1)));
/// assert!(e.to_string().contains("unknown field `listen_backlogg`"), "{e}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", path.display(), source.to_string().trim_end())]
pub struct SyntaxError {
    /// The file.
    pub path: PathBuf,
    /// The line of the mistake (from 1), when the parser knows it.
    pub line: Option<usize>,
    /// The column of the mistake (from 1, in characters), when the parser knows it.
    pub column: Option<usize>,
    /// The parser's error.
    #[source]
    pub source: toml::de::Error,
}

/// Why a configuration cannot be used.
///
/// Every error but [`Read`](ConfigError::Read) and [`Syntax`](ConfigError::Syntax)
/// is about one [`Field`] (see [`ConfigError::field`]), and its message starts
/// with that field's name. A message is whole: it includes the message of its
/// cause, which [`source`](std::error::Error::source) also gives, typed, for
/// programs; print a `ConfigError` with `{}` (a report that prints every
/// source would repeat the cause).
///
/// ```
/// use std::error::Error as _;
/// use cfsign_edge::cache::TtlError;
/// use cfsign_edge::config::{ConfigError, ConfigFile};
///
/// let file: ConfigFile = toml::from_str(
///     "[origins.m]\ntype = \"directory\"\nroot = \".\"\n\
///      [default_behavior]\norigin = \"m\"\nrestricted = false\ndefault_ttl = 9\nmax_ttl = 5\n",
/// )?;
/// let err = file.load(std::path::Path::new(".")).unwrap_err();
/// assert!(matches!(err, ConfigError::Ttl { .. }));
/// assert_eq!(err.field().map(|f| f.name()), Some("default_behavior"));
/// assert!(err.to_string().starts_with("default_behavior: TTLs must satisfy"), "{err}");
/// assert!(err.source().is_some_and(|cause| cause.is::<TtlError>()));
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read, or is larger than [`CONFIG_FILE`](super::CONFIG_FILE) allows.
    #[error(transparent)]
    Read(InputError),
    /// Not valid TOML, or an unknown, missing or mistyped field (boxed: the
    /// parser's error is large).
    #[error(transparent)]
    Syntax(Box<SyntaxError>),
    /// `send_timeout` or `listen_backlog` outside its range.
    #[error("{field}: {source}")]
    OutOfRange {
        /// The field.
        field: Field,
        /// The range and the default.
        #[source]
        source: OutOfRange,
    },
    /// `viewer_scheme` is not `http` or `https`.
    #[error("{field}: {value:?} is not \"http\" or \"https\"")]
    ViewerScheme {
        /// The field.
        field: Field,
        /// The value given.
        value: String,
    },
    /// `viewer_scheme = "http"` with TLS on.
    #[error(
        "{field}: \"http\" contradicts [tls]: viewers of a TLS edge use https; remove viewer_scheme \
         (with [tls] it is \"https\"), or set public_base_url if viewers really reach the edge \
         through plain http"
    )]
    HttpWithTls {
        /// The field (`viewer_scheme`).
        field: Field,
    },
    /// `access_log` is not `text`, `json` or `off`.
    #[error("{field}: {value:?} is not \"text\", \"json\" or \"off\"")]
    AccessLog {
        /// The field.
        field: Field,
        /// The value given.
        value: String,
    },
    /// `public_base_url` is not a scheme and host.
    #[error(
        "{field}: {value:?} must be a scheme and host only, e.g. \"https://cdn.example.com\" \
         (no path: the request's path is appended)"
    )]
    PublicBaseUrl {
        /// The field.
        field: Field,
        /// The value given.
        value: String,
    },
    /// An entry of `trusted_proxies` is not an address or CIDR range.
    #[error(
        "{field}: {value:?} is not an IP address or CIDR range; write e.g. \"10.0.0.0/8\" or \
         \"192.0.2.1\""
    )]
    TrustedProxy {
        /// The field (`trusted_proxies[i]`).
        field: Field,
        /// The value given.
        value: String,
        /// The parser's error.
        #[source]
        source: ipnet::AddrParseError,
    },
    /// The `[tls]` certificate or key cannot be used.
    #[error("{field}: {source}")]
    Tls {
        /// The field: `tls.cert_file` or `tls.key_file`.
        field: Field,
        /// Why, naming the file and the fix.
        #[source]
        source: TlsError,
    },
    /// A key group without keys.
    #[error(
        "{field}: a key group needs at least one key: add keys = [{{ id = \"KEYID\", public_key = \
         \"PATH\" }}], or remove the group"
    )]
    EmptyKeyGroup {
        /// The field (`key_groups.NAME`).
        field: Field,
    },
    /// A key-pair ID that cannot be one.
    #[error("{field}: {source}")]
    KeyPairId {
        /// The field (`key_groups.NAME.keys[i].id`).
        field: Field,
        /// What is wrong with it.
        #[source]
        source: cfsign::SignError,
    },
    /// The admin token file cannot be read, holds too short a token, or other
    /// users can read it.
    #[error("{field}: {source}")]
    AdminToken {
        /// The field (`admin_token_file`).
        field: Field,
        /// Why, naming the file and the fix.
        #[source]
        source: AdminTokenError,
    },
    /// `admin_token_file` without `admin_listen`: there is no listener for the
    /// token to guard.
    #[error(
        "{field}: an admin token guards the admin listener's POST /reload and POST /invalidations, \
         and no admin listener is set: give admin_listen too (e.g. \"127.0.0.1:9901\"), or remove {}",
        field.name()
    )]
    AdminTokenWithoutListener {
        /// The field (`admin_token_file`).
        field: Field,
    },
    /// A public key file that cannot be read or is not a usable public key.
    #[error("{field}: {source}")]
    PublicKey {
        /// The field (`key_groups.NAME.keys[i].public_key`).
        field: Field,
        /// Why, naming the file.
        #[source]
        source: cfsign::KeyError,
    },
    /// A directory origin's root cannot be served.
    #[error(
        "{field}: cannot serve {}: {source}; give an existing folder",
        path.display()
    )]
    DirectoryRoot {
        /// The field (`origins.NAME.root`).
        field: Field,
        /// The folder, resolved.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An S3 origin's settings are refused.
    #[error("{field}: {source}")]
    S3Origin {
        /// The field (`origins.NAME`, or `origins.NAME.prefix`).
        field: Field,
        /// Why.
        #[source]
        source: S3ConfigError,
    },
    /// An HTTP origin's URL is refused.
    #[error("{field}: {source}")]
    HttpOrigin {
        /// The field (`origins.NAME.url`).
        field: Field,
        /// Why.
        #[source]
        source: HttpOriginError,
    },
    /// A behavior of `[[behaviors]]` without a path pattern.
    #[error(
        "{field}: missing; give the paths this behavior serves, e.g. path_pattern = \"/images/*\" \
         (everything else goes to default_behavior)"
    )]
    MissingPathPattern {
        /// The field (`behaviors[i].path_pattern`).
        field: Field,
    },
    /// A path pattern on the default behavior.
    #[error("{field}: the default behavior always matches \"*\"; remove the pattern")]
    DefaultPathPattern {
        /// The field (`default_behavior.path_pattern`).
        field: Field,
    },
    /// A path pattern that is not one.
    #[error("{field}: {source}")]
    PathPattern {
        /// The field (`behaviors[i].path_pattern`).
        field: Field,
        /// What is wrong with it.
        #[source]
        source: PatternError,
    },
    /// A behavior names an origin that is not defined.
    #[error("{field}: no origin named {name:?}; defined: {}", list(defined))]
    UnknownOrigin {
        /// The field (`behaviors[i].origin`, `default_behavior.origin`).
        field: Field,
        /// The name given.
        name: String,
        /// The origins defined.
        defined: Vec<String>,
    },
    /// A behavior trusts a key group that is not defined.
    #[error("{field}: no key group named {name:?}; defined: {}", list(defined))]
    UnknownKeyGroup {
        /// The field (`behaviors[i].trusted_key_groups`).
        field: Field,
        /// The name given.
        name: String,
        /// The key groups defined.
        defined: Vec<String>,
    },
    /// A restricted behavior without trusted key groups.
    #[error(
        "{field}: a restricted behavior needs trusted_key_groups (or set restricted = false to \
         serve without signatures)"
    )]
    NoTrustedKeyGroups {
        /// The field (`behaviors[i]`, `default_behavior`).
        field: Field,
    },
    /// An unrestricted behavior with trusted key groups.
    #[error("{field}: trusted_key_groups is set but restricted = false; remove one of them")]
    UnrestrictedWithKeyGroups {
        /// The field (`behaviors[i]`, `default_behavior`).
        field: Field,
    },
    /// An unrestricted behavior with `sign_manifests`: its viewers bring no
    /// credentials to pass down.
    #[error(
        "{field}: sign_manifests = true needs restricted = true (it passes the viewer's signed-URL credentials on to the manifest's URIs, and an unrestricted behavior has none)"
    )]
    SignManifestsUnrestricted {
        /// The field (`behaviors[i]`, `default_behavior`).
        field: Field,
    },
    /// A behavior's TTLs that do not fit together.
    #[error("{field}: {source}")]
    Ttl {
        /// The field (`behaviors[i]`, `default_behavior`).
        field: Field,
        /// The TTLs and the fix.
        #[source]
        source: TtlError,
    },
    /// `cache.max_object_bytes` above what the cache can hold.
    #[error(
        "{field}: {max_object_bytes} is above the largest cacheable object ({MAX_CACHEABLE_OBJECT}, \
         about 4 GiB); lower it"
    )]
    CacheObjectTooLarge {
        /// The field (`cache.max_object_bytes`).
        field: Field,
        /// The value given.
        max_object_bytes: u64,
    },
    /// `cache.max_object_bytes` larger than `cache.max_bytes`.
    #[error(
        "{field}: {max_object_bytes} is larger than cache.max_bytes ({max_bytes}); lower it or \
         raise max_bytes"
    )]
    CacheObjectAboveTotal {
        /// The field (`cache.max_object_bytes`).
        field: Field,
        /// The largest object.
        max_object_bytes: u64,
        /// The cache's size.
        max_bytes: u64,
    },
    /// `cache.max_bytes` smaller than the default `cache.max_object_bytes`.
    #[error(
        "{field}: {max_bytes} bytes cannot hold an object of max_object_bytes (by default \
         {max_object_bytes}); raise it to at least {max_object_bytes}, set cache.max_object_bytes \
         to at most {max_bytes}, or set it to 0 to turn the cache off"
    )]
    CacheBelowObject {
        /// The field (`cache.max_bytes`).
        field: Field,
        /// The cache's size.
        max_bytes: u64,
        /// The largest object (the default).
        max_object_bytes: u64,
    },
}

impl ConfigError {
    /// The field the error is about; `None` for [`Read`](ConfigError::Read) and
    /// [`Syntax`](ConfigError::Syntax) (whose message names the file, and the
    /// parser's the field).
    ///
    /// ```
    /// use cfsign_edge::config::{ConfigError, ConfigFile, Field};
    ///
    /// let file: ConfigFile = toml::from_str(
    ///     "[origins.m]\ntype = \"directory\"\nroot = \".\"\n[default_behavior]\norigin = \"n\"\nrestricted = false\n",
    /// )?;
    /// let err = file.load(std::path::Path::new(".")).unwrap_err();
    /// assert_eq!(err.field(), Some(&Field::File("default_behavior.origin".into())));
    /// # Ok::<(), toml::de::Error>(())
    /// ```
    #[must_use]
    pub fn field(&self) -> Option<&Field> {
        match self {
            ConfigError::Read(_) | ConfigError::Syntax(_) => None,
            ConfigError::OutOfRange { field, .. }
            | ConfigError::ViewerScheme { field, .. }
            | ConfigError::HttpWithTls { field }
            | ConfigError::AccessLog { field, .. }
            | ConfigError::PublicBaseUrl { field, .. }
            | ConfigError::TrustedProxy { field, .. }
            | ConfigError::Tls { field, .. }
            | ConfigError::EmptyKeyGroup { field }
            | ConfigError::KeyPairId { field, .. }
            | ConfigError::PublicKey { field, .. }
            | ConfigError::AdminToken { field, .. }
            | ConfigError::AdminTokenWithoutListener { field }
            | ConfigError::DirectoryRoot { field, .. }
            | ConfigError::S3Origin { field, .. }
            | ConfigError::HttpOrigin { field, .. }
            | ConfigError::MissingPathPattern { field }
            | ConfigError::DefaultPathPattern { field }
            | ConfigError::PathPattern { field, .. }
            | ConfigError::UnknownOrigin { field, .. }
            | ConfigError::UnknownKeyGroup { field, .. }
            | ConfigError::NoTrustedKeyGroups { field }
            | ConfigError::UnrestrictedWithKeyGroups { field }
            | ConfigError::SignManifestsUnrestricted { field }
            | ConfigError::Ttl { field, .. }
            | ConfigError::CacheObjectTooLarge { field, .. }
            | ConfigError::CacheObjectAboveTotal { field, .. }
            | ConfigError::CacheBelowObject { field, .. } => Some(field),
        }
    }

    /// The message without the field's name in front: for a front end that
    /// names the setting its own way (e.g. an option that gave an override).
    ///
    /// ```
    /// use cfsign_edge::config::{ConfigError, ConfigOverrides, SimpleEdge};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let overrides = ConfigOverrides { send_timeout: Some(0), ..ConfigOverrides::default() };
    /// let mut edge = SimpleEdge::new(dir.path());
    /// edge.public = true;
    /// let err = edge.config_file().load_with(dir.path(), &overrides).unwrap_err();
    /// assert_eq!(err.to_string(), format!("send_timeout (override): {}", err.reason()));
    /// assert!(err.reason().starts_with("0 is not between 1 and 3600 seconds"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn reason(&self) -> String {
        let message = self.to_string();
        match self.field() {
            Some(field) => match message.strip_prefix(&format!("{field}: ")) {
                Some(rest) => rest.to_owned(),
                None => message,
            },
            None => message,
        }
    }
}

/// Names for a message: `a, b` or `none`.
fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
