//! An S3 (or S3-compatible) bucket as the origin, through `object_store`.
//!
//! The object key is the decoded, validated [`ObjectKey`] behind an optional
//! key prefix: with the prefix `site`, the request path `/dir/a%20b.txt` reads
//! the S3 object whose key is exactly `site/dir/a b.txt`. Keys are passed to
//! `object_store` as raw keys ([`Path::parse`], never `Path::from`, which would
//! percent-encode `%`, `#`, `?`, `[`, … into the key itself), and the client
//! percent-encodes them once on the wire, so the S3 key is byte for byte the
//! decoded key. The empty key, a key ending in `/` (a "folder"), and a key
//! longer than S3's 1,024 bytes are [`OriginError::NotFound`] without a request.
//!
//! `head` is a `HEAD Object` and `get` a `GET Object` (with a `Range` header for
//! a [`ByteRange`]); both report the object's `ETag` (quoted, as S3 returns it;
//! a weak or malformed one is dropped), `Last-Modified`, `Content-Type` and
//! `Cache-Control`. `Expires` is not reported (`object_store` does not expose
//! it). Bodies are streamed as they arrive, never buffered.
//!
//! [`Origin::get_if_modified`] is a `GET Object` with `If-None-Match` (the cached
//! `ETag`) and `If-Modified-Since` (the cached `Last-Modified`), both when both
//! are known, as CloudFront revalidates. S3 answers `304 Not Modified` without a
//! body ([`Revalidation::NotModified`]) or the whole new object. `object_store`
//! reports the 304 as an error without its headers, so the refreshed metadata
//! is the cached one: a `Cache-Control` changed in place (a copy onto the same
//! key with new metadata and the same bytes, hence the same `ETag`) is seen at
//! the next full fetch.
//!
//! Errors: no such key is [`OriginError::NotFound`]; a 403 (or 401) is
//! [`OriginError::Forbidden`] (S3 answers 403 instead of 404 for a missing key
//! when the credentials lack `s3:ListBucket`); a timeout (connect or read) is
//! [`OriginError::Timeout`]; everything else — connection refused, 5xx after
//! the bounded retries, an unexpected response — is [`OriginError::Unavailable`].
//! A **missing bucket** is a configuration error, not a missing object: it is
//! [`OriginError::Unavailable`] (502) naming the bucket, for `get` (S3's
//! `NoSuchBucket`) and for `head` (a `HEAD` 404 has no body, so the first such
//! 404 is checked once with a `GET` of the same key; once the bucket has been
//! seen to exist, a `HEAD` 404 is simply not found). [`S3Origin::check`] does
//! the same check up front, for a server to fail at startup.
//!
//! Credentials: explicit ones ([`S3OriginBuilder::credentials`]) or a provider
//! ([`S3OriginBuilder::credential_provider`]) if given; else, with the
//! `aws-chain` feature and [`S3OriginBuilder::aws_chain`] or
//! [`S3OriginBuilder::aws_profile`], the AWS SDK's default chain, the one
//! `cfsign aws` uses (profiles with `credential_process`, SSO, `aws login`,
//! roles; refreshed before they expire; see
//! [`aws_chain`](super::aws_chain)), which also gives the region when none is
//! set; else `object_store`'s own chain: the `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` variables, web identity, the
//! ECS/EKS container endpoints, instance metadata (no profiles).
//!
//! Timeouts: 5 s to connect and 30 s without receiving a byte (waiting for the
//! response headers or for the next part of a body). There is deliberately no
//! limit on a whole request, which would cut off the download of a large
//! object. Requests are retried (connection errors, 5xx, a body interrupted
//! part-way, which resumes with a range on the same `ETag`) at most
//! [`DEFAULT_MAX_RETRIES`] times and never after [`DEFAULT_RETRY_TIMEOUT`], so
//! an unreachable origin fails in seconds instead of minutes.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsCredential, AwsCredentialProvider};
use object_store::client::{HttpError, HttpErrorKind};
use object_store::path::Path;
use object_store::{
    Attribute, BackoffConfig, ClientOptions, GetOptions, GetRange, GetResult, ObjectStore,
    RetryConfig, StaticCredentialProvider,
};

