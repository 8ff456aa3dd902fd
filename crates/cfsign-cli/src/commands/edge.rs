//! `cfsign edge`: the CloudFront-compatible gateway.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use cfsign_edge::admin::{self, AdminAuth, AdminOptions, AdminToken};
use cfsign_edge::cache::CacheSettings;
use cfsign_edge::config::{
    ConfigError, ConfigOverrides, ConfigSource, EdgeConfig, Field, KeyFile, Setting, SimpleEdge,
    TlsFile,
};
use cfsign_edge::edge::Edge;
use cfsign_edge::observe::{AccessLog, AccessLogFormat, Metrics};
use cfsign_edge::reload::{Fingerprint, Reload, ReloadError, ReloadFuture, Reloaded, Trigger};
use cfsign_edge::server::{self, Limits, ServeOptions};
use cfsign_edge::tls::EdgeTls;

use serde_json::json;

use crate::cli::EdgeArgs;
use crate::commands::with_schema;

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
            admin_token_file: args.admin_token_file.clone(),
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

    /// The files [`load`](Self::load) reads as of now, as they are now.
    fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self.config.inputs(&self.overrides))
    }

    /// The library's error in the command's words: a mistake in a flag's value
    /// names the flag, one in the file names the file. The message is rendered
    /// once here (it already holds its cause's, which the error chain would repeat).
    fn explain(&self, e: &ConfigError) -> anyhow::Error {
        if let ConfigError::AdminTokenWithoutListener {
            field: Field::Override(_),
        } = e
        {
            return anyhow!(
                "--admin-token-file: an admin token guards the admin listener's POST /reload and POST \
                 /invalidations, and no admin listener is set: give --admin-listen ADDR too (e.g. \
                 127.0.0.1:9901; with --config, admin_listen in the file does as well), or drop \
                 --admin-token-file"
            );
        }
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
        Setting::AdminTokenFile => "--admin-token-file",
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
    // Before loading: a file changed while it is read is seen as changed.
    let loaded_files = source.fingerprint();
    let config = source.load()?;
    let listen = config.listen;
    let backlog = config.listen_backlog;
    let limits = Limits {
        send_timeout: config.send_timeout,
        ..Limits::default()
    };
    let admin_listen = config.admin_listen;
    let started = RestartOnly::of(&config);
    let logging = LogSetting::new(&config);
    let watch = args
        .watch_config
        .then(|| Duration::from_secs(args.watch_interval));
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    if args.check {
        let checked = Checked {
            config: &config,
            scheme,
            logging: &logging,
            watch,
            watched_files: loaded_files.paths().count(),
        };
        if args.json {
            println!("{}", with_schema(checked.json()));
        } else {
            checked.print();
        }
        return Ok(());
    }
    warn_about_token(config.admin_token.as_ref());
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
        // The one reload routine, for SIGHUP, POST /reload and the file watch.
        let auth = AdminAuth::new(config.admin_token.clone());
        let reloader = std::sync::Arc::new(Reloader {
            apply: std::sync::Arc::new(Loader {
                source,
                edge: edge.clone(),
                tls: tls.clone(),
                auth: auth.clone(),
                started,
            }),
            metrics: edge.metrics().clone(),
            #[cfg(unix)]
            notifier: notifier.clone(),
            files: std::sync::Arc::new(tokio::sync::Mutex::new(LoadedFiles {
                running: loaded_files.clone(),
                attempted: loaded_files,
            })),
        });
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
                if auth.token().is_some() {
                    eprintln!("cfsign edge: admin listening on http://{address} (/healthz, /readyz, /metrics, POST /invalidations, POST /reload; the last two need the bearer token)");
                } else {
                    eprintln!("cfsign edge: admin listening on http://{address} (/healthz, /readyz, /metrics, POST /invalidations)");
                }
                let hook: std::sync::Arc<dyn Reload> = reloader.clone();
                let options = AdminOptions::default().auth(auth.clone()).reloader(hook);
                Some(tokio::spawn(server::serve(
                    listener,
                    admin::edge_router_with(&edge, options),
                    ServeOptions::default().limits(admin::limits()),
                    until_stopped(stopped.clone()),
                )))
            }
            None => None,
        };
        #[cfg(unix)]
        match hangups {
            Ok(hangups) => {
                tokio::spawn(reload_on_hangup(hangups, reloader.clone(), log.clone()));
            }
            Err(e) => eprintln!("cfsign edge: cannot listen for SIGHUP ({e}); reloads are not available"),
        }
        if let Some(every) = watch {
            let files = reloader.files.lock().await.attempted.paths().count();
            eprintln!(
                "cfsign edge: watching {files} file(s) (the configuration, keys, certificate, token) every {}s; a change reloads",
                every.as_secs()
            );
            tokio::spawn(reload_on_change(reloader.clone(), every));
        }
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

