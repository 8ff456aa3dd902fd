//! The S3 origin's credentials from the AWS SDK's default chain (feature
//! `aws-chain`), the chain `cfsign aws` uses: environment variables, the
//! profile of `~/.aws/config` and `~/.aws/credentials` (`AWS_PROFILE`, or one
//! named here) with its `credential_process`, IAM Identity Center (SSO, with
//! the `sso-session` token cache of `aws sso login`), `aws login` console
//! session, role to assume or web identity; then web identity from the
//! environment, the ECS/EKS container endpoints and the instance metadata
//! service.
//!
//! [`AwsChainCredentials`] adapts an `aws-config` provider to `object_store`'s
//! [`CredentialProvider`]. The SDK's providers do not cache (its service
//! clients do, in their identity cache), and `object_store` asks for a
//! credential before every request, so the adapter keeps the credentials and
//! fetches new ones only when they are about to expire: temporary credentials
//! (SSO, `credential_process` with an `Expiration`, assumed roles) are
//! refreshed halfway through their life, at most [`REFRESH_BEFORE`] before
//! they expire; credentials without an expiry are kept. One request fetches
//! them while the others wait for it. When a fetch fails, the chain is not
//! asked again for [`RETRY_AFTER_FAILURE`] (a failing `credential_process`
//! would otherwise run once per request); meanwhile the kept credentials are
//! used while they have not expired, and without them each request gets the
//! same error.
//!
//! The chain is built on the first request, on the runtime that serves it.
//! [`AwsChainCredentials::region`] resolves the region the same way (the
//! profile's `region`, `AWS_REGION`, instance metadata) for a bucket whose
//! region is not given.
//!
//! ```no_run
//! use std::sync::Arc;
//! use cfsign_edge::origin::S3Origin;
//! use cfsign_edge::origin::aws_chain::AwsChainCredentials;
//!
//! // As S3Origin::builder("media").aws_profile("media-reader") does:
//! let credentials = AwsChainCredentials::new(Some("media-reader".to_owned()));
//! let origin = S3Origin::builder("media")
//!     .region("eu-west-1")
//!     .credential_provider(Arc::new(credentials))
//!     .build()?;
//! # Ok::<(), cfsign_edge::origin::s3::S3ConfigError>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::default_provider::region::DefaultRegionChain;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
use object_store::CredentialProvider;
use object_store::aws::AwsCredential;
use tokio::sync::{Mutex, OnceCell};

/// Temporary credentials are fetched again at the latest this long before
/// they expire (and halfway through their life, if that comes first).
pub const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// After a failed fetch, the chain is asked again only this much later (the
/// default of [`AwsChainCredentials::retry_after_failure`]).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Why the chain gave no credentials: which profile, and the chain's own
/// explanation (a `credential_process` that failed, an expired SSO token, no
/// credentials anywhere, …).
#[derive(Clone, Debug, thiserror::Error)]
#[error(
    "no AWS credentials for the S3 origin from {}: {detail}; {fix}",
    profile_name(profile.as_deref())
)]
pub struct AwsChainError {
    /// The profile asked for (`None`: `AWS_PROFILE`, else `default`).
    pub profile: Option<String>,
    /// The chain's error and its causes, joined (what the source chain says).
    pub detail: String,
    fix: &'static str,
    /// The SDK's error (shared: the same failure answers every request until
    /// the chain is asked again).
    #[source]
    pub source: Arc<CredentialsError>,
}

