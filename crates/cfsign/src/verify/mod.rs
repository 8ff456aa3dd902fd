//! Verification: decide a request as a CloudFront edge would, and say why.
//!
//! A [`Verifier`] holds the trusted public keys (by key-pair ID, grouped like
//! CloudFront key groups), parsed once. [`Verifier::verify`] takes a
//! [`ViewerRequest`] and the time and returns [`Decision::Allowed`] (with the key
//! used, the policy and the URL to forward to the origin) or
//! [`Decision::Denied`] with CloudFront's status, `<Code>`, `<Message>` and the
//! precise [`DenialReason`].
//!
//! Order of checks (spec §6.2): credentials from the query if it carries any
//! CloudFront parameter (values percent-decoded, as CloudFront reads them), else
//! from cookies (values as sent); `Key-Pair-Id` present
//! (`MissingKey`); unambiguous credentials; key trusted (`InvalidKey`);
//! signature decodable (`MalformedSignature`); hash; policy bytes (decoded
//! `Policy`, which decides when a URL also has `Expires`, or the canned policy
//! rebuilt from the URL without its signing parameters) and policy validity
//! (`MalformedPolicy`); signature (`AccessDenied`); `DateLessThan`, `DateGreaterThan`, `IpAddress`, `Resource`
//! (`AccessDenied`). Undocumented points take the strict reading; they are listed
//! in one place, [`strict`]. Any doubt is a denial.
//!
//! ```
//! use std::time::Duration;
//! use cfsign::{KeyPairId, KeyType, Policy, PrivateKey, Resource, SignableUrl, Signer};
//! use cfsign::verify::{Decision, DenialCode, Verifier, ViewerRequest};
//!
//! let key = PrivateKey::generate(KeyType::EcdsaP256)?;
//! let id = KeyPairId::new("K2JCJMDEHXQW5F")?;
//! let verifier = Verifier::new().with_key(id.clone(), key.public_key()?);
//!
//! let url = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/a.jpg?size=2")?;
//! let now = jiff::Timestamp::now();
//! let policy = Policy::builder(Resource::Url(url.clone())).expires_in(Duration::from_secs(60)).build_at(now)?;
//! let signed = Signer::new(id, key).sign_url(&url, &policy)?;
//!
//! match verifier.verify(&ViewerRequest::new(signed.as_str()), now) {
//!     Decision::Allowed(a) => assert_eq!(a.forward_url(), "https://d111111abcdef8.cloudfront.net/a.jpg?size=2"),
//!     Decision::Denied(d) => panic!("{d}"),
//! }
//!
//! let tampered = signed.as_str().replace("size=2", "size=3");
//! let Decision::Denied(denial) = verifier.verify(&ViewerRequest::new(&tampered), now) else { panic!() };
//! assert_eq!(denial.code(), DenialCode::AccessDenied);
//! assert_eq!(denial.xml_body(), r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access denied</Message></Error>"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod request;
pub mod strict;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use jiff::Timestamp;

pub use request::{
    CredentialProblem, CredentialSource, Credentials, MAX_COOKIE_HEADER_BYTES,
    MAX_REQUEST_URL_BYTES, RequestError, ViewerRequest, credentials,
};

use crate::cloudfront_base64::{self, DecodeError};
use crate::excerpt::Excerpt;
use crate::key::PublicKey;
use crate::policy::{Policy, PolicyError, PolicyForm, SourceIp, canned_policy_json};
use crate::signer::{HashAlgorithm, KeyPairId};
use crate::time::EpochSeconds;

/// CloudFront's error codes for signed requests (all HTTP 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenialCode {
    /// No `Key-Pair-Id`, or no credentials at all.
    MissingKey,
    /// The key-pair ID is not trusted here.
    InvalidKey,
    /// The signature is not valid CloudFront base64.
    MalformedSignature,
    /// The policy cannot be decoded or is not a valid policy.
    MalformedPolicy,
    /// Everything else: wrong signature, expired, not yet valid, IP, resource.
    AccessDenied,
}

