//! `cfsign edge invalidate`: drop cached objects from running edges, like a
//! CloudFront invalidation, through their admin listeners.
//!
//! Every instance behind a load balancer has its own cache, so every instance
//! must be invalidated: the paths (and every admin URL) are validated first, so
//! that a typo fails before any request is sent; then each instance is posted
//! the same invalidation in parallel, each bounded by `--timeout`, and reported
//! on its own line, in the order given. The command succeeds only if every
//! instance did.

use std::time::Duration;

use anyhow::{Context as _, Result};
use cfsign_edge::admin::{self, AdminToken, InvalidationRequest};
use cfsign_edge::cache::invalidation::InvalidationPaths;

use serde_json::json;

use crate::cli::InvalidateArgs;
use crate::commands::with_schema;

/// Runs the invalidation; `Ok(false)` if some instance was not invalidated
/// (each one's outcome is printed).
pub(crate) fn run(args: &InvalidateArgs) -> Result<bool> {
    let paths = InvalidationPaths::parse(&args.paths)?;
    for url in &args.admin {
        admin::invalidations_url(url).context("--admin")?;
    }
    let mut request = InvalidationRequest::new(&paths)?;
    if let Some(file) = &args.admin_token_file {
        let token = AdminToken::from_file(file).context("--admin-token-file")?;
        request = request.with_token(token);
    }
    let timeout = Duration::from_secs(args.timeout);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcomes = runtime.block_on(async {
        let sends: Vec<_> = args
            .admin
            .iter()
            .map(|url| {
                let (request, url) = (request.clone(), url.clone());
                tokio::spawn(async move { request.send(&url, timeout).await })
            })
            .collect();
        let mut outcomes = Vec::with_capacity(sends.len());
        for send in sends {
            outcomes.push(send.await);
        }
        outcomes
    });
    // Each instance's answer, or why it has none (a failed send, or a task that panicked).
    let answers: Vec<Result<_, String>> = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        })
        .collect();
    let failed = answers.iter().filter(|a| a.is_err()).count();
    if args.json {
        let instances: Vec<serde_json::Value> = args
            .admin
            .iter()
            .zip(&answers)
            .map(|(url, answer)| match answer {
                Ok(a) => json!({"admin": url, "ok": true, "paths": a.paths, "invalidated": a.invalidated}),
                Err(e) => json!({"admin": url, "ok": false, "error": e}),
            })
            .collect();
        println!(
            "{}",
            with_schema(json!({"paths": args.paths, "instances": instances, "failed": failed}))
        );
    } else {
        for (url, answer) in args.admin.iter().zip(&answers) {
            match answer {
                Ok(a) => println!(
                    "{url}: {} path(s), {} cached object(s) dropped",
                    a.paths, a.invalidated
                ),
                Err(e) => println!("{url}: failed: {e}"),
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} edge instance(s) not invalidated: they still serve their cached copies; \
             run the command again for them (repeating an invalidation is harmless)",
            args.admin.len()
        );
    }
    Ok(failed == 0)
}
