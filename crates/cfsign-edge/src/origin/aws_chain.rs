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
//! refreshed [`REFRESH_BEFORE`] before they expire (halfway through their
//! life when they live less than twice that); credentials without an expiry
//! are kept.
//!
//! A fetch runs as one task of its own, bounded by [`FETCH_TIMEOUT`]: every
//! request that needs it waits for that one fetch (a request that gives up
//! does not cancel it), and while credentials due for a refresh have not
//! expired, requests go on with them without waiting. When a fetch fails (or
//! times out), the chain is not asked again for [`RETRY_AFTER_FAILURE`],
//! doubled after each further failure up to [`MAX_RETRY_AFTER_FAILURE`] (a
//! failing `credential_process` would otherwise run once per request);
//! meanwhile kept credentials serve until they expire, and without them each
//! request gets the failure.
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

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::default_provider::region::DefaultRegionChain;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
use object_store::CredentialProvider;
use object_store::aws::AwsCredential;
use tokio::sync::{OnceCell, watch};

/// Temporary credentials are fetched again this long before they expire (or
/// halfway through their life, for credentials that live less than twice
/// this).
pub const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// After a failed fetch, the chain is asked again only this much later (the
/// default of [`AwsChainCredentials::retry_after_failure`]); the pause doubles
/// after each further failure, up to [`MAX_RETRY_AFTER_FAILURE`].
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// The longest pause between two fetches that fail.
pub const MAX_RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5 * 60);

/// How long one fetch may take (a `credential_process` waiting for a prompt,
/// an SSO portal or metadata service that does not answer) before it counts as
/// a failure (the default of [`AwsChainCredentials::fetch_timeout`]).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest `detail` of an [`AwsChainError`] (a `credential_process`'s whole
/// standard error can be in the chain's message).
const MAX_DETAIL_BYTES: usize = 512;

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
        let mut detail = chain(&source);
        if detail.len() > MAX_DETAIL_BYTES {
            let mut end = MAX_DETAIL_BYTES;
            while !detail.is_char_boundary(end) {
                end -= 1;
            }
            detail.truncate(end);
            detail.push('…');
        }
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

/// The last failed fetch: when, what, and how long the chain is left alone.
struct Failure {
    at: Instant,
    error: AwsChainError,
    pause: Duration,
}

/// What a fetch ends with, as every request waiting for it sees it.
type Outcome = Result<Arc<AwsCredential>, AwsChainError>;

/// What the adapter holds between requests (locked only briefly, never across
/// an `await`).
#[derive(Default)]
struct State {
    cached: Option<Cached>,
    failure: Option<Failure>,
    /// The fetch under way, if any: its outcome once it ends.
    in_flight: Option<watch::Receiver<Option<Outcome>>>,
}

impl State {
    fn pausing(&self) -> bool {
        self.failure
            .as_ref()
            .is_some_and(|f| f.at.elapsed() < f.pause)
    }
}

