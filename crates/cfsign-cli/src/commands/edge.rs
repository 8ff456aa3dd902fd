//! `cfsign edge`: the CloudFront-compatible gateway over a directory.

use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use cfsign::verify::Verifier;
use cfsign_edge::access::{AccessConfig, Scheme, SharedVerifier};
use cfsign_edge::origin::{DirectoryOrigin, Origin};
use cfsign_edge::server;

use crate::cli::EdgeArgs;
use crate::commands::verify::key_group;

pub(crate) fn run(args: &EdgeArgs) -> Result<()> {
    let origin = DirectoryOrigin::new(&args.root)
        .with_context(|| format!("--root {}", args.root.display()))?;
    let access = if args.public {
        None
    } else {
        let group = key_group(&args.public_key)?;
        if group.keys().is_empty() {
            bail!(
                "no public key: give --public-key KEYID=PATH (repeat for a key group), or --public to serve \
                 without signatures"
            );
        }
        let verifier = Verifier::new()
            .with_key_group(group)
            .with_signature_cache(100_000);
        let mut config = AccessConfig::new(SharedVerifier::new(verifier), Scheme::Http);
        if let Some(base) = &args.public_base_url {
            let ok = base.starts_with("http://") || base.starts_with("https://");
            if !ok || base.trim_end_matches('/').matches('/').count() != 2 {
                bail!(
                    "--public-base-url {base:?}: give scheme and host only, e.g. https://cdn.example.com"
                );
            }
            config = config.public_base_url(base.clone());
        }
        let proxies = args
            .trusted_proxy
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .with_context(|| {
                        format!("--trusted-proxy {p:?} is not an IP address or CIDR range")
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Some(config.trusted_proxies(proxies))
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("--listen {}: cannot listen", args.listen))?;
        let address = listener
            .local_addr()
            .context("reading the listening address")?;
        let restricted = if access.is_some() {
            "signed URLs and cookies required"
        } else {
            "public, no signatures"
        };
        eprintln!(
            "cfsign edge: serving {} on http://{address} ({restricted}); Ctrl-C to stop",
            origin.root().display()
        );
        let origin: Arc<dyn Origin> = Arc::new(origin);
        server::serve(
            listener,
            server::router(origin, access),
            server::shutdown_signal(),
        )
        .await
        .context("serving")
    })
}
