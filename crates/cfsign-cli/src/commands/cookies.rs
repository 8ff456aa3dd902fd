//! `cfsign cookies`: sign cookies.

use std::io::Write as _;

use anyhow::{Context as _, Result};
use cfsign::excerpt::Excerpt;
use cfsign::{CookieAttributes, Resource, SameSite, lint, time};

use crate::cli::CookiesArgs;
use crate::commands::{iso, policy_value, print_warnings, warnings_json, with_schema};
use crate::signing::SigningConfig;

pub(crate) fn run(args: &CookiesArgs) -> Result<()> {
    let config = SigningConfig::from_args(&args.signing, None)?;
    let policy = if config.policy.options.resource().is_some() {
        // With --resource, the positional argument is a URL the cookies must work for.
        let url = config.policy.url(&args.target)?;
        let policy = config.policy.policy_for(&url)?;
        anyhow::ensure!(
            policy.covers(&url),
            "--resource {} does not cover {}, so these cookies would not grant it",
            Excerpt::start(policy.resource().map_or("", Resource::as_str)),
            Excerpt::start(url.as_str())
        );
        policy
    } else {
        let text = if config.policy.encodes() {
            config.policy.url(&args.target)?.to_string()
        } else {
            args.target.clone()
        };
        let resource = Resource::parse(&text)
            .with_context(|| format!("URL_OR_PATTERN {}", Excerpt::start(&args.target)))?;
        config.policy.policy_for_resource(resource)?
    };
    let mut attributes = CookieAttributes::default()
        .path(args.path.clone())
        .secure(!args.no_secure)
        .http_only(!args.no_http_only)
        .same_site(args.same_site.parse::<SameSite>().context("--same-site")?);
    if let Some(d) = &args.domain {
        attributes = attributes.domain(d.clone());
    }
    if let Some(m) = &args.max_age {
        attributes = attributes.max_age(time::parse_duration(m).context("--max-age")?);
    }
    let cookies = config.signer.sign_cookies(&policy)?;
    let headers = cookies.set_cookie_headers(&attributes)?;
    let warnings = lint::lint_cookies(
        &cookies,
        &policy,
        &attributes,
        config.policy.options.now(),
        Some(config.signer.key_type()),
    );
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = serde_json::json!({
            "cookies": cookies.pairs().into_iter().map(|(n, v)| serde_json::json!({"name": n, "value": v})).collect::<Vec<_>>(),
            "set_cookie": headers,
            "cookie_header": cookies.cookie_header(),
            "policy_form": policy.form().to_string(),
            "policy": policy_value(policy.json()),
            "policy_text": policy.json(),
            "expires": policy.date_less_than().get(),
            "expires_at": iso(policy.date_less_than()),
            "warnings": warnings_json(&warnings),
        });
        writeln!(out, "{}", with_schema(value)).context("writing to stdout")?;
    } else {
        print_warnings(&warnings);
        for h in headers {
            writeln!(out, "Set-Cookie: {h}").context("writing to stdout")?;
        }
    }
    Ok(())
}