use super::{
    BoxFuture, ByteRange, GetResponse, HeadResponse, MAX_KEY_BYTES, ObjectKey, ObjectMeta, Origin,
    OriginError, Revalidation,
};

/// Default time allowed to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed without receiving a byte (response headers or body).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of retries of a failed request.
pub const DEFAULT_MAX_RETRIES: usize = 3;
/// Default time after the first attempt past which a request is not retried.
pub const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an [`S3Origin`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum S3ConfigError {
    /// The key prefix has an empty, `.` or `..` segment or a control character.
    #[error("invalid key prefix {prefix:?}: {reason}")]
    InvalidPrefix {
        /// The prefix as given.
        prefix: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The S3 client refused the configuration (bucket name, endpoint URL, …).
    #[error("invalid S3 configuration: {0}")]
    Client(String),
    /// A profile was named, but this build has no AWS SDK credential chain.
    #[error(
        "the AWS profile {profile:?} cannot be used: profiles are read by the AWS SDK's credential \
         chain, which this build of cfsign-edge leaves out (its `aws-chain` feature); build with it, \
         or give the credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead"
    )]
    NoAwsChain {
        /// The profile as given.
        profile: String,
    },
}

/// Static credentials (`AwsCredential` is not `Clone`).
#[derive(Clone)]
struct Credentials {
    key_id: String,
    secret_key: String,
    token: Option<String>,
}

/// Where an [`S3Origin`]'s credentials come from.
#[derive(Clone)]
enum CredentialSource {
    /// `object_store`'s own chain (environment, web identity, ECS, instance metadata).
    ObjectStore,
    /// These keys.
    Static(Credentials),
    /// This provider.
    Provider(AwsCredentialProvider),
    /// The AWS SDK's default chain with this profile (`None`: `AWS_PROFILE`, else `default`).
    #[cfg(feature = "aws-chain")]
    AwsChain(Option<String>),
}

impl fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ObjectStore => f.write_str("object_store chain"),
            Self::Static(_) => f.write_str("explicit"),
            // Not the provider's own Debug: another crate's provider may print its keys.
            Self::Provider(_) => f.write_str("provider"),
            #[cfg(feature = "aws-chain")]
            Self::AwsChain(profile) => write!(f, "AWS SDK chain, profile {profile:?}"),
        }
    }
}

/// Settings of an [`S3Origin`]; see [`S3Origin::builder`].
#[derive(Clone)]
pub struct S3OriginBuilder {
    bucket: String,
    prefix: String,
    endpoint: Option<String>,
    region: Option<String>,
    allow_http: bool,
    credentials: CredentialSource,
    connect_timeout: Duration,
    read_timeout: Duration,
    max_retries: usize,
    retry_timeout: Duration,
}

impl fmt::Debug for S3OriginBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3OriginBuilder")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("allow_http", &self.allow_http)
            .field("credentials", &self.credentials)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_timeout", &self.retry_timeout)
            .finish()
    }
}