impl DenialCode {
    /// The `<Code>` value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            DenialCode::MissingKey => "MissingKey",
            DenialCode::InvalidKey => "InvalidKey",
            DenialCode::MalformedSignature => "MalformedSignature",
            DenialCode::MalformedPolicy => "MalformedPolicy",
            DenialCode::AccessDenied => "AccessDenied",
        }
    }

    /// CloudFront's exact `<Message>`.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            DenialCode::MissingKey => "Missing Key-Pair-Id query parameter or cookie value",
            DenialCode::InvalidKey => "Unknown Key",
            DenialCode::MalformedSignature => "Could not unencode Signature",
            DenialCode::MalformedPolicy => "Malformed Policy",
            DenialCode::AccessDenied => "Access denied",
        }
    }

    /// The HTTP status (always 403).
    #[must_use]
    pub fn status(self) -> u16 {
        403
    }

    /// CloudFront's one-line XML body (`Content-Type: text/xml`).
    #[must_use]
    pub fn xml_body(self) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>{}</Code><Message>{}</Message></Error>"#,
            self.as_str(),
            self.message()
        )
    }
}

impl fmt::Display for DenialCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request was denied: every rule has its own reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenialReason {
    /// The request URL cannot be read.
    BadRequest(RequestError),
    /// No CloudFront parameters and no CloudFront cookies.
    NoCredentials,
    /// Credentials without a (non-empty) key-pair ID.
    MissingKeyPairId(CredentialSource),
    /// A parameter or cookie appears twice.
    Duplicate(String),
    /// A parameter name is a case variant of a CloudFront one.
    CaseVariant(String),
    /// A parameter name is a CloudFront one, percent-encoded (`%53ignature`).
    EncodedName(String),
    /// A CloudFront query value has a `%` not followed by two hex digits, or
    /// decodes to bytes that are not UTF-8.
    InvalidEscape(&'static str),
    /// The key-pair ID is not in the trusted key groups.
    UnknownKey(String),
    /// No `Signature`.
    MissingSignature,
    /// `Signature` is not CloudFront base64.
    UndecodableSignature(DecodeError),
    /// `Hash-Algorithm` is not `SHA1` or `SHA256`.
    UnknownHashAlgorithm(String),
    /// Both `CloudFront-Expires` and `CloudFront-Policy` cookies (in a URL, the
    /// `Policy` decides and `Expires` is ignored).
    BothExpiresAndPolicy,
    /// Neither `Expires` nor `Policy`.
    NoPolicy,
    /// `Policy` is not CloudFront base64 of UTF-8 text.
    UndecodablePolicy(String),
    /// The policy (given or rebuilt) is not valid.
    InvalidPolicy(PolicyError),
    /// The URL cannot be put in a canned policy verbatim.
    UnrebuildableUrl,
    /// The path has `.` or `..` segments.
    DotSegments,
    /// The signature does not match the policy and key.
    SignatureMismatch,
    /// `now >= DateLessThan`.
    Expired {
        /// `DateLessThan`.
        date_less_than: EpochSeconds,
        /// The time of the decision.
        now: Timestamp,
    },
    /// `now <= DateGreaterThan`.
    NotYetValid {
        /// `DateGreaterThan`.
        date_greater_than: EpochSeconds,
        /// The time of the decision.
        now: Timestamp,
    },
    /// The policy has an IP condition but the client IP is unknown.
    NoClientIp,
    /// The client is IPv6 and the policy has an (IPv4-only) IP condition.
    Ipv6Client(IpAddr),
    /// The client IP is outside `AWS:SourceIp`.
    IpNotAllowed {
        /// The client.
        client: IpAddr,
        /// The allowed range.
        range: SourceIp,
    },
    /// The URL is not covered by the policy's `Resource`.
    ResourceMismatch {
        /// The resource.
        resource: String,
        /// The URL without signing parameters.
        url: String,
    },
}

impl DenialReason {
    /// The CloudFront code this reason produces.
    #[must_use]
    pub fn code(&self) -> DenialCode {
        use DenialReason as R;
        match self {
            R::NoCredentials | R::MissingKeyPairId(_) => DenialCode::MissingKey,
            R::UnknownKey(_) => DenialCode::InvalidKey,
            R::MissingSignature | R::UndecodableSignature(_) => DenialCode::MalformedSignature,
            R::BothExpiresAndPolicy => strict::BOTH_EXPIRES_AND_POLICY,
            R::NoPolicy | R::UndecodablePolicy(_) | R::InvalidPolicy(_) => {
                DenialCode::MalformedPolicy
            }
            R::Duplicate(_) => strict::DUPLICATE,
            R::CaseVariant(_) => strict::CASE_VARIANT,
            R::EncodedName(_) => strict::ENCODED_NAME,
            R::InvalidEscape(name) => strict::invalid_escape(name),
            R::UnknownHashAlgorithm(_) => strict::UNKNOWN_HASH,
            R::UnrebuildableUrl => strict::UNREBUILDABLE_URL,
            R::DotSegments => strict::DOT_SEGMENTS,
            R::BadRequest(_)
            | R::SignatureMismatch
            | R::Expired { .. }
            | R::NotYetValid { .. }
            | R::NoClientIp
            | R::Ipv6Client(_)
            | R::IpNotAllowed { .. }
            | R::ResourceMismatch { .. } => DenialCode::AccessDenied,
        }
    }
}

/// The length in bytes of the longest common prefix of `a` and `b`, on a character boundary.
fn common_prefix(a: &str, b: &str) -> usize {
    let n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    a.floor_char_boundary(n)
}

impl fmt::Display for DenialReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DenialReason as R;
        match self {
            R::BadRequest(e) => write!(f, "{e}"),
            R::NoCredentials => f.write_str("the request has no CloudFront signing parameters and no CloudFront cookies"),
            R::MissingKeyPairId(source) => write!(f, "the credentials in the {source} have no Key-Pair-Id value"),
            R::Duplicate(name) => write!(f, "{name} appears more than once (strict reading: CloudFront's choice is undocumented)"),
            R::CaseVariant(name) => write!(f, "the query parameter {} differs from a CloudFront parameter only in letter case (strict reading: denied)", Excerpt::start(name)),
            R::EncodedName(name) => write!(f, "the query parameter name {} is a CloudFront parameter name percent-encoded (strict reading: denied)", Excerpt::start(name)),
            R::InvalidEscape(name) => write!(f, "the {name} value has a '%' that is not followed by two hex digits, or decodes to bytes that are not UTF-8 text"),
            R::UnknownKey(id) => write!(f, "the key-pair ID {} is not one of the trusted public keys", Excerpt::start(id)),
            R::MissingSignature => f.write_str("there is no Signature value"),
            R::UndecodableSignature(e) => write!(f, "the Signature cannot be decoded: {e}"),
            R::UnknownHashAlgorithm(v) => write!(f, "Hash-Algorithm {} is not SHA1 or SHA256", Excerpt::start(v)),
            R::BothExpiresAndPolicy => f.write_str("both CloudFront-Expires (canned) and CloudFront-Policy (custom) cookies are present (strict reading: denied)"),
            R::NoPolicy => f.write_str("there is neither an Expires (canned) nor a Policy (custom) value"),
            R::UndecodablePolicy(e) => write!(f, "the Policy cannot be decoded: {e}"),
            R::InvalidPolicy(e) => write!(f, "{e}"),
            R::UnrebuildableUrl => f.write_str("the URL contains characters that cannot be rebuilt into a canned policy (non-ASCII, spaces, quotes, backslashes)"),
            R::DotSegments => f.write_str("the path has '.' or '..' segments, which CloudFront normalises away before matching; request the normalised path"),
            R::SignatureMismatch => f.write_str("the signature does not match the policy with this key and hash"),
            R::Expired { date_less_than, now } => write!(f, "expired at {} (DateLessThan {date_less_than}); now is {now}", date_less_than.to_timestamp()),
            R::NotYetValid { date_greater_than, now } => write!(f, "not valid until after {} (DateGreaterThan {date_greater_than}); now is {now}", date_greater_than.to_timestamp()),
            R::NoClientIp => f.write_str("the policy restricts the client IP, but the client IP is unknown"),
            R::Ipv6Client(ip) => write!(f, "the client {ip} is IPv6, and CloudFront IP conditions are IPv4-only"),
            R::IpNotAllowed { client, range } => write!(f, "the client {client} is outside {range}"),
            R::ResourceMismatch { resource, url } => {
                // Both shown around where they part, so a long URL stays readable.
                let at = common_prefix(resource, url);
                write!(f, "the policy's Resource {} does not cover {}", Excerpt::around(resource, at), Excerpt::around(url, at))
            }
        }
    }
}

