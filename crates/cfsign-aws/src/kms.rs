//! Signing through AWS KMS: the private key never leaves KMS.
//!
//! [`KmsSigningKey`] implements cfsign's [`SigningKey`] trait, so a
//! [`cfsign::Signer`] built on it signs URLs and cookies exactly like one with a
//! local key. KMS cannot sign SHA-1, so only SHA-256 is supported (URLs then carry
//! `Hash-Algorithm=SHA256`):
//!
//! | KMS key spec    | CloudFront key type | KMS signing algorithm         |
//! |-----------------|---------------------|-------------------------------|
//! | `RSA_2048`      | RSA-2048            | `RSASSA_PKCS1_V1_5_SHA_256`   |
//! | `ECC_NIST_P256` | ECDSA P-256         | `ECDSA_SHA_256` (DER, as CloudFront expects) |
//!
//! Other key specs (RSA-3072/4096, P-384, ...) are refused: CloudFront does not
//! accept them. Policies up to KMS's 4 KiB message limit are sent as they are
//! (`MessageType=RAW`); longer ones are hashed here and KMS signs the digest
//! (`MessageType=DIGEST`). Both sign the same SHA-256 digest, so either signature
//! verifies against the policy (RSA PKCS#1 v1.5 even gives the same bytes; ECDSA
//! signatures are randomised and differ on every call, RAW or DIGEST).
//!
//! The trait is synchronous: the key owns a small tokio runtime (two threads) that
//! makes the calls, and [`SigningKey::sign`] waits for the answer on a plain
//! channel, so it can be called from any thread — rayon workers, or code already
//! running inside another tokio runtime — without panicking. That wait is
//! bounded by [`MAX_WAIT`] (the client's [`OPERATION_TIMEOUT`] plus a margin for
//! throttling retries), after which `sign` fails instead of hanging. Throttling
//! (`ThrottlingException`) is retried with exponential backoff and jitter, a
//! bounded number of times.
//!
//! ```no_run
//! use std::time::Duration;
//! use cfsign::{HashAlgorithm, KeyPairId, Policy, Resource, SignableUrl, Signer};
//! use cfsign_aws::client::AwsSettings;
//! use cfsign_aws::kms::KmsSigningKey;
//!
//! let key = KmsSigningKey::connect(&AwsSettings::default(), "alias/cloudfront-signing")?;
//! let signer = Signer::new(KeyPairId::new("K2JCJMDEHXQW5F")?, key)
//!     .with_hash_algorithm(HashAlgorithm::Sha256)?;
//! let url = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/report.pdf")?;
//! let policy = Policy::builder(Resource::Url(url.clone()))
//!     .expires_in(Duration::from_secs(300))
//!     .build()?;
//! println!("{}", signer.sign_url(&url, &policy)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use cfsign::{HashAlgorithm, KeyType, PublicKey, SignError, SigningKey};

use crate::client::{ApiError, AwsSettings, OPERATION_TIMEOUT};

/// How often a throttled `kms:Sign` is tried in all (on top of the SDK's own retries).
pub const MAX_SIGN_ATTEMPTS: u32 = 8;
/// The first backoff after throttling; it doubles each time (with jitter), up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest pause between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// The longest a blocking KMS call ([`KmsSigningKey::connect`], `sign`) waits for
/// its answer, throttling retries included.
pub const MAX_WAIT: Duration = OPERATION_TIMEOUT.saturating_add(Duration::from_secs(30));

