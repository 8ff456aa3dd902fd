//! `cfsign aws ...`: provisioning, key rotation and diagnosis through the AWS API
//! (the `cfsign-aws` crate). The commands are synchronous on the outside: each
//! builds a small tokio runtime and blocks on the library's async calls.

pub(crate) mod args;

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use cfsign::{
    HashAlgorithm, KeyPairId, Policy, PrivateKey, PublicKey, Resource, SignableUrl, Signer,
};
use cfsign_aws::client::{ApiError, AwsSettings, Clients, IncompleteAnswer};
use cfsign_aws::doctor::{self, DoctorError, DoctorOptions};
use cfsign_aws::keys::{self, KeysError};
use cfsign_aws::kms::{KmsError, KmsSigningKey};
use cfsign_aws::plan::{Action, Plan};
use cfsign_aws::setup::{self, SetupError, SetupOptions, ViewerProtocol};
use indicatif::{ProgressBar, ProgressStyle};

use args::{AwsArgs, AwsCommand, DoctorArgs, KeySource, KeysAddArgs, KeysCommand, SetupArgs};

/// How often `setup` looks at the distribution while waiting for `Deployed`.
const POLL: Duration = Duration::from_secs(15);

/// The exit code of `cfsign aws` when AWS failed: a service answered with an error
/// (or an unusable answer, or kept a resource changing or deploying), or could not be
/// reached. Bad usage or input stays 2; `doctor` finding errors is 1.
pub(crate) const AWS_FAILURE: u8 = 3;

/// Whether `error` is a failure of AWS ([`AWS_FAILURE`]) rather than of the input.
pub(crate) fn is_aws_failure(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        if e.is::<ApiError>() || e.is::<IncompleteAnswer>() {
            return true;
        }
        if let Some(keys) = e.downcast_ref::<KeysError>() {
            return keys_failure(keys);
        }
        if let Some(setup) = e.downcast_ref::<SetupError>() {
            return match setup {
                SetupError::Keys(keys) => keys_failure(keys),
                SetupError::Api { .. }
                | SetupError::IncompleteAnswer(_)
                | SetupError::BucketForbidden(_)
                | SetupError::EtagRace(..)
                | SetupError::NotDeployed { .. } => true,
                _ => false,
            };
        }
        matches!(
            e.downcast_ref::<DoctorError>(),
            Some(DoctorError::Api { .. })
        ) || matches!(e.downcast_ref::<KmsError>(), Some(KmsError::Api { .. }))
    })
}

fn keys_failure(error: &KeysError) -> bool {
    matches!(
        error,
        KeysError::Api { .. } | KeysError::IncompleteAnswer(_) | KeysError::EtagRace { .. }
    )
}

/// Runs `cfsign aws ...`; returns the exit code (doctor: 1 when it found errors).
pub(crate) fn run(args: &AwsArgs) -> Result<u8> {
    let settings = AwsSettings {
        profile: args.profile.clone(),
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
        static_credentials: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let plan = if args.dry_run {
        Plan::dry_run()
    } else {
        Plan::apply()
    };
    let clients = runtime.block_on(settings.load())?;
    let ctx = Ctx {
        settings: &settings,
        clients: &clients,
        plan: &plan,
        json: args.json,
        runtime: &runtime,
    };
    match &args.command {
        AwsCommand::Setup(a) => setup_command(&ctx, a).map(|()| 0),
        AwsCommand::Keys(KeysCommand::List(a)) => keys_list(&ctx, &a.key_group).map(|()| 0),
        AwsCommand::Keys(KeysCommand::Add(a)) => keys_add(&ctx, a, false).map(|()| 0),
        AwsCommand::Keys(KeysCommand::Rotate(a)) => keys_add(&ctx, a, true).map(|()| 0),
        AwsCommand::Keys(KeysCommand::Retire(a)) => keys_retire(&ctx, a).map(|()| 0),
        AwsCommand::Doctor(a) => doctor_command(&ctx, a),
    }
}

struct Ctx<'a> {
    settings: &'a AwsSettings,
    clients: &'a Clients,
    plan: &'a Plan,
    json: bool,
    runtime: &'a tokio::runtime::Runtime,
}

