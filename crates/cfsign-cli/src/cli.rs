//! Command-line definitions (parsed by clap, then validated into configs by
//! [`crate::signing`] and the commands).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Sign Amazon CloudFront URLs and cookies byte-for-byte as CloudFront expects \
                     (RSA-2048 or ECDSA P-256, SHA-1 or SHA-256)";

const AFTER_HELP: &str = "\
Start with `cfsign quickstart` (no AWS account needed).

Exit codes: 0 success; 1 `verify`/`explain` denied, `batch` finished but some lines failed, or
`edge invalidate` could not invalidate some instance; 2 bad usage or input (the message on stderr names the input and the fix).";

/// `cfsign --version`: the version, the git commit it was built from (`unknown` outside a git
/// checkout) and the enabled Cargo features, all but the version set by build.rs.
pub(crate) const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CFSIGN_GIT_COMMIT"),
    ", features: ",
    env!("CFSIGN_FEATURES"),
    ")"
);

/// The `cfsign` command.
#[derive(Debug, Parser)]
#[command(name = "cfsign", version = VERSION, about = ABOUT, after_help = AFTER_HELP, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Sign one URL and print it
    #[command(after_help = URL_EXAMPLES)]
    Url(UrlArgs),
    /// Sign cookies and print one Set-Cookie line per cookie
    #[command(after_help = COOKIES_EXAMPLES)]
    Cookies(CookiesArgs),
    /// Print the policy JSON that would be signed, and lint it (no key needed)
    #[command(after_help = POLICY_EXAMPLES)]
    Policy(PolicyArgs),
    /// Generate a key pair: private_key.pem (0600) and public_key.pem for CloudFront
    #[command(after_help = KEYGEN_EXAMPLES)]
    Keygen(KeygenArgs),
    /// Sign many URLs: one per input line, one signed URL per output line, same order
    #[command(after_help = BATCH_EXAMPLES)]
    Batch(BatchArgs),
    /// Sign every URI of an HLS playlist or a DASH MPD: the rewritten manifest on stdout
    #[command(after_help = MANIFEST_EXAMPLES)]
    Manifest(ManifestArgs),
    /// Decide a signed URL or cookies as CloudFront would: `allowed`, or the 403 and why
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Diagnose why CloudFront would deny a signed URL or cookies, and how to fix it
    #[command(after_help = EXPLAIN_EXAMPLES)]
    Explain(VerifyArgs),
    /// Decode a signed URL or a Cookie header: parameters and policy, no verdict
    #[command(after_help = INSPECT_EXAMPLES)]
    Inspect(InspectArgs),
    /// Make a throwaway key pair, sign a sample URL and cookies, and explain each part
    #[command(
        after_help = "Examples:\n  cfsign quickstart\n  cfsign quickstart --serve   # keep the local edge running for a browser"
    )]
    Quickstart(QuickstartArgs),
    /// Serve a directory the way a CloudFront distribution with restricted viewer access does
    #[command(after_help = EDGE_EXAMPLES, args_conflicts_with_subcommands = true)]
    Edge(EdgeArgs),
    /// Provision, rotate keys and diagnose on AWS: setup, keys, doctor
    #[cfg(feature = "aws")]
    #[command(after_help = crate::commands::aws::args::AWS_EXAMPLES)]
    Aws(crate::commands::aws::args::AwsArgs),
    /// Print the shell completion script for bash, zsh, fish, powershell or elvish
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Write the man pages (cfsign.1 and one per subcommand) into a directory
    #[command(hide = true)]
    Manpages(ManpagesArgs),
}

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  # bash: for this shell, then for every new one
  source <(cfsign completions bash)
  cfsign completions bash > ~/.local/share/bash-completion/completions/cfsign

  # zsh: into a folder of $fpath, then restart zsh
  cfsign completions zsh > \"${fpath[1]}/_cfsign\"

  # fish
  cfsign completions fish > ~/.config/fish/completions/cfsign.fish

  # PowerShell: add this line to $PROFILE
  cfsign completions powershell | Out-String | Invoke-Expression";

/// Options of `completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to print the completion script for
    #[arg(value_enum, value_name = "SHELL")]
    pub(crate) shell: clap_complete::Shell,
}

/// Options of `manpages` (hidden: for packagers).
#[derive(Debug, Args)]
pub(crate) struct ManpagesArgs {
    /// The directory to write cfsign.1 and cfsign-SUBCOMMAND.1 into (created if missing)
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
}

