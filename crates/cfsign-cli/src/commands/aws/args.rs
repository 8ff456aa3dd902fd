//! Flags of `cfsign aws ...`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::KeyTypeArg;

pub(crate) const AWS_EXAMPLES: &str = "\
Examples:
  # Everything private content needs, from a new key pair (idempotent: run it
  # again to check)
  cfsign aws setup --bucket my-private-media --create-bucket \\
      --generate-key keys/

  # See the API calls first, change nothing
  cfsign aws setup --bucket my-private-media --public-key public_key.pem \\
      --dry-run

  # Rotate: add a new key next to the old one, sign with it, retire the old one
  # later
  cfsign aws keys rotate --key-group cfsign-my-private-media \\
      --generate-key keys-2027/
  cfsign aws keys retire --key-group cfsign-my-private-media \\
      --key-id K2JCJMDEHXQW5F

  # Why does my signed URL get a 403?
  cfsign aws doctor --distribution EDFDVBD6EXAMPLE --url \"$SIGNED_URL\"

Credentials and region come from the standard AWS chain (environment, ~/.aws/config and
credentials files with credential_process, SSO (aws sso login), aws login sessions and roles,
web identity, ECS/EC2 roles); --profile and --region override it, --endpoint-url points every
call at an emulator.
Exit codes: 0 success (doctor: no error found); 1 doctor found errors; 2 bad usage
or input; 3 AWS failed: a service answered with an error (access denied, not found,
throttling, ...) or could not be reached.";

/// `cfsign aws`: options shared by every subcommand.
#[derive(Debug, Args)]
pub(crate) struct AwsArgs {
    /// A named profile of ~/.aws/config (default: $AWS_PROFILE or `default`)
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) profile: Option<String>,

    /// The AWS region (default: $AWS_REGION or the profile's)
    #[arg(long, global = true, value_name = "REGION")]
    pub(crate) region: Option<String>,

    /// Send every call to this endpoint (emulators such as moto); S3 then uses path-style URLs
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,

    /// Print the API calls that would change something, and change nothing (reads still happen)
    #[arg(long, global = true)]
    pub(crate) dry_run: bool,

    /// Print JSON
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: AwsCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AwsCommand {
    /// Private bucket, origin access control, public key, key group, distribution with
    /// restricted viewer access, bucket policy: created or brought in line, idempotently
    Setup(SetupArgs),
    /// The key group's keys: list, add, rotate, retire
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check a distribution for what breaks signed URLs (and fetch one with --url)
    Doctor(DoctorArgs),
}

/// Where the public key comes from.
#[derive(Debug, Args, Clone)]
#[group(required = true, multiple = false)]
pub(crate) struct KeySource {
    /// Upload this public key (SubjectPublicKeyInfo PEM, e.g. from `cfsign keygen`)
    #[arg(long, value_name = "PEM")]
    pub(crate) public_key: Option<PathBuf>,

    /// Generate a key pair into DIR (private_key.pem mode 0600, public_key.pem) and upload
    /// the public key; an existing DIR/private_key.pem is reused
    #[arg(long, value_name = "DIR")]
    pub(crate) generate_key: Option<PathBuf>,

    /// Upload the public key of this AWS KMS key (RSA_2048 or ECC_NIST_P256, SIGN_VERIFY);
    /// the private key never leaves KMS
    #[arg(long, value_name = "ARN|ID")]
    pub(crate) kms_key_id: Option<String>,
}

/// Options of `aws setup`.
#[derive(Debug, Args)]
pub(crate) struct SetupArgs {
    /// The private S3 bucket
    #[arg(long, value_name = "NAME")]
    pub(crate) bucket: String,

    /// Create the bucket if it does not exist
    #[arg(long)]
    pub(crate) create_bucket: bool,

    #[command(flatten)]
    pub(crate) key: KeySource,

    /// Type of the key --generate-key makes
    #[arg(long = "key-type", value_enum, default_value = "ecdsa")]
    pub(crate) key_type: KeyTypeArg,

    /// The private key for --public-key, to sign the first URL (optional)
    #[arg(long, value_name = "PATH", requires = "public_key")]
    pub(crate) private_key: Option<PathBuf>,

    /// The key group's name (default: cfsign-BUCKET)
    #[arg(long, value_name = "NAME")]
    pub(crate) key_group: Option<String>,

    /// The distribution's comment
    #[arg(long, value_name = "TEXT")]
    pub(crate) comment: Option<String>,

    /// Redirect HTTP to HTTPS instead of refusing it (new distributions are https-only;
    /// an existing one keeps its policy unless --redirect-http or --https-only is given)
    #[arg(long, conflicts_with = "https_only")]
    pub(crate) redirect_http: bool,

    /// Refuse plain HTTP (403): the default for new distributions; on an existing one,
    /// switches back from --redirect-http
    #[arg(long)]
    pub(crate) https_only: bool,

    /// Disable IPv6 on the distribution (needed if you sign IP-restricted policies)
    #[arg(long)]
    pub(crate) no_ipv6: bool,

    /// Do not wait for the distribution to be Deployed
    #[arg(long)]
    pub(crate) no_wait: bool,

    /// The longest wait for Deployed (DURATION: 90s, 15m, 1h)
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    pub(crate) wait_timeout: String,

    /// The object path the first signed URL points at
    #[arg(long, value_name = "PATH", default_value = "index.html")]
    pub(crate) first_object: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// The group's keys: ID, created, name, comment, fingerprint
    List(KeyGroupArg),
    /// Upload a public key and add it to the group (keeping the others)
    Add(KeysAddArgs),
    /// Add a new key and print the Key-Pair-Id to sign with; the old keys stay until retired
    Rotate(KeysAddArgs),
    /// Remove a key from the group and delete the public key (never the group's last key)
    Retire(KeysRetireArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KeyGroupArg {
    /// The key group's name or ID
    #[arg(long, value_name = "NAME|ID")]
    pub(crate) key_group: String,
}

#[derive(Debug, Args)]
pub(crate) struct KeysAddArgs {
    /// The key group's name or ID
    #[arg(long, value_name = "NAME|ID")]
    pub(crate) key_group: String,

    #[command(flatten)]
    pub(crate) key: KeySource,

    /// Type of the key --generate-key makes
    #[arg(long = "key-type", value_enum, default_value = "ecdsa")]
    pub(crate) key_type: KeyTypeArg,

    /// The public key's name in CloudFront (default: cfsign- and its fingerprint)
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,

    /// The public key's comment
    #[arg(long, value_name = "TEXT")]
    pub(crate) comment: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct KeysRetireArgs {
    /// The key group's name or ID
    #[arg(long, value_name = "NAME|ID")]
    pub(crate) key_group: String,

    /// The key to retire (its Key-Pair-Id)
    #[arg(long, value_name = "ID")]
    pub(crate) key_id: String,

    /// Only remove it from the group; keep the public key in CloudFront
    #[arg(long)]
    pub(crate) keep_public_key: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// The distribution's ID
    #[arg(long, value_name = "ID")]
    pub(crate) distribution: String,

    /// A signed URL: checked against the behaviors and keys, and fetched (GET, 10 s, 64 KiB)
    #[arg(long, value_name = "URL")]
    pub(crate) url: Option<String>,

    /// With --url, do not fetch it
    #[arg(long, requires = "url")]
    pub(crate) no_fetch: bool,
}
