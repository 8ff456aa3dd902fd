//! The top-level settings: where and how the edge listens and logs, and how it
//! sees viewers (their scheme, the public base URL, trusted proxies).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::ConfigError;
use super::overrides::{Given, Settings};
use crate::access::Scheme;
use crate::admin::AdminToken;
use crate::observe::AccessLogFormat;
use crate::server;

/// [`DEFAULT_LISTEN`](super::DEFAULT_LISTEN) as an address.
pub(super) const DEFAULT_LISTEN_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));

/// Verified signatures remembered per behavior unless `signature_cache` says otherwise.
const DEFAULT_SIGNATURE_CACHE: usize = 100_000;

/// Where and how the edge listens and logs.
#[derive(Debug)]
pub(super) struct Listening {
    pub(super) listen: SocketAddr,
    pub(super) listen_backlog: u32,
    pub(super) send_timeout: Duration,
    pub(super) admin_listen: Option<SocketAddr>,
    pub(super) access_log: Option<AccessLogFormat>,
    pub(super) access_log_file: Option<PathBuf>,
}

/// `listen`, `listen_backlog`, `send_timeout`, `admin_listen` and the access log.
pub(super) fn listening(s: &Settings<'_>) -> Result<Listening, ConfigError> {
    let listen_backlog = match &s.listen_backlog {
        Some(Given { value, field }) => {
            server::listen_backlog(*value).map_err(|source| ConfigError::OutOfRange {
                field: field.clone(),
                source,
            })?
        }
        None => server::DEFAULT_LISTEN_BACKLOG,
    };
    let send_timeout = match &s.send_timeout {
        Some(Given { value, field }) => {
            server::send_timeout(*value).map_err(|source| ConfigError::OutOfRange {
                field: field.clone(),
                source,
            })?
        }
        None => server::DEFAULT_SEND_TIMEOUT,
    };
    let access_log = match &s.access_log {
        None => Some(AccessLogFormat::Text),
        Some(Given { value, field }) => match *value {
            "text" => Some(AccessLogFormat::Text),
            "json" => Some(AccessLogFormat::Json),
            "off" => None,
            other => {
                return Err(ConfigError::AccessLog {
                    field: field.clone(),
                    value: other.to_owned(),
                });
            }
        },
    };
    Ok(Listening {
        listen: s.listen.unwrap_or(DEFAULT_LISTEN_ADDR),
        listen_backlog,
        send_timeout,
        admin_listen: s.admin_listen,
        access_log,
        access_log_file: s.access_log_file.clone(),
    })
}

/// `admin_token_file`: the token read and checked; `None` without one. It
/// needs `admin_listen`: the token guards that listener's endpoints.
pub(super) fn admin_token(s: &Settings<'_>) -> Result<Option<AdminToken>, ConfigError> {
    let Some(Given { value, field }) = &s.admin_token_file else {
        return Ok(None);
    };
    if s.admin_listen.is_none() {
        return Err(ConfigError::AdminTokenWithoutListener {
            field: field.clone(),
        });
    }
    AdminToken::from_file(value)
        .map(Some)
        .map_err(|source| ConfigError::AdminToken {
            field: field.clone(),
            source,
        })
}

/// How restricted behaviors see viewers.
#[derive(Debug, Clone)]
pub(super) struct Viewers {
    pub(super) scheme: Scheme,
    pub(super) public_base_url: Option<String>,
    pub(super) trusted_proxies: Vec<IpNet>,
    pub(super) signature_cache: usize,
}

/// `viewer_scheme` (which depends on whether TLS is on), `public_base_url`,
/// `trusted_proxies` and `signature_cache`.
pub(super) fn viewers(s: &Settings<'_>, tls: bool) -> Result<Viewers, ConfigError> {
    let scheme = match (&s.viewer_scheme, tls) {
        (None, true) => Scheme::Https,
        (None, false) => Scheme::Http,
        (Some(Given { value, field }), _) => match (*value, tls) {
            ("https", _) => Scheme::Https,
            ("http", false) => Scheme::Http,
            ("http", true) => {
                return Err(ConfigError::HttpWithTls {
                    field: field.clone(),
                });
            }
            (other, _) => {
                return Err(ConfigError::ViewerScheme {
                    field: field.clone(),
                    value: other.to_owned(),
                });
            }
        },
    };
    if let Some(Given { value, field }) = &s.public_base_url {
        let ok = (value.starts_with("http://") || value.starts_with("https://"))
            && value.trim_end_matches('/').matches('/').count() == 2;
        if !ok {
            return Err(ConfigError::PublicBaseUrl {
                field: field.clone(),
                value: (*value).to_owned(),
            });
        }
    }
    let trusted_proxies = (s.trusted_proxies.iter())
        .map(|Given { value, field }| {
            value
                .parse::<IpNet>()
                .or_else(|e| value.parse::<IpAddr>().map(IpNet::from).map_err(|_| e))
                .map_err(|source| ConfigError::TrustedProxy {
                    field: field.clone(),
                    value: (*value).to_owned(),
                    source,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Viewers {
        scheme,
        public_base_url: s.public_base_url.as_ref().map(|g| g.value.to_owned()),
        trusted_proxies,
        signature_cache: s.signature_cache.unwrap_or(DEFAULT_SIGNATURE_CACHE),
    })
}