/// Why a KMS key cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// A KMS call failed.
    #[error("KMS key {key_id}: {error}")]
    Api {
        /// The key as given.
        key_id: String,
        /// The call and its error.
        error: ApiError,
    },
    /// The key is not an asymmetric signing key.
    #[error(
        "KMS key {key_id} has key usage {usage}, not SIGN_VERIFY; create an asymmetric signing key: \
         aws kms create-key --key-usage SIGN_VERIFY --key-spec ECC_NIST_P256 (or RSA_2048)"
    )]
    NotSigningKey {
        /// The key.
        key_id: String,
        /// Its usage.
        usage: String,
    },
    /// CloudFront accepts only RSA-2048 and ECDSA P-256.
    #[error(
        "KMS key {key_id} is {spec}; CloudFront accepts only RSA_2048 and ECC_NIST_P256 keys: create one \
         with aws kms create-key --key-usage SIGN_VERIFY --key-spec ECC_NIST_P256 (or RSA_2048)"
    )]
    UnsupportedKeySpec {
        /// The key.
        key_id: String,
        /// Its spec.
        spec: String,
    },
    /// The public key KMS returned cannot be read, or does not match the spec.
    #[error("KMS key {key_id}: its public key is unusable: {reason}")]
    PublicKey {
        /// The key.
        key_id: String,
        /// What is wrong.
        reason: String,
    },
    /// A KMS call got no answer within [`MAX_WAIT`], or its task stopped.
    #[error("KMS key {key_id}: {reason}")]
    NoAnswer {
        /// The key as given.
        key_id: String,
        /// What happened, and what to check.
        reason: String,
    },
    /// The runtime for the KMS calls could not start.
    #[error("cannot start the runtime for KMS calls: {0}")]
    Runtime(String),
}

/// A private key held in AWS KMS, usable wherever cfsign takes a [`SigningKey`].
///
/// Cheap to clone (the runtime and client are shared).
#[derive(Clone)]
pub struct KmsSigningKey {
    inner: Arc<Inner>,
}

/// The most bytes `kms:Sign` takes as a RAW message.
pub const MAX_RAW_MESSAGE: usize = 4096;

/// A runtime that is shut down without blocking when dropped, so that dropping it
/// (even on an error path) inside an async context never panics.
struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl OwnedRuntime {
    fn get(&self) -> Option<&tokio::runtime::Runtime> {
        self.0.as_ref()
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

struct Inner {
    runtime: OwnedRuntime,
    client: aws_sdk_kms::Client,
    key_id: String,
    key_type: KeyType,
    public_key: PublicKey,
}

impl fmt::Debug for KmsSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsSigningKey")
            .field("key_id", &self.inner.key_id)
            .field("key_type", &self.inner.key_type)
            .finish_non_exhaustive()
    }
}

impl KmsSigningKey {
    /// Loads the AWS configuration and reads the key's public half and spec
    /// (`kms:GetPublicKey`). `key_id` is a key ID, key ARN, alias name
    /// (`alias/NAME`) or alias ARN.
    ///
    /// # Errors
    ///
    /// When KMS cannot be reached, the key is not a `SIGN_VERIFY` key, or its spec
    /// is neither `RSA_2048` nor `ECC_NIST_P256`.
    pub fn connect(settings: &AwsSettings, key_id: &str) -> Result<Self, KmsError> {
        let runtime = new_runtime()?;
        let settings = settings.clone();
        let clients = block_on(&runtime, async move { settings.load().await })
            .map_err(|reason| KmsError::NoAnswer {
                key_id: key_id.to_owned(),
                reason,
            })?
            .map_err(|e| KmsError::Runtime(e.to_string()))?;
        Self::with_runtime(runtime, clients.kms, key_id)
    }

    /// Uses an existing KMS client (its configuration decides credentials and
    /// endpoint), reading the key's public half and spec (`kms:GetPublicKey`).
    ///
    /// # Errors
    ///
    /// As [`KmsSigningKey::connect`].
    pub fn from_client(client: aws_sdk_kms::Client, key_id: &str) -> Result<Self, KmsError> {
        Self::with_runtime(new_runtime()?, client, key_id)
    }