/// What `edge --check` reports of a loaded configuration, as text or as JSON.
struct Checked<'a> {
    config: &'a EdgeConfig,
    scheme: &'static str,
    logging: &'a LogSetting,
    watch: Option<Duration>,
    watched_files: usize,
}

impl Checked<'_> {
    fn print(&self) {
        let config = self.config;
        println!(
            "configuration OK; would listen on {} ({})",
            config.listen, self.scheme
        );
        println!(
            "listen backlog {}; send timeout {}s",
            config.listen_backlog,
            config.send_timeout.as_secs()
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
        match config.admin_listen {
            Some(a) => println!(
                "admin (/healthz, /readyz, /metrics, POST /invalidations, POST /reload) on {a}"
            ),
            None => println!("admin listener: off"),
        }
        match &config.admin_token {
            Some(t) => println!(
                "admin token: {} (POST /reload and POST /invalidations require it)",
                t.file()
                    .map_or_else(String::new, |f| f.display().to_string())
            ),
            None => println!("admin token: none (POST /reload refused, POST /invalidations open)"),
        }
        match self.watch {
            Some(every) => println!(
                "watch: {} file(s) polled every {}s; a change reloads",
                self.watched_files,
                every.as_secs()
            ),
            None => println!("watch: off (SIGHUP or POST /reload reloads)"),
        }
        println!("access log: {}", self.logging.describe());
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
    }

    /// The same as one JSON object (`--check --json`); paths as given, durations in seconds.
    fn json(&self) -> serde_json::Value {
        let config = self.config;
        let path = |p: &std::path::Path| p.display().to_string();
        let behaviors: Vec<serde_json::Value> = config
            .behaviors
            .iter()
            .map(|b| {
                json!({
                    "path_pattern": b.pattern.as_str(),
                    "origin": b.origin_name,
                    "restricted": b.access.is_some(),
                    "ttl_seconds": {
                        "min": b.ttl.min().as_secs(),
                        "default": b.ttl.default_ttl().as_secs(),
                        "max": b.ttl.max().as_secs(),
                    },
                    "compress": b.compress,
                    "sign_manifests": b.sign_manifests,
                })
            })
            .collect();
        json!({
            "ok": true,
            "listen": config.listen.to_string(),
            "scheme": self.scheme,
            "listen_backlog": config.listen_backlog,
            "send_timeout_seconds": config.send_timeout.as_secs(),
            "tls": config.tls.as_ref().map(|t| json!({
                "certificate": path(t.cert_file()),
                "chain_length": t.chain().len(),
                "key": path(t.key_file()),
            })),
            "admin": config.admin_listen.map(|a| json!({
                "listen": a.to_string(),
                "token_file": config.admin_token.as_ref().and_then(|t| t.file()).map(path),
            })),
            "watch": self.watch.map(|every| json!({
                "files": self.watched_files,
                "interval_seconds": every.as_secs(),
            })),
            "access_log": self.logging.format.map(|format| json!({
                "format": match format {
                    AccessLogFormat::Text => "text",
                    AccessLogFormat::Json => "json",
                },
                "file": self.logging.file.as_deref().map(path),
            })),
            "cache": config.cache.as_ref().map(|c| json!({
                "max_bytes": c.max_bytes,
                "max_object_bytes": c.max_object_bytes,
                "error_ttl_seconds": c.error_ttl.as_secs(),
            })),
            "behaviors": behaviors,
        })
    }
}

