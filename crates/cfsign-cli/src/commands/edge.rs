//! `cfsign edge`: the CloudFront-compatible gateway.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use cfsign_edge::admin;
use cfsign_edge::config::{
    ConfigError, ConfigOverrides, ConfigSource, EdgeConfig, KeyFile, Setting, SimpleEdge, TlsFile,
};
use cfsign_edge::edge::Edge;
use cfsign_edge::observe::{AccessLog, AccessLogFormat, Metrics};
use cfsign_edge::server::{self, Limits, ServeOptions};
use cfsign_edge::tls::EdgeTls;

use crate::cli::EdgeArgs;

/// Where the configuration comes from (a file, or the simple edge of --root and
/// --public-key) and the flags that override it; loaded again on SIGHUP.
struct Source {
    config: ConfigSource,
    overrides: ConfigOverrides,
}

impl Source {
    /// The flags as the library's types: the one place where flags become
    /// configuration (the flags' own mistakes are reported here).
    fn from_args(args: &EdgeArgs) -> Result<Self> {
        let config = match &args.config {
            Some(path) => ConfigSource::File(path.clone()),
            None => {
                let mut edge = SimpleEdge::new(args.root.as_deref().unwrap_or(".".as_ref()));
                for spec in &args.public_key {
                    let (id, path) = spec.split_once('=').ok_or_else(|| {
                        anyhow!(
                            "--public-key {spec:?}: write KEYID=PATH, e.g. K2JCJMDEHXQW5F=public_key.pem"
                        )
                    })?;
                    edge.keys.push(KeyFile {
                        id: id.to_owned(),
                        public_key: PathBuf::from(path.strip_prefix("file://").unwrap_or(path)),
                    });
                }
                if edge.keys.is_empty() && !args.public {
                    return Err(anyhow!(
                        "no public key: give --public-key KEYID=PATH (repeat for a key group), --public to serve \
                         without signatures, or --config FILE"
                    ));
                }
                edge.public = args.public;
                edge.default_ttl = args.default_ttl;
                if args.sign_manifests && args.public {
                    return Err(anyhow!(
                        "--sign-manifests passes viewers' signed-URL credentials on to the manifests' URIs; \
                         with --public there are none: drop one of the two"
                    ));
                }
                edge.sign_manifests = args.sign_manifests;
                ConfigSource::Simple(edge)
            }
        };
        // clap refuses --tls-cert without --tls-key and the reverse
        let tls = (args.tls_cert.clone().zip(args.tls_key.clone())).map(|(cert_file, key_file)| {
            TlsFile {
                cert_file,
                key_file,
            }
        });
        let overrides = ConfigOverrides {
            listen: args.listen,
            listen_backlog: args.listen_backlog,
            send_timeout: args.send_timeout,
            tls,
            public_base_url: args.public_base_url.clone(),
            trusted_proxies: (!args.trusted_proxy.is_empty()).then(|| args.trusted_proxy.clone()),
            admin_listen: args.admin_listen,
            access_log: args.access_log.clone(),
            access_log_file: args.access_log_file.clone(),
            cache_max_bytes: args.cache_max_bytes,
        };
        Ok(Self { config, overrides })
    }

    /// Reads (for a file) and validates, with the flags applied; keys, origins and
    /// the TLS certificate are loaded afresh.
    fn load(&self) -> Result<EdgeConfig> {
        self.config
            .load(&self.overrides)
            .map_err(|e| self.explain(&e))
    }

    /// The library's error in the command's words: a mistake in a flag's value
    /// names the flag, one in the file names the file. The message is rendered
    /// once here (it already holds its cause's, which the error chain would repeat).
    fn explain(&self, e: &ConfigError) -> anyhow::Error {
        if let Some(setting) = e.field().and_then(|f| f.setting()) {
            return anyhow!("{}: {}", flag(setting), e.reason());
        }
        match (&self.config, e) {
            (ConfigSource::File(_), ConfigError::Read(_) | ConfigError::Syntax(_)) => {
                anyhow!("--config: {e}")
            }
            (ConfigSource::File(path), _) => anyhow!("--config {}: {e}", path.display()),
            // the simple edge has one origin, one key group and one behavior
            (ConfigSource::Simple(_), ConfigError::DirectoryRoot { .. }) => {
                anyhow!("--root: {}", e.reason())
            }
            (
                ConfigSource::Simple(_),
                ConfigError::KeyPairId { .. } | ConfigError::PublicKey { .. },
            ) => anyhow!("--public-key: {}", e.reason()),
            (ConfigSource::Simple(_), ConfigError::Ttl { .. }) => {
                anyhow!("--default-ttl: {}", e.reason())
            }
            (ConfigSource::Simple(_), _) => anyhow!("{e}"),
        }
    }
}

/// The flag that gives an override.
fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::Listen => "--listen",
        Setting::ListenBacklog => "--listen-backlog",
        Setting::SendTimeout => "--send-timeout",
        Setting::TlsCertFile => "--tls-cert",
        Setting::TlsKeyFile => "--tls-key",
        Setting::PublicBaseUrl => "--public-base-url",
        Setting::TrustedProxies => "--trusted-proxy",
        Setting::AdminListen => "--admin-listen",
        Setting::AccessLog => "--access-log",
        Setting::AccessLogFile => "--access-log-file",
        Setting::CacheMaxBytes => "--cache-max-bytes",
        _ => "a command-line option",
    }
}

/// Where the access log goes.
struct LogSetting {
    format: Option<AccessLogFormat>,
    file: Option<PathBuf>,
}