impl Ctx<'_> {
    fn dry_run(&self) -> bool {
        !self.plan.applies()
    }

    fn print(&self, text: &str) -> Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}").context("writing to stdout")
    }

    /// The calls of this run, for JSON output.
    fn calls_json(&self) -> serde_json::Value {
        serde_json::to_value(self.plan.calls()).unwrap_or_default()
    }

    /// In a dry run: the calls that would change something.
    fn print_dry_run(&self) -> Result<()> {
        if !self.dry_run() {
            return Ok(());
        }
        let changes = self.plan.changes();
        let mut text = String::from("\ndry run: nothing was changed");
        if changes.is_empty() {
            text.push_str("; no call would change anything");
        } else {
            text.push_str("; these calls would be made:");
            for c in changes {
                text.push_str("\n  ");
                text.push_str(&c.to_string());
            }
        }
        self.print(&text)
    }
}

/// The signing side of a key source: a local private key, or KMS.
enum SigningSide {
    Local(PrivateKey),
    Kms(KmsSigningKey),
    None,
}

/// Resolves `--public-key | --generate-key | --kms-key-id` into the public key to
/// upload (and the private side, when there is one).
fn resolve_key(
    ctx: &Ctx<'_>,
    source: &KeySource,
    key_type: crate::cli::KeyTypeArg,
    private_key: Option<&Path>,
) -> Result<(PublicKey, SigningSide)> {
    if let Some(path) = &source.public_key {
        let public = PublicKey::from_file(path)
            .with_context(|| format!("--public-key {}", path.display()))?;
        let side = match private_key {
            Some(p) => {
                let key = PrivateKey::from_file(p)
                    .with_context(|| format!("--private-key {}", p.display()))?;
                anyhow::ensure!(
                    key.public_key()?.spki_der() == public.spki_der(),
                    "--private-key {} is not the private half of --public-key {}",
                    p.display(),
                    path.display()
                );
                SigningSide::Local(key)
            }
            None => SigningSide::None,
        };
        return Ok((public, side));
    }
    if let Some(dir) = &source.generate_key {
        let existing = dir.join("private_key.pem");
        let key = if existing.exists() {
            eprintln!(
                "reusing the key pair in {} (delete it for a new one)",
                dir.display()
            );
            PrivateKey::from_file(&existing)
                .with_context(|| format!("--generate-key: {}", existing.display()))?
        } else if ctx.dry_run() {
            eprintln!(
                "dry run: a key pair would be written to {}; using a throwaway one",
                dir.display()
            );
            PrivateKey::generate(crate::commands::keygen::key_type(key_type))?
        } else {
            let (private_path, public_path) = crate::commands::keygen::write_generated_key_pair(
                dir,
                crate::commands::keygen::key_type(key_type),
            )?;
            eprintln!(
                "generated {} (mode 0600, keep it secret) and {}",
                private_path.display(),
                public_path.display()
            );
            PrivateKey::from_file(&private_path)?
        };
        return Ok((key.public_key()?, SigningSide::Local(key)));
    }
    if let Some(id) = &source.kms_key_id {
        let key = KmsSigningKey::connect(ctx.settings, id).context("--kms-key-id")?;
        return Ok((key.public_key().clone(), SigningSide::Kms(key)));
    }
    Err(anyhow!(
        "give one of --public-key PEM, --generate-key DIR or --kms-key-id ARN|ID"
    ))
}

/// A first signed URL (one hour) for `https://DOMAIN/OBJECT`.
fn first_url(
    side: SigningSide,
    key_pair_id: &str,
    domain: &str,
    object: &str,
) -> Result<Option<String>> {
    let signer = match side {
        SigningSide::None => return Ok(None),
        SigningSide::Local(key) => Signer::new(KeyPairId::new(key_pair_id)?, key),
        SigningSide::Kms(key) => Signer::new(KeyPairId::new(key_pair_id)?, key)
            .with_hash_algorithm(HashAlgorithm::Sha256)?,
    };
    let url = SignableUrl::parse(&format!(
        "https://{domain}/{}",
        object.trim_start_matches('/')
    ))
    .context("--first-object")?;
    let policy = Policy::builder(Resource::Url(url.clone()))
        .expires_in(Duration::from_secs(3600))
        .build()?;
    Ok(Some(signer.sign_url(&url, &policy)?.into_string()))
}