/// A token file its group may read works, but deserves a word.
fn warn_about_token(token: Option<&AdminToken>) {
    if let Some(file) = token
        .filter(|t| t.group_readable())
        .and_then(AdminToken::file)
    {
        eprintln!(
            "cfsign edge: warning: the admin token file {} can be read by its group; run chmod 600 on it unless that group is the edge's alone",
            file.display()
        );
    }
}

/// The files the running configuration was read from, and those of the last
/// reload tried (the same after a success; a failure is not tried again until
/// they change).
struct LoadedFiles {
    running: Fingerprint,
    attempted: Fingerprint,
}

/// The reload routine: SIGHUP, `POST /reload` and the file watch all call
/// [`Reload::reload`], one at a time. It loads the configuration, keys, TLS
/// certificate and admin token again and puts them in place, or keeps the
/// running ones (the [`Apply`] part, on a blocking thread: it reads files);
/// counts the result in `cfsign_edge_reloads_total` and
/// `cfsign_edge_last_reload_timestamp_seconds`; says so on standard error and
/// to systemd (RELOADING=1, then READY=1). TLS itself is turned on or off, and
/// a token removed, by a restart only (refused); the listeners, the cache and
/// the access log are kept as they run until a restart (reported, the rest
/// applied).
struct Reloader<A = Loader> {
    apply: std::sync::Arc<A>,
    metrics: Metrics,
    #[cfg(unix)]
    notifier: Option<std::sync::Arc<crate::notify::Notifier>>,
    /// Also the lock that makes reloads one at a time: held (as an owned
    /// guard) from before the work starts until it has been reported.
    files: std::sync::Arc<tokio::sync::Mutex<LoadedFiles>>,
}

/// The work of one reload, synchronous (it reads files: keys, certificates, a
/// token, perhaps a FIFO for up to 10 s); [`Reloader`] runs it off the async
/// workers, one at a time.
trait Apply: Send + Sync + 'static {
    fn apply(&self, files: &mut LoadedFiles) -> Result<Reloaded, ReloadError>;
}

impl<A: Apply> Reload for Reloader<A> {
    fn reload(&self, trigger: Trigger) -> ReloadFuture<'_> {
        Box::pin(async move {
            let mut files = self.files.clone().lock_owned().await;
            #[cfg(unix)]
            if let Some(n) = &self.notifier {
                n.send("RELOADING=1");
            }
            let apply = self.apply.clone();
            // The guard goes to the blocking thread and comes back: the next
            // reload waits for this one to be reported too.
            let done = tokio::task::spawn_blocking(move || {
                let result = apply.apply(&mut files);
                (result, files)
            })
            .await;
            let (result, _files) = match done {
                Ok((result, files)) => (result, Some(files)),
                Err(e) => (
                    Err(ReloadError::Invalid(format!(
                        "the reload stopped before it completed ({e})"
                    ))),
                    None,
                ),
            };
            self.metrics.reloaded(result.is_ok());
            match &result {
                Ok(done) => {
                    let what = match (done.tls_certificate, done.admin_token) {
                        (false, false) => "configuration and keys",
                        (true, false) => "configuration, keys and TLS certificate",
                        (false, true) => "configuration, keys and admin token",
                        (true, true) => "configuration, keys, TLS certificate and admin token",
                    };
                    let changed = if done.changed.is_empty() {
                        "no file changed".to_owned()
                    } else {
                        format!("changed: {}", done.changed.join(", "))
                    };
                    eprintln!("cfsign edge: {what} reloaded ({trigger}; {changed})");
                    if !done.not_applied.is_empty() {
                        eprintln!(
                            "cfsign edge: not applied by the reload, still as the edge started: {}; a restart applies them",
                            done.not_applied.join(", ")
                        );
                    }
                }
                Err(e) => eprintln!(
                    "cfsign edge: reload failed ({trigger}), keeping the running configuration: {e}"
                ),
            }
            // Ready again, with the new configuration or the old one.
            #[cfg(unix)]
            if let Some(n) = &self.notifier {
                n.send("READY=1");
            }
            result
        })
    }
}