const EDGE_EXAMPLES: &str = "\
Examples:
  # Serve ./media; only URLs and cookies signed with the key K2JCJMDEHXQW5F
  # are served
  cfsign edge --root ./media --public-key K2JCJMDEHXQW5F=public_key.pem \\
      --listen 127.0.0.1:8080

  # Then, in another terminal
  curl -i \"$(cfsign url http://127.0.0.1:8080/video.mp4 \\
      --key-pair-id K2JCJMDEHXQW5F --private-key private_key.pem \\
      --expires-in 10m)\"

  # Behind a load balancer that terminates TLS for cdn.example.com
  cfsign edge --root /srv/media --public-key K2JCJMDEHXQW5F=public_key.pem \\
      --listen 0.0.0.0:8080 --public-base-url https://cdn.example.com \\
      --trusted-proxy 10.0.0.0/8

  # HTTPS with a certificate and its key (PEM); SIGHUP re-reads them after a
  # renewal
  cfsign edge --root /srv/media --public-key K2JCJMDEHXQW5F=public_key.pem \\
      --listen 0.0.0.0:8443 \\
      --tls-cert /etc/letsencrypt/live/cdn.example.com/fullchain.pem \\
      --tls-key /etc/letsencrypt/live/cdn.example.com/privkey.pem

  # Several behaviors, origins and key groups from a file; check it first
  cfsign edge --config edge.toml --check && cfsign edge --config edge.toml

  # Prometheus metrics and /healthz on a separate port; JSON access logs into
  # a file
  cfsign edge --config edge.toml --admin-listen 127.0.0.1:9901 \\
      --access-log json --access-log-file /var/log/cfsign/access.log

  # Then drop cached objects before they expire (see its --help)
  cfsign edge invalidate --admin http://127.0.0.1:9901 /index.html '/videos/*'

  # Reload through the admin listener, with a token only the edge and its
  # operators can read; or reload whenever the files change (Kubernetes)
  (umask 077; openssl rand -hex 32 > admin-token)
  cfsign edge --config edge.toml --admin-listen 127.0.0.1:9901 \\
      --admin-token-file admin-token
  # curl takes the header from a file (mode 0600): the token is then not in
  # its arguments, which every local user can read in /proc
  (umask 077; printf 'Authorization: Bearer %s\\n' \"$(cat admin-token)\" \\
      > /etc/cfsign/admin-header)
  curl -fsS -X POST -H @/etc/cfsign/admin-header http://127.0.0.1:9901/reload
  cfsign edge --config /etc/cfsign/edge.toml --watch-config

Denials are CloudFront's 403 XML bodies and codes. GET and HEAD, ranges and conditional
requests are answered like S3 behind CloudFront. SIGHUP (which also reopens the access-log file),
POST /reload on the admin listener (with --admin-token-file) and --watch-config reload the
configuration, the keys, the TLS certificate and the token through one routine, one reload at a
time (a key rotation needs no restart); a configuration that fails to load leaves the running one
serving. Each reload is counted in cfsign_edge_reloads_total{result} and, when it succeeds,
cfsign_edge_last_reload_timestamp_seconds. Ctrl-C or SIGTERM stops it gracefully.

