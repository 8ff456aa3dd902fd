//! Signing: the pluggable private-key operation ([`SigningKey`]), the key-pair ID,
//! and [`Signer`], which turns a [`Policy`] into signed URLs and cookies.
//!
//! ```
//! use std::time::Duration;
//! use cfsign::{HashAlgorithm, KeyPairId, KeyType, Policy, PrivateKey, Resource, SignableUrl, Signer};
//!
//! let key = PrivateKey::generate(KeyType::EcdsaP256)?;
//! let signer = Signer::new(KeyPairId::new("K2JCJMDEHXQW5F")?, key)
//!     .with_hash_algorithm(HashAlgorithm::Sha256)?;
//!
//! // One URL, canned policy:
//! let url = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/report.pdf")?;
//! let policy = Policy::builder(Resource::Url(url.clone())).expires_in(Duration::from_secs(300)).build()?;
//! let signed = signer.sign_url(&url, &policy)?;
//! assert!(signed.as_str().starts_with("https://d111111abcdef8.cloudfront.net/report.pdf?Expires="));
//! assert!(signed.as_str().ends_with("&Key-Pair-Id=K2JCJMDEHXQW5F&Hash-Algorithm=SHA256"));
//!
//! // Sign a wildcard once, stamp it onto many URLs (galleries, HLS segments):
//! let gallery = Policy::builder(Resource::pattern("https://d111111abcdef8.cloudfront.net/album/*")?)
//!     .expires_in(Duration::from_secs(3600))
//!     .build()?;
//! let stamp = signer.sign_policy(&gallery)?;
//! for n in 1..=3 {
//!     let photo = SignableUrl::parse(&format!("https://d111111abcdef8.cloudfront.net/album/{n}.jpg"))?;
//!     let signed = stamp.apply_to(&photo)?;
//!     assert!(signed.as_str().contains("?Policy="));
//! }
//! # Ok::<(), cfsign::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::cloudfront_base64;
use crate::cookies::SignedCookies;
use crate::excerpt::Excerpt;
use crate::key::{KeyType, PrivateKey};
use crate::layout::Layout;
use crate::policy::{Policy, PolicyForm};
use crate::resource::Resource;
use crate::time::EpochSeconds;
use crate::url::SignableUrl;

/// The hash CloudFront applies before the RSA or ECDSA operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HashAlgorithm {
    /// SHA-1: CloudFront's default; no parameter is sent.
    #[default]
    Sha1,
    /// SHA-256: announced with `Hash-Algorithm=SHA256` (URLs) or
    /// `CloudFront-Hash-Algorithm=SHA256` (cookies). Supported since April 2026.
    Sha256,
}

impl HashAlgorithm {
    /// The value of `Hash-Algorithm`: `SHA1` or `SHA256`.
    #[must_use]
    pub fn as_param(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "SHA1",
            HashAlgorithm::Sha256 => "SHA256",
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_param())
    }
}

/// Parses `sha1`, `SHA1`, `sha-1`, `sha256`, `SHA256`, `sha-256`.
///
/// ```
/// use cfsign::HashAlgorithm;
/// assert_eq!("sha256".parse::<HashAlgorithm>()?, HashAlgorithm::Sha256);
/// # Ok::<(), cfsign::SignError>(())
/// ```
impl FromStr for HashAlgorithm {
    type Err = SignError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Ok(HashAlgorithm::Sha1),
            "SHA256" => Ok(HashAlgorithm::Sha256),
            _ => Err(SignError::UnknownHash(s.to_owned())),
        }
    }
}