/// The settings and state shared with the fetch tasks.
struct Inner {
    profile: Option<String>,
    region: Option<String>,
    provider: OnceCell<SharedCredentialsProvider>,
    retry_after_failure: Duration,
    fetch_timeout: Duration,
    state: std::sync::Mutex<State>,
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every update is one assignment).
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn provider(&self) -> &SharedCredentialsProvider {
        self.provider
            .get_or_init(|| async {
                // The chain `cfsign aws` gets from aws_config::defaults, with the same profile.
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

    /// Asks the chain (within the fetch timeout) and records the outcome.
    async fn fetch(&self) -> Outcome {
        let fetched_at = SystemTime::now();
        let asked = tokio::time::timeout(self.fetch_timeout, async {
            self.provider().await.provide_credentials().await
        })
        .await;
        let result = match asked {
            Ok(Ok(credentials)) => Ok(credentials),
            Ok(Err(e)) => Err(AwsChainError::new(self.profile.clone(), e)),
            Err(_) => Err(AwsChainError::new(
                self.profile.clone(),
                CredentialsError::provider_timed_out(self.fetch_timeout),
            )),
        };
        let mut state = self.state();
        state.in_flight = None;
        match result {
            Ok(credentials) => {
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
            Err(error) => {
                let pause = state
                    .failure
                    .as_ref()
                    .map_or(self.retry_after_failure, |f| {
                        (f.pause * 2).min(MAX_RETRY_AFTER_FAILURE)
                    });
                state.failure = Some(Failure {
                    at: Instant::now(),
                    error: error.clone(),
                    pause,
                });
                Err(error)
            }
        }
    }
}

/// `object_store` credentials from an `aws-config` provider, cached until
/// they are about to expire (see the [module documentation](self)).
pub struct AwsChainCredentials {
    inner: Arc<Inner>,
}

impl fmt::Debug for AwsChainCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsChainCredentials")
            .field("profile", &self.inner.profile)
            .finish_non_exhaustive()
    }
}

impl AwsChainCredentials {
    fn with(profile: Option<String>, provider: OnceCell<SharedCredentialsProvider>) -> Self {
        Self {
            inner: Arc::new(Inner {
                profile,
                region: None,
                provider,
                retry_after_failure: RETRY_AFTER_FAILURE,
                fetch_timeout: FETCH_TIMEOUT,
                state: std::sync::Mutex::default(),
            }),
        }
    }

    /// Settings can change only before the first request, while nothing else holds `inner`.
    fn inner_mut(&mut self) -> Option<&mut Inner> {
        Arc::get_mut(&mut self.inner)
    }

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
        Self::with(profile, OnceCell::new())
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
        Self::with(None, OnceCell::new_with(Some(provider)))
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
        if let Some(inner) = self.inner_mut() {
            inner.region = Some(region.into());
        }
        self
    }

    /// How long a failed fetch keeps the chain from being asked again at
    /// first (default [`RETRY_AFTER_FAILURE`]; doubled after each further
    /// failure, up to [`MAX_RETRY_AFTER_FAILURE`]).
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
        if let Some(inner) = self.inner_mut() {
            inner.retry_after_failure = wait;
        }
        self
    }

    /// How long one fetch may take before it counts as a failure (default
    /// [`FETCH_TIMEOUT`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cfsign_edge::origin::aws_chain::AwsChainCredentials;
    ///
    /// let credentials = AwsChainCredentials::new(None).fetch_timeout(Duration::from_secs(10));
    /// # let _ = credentials;
    /// ```
    #[must_use]
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        if let Some(inner) = self.inner_mut() {
            inner.fetch_timeout = timeout;
        }
        self
    }

    /// The profile asked for, if any.
    #[must_use]
    pub fn profile(&self) -> Option<&str> {
        self.inner.profile.as_deref()
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

    /// The credentials: kept ones until they are due for a refresh, else
    /// those of the fetch under way or of a new one (see the [module
    /// documentation](self)).
    ///
    /// # Errors
    ///
    /// [`AwsChainError`] when the chain gives none (or did not within the
    /// fetch timeout, or failed within the pause after a failure) and no kept
    /// credentials are still valid.
    pub async fn credential(&self) -> Outcome {
        let mut waiting = {
            let mut state = self.inner.state();
            let now = SystemTime::now();
            let valid = state
                .cached
                .as_ref()
                .filter(|c| c.expires_at.is_none_or(|at| now < at))
                .map(|c| {
                    (
                        Arc::clone(&c.credential),
                        c.refresh_at.is_none_or(|at| now < at),
                    )
                });
            if let Some((credential, fresh)) = valid {
                if !fresh && state.in_flight.is_none() && !state.pausing() {
                    // Refreshed in the background; this request goes on with the kept ones.
                    drop(self.start_fetch(&mut state));
                }
                return Ok(credential);
            }
            if let Some(failure) = state.failure.as_ref().filter(|_| state.pausing()) {
                return Err(failure.error.clone());
            }
            match &state.in_flight {
                Some(in_flight) => in_flight.clone(),
                None => self.start_fetch(&mut state),
            }
        };
        let outcome = waiting
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|o| o.clone());
        outcome.unwrap_or_else(|| {
            Err(AwsChainError::new(
                self.inner.profile.clone(),
                CredentialsError::provider_error("the credential fetch ended without an answer"),
            ))
        })
    }

    /// Starts a fetch as a task of its own (a request that stops waiting does
    /// not cancel it); the receiver of its outcome.
    fn start_fetch(&self, state: &mut State) -> watch::Receiver<Option<Outcome>> {
        let (sender, receiver) = watch::channel(None);
        state.in_flight = Some(receiver.clone());
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let outcome = inner.fetch().await;
            // Nobody may be waiting (a background refresh): not an error.
            let _ = sender.send(Some(outcome));
        });
        receiver
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

    /// A provider that answers from a script, one step per call: credentials with
    /// this key ID living this long (after an optional delay), or a failure.
    #[derive(Debug)]
    struct Scripted {
        steps: Vec<(Duration, Option<(&'static str, Duration)>)>,
        calls: std::sync::atomic::AtomicUsize,
    }

    impl Scripted {
        fn shared(steps: Vec<(Duration, Option<(&'static str, Duration)>)>) -> Arc<Self> {
            Arc::new(Self {
                steps,
                calls: std::sync::atomic::AtomicUsize::new(0),
            })
        }
        fn calls(&self) -> usize {
            self.calls.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[derive(Debug)]
    struct ScriptedRef(Arc<Scripted>);

    impl aws_credential_types::provider::ProvideCredentials for ScriptedRef {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            use aws_credential_types::Credentials;
            let call = self
                .0
                .calls
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (delay, answer) = self.0.steps[call.min(self.0.steps.len() - 1)];
            aws_credential_types::provider::future::ProvideCredentials::new(async move {
                tokio::time::sleep(delay).await;
                match answer {
                    Some((key, life)) => Ok(Credentials::new(
                        key,
                        "SECRET",
                        None,
                        Some(SystemTime::now() + life),
                        "scripted",
                    )),
                    None => Err(CredentialsError::provider_error(std::io::Error::other(
                        "portal down",
                    ))),
                }
            })
        }
    }

    fn scripted(script: &Arc<Scripted>) -> AwsChainCredentials {
        AwsChainCredentials::from_provider(SharedCredentialsProvider::new(ScriptedRef(Arc::clone(
            script,
        ))))
    }

    /// Credentials due for a refresh but not expired serve at once while the refresh
    /// runs in the background, and go on serving while it fails.
    #[tokio::test]
    async fn a_refresh_never_holds_requests_and_a_failed_one_keeps_the_old_keys() {
        let (now, slow) = (Duration::ZERO, Duration::from_millis(500));
        let four_s = Duration::from_secs(4);
        let script = Scripted::shared(vec![
            (now, Some(("AKID1", four_s))),
            (slow, None),
            (slow, Some(("AKID2", four_s))),
        ]);
        let chain = scripted(&script).retry_after_failure(Duration::ZERO);
        assert_eq!(chain.credential().await.unwrap().key_id, "AKID1");
        assert_eq!(chain.credential().await.unwrap().key_id, "AKID1");
        assert_eq!(script.calls(), 1, "kept until halfway");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        // Due: a refresh starts (it takes 500 ms and fails); the kept keys answer at once.
        let started = Instant::now();
        assert_eq!(chain.credential().await.unwrap().key_id, "AKID1");
        assert_eq!(chain.credential().await.unwrap().key_id, "AKID1");
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "waited for the refresh"
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // the refresh task starts
        assert_eq!(script.calls(), 2, "one refresh for both requests");
        tokio::time::sleep(Duration::from_millis(550)).await;
        // It failed: the next request starts another (500 ms, succeeds) and still answers at once.
        assert_eq!(chain.credential().await.unwrap().key_id, "AKID1");
        tokio::time::sleep(Duration::from_millis(650)).await;
        assert_eq!(chain.credential().await.unwrap().key_id, "AKID2");
        assert_eq!(script.calls(), 3);
    }

    /// A fetch that hangs: every request waits for the same one, which ends at the fetch
    /// timeout as a failure; the pause then doubles with each failure.
    #[tokio::test]
    async fn a_hung_fetch_is_one_bounded_by_the_timeout_and_the_pause_grows() {
        let hang = Duration::from_secs(3600);
        let script = Scripted::shared(vec![(hang, Some(("AKID", hang)))]);
        let pause = Duration::from_millis(200);
        let chain = Arc::new(
            scripted(&script)
                .fetch_timeout(Duration::from_millis(300))
                .retry_after_failure(pause),
        );
        let started = Instant::now();
        let requests: Vec<_> = (0..8)
            .map(|_| {
                let chain = Arc::clone(&chain);
                tokio::spawn(async move { chain.credential().await })
            })
            .collect();
        for request in requests {
            let text = request.await.unwrap().unwrap_err().to_string();
            assert!(
                text.contains("timed out") || text.contains("timeout"),
                "{text}"
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(script.calls(), 1, "one fetch for eight requests");
        // Within the pause: the same failure, no fetch.
        assert!(chain.credential().await.is_err());
        assert_eq!(script.calls(), 1);
        // After it: one more fetch, whose failure doubles the pause (400 ms).
        tokio::time::sleep(pause + Duration::from_millis(50)).await;
        assert!(chain.credential().await.is_err());
        assert_eq!(script.calls(), 2);
        tokio::time::sleep(pause + Duration::from_millis(50)).await;
        assert!(chain.credential().await.is_err());
        assert_eq!(script.calls(), 2, "the second pause is twice the first");
        let state = chain.inner.state();
        assert_eq!(state.failure.as_ref().map(|f| f.pause), Some(pause * 2));
    }

    /// A `credential_process`'s whole standard error is not carried into every message.
    #[test]
    fn the_detail_is_bounded() {
        let long = "x".repeat(10_000);
        let cause = CredentialsError::provider_error(std::io::Error::other(long));
        let error = AwsChainError::new(None, cause);
        assert!(
            error.detail.len() <= MAX_DETAIL_BYTES + '…'.len_utf8(),
            "{}",
            error.detail.len()
        );
        assert!(error.detail.ends_with('…'));
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