impl S3OriginBuilder {
    /// Only keys under this prefix are served: `site` or `site/` maps the key
    /// `a.txt` to the S3 key `site/a.txt` (default: none, the whole bucket).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The S3 endpoint, for an S3-compatible server or a test server
    /// (`http://127.0.0.1:9000`); requests are path-style (`endpoint/bucket/key`)
    /// unless `AWS_VIRTUAL_HOSTED_STYLE_REQUEST` says otherwise. Default: AWS,
    /// or the `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` / `AWS_ENDPOINT` variables.
    #[must_use]
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The bucket's region (default: `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`).
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Allows a plain `http://` endpoint (default: only HTTPS, unless
    /// `AWS_ALLOW_HTTP=true`). Meant for a local server such as `127.0.0.1`.
    #[must_use]
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Static credentials, used instead of a chain (default: `object_store`'s
    /// chain, the `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
    /// `AWS_SESSION_TOKEN` variables, else web identity, the ECS/EKS container
    /// endpoints or the instance metadata service, shared config files not
    /// read; or the AWS SDK's chain, see [`S3OriginBuilder::aws_chain`]).
    /// Replaces an earlier credential setting.
    #[must_use]
    pub fn credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        self.credentials = CredentialSource::Static(Credentials {
            key_id: access_key_id.into(),
            secret_key: secret_access_key.into(),
            token: session_token,
        });
        self
    }

    /// Credentials from this provider, asked before every request (it caches
    /// them itself, as `object_store`'s providers do). Replaces an earlier
    /// credential setting.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use cfsign_edge::origin::S3Origin;
    /// use object_store::StaticCredentialProvider;
    /// use object_store::aws::AwsCredential;
    ///
    /// let keys = AwsCredential { key_id: "AKIDEXAMPLE".into(), secret_key: "secret".into(), token: None };
    /// let origin = S3Origin::builder("media")
    ///     .credential_provider(Arc::new(StaticCredentialProvider::new(keys)))
    ///     .build()?;
    /// # Ok::<(), cfsign_edge::origin::s3::S3ConfigError>(())
    /// ```
    #[must_use]
    pub fn credential_provider(mut self, provider: AwsCredentialProvider) -> Self {
        self.credentials = CredentialSource::Provider(provider);
        self
    }

    /// Credentials from the AWS SDK's default chain, as `cfsign aws` gets them:
    /// the environment, then the profile `AWS_PROFILE` names (else `default`)
    /// with its `credential_process`, SSO, `aws login` session or role, then
    /// web identity, ECS, instance metadata; refreshed before they expire (see
    /// [`aws_chain`](super::aws_chain)). Without a [`region`](Self::region),
    /// the region comes from the same chain (the profile's `region`,
    /// `AWS_REGION`, instance metadata), else `us-east-1`. Replaces an earlier
    /// credential setting.
    ///
    /// ```no_run
    /// use cfsign_edge::origin::S3Origin;
    ///
    /// let origin = S3Origin::builder("media").aws_chain().build()?;
    /// # Ok::<(), cfsign_edge::origin::s3::S3ConfigError>(())
    /// ```
    #[cfg(feature = "aws-chain")]
    #[must_use]
    pub fn aws_chain(mut self) -> Self {
        self.credentials = CredentialSource::AwsChain(None);
        self
    }

    /// As [`S3OriginBuilder::aws_chain`], with this profile of
    /// `~/.aws/config` instead of `AWS_PROFILE`'s.
    ///
    /// ```no_run
    /// use cfsign_edge::origin::S3Origin;
    ///
    /// // [profile media-reader] in ~/.aws/config: credential_process, sso_session, ...
    /// let origin = S3Origin::builder("media").aws_profile("media-reader").build()?;
    /// # Ok::<(), cfsign_edge::origin::s3::S3ConfigError>(())
    /// ```
    #[cfg(feature = "aws-chain")]
    #[must_use]
    pub fn aws_profile(mut self, profile: impl Into<String>) -> Self {
        self.credentials = CredentialSource::AwsChain(Some(profile.into()));
        self
    }

    /// Time allowed to open a connection (default [`DEFAULT_CONNECT_TIMEOUT`]).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed without receiving a byte, for the response headers and
    /// between parts of a body (default [`DEFAULT_READ_TIMEOUT`]).
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// How often a failed request is retried, and for how long after the first
    /// attempt (defaults [`DEFAULT_MAX_RETRIES`], [`DEFAULT_RETRY_TIMEOUT`]).
    #[must_use]
    pub fn retries(mut self, max_retries: usize, retry_timeout: Duration) -> Self {
        self.max_retries = max_retries;
        self.retry_timeout = retry_timeout;
        self
    }

    /// Builds the origin (no request is made: see [`S3Origin::check`]). With
    /// the AWS SDK's chain and no region, the region is looked up first: the
    /// environment and the profile, then the instance metadata service, which
    /// takes a few seconds to give up off EC2 (set a region, or
    /// `AWS_EC2_METADATA_DISABLED=true`, to skip it).
    pub fn build(self) -> Result<S3Origin, S3ConfigError> {
        let prefix = normalize_prefix(&self.prefix)?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&self.bucket);
        if let Some(endpoint) = &self.endpoint {
            // `AWS_ENDPOINT_URL_S3` from the environment would win over `with_endpoint`.
            builder = builder
                .with_endpoint(endpoint)
                .with_config(object_store::aws::AmazonS3ConfigKey::S3Endpoint, endpoint);
        }
        if self.allow_http {
            builder = builder.with_allow_http(true);
        }
        #[cfg_attr(not(feature = "aws-chain"), allow(unused_mut))]
        let mut region = self.region;
        match self.credentials {
            CredentialSource::ObjectStore => {}
            CredentialSource::Static(Credentials {
                key_id,
                secret_key,
                token,
            }) => {
                let credential = AwsCredential {
                    key_id,
                    secret_key,
                    token,
                };
                builder =
                    builder.with_credentials(Arc::new(StaticCredentialProvider::new(credential)));
            }
            CredentialSource::Provider(provider) => builder = builder.with_credentials(provider),
            #[cfg(feature = "aws-chain")]
            CredentialSource::AwsChain(profile) => {
                // An S3-compatible server (an endpoint) takes any region: no lookup, which
                // off AWS can wait seconds for the instance metadata service.
                if region.is_none() && self.endpoint.is_none() {
                    region =
                        super::aws_chain::AwsChainCredentials::region_blocking(profile.as_deref());
                }
                let chain = super::aws_chain::AwsChainCredentials::new(profile);
                let chain = match &region {
                    Some(r) => chain.with_region(r.clone()),
                    None => chain,
                };
                builder = builder.with_credentials(Arc::new(chain));
            }
        }
        if let Some(region) = &region {
            builder = builder.with_region(region);
        }
        let options = ClientOptions::new()
            .with_allow_http(self.allow_http)
            .with_connect_timeout(self.connect_timeout)
            .with_read_timeout(self.read_timeout)
            .with_timeout_disabled();
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: self.retry_timeout,
        };
        let store = builder
            .with_client_options(options)
            .with_retry(retry)
            .build()
            .map_err(|e| S3ConfigError::Client(e.to_string()))?;
        Ok(S3Origin {
            store: Arc::new(store),
            bucket: self.bucket,
            prefix,
            endpoint: self.endpoint,
            bucket_seen: AtomicBool::new(false),
        })
    }
}

