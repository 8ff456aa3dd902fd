//! Validation of the shared signing flags into a [`SigningConfig`]: the key is
//! loaded and parsed once, times are resolved against one "now", and every error
//! names the flag it came from.

use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};
use cfsign::excerpt::Excerpt;
use cfsign::input::{Limit, Source};
use cfsign::key::PRIVATE_KEY_FILE;
use cfsign::options::{OptionsError, PolicyInputs, SigningOptions};
use cfsign::policy::{POLICY_FILE, PolicyError};
use cfsign::time::{self, parse_instant};
use cfsign::{HashAlgorithm, KeyPairId, Policy, PrivateKey, Resource, SignableUrl, Signer, env};
use jiff::Timestamp;

use crate::cli::{HashArg, PolicyOptions, SigningArgs};

/// Environment variable holding the private key's contents.
pub(crate) const KEY_PEM_ENV: &str = env::PRIVATE_KEY_PEM;

/// A loaded signer plus the policy settings.
pub(crate) struct SigningConfig {
    pub(crate) signer: Signer,
    pub(crate) policy: PolicyConfig,
    /// Whether the private key is in AWS KMS (each signature is a network call).
    pub(crate) kms: bool,
}

impl SigningConfig {
    /// `stdin` names the command's own input when it reads standard input (e.g.
    /// `URL -`), so that `--private-key -` or `--policy -` cannot also claim it.
    pub(crate) fn from_args(args: &SigningArgs, stdin: Option<&str>) -> Result<Self> {
        one_stdin_use(&[
            (stdin.unwrap_or_default(), stdin.is_some()),
            (
                "--private-key -",
                args.private_key.as_deref().is_some_and(is_stdin),
            ),
            (
                "--policy -",
                args.policy.policy.as_deref().is_some_and(is_stdin),
            ),
        ])?;
        let policy = PolicyConfig::from_options(&args.policy)?;
        let id = args.key_pair_id.as_deref().ok_or_else(|| {
            anyhow!("no key pair ID: give --key-pair-id ID (the ID of your public key in CloudFront) or set CFSIGN_KEY_PAIR_ID")
        })?;
        let key_pair_id = KeyPairId::new(id).context("--key-pair-id")?;
        if let Some(kms_key_id) = &args.kms_key_id {
            let signer = kms_signer(key_pair_id, kms_key_id, args.hash)?;
            return Ok(Self {
                signer,
                policy,
                kms: true,
            });
        }
        let key = load_private_key(args.private_key.as_deref())?;
        let hash = match args.hash {
            None | Some(HashArg::Sha1) => HashAlgorithm::Sha1,
            Some(HashArg::Sha256) => HashAlgorithm::Sha256,
        };
        let signer = Signer::new(key_pair_id, key)
            .with_hash_algorithm(hash)
            .context("--hash")?;
        Ok(Self {
            signer,
            policy,
            kms: false,
        })
    }
}

/// A signer whose private key stays in AWS KMS; always SHA-256 (KMS has no SHA-1).
#[cfg(feature = "aws")]
fn kms_signer(key_pair_id: KeyPairId, kms_key_id: &str, hash: Option<HashArg>) -> Result<Signer> {
    if hash == Some(HashArg::Sha1) {
        bail!(
            "--kms-key-id signs with SHA-256 only (AWS KMS cannot sign SHA-1), but --hash sha1 was asked \
             for; drop --hash or pass --hash sha256 (CloudFront then receives Hash-Algorithm=SHA256)"
        );
    }
    let key = cfsign_aws::kms::KmsSigningKey::connect(
        &cfsign_aws::client::AwsSettings::default(),
        kms_key_id,
    )
    .context("--kms-key-id")?;
    Signer::new(key_pair_id, key)
        .with_hash_algorithm(HashAlgorithm::Sha256)
        .context("--kms-key-id")
}

#[cfg(not(feature = "aws"))]
fn kms_signer(_: KeyPairId, _: &str, _: Option<HashArg>) -> Result<Signer> {
    bail!(
        "--kms-key-id needs cfsign built with its `aws` feature (on by default): cargo install --path \
         crates/cfsign-cli --features aws"
    )
}

