//! `cfsign edge`: the CloudFront-compatible gateway.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use cfsign_edge::admin;
use cfsign_edge::cache::ObjectCache;
use cfsign_edge::config::{
    BehaviorFile, CacheFile, ConfigFile, EdgeConfig, KeyFile, KeyGroupFile, OriginFile, TlsFile,
};
use cfsign_edge::observe::{AccessLog, AccessLogFormat, Metrics, ObserveLayer};
use cfsign_edge::server::{self, EdgeHandle, Limits};
use cfsign_edge::tls::EdgeTls;

use crate::cli::EdgeArgs;

/// Where the configuration comes from: a file (with the `[tls]` of --tls-cert and
/// --tls-key, if given), or the flags (re-read on SIGHUP).
enum Source {
    File(PathBuf, Option<TlsFile>),
    Flags(Box<ConfigFile>),
}

/// The `[tls]` of --tls-cert and --tls-key (absolute: a configuration file's
/// relative paths are resolved against its folder, these against the current one).
/// clap already refuses one flag without the other.
fn tls_from_args(args: &EdgeArgs) -> Result<Option<TlsFile>> {
    let Some((cert, key)) = args.tls_cert.as_ref().zip(args.tls_key.as_ref()) else {
        return Ok(None);
    };
    Ok(Some(TlsFile {
        cert_file: std::path::absolute(cert)
            .with_context(|| format!("--tls-cert {}", cert.display()))?,
        key_file: std::path::absolute(key)
            .with_context(|| format!("--tls-key {}", key.display()))?,
    }))
}

impl Source {
    fn from_args(args: &EdgeArgs) -> Result<Self> {
        let tls = tls_from_args(args)?;
        if let Some(path) = &args.config {
            return Ok(Source::File(path.clone(), tls));
        }
        let root = args.root.clone().unwrap_or_else(|| PathBuf::from("."));
        let mut keys = Vec::new();
        for spec in &args.public_key {
            let (id, path) = spec.split_once('=').ok_or_else(|| {
                anyhow!(
                    "--public-key {spec:?}: write KEYID=PATH, e.g. K2JCJMDEHXQW5F=public_key.pem"
                )
            })?;
            keys.push(KeyFile {
                id: id.to_owned(),
                public_key: PathBuf::from(path.strip_prefix("file://").unwrap_or(path)),
            });
        }
        if keys.is_empty() && !args.public {
            return Err(anyhow!(
                "no public key: give --public-key KEYID=PATH (repeat for a key group), --public to serve without \
                 signatures, or --config FILE"
            ));
        }
        let mut key_groups = BTreeMap::new();
        if !keys.is_empty() {
            key_groups.insert("command-line".to_owned(), KeyGroupFile { keys });
        }
        Ok(Source::Flags(Box::new(ConfigFile {
            listen: None,
            viewer_scheme: None,
            public_base_url: args.public_base_url.clone(),
            tls,
            trusted_proxies: args.trusted_proxy.clone(),
            signature_cache: None,
            admin_listen: None,
            access_log: None,
            access_log_file: None,
            send_timeout: None,
            listen_backlog: None,
            cache: args.cache_max_bytes.map(|max_bytes| CacheFile {
                max_bytes: Some(max_bytes),
                ..CacheFile::default()
            }),
            key_groups,
            origins: BTreeMap::from([("root".to_owned(), OriginFile::Directory { root })]),
            behaviors: Vec::new(),
            default_behavior: BehaviorFile {
                path_pattern: None,
                origin: "root".to_owned(),
                restricted: !args.public,
                trusted_key_groups: if args.public {
                    Vec::new()
                } else {
                    vec!["command-line".to_owned()]
                },
                min_ttl: None,
                default_ttl: args.default_ttl,
                max_ttl: None,
            },
        })))
    }

