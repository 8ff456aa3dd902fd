//! Validation of the shared signing flags into a [`SigningConfig`]: the key is
//! loaded and parsed once, times are resolved against one "now", and every error
//! names the flag it came from.

use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};
use cfsign::excerpt::Excerpt;
use cfsign::input::Source;
use cfsign::policy::{POLICY_FILE, PolicyError};
use cfsign::time::{self, parse_instant, yyyymmdd_hint};
use cfsign::{
    HashAlgorithm, KeyPairId, Policy, PrivateKey, Resource, SignableUrl, Signer, SourceIp,
};
use jiff::Timestamp;

use crate::cli::{HashArg, PolicyOptions, SigningArgs};

/// Environment variable holding the private key's contents.
pub(crate) const KEY_PEM_ENV: &str = "CFSIGN_PRIVATE_KEY_PEM";

/// A loaded signer plus the policy settings.
pub(crate) struct SigningConfig {
    pub(crate) signer: Signer,
    pub(crate) policy: PolicyConfig,
    /// Whether the private key is in AWS KMS (each signature is a network call).
    pub(crate) kms: bool,
}

impl SigningConfig {
    pub(crate) fn from_args(args: &SigningArgs) -> Result<Self> {
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
        let path = path.strip_prefix("file://").unwrap_or(path);
        if path.contains("-----BEGIN") {
            bail!(
                "--private-key takes a file path, but it was given key contents; save them to a file \
                 (mode 0600) or put them in ${KEY_PEM_ENV}"
            );
        }
        return PrivateKey::from_file(path).context("--private-key");
    }
    match std::env::var(KEY_PEM_ENV) {
        Ok(value) => PrivateKey::from_env_value(&value).with_context(|| format!("${KEY_PEM_ENV}")),
        Err(_) => bail!(
            "no private key: give --private-key PATH, or set CFSIGN_PRIVATE_KEY (a path) or {KEY_PEM_ENV} \
             (the PEM contents)"
        ),
    }
}

/// Policy settings resolved against one "now".
#[derive(Clone)]
pub(crate) struct PolicyConfig {
    pub(crate) now: Timestamp,
    expires: Option<(Timestamp, String)>,
    not_before: Option<Timestamp>,
    ip: Option<SourceIp>,
    pub(crate) resource: Option<Resource>,
    raw_policy: Option<Policy>,
    encode: bool,
    allow_past_expiry: bool,
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
        let mut config = Self {
            now,
            expires: None,
            not_before: None,
            ip: None,
            resource: None,
            raw_policy: None,
            encode: o.encode,
            allow_past_expiry: o.allow_past_expiry,
        };
        if let Some(file) = &o.policy {
            let text = read_policy_file(file)?;
            config.raw_policy =
                Some(Policy::from_json(&text).with_context(|| format!("--policy {file}"))?);
            return Ok(config);
        }
        config.apply(&Overrides {
            expires: o.expires.as_deref(),
            expires_in: o.expires_in.as_deref(),
            not_before: o.not_before.as_deref(),
            ip: o.ip.as_deref(),
            resource: o.resource.as_deref(),
            encode: None,
        })?;
        Ok(config)
    }

    /// A copy with per-line overrides applied.
    pub(crate) fn with_overrides(&self, o: &Overrides<'_>) -> Result<Self> {
        if self.raw_policy.is_some()
            && (o.expires.is_some()
                || o.expires_in.is_some()
                || o.not_before.is_some()
                || o.ip.is_some()
                || o.resource.is_some())
        {
            bail!("per-line policy options cannot be combined with --policy FILE");
        }
        let mut c = self.clone();
        c.apply(o)?;
        Ok(c)
    }

    fn apply(&mut self, o: &Overrides<'_>) -> Result<()> {
        if o.expires.is_some() && o.expires_in.is_some() {
            bail!("give either an expiry time (--expires) or a duration (--expires-in), not both");
        }
        if let Some(t) = o.expires {
            self.expires = Some((parse_instant(t).context("--expires")?, t.to_owned()));
        }
        if let Some(d) = o.expires_in {
            let d = time::parse_duration(d).context("--expires-in")?;
            self.expires = Some((
                time::add_duration(self.now, d).context("--expires-in")?,
                String::new(),
            ));
        }
        if let Some(t) = o.not_before {
            self.not_before = Some(parse_instant(t).context("--not-before")?);
        }
        if let Some(ip) = o.ip {
            self.ip = Some(ip.parse().context("--ip")?);
        }
        if let Some(r) = o.resource {
            self.resource = Some(Resource::parse(r).context("--resource")?);
        }
        if let Some(e) = o.encode {
            self.encode = e;
        }
        Ok(())
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

    /// The policy for delivering `url` (or, without a URL, for `target`).
    pub(crate) fn policy_for(&self, url: &SignableUrl) -> Result<Policy> {
        if let Some(p) = &self.raw_policy {
            return Ok(p.clone());
        }
        let (resource, differs) = match &self.resource {
            Some(r) => (r.clone(), r.as_str() != url.as_str()),
            None => (Resource::from(url.clone()), false),
        };
        self.build(resource, differs)
    }

    /// The policy for a resource given directly (cookies, `policy` command).
    pub(crate) fn policy_for_resource(&self, resource: Resource) -> Result<Policy> {
        if let Some(p) = &self.raw_policy {
            return Ok(p.clone());
        }
        self.build(resource, false)
    }

    fn build(&self, resource: Resource, force_custom: bool) -> Result<Policy> {
        let (expires, input) = self.expires.clone().ok_or_else(|| {
            anyhow!("no expiry: give --expires TIME (e.g. 2030-01-01T00:00:00Z) or --expires-in DURATION (e.g. 1h)")
        })?;
        let mut b = Policy::builder(resource)
            .expires_at(expires)
            .allow_past_expiry(self.allow_past_expiry)
            .force_custom(force_custom);
        if let Some(t) = self.not_before {
            b = b.not_before(t);
        }
        if let Some(ip) = self.ip {
            b = b.source_ip(ip);
        }
        b.build_at(self.now).map_err(|e| match e {
            PolicyError::PastExpiry { expires, now, .. } => {
                let hint = match yyyymmdd_hint(&input) {
                    Some(iso) => format!(
                        "; {input} was read as epoch seconds ({expires}); for a date write {iso}"
                    ),
                    None => "; pass --allow-past-expiry to sign it anyway".to_owned(),
                };
                anyhow!(PolicyError::PastExpiry { expires, now, hint })
            }
            other => anyhow!(other),
        })
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
