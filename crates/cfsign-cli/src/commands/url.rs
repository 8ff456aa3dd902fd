//! `cfsign url`: sign one URL.

use std::io::Write as _;

use anyhow::{Context as _, Result};
use cfsign::input::Limit;
use cfsign::lint;

use crate::cli::UrlArgs;
use crate::commands::{iso, policy_value, print_warnings, warnings_json, with_schema};
use crate::signing::{SigningConfig, read_stdin_value};

/// `cfsign url -`: one URL on standard input.
const URL_INPUT: Limit = Limit::new(
    "the URL",
    64 * 1024,
    "`cfsign url -` reads one URL (CloudFront accepts at most 8,192 bytes); for a list of URLs \
     use `cfsign batch`",
);

pub(crate) fn run(args: &UrlArgs) -> Result<()> {
    let text = args
        .url
        .as_deref()
        .or(args.url_flag.as_deref())
        .unwrap_or_default();
    let from_stdin = text == "-";
    let config = SigningConfig::from_args(&args.signing, from_stdin.then_some("URL -"))?;
    let read;
    let text = if from_stdin {
        read = read_stdin_value(&URL_INPUT, "URL")?;
        read.as_str()
    } else {
        text
    };
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
            "policy": policy_value(policy.json()),
            "policy_text": policy.json(),
            "expires": policy.date_less_than().get(),
            "expires_at": iso(policy.date_less_than()),
            "key_pair_id": config.signer.key_pair_id().as_str(),
            "hash_algorithm": config.signer.hash_algorithm().as_param(),
            "key_type": config.signer.key_type().to_string(),
            "warnings": warnings_json(&warnings),
        });
        writeln!(out, "{}", with_schema(value)).context("writing to stdout")?;
    } else {
        print_warnings(&warnings);
        writeln!(out, "{signed}").context("writing to stdout")?;
    }
    Ok(())
}