/// The settings a running edge keeps as it started until a restart: its
/// listeners, how it sends, its object cache and its access log.
#[derive(Debug, Clone, PartialEq)]
struct RestartOnly {
    listen: std::net::SocketAddr,
    admin_listen: Option<std::net::SocketAddr>,
    listen_backlog: u32,
    send_timeout: Duration,
    cache: Option<CacheSettings>,
    access_log: Option<AccessLogFormat>,
    access_log_file: Option<PathBuf>,
}

impl RestartOnly {
    fn of(config: &EdgeConfig) -> Self {
        Self {
            listen: config.listen,
            admin_listen: config.admin_listen,
            listen_backlog: config.listen_backlog,
            send_timeout: config.send_timeout,
            cache: config.cache,
            access_log: config.access_log,
            access_log_file: config.access_log_file.clone(),
        }
    }

    /// The settings that differ in `newer`, named as in the configuration file.
    fn differences(&self, newer: &Self) -> Vec<String> {
        [
            ("listen", self.listen == newer.listen),
            ("admin_listen", self.admin_listen == newer.admin_listen),
            (
                "listen_backlog",
                self.listen_backlog == newer.listen_backlog,
            ),
            ("send_timeout", self.send_timeout == newer.send_timeout),
            ("cache", self.cache == newer.cache),
            ("access_log", self.access_log == newer.access_log),
            (
                "access_log_file",
                self.access_log_file == newer.access_log_file,
            ),
        ]
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| name.to_owned())
        .collect()
    }
}

/// What a reload of the running edge loads, and where it puts it.
struct Loader {
    source: Source,
    edge: Edge,
    tls: Option<EdgeTls>,
    auth: AdminAuth,
    /// As the edge started (a reload does not change them).
    started: RestartOnly,
}

impl Apply for Loader {
    fn apply(&self, files: &mut LoadedFiles) -> Result<Reloaded, ReloadError> {
        // Before loading: a file changed while it is read is seen as changed.
        files.attempted = self.source.fingerprint();
        let config = self
            .source
            .load()
            .map_err(|e| ReloadError::Invalid(format!("{e:#}")))?;
        match (&self.tls, &config.tls) {
            (Some(_), None) => {
                return Err(ReloadError::NeedsRestart(
                    "[tls] was removed; turning TLS off needs a restart".to_owned(),
                ));
            }
            (None, Some(_)) => {
                return Err(ReloadError::NeedsRestart(
                    "[tls] was added; turning TLS on needs a restart".to_owned(),
                ));
            }
            _ => {}
        }
        if self.auth.token().is_some() && config.admin_token.is_none() {
            return Err(ReloadError::NeedsRestart(
                "the admin token was removed; running the admin listener without one (POST /invalidations open to \
                 anyone who reaches it) needs a restart"
                    .to_owned(),
            ));
        }
        let not_applied = self.started.differences(&RestartOnly::of(&config));
        self.edge.replace(&config.behaviors);
        if let (Some(running), Some(certificate)) = (&self.tls, &config.tls) {
            running.replace(certificate);
        }
        warn_about_token(config.admin_token.as_ref());
        let admin_token = config.admin_token.is_some();
        self.auth.replace(config.admin_token);
        let changed = (files.attempted.changed(&files.running).iter())
            .map(|p| p.display().to_string())
            .collect();
        files.running = files.attempted.clone();
        Ok(Reloaded {
            behaviors: config.behaviors.iter().count(),
            tls_certificate: self.tls.is_some(),
            admin_token,
            changed,
            not_applied,
        })
    }
}

/// On each SIGHUP, reopen the access-log file (for logrotate without
/// copytruncate), then reload.
#[cfg(unix)]
async fn reload_on_hangup(
    mut hangups: tokio::signal::unix::Signal,
    reloader: std::sync::Arc<Reloader>,
    log: Option<AccessLog>,
) {
    while hangups.recv().await.is_some() {
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
        let _ = reloader.reload(Trigger::Signal).await;
    }
}