/// Why signing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The key-pair ID is not usable.
    #[error("key pair ID {}: {reason}", Excerpt::start(id))]
    KeyPairId {
        /// The input.
        id: String,
        /// What is wrong and the fix.
        reason: String,
    },
    /// Not `SHA1` or `SHA256`.
    #[error(
        "unknown hash algorithm {}: CloudFront supports SHA1 (the default) and SHA256",
        Excerpt::start(.0)
    )]
    UnknownHash(String),
    /// The signing backend cannot use this hash (e.g. AWS KMS has no SHA-1).
    #[error("this {key} signer cannot sign with {hash}; use {alternative}")]
    UnsupportedHash {
        /// Description of the key/backend.
        key: String,
        /// The requested hash.
        hash: HashAlgorithm,
        /// What to use instead.
        alternative: &'static str,
    },
    /// The private-key operation failed.
    #[error("signing failed: {0}")]
    Backend(String),
    /// The URL is outside the policy's resource.
    #[error(
        "the policy's resource {} does not cover {}, so CloudFront would answer 403 \
         AccessDenied; sign a resource that matches the URL (wildcards match within each of scheme, host, \
         path and query)",
        Excerpt::start(resource),
        Excerpt::start(url)
    )]
    NotCovered {
        /// The URL.
        url: String,
        /// The resource.
        resource: String,
    },
    /// A canned policy can only be delivered on its own URL.
    #[error(
        "a canned policy for {} cannot be used on {}: CloudFront rebuilds a canned policy \
         from the request URL, so it is valid only for exactly that URL; use a custom policy (e.g. a \
         wildcard resource) to cover other URLs",
        Excerpt::start(resource),
        Excerpt::start(url)
    )]
    CannedForOtherUrl {
        /// The URL.
        url: String,
        /// The resource.
        resource: String,
    },
    /// RTMP stream names and URLs do not mix.
    #[error("{0}")]
    RtmpMismatch(&'static str),
}

/// The private-key operation, pluggable so that keys can live elsewhere (AWS KMS,
/// an HSM, an agent) without touching policy or URL code.
///
/// Implementations return the raw signature: PKCS#1 v1.5 bytes for RSA, an ASN.1
/// DER `Ecdsa-Sig-Value` for ECDSA. They are called concurrently from batch
/// signing threads.
///
/// ```
/// use cfsign::{HashAlgorithm, KeyType, SignError, SigningKey};
///
/// /// A signer that delegates to a remote service which only does SHA-256.
/// #[derive(Debug)]
/// struct Remote;
/// impl SigningKey for Remote {
///     fn key_type(&self) -> KeyType { KeyType::EcdsaP256 }
///     fn supports(&self, hash: HashAlgorithm) -> bool { hash == HashAlgorithm::Sha256 }
///     fn sign(&self, _hash: HashAlgorithm, _message: &[u8]) -> Result<Vec<u8>, SignError> {
///         Err(SignError::Backend("not connected".into()))
///     }
/// }
/// ```
pub trait SigningKey: Send + Sync + fmt::Debug {
    /// The key's type (decides nothing on the wire, but is reported and linted).
    fn key_type(&self) -> KeyType;

    /// Whether this backend can sign with `hash`. Defaults to both.
    fn supports(&self, hash: HashAlgorithm) -> bool {
        let _ = hash;
        true
    }