fn setup_command(ctx: &Ctx<'_>, a: &SetupArgs) -> Result<()> {
    let wait_timeout = cfsign::time::parse_duration(&a.wait_timeout).context("--wait-timeout")?;
    let (public_key, side) = resolve_key(ctx, &a.key, a.key_type, a.private_key.as_deref())?;
    let mut options = SetupOptions::new(&a.bucket, public_key);
    options.create_bucket = a.create_bucket;
    options.key_group.clone_from(&a.key_group);
    options.comment.clone_from(&a.comment);
    options.viewer_protocol = if a.redirect_http {
        Some(ViewerProtocol::RedirectToHttps)
    } else if a.https_only {
        Some(ViewerProtocol::HttpsOnly)
    } else {
        None
    };
    options.ipv6 = a.no_ipv6.then_some(false);
    let mut report = ctx
        .runtime
        .block_on(setup::run(ctx.clients, ctx.plan, &options))?;
    if ctx.plan.applies() && !a.no_wait && report.status != "Deployed" {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        let id = report.distribution_id.clone();
        bar.set_message(format!("distribution {id}: {}", report.status));
        let status = ctx.runtime.block_on(setup::wait_deployed(
            ctx.clients,
            ctx.plan,
            &id,
            wait_timeout,
            POLL,
            |status, _| bar.set_message(format!("distribution {id}: {status}")),
        ));
        bar.finish_and_clear();
        report.status = status?;
    }
    let url = if ctx.dry_run() {
        None
    } else {
        first_url(side, &report.key_pair_id, &report.domain, &a.first_object)?
    };
    if ctx.json {
        let value = serde_json::json!({
            "dry_run": ctx.dry_run(),
            "report": report,
            "unchanged": report.unchanged(),
            "signed_url": url,
            "calls": ctx.calls_json(),
        });
        return ctx.print(&crate::commands::with_schema(value).to_string());
    }
    let mut text = String::new();
    for r in &report.resources {
        text.push_str(&format!(
            "{:<22} {:<16} {}\n",
            r.kind,
            r.action.describe(ctx.dry_run()),
            r.id
        ));
    }
    if !ctx.dry_run() {
        text.push_str(&format!(
            "\ndistribution {} ({}): {}\nKey-Pair-Id: {}\nkey group:   {}",
            report.distribution_id,
            report.domain,
            report.status,
            report.key_pair_id,
            report.key_group_id
        ));
    }
    match &url {
        Some(u) => text.push_str(&format!("\n\nfirst signed URL (valid 1 hour):\n{u}")),
        None if !ctx.dry_run() => text.push_str(&format!(
            "\n\nsign URLs with: cfsign url 'https://{}/{}' --key-pair-id {} --private-key private_key.pem --expires-in 1h",
            report.domain,
            a.first_object.trim_start_matches('/'),
            report.key_pair_id
        )),
        None => {}
    }
    if !ctx.dry_run() {
        text.push_str(&format!(
            "\nupload objects to s3://{}/ (only this distribution can read them)",
            report.bucket
        ));
    }
    ctx.print(&text)?;
    ctx.print_dry_run()
}

fn keys_list(ctx: &Ctx<'_>, group: &str) -> Result<()> {
    let (state, list) = ctx
        .runtime
        .block_on(keys::list(ctx.clients, ctx.plan, group))?;
    if ctx.json {
        let keys: Vec<serde_json::Value> = list
            .iter()
            .map(|k| {
                serde_json::json!({
                    "id": k.id, "name": k.name, "created": k.created, "comment": k.comment,
                    "fingerprint": k.fingerprint, "key_type": k.key_type,
                })
            })
            .collect();
        let value = serde_json::json!({"key_group": state, "keys": keys});
        return ctx.print(&crate::commands::with_schema(value).to_string());
    }
    let mut text = format!(
        "key group {} ({}): {} key(s)\n",
        state.name,
        state.id,
        list.len()
    );
    text.push_str(&format!(
        "{:<16} {:<28} {:<12} {:<32} {}\n",
        "ID", "CREATED", "TYPE", "NAME", "FINGERPRINT / COMMENT"
    ));
    for k in &list {
        text.push_str(&format!(
            "{:<16} {:<28} {:<12} {:<32} {}{}\n",
            k.id,
            k.created,
            k.key_type,
            k.name,
            k.fingerprint,
            k.comment
                .as_deref()
                .filter(|c| !c.is_empty())
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        ));
    }
    ctx.print(text.trim_end())
}