/// Every `every`, read the files the configuration comes from; once their
/// contents differ from those last loaded (or tried) and have held still for
/// one more tick, reload (see `cfsign_edge::reload` for why this polls).
async fn reload_on_change(reloader: std::sync::Arc<Reloader>, every: Duration) {
    let mut debounce = cfsign_edge::reload::Debounce::default();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let reading = reloader.apply.clone();
        let Ok(now) = tokio::task::spawn_blocking(move || reading.source.fingerprint()).await
        else {
            continue;
        };
        let settled = {
            let files = reloader.files.lock().await;
            debounce.settled(&now, &files.attempted)
        };
        if settled {
            let _ = reloader.reload(Trigger::Watch).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A stand-in for the reload's work that counts how many run at once.
    #[derive(Default)]
    struct Counting {
        running: AtomicUsize,
        most: AtomicUsize,
        runs: AtomicUsize,
    }

    impl Apply for Counting {
        fn apply(&self, _: &mut LoadedFiles) -> Result<Reloaded, ReloadError> {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            // long enough for every other caller to arrive meanwhile
            std::thread::sleep(Duration::from_millis(30));
            self.running.fetch_sub(1, Ordering::SeqCst);
            self.runs.fetch_add(1, Ordering::SeqCst);
            Ok(Reloaded::default())
        }
    }

    #[test]
    fn concurrent_reloads_run_one_at_a_time_off_the_async_workers() {
        let counting = Arc::new(Counting::default());
        let reloader = Arc::new(Reloader {
            apply: counting.clone(),
            metrics: Metrics::new(),
            #[cfg(unix)]
            notifier: None,
            files: Arc::new(tokio::sync::Mutex::new(LoadedFiles {
                running: Fingerprint::default(),
                attempted: Fingerprint::default(),
            })),
        });
        // One worker: were a reload's work done on it, nothing else would run meanwhile.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let triggers = [Trigger::Signal, Trigger::Admin, Trigger::Watch];
            let calls: Vec<_> = (0..9)
                .map(|i| {
                    let reloader = reloader.clone();
                    tokio::spawn(async move { reloader.reload(triggers[i % 3]).await })
                })
                .collect();
            // queued behind the nine: it runs while they do, not after them
            let probe = {
                let counting = counting.clone();
                tokio::spawn(async move { counting.runs.load(Ordering::SeqCst) })
            };
            assert!(probe.await.unwrap() < 9, "the worker was blocked");
            for call in calls {
                assert_eq!(call.await.unwrap(), Ok(Reloaded::default()));
            }
        });
        assert_eq!(counting.runs.load(Ordering::SeqCst), 9);
        assert_eq!(
            counting.most.load(Ordering::SeqCst),
            1,
            "reloads overlapped"
        );
    }

    #[test]
    fn restart_only_settings_are_named_as_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut edge = SimpleEdge::new(dir.path());
        edge.public = true;
        let source = ConfigSource::Simple(edge);
        let started = RestartOnly::of(&source.load(&ConfigOverrides::default()).unwrap());
        assert!(started.differences(&started.clone()).is_empty());
        let overrides = ConfigOverrides {
            listen: Some("127.0.0.1:9999".parse().unwrap()),
            admin_listen: Some("127.0.0.1:9901".parse().unwrap()),
            listen_backlog: Some(64),
            send_timeout: Some(5),
            access_log: Some("json".to_owned()),
            access_log_file: Some(dir.path().join("access.log")),
            cache_max_bytes: Some(0),
            ..ConfigOverrides::default()
        };
        let newer = RestartOnly::of(&source.load(&overrides).unwrap());
        assert_eq!(
            started.differences(&newer),
            [
                "listen",
                "admin_listen",
                "listen_backlog",
                "send_timeout",
                "cache",
                "access_log",
                "access_log_file"
            ]
        );
    }
}