impl AwsChainError {
    fn new(profile: Option<String>, source: CredentialsError) -> Self {
        let detail = chain(&source);
        let fix = match &source {
            CredentialsError::CredentialsNotLoaded(_) => {
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, name a profile of ~/.aws/config \
                 (AWS_PROFILE, or `profile` in the origin's settings), or run the edge where a role \
                 provides them (ECS, EC2)"
            }
            _ => {
                "check the profile in ~/.aws/config (AWS_CONFIG_FILE): a credential_process must print \
                 its JSON and exit 0, an SSO profile needs `aws sso login --profile NAME`, a login \
                 session `aws login --profile NAME`"
            }
        };
        Self {
            profile,
            detail,
            fix,
            source: Arc::new(source),
        }
    }
}

fn profile_name(profile: Option<&str>) -> String {
    match profile {
        Some(p) => format!("the profile `{p}`"),
        None => "the default chain (AWS_PROFILE, else the `default` profile)".to_owned(),
    }
}

/// The error and its sources, joined, each once.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
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

/// Credentials kept until [`Cached::refresh_at`].
struct Cached {
    credential: Arc<AwsCredential>,
    /// `None`: they do not expire.
    refresh_at: Option<SystemTime>,
    /// `None`: they do not expire.
    expires_at: Option<SystemTime>,
}

/// What the adapter holds between requests.
#[derive(Default)]
struct State {
    cached: Option<Cached>,
    /// The last failed fetch and when it happened, until the chain is asked again.
    failure: Option<(Instant, AwsChainError)>,
}

/// `object_store` credentials from an `aws-config` provider, cached until
/// they are about to expire (see the [module documentation](self)).
pub struct AwsChainCredentials {
    profile: Option<String>,
    region: Option<String>,
    provider: OnceCell<SharedCredentialsProvider>,
    retry_after_failure: Duration,
    state: Mutex<State>,
}

impl fmt::Debug for AwsChainCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsChainCredentials")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl AwsChainCredentials {
    /// The default chain with this profile (`None`: `AWS_PROFILE`, else
    /// `default`), built on the first request.
    ///
    /// ```
    /// use cfsign_edge::origin::aws_chain::AwsChainCredentials;
    ///
    /// let credentials = AwsChainCredentials::new(Some("media-reader".to_owned()));
    /// assert_eq!(credentials.profile(), Some("media-reader"));
    /// ```
    #[must_use]
    pub fn new(profile: Option<String>) -> Self {
        Self {
            profile,
            region: None,
            provider: OnceCell::new(),
            retry_after_failure: RETRY_AFTER_FAILURE,
            state: Mutex::default(),
        }
    }

    /// An existing provider, e.g. the one of an `SdkConfig` that other AWS
    /// clients of the program share (`config.credentials_provider()`).
    ///
    /// ```
    /// use aws_credential_types::Credentials;
    /// use aws_credential_types::provider::SharedCredentialsProvider;
    /// use cfsign_edge::origin::aws_chain::AwsChainCredentials;
    ///
    /// let keys = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
    /// let provider = SharedCredentialsProvider::new(keys);
    /// let credentials = AwsChainCredentials::from_provider(provider);
    /// assert_eq!(credentials.profile(), None);
    /// ```
    #[must_use]
    pub fn from_provider(provider: SharedCredentialsProvider) -> Self {
        Self {
            profile: None,
            region: None,
            provider: OnceCell::new_with(Some(provider)),
            retry_after_failure: RETRY_AFTER_FAILURE,
            state: Mutex::default(),
        }
    }

    /// The region of the chain's own clients (STS for a role, SSO's portal
    /// when the profile names none), instead of looking it up again.
    ///
    /// ```
    /// use cfsign_edge::origin::aws_chain::AwsChainCredentials;
    ///
    /// let credentials = AwsChainCredentials::new(None).with_region("eu-west-1");
    /// # let _ = credentials;
    /// ```
    #[must_use]
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// How long a failed fetch keeps the chain from being asked again
    /// (default [`RETRY_AFTER_FAILURE`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cfsign_edge::origin::aws_chain::AwsChainCredentials;
    ///
    /// let credentials = AwsChainCredentials::new(None).retry_after_failure(Duration::from_secs(30));
    /// # let _ = credentials;
    /// ```
    #[must_use]
    pub fn retry_after_failure(mut self, wait: Duration) -> Self {
        self.retry_after_failure = wait;
        self
    }

    /// The profile asked for, if any.
    #[must_use]
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// The region of the same chain: `AWS_REGION`, the profile's `region`,
    /// the instance metadata service; `None` if none has one.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// use cfsign_edge::origin::aws_chain::AwsChainCredentials;
    ///
    /// let region = AwsChainCredentials::region(Some("media-reader")).await;
    /// println!("{}", region.as_deref().unwrap_or("no region"));
    /// # }
    /// ```
    pub async fn region(profile: Option<&str>) -> Option<String> {
        let mut chain = DefaultRegionChain::builder();
        if let Some(p) = profile {
            chain = chain.profile_name(p);
        }
        chain.build().region().await.map(|r| r.to_string())
    }