    /// Signs `message` (the policy bytes) with `hash`.
    fn sign(&self, hash: HashAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

impl SigningKey for PrivateKey {
    fn key_type(&self) -> KeyType {
        PrivateKey::key_type(self)
    }

    fn sign(&self, hash: HashAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.material()
            .sign(hash, message)
            .map_err(SignError::Backend)
    }
}

/// The ID of the CloudFront public key whose private half signs (`Key-Pair-Id`),
/// e.g. `K2JCJMDEHXQW5F`; legacy root key pairs look like `APKA...`.
///
/// ```
/// use cfsign::KeyPairId;
///
/// assert!(KeyPairId::new("K2JCJMDEHXQW5F").is_ok());
/// let err = KeyPairId::new("AKIAIOSFODNN7EXAMPLE").unwrap_err();
/// assert!(err.to_string().contains("access key ID"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyPairId(String);

impl KeyPairId {
    /// Validates a key-pair ID: 1–128 characters of `A–Z a–z 0–9 _ -`, and not
    /// something else people paste there by mistake.
    pub fn new(id: &str) -> Result<Self, SignError> {
        let err = |reason: &str| SignError::KeyPairId {
            id: shorten(id),
            reason: reason.to_owned(),
        };
        let trimmed = id.trim();
        if trimmed.is_empty() {
            return Err(err(
                "it is empty; give the ID of the public key in CloudFront (Public keys page, e.g. K2JCJMDEHXQW5F)",
            ));
        }
        if trimmed.contains("-----BEGIN") || trimmed.contains("MII") && trimmed.len() > 100 {
            return Err(err(
                "this is key material, not an ID; give the ID CloudFront assigned to the uploaded public key \
                 (e.g. K2JCJMDEHXQW5F)",
            ));
        }
        if trimmed != id {
            return Err(err("it has leading or trailing whitespace"));
        }
        let looks_like_access_key = id.len() == 20
            && ["AKIA", "ASIA", "AIDA", "AROA"]
                .iter()
                .any(|p| id.starts_with(p))
            && id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if looks_like_access_key {
            return Err(err(
                "this is an AWS access key ID (IAM credentials), not a CloudFront public key ID; use the ID \
                 shown on CloudFront's Public keys page (e.g. K2JCJMDEHXQW5F)",
            ));
        }
        if id.len() > 128 {
            return Err(err("it is longer than 128 characters"));
        }
        if let Some(c) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Err(err(&format!(
                "the character {c:?} cannot appear in a key ID (letters, digits, '_' and '-')"
            )));
        }
        Ok(Self(id.to_owned()))
    }

    /// The ID.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyPairId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for KeyPairId {
    type Err = SignError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

fn shorten(s: &str) -> String {
    if s.len() > 40 {
        let cut = s.char_indices().nth(37).map_or(s.len(), |(i, _)| i);
        format!("{}...", &s[..cut])
    } else {
        s.to_owned()
    }
}

/// Signs policies with one key. `Send + Sync`; cloning is cheap.
#[derive(Debug, Clone)]
pub struct Signer {
    key_pair_id: KeyPairId,
    key: Arc<dyn SigningKey>,
    hash: HashAlgorithm,
    layout: Layout,
}

impl Signer {
    /// A signer using SHA-1 (CloudFront's default). Use
    /// [`with_hash_algorithm`](Self::with_hash_algorithm) for SHA-256.
    pub fn new(key_pair_id: KeyPairId, key: impl SigningKey + 'static) -> Self {
        Self::from_arc(key_pair_id, Arc::new(key))
    }

    /// As [`new`](Self::new) for a key that is already shared.
    pub fn from_arc(key_pair_id: KeyPairId, key: Arc<dyn SigningKey>) -> Self {
        let hash = if key.supports(HashAlgorithm::Sha1) {
            HashAlgorithm::Sha1
        } else {
            HashAlgorithm::Sha256
        };
        Self {
            key_pair_id,
            key,
            hash,
            layout: Layout::Botocore,
        }
    }

    /// Orders the appended parameters as another signer does (see [`Layout`]);
    /// CloudFront accepts any order. Defaults to [`Layout::Botocore`].
    #[must_use]
    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Selects the hash; fails if the key's backend cannot use it.
    pub fn with_hash_algorithm(mut self, hash: HashAlgorithm) -> Result<Self, SignError> {
        if !self.key.supports(hash) {
            return Err(SignError::UnsupportedHash {
                key: self.key.key_type().to_string(),
                hash,
                alternative: match hash {
                    HashAlgorithm::Sha1 => "SHA256 (--hash sha256)",
                    HashAlgorithm::Sha256 => "SHA1 (--hash sha1)",
                },
            });
        }
        self.hash = hash;
        Ok(self)
    }

    /// The key-pair ID.
    #[must_use]
    pub fn key_pair_id(&self) -> &KeyPairId {
        &self.key_pair_id
    }

    /// The hash in use.
    #[must_use]
    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash
    }

    /// The key type.
    #[must_use]
    pub fn key_type(&self) -> KeyType {
        self.key.key_type()
    }

    /// Signs a policy once. The result can be stamped onto every URL the policy
    /// covers ([`SignedPolicy::apply_to`]) or turned into cookies.
    pub fn sign_policy(&self, policy: &Policy) -> Result<SignedPolicy, SignError> {
        let signature = self.key.sign(self.hash, policy.json().as_bytes())?;
        Ok(SignedPolicy::new(
            policy,
            cloudfront_base64::encode(&signature),
            self.key_pair_id.clone(),
            self.hash,
            self.layout,
        ))
    }

    /// Signs `url` under `policy`. The URL must be covered by the policy's
    /// resource (for a canned policy: be exactly that URL).
    pub fn sign_url(&self, url: &SignableUrl, policy: &Policy) -> Result<SignedUrl, SignError> {
        // Check first so that a mistake costs no private-key operation.
        SignedPolicy::check_covers(policy.form(), policy.resource(), url)?;
        Ok(self.sign_policy(policy)?.append_to(url))
    }

    /// Signs cookies for `policy` (custom policies are what cookies are for; a
    /// canned cookie works only for the one URL, see [`SignedCookies::warnings`]).
    pub fn sign_cookies(&self, policy: &Policy) -> Result<SignedCookies, SignError> {
        Ok(self.sign_policy(policy)?.to_cookies())
    }
}

/// A policy's signature, ready to be appended to URLs or sent as cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPolicy {
    form: PolicyForm,
    resource: Option<Resource>,
    expires: EpochSeconds,
    policy: Option<String>,
    signature: String,
    key_pair_id: KeyPairId,
    hash: HashAlgorithm,
    query: String,
}