/// A denial: CloudFront's code and our reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    reason: DenialReason,
}

impl Denial {
    /// CloudFront's code.
    #[must_use]
    pub fn code(&self) -> DenialCode {
        self.reason.code()
    }

    /// The precise reason.
    #[must_use]
    pub fn reason(&self) -> &DenialReason {
        &self.reason
    }

    /// HTTP status: 403.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.code().status()
    }

    /// CloudFront's XML body.
    #[must_use]
    pub fn xml_body(&self) -> String {
        self.code().xml_body()
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code();
        write!(
            f,
            "403 {}: {} ({})",
            code.as_str(),
            code.message(),
            self.reason
        )
    }
}

impl From<DenialReason> for Denial {
    fn from(reason: DenialReason) -> Self {
        Self { reason }
    }
}

/// A request CloudFront would serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    key_pair_id: Arc<str>,
    group: Arc<str>,
    hash: HashAlgorithm,
    source: CredentialSource,
    policy: VerifiedPolicy,
    date_less_than: EpochSeconds,
    date_greater_than: Option<EpochSeconds>,
    source_ip: Option<SourceIp>,
    forward_url: String,
}

/// The policy an [`Allowed`] request was verified against.
#[derive(Debug, Clone, PartialEq, Eq)]
enum VerifiedPolicy {
    /// A canned policy: its JSON, rebuilt from the URL and `Expires`; its
    /// resource is the URL without the signing parameters (the forward URL).
    Canned(String),
    /// A custom policy, as decoded (shared with the verifier's policy cache).
    Custom(Arc<Policy>),
}