    fn with_runtime(
        runtime: OwnedRuntime,
        client: aws_sdk_kms::Client,
        key_id: &str,
    ) -> Result<Self, KmsError> {
        let given = key_id.to_owned();
        let call_client = client.clone();
        let answer = block_on(&runtime, async move {
            call_client.get_public_key().key_id(given).send().await
        })
        .map_err(|reason| KmsError::NoAnswer {
            key_id: key_id.to_owned(),
            reason,
        })?
        .map_err(|e| KmsError::Api {
            key_id: key_id.to_owned(),
            error: ApiError::from_sdk("kms:GetPublicKey", e),
        })?;
        let usage = answer.key_usage().map(|u| u.as_str().to_owned());
        if let Some(usage) = usage
            && usage != KeyUsageType::SignVerify.as_str()
        {
            return Err(KmsError::NotSigningKey {
                key_id: key_id.to_owned(),
                usage,
            });
        }
        // `KeySpec`, or the deprecated `CustomerMasterKeySpec` (all some servers send).
        let spec = answer
            .key_spec()
            .map(|s| s.as_str().to_owned())
            .or_else(|| {
                #[allow(deprecated)] // some servers (moto 5.2) send only this one
                answer
                    .customer_master_key_spec()
                    .map(|s| s.as_str().to_owned())
            })
            .unwrap_or_else(|| "an unknown key spec".to_owned());
        let key_type = key_type_of(&spec).ok_or_else(|| KmsError::UnsupportedKeySpec {
            key_id: key_id.to_owned(),
            spec: spec.clone(),
        })?;
        let der = answer
            .public_key()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| KmsError::PublicKey {
                key_id: key_id.to_owned(),
                reason: "GetPublicKey returned no key".to_owned(),
            })?;
        let public_key = PublicKey::from_der(&der).map_err(|e| KmsError::PublicKey {
            key_id: key_id.to_owned(),
            reason: e.to_string(),
        })?;
        if public_key.key_type() != key_type {
            return Err(KmsError::PublicKey {
                key_id: key_id.to_owned(),
                reason: format!(
                    "the key spec says {spec} but the public key is {}",
                    public_key.key_type()
                ),
            });
        }
        let resolved = answer.key_id().unwrap_or(key_id).to_owned();
        Ok(Self {
            inner: Arc::new(Inner {
                runtime,
                client,
                key_id: resolved,
                key_type,
                public_key,
            }),
        })
    }

    /// The key's ARN (as KMS reported it) or the ID given.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.inner.key_id
    }

    /// The public half, as KMS returned it.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.inner.public_key
    }

    /// The public half as SubjectPublicKeyInfo PEM, the form CloudFront's
    /// `CreatePublicKey` takes.
    ///
    /// # Errors
    ///
    /// Only if the key cannot be encoded (never for keys accepted by the constructors).
    pub fn public_key_pem(&self) -> Result<String, KmsError> {
        self.inner
            .public_key
            .to_pem()
            .map_err(|e| KmsError::PublicKey {
                key_id: self.inner.key_id.clone(),
                reason: e.to_string(),
            })
    }

    fn algorithm(&self) -> SigningAlgorithmSpec {
        match self.inner.key_type {
            KeyType::Rsa2048 => SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
            _ => SigningAlgorithmSpec::EcdsaSha256,
        }
    }
}

fn key_type_of(spec: &str) -> Option<KeyType> {
    if spec == KeySpec::Rsa2048.as_str() {
        Some(KeyType::Rsa2048)
    } else if spec == KeySpec::EccNistP256.as_str() {
        Some(KeyType::EcdsaP256)
    } else {
        None
    }
}

impl SigningKey for KmsSigningKey {
    fn key_type(&self) -> KeyType {
        self.inner.key_type
    }

    fn supports(&self, hash: HashAlgorithm) -> bool {
        hash == HashAlgorithm::Sha256
    }