/// Loads the private key from `--private-key` / `$CFSIGN_PRIVATE_KEY` (a path) or
/// `$CFSIGN_PRIVATE_KEY_PEM` (the contents).
pub(crate) fn load_private_key(path: Option<&str>) -> Result<PrivateKey> {
    if let Some(path) = path {
        if is_stdin(path) {
            let bytes = PRIVATE_KEY_FILE
                .read(std::io::stdin().lock(), Source::Stdin)
                .context("--private-key -")?;
            return PrivateKey::from_bytes(&bytes).context("--private-key - (standard input)");
        }
        let path = path.strip_prefix("file://").unwrap_or(path);
        if path.contains("-----BEGIN") {
            bail!(
                "--private-key takes a file path, but it was given key contents; save them to a file \
                 (mode 0600) or put them in ${KEY_PEM_ENV}"
            );
        }
        return PrivateKey::from_file(path).context("--private-key");
    }
    match env::private_key_from_env() {
        Ok(key) => Ok(key),
        Err(env::EnvError::NoPrivateKey) => bail!(
            "no private key: give --private-key PATH, or set {} (a path) or {KEY_PEM_ENV} (the PEM contents)",
            env::PRIVATE_KEY
        ),
        Err(e) => Err(e.into()),
    }
}

/// Whether a file or value argument is `-` (or `file://-`): standard input.
pub(crate) fn is_stdin(value: &str) -> bool {
    value.strip_prefix("file://").unwrap_or(value) == "-"
}

/// Refuses a command that would read standard input for more than one of its
/// inputs (`uses`: each input as named in messages, and whether it is `-`).
pub(crate) fn one_stdin_use(uses: &[(&str, bool)]) -> Result<()> {
    let named: Vec<&str> = uses
        .iter()
        .filter(|(_, used)| *used)
        .map(|(name, _)| *name)
        .collect();
    if let [first, rest @ ..] = named.as_slice()
        && !rest.is_empty()
    {
        bail!(
            "{first} and {} both read standard input, which can hold only one of them; give the \
             other as a file",
            rest.join(" and ")
        );
    }
    Ok(())
}

/// One value given as `-`: standard input, at most `limit`, as UTF-8 text without
/// its final line end (`\n` or `\r\n`); `what` names the argument. Input of more
/// than one line is refused.
pub(crate) fn read_stdin_value(limit: &Limit, what: &str) -> Result<String> {
    let text = limit
        .read_to_string(std::io::stdin().lock(), Source::Stdin)
        .with_context(|| format!("{what} -"))?;
    let value = text.strip_suffix('\n').unwrap_or(&text);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.contains('\n') {
        bail!("{what} -: standard input holds more than one line; give exactly one value");
    }
    Ok(value.to_owned())
}

/// Policy settings resolved against one "now" (the core's [`SigningOptions`]),
/// plus `--encode`.
#[derive(Clone)]
pub(crate) struct PolicyConfig {
    pub(crate) options: SigningOptions,
    encode: bool,
}

/// Per-line overrides in `batch --jsonl`.
#[derive(Default)]
pub(crate) struct Overrides<'a> {
    pub(crate) expires: Option<&'a str>,
    pub(crate) expires_in: Option<&'a str>,
    pub(crate) not_before: Option<&'a str>,
    pub(crate) ip: Option<&'a str>,
    pub(crate) resource: Option<&'a str>,
    pub(crate) encode: Option<bool>,
}

impl PolicyConfig {
    pub(crate) fn from_options(o: &PolicyOptions) -> Result<Self> {
        let now = match &o.now {
            Some(t) => parse_instant(t).context("--now")?,
            None => Timestamp::now(),
        };
        let options = SigningOptions::new(now).allow_past_expiry(o.allow_past_expiry);
        if let Some(file) = &o.policy {
            let text = read_policy_file(file)?;
            let policy = Policy::from_json(&text).with_context(|| format!("--policy {file}"))?;
            let options = options.with(PolicyInputs {
                policy: Some(policy),
                ..PolicyInputs::default()
            })?;
            return Ok(Self {
                options,
                encode: o.encode,
            });
        }
        let config = Self {
            options,
            encode: o.encode,
        };
        config.with_overrides(&Overrides {
            expires: o.expires.as_deref(),
            expires_in: o.expires_in.as_deref(),
            not_before: o.not_before.as_deref(),
            ip: o.ip.as_deref(),
            resource: o.resource.as_deref(),
            encode: None,
        })
    }