impl VerifiedPolicy {
    /// The policy bytes the signature is over.
    fn json(&self) -> &str {
        match self {
            VerifiedPolicy::Canned(json) => json,
            VerifiedPolicy::Custom(policy) => policy.json(),
        }
    }
}

impl Allowed {
    /// The key-pair ID whose public key verified the signature.
    #[must_use]
    pub fn key_pair_id(&self) -> &str {
        &self.key_pair_id
    }

    /// The key group that key belongs to.
    #[must_use]
    pub fn key_group(&self) -> &str {
        &self.group
    }

    /// The hash used.
    #[must_use]
    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash
    }

    /// Query string or cookies.
    #[must_use]
    pub fn source(&self) -> CredentialSource {
        self.source
    }

    /// Canned or custom.
    #[must_use]
    pub fn form(&self) -> PolicyForm {
        match self.policy {
            VerifiedPolicy::Canned(_) => PolicyForm::Canned,
            VerifiedPolicy::Custom(_) => PolicyForm::Custom,
        }
    }

    /// The policy bytes that were verified.
    #[must_use]
    pub fn policy_json(&self) -> &str {
        self.policy.json()
    }

    /// `DateLessThan`.
    #[must_use]
    pub fn date_less_than(&self) -> EpochSeconds {
        self.date_less_than
    }

    /// `DateGreaterThan`.
    #[must_use]
    pub fn date_greater_than(&self) -> Option<EpochSeconds> {
        self.date_greater_than
    }

    /// `AWS:SourceIp`.
    #[must_use]
    pub fn source_ip(&self) -> Option<SourceIp> {
        self.source_ip
    }

    /// The policy's resource (None: the policy has no Resource).
    #[must_use]
    pub fn resource(&self) -> Option<&str> {
        match &self.policy {
            VerifiedPolicy::Canned(_) => Some(&self.forward_url),
            VerifiedPolicy::Custom(policy) => policy.resource().map(|r| r.as_str()),
        }
    }

    /// The URL to request from the origin: the viewer's URL without
    /// `Expires`, `Policy`, `Signature`, `Key-Pair-Id`, `Hash-Algorithm`.
    #[must_use]
    pub fn forward_url(&self) -> &str {
        &self.forward_url
    }
}

