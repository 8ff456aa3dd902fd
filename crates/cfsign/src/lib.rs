//! # cfsign
//!
//! Amazon CloudFront signed URLs and signed cookies, byte-for-byte as CloudFront
//! expects: RSA-2048 or ECDSA P-256 keys, SHA-1 (the default) or SHA-256, canned
//! or custom policies, with the encoding contract that prevents the silent
//! `403 Access denied` of "signed one URL, sent another".
//!
//! This crate has no async runtime and does no I/O besides reading key files
//! (and the bounded-read helpers of [`input`] that the CLI and the edge share).
//! Crypto is AWS-LC (`aws-lc-rs`, plus one small audited FFI call for RSA-SHA1).
//!
//! ```
//! use std::time::Duration;
//! use cfsign::{KeyPairId, Policy, PrivateKey, Resource, SignableUrl, Signer};
//! # let pem = cfsign::PrivateKey::generate(cfsign::KeyType::Rsa2048)?.to_pkcs8_pem()?;
//!
//! // Parse the key once; a Signer is Send + Sync and cheap to clone.
//! let key = PrivateKey::from_pem(&pem)?;
//! let signer = Signer::new(KeyPairId::new("K2JCJMDEHXQW5F")?, key);
//!
//! // The URL exactly as the browser will request it (already percent-encoded).
//! let url = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/videos/intro%20final.mp4")?;
//! let policy = Policy::builder(Resource::Url(url.clone()))
//!     .expires_in(Duration::from_secs(15 * 60))
//!     .build()?;
//! let signed = signer.sign_url(&url, &policy)?;
//! assert!(signed.as_str().starts_with(
//!     "https://d111111abcdef8.cloudfront.net/videos/intro%20final.mp4?Expires="
//! ));
//! # Ok::<(), cfsign::Error>(())
//! ```
//!
//! The pieces, each usable on its own:
//! - [`SignableUrl`]: the encoding contract (validate, or opt-in [`SignableUrl::encode`]).
//! - [`Resource`], [`Policy`]: what is granted, and the exact bytes that are signed.
//! - [`PrivateKey`], [`PublicKey`]: loading (PEM/DER, PKCS#1/PKCS#8/SEC1, env values), generation.
//! - [`SigningKey`]: the pluggable private-key operation (KMS, HSM).
//! - [`Signer`], [`SignedPolicy`], [`SignedUrl`], [`SignedCookies`]: the output.
//! - [`Layout`]: another signer's byte layout (condition and parameter order).
//! - [`lint`]: warnings for valid but probably wrong policies.
//! - [`explain`]: turn a denial into a diagnosis with the fix.
//! - [`manifest`]: HLS playlists and DASH MPDs with every covered URI signed.
//! - [`verify`]: decide a request as CloudFront's edge would, with the reason for every denial.
//! - [`cloudfront_base64`], [`time`]: the wire encodings of bytes and times.
//! - [`input`]: reading files and streams with a bound that fits their kind.
//! - [`excerpt`]: long inputs cut to a readable window in messages.
//! - [`options`], [`batch`], [`env`](mod@env): what front ends share: the policy for a URL
//!   from the parts given, many URLs on several threads, the key from the environment.

pub mod batch;
pub mod cloudfront_base64;
pub mod cookies;
mod crypto;
pub mod env;
pub mod excerpt;
pub mod explain;
pub mod input;
pub mod key;
pub mod layout;
pub mod lint;
pub mod manifest;
pub mod options;
pub mod policy;
pub mod resource;
pub mod signer;
pub mod time;
pub mod url;
pub mod verify;

pub use cookies::{CookieAttributes, CookieError, SameSite, SignedCookies};
pub use key::{KeyError, KeyType, PrivateKey, PublicKey};
pub use layout::Layout;
pub use lint::Warning;
pub use policy::{Policy, PolicyBuilder, PolicyError, PolicyForm, SourceIp};
pub use resource::{Resource, ResourceError, ResourcePattern};
pub use signer::{
    HashAlgorithm, KeyPairId, SignError, SignedPolicy, SignedUrl, Signer, SigningKey,
};
pub use time::{EpochSeconds, TimeError};
pub use url::{SignableUrl, UrlError};

/// Any error from this crate, for callers that do not need to tell them apart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A URL violates the encoding contract.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// A resource pattern is invalid.
    #[error(transparent)]
    Resource(#[from] ResourceError),
    /// A policy cannot be built or parsed.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A time value is invalid.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// A key cannot be loaded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// Cookie attributes are invalid.
    #[error(transparent)]
    Cookie(#[from] CookieError),
    /// The parts given for a policy do not fit together.
    #[error(transparent)]
    Options(#[from] options::OptionsError),
    /// A manifest cannot be signed.
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
}