Access logs go to standard output (text by default: CloudFront's standard-log fields, tab-separated);
signatures, policies and cookie values are never logged. Messages go to standard error; with
--admin-listen, the second line there is `cfsign edge: admin listening on http://ADDR (/healthz, /readyz, /metrics, POST /invalidations)`
(with a token: `... POST /invalidations, POST /reload; the last two need the bearer token)`).";

/// Subcommands of `edge` (without one, `edge` serves).
#[derive(Debug, Subcommand)]
pub(crate) enum EdgeCommand {
    /// Drop cached objects from running edges, like a CloudFront invalidation, through each
    /// instance's admin listener (--admin-listen)
    #[command(after_help = INVALIDATE_EXAMPLES)]
    Invalidate(InvalidateArgs),
}

const INVALIDATE_EXAMPLES: &str = "\
Examples:
  # One edge started with --admin-listen 127.0.0.1:9901: one file, and
  # everything under /videos/
  cfsign edge invalidate --admin http://127.0.0.1:9901 /index.html '/videos/*'

  # Every instance behind the load balancer (each has its own cache)
  cfsign edge invalidate --admin http://10.0.1.5:9901 \\
      --admin http://10.0.2.7:9901 '/*'

Paths follow CloudFront's invalidation syntax: they start with '/', are case-sensitive, and may end
with '*' (a prefix: /images/* is everything under /images/, /images* also /images.jpg; '*' anywhere
else is refused). Non-ASCII and unsafe characters are percent-encoded (/caf%C3%A9.jpg); a query
string is not part of the cache key, so give the path before '?'. Quote paths with '*' for the shell.

Every path is checked before anything is sent. Each instance is then told in parallel and reported on
its own line (`ADMIN: N path(s), M cached object(s) dropped`, or `ADMIN: failed: why`); an instance
has --timeout seconds to answer. Exit codes: 0 every instance invalidated; 1 some did not (invalidate
them again: repeating an invalidation is harmless); 2 bad usage or an invalid path (nothing sent).";

/// Options of `edge invalidate`.
#[derive(Debug, Args)]
pub(crate) struct InvalidateArgs {
    /// The admin listener of an edge instance, http://HOST:PORT (its --admin-listen address);
    /// repeat for every instance
    #[arg(long = "admin", value_name = "URL", required = true)]
    pub(crate) admin: Vec<String>,

    /// A file holding the instances' admin token (their --admin-token-file), sent as
    /// `Authorization: Bearer`
    #[arg(long, value_name = "FILE")]
    pub(crate) admin_token_file: Option<std::path::PathBuf>,

    /// Seconds each instance has to answer, 1 to 600
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub(crate) timeout: u64,

    /// Print one JSON object: the paths and, per instance, its answer or its error
    #[arg(long)]
    pub(crate) json: bool,

    /// Paths to invalidate, as in a CloudFront invalidation: /images/photo.jpg, '/images/*', '/*'
    #[arg(value_name = "PATH", required = true)]
    pub(crate) paths: Vec<String>,
}

/// Options of `edge`.
#[derive(Debug, Args)]
pub(crate) struct EdgeArgs {
    #[command(subcommand)]
    pub(crate) command: Option<EdgeCommand>,

    /// A TOML configuration file with every option (behaviors, origins, key groups); see
    /// `cfsign_edge::config` or the README for the format
    #[arg(long, value_name = "FILE", conflicts_with_all = ["root", "public_key", "public", "public_base_url", "trusted_proxy", "cache_max_bytes", "default_ttl", "sign_manifests"])]
    pub(crate) config: Option<std::path::PathBuf>,

    /// Validate the configuration, print the behaviors, and exit
    #[arg(long)]
    pub(crate) check: bool,

    /// With --check: print one JSON object (listeners, TLS, admin, watch, access log, cache,
    /// behaviors) instead of text
    #[arg(long, requires = "check")]
    pub(crate) json: bool,

    /// The directory to serve (simple case, without --config)
    #[arg(long, value_name = "DIR")]
    pub(crate) root: Option<std::path::PathBuf>,

    /// A trusted public key: KEYID=PATH (repeat for a key group)
    #[arg(long, value_name = "KEYID=PATH")]
    pub(crate) public_key: Vec<String>,

    /// HLS and DASH manifests fetched with a signed URL (custom policy) get the viewer's own
    /// signing parameters on every URI the policy covers, so one signed manifest URL plays the
    /// whole stream (simple case, without --config; there: sign_manifests = true per behavior)
    #[arg(long)]
    pub(crate) sign_manifests: bool,

    /// Serve without checking signatures (an unrestricted behavior)
    #[arg(long, conflicts_with = "public_key")]
    pub(crate) public: bool,

    /// Address to listen on (default 127.0.0.1:8080, or the configuration's `listen`)
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<std::net::SocketAddr>,

    /// Viewer URLs start with this (e.g. https://cdn.example.com) instead of http:// and the Host header
    #[arg(long, value_name = "URL")]
    pub(crate) public_base_url: Option<String>,

    /// Believe X-Forwarded-For from peers in this range (repeatable)
    #[arg(long, value_name = "CIDR")]
    pub(crate) trusted_proxy: Vec<String>,

    /// Bytes the in-memory object cache holds (default 268435456 = 256 MiB; 0 turns it off)
    #[arg(long, value_name = "BYTES")]
    pub(crate) cache_max_bytes: Option<u64>,

    /// Seconds an object stays cached when the origin sends no Cache-Control max-age or
    /// Expires (default 86400, CloudFront's; use 0 while editing the files being served)
    #[arg(long, value_name = "SECONDS")]
    pub(crate) default_ttl: Option<u64>,

    /// Serve GET /healthz, GET /readyz, GET /metrics (Prometheus), POST /invalidations (`cfsign edge
    /// invalidate`) and POST /reload on this separate address, to keep private: it speaks plain
    /// HTTP, and without --admin-token-file anyone who reaches it may invalidate (default: the
    /// configuration's `admin_listen`, else none)
    #[arg(long, value_name = "ADDR")]
    pub(crate) admin_listen: Option<std::net::SocketAddr>,

    /// A file holding the admin listener's bearer token (at least 32 characters, e.g. from
    /// `openssl rand -hex 32`; mode 0600: a file other users can read is refused). POST /reload
    /// and POST /invalidations then need `Authorization: Bearer TOKEN`; without a token POST
    /// /reload is refused. Needs an admin listener (--admin-listen, or the configuration's
    /// `admin_listen`). Read again on every reload (default: the configuration's
    /// `admin_token_file`, else none)
    #[arg(long, value_name = "FILE")]
    pub(crate) admin_token_file: Option<std::path::PathBuf>,

    /// Reload when the configuration file, or a key, certificate or token file it names,
    /// changes: their contents are polled (Kubernetes swaps a mounted secret's `..data` symlink,
    /// which file events and modification times miss); a change is applied once it has held still
    /// for one interval, and a change that fails to load is not tried again until it changes
    #[arg(long)]
    pub(crate) watch_config: bool,

    /// Seconds between two polls of --watch-config, 1 to 3600
    #[arg(long, value_name = "SECONDS", default_value_t = 2, requires = "watch_config",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) watch_interval: u64,

    /// Serve HTTPS with this PEM certificate chain (the server's certificate first); needs
    /// --tls-key. Overrides the configuration's [tls]. Signed URLs are then matched as https://
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub(crate) tls_cert: Option<std::path::PathBuf>,

    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1 RSA or SEC1 EC; unencrypted); needs
    /// --tls-cert
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub(crate) tls_key: Option<std::path::PathBuf>,

    /// Access log, one line per request: CloudFront's standard-log fields tab-separated (text),
    /// as JSON, or off (default: the configuration's `access_log`, else text)
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json", "off"])]
    pub(crate) access_log: Option<String>,

    /// Append the access log to this file instead of standard output
    #[arg(long, value_name = "FILE")]
    pub(crate) access_log_file: Option<std::path::PathBuf>,

    /// Close a connection whose response has waited this many seconds for the viewer to accept
    /// any data (a client that stopped reading), 1 to 3600 (default: the configuration's
    /// `send_timeout`, else 30)
    #[arg(long, value_name = "SECONDS")]
    pub(crate) send_timeout: Option<u64>,

    /// Connections the kernel queues before the edge accepts them, 1 to 65535 (default: the
    /// configuration's `listen_backlog`, else 511; Linux caps it at net.core.somaxconn)
    #[arg(long, value_name = "CONNECTIONS")]
    pub(crate) listen_backlog: Option<u64>,
}

const VERIFY_EXAMPLES: &str = "\
Examples:
  # SIGNED_URL: e.g. https://d111111abcdef8.cloudfront.net/a.jpg?Expires=...
  cfsign verify \"$SIGNED_URL\" --public-key K2JCJMDEHXQW5F=public_key.pem

  # Signed cookies, an IP-restricted policy, a given time
  cfsign verify 'https://d111111abcdef8.cloudfront.net/videos/1.ts' \\
      --public-key K2JCJMDEHXQW5F=public_key.pem \\
      --cookie 'CloudFront-Policy=...; CloudFront-Signature=...; ...' \\
      --client-ip 203.0.113.7 --now 2026-06-01T12:00:00Z

  # Bulk check of URLs from a log: one verdict line per input line
  cut -f 8 access.log |
      cfsign verify - --public-key K2JCJMDEHXQW5F=public_key.pem

Exit codes: 0 allowed (all allowed with -); 1 denied (first line: 403 <Code>: <Message>, then the reason);
2 bad usage or input (with -, a line over 16 KiB stops the run). Several --public-key options form
the trusted key group.";

const EXPLAIN_EXAMPLES: &str = "\
Examples:
  # SIGNED_URL: e.g. https://d111111abcdef8.cloudfront.net/a.jpg?Expires=...
  cfsign explain \"$SIGNED_URL\" --public-key K2JCJMDEHXQW5F=public_key.pem
  cfsign explain \"$SIGNED_URL\"   # decode-only, no key

It tries the usual causes of 403s (missing Hash-Algorithm, a re-encoded URL, a parameter added after
signing, a wildcard in a canned policy, the wrong key, expiry in milliseconds, ...) and names the one
that fits. Exit code 0 when allowed or nothing is wrong that could be seen, 1 otherwise.";

const INSPECT_EXAMPLES: &str = "\
Examples:
  # SIGNED_URL: e.g. https://d111111abcdef8.cloudfront.net/a.jpg?Policy=...
  cfsign inspect \"$SIGNED_URL\"

  # A Cookie header's value
  cfsign inspect 'CloudFront-Policy=...; CloudFront-Signature=...; ...'";

/// Options of `verify` and `explain`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The URL as the viewer requests it (signed, or plain with --cookie); `-` reads one URL per line
    #[arg(value_name = "SIGNED_URL")]
    pub(crate) url: String,

    /// A trusted public key: the key-pair ID and the public key file (SPKI PEM, as uploaded to CloudFront)
    #[arg(long, value_name = "KEYID=PATH")]
    pub(crate) public_key: Vec<String>,

    /// The request's Cookie header (the part after `Cookie: `)
    #[arg(long, value_name = "COOKIE_HEADER")]
    pub(crate) cookie: Option<String>,

    /// The viewer's IP address (for policies with an IP condition)
    #[arg(long, value_name = "IP")]
    pub(crate) client_ip: Option<String>,

    /// Decide at this time instead of now (TIME as for `cfsign url --expires`)
    #[arg(long, value_name = "TIME")]
    pub(crate) now: Option<String>,

    /// Print JSON (one object per line with -)
    #[arg(long)]
    pub(crate) json: bool,
}

/// Options of `inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// A signed URL, or a Cookie header with CloudFront-* cookies (`-`: read it from stdin)
    #[arg(value_name = "SIGNED_URL_OR_COOKIE_HEADER")]
    pub(crate) input: String,

    /// Print JSON
    #[arg(long)]
    pub(crate) json: bool,
}

const URL_EXAMPLES: &str = "\
Examples:
  # Canned policy, valid for 15 minutes
  cfsign url 'https://d111111abcdef8.cloudfront.net/videos/intro.mp4' \\
      --key-pair-id K2JCJMDEHXQW5F --private-key private_key.pem \\
      --expires-in 15m

  # Custom policy: not before a time, only from one network, SHA-256
  cfsign url 'https://d111111abcdef8.cloudfront.net/report.pdf' \\
      --key-pair-id K2JCJMDEHXQW5F --private-key private_key.pem \\
      --expires 2030-01-01T00:00:00Z \\
      --not-before 2029-12-31T00:00:00Z --ip 203.0.113.0/24 --hash sha256

  # Sign a wildcard, deliver a specific URL (the same signature works for
  # every file under /album/)
  cfsign url 'https://d111111abcdef8.cloudfront.net/album/1.jpg' \\
      --resource 'https://d111111abcdef8.cloudfront.net/album/*' \\
      --key-pair-id K2JCJMDEHXQW5F --private-key private_key.pem --expires-in 1h

  # A raw URL with spaces or non-ASCII: --encode percent-encodes it first,
  # then signs what it prints
  cfsign url 'https://d111111abcdef8.cloudfront.net/Résumé 2026.pdf' --encode \\
      --key-pair-id K2JCJMDEHXQW5F --private-key private_key.pem --expires-in 1h

  # Drop-in for `aws cloudfront sign`
  cfsign url --url 'https://d111111abcdef8.cloudfront.net/a.jpg' \\
      --key-pair-id K2JCJMDEHXQW5F --private-key file://private_key.pem \\
      --date-less-than 2030-01-01

The URL must be exactly what the client will request: absolute http(s), percent-encoded, ASCII,
no fragment, none of Expires, Policy, Signature, Key-Pair-Id, Hash-Algorithm. It is never re-encoded.
TIME: epoch seconds, YYYY-MM-DD (00:00 UTC), YYYY-MM-DDThh:mm:ss (UTC), or with Z / +hh:mm.
DURATION: 90s, 15m, 2h, 7d, 1h30m.";

const COOKIES_EXAMPLES: &str = "\
Examples:
  # Everything under /course-42/ for 4 hours, on your alternate domain
  cfsign cookies 'https://media.example.com/course-42/*' \\
      --key-pair-id K2JCJMDEHXQW5F --private-key private_key.pem \\
      --expires-in 4h --domain media.example.com --path /course-42/

  # JSON for an application to set
  cfsign cookies 'https://d111111abcdef8.cloudfront.net/*' \\
      --key-pair-id K2JCJMDEHXQW5F --private-key private_key.pem \\
      --expires-in 1h --json

Defaults: Secure, HttpOnly, SameSite=Lax, Path=/, host-only (no Domain), session cookies.
A URL without wildcards gives a canned policy, valid for that one URL only (you are warned).";

const POLICY_EXAMPLES: &str = "\
Examples:
  cfsign policy 'https://d111111abcdef8.cloudfront.net/videos/*' \\
      --expires-in 1h --ip 192.0.2.0/24
  cfsign policy 'https://d111111abcdef8.cloudfront.net/a.jpg' \\
      --expires 2030-01-01 --json

  # Lint a policy file
  cfsign policy 'https://d111111abcdef8.cloudfront.net/a.jpg' \\
      --policy my-policy.json

The JSON goes to stdout exactly as it would be signed; warnings go to stderr.";

const KEYGEN_EXAMPLES: &str = "\
Examples:
  cfsign keygen                    # ECDSA P-256 into the current folder
  cfsign keygen --out keys/        # into keys/ (created if missing)
  cfsign keygen --type rsa         # RSA-2048: longer URLs, slower signing

ECDSA P-256 is the default: its signatures are shorter (so are the URLs) and faster to make;
CloudFront has accepted ECDSA P-256 public keys since September 2025.";

const BATCH_EXAMPLES: &str = "\
Examples:
  # One URL per line in, one signed URL per line out (same order), all cores
  cfsign batch --key-pair-id K2JCJMDEHXQW5F --private-key private_key.pem \\
      --expires-in 1h < urls.txt > signed.txt

  # Sign one wildcard policy once and stamp it on every URL (HLS segments,
  # galleries)
  cfsign batch --resource 'https://d111111abcdef8.cloudfront.net/hls/show-7/*' \\
      --key-pair-id K2JCJMDEHXQW5F --private-key private_key.pem \\
      --expires-in 6h --input segments.txt

  # JSON lines with per-line options
  echo '{\"url\":\"https://d111111abcdef8.cloudfront.net/a.jpg\",\"ip\":\"10.0.0.1\"}' |
      cfsign batch --jsonl --key-pair-id K2JCJMDEHXQW5F \\
      --private-key private_key.pem --expires-in 1h

A bad line is reported on stderr with its line number; its output line is left empty (plain mode)
or holds {\"line\":N,\"error\":...} (JSON lines), and the exit code is 1. The others are signed.
A line over 64 KiB stops the run with exit code 2, after the lines before it were written.
JSON-lines fields: url (required), expires, expires_in, not_before, ip, resource, encode.";

const MANIFEST_EXAMPLES: &str = "\
Examples:
  # One policy for the stream's folder, stamped on every segment, key and
  # child playlist
  cfsign manifest https://d111111abcdef8.cloudfront.net/movies/42/index.m3u8 \\
      --input index.m3u8 --key-pair-id K2JCJMDEHXQW5F \\
      --private-key private_key.pem --expires-in 6h > signed.m3u8

  # A DASH MPD from stdin, a resource wider than the manifest's folder, a JSON
  # report
  curl -s https://origin.example.com/movies/42/dash/a.mpd |
  cfsign manifest 'https://d111111abcdef8.cloudfront.net/movies/42/dash/a.mpd' \\
      --input - --resource 'https://d111111abcdef8.cloudfront.net/movies/42/*' \\
      --key-pair-id K2JCJMDEHXQW5F --private-key private_key.pem \\
      --expires-in 6h --json

  # Each URI its own canned signature (HLS, or DASH without SegmentTemplate)
  cfsign manifest https://d111111abcdef8.cloudfront.net/movies/42/720p.m3u8 \\
      --input 720p.m3u8 --mode urls --key-pair-id K2JCJMDEHXQW5F \\
      --private-key private_key.pem --expires-in 6h

MANIFEST_URL is where players fetch the manifest: relative URIs are resolved against it to decide
which ones the resource covers (default: the manifest's folder and below). Covered URIs get the
signing parameters (after '?', or '&' when they have a query); relative URIs stay relative; every
other byte is kept. URIs outside the resource, with another scheme (skd://, data:), already signed,
or not valid as players send them are left alone and listed on stderr.
The format is told from the content (#EXTM3U or an <MPD> root element). --mode policy (default)
signs one custom policy and stamps it on every URI; it is the only mode for DASH SegmentTemplate
($Number$, $Time$), whose URLs exist only in the player. --mode urls signs each URI with a canned
policy (expiry only). --mode url-query (DASH) signs nothing: it adds DASH's UrlQueryInfo
(ISO/IEC 23009-1 Annex I) to every AdaptationSet, so the MPD is the same for every viewer and can be
stored as it is; players that support it (dash.js 5+, Shaka Player 4.11+; not Media3/ExoPlayer)
append the MPD URL's query to every segment request, so one MPD URL signed for the folder
(`cfsign url URL --resource 'FOLDER/*'`) signs the segments too.
Output: the manifest on stdout and a summary on stderr; with --json, one JSON object on stdout with
the manifest and the report. Exit codes: 0 written; 2 bad usage or input (nothing on stdout).";

/// Options of `manifest`.
#[derive(Debug, Args)]
pub(crate) struct ManifestArgs {
    /// The manifest's URL as players fetch it (without signing parameters)
    #[arg(value_name = "MANIFEST_URL")]
    pub(crate) url: String,

    /// The manifest to rewrite: a file, or - for standard input
    #[arg(long, value_name = "FILE", required = true)]
    pub(crate) input: String,

    /// policy: one custom policy stamped on every URI; urls: each URI signed on its own;
    /// url-query: DASH only, nothing signed: UrlQueryInfo makes the player append the signed MPD
    /// URL's query to its segment requests (dash.js 5+, Shaka 4.11+)
    #[arg(long, value_enum, default_value = "policy")]
    pub(crate) mode: ManifestMode,

    #[command(flatten)]
    pub(crate) signing: SigningArgs,

    /// Print one JSON object: the manifest, what was signed and what was left alone
    #[arg(long)]
    pub(crate) json: bool,
}

/// How `manifest` signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ManifestMode {
    Policy,
    Urls,
    UrlQuery,
}

/// Options shared by every command that signs.
#[derive(Debug, Args, Clone)]
pub(crate) struct SigningArgs {
    /// ID of the CloudFront public key (e.g. K2JCJMDEHXQW5F)
    #[arg(
        long,
        env = cfsign::env::KEY_PAIR_ID,
        hide_env_values = true,
        value_name = "ID"
    )]
    pub(crate) key_pair_id: Option<String>,

    /// Private key file (PEM or DER; PKCS#1, PKCS#8 or SEC1). `file://PATH` is accepted, and
    /// `-` reads the key from stdin. The key's contents can instead be given in
    /// $CFSIGN_PRIVATE_KEY_PEM
    #[arg(
        long,
        env = cfsign::env::PRIVATE_KEY,
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub(crate) private_key: Option<String>,

    /// Sign through AWS KMS with this key (ID, ARN, alias/NAME): RSA_2048 or ECC_NIST_P256,
    /// SHA-256 only; credentials, region and endpoint from the standard AWS chain
    /// (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL). Needs the `aws` feature (on by default)
    #[arg(
        long,
        env = "CFSIGN_KMS_KEY_ID",
        hide_env_values = true,
        value_name = "ARN|ID",
        conflicts_with = "private_key"
    )]
    pub(crate) kms_key_id: Option<String>,

    /// Hash: sha1 (CloudFront's default) or sha256 (adds Hash-Algorithm=SHA256; the only
    /// one with --kms-key-id)
    #[arg(
        long,
        alias = "hash-algorithm",
        value_name = "sha1|sha256",
        ignore_case = true
    )]
    pub(crate) hash: Option<HashArg>,

    #[command(flatten)]
    pub(crate) policy: PolicyOptions,
}

/// Options that shape the policy.
#[derive(Debug, Args, Clone)]
pub(crate) struct PolicyOptions {
    /// When access ends (DateLessThan): epoch seconds, YYYY-MM-DD, YYYY-MM-DDThh:mm:ss[Z|±hh:mm]
    #[arg(
        long,
        alias = "date-less-than",
        value_name = "TIME",
        conflicts_with = "expires_in"
    )]
    pub(crate) expires: Option<String>,

    /// When access ends, from now: 90s, 15m, 2h, 7d
    #[arg(long, value_name = "DURATION")]
    pub(crate) expires_in: Option<String>,

    /// When access starts (DateGreaterThan; makes the policy custom)
    #[arg(long, alias = "date-greater-than", value_name = "TIME")]
    pub(crate) not_before: Option<String>,

    /// Only viewers from this IPv4 address or CIDR (IpAddress; a bare address gets /32)
    #[arg(long, alias = "ip-address", value_name = "CIDR")]
    pub(crate) ip: Option<String>,

    /// The policy resource when it differs from the URL, e.g. a wildcard
    /// 'https://host/videos/*' or 'https://host/a.ts?v=?' ('?' after the query's
    /// start matches one character; makes the policy custom)
    #[arg(long, alias = "policy-resource", value_name = "PATTERN")]
    pub(crate) resource: Option<String>,

    /// Sign this custom policy JSON file exactly as written (`-` for stdin)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["expires", "expires_in", "not_before", "ip", "resource"])]
    pub(crate) policy: Option<String>,

    /// Percent-encode the URL first (spaces, non-ASCII, ...) and sign what that prints
    #[arg(long)]
    pub(crate) encode: bool,

    /// Accept an expiry that is already past (for reproducing old URLs)
    #[arg(long)]
    pub(crate) allow_past_expiry: bool,

    /// Use this time as "now" instead of the system clock (TIME as for --expires)
    #[arg(long, value_name = "TIME")]
    pub(crate) now: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum HashArg {
    Sha1,
    Sha256,
}

#[derive(Debug, Args)]
pub(crate) struct UrlArgs {
    /// The URL exactly as the client will request it (`-`: read it from stdin)
    #[arg(value_name = "URL", required_unless_present = "url_flag")]
    pub(crate) url: Option<String>,

    /// Same as the positional URL (for `aws cloudfront sign` compatibility)
    #[arg(long = "url", value_name = "URL", conflicts_with = "url")]
    pub(crate) url_flag: Option<String>,

    #[command(flatten)]
    pub(crate) signing: SigningArgs,

    /// Print JSON with the URL, the policy and its parts
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CookiesArgs {
    /// What the cookies grant: a URL or a wildcard pattern ('https://host/path/*')
    #[arg(value_name = "URL_OR_PATTERN")]
    pub(crate) target: String,

    #[command(flatten)]
    pub(crate) signing: SigningArgs,

    /// Cookie Domain (default: none, i.e. only the host that sets them)
    #[arg(long, value_name = "DOMAIN")]
    pub(crate) domain: Option<String>,

    /// Cookie Path, a literal prefix such as /videos/ (default: /)
    #[arg(long, value_name = "PATH", default_value = "/")]
    pub(crate) path: String,

    /// SameSite: lax (default), strict, or none (cross-site embedding; requires Secure)
    #[arg(long, value_name = "lax|strict|none", default_value = "lax")]
    pub(crate) same_site: String,

    /// Max-Age (default: session cookies, as AWS recommends)
    #[arg(long, value_name = "DURATION")]
    pub(crate) max_age: Option<String>,

    /// Leave out Secure (only for plain-http testing; browsers treat localhost as secure anyway)
    #[arg(long)]
    pub(crate) no_secure: bool,

    /// Leave out HttpOnly (lets page scripts read the cookies)
    #[arg(long)]
    pub(crate) no_http_only: bool,

    /// Print JSON instead of Set-Cookie lines
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    /// The URL (or pattern) the policy is for
    #[arg(value_name = "URL_OR_PATTERN")]
    pub(crate) target: String,

    #[command(flatten)]
    pub(crate) policy: PolicyOptions,

    /// Key type for the URL-length estimate (default: rsa, the longer signature)
    #[arg(long = "type", value_enum, value_name = "rsa|ecdsa")]
    pub(crate) key_type: Option<KeyTypeArg>,

    /// Print JSON with the policy, its form and the warnings
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyTypeArg {
    Rsa,
    Ecdsa,
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Key type: ecdsa (P-256: shorter signatures, so shorter URLs, and faster signing) or
    /// rsa (RSA-2048)
    #[arg(long = "type", value_enum, default_value = "ecdsa")]
    pub(crate) key_type: KeyTypeArg,

    /// Folder to write private_key.pem and public_key.pem to (created if missing)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub(crate) out: PathBuf,

    /// Replace existing files
    #[arg(long)]
    pub(crate) force: bool,

    /// Print JSON: the files written, the key type and the next step (never the private key)
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BatchArgs {
    /// Read from this file instead of stdin (`-` is stdin). Lines from a pipe or a terminal
    /// are signed and written one by one as they arrive
    #[arg(long, value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,

    /// Input and output are JSON lines with per-line options
    #[arg(long)]
    pub(crate) jsonl: bool,

    /// Worker threads (default: all cores; with --kms-key-id, 8 concurrent KMS calls)
    #[arg(long, value_name = "N")]
    pub(crate) threads: Option<usize>,

    /// Do not show a progress bar even on a terminal
    #[arg(long)]
    pub(crate) no_progress: bool,

    #[command(flatten)]
    pub(crate) signing: SigningArgs,
}

#[derive(Debug, Args)]
pub(crate) struct QuickstartArgs {
    /// Key type for the throwaway key pair
    #[arg(long = "type", value_enum, default_value = "ecdsa")]
    pub(crate) key_type: KeyTypeArg,

    /// Keep the local edge running and print a signed URL to open in a browser
    #[arg(long)]
    pub(crate) serve: bool,

    /// Print JSON with each step's results (the files, the signed samples, the edge's
    /// replies; never the private key)
    #[arg(long, conflicts_with = "serve")]
    pub(crate) json: bool,
}
