//! The key-pair ID and private key from the environment, under the names every
//! cfsign front end reads: [`KEY_PAIR_ID`], then [`PRIVATE_KEY`] (a path) or
//! [`PRIVATE_KEY_PEM`] (the key itself, repaired as
//! [`PrivateKey::from_env_value`] does).
//!
//! ```no_run
//! let signer = cfsign::env::signer_from_env()?;
//! println!("signing as {}", signer.key_pair_id());
//! # Ok::<(), cfsign::env::EnvError>(())
//! ```

use crate::key::{KeyError, PrivateKey};
use crate::signer::{KeyPairId, SignError, Signer};

/// The ID of the CloudFront public key (e.g. `K2JCJMDEHXQW5F`).
pub const KEY_PAIR_ID: &str = "CFSIGN_KEY_PAIR_ID";
/// The path of the private key file.
pub const PRIVATE_KEY: &str = "CFSIGN_PRIVATE_KEY";
/// The private key's contents (PEM, flattened PEM, or base64 of PEM or DER).
pub const PRIVATE_KEY_PEM: &str = "CFSIGN_PRIVATE_KEY_PEM";

/// Why the environment does not give a signer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// The key-pair ID variable is not set.
    #[error(
        "{KEY_PAIR_ID} is not set: set it to the ID of your public key in CloudFront (e.g. K2JCJMDEHXQW5F)"
    )]
    NoKeyPairId,
    /// Neither key variable is set.
    #[error(
        "no private key in the environment: set {PRIVATE_KEY} (the path of the key file) or \
         {PRIVATE_KEY_PEM} (the PEM contents)"
    )]
    NoPrivateKey,
    /// The path variable holds the key itself.
    #[error(
        "{PRIVATE_KEY} takes the path of the key file, but it holds key contents; put the contents in \
         {PRIVATE_KEY_PEM} instead"
    )]
    KeyInPathVariable,
    /// The key-pair ID is not usable.
    #[error("${KEY_PAIR_ID}: {0}")]
    KeyPairId(#[source] SignError),
    /// The key cannot be loaded.
    #[error("${variable}: {error}")]
    Key {
        /// The variable it came from.
        variable: &'static str,
        /// Why.
        #[source]
        error: KeyError,
    },
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The private key from [`PRIVATE_KEY`] (a path) or, if unset, [`PRIVATE_KEY_PEM`].
pub fn private_key_from_env() -> Result<PrivateKey, EnvError> {
    if let Some(path) = var(PRIVATE_KEY) {
        if path.contains("-----BEGIN") {
            return Err(EnvError::KeyInPathVariable);
        }
        let path = path.strip_prefix("file://").unwrap_or(&path).to_owned();
        return PrivateKey::from_file(path).map_err(|error| EnvError::Key {
            variable: PRIVATE_KEY,
            error,
        });
    }
    match var(PRIVATE_KEY_PEM) {
        Some(value) => PrivateKey::from_env_value(&value).map_err(|error| EnvError::Key {
            variable: PRIVATE_KEY_PEM,
            error,
        }),
        None => Err(EnvError::NoPrivateKey),
    }
}

/// The key-pair ID from [`KEY_PAIR_ID`].
pub fn key_pair_id_from_env() -> Result<KeyPairId, EnvError> {
    let id = var(KEY_PAIR_ID).ok_or(EnvError::NoKeyPairId)?;
    KeyPairId::new(&id).map_err(EnvError::KeyPairId)
}

/// A SHA-1 signer from the environment (select SHA-256 with
/// [`Signer::with_hash_algorithm`]).
pub fn signer_from_env() -> Result<Signer, EnvError> {
    let id = key_pair_id_from_env()?;
    Ok(Signer::new(id, private_key_from_env()?))
}