/// `a/b/` → `a/b`; `""` and `/` → `""`; rejects what [`Path::parse`] rejects.
fn normalize_prefix(prefix: &str) -> Result<String, S3ConfigError> {
    let trimmed = prefix.strip_prefix('/').unwrap_or(prefix);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    let invalid = |reason: String| S3ConfigError::InvalidPrefix {
        prefix: prefix.to_owned(),
        reason,
    };
    if prefix.is_empty() || prefix == "/" {
        return Ok(String::new());
    }
    if trimmed.is_empty() {
        return Err(invalid("empty segment".to_owned()));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(invalid("control character".to_owned()));
    }
    let path = Path::parse(trimmed).map_err(|e| invalid(e.to_string()))?;
    if path.as_ref() != trimmed {
        return Err(invalid(format!("parsed as {path:?}")));
    }
    Ok(trimmed.to_owned())
}

/// Objects in an S3 bucket (see the [module documentation](self)).
///
/// ```no_run
/// use cfsign_edge::origin::{ObjectKey, Origin, S3Origin};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// // Credentials and region from the environment (AWS_ACCESS_KEY_ID, …).
/// let origin = S3Origin::builder("my-bucket").prefix("site/").build()?;
/// origin.check().await?; // the bucket exists and answers
/// let key = ObjectKey::from_request_path("/videos/a%20b.mp4")?; // S3 key `site/videos/a b.mp4`
/// let meta = origin.head(&key).await?.meta;
/// println!("{} bytes, {:?}", meta.size, meta.etag);
/// # Ok(())
/// # }
/// ```
pub struct S3Origin {
    store: Arc<AmazonS3>,
    bucket: String,
    /// Normalized: no leading or trailing `/`; empty for the whole bucket.
    prefix: String,
    endpoint: Option<String>,
    /// Whether the bucket has been seen to exist (a `HEAD` 404 then means no such key).
    bucket_seen: AtomicBool,
}

