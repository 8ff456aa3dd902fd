//! SDK clients from the standard AWS chain: the environment
//! (`AWS_ACCESS_KEY_ID`, ...), then the profile of the shared config and
//! credentials files ([`AwsSettings::profile`], else `AWS_PROFILE`, else
//! `default`) with whatever it names (static keys, a `credential_process`, IAM
//! Identity Center (SSO) through an `sso_session` or the legacy `sso_start_url`
//! with the token cache `aws sso login` fills, an `aws login` console session
//! (`login_session`), a role to assume or web identity), then web identity from
//! the environment, the ECS/EKS container endpoints and instance metadata; plus
//! an explicit region and an endpoint for emulators (S3 then uses path-style
//! addressing). The SDK clients share one identity cache: a command runs a
//! `credential_process` (or asks SSO) once, and again only when the
//! credentials are about to expire. The edge's S3 origin can use the same
//! chain (`cfsign-edge`'s `aws-chain` feature).
//!
//! Every call has time limits: [`OPERATION_ATTEMPT_TIMEOUT`] per attempt and
//! [`OPERATION_TIMEOUT`] for the call with its retries (CloudFront's control plane
//! can take many seconds to answer a distribution update), so an unreachable
//! endpoint ends in an error instead of a hang.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cfsign_aws::client::ClientError> {
//! use cfsign_aws::client::AwsSettings;
//!
//! let clients = AwsSettings::default()
//!     .profile("media-admin")
//!     .region("eu-west-1")
//!     .load()
//!     .await?;
//! assert_eq!(clients.region(), "eu-west-1");
//! # Ok(()) }
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::{
    self, ProvideCredentials, SharedCredentialsProvider, error::CredentialsError,
};
use aws_sdk_cloudfront::error::{ProvideErrorMetadata, SdkError};

/// The longest one attempt of an AWS call may take.
pub const OPERATION_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest an AWS call may take, its retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest wait for a TCP/TLS connection (the SDK's default, kept).
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// Where the SDK finds credentials, the region and the endpoint.
#[derive(Clone, Default)]
pub struct AwsSettings {
    /// A named profile of `~/.aws/config` (else `$AWS_PROFILE`, else `default`).
    pub profile: Option<String>,
    /// The region (else `$AWS_REGION`, the profile's, or instance metadata).
    pub region: Option<String>,
    /// Another endpoint for every service, e.g. an emulator on `http://127.0.0.1:5000`.
    pub endpoint_url: Option<String>,
    /// Explicit static credentials (access key ID, secret) instead of the chain.
    /// For embedding and tests; the CLI always uses the chain.
    pub static_credentials: Option<(String, String)>,
}

impl fmt::Debug for AwsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSettings")
            .field("profile", &self.profile)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field(
                "static_credentials",
                &self.static_credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl AwsSettings {
    /// Uses this named profile.
    #[must_use]
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Uses this region.
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sends every call to this endpoint (emulators); S3 switches to path-style.
    #[must_use]
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Uses these credentials instead of the standard chain.
    #[must_use]
    pub fn static_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.static_credentials = Some((access_key_id.into(), secret_access_key.into()));
        self
    }

    /// Loads the configuration and builds the CloudFront, S3 and KMS clients.
    /// Credentials are resolved lazily, on the first call.
    ///
    /// # Errors
    ///
    /// [`ClientError::NoRegion`] when no region can be found.
    pub async fn load(&self) -> Result<Clients, ClientError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(OPERATION_ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        );
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some((id, secret)) = &self.static_credentials {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "cfsign-static",
            ));
        }
        let mut config = loader.load().await;
        if self.static_credentials.is_none()
            && let Some(chain) = config.credentials_provider()
        {
            // One provider for the three clients: they share its cached credentials.
            let named = NamedProfile {
                profile: self.profile_in_use(),
                chain,
            };
            config = config
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(named))
                .build();
        }
        let region = config
            .region()
            .map(ToString::to_string)
            .ok_or(ClientError::NoRegion)?;
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(self.endpoint_url.is_some())
            .build();
        Ok(Clients {
            cloudfront: aws_sdk_cloudfront::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            kms: aws_sdk_kms::Client::new(&config),
            region,
        })
    }
}

impl AwsSettings {
    /// The profile the chain reads: this one, else `AWS_PROFILE`, else `default`.
    fn profile_in_use(&self) -> String {
        self.profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
            .unwrap_or_else(|| "default".to_owned())
    }
}

/// The standard chain, its failures naming the profile it read.
#[derive(Debug)]
struct NamedProfile {
    profile: String,
    chain: SharedCredentialsProvider,
}

impl ProvideCredentials for NamedProfile {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.chain.provide_credentials().await.map_err(|source| {
                CredentialsError::provider_error(ChainFailed {
                    profile: self.profile.clone(),
                    source,
                })
            })
        })
    }

    fn fallback_on_interrupt(&self) -> Option<aws_credential_types::Credentials> {
        self.chain.fallback_on_interrupt()
    }
}

/// The chain gave no credentials: the profile it read, and why.
#[derive(Debug, thiserror::Error)]
#[error("{}", match source {
    CredentialsError::CredentialsNotLoaded(_) =>
        format!("no AWS credentials in the chain (its profile: `{profile}`)"),
    _ => format!("the AWS profile `{profile}` gave no credentials"),
})]
struct ChainFailed {
    profile: String,
    #[source]
    source: CredentialsError,
}