/// The outcome of [`Verifier::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// CloudFront would serve the request.
    Allowed(Box<Allowed>),
    /// CloudFront would answer 403.
    Denied(Denial),
}

impl Decision {
    /// Whether the request is allowed.
    #[must_use]
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed(_))
    }

    /// The denial, if denied.
    #[must_use]
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Decision::Denied(d) => Some(d),
            Decision::Allowed(_) => None,
        }
    }
}

/// A named set of trusted public keys, like a CloudFront key group.
#[derive(Debug, Clone)]
pub struct KeyGroup {
    name: String,
    keys: Vec<(KeyPairId, PublicKey)>,
}

impl KeyGroup {
    /// An empty group.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            keys: Vec::new(),
        }
    }

    /// Adds a key.
    #[must_use]
    pub fn with_key(mut self, id: KeyPairId, key: PublicKey) -> Self {
        self.keys.push((id, key));
        self
    }

    /// The group's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The keys.
    #[must_use]
    pub fn keys(&self) -> &[(KeyPairId, PublicKey)] {
        &self.keys
    }
}

#[derive(Clone)]
struct TrustedKey {
    key: PublicKey,
    /// The key-pair ID (shared with every request it allows).
    id: Arc<str>,
    group: Arc<str>,
    /// SHA-256 of the key's SPKI: the signature cache is keyed by the key
    /// itself, never by its ID (verifiers that share a cache may map one ID to
    /// different keys).
    fingerprint: [u8; 32],
}

/// Decides requests as a CloudFront edge would. `Send + Sync`; build it once.
#[derive(Clone, Default)]
pub struct Verifier {
    keys: HashMap<String, TrustedKey>,
    cache: Option<Arc<quick_cache::sync::Cache<[u8; 32], ()>>>,
    policies: Option<Arc<PolicyCache>>,
}

/// Custom policies already decoded (base64, UTF-8, JSON), keyed by a SHA-256
/// of the encoded text: the same cookie or wildcard URL on every request is
/// parsed once. Bounded by [`POLICY_CACHE_BYTES`] of policy text.
type PolicyCache = quick_cache::sync::Cache<[u8; 32], Arc<Policy>, PolicyWeight>;

/// What the decoded policies a verifier keeps may add up to: 4 MiB of JSON.
pub const POLICY_CACHE_BYTES: u64 = 4 << 20;

/// A decoded policy weighs its JSON text.
#[derive(Debug, Clone, Copy)]
struct PolicyWeight;

impl quick_cache::Weighter<[u8; 32], Arc<Policy>> for PolicyWeight {
    fn weight(&self, _key: &[u8; 32], policy: &Arc<Policy>) -> u64 {
        policy.json().len().max(1) as u64
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("Verifier")
            .field("keys", &ids)
            .field("cache", &self.cache.is_some())
            .finish()
    }
}

impl Verifier {
    /// A verifier that trusts no key yet (and so denies everything).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts one key (in a group named `default`).
    #[must_use]
    pub fn with_key(self, id: KeyPairId, key: PublicKey) -> Self {
        self.with_key_group(KeyGroup::new("default").with_key(id, key))
    }

    /// Trusts every key of a group. A key-pair ID already trusted keeps its first key.
    #[must_use]
    pub fn with_key_group(mut self, group: KeyGroup) -> Self {
        let name: Arc<str> = Arc::from(group.name.as_str());
        for (id, key) in group.keys {
            let fingerprint = crate::crypto::fingerprint(&[key.spki_der()]);
            self.keys
                .entry(id.as_str().to_owned())
                .or_insert(TrustedKey {
                    key,
                    id: Arc::from(id.as_str()),
                    group: Arc::clone(&name),
                    fingerprint,
                });
        }
        self
    }