impl fmt::Debug for S3Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Origin")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl S3Origin {
    /// Settings for an origin serving `bucket`, starting from the environment
    /// (`AWS_*` variables, as `object_store`'s `AmazonS3Builder::from_env`
    /// reads them), which the builder's settings override.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use cfsign_edge::origin::S3Origin;
    ///
    /// let origin = S3Origin::builder("test-bucket")
    ///     .endpoint("http://127.0.0.1:9000")
    ///     .allow_http(true)
    ///     .region("us-east-1")
    ///     .credentials("testing", "testing", None)
    ///     .read_timeout(Duration::from_secs(10))
    ///     .build()?;
    /// # Ok::<(), cfsign_edge::origin::s3::S3ConfigError>(())
    /// ```
    #[must_use]
    pub fn builder(bucket: impl Into<String>) -> S3OriginBuilder {
        S3OriginBuilder {
            bucket: bucket.into(),
            prefix: String::new(),
            endpoint: None,
            region: None,
            allow_http: false,
            credentials: CredentialSource::ObjectStore,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_timeout: DEFAULT_RETRY_TIMEOUT,
        }
    }

    /// The bucket.
    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix, normalized (no leading or trailing `/`; empty for none).
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The S3 key an object key maps to, or `None` if it cannot name an object
    /// (empty, a "folder" ending in `/`, or longer than S3 allows).
    ///
    /// ```no_run
    /// use cfsign_edge::origin::{ObjectKey, S3Origin};
    ///
    /// let origin = S3Origin::builder("b").prefix("site").build()?;
    /// let key = ObjectKey::from_request_path("/a%20b/100%25.txt")?;
    /// assert_eq!(origin.s3_key(&key).as_deref(), Some("site/a b/100%.txt"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn s3_key(&self, key: &ObjectKey) -> Option<String> {
        self.location(key).map(|path| path.as_ref().to_owned())
    }

    /// Checks that the endpoint answers and the bucket exists, with one `GET`
    /// of a key that is not expected to exist (so it needs no more permission
    /// than serving objects): `Ok` if S3 answers "no such key" (or returns the
    /// object), [`OriginError::Unavailable`] for a missing bucket or an
    /// unreachable endpoint, [`OriginError::Forbidden`] if access is denied.
    pub async fn check(&self) -> Result<(), OriginError> {
        let probe = ".cfsign-edge-check";
        let key = if self.prefix.is_empty() {
            probe.to_owned()
        } else {
            format!("{}/{probe}", self.prefix)
        };
        let location = Path::parse(&key)
            .map_err(|e| OriginError::Unavailable(format!("probe key {key:?}: {e}")))?;
        match self.store.get_opts(&location, GetOptions::default()).await {
            Ok(_) => {
                self.bucket_seen.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => match self.error(e, &location, None).await {
                OriginError::NotFound => Ok(()),
                other => Err(other),
            },
        }
    }

    fn location(&self, key: &ObjectKey) -> Option<Path> {
        let key = key.as_str();
        if key.is_empty() || key.ends_with('/') {
            return None;
        }
        let full = if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        };
        if full.len() > MAX_KEY_BYTES {
            return None;
        }
        // `parse` keeps the key as it is (it only refuses empty, `.` and `..`
        // segments and control characters, which `ObjectKey` excludes already).
        let path = Path::parse(&full).ok()?;
        (path.as_ref() == full).then_some(path)
    }

    fn no_bucket(&self) -> OriginError {
        OriginError::Unavailable(format!(
            "the bucket {:?} does not exist{}",
            self.bucket,
            self.endpoint
                .as_deref()
                .map(|e| format!(" at {e}"))
                .unwrap_or_default()
        ))
    }

    /// An `object_store` error as an origin answer. `follow_up` is `Some` for a
    /// failed `HEAD` or ranged `GET`, which may need a second request to tell
    /// what went wrong (a missing bucket; a range the object no longer has).
    fn error<'a>(
        &'a self,
        e: object_store::Error,
        location: &'a Path,
        follow_up: Option<FollowUp>,
    ) -> BoxFuture<'a, OriginError> {
        Box::pin(async move {
            match e {
                object_store::Error::NotFound { .. } => {
                    if e.to_string().contains("NoSuchBucket") {
                        return self.no_bucket();
                    }
                    if follow_up == Some(FollowUp::Head)
                        && !self.bucket_seen.load(Ordering::Relaxed)
                    {
                        // A HEAD 404 has no body: is it the key or the bucket?
                        return match self.store.get_opts(location, GetOptions::default()).await {
                            Ok(_) => {
                                self.bucket_seen.store(true, Ordering::Relaxed);
                                OriginError::NotFound
                            }
                            Err(e) if matches!(e, object_store::Error::NotFound { .. }) => {
                                self.error(e, location, None).await
                            }
                            Err(_) => OriginError::NotFound,
                        };
                    }
                    self.bucket_seen.store(true, Ordering::Relaxed);
                    OriginError::NotFound
                }
                object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. } => {
                    OriginError::Forbidden(e.to_string())
                }
                _ => match transport_error(&e) {
                    Some(HttpErrorKind::Timeout) => OriginError::Timeout(e.to_string()),
                    Some(_) => OriginError::Unavailable(e.to_string()),
                    None => self.answer_error(e, location, follow_up).await,
                },
            }
        })
    }

    /// An error with an HTTP answer (not a transport error).
    async fn answer_error(
        &self,
        e: object_store::Error,
        location: &Path,
        follow_up: Option<FollowUp>,
    ) -> OriginError {
        // A range that no longer fits (the object shrank since the caller's
        // `head`: 416) is not found, as the trait asks.
        if let Some(FollowUp::Range(range)) = follow_up {
            let head = GetOptions {
                head: true,
                ..GetOptions::default()
            };
            match self.store.get_opts(location, head).await {
                Ok(result) if range.start >= result.meta.size => {
                    return OriginError::NotFound;
                }
                Err(object_store::Error::NotFound { .. }) => {
                    return OriginError::NotFound;
                }
                _ => {}
            }
        }
        OriginError::Unavailable(e.to_string())
    }
}