/// The three SDK clients cfsign uses, sharing one configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    /// CloudFront's control plane.
    pub cloudfront: aws_sdk_cloudfront::Client,
    /// S3 (the private bucket).
    pub s3: aws_sdk_s3::Client,
    /// KMS (signing keys).
    pub kms: aws_sdk_kms::Client,
    region: String,
}

impl Clients {
    /// Clients built elsewhere (e.g. with `aws-smithy-mocks` in tests).
    #[must_use]
    pub fn from_parts(
        cloudfront: aws_sdk_cloudfront::Client,
        s3: aws_sdk_s3::Client,
        kms: aws_sdk_kms::Client,
        region: impl Into<String>,
    ) -> Self {
        Self {
            cloudfront,
            s3,
            kms,
            region: region.into(),
        }
    }

    /// The region the S3 and KMS clients use.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.region
    }
}

/// Why the clients could not be configured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No region anywhere in the chain.
    #[error(
        "no AWS region: pass --region (e.g. us-east-1), set AWS_REGION, or set `region` in the profile \
         of ~/.aws/config"
    )]
    NoRegion,
}

/// An AWS answer without a field cfsign needs (an ID, an ARN, an ETag): nothing is
/// assumed in its place, so no empty `If-Match` or `SourceArn` is ever sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{resource}: {call} answered without {field}, so cfsign stopped instead of guessing it; run the \
     command again, and if it persists check --endpoint-url (an emulator may not implement {call} fully)"
)]
pub struct IncompleteAnswer {
    /// The resource, e.g. `key group media`.
    pub resource: String,
    /// The call, e.g. `cloudfront:CreateKeyGroup`.
    pub call: &'static str,
    /// The missing field, e.g. `KeyGroup.Id` or `ETag`.
    pub field: &'static str,
}

/// `value` when the answer has it (and it is not empty), else [`IncompleteAnswer`].
pub(crate) fn required(
    value: Option<&str>,
    resource: &str,
    call: &'static str,
    field: &'static str,
) -> Result<String, IncompleteAnswer> {
    match value {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(IncompleteAnswer {
            resource: resource.to_owned(),
            call,
            field,
        }),
    }
}

/// A failed AWS API call: which call, the service's error code and message, and
/// what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{call} failed: {}{message}; {fix}", code.as_ref().map(|c| format!("{c}: ")).unwrap_or_default())]
pub struct ApiError {
    /// The call, e.g. `cloudfront:CreateKeyGroup`.
    pub call: String,
    /// The service's error code (`AccessDenied`, `PreconditionFailed`, ...), when it answered.
    pub code: Option<String>,
    /// The service's message, or why no answer came.
    pub message: String,
    /// What to do.
    pub fix: String,
}

impl ApiError {
    /// Wraps an SDK error of `call`.
    pub fn from_sdk<E, R>(call: &str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
        R: fmt::Debug,
    {
        let (code, message) = match &error {
            SdkError::ServiceError(service) => {
                let e = service.err();
                (
                    e.code().map(str::to_owned),
                    e.message().map_or_else(|| e.to_string(), str::to_owned),
                )
            }
            other => (None, chain(other)),
        };
        let fix = fix_for(call, code.as_deref(), &message);
        Self {
            call: call.to_owned(),
            code,
            message,
            fix,
        }
    }

    /// Whether the service answered with this error code.
    #[must_use]
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// The error and its sources, joined.
fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

fn fix_for(call: &str, code: Option<&str>, message: &str) -> String {
    let service = call.split(':').next().unwrap_or(call);
    match code {
        Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation") => format!(
            "the credentials in use lack permission for {call}; allow it in their IAM policy (or pass \
             --profile with a role that has it)"
        ),
        Some(
            "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "ExpiredTokenException",
        ) => "the AWS credentials are invalid or expired: refresh them (new access keys, a new \
              session token; for an SSO profile `aws sso login --profile NAME`, for a console \
              session `aws login --profile NAME`) or pass --profile"
            .to_owned(),
        Some("UnsupportedOperationException") if call == "kms:GetPublicKey" => {
            "the key has no public half (a symmetric key): create an asymmetric signing key with aws \
             kms create-key --key-usage SIGN_VERIFY --key-spec ECC_NIST_P256 (or RSA_2048)"
                .to_owned()
        }
        Some("PreconditionFailed" | "InvalidIfMatchVersion") => {
            "someone else changed the resource meanwhile; run the command again".to_owned()
        }
        Some("ThrottlingException" | "Throttling" | "TooManyRequestsException") => {
            format!("{service} is throttling; retry later or lower the concurrency")
        }
        Some(code) if code.starts_with("NoSuch") || code.ends_with("NotFoundException") => {
            "check the name or ID: it does not exist for these credentials (account) and region"
                .to_owned()
        }
        Some(_) => "see AWS's message".to_owned(),
        None if message.contains("gave no credentials") => {
            "the profile's login failed: check it in ~/.aws/config (AWS_CONFIG_FILE); a \
             credential_process must print its JSON and exit 0, an SSO profile needs `aws sso login \
             --profile NAME`, a console session `aws login --profile NAME`"
                .to_owned()
        }
        None if message.contains("credentials") || message.contains("Credentials") => {
            "no usable AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run `aws \
             configure`, or pass --profile NAME"
                .to_owned()
        }
        None => format!("no answer from {service}: check the network, --region and --endpoint-url"),
    }
}