impl SignedPolicy {
    fn new(
        policy: &Policy,
        signature: String,
        key_pair_id: KeyPairId,
        hash: HashAlgorithm,
        layout: Layout,
    ) -> Self {
        let encoded_policy = match policy.form() {
            PolicyForm::Canned => None,
            PolicyForm::Custom => Some(cloudfront_base64::encode(policy.json().as_bytes())),
        };
        let mut query = match &encoded_policy {
            None => format!("Expires={}", policy.date_less_than()),
            Some(p) => format!("Policy={p}"),
        };
        let (first, second) = match layout {
            Layout::Botocore => (
                ("Signature", signature.as_str()),
                ("Key-Pair-Id", key_pair_id.as_str()),
            ),
            Layout::AwsSdkJs => (
                ("Key-Pair-Id", key_pair_id.as_str()),
                ("Signature", signature.as_str()),
            ),
        };
        for (name, value) in [first, second] {
            query.push('&');
            query.push_str(name);
            query.push('=');
            query.push_str(value);
        }
        if hash == HashAlgorithm::Sha256 {
            query.push_str("&Hash-Algorithm=SHA256");
        }
        Self {
            form: policy.form(),
            resource: policy.resource().cloned(),
            expires: policy.date_less_than(),
            policy: encoded_policy,
            signature,
            key_pair_id,
            hash,
            query,
        }
    }