impl S3Origin {
    /// A successful `GET` (of `range`, if any) as the origin's answer.
    fn response(&self, result: GetResult, range: Option<ByteRange>) -> GetResponse {
        self.bucket_seen.store(true, Ordering::Relaxed);
        let object = meta(&result);
        // `object_store` checked the `Content-Range` against the request
        // (clamped to the object's size).
        let range = range.map(|_| ByteRange {
            start: result.range.start,
            end: result.range.end.saturating_sub(1),
        });
        let body = result.into_stream().map(|r| r.map_err(io_error)).boxed();
        GetResponse {
            meta: object,
            range,
            body,
            cached: None,
        }
    }
}

/// What a failed request was, for [`S3Origin::error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FollowUp {
    Head,
    Range(ByteRange),
}

/// The transport error (connect, timeout, …) behind an error, if any: the
/// request got no HTTP answer.
fn transport_error(e: &(dyn std::error::Error + 'static)) -> Option<HttpErrorKind> {
    let mut current = Some(e);
    while let Some(error) = current {
        if let Some(http) = error.downcast_ref::<HttpError>() {
            return Some(http.kind());
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return Some(HttpErrorKind::Timeout);
        }
        current = error.source();
    }
    None
}

/// A strong entity tag, quoted; `None` for a weak or malformed one.
fn strong_etag(raw: Option<&str>) -> Option<String> {
    let raw = raw?.trim();
    if raw.starts_with("W/") {
        return None;
    }
    let inner = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    // etagc = %x21 / %x23-7E / obs-text
    let valid = !inner.is_empty()
        && inner
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7E).contains(&b) || b >= 0x80);
    valid.then(|| format!("\"{inner}\""))
}