    /// Reads (for a file) and validates; keys and origins are loaded afresh.
    fn load(&self) -> Result<EdgeConfig> {
        match self {
            Source::File(path, tls) => {
                let mut file = ConfigFile::read(path).context("--config")?;
                if tls.is_some() {
                    file.tls.clone_from(tls);
                }
                let base = path
                    .parent()
                    .map_or_else(|| PathBuf::from("."), PathBuf::from);
                file.load(&base)
                    .with_context(|| format!("--config {}", path.display()))
            }
            Source::Flags(file) => Ok(file.load(&PathBuf::from("."))?),
        }
    }
}

/// Where the access log goes, from the flags over the configuration.
struct LogSetting {
    format: Option<AccessLogFormat>,
    file: Option<PathBuf>,
}

impl LogSetting {
    fn new(args: &EdgeArgs, config: &EdgeConfig) -> Result<Self> {
        let format = match args.access_log.as_deref() {
            None => config.access_log,
            Some("off") => None,
            Some(other) => Some(
                other
                    .parse::<AccessLogFormat>()
                    .map_err(|e| anyhow!("--access-log: {e}"))?,
            ),
        };
        let file = args
            .access_log_file
            .clone()
            .or_else(|| config.access_log_file.clone());
        Ok(Self { format, file })
    }

    fn describe(&self) -> String {
        let format = match self.format {
            None => return "off".to_owned(),
            Some(AccessLogFormat::Text) => "text",
            Some(AccessLogFormat::Json) => "json",
        };
        match &self.file {
            Some(f) => format!("{format}, appended to {}", f.display()),
            None => format!("{format}, to standard output"),
        }
    }

    fn open(&self) -> Result<Option<AccessLog>> {
        let Some(format) = self.format else {
            return Ok(None);
        };
        let log = match &self.file {
            Some(path) => AccessLog::file(format, path)
                .with_context(|| format!("cannot open the access log {}", path.display()))?,
            None => AccessLog::stdout(format).context("starting the access-log writer")?,
        };
        Ok(Some(log))
    }
}

/// The limits, with --send-timeout over the configuration's `send_timeout`.
fn limits(args: &EdgeArgs, config: &EdgeConfig) -> Result<Limits> {
    let send_timeout = match args.send_timeout {
        Some(s) => server::send_timeout(s).map_err(|e| anyhow!("--send-timeout: {e}"))?,
        None => config.send_timeout,
    };
    Ok(Limits {
        send_timeout,
        ..Limits::default()
    })
}

