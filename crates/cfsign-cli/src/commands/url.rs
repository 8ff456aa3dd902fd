//! `cfsign url`: sign one URL.

use std::io::Write as _;

use anyhow::{Context as _, Result};
use cfsign::lint;

use crate::cli::UrlArgs;
use crate::commands::{iso, print_warnings, warnings_json};
use crate::signing::SigningConfig;

pub(crate) fn run(args: &UrlArgs) -> Result<()> {
    let text = args
        .url
        .as_deref()
        .or(args.url_flag.as_deref())
        .unwrap_or_default();
    let config = SigningConfig::from_args(&args.signing)?;
    let url = config.policy.url(text)?;
    let policy = config.policy.policy_for(&url)?;
    let signed = config.signer.sign_url(&url, &policy)?;
    let warnings = lint::lint_signed_url(
        &policy,
        &url,
        config.policy.options.now(),
        Some(config.signer.key_type()),
    );
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = serde_json::json!({
            "url": signed.as_str(),
            "policy_form": policy.form().to_string(),
            "policy": policy.json(),
            "expires": policy.date_less_than().get(),
            "expires_at": iso(policy.date_less_than()),
            "key_pair_id": config.signer.key_pair_id().as_str(),
            "hash_algorithm": config.signer.hash_algorithm().as_param(),
            "key_type": config.signer.key_type().to_string(),
            "warnings": warnings_json(&warnings),
        });
        writeln!(out, "{value}").context("writing to stdout")?;
    } else {
        print_warnings(&warnings);
        writeln!(out, "{signed}").context("writing to stdout")?;
    }
    Ok(())
}