fn keys_add(ctx: &Ctx<'_>, a: &KeysAddArgs, rotate: bool) -> Result<()> {
    let (public_key, _) = resolve_key(ctx, &a.key, a.key_type, None)?;
    let added = ctx.runtime.block_on(keys::add(
        ctx.clients,
        ctx.plan,
        &a.key_group,
        &public_key,
        a.name.as_deref(),
        a.comment.as_deref(),
    ))?;
    if ctx.json {
        let value = serde_json::json!({
            "dry_run": ctx.dry_run(), "added": added, "calls": ctx.calls_json(),
        });
        return ctx.print(&crate::commands::with_schema(value).to_string());
    }
    let dry = ctx.dry_run();
    let mut text = format!(
        "public key {}: {}\nkey group {} ({}): {}",
        added.key_id,
        added.public_key.describe(dry),
        added.key_group,
        added.key_group_id,
        if added.membership == Action::Unchanged {
            "unchanged (already has the key)"
        } else {
            added.membership.describe(dry)
        }
    );
    if rotate {
        text.push_str(&format!(
            "\n\nsign new URLs and cookies with Key-Pair-Id {}",
            added.key_id
        ));
        if !added.previous_key_ids.is_empty() {
            text.push_str(
                "\nthe old key(s) stay valid during the overlap; once every URL signed with them has \
                 expired (their longest lifetime, plus cache TTLs), retire them:",
            );
            for old in &added.previous_key_ids {
                text.push_str(&format!(
                    "\n  cfsign aws keys retire --key-group {} --key-id {old}",
                    added.key_group
                ));
            }
        }
    }
    ctx.print(&text)?;
    ctx.print_dry_run()
}

fn keys_retire(ctx: &Ctx<'_>, a: &args::KeysRetireArgs) -> Result<()> {
    let retired = ctx.runtime.block_on(keys::retire(
        ctx.clients,
        ctx.plan,
        &a.key_group,
        &a.key_id,
        !a.keep_public_key,
    ))?;
    if ctx.json {
        let value = serde_json::json!({
            "dry_run": ctx.dry_run(), "retired": retired, "calls": ctx.calls_json(),
        });
        return ctx.print(&crate::commands::with_schema(value).to_string());
    }
    let dry = ctx.dry_run();
    let mut text = format!(
        "key group {}: {} {} (remaining: {})\npublic key {}: {}",
        retired.key_group_id,
        if retired.membership == Action::Unchanged {
            "already without"
        } else if dry {
            "would remove"
        } else {
            "removed"
        },
        retired.key_id,
        retired.remaining_key_ids.join(", "),
        retired.key_id,
        retired.public_key.describe(dry),
    );
    if let Some(why) = &retired.kept_because {
        text.push_str(&format!(" (kept: {why})"));
    }
    ctx.print(&text)?;
    ctx.print_dry_run()
}

fn doctor_command(ctx: &Ctx<'_>, a: &DoctorArgs) -> Result<u8> {
    let mut options = DoctorOptions::new(&a.distribution);
    options.url.clone_from(&a.url);
    options.fetch = !a.no_fetch;
    let report = ctx
        .runtime
        .block_on(doctor::run(ctx.clients, ctx.plan, &options))?;
    let code = u8::from(report.has_errors());
    if ctx.json {
        ctx.print(
            &crate::commands::with_schema(serde_json::to_value(&report).context("JSON")?)
                .to_string(),
        )?;
        return Ok(code);
    }
    let mut text = format!(
        "distribution {} ({}): {}",
        report.distribution_id, report.domain, report.status
    );
    if let Some(b) = &report.matched_behavior {
        text.push_str(&format!("\nthe URL matches behavior {b}"));
    }
    if let Some(v) = &report.url_verdict {
        text.push_str(&format!(
            "\nverdict with the keys read from CloudFront: {v}"
        ));
    }
    if let Some(f) = &report.fetch {
        text.push_str(&format!(
            "\nGET: {} (Server: {}, X-Cache: {}){}",
            f.status,
            f.server.as_deref().unwrap_or("-"),
            f.x_cache.as_deref().unwrap_or("-"),
            f.denied_by
                .map(|b| format!(", denied by {b}"))
                .unwrap_or_default()
        ));
    }
    if report.findings.is_empty() {
        text.push_str("\n\nno problems found");
    }
    for f in &report.findings {
        text.push_str(&format!(
            "\n\n{} [{}] {}: {}\n  fix: {}",
            f.severity, f.code, f.resource, f.message, f.fix
        ));
    }
    let errors = report
        .findings
        .iter()
        .filter(|f| f.severity == doctor::Severity::Error)
        .count();
    text.push_str(&format!(
        "\n\n{errors} error(s), {} other finding(s)",
        report.findings.len() - errors
    ));
    ctx.print(&text)?;
    Ok(code)
}