    /// A copy with (per-line) overrides applied.
    pub(crate) fn with_overrides(&self, o: &Overrides<'_>) -> Result<Self> {
        if o.expires.is_some() && o.expires_in.is_some() {
            bail!("give either an expiry time (--expires) or a duration (--expires-in), not both");
        }
        let mut inputs = PolicyInputs::default();
        if let Some(t) = o.expires {
            inputs.expires = Some(parse_instant(t).context("--expires")?);
            inputs.expires_as_written = Some(t.to_owned());
        }
        if let Some(d) = o.expires_in {
            inputs.expires_in = Some(time::parse_duration(d).context("--expires-in")?);
        }
        if let Some(t) = o.not_before {
            inputs.not_before = Some(parse_instant(t).context("--not-before")?);
        }
        if let Some(ip) = o.ip {
            inputs.source_ip = Some(ip.parse().context("--ip")?);
        }
        if let Some(r) = o.resource {
            inputs.resource = Some(Resource::parse(r).context("--resource")?);
        }
        let options = self.options.with(inputs).map_err(|e| match e {
            OptionsError::PolicyWithPart { .. } => {
                anyhow!("per-line policy options cannot be combined with --policy FILE")
            }
            OptionsError::Time(t) => anyhow!(t).context("--expires-in"),
            other => anyhow!(other),
        })?;
        Ok(Self {
            options,
            encode: o.encode.unwrap_or(self.encode),
        })
    }

    /// Whether `--encode` is on.
    pub(crate) fn encodes(&self) -> bool {
        self.encode
    }

    /// Validates (or, with --encode, encodes) a URL argument.
    pub(crate) fn url(&self, text: &str) -> Result<SignableUrl> {
        let parsed = if self.encode {
            SignableUrl::encode(text)
        } else {
            SignableUrl::parse(text)
        };
        parsed.map_err(|e| {
            let shown = Excerpt::around(text, e.position().unwrap_or(0));
            anyhow!(e).context(format!("URL {shown}"))
        })
    }

    /// The policy for delivering `url`.
    pub(crate) fn policy_for(&self, url: &SignableUrl) -> Result<Policy> {
        self.options.policy_for_url(url).map_err(flag_hints)
    }

    /// The policy for a resource given directly (cookies, `policy` command).
    pub(crate) fn policy_for_resource(&self, resource: Resource) -> Result<Policy> {
        self.options
            .policy_for_resource(resource)
            .map_err(flag_hints)
    }
}

/// The core's policy errors with the flags that fix them.
pub(crate) fn flag_hints(e: OptionsError) -> anyhow::Error {
    match e {
        OptionsError::Policy(PolicyError::MissingExpiry) => anyhow!(
            "no expiry: give --expires TIME (e.g. 2030-01-01T00:00:00Z) or --expires-in DURATION (e.g. 1h)"
        ),
        OptionsError::Policy(PolicyError::PastExpiry { expires, now, hint }) if hint.is_empty() => {
            anyhow!(PolicyError::PastExpiry {
                expires,
                now,
                hint: "; pass --allow-past-expiry to sign it anyway".to_owned(),
            })
        }
        other => anyhow!(other),
    }
}

/// The policy file, or standard input for `-`, of at most [`POLICY_FILE`] bytes.
fn read_policy_file(file: &str) -> Result<String> {
    let path = file.strip_prefix("file://").unwrap_or(file);
    let text = if path == "-" {
        POLICY_FILE.read_to_string(std::io::stdin().lock(), Source::Stdin)
    } else {
        POLICY_FILE.read_file_to_string(Path::new(path))
    };
    text.context("--policy")
}