pub(crate) fn run(args: &EdgeArgs) -> Result<()> {
    let source = Source::from_args(args)?;
    let config = source.load()?;
    let listen = args.listen.unwrap_or(config.listen);
    let backlog = match args.listen_backlog {
        Some(n) => server::listen_backlog(n).map_err(|e| anyhow!("--listen-backlog: {e}"))?,
        None => config.listen_backlog,
    };
    let limits = limits(args, &config)?;
    let admin_listen = args.admin_listen.or(config.admin_listen);
    let logging = LogSetting::new(args, &config)?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    if args.check {
        println!("configuration OK; would listen on {listen} ({scheme})");
        println!(
            "listen backlog {backlog}; send timeout {}s",
            limits.send_timeout.as_secs()
        );
        match &config.tls {
            Some(t) => println!(
                "TLS: certificate {} ({} in the chain), key {}",
                t.cert_file().display(),
                t.chain().len(),
                t.key_file().display()
            ),
            None => println!("TLS: off"),
        }
        match admin_listen {
            Some(a) => println!("admin (/healthz, /metrics, POST /invalidations) on {a}"),
            None => println!("admin listener: off"),
        }
        println!("access log: {}", logging.describe());
        match &config.cache {
            Some(c) => println!(
                "cache: {} bytes in all, objects up to {} bytes, errors for {}s",
                c.max_bytes,
                c.max_object_bytes,
                c.error_ttl.as_secs()
            ),
            None => println!("cache: off"),
        }
        for b in config.behaviors.iter() {
            let access = if b.access.is_some() {
                "signed URLs or cookies required"
            } else {
                "public"
            };
            println!(
                "  {:<24} -> origin {:<12} {access}; TTL min/default/max {}/{}/{}s",
                b.pattern.as_str(),
                b.origin_name,
                b.ttl.min().as_secs(),
                b.ttl.default_ttl().as_secs(),
                b.ttl.max().as_secs()
            );
        }
        return Ok(());
    }
    let tls = config.tls.as_ref().map(EdgeTls::new).transpose()?;
    let log = logging.open()?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let served = runtime.block_on(async {
        let listener = server::bind(listen, backlog)
            .with_context(|| format!("cannot listen on {listen}"))?;
        let address = listener.local_addr().context("reading the listening address")?;
        let admin = match admin_listen {
            Some(a) => Some(
                tokio::net::TcpListener::bind(a)
                    .await
                    .with_context(|| format!("cannot listen on {a} (--admin-listen)"))?,
            ),
            None => None,
        };
        let handle = EdgeHandle::new(&config.behaviors, config.cache.map(ObjectCache::new));
        let metrics = Metrics::new();
        let app = handle
            .router()
            .layer(ObserveLayer::new(metrics.clone(), log.clone()));
        // Ready for SIGHUP before saying so: the default action of SIGHUP ends the process.
        #[cfg(unix)]
        let hangups =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        let count = config.behaviors.iter().count();
        eprintln!("cfsign edge: listening on {scheme}://{address} ({count} behavior(s)); SIGHUP reloads, Ctrl-C stops");

        // One signal stops both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            server::shutdown_signal().await;
            let _ = stop.send(true);
        });
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let admin_task = match admin {
            Some(listener) => {
                let address = listener.local_addr().context("reading the admin address")?;
                eprintln!("cfsign edge: admin listening on http://{address} (/healthz, /metrics, POST /invalidations)");
                Some(tokio::spawn(server::serve_with(
                    listener,
                    admin::router(metrics.clone(), handle.cache().cloned()),
                    admin::limits(),
                    until_stopped(stopped.clone()),
                )))
            }
            None => None,
        };
        #[cfg(unix)]
        match hangups {
            Ok(hangups) => {
                tokio::spawn(reload_on_hangup(hangups, source, handle.clone(), tls.clone()));
            }
            Err(e) => eprintln!("cfsign edge: cannot listen for SIGHUP ({e}); reloads are not available"),
        }
        #[cfg(not(unix))]
        let _ = source;
        let shutdown = until_stopped(stopped);
        let served = match &tls {
            Some(tls) => server::serve_tls(listener, app, limits, tls, Some(&metrics), shutdown).await,
            None => server::serve_observed(listener, app, limits, &metrics, shutdown).await,
        }
        .context("serving");
        if let Some(task) = admin_task {
            let _ = task.await;
        }
        served
    });
    drop(runtime);
    if let Some(log) = &log {
        log.flush(Duration::from_secs(5));
    }
    served
}

/// On each SIGHUP, load the configuration, keys and TLS certificate again; keep the
/// old ones if that fails. TLS itself is turned on or off by a restart only.
#[cfg(unix)]
async fn reload_on_hangup(
    mut hangups: tokio::signal::unix::Signal,
    source: Source,
    handle: EdgeHandle,
    tls: Option<EdgeTls>,
) {
    while hangups.recv().await.is_some() {
        let failed = |why: &str| {
            eprintln!("cfsign edge: reload failed, keeping the running configuration: {why}");
        };
        match source.load() {
            Ok(config) => match (&tls, &config.tls) {
                (None, None) => {
                    handle.replace(&config.behaviors);
                    eprintln!("cfsign edge: configuration and keys reloaded");
                }
                (Some(running), Some(certificate)) => {
                    handle.replace(&config.behaviors);
                    running.replace(certificate);
                    eprintln!("cfsign edge: configuration, keys and TLS certificate reloaded");
                }
                (Some(_), None) => failed("[tls] was removed; turning TLS off needs a restart"),
                (None, Some(_)) => failed("[tls] was added; turning TLS on needs a restart"),
            },
            Err(e) => failed(&format!("{e:#}")),
        }
    }
}