fn meta(result: &GetResult) -> ObjectMeta {
    let attribute = |name: &Attribute| result.attributes.get(name).map(|v| v.to_string());
    ObjectMeta {
        size: result.meta.size,
        etag: strong_etag(result.meta.e_tag.as_deref()),
        last_modified: Some(SystemTime::from(result.meta.last_modified)),
        content_type: attribute(&Attribute::ContentType),
        cache_control: attribute(&Attribute::CacheControl),
        expires: None,
    }
}

fn io_error(e: object_store::Error) -> std::io::Error {
    let kind = if transport_error(&e) == Some(HttpErrorKind::Timeout) {
        std::io::ErrorKind::TimedOut
    } else {
        std::io::ErrorKind::Other
    };
    std::io::Error::new(kind, e)
}

impl Origin for S3Origin {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn cache_identity(&self) -> String {
        let endpoint = self.endpoint.as_deref().unwrap_or("aws");
        format!("s3:{endpoint}/{}/{}", self.bucket, self.prefix)
    }

    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<HeadResponse, OriginError>> {
        Box::pin(async move {
            let location = self.location(key).ok_or(OriginError::NotFound)?;
            let options = GetOptions {
                head: true,
                ..GetOptions::default()
            };
            match self.store.get_opts(&location, options).await {
                Ok(result) => {
                    self.bucket_seen.store(true, Ordering::Relaxed);
                    Ok(meta(&result).into())
                }
                Err(e) => Err(self.error(e, &location, Some(FollowUp::Head)).await),
            }
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a ObjectKey,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<GetResponse, OriginError>> {
        Box::pin(async move {
            let location = self.location(key).ok_or(OriginError::NotFound)?;
            let options = GetOptions {
                range: range.map(|r| GetRange::Bounded(r.start..r.end.saturating_add(1))),
                ..GetOptions::default()
            };
            let result = match self.store.get_opts(&location, options).await {
                Ok(result) => result,
                Err(e) => return Err(self.error(e, &location, range.map(FollowUp::Range)).await),
            };
            Ok(self.response(result, range))
        })
    }

    fn get_if_modified<'a>(
        &'a self,
        key: &'a ObjectKey,
        cached: &'a ObjectMeta,
    ) -> BoxFuture<'a, Result<Revalidation, OriginError>> {
        Box::pin(async move {
            let location = self.location(key).ok_or(OriginError::NotFound)?;
            let options = GetOptions {
                if_none_match: cached.etag.clone(),
                if_modified_since: cached.last_modified.map(Into::into),
                ..GetOptions::default()
            };
            match self.store.get_opts(&location, options).await {
                Ok(result) => Ok(Revalidation::Modified(self.response(result, None))),
                Err(object_store::Error::NotModified { .. }) => {
                    self.bucket_seen.store(true, Ordering::Relaxed);
                    Ok(Revalidation::NotModified(cached.clone()))
                }
                Err(e) => Err(self.error(e, &location, None).await),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> ObjectKey {
        ObjectKey::from_request_path(path).unwrap()
    }

    fn origin(prefix: &str) -> S3Origin {
        S3Origin::builder("bucket")
            .endpoint("http://127.0.0.1:9")
            .allow_http(true)
            .credentials("testing", "testing", None)
            .prefix(prefix)
            .build()
            .unwrap()
    }

    #[test]
    fn s3_keys_are_the_decoded_keys_under_the_prefix() {
        let origin = origin("site/");
        assert_eq!(origin.prefix(), "site");
        for (path, expected) in [
            ("/a.txt", "site/a.txt"),
            ("/dir/a%20b%20%C3%A9%25.txt", "site/dir/a b é%.txt"),
            ("/percent/%2541%252e%252e.txt", "site/percent/%41%2e%2e.txt"),
            ("/chars/q%3Fhash%23.txt", "site/chars/q?hash#.txt"),
            ("/chars/plus+sign.txt", "site/chars/plus+sign.txt"),
            ("/chars/plus%2Bsign.txt", "site/chars/plus+sign.txt"),
            ("/b%5B%5D%7B%7D%5E%60%7C~.txt", "site/b[]{}^`|~.txt"),
            ("/%E6%97%A5%E6%9C%AC/%F0%9F%98%80", "site/日本/😀"),
        ] {
            assert_eq!(
                origin.s3_key(&key(path)).as_deref(),
                Some(expected),
                "{path}"
            );
        }
        for path in ["/", "/dir/", "/a/b/"] {
            assert_eq!(origin.s3_key(&key(path)), None, "{path}");
        }
        let bare = self::origin("");
        assert_eq!(bare.s3_key(&key("/a/b")).as_deref(), Some("a/b"));
    }

    #[test]
    fn keys_longer_than_s3_allows_are_not_objects() {
        let origin = origin("site");
        let longest = "x".repeat(MAX_KEY_BYTES - "site/".len());
        assert!(origin.s3_key(&key(&format!("/{longest}"))).is_some());
        assert_eq!(origin.s3_key(&key(&format!("/{longest}x"))), None);
    }

    #[test]
    fn prefixes_are_normalized_and_validated() {
        for (given, expected) in [
            ("", ""),
            ("/", ""),
            ("site", "site"),
            ("site/", "site"),
            ("/site/", "site"),
            ("a b/é%", "a b/é%"),
        ] {
            assert_eq!(normalize_prefix(given).as_deref(), Ok(expected), "{given}");
        }
        for given in ["a//b", "//", "a/../b", ".", "a/./b", "a\nb", "a\u{85}b"] {
            assert!(
                matches!(
                    normalize_prefix(given),
                    Err(S3ConfigError::InvalidPrefix { .. })
                ),
                "{given}"
            );
        }
        let err = S3Origin::builder("b").prefix("a//b").build().unwrap_err();
        assert!(err.to_string().contains("a//b"), "{err}");
    }

    #[test]
    fn entity_tags_are_strong_and_quoted() {
        assert_eq!(strong_etag(Some("\"abc\"")).as_deref(), Some("\"abc\""));
        assert_eq!(
            strong_etag(Some("\"d41d8cd98f00b204e9800998ecf8427e-2\"")).as_deref(),
            Some("\"d41d8cd98f00b204e9800998ecf8427e-2\"")
        );
        assert_eq!(strong_etag(Some("abc")).as_deref(), Some("\"abc\""));
        assert_eq!(strong_etag(Some("W/\"abc\"")), None);
        assert_eq!(strong_etag(Some("\"\"")), None);
        assert_eq!(strong_etag(Some("\"a\"b\"")), None);
        assert_eq!(strong_etag(Some("a b")), None);
        assert_eq!(strong_etag(None), None);
    }

    #[test]
    fn debug_shows_no_secret() {
        let builder = S3Origin::builder("b").credentials("AKID", "very-secret", None);
        let shown = format!("{builder:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        let shown = format!("{:?}", origin("site"));
        assert!(
            shown.contains("bucket") && !shown.contains("testing"),
            "{shown}"
        );
    }

    /// Nothing is requested for keys that cannot be objects (port 9 is not listened on).
    #[tokio::test]
    async fn folders_and_the_root_are_not_found_without_a_request() {
        let origin = origin("site");
        for path in ["/", "/dir/", "/dir/nested/"] {
            assert_eq!(origin.head(&key(path)).await, Err(OriginError::NotFound));
            assert_eq!(
                origin.get(&key(path), None).await.unwrap_err(),
                OriginError::NotFound
            );
            let cached = ObjectMeta {
                size: 1,
                etag: Some("\"a\"".to_owned()),
                last_modified: None,
                content_type: None,
                cache_control: None,
                expires: None,
            };
            assert_eq!(
                origin
                    .get_if_modified(&key(path), &cached)
                    .await
                    .unwrap_err(),
                OriginError::NotFound
            );
        }
    }
}