    /// The region as [`AwsChainCredentials::region`], from synchronous code:
    /// resolved on a thread of its own (with its own small runtime), so it
    /// may be called inside or outside an async runtime.
    pub(crate) fn region_blocking(profile: Option<&str>) -> Option<String> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()
                        .and_then(|runtime| runtime.block_on(Self::region(profile)))
                })
                .join()
                .ok()
                .flatten()
        })
    }

    async fn provider(&self) -> &SharedCredentialsProvider {
        self.provider
            .get_or_init(|| async {
                // As `cfsign aws` loads it (cfsign_aws::client::AwsSettings::load).
                let mut loader = aws_config::defaults(BehaviorVersion::latest());
                if let Some(p) = &self.profile {
                    loader = loader.profile_name(p);
                }
                if let Some(r) = &self.region {
                    loader = loader.region(aws_config::Region::new(r.clone()));
                }
                if let Some(provider) = loader.load().await.credentials_provider() {
                    return provider;
                }
                // `load` always sets the default chain; this is the same chain, in case it stops.
                let mut chain = DefaultCredentialsChain::builder();
                if let Some(p) = &self.profile {
                    chain = chain.profile_name(p);
                }
                if let Some(r) = &self.region {
                    chain = chain.region(aws_config::Region::new(r.clone()));
                }
                SharedCredentialsProvider::new(chain.build().await)
            })
            .await
    }

    /// The credentials: kept ones until they are due for a refresh, else new
    /// ones from the chain.
    ///
    /// # Errors
    ///
    /// [`AwsChainError`] when the chain gives none.
    pub async fn credential(&self) -> Result<Arc<AwsCredential>, AwsChainError> {
        let mut state = self.state.lock().await;
        let now = SystemTime::now();
        if let Some(c) = &state.cached
            && c.refresh_at.is_none_or(|at| now < at)
        {
            return Ok(Arc::clone(&c.credential));
        }
        let failed_recently = state
            .failure
            .as_ref()
            .filter(|(at, _)| at.elapsed() < self.retry_after_failure)
            .map(|(_, error)| error.clone());
        let result = match failed_recently {
            Some(error) => Err(error),
            None => self.fetch(&mut state).await,
        };
        result.or_else(|error| {
            // Due for a refresh but not expired: still good while the chain recovers.
            match &state.cached {
                Some(c) if c.expires_at.is_none_or(|at| now < at) => Ok(Arc::clone(&c.credential)),
                _ => Err(error),
            }
        })
    }

    /// Asks the chain, and keeps what it gives (or its failure) in `state`.
    async fn fetch(&self, state: &mut State) -> Result<Arc<AwsCredential>, AwsChainError> {
        let fetched_at = SystemTime::now();
        let credentials = match self.provider().await.provide_credentials().await {
            Ok(credentials) => credentials,
            Err(e) => {
                let error = AwsChainError::new(self.profile.clone(), e);
                state.failure = Some((Instant::now(), error.clone()));
                return Err(error);
            }
        };
        let credential = Arc::new(AwsCredential {
            key_id: credentials.access_key_id().to_owned(),
            secret_key: credentials.secret_access_key().to_owned(),
            token: credentials.session_token().map(str::to_owned),
        });
        state.failure = None;
        state.cached = Some(Cached {
            credential: Arc::clone(&credential),
            refresh_at: credentials
                .expiry()
                .map(|expiry| refresh_at(fetched_at, expiry)),
            expires_at: credentials.expiry(),
        });
        Ok(credential)
    }
}

/// Halfway between `fetched` and `expiry`, or [`REFRESH_BEFORE`] before
/// `expiry`, whichever is later.
fn refresh_at(fetched: SystemTime, expiry: SystemTime) -> SystemTime {
    let life = expiry.duration_since(fetched).unwrap_or_default();
    let halfway = fetched + life / 2;
    let before = expiry.checked_sub(REFRESH_BEFORE).unwrap_or(fetched);
    halfway.max(before)
}