    fn check_covers(
        form: PolicyForm,
        resource: Option<&Resource>,
        url: &SignableUrl,
    ) -> Result<(), SignError> {
        match (form, resource) {
            (_, Some(Resource::RtmpStream(_))) => Err(SignError::RtmpMismatch(
                "this policy is for an RTMP stream name; use SignedPolicy::rtmp_stream_url",
            )),
            (PolicyForm::Canned, Some(r)) if r.as_str() != url.as_str() => {
                Err(SignError::CannedForOtherUrl {
                    url: url.as_str().to_owned(),
                    resource: r.as_str().to_owned(),
                })
            }
            (_, Some(r)) if !r.matches(url) => Err(SignError::NotCovered {
                url: url.as_str().to_owned(),
                resource: r.as_str().to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// Appends the signing parameters to `url` (after `?`, or `&` if it has a
    /// query), after checking that the policy covers it. The URL is not re-encoded.
    pub fn apply_to(&self, url: &SignableUrl) -> Result<SignedUrl, SignError> {
        Self::check_covers(self.form, self.resource.as_ref(), url)?;
        Ok(self.append_to(url))
    }

    /// Appends the parameters; the caller has checked coverage.
    fn append_to(&self, url: &SignableUrl) -> SignedUrl {
        let mut text = String::with_capacity(url.as_str().len() + 1 + self.query.len());
        text.push_str(url.as_str());
        text.push(url.parameter_separator());
        text.push_str(&self.query);
        SignedUrl {
            text,
            form: self.form,
            expires: self.expires,
        }
    }

    /// For a legacy RTMP stream policy: the stream name with the signing
    /// parameters appended (e.g. `videos/a.flv?Expires=...&Signature=...&Key-Pair-Id=...`).
    pub fn rtmp_stream_url(&self) -> Result<String, SignError> {
        match &self.resource {
            Some(Resource::RtmpStream(name)) => {
                let sep = if name.contains('?') { '&' } else { '?' };
                Ok(format!("{name}{sep}{}", self.query))
            }
            _ => Err(SignError::RtmpMismatch(
                "this policy is not for an RTMP stream name",
            )),
        }
    }

    /// The parameters as they are appended: `Expires=…` or `Policy=…`, then
    /// `Signature=…&Key-Pair-Id=…`, then `Hash-Algorithm=SHA256` when SHA-256 is used.
    #[must_use]
    pub fn query_parameters(&self) -> &str {
        &self.query
    }

    /// Canned or custom.
    #[must_use]
    pub fn form(&self) -> PolicyForm {
        self.form
    }

    /// `DateLessThan` (the `Expires` value for canned policies).
    #[must_use]
    pub fn expires(&self) -> EpochSeconds {
        self.expires
    }

    /// The CloudFront-base64 policy (custom policies only).
    #[must_use]
    pub fn encoded_policy(&self) -> Option<&str> {
        self.policy.as_deref()
    }

    /// The CloudFront-base64 signature.
    #[must_use]
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The key-pair ID.
    #[must_use]
    pub fn key_pair_id(&self) -> &KeyPairId {
        &self.key_pair_id
    }

    /// The hash used.
    #[must_use]
    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash
    }

    /// The resource signed (None for a policy without `Resource`).
    #[must_use]
    pub fn resource(&self) -> Option<&Resource> {
        self.resource.as_ref()
    }

    /// The same values as signed cookies.
    #[must_use]
    pub fn to_cookies(&self) -> SignedCookies {
        SignedCookies::from_parts(
            self.form,
            self.resource.clone(),
            self.expires,
            self.policy.clone(),
            self.signature.clone(),
            self.key_pair_id.clone(),
            self.hash,
        )
    }
}

/// A signed URL: the input URL, unchanged, plus the signing parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUrl {
    text: String,
    form: PolicyForm,
    expires: EpochSeconds,
}

impl SignedUrl {
    /// The URL to hand out.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Consumes it into the string.
    #[must_use]
    pub fn into_string(self) -> String {
        self.text
    }

    /// Canned or custom.
    #[must_use]
    pub fn form(&self) -> PolicyForm {
        self.form
    }

    /// When access ends.
    #[must_use]
    pub fn expires(&self) -> EpochSeconds {
        self.expires
    }
}

impl fmt::Display for SignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key(name: &str) -> PrivateKey {
        PrivateKey::from_file(format!(
            "{}/tests/data/keys/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn read_kat(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/data/kat/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn at(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn canned_url_known_answer() {
        let signer = Signer::new(
            KeyPairId::new("K2JCJMDEHXQW5F").unwrap(),
            key("rsa2048.pkcs1.pem"),
        );
        let url = SignableUrl::parse(
            "https://d111111abcdef8.cloudfront.net/images/image.jpg?color=red&size=medium",
        )
        .unwrap();
        let policy = Policy::builder(Resource::Url(url.clone()))
            .expires_at(at(1_767_290_400))
            .build_at(at(1_767_200_000))
            .unwrap();
        assert_eq!(policy.json(), read_kat("canned.json"));
        let signed = signer.sign_url(&url, &policy).unwrap();
        assert_eq!(
            signed.as_str(),
            format!(
                "https://d111111abcdef8.cloudfront.net/images/image.jpg?color=red&size=medium&Expires=1767290400&Signature={}&Key-Pair-Id=K2JCJMDEHXQW5F",
                read_kat("canned.rsa2048.sha1.sig")
            )
        );
        let sha256 = signer
            .with_hash_algorithm(HashAlgorithm::Sha256)
            .unwrap()
            .sign_url(&url, &policy)
            .unwrap();
        assert!(sha256.as_str().ends_with(&format!(
            "&Signature={}&Key-Pair-Id=K2JCJMDEHXQW5F&Hash-Algorithm=SHA256",
            read_kat("canned.rsa2048.sha256.sig")
        )));
    }

    #[test]
    fn custom_url_known_answer() {
        let signer = Signer::new(
            KeyPairId::new("K2JCJMDEHXQW5F").unwrap(),
            key("rsa2048.pkcs8.pem"),
        );
        let policy = Policy::builder(
            Resource::pattern("https://d111111abcdef8.cloudfront.net/videos/*").unwrap(),
        )
        .expires_at(at(1_767_290_400))
        .not_before(at(1_767_200_000))
        .source_ip("192.0.2.0/24".parse().unwrap())
        .build_at(at(1_767_100_000))
        .unwrap();
        assert_eq!(policy.json(), read_kat("custom.json"));
        let url = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/videos/a.mp4").unwrap();
        let signed = signer.sign_url(&url, &policy).unwrap();
        let expected_policy = cloudfront_base64::encode(read_kat("custom.json").as_bytes());
        assert_eq!(
            signed.as_str(),
            format!(
                "https://d111111abcdef8.cloudfront.net/videos/a.mp4?Policy={expected_policy}&Signature={}&Key-Pair-Id=K2JCJMDEHXQW5F",
                read_kat("custom.rsa2048.sha1.sig")
            )
        );
    }

    #[test]
    fn coverage_is_checked_before_signing() {
        let signer = Signer::new(KeyPairId::new("K1").unwrap(), key("ec-p256.pkcs8.pem"));
        let url = SignableUrl::parse("https://x.net/a").unwrap();
        let canned = Policy::builder(Resource::Url(url.clone()))
            .expires_in(Duration::from_secs(60))
            .build()
            .unwrap();
        let other = SignableUrl::parse("https://x.net/b").unwrap();
        assert!(matches!(
            signer.sign_url(&other, &canned),
            Err(SignError::CannedForOtherUrl { .. })
        ));
        let pattern = Policy::builder(Resource::pattern("https://x.net/videos/*").unwrap())
            .expires_in(Duration::from_secs(60))
            .build()
            .unwrap();
        assert!(matches!(
            signer.sign_url(&url, &pattern),
            Err(SignError::NotCovered { .. })
        ));
        let stamp = signer.sign_policy(&pattern).unwrap();
        assert!(
            stamp
                .apply_to(&SignableUrl::parse("https://x.net/videos/1.ts?x=1").unwrap())
                .unwrap()
                .as_str()
                .starts_with("https://x.net/videos/1.ts?x=1&Policy=")
        );
    }

    #[test]
    fn rtmp_stream_names() {
        let signer = Signer::new(
            KeyPairId::new("APKA9ONS7QCOWEXAMPLE").unwrap(),
            key("rsa2048.pkcs8.pem"),
        );
        let policy = Policy::builder(Resource::rtmp_stream("videos/mediafile.flv").unwrap())
            .expires_at(at(1_357_034_400))
            .allow_past_expiry(true)
            .build()
            .unwrap();
        let signed = signer.sign_policy(&policy).unwrap();
        let text = signed.rtmp_stream_url().unwrap();
        assert!(
            text.starts_with("videos/mediafile.flv?Expires=1357034400&Signature="),
            "{text}"
        );
        assert!(
            signed
                .apply_to(&SignableUrl::parse("https://x.net/a").unwrap())
                .is_err()
        );
    }

    #[test]
    fn key_pair_ids() {
        for good in ["K2JCJMDEHXQW5F", "APKA9ONS7QCOWEXAMPLE", "local-key_1"] {
            assert!(KeyPairId::new(good).is_ok(), "{good}");
        }
        for (bad, needle) in [
            ("", "empty"),
            (" K2", "whitespace"),
            ("AKIAIOSFODNN7EXAMPLE", "access key ID"),
            ("ASIAIOSFODNN7EXAMPLE", "access key ID"),
            ("-----BEGIN PUBLIC KEY-----\nMIIB", "key material"),
            ("K2?x", "'?'"),
        ] {
            let e = KeyPairId::new(bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad:?}: {e}");
        }
    }

    #[test]
    fn signer_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Signer>();
        assert_send_sync::<PrivateKey>();
        assert_send_sync::<crate::PublicKey>();
    }
}