    /// Remembers up to `capacity` verified signatures, so that a signature seen
    /// again (many requests with one wildcard policy or cookie) skips the
    /// public-key operation. Only successful verifications are stored, keyed by a
    /// SHA-256 of key ID, hash, policy and signature; time, IP and resource are
    /// checked on every request. Custom policies are also kept decoded (at most
    /// [`POLICY_CACHE_BYTES`] of them), keyed by their encoded text, so one
    /// policy is not decoded and parsed again on every request.
    #[must_use]
    pub fn with_signature_cache(mut self, capacity: usize) -> Self {
        self.cache = (capacity > 0).then(|| Arc::new(quick_cache::sync::Cache::new(capacity)));
        self.policies = (capacity > 0).then(|| {
            Arc::new(PolicyCache::with_weighter(
                capacity.min(16_384),
                POLICY_CACHE_BYTES,
                PolicyWeight,
            ))
        });
        self
    }

    /// The trusted public key for an ID.
    #[must_use]
    pub fn key(&self, id: &str) -> Option<&PublicKey> {
        self.keys.get(id).map(|k| &k.key)
    }

    /// The trusted key-pair IDs, sorted.
    #[must_use]
    pub fn key_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// Decides `request` at `now`.
    #[must_use]
    pub fn verify(&self, request: &ViewerRequest<'_>, now: Timestamp) -> Decision {
        match self.evaluate(request, now) {
            Ok(allowed) => Decision::Allowed(Box::new(allowed)),
            Err(reason) => Decision::Denied(Denial { reason }),
        }
    }

    fn evaluate(
        &self,
        request: &ViewerRequest<'_>,
        now: Timestamp,
    ) -> Result<Allowed, DenialReason> {
        use DenialReason as R;
        let creds = credentials(request).map_err(R::BadRequest)?;
        if creds.source == CredentialSource::None {
            return Err(match creds.problem {
                Some(CredentialProblem::CaseVariant(name)) => R::CaseVariant(name),
                Some(CredentialProblem::EncodedName(name)) => R::EncodedName(name),
                _ => R::NoCredentials,
            });
        }
        let id = creds
            .key_pair_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .ok_or(R::MissingKeyPairId(creds.source))?;
        match creds.problem {
            Some(CredentialProblem::Duplicate(name)) => return Err(R::Duplicate(name)),
            Some(CredentialProblem::CaseVariant(name)) => return Err(R::CaseVariant(name)),
            Some(CredentialProblem::EncodedName(name)) => return Err(R::EncodedName(name)),
            Some(CredentialProblem::InvalidEscape(name)) => return Err(R::InvalidEscape(name)),
            None => {}
        }
        if strict::has_dot_segments(&creds.unsigned_url) {
            return Err(R::DotSegments);
        }
        let trusted = self
            .keys
            .get(id)
            .ok_or_else(|| R::UnknownKey(id.to_owned()))?;
        let signature =
            cloudfront_base64::decode(creds.signature.as_deref().ok_or(R::MissingSignature)?)
                .map_err(R::UndecodableSignature)?;
        let hash_algorithm = creds.hash_algorithm.as_deref();
        let hash = strict::hash_algorithm(hash_algorithm).ok_or_else(|| {
            R::UnknownHashAlgorithm(hash_algorithm.unwrap_or_default().to_owned())
        })?;
        let url = creds.unsigned_url.as_ref();
        let given = (creds.expires.as_deref(), creds.policy.as_deref());
        let (policy, date_less_than) = match given {
            (Some(_), Some(_)) if !strict::policy_overrides_expires(creds.source) => {
                return Err(R::BothExpiresAndPolicy);
            }
            (None, None) => return Err(R::NoPolicy),
            (Some(expires), None) => {
                let expires = parse_expires(expires).map_err(R::InvalidPolicy)?;
                if !strict::rebuildable(url) {
                    return Err(R::UnrebuildableUrl);
                }
                (
                    VerifiedPolicy::Canned(canned_policy_json(url, expires)),
                    expires,
                )
            }
            // In a URL with both, the signed Policy decides; Expires is ignored.
            (_, Some(encoded)) => {
                let policy = self.custom_policy(encoded)?;
                let expires = policy.date_less_than();
                (VerifiedPolicy::Custom(policy), expires)
            }
        };
        if !self.signature_valid(trusted, hash, policy.json().as_bytes(), &signature) {
            return Err(R::SignatureMismatch);
        }
        let (date_greater_than, source_ip) = match &policy {
            VerifiedPolicy::Custom(p) => (p.date_greater_than(), p.source_ip()),
            VerifiedPolicy::Canned(_) => (None, None),
        };
        let now_s = now.as_second();
        if !strict::before_expiry(now_s, date_less_than.get()) {
            return Err(R::Expired {
                date_less_than,
                now,
            });
        }
        if let Some(start) = date_greater_than
            && !strict::after_start(now_s, start.get())
        {
            return Err(R::NotYetValid {
                date_greater_than: start,
                now,
            });
        }
        if let Some(range) = source_ip {
            let ip = request.ip().ok_or(R::NoClientIp)?;
            let v4 = match ip {
                IpAddr::V4(v4) => v4,
                IpAddr::V6(v6) => v6.to_ipv4_mapped().ok_or(R::Ipv6Client(ip))?,
            };
            if !range.contains(v4) {
                return Err(R::IpNotAllowed { client: ip, range });
            }
        }
        if let VerifiedPolicy::Custom(p) = &policy
            && let Some(resource) = p.resource()
            && !resource.matches_str(url)
        {
            return Err(R::ResourceMismatch {
                resource: resource.as_str().to_owned(),
                url: url.to_owned(),
            });
        }
        Ok(Allowed {
            key_pair_id: Arc::clone(&trusted.id),
            group: Arc::clone(&trusted.group),
            hash,
            source: creds.source,
            policy,
            date_less_than,
            date_greater_than,
            source_ip,
            forward_url: creds.unsigned_url.into_owned(),
        })
    }