#[async_trait::async_trait]
impl CredentialProvider for AwsChainCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        self.credential()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_credentials_are_refreshed_before_they_expire() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = Duration::from_secs(3600);
        // An hour: five minutes before the end.
        assert_eq!(refresh_at(now, now + hour), now + hour - REFRESH_BEFORE);
        // Two minutes: halfway.
        let short = Duration::from_secs(120);
        assert_eq!(refresh_at(now, now + short), now + short / 2);
        // Already expired: now.
        assert_eq!(refresh_at(now, now - short), now);
    }

    /// A real `credential_process` (a shell command) that fails: the error says what it
    /// wrote; requests within the retry interval get that error without running it again,
    /// and the first one after the interval runs it again.
    #[tokio::test]
    async fn a_failing_process_is_reported_and_tried_again_after_a_pause() {
        use aws_config::credential_process::CredentialProcessProvider;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("runs");
        let command = format!(
            "echo run >> '{}'; echo 'the token vault is locked' >&2; exit 3",
            log.display()
        );
        let provider = SharedCredentialsProvider::new(CredentialProcessProvider::new(command));
        let pause = Duration::from_millis(300);
        let chain = AwsChainCredentials::from_provider(provider).retry_after_failure(pause);
        let runs = || std::fs::read_to_string(&log).unwrap().lines().count();
        for _ in 0..3 {
            let text = chain.credential().await.unwrap_err().to_string();
            assert!(text.contains("the token vault is locked"), "{text}");
            assert!(text.contains("credential_process must print"), "{text}");
        }
        assert_eq!(runs(), 1, "run once for three requests within the pause");
        tokio::time::sleep(pause + Duration::from_millis(50)).await;
        // object_store sees it as an error of the S3 store, with the same text.
        let error = chain.get_credential().await.unwrap_err().to_string();
        assert!(error.contains("the token vault is locked"), "{error}");
        assert_eq!(runs(), 2, "run again after the pause");
    }

    /// Credentials due for a refresh but not expired are used while the refresh fails.
    #[tokio::test]
    async fn kept_credentials_serve_while_a_refresh_fails() {
        use aws_credential_types::Credentials;
        use aws_credential_types::provider::future::ProvideCredentials;
        use std::sync::atomic::{AtomicUsize, Ordering};

        /// Credentials that expire in 4 s (due for a refresh after 2 s) the first time,
        /// then failures.
        #[derive(Debug, Default)]
        struct Flaky(AtomicUsize);
        impl aws_credential_types::provider::ProvideCredentials for Flaky {
            fn provide_credentials<'a>(&'a self) -> ProvideCredentials<'a>
            where
                Self: 'a,
            {
                let expiry = SystemTime::now() + Duration::from_secs(4);
                ProvideCredentials::ready(match self.0.fetch_add(1, Ordering::SeqCst) {
                    0 => Ok(Credentials::new("AKID", "SECRET", None, Some(expiry), "t")),
                    _ => Err(CredentialsError::provider_error(std::io::Error::other(
                        "portal down",
                    ))),
                })
            }
        }
        let flaky = Arc::new(Flaky::default());
        let chain = AwsChainCredentials::from_provider(SharedCredentialsProvider::new(FlakyRef(
            Arc::clone(&flaky),
        )))
        .retry_after_failure(Duration::ZERO);
        assert_eq!(chain.credential().await.unwrap().key_id, "AKID");
        assert_eq!(flaky.0.load(Ordering::SeqCst), 1, "kept until halfway");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        // Due for a refresh, not expired: asked again, fails, the kept ones are served.
        assert_eq!(chain.credential().await.unwrap().key_id, "AKID");
        assert_eq!(chain.credential().await.unwrap().key_id, "AKID");
        assert_eq!(flaky.0.load(Ordering::SeqCst), 3);

        #[derive(Debug)]
        struct FlakyRef(Arc<Flaky>);
        impl aws_credential_types::provider::ProvideCredentials for FlakyRef {
            fn provide_credentials<'a>(&'a self) -> ProvideCredentials<'a>
            where
                Self: 'a,
            {
                self.0.provide_credentials()
            }
        }
    }

    #[test]
    fn errors_name_the_profile_and_the_fix() {
        let cause = CredentialsError::provider_error(std::io::Error::other("exit status 3"));
        let text = AwsChainError::new(Some("media-reader".to_owned()), cause).to_string();
        assert!(
            text.contains("the profile `media-reader`") && text.contains("exit status 3"),
            "{text}"
        );
        let none = CredentialsError::not_loaded("no providers in chain provided credentials");
        let text = AwsChainError::new(None, none).to_string();
        assert!(
            text.contains("AWS_PROFILE") && text.contains("AWS_ACCESS_KEY_ID"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_shared_provider_is_asked_once_for_lasting_credentials() {
        use aws_credential_types::Credentials;
        let provider =
            SharedCredentialsProvider::new(Credentials::new("AKID", "SECRET", None, None, "test"));
        let chain = AwsChainCredentials::from_provider(provider);
        let first = chain.credential().await.unwrap();
        let second = chain.get_credential().await.unwrap();
        assert!(Arc::ptr_eq(&first, &second), "cached");
        assert_eq!(first.key_id, "AKID");
        assert!(!format!("{chain:?}").contains("SECRET"));
    }
}
