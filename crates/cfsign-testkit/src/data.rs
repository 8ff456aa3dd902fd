//! The core crate's committed test data (`crates/cfsign/tests/data`): keys made
//! once with the OpenSSL CLI in every format, known-answer signatures, corpora.
//! Any crate's tests find them here, wherever they run from.

use std::path::PathBuf;

use cfsign::PrivateKey;

/// The folder, `crates/cfsign/tests/data`.
///
/// ```
/// assert!(cfsign_testkit::data::dir().join("keys").is_dir());
/// ```
#[must_use]
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cfsign/tests/data")
}

/// A file of the test data, by its path inside [`dir`] (e.g. `kat/canned.rsa2048.sha1.sig`),
/// as a string to hand to a command line.
///
/// ```
/// let key = cfsign_testkit::data::path("keys/rsa2048.pkcs1.pem");
/// assert!(std::fs::read_to_string(&key).unwrap().starts_with("-----BEGIN RSA PRIVATE KEY-----"));
/// ```
#[must_use]
pub fn path(relative: &str) -> String {
    dir().join(relative).to_string_lossy().into_owned()
}

/// A key file of the test data, by its name in `keys/` (e.g. `ec-p256.pkcs8.pem`).
///
/// ```
/// let public = cfsign_testkit::data::key_path("rsa2048.pub.pem");
/// assert!(std::fs::read_to_string(&public).unwrap().contains("PUBLIC KEY"));
/// ```
#[must_use]
pub fn key_path(name: &str) -> String {
    path(&format!("keys/{name}"))
}

/// A private key of the test data, loaded.
///
/// ```
/// let key = cfsign_testkit::data::private_key("ec-p256.pkcs8.pem");
/// assert!(key.public_key().is_ok());
/// ```
///
/// # Panics
///
/// If the file is missing or not a private key cfsign reads.
#[must_use]
pub fn private_key(name: &str) -> PrivateKey {
    let path = key_path(name);
    PrivateKey::from_file(&path).unwrap_or_else(|e| panic!("the test key {path}: {e}"))
}
