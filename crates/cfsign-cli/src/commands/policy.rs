//! `cfsign policy`: print and lint the policy that would be signed.

use std::io::Write as _;

use anyhow::{Context as _, Result};
use cfsign::excerpt::Excerpt;
use cfsign::{KeyType, Resource, lint, resource};

use crate::cli::{KeyTypeArg, PolicyArgs};
use crate::commands::{iso, policy_value, print_warnings, warnings_json, with_schema};
use crate::signing::PolicyConfig;

pub(crate) fn run(args: &PolicyArgs) -> Result<()> {
    let config = PolicyConfig::from_options(&args.policy)?;
    // A URL is linted against the policy (coverage, length); a pattern stands alone.
    let url = if resource::has_wildcard(&args.target) {
        None
    } else {
        Some(config.url(&args.target)?)
    };
    let policy = match &url {
        Some(u) => config.policy_for(u)?,
        None => {
            let resource = Resource::parse(&args.target)
                .with_context(|| format!("URL_OR_PATTERN {}", Excerpt::start(&args.target)))?;
            config.policy_for_resource(resource)?
        }
    };
    let key_type = match args.key_type {
        Some(KeyTypeArg::Ecdsa) => KeyType::EcdsaP256,
        _ => KeyType::Rsa2048,
    };
    let warnings = lint::lint_policy(&policy, url.as_ref(), config.options.now(), Some(key_type));
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = serde_json::json!({
            "policy": policy_value(policy.json()),
            "policy_text": policy.json(),
            "policy_form": policy.form().to_string(),
            "resource": policy.resource().map(Resource::as_str),
            "expires": policy.date_less_than().get(),
            "expires_at": iso(policy.date_less_than()),
            "not_before": policy.date_greater_than().map(|t| t.get()),
            "source_ip": policy.source_ip().map(|ip| ip.to_string()),
            "warnings": warnings_json(&warnings),
        });
        writeln!(out, "{}", with_schema(value)).context("writing to stdout")?;
    } else {
        print_warnings(&warnings);
        writeln!(out, "{}", policy.json()).context("writing to stdout")?;
    }
    Ok(())
}