    fn sign(&self, hash: HashAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignError> {
        if hash != HashAlgorithm::Sha256 {
            return Err(SignError::UnsupportedHash {
                key: format!("AWS KMS ({})", self.inner.key_id),
                hash,
                alternative: "SHA256 (--hash sha256): KMS cannot sign SHA-1",
            });
        }
        let (payload, kind) = if message.len() <= MAX_RAW_MESSAGE {
            (message.to_vec(), MessageType::Raw)
        } else {
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
            (digest.as_ref().to_vec(), MessageType::Digest)
        };
        let client = self.inner.client.clone();
        let key_id = self.inner.key_id.clone();
        let algorithm = self.algorithm();
        let result = block_on(&self.inner.runtime, async move {
            sign_with_retries(&client, &key_id, algorithm, payload, kind).await
        })
        .map_err(|reason| SignError::Backend(format!("KMS key {}: {reason}", self.inner.key_id)))?;
        result.map_err(|e| SignError::Backend(format!("KMS key {}: {e}", self.inner.key_id)))
    }
}

/// `kms:Sign`, retrying throttling with backoff.
async fn sign_with_retries(
    client: &aws_sdk_kms::Client,
    key_id: &str,
    algorithm: SigningAlgorithmSpec,
    payload: Vec<u8>,
    kind: MessageType,
) -> Result<Vec<u8>, ApiError> {
    let mut attempt = 1;
    loop {
        let answer = client
            .sign()
            .key_id(key_id)
            .message(Blob::new(payload.clone()))
            .message_type(kind.clone())
            .signing_algorithm(algorithm.clone())
            .send()
            .await;
        match answer {
            Ok(out) => {
                return out
                    .signature()
                    .map(|s| s.as_ref().to_vec())
                    .ok_or_else(|| ApiError {
                        call: "kms:Sign".to_owned(),
                        code: None,
                        message: "the answer has no signature".to_owned(),
                        fix: "report this; the KMS answer was incomplete".to_owned(),
                    });
            }
            Err(e) => {
                let error = ApiError::from_sdk("kms:Sign", e);
                if !is_throttling(&error) || attempt >= MAX_SIGN_ATTEMPTS {
                    return Err(error);
                }
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
}

/// Whether a KMS error is throttling (worth retrying after a pause).
#[must_use]
pub fn is_throttling(error: &ApiError) -> bool {
    matches!(
        error.code.as_deref(),
        Some("ThrottlingException" | "Throttling" | "TooManyRequestsException")
    )
}

/// The pause before attempt `attempt + 1`: exponential, capped, with full jitter
/// in its upper half so that parallel signers spread out.
#[must_use]
pub fn backoff(attempt: u32) -> Duration {
    let exp = FIRST_BACKOFF.saturating_mul(1 << attempt.min(16));
    let cap = exp.min(MAX_BACKOFF);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let half = cap / 2;
    half + Duration::from_nanos(u64::from(nanos) % (half.as_nanos().max(1) as u64))
}

fn new_runtime() -> Result<OwnedRuntime, KmsError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("cfsign-kms")
        .enable_all()
        .build()
        .map(|r| OwnedRuntime(Some(r)))
        .map_err(|e| KmsError::Runtime(e.to_string()))
}

/// Runs `future` on `runtime` and waits for it on a plain channel: safe from any
/// thread, including one inside another runtime (where `block_on` would panic).
/// Waits at most [`MAX_WAIT`].
fn block_on<F>(runtime: &OwnedRuntime, future: F) -> Result<F::Output, String>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let Some(runtime) = runtime.get() else {
        return Err("the KMS runtime has stopped".to_owned());
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = tx.send(future.await);
    });
    rx.recv_timeout(MAX_WAIT).map_err(|e| match e {
        std::sync::mpsc::RecvTimeoutError::Timeout => format!(
            "no answer from KMS within {} s: check the network, the region and the endpoint \
             (--region, --endpoint-url or AWS_ENDPOINT_URL), then try again",
            MAX_WAIT.as_secs()
        ),
        std::sync::mpsc::RecvTimeoutError::Disconnected => {
            "the KMS call was cancelled (its task stopped without an answer)".to_owned()
        }
    })
}