    /// A custom policy as the `Policy` value encodes it: decoded once and then
    /// taken from the policy cache, when there is one. Only policies that
    /// decode are kept; whether one is signed is decided on every request.
    fn custom_policy(&self, encoded: &str) -> Result<Arc<Policy>, DenialReason> {
        use DenialReason as R;
        let decode = || {
            let bytes = cloudfront_base64::decode(encoded)
                .map_err(|e| R::UndecodablePolicy(e.to_string()))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| R::UndecodablePolicy("not UTF-8 text".to_owned()))?;
            Policy::from_json(&text)
                .map(Arc::new)
                .map_err(R::InvalidPolicy)
        };
        let Some(cache) = &self.policies else {
            return decode();
        };
        let key = crate::crypto::fingerprint(&[b"policy", encoded.as_bytes()]);
        if let Some(policy) = cache.get(&key) {
            return Ok(policy);
        }
        let policy = decode()?;
        cache.insert(key, Arc::clone(&policy));
        Ok(policy)
    }

    fn signature_valid(
        &self,
        trusted: &TrustedKey,
        hash: HashAlgorithm,
        policy: &[u8],
        signature: &[u8],
    ) -> bool {
        let key = &trusted.key;
        let Some(cache) = &self.cache else {
            return key.verify(hash, policy, signature);
        };
        let hash_tag: &[u8] = match hash {
            HashAlgorithm::Sha1 => b"\x01",
            HashAlgorithm::Sha256 => b"\x02",
        };
        let fingerprint =
            crate::crypto::fingerprint(&[&trusted.fingerprint, hash_tag, policy, signature]);
        if cache.get(&fingerprint).is_some() {
            return true;
        }
        let valid = key.verify(hash, policy, signature);
        if valid {
            cache.insert(fingerprint, ());
        }
        valid
    }
}

/// `Expires`: decimal digits only, then the usual epoch checks.
fn parse_expires(text: &str) -> Result<EpochSeconds, PolicyError> {
    let structure = || {
        PolicyError::Structure(format!(
            "Expires {text:?} is not a whole number of seconds in canonical form"
        ))
    };
    if text.len() > 19 || !strict::canonical_expires(text) {
        return Err(structure());
    }
    let value: i64 = text.parse().map_err(|_| structure())?;
    EpochSeconds::new(value).map_err(|error| PolicyError::Time {
        field: "Expires",
        error,
    })
}

#[cfg(test)]
mod tests;