impl LogSetting {
    fn new(config: &EdgeConfig) -> Self {
        Self {
            format: config.access_log,
            file: config.access_log_file.clone(),
        }
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

pub(crate) fn run(args: &EdgeArgs) -> Result<()> {
    let source = Source::from_args(args)?;
    let config = source.load()?;
    let listen = config.listen;
    let backlog = config.listen_backlog;
    let limits = Limits {
        send_timeout: config.send_timeout,
        ..Limits::default()
    };
    let admin_listen = config.admin_listen;
    let logging = LogSetting::new(&config);
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
            Some(a) => println!("admin (/healthz, /readyz, /metrics, POST /invalidations) on {a}"),
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
                "  {:<24} -> origin {:<12} {access}; TTL min/default/max {}/{}/{}s; compress {}; sign manifests {}",
                b.pattern.as_str(),
                b.origin_name,
                b.ttl.min().as_secs(),
                b.ttl.default_ttl().as_secs(),
                b.ttl.max().as_secs(),
                if b.compress { "on" } else { "off" },
                if b.sign_manifests { "on" } else { "off" }
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
        let edge = Edge::from_config(&config, Metrics::new());
        let metrics = edge.metrics().clone();
        // Ready for SIGHUP before saying so: the default action of SIGHUP ends the process.
        #[cfg(unix)]
        let hangups =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        let count = config.behaviors.iter().count();
        eprintln!("cfsign edge: listening on {scheme}://{address} ({count} behavior(s)); SIGHUP reloads (and reopens the access-log file), Ctrl-C stops");

        // systemd's Type=notify: READY, RELOADING and STOPPING (nothing without NOTIFY_SOCKET).
        #[cfg(unix)]
        let notifier = crate::notify::Notifier::from_env().map(std::sync::Arc::new);
        // One signal stops both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        #[cfg(unix)]
        let stopping = notifier.clone();
        tokio::spawn(async move {
            server::shutdown_signal().await;
            #[cfg(unix)]
            if let Some(n) = &stopping {
                n.send("STOPPING=1");
            }
            let _ = stop.send(true);
        });
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let admin_task = match admin {
            Some(listener) => {
                let address = listener.local_addr().context("reading the admin address")?;
                eprintln!("cfsign edge: admin listening on http://{address} (/healthz, /readyz, /metrics, POST /invalidations)");
                Some(tokio::spawn(server::serve(
                    listener,
                    admin::edge_router(&edge),
                    ServeOptions::default().limits(admin::limits()),
                    until_stopped(stopped.clone()),
                )))
            }
            None => None,
        };
        #[cfg(unix)]
        match hangups {
            Ok(hangups) => {
                tokio::spawn(reload_on_hangup(
                    hangups,
                    source,
                    edge.clone(),
                    tls.clone(),
                    log.clone(),
                    notifier.clone(),
                ));
            }
            Err(e) => eprintln!("cfsign edge: cannot listen for SIGHUP ({e}); reloads are not available"),
        }
        #[cfg(not(unix))]
        let _ = source;
        let shutdown = until_stopped(stopped);
        let mut options = ServeOptions::default().limits(limits).metrics(metrics);
        options.tls.clone_from(&tls);
        // Both listeners are bound and the reload handler is in place.
        #[cfg(unix)]
        if let Some(n) = &notifier {
            n.send(&format!("READY=1\nSTATUS=listening on {scheme}://{address}"));
        }
        let served = server::serve(listener, edge.observed(log.clone()), options, shutdown)
            .await
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

/// On each SIGHUP, reopen the access-log file (for logrotate without
/// copytruncate), and load the configuration, keys and TLS certificate again;
/// keep the old ones if that fails. TLS itself is turned on or off by a restart
/// only. Counted in `cfsign_edge_reloads_total` and
/// `cfsign_edge_last_reload_timestamp_seconds`.
#[cfg(unix)]
async fn reload_on_hangup(
    mut hangups: tokio::signal::unix::Signal,
    source: Source,
    edge: Edge,
    tls: Option<EdgeTls>,
    log: Option<AccessLog>,
    notifier: Option<std::sync::Arc<crate::notify::Notifier>>,
) {
    while hangups.recv().await.is_some() {
        if let Some(n) = &notifier {
            n.send("RELOADING=1");
        }
        if let Some(log) = log.clone() {
            // Opening a file, and waiting for the writer thread: off the async workers.
            match tokio::task::spawn_blocking(move || log.reopen()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => eprintln!(
                    "cfsign edge: cannot reopen the access log, still writing to the old file: {e}"
                ),
                Err(e) => eprintln!("cfsign edge: cannot reopen the access log: {e}"),
            }
        }
        let failed = |why: &str| {
            edge.metrics().reloaded(false);
            eprintln!("cfsign edge: reload failed, keeping the running configuration: {why}");
        };
        match source.load() {
            Ok(config) => match (&tls, &config.tls) {
                (None, None) => {
                    edge.replace(&config.behaviors);
                    edge.metrics().reloaded(true);
                    eprintln!("cfsign edge: configuration and keys reloaded");
                }
                (Some(running), Some(certificate)) => {
                    edge.replace(&config.behaviors);
                    running.replace(certificate);
                    edge.metrics().reloaded(true);
                    eprintln!("cfsign edge: configuration, keys and TLS certificate reloaded");
                }
                (Some(_), None) => failed("[tls] was removed; turning TLS off needs a restart"),
                (None, Some(_)) => failed("[tls] was added; turning TLS on needs a restart"),
            },
            Err(e) => failed(&format!("{e:#}")),
        }
        // Ready again, with the new configuration or the old one.
        if let Some(n) = &notifier {
            n.send("READY=1");
        }
    }
}
