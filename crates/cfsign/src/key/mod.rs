//! Private and public keys: loading from every format found in the wild, with a
//! distinct, actionable error for each wrong input; generation; SPKI export.
//!
//! CloudFront key groups accept **RSA-2048** and **ECDSA P-256** public keys, so
//! these are the only private keys accepted for signing. Formats: PEM or DER,
//! PKCS#1 (`RSA PRIVATE KEY`), PKCS#8 (`PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`);
//! from a file, bytes, or an environment variable's value (literal `\n` repaired,
//! base64 of a PEM or DER accepted). Keys are parsed once; [`PrivateKey`] is a
//! cheap-to-clone handle that is `Send + Sync`.
//!
//! ```
//! use cfsign::{KeyType, PrivateKey};
//!
//! let key = PrivateKey::generate(KeyType::EcdsaP256)?;
//! let pem = key.to_pkcs8_pem()?;
//! let again = PrivateKey::from_pem(&pem)?;
//! assert_eq!(again.key_type(), KeyType::EcdsaP256);
//! assert_eq!(again.public_key()?.to_pem()?, key.public_key()?.to_pem()?);
//!
//! // A public key where the private key belongs gets its own error:
//! let err = PrivateKey::from_pem(&key.public_key()?.to_pem()?).unwrap_err();
//! assert!(err.to_string().contains("public key"));
//! # Ok::<(), cfsign::KeyError>(())
//! ```

pub(crate) mod der;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;

use crate::crypto::{PrivateDer, PrivateMaterial, PublicMaterial};
use crate::input::{InputError, Limit};
use der::DerKind;

/// The bound for a private key file: a PEM key is under 4 KiB (RSA-4096 PKCS#8 is
/// about 3.3 KiB), with room for a certificate chain kept in the same file.
pub const PRIVATE_KEY_FILE: Limit = Limit::new(
    "the private key file",
    64 * 1024,
    "a PEM or DER key is a few KiB: check that the path names the key file",
);

/// The bound for a public key file (as for [`PRIVATE_KEY_FILE`]).
pub const PUBLIC_KEY_FILE: Limit = Limit::new(
    "the public key file",
    64 * 1024,
    "a PEM or DER public key is a few hundred bytes: check that the path names the public key file",
);

/// The key types CloudFront accepts for signed URLs and cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA with a 2048-bit modulus; signatures are RSASSA-PKCS1-v1_5.
    Rsa2048,
    /// ECDSA on NIST P-256 (prime256v1); signatures are ASN.1 DER.
    EcdsaP256,
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Rsa2048 => "RSA-2048",
            KeyType::EcdsaP256 => "ECDSA P-256",
        })
    }
}

const FIX_GENERATE: &str = "CloudFront accepts only RSA-2048 and ECDSA P-256 keys; make one with \
                            `cfsign keygen --type rsa` or `cfsign keygen --type ecdsa`";

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file or value is empty.
    #[error("the key is empty (0 bytes of key data)")]
    Empty,
    /// Reading the file failed, or it is larger than a key file can be
    /// ([`PRIVATE_KEY_FILE`], [`PUBLIC_KEY_FILE`]).
    #[error(transparent)]
    Read(#[from] InputError),
    /// An error in a named file.
    #[error("{}: {error}", path.display())]
    InFile {
        /// The path.
        path: PathBuf,
        /// What is wrong with its content (included in the message).
        error: Box<KeyError>,
    },
    /// A public key was given where the private key is needed (or the reverse).
    #[error("{0}")]
    WrongHalf(String),
    /// The key is encrypted with a passphrase.
    #[error(
        "the private key is encrypted ({format}); cfsign does not take passphrases, so decrypt it once \
         into a file only you can read: `openssl pkey -in encrypted.pem -out private_key.pem` (then \
         `chmod 600 private_key.pem`)"
    )]
    Encrypted {
        /// Which encryption format.
        format: &'static str,
    },
    /// An X.509 certificate.
    #[error(
        "this is an X.509 certificate, not a key; CloudFront signing uses a bare key pair: give the \
         private key file (BEGIN PRIVATE KEY / RSA PRIVATE KEY / EC PRIVATE KEY)"
    )]
    Certificate,
    /// RSA of a size other than 2048 bits.
    #[error("this is an RSA-{bits} key; {FIX_GENERATE}")]
    RsaSize {
        /// Modulus size.
        bits: usize,
    },
    /// EC on a curve other than P-256.
    #[error("this is an EC key on {curve}; {FIX_GENERATE}")]
    Curve {
        /// Curve name.
        curve: &'static str,
    },
    /// Another algorithm (Ed25519, DSA, …).
    #[error("this is an {algorithm} key; {FIX_GENERATE}")]
    Algorithm {
        /// Algorithm name.
        algorithm: &'static str,
    },
    /// PEM blocks, but none holds a key.
    #[error(
        "no key found in the PEM data (found: {found}); expected BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY"
    )]
    NoKey {
        /// The PEM labels that were found.
        found: String,
    },
    /// More than one key.
    #[error("the PEM data holds {count} keys; keep exactly one in the file")]
    MultipleKeys {
        /// How many.
        count: usize,
    },
    /// Not PEM, DER, or base64 of either; or AWS-LC rejected the key.
    #[error("not a usable key: {0}")]
    Malformed(String),
}

fn wrong_half_public() -> KeyError {
    KeyError::WrongHalf(
        "this is a public key, but signing needs the private key (e.g. private_key.pem); the public key \
         is the one you upload to CloudFront and give to verifiers"
            .to_owned(),
    )
}

fn wrong_half_private() -> KeyError {
    KeyError::WrongHalf(
        "this is a private key, but a public key is needed here; extract it with \
         `openssl pkey -in private_key.pem -pubout -out public_key.pem` (never hand a private key to a verifier)"
            .to_owned(),
    )
}

/// What is wrong with PEM text, in words that never echo the text: the `pem`
/// crate's own messages quote the `BEGIN`/`END` labels and header lines, which in
/// a damaged file can be lines of the key itself.
fn pem_problem(error: &pem::PemError) -> String {
    let what = match error {
        pem::PemError::MismatchedTags(..) => {
            "the BEGIN and END lines name different labels (a damaged or truncated file?)"
        }
        pem::PemError::MalformedFraming => "the BEGIN/END lines are malformed",
        pem::PemError::MissingBeginTag => "a BEGIN line is missing",
        pem::PemError::MissingEndTag => "an END line is missing (a truncated file?)",
        pem::PemError::MissingData => "a block has no data",
        pem::PemError::InvalidData(_) => "a block's data is not valid base64",
        pem::PemError::InvalidHeader(_) => "a header line inside a block is malformed",
        pem::PemError::NotUtf8(_) => "the text is not valid UTF-8",
    };
    format!("bad PEM: {what}")
}

/// A private key for signing: RSA-2048 or ECDSA P-256, parsed once.
///
/// Cloning is cheap (a reference count). `Debug` never prints key material.
#[derive(Clone)]
pub struct PrivateKey(Arc<PrivateMaterial>);

impl PrivateKey {
    /// Loads a key from a file (PEM or DER, detected), of at most
    /// [`PRIVATE_KEY_FILE`] bytes.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let bytes = PRIVATE_KEY_FILE.read_file(path)?;
        Self::from_bytes(&bytes).map_err(|e| KeyError::InFile {
            path: path.to_owned(),
            error: Box::new(e),
        })
    }

    /// Loads a key from bytes: PEM text if it contains `-----BEGIN`, DER otherwise.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(KeyError::Empty);
        }
        if contains(bytes, b"-----BEGIN") {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| KeyError::Malformed("PEM text that is not valid UTF-8".to_owned()))?;
            Self::from_pem(text)
        } else {
            Self::from_der(bytes)
        }
    }

    /// Loads a key from PEM text (one key; `EC PARAMETERS` blocks are skipped).
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        if text.trim().is_empty() {
            return Err(KeyError::Empty);
        }
        let blocks = pem::parse_many(text).map_err(|e| KeyError::Malformed(pem_problem(&e)))?;
        let keys: Vec<&pem::Pem> = blocks
            .iter()
            .filter(|b| b.tag() != "EC PARAMETERS")
            .collect();
        let block = match keys.as_slice() {
            [] if blocks.is_empty() => {
                return Err(KeyError::Malformed(
                    "no complete PEM block (BEGIN ... END)".to_owned(),
                ));
            }
            [] => {
                return Err(KeyError::NoKey {
                    found: labels(&blocks),
                });
            }
            [one] => *one,
            many => {
                let private = many
                    .iter()
                    .filter(|b| b.tag().contains("PRIVATE KEY"))
                    .count();
                if private == 1 {
                    // e.g. a key followed by its certificate: take the key.
                    many.iter()
                        .copied()
                        .find(|b| b.tag().contains("PRIVATE KEY"))
                        .unwrap_or(many[0])
                } else if private == 0 {
                    return Err(KeyError::NoKey {
                        found: labels(&blocks),
                    });
                } else {
                    return Err(KeyError::MultipleKeys { count: private });
                }
            }
        };
        if block
            .headers()
            .get("Proc-Type")
            .is_some_and(|v| v.contains("ENCRYPTED"))
        {
            return Err(KeyError::Encrypted {
                format: "legacy PEM encryption, Proc-Type: 4,ENCRYPTED",
            });
        }
        match block.tag() {
            "RSA PRIVATE KEY" | "PRIVATE KEY" | "EC PRIVATE KEY" => Self::from_der(block.contents()),
            "ENCRYPTED PRIVATE KEY" => Err(KeyError::Encrypted { format: "PKCS#8, BEGIN ENCRYPTED PRIVATE KEY" }),
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "EC PUBLIC KEY" => Err(wrong_half_public()),
            "CERTIFICATE" | "TRUSTED CERTIFICATE" | "X509 CERTIFICATE" => Err(KeyError::Certificate),
            "OPENSSH PRIVATE KEY" => Err(KeyError::Malformed(
                "this is an OpenSSH-format key; convert it with `ssh-keygen -p -m PEM -f KEY` or make a new one \
                 with `cfsign keygen`"
                    .to_owned(),
            )),
            other => Err(KeyError::NoKey { found: printable_label(other) }),
        }
    }

    /// Loads a key from DER bytes (PKCS#1, PKCS#8 or SEC1, detected).
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        if der.is_empty() {
            return Err(KeyError::Empty);
        }
        let kind = match der::classify(der) {
            DerKind::RsaPrivatePkcs1 { bits: 2048 } => PrivateDer::RsaPkcs1,
            DerKind::RsaPrivatePkcs8 { bits: 2048 } => PrivateDer::RsaPkcs8,
            DerKind::RsaPrivatePkcs1 { bits } | DerKind::RsaPrivatePkcs8 { bits } => {
                return Err(KeyError::RsaSize { bits });
            }
            DerKind::EcPrivateSec1 { curve: "P-256" }
            | DerKind::EcPrivatePkcs8 { curve: "P-256" } => PrivateDer::Ec,
            DerKind::EcPrivateSec1 { curve } | DerKind::EcPrivatePkcs8 { curve } => {
                return Err(KeyError::Curve { curve });
            }
            DerKind::OtherPrivatePkcs8 { algorithm } => {
                return Err(KeyError::Algorithm { algorithm });
            }
            DerKind::EncryptedPkcs8 => {
                return Err(KeyError::Encrypted {
                    format: "PKCS#8 EncryptedPrivateKeyInfo",
                });
            }
            DerKind::RsaPublic { .. } | DerKind::EcPublic { .. } | DerKind::OtherPublic { .. } => {
                return Err(wrong_half_public());
            }
            DerKind::Certificate => return Err(KeyError::Certificate),
            DerKind::Unknown => {
                return Err(KeyError::Malformed(
                    "not a PEM file and not a DER-encoded private key (PKCS#1, PKCS#8 or SEC1)"
                        .to_owned(),
                ));
            }
        };
        let material = PrivateMaterial::parse(der, kind)
            .map_err(|e| KeyError::Malformed(format!("AWS-LC rejected the key: {e}")))?;
        if let Some(bits) = material.rsa_bits().filter(|&b| b != 2048) {
            return Err(KeyError::RsaSize { bits });
        }
        Ok(Self(Arc::new(material)))
    }

    /// Loads a key from an environment variable's value, repairing the usual damage:
    /// literal `\n` sequences (and `\r\n`) become line breaks, surrounding quotes and
    /// whitespace are removed, and a base64-encoded PEM or DER is decoded.
    ///
    /// ```
    /// use cfsign::{KeyType, PrivateKey};
    ///
    /// let pem = PrivateKey::generate(KeyType::EcdsaP256)?.to_pkcs8_pem()?;
    /// let flattened = pem.replace('\n', "\\n"); // as many secret stores deliver it
    /// assert!(PrivateKey::from_env_value(&flattened).is_ok());
    /// # Ok::<(), cfsign::KeyError>(())
    /// ```
    pub fn from_env_value(value: &str) -> Result<Self, KeyError> {
        let trimmed = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        if trimmed.is_empty() {
            return Err(KeyError::Empty);
        }
        if trimmed.contains("-----BEGIN") {
            let repaired = trimmed.replace("\\r\\n", "\n").replace("\\n", "\n");
            return Self::from_pem(&repaired);
        }
        let compact: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&compact)
            .map_err(|_| {
                KeyError::Malformed(
                    "the value is neither PEM text (-----BEGIN ...) nor base64 of a PEM or DER key"
                        .to_owned(),
                )
            })?;
        Self::from_bytes(&decoded)
    }

    /// Generates a new key (RSA-2048 or ECDSA P-256) with AWS-LC's RNG.
    pub fn generate(key_type: KeyType) -> Result<Self, KeyError> {
        PrivateMaterial::generate(key_type)
            .map(|m| Self(Arc::new(m)))
            .map_err(|e| KeyError::Malformed(format!("key generation failed: {e}")))
    }

    /// RSA-2048 or ECDSA P-256.
    #[must_use]
    pub fn key_type(&self) -> KeyType {
        self.0.key_type()
    }

    /// The private key as PKCS#8 PEM (`BEGIN PRIVATE KEY`). Handle with care: write
    /// it only to files with mode 0600.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let der = self.0.to_pkcs8_der().map_err(KeyError::Malformed)?;
        Ok(encode_pem("PRIVATE KEY", der))
    }

    /// The matching public key.
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        let spki = self.0.public_spki_der().map_err(KeyError::Malformed)?;
        PublicKey::from_der(&spki)
    }

    pub(crate) fn material(&self) -> &PrivateMaterial {
        &self.0
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("type", &self.key_type())
            .finish_non_exhaustive()
    }
}

/// A public key for verification: RSA-2048 or ECDSA P-256, pre-parsed for SHA-1
/// and SHA-256.
///
/// ```
/// use cfsign::{HashAlgorithm, KeyType, PrivateKey, SigningKey};
///
/// let private = PrivateKey::generate(KeyType::Rsa2048)?;
/// let public = private.public_key()?;
/// let sig = private.sign(HashAlgorithm::Sha1, b"policy bytes").unwrap();
/// assert!(public.verify(HashAlgorithm::Sha1, b"policy bytes", &sig));
/// assert!(!public.verify(HashAlgorithm::Sha256, b"policy bytes", &sig));
/// # Ok::<(), cfsign::KeyError>(())
/// ```
#[derive(Clone)]
pub struct PublicKey(Arc<PublicMaterial>);

impl PublicKey {
    /// Loads a public key from a file (PEM or DER), of at most
    /// [`PUBLIC_KEY_FILE`] bytes.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let bytes = PUBLIC_KEY_FILE.read_file(path)?;
        Self::from_bytes(&bytes).map_err(|e| KeyError::InFile {
            path: path.to_owned(),
            error: Box::new(e),
        })
    }

    /// Loads from bytes: PEM if it contains `-----BEGIN`, DER otherwise.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(KeyError::Empty);
        }
        if contains(bytes, b"-----BEGIN") {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| KeyError::Malformed("PEM text that is not valid UTF-8".to_owned()))?;
            Self::from_pem(text)
        } else {
            Self::from_der(bytes)
        }
    }

    /// Loads from PEM: `BEGIN PUBLIC KEY` (SPKI, what CloudFront takes) or
    /// `BEGIN RSA PUBLIC KEY` (PKCS#1).
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let blocks = pem::parse_many(text).map_err(|e| KeyError::Malformed(pem_problem(&e)))?;
        let block = match blocks.as_slice() {
            [] => {
                return Err(KeyError::Malformed(
                    "no complete PEM block (BEGIN ... END)".to_owned(),
                ));
            }
            [one] => one,
            _ => {
                let public: Vec<_> = blocks
                    .iter()
                    .filter(|b| b.tag().contains("PUBLIC KEY"))
                    .collect();
                match public.as_slice() {
                    [one] => *one,
                    [] => {
                        return Err(KeyError::NoKey {
                            found: labels(&blocks),
                        });
                    }
                    many => return Err(KeyError::MultipleKeys { count: many.len() }),
                }
            }
        };
        match block.tag() {
            "PUBLIC KEY" | "RSA PUBLIC KEY" => Self::from_der(block.contents()),
            t if t.contains("PRIVATE KEY") => Err(wrong_half_private()),
            "CERTIFICATE" => Err(KeyError::Certificate),
            other => Err(KeyError::NoKey {
                found: printable_label(other),
            }),
        }
    }

    /// Loads from DER: SPKI or PKCS#1 `RSAPublicKey`.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let key_type = match der::classify(der) {
            DerKind::RsaPublic { bits: 2048 } => KeyType::Rsa2048,
            DerKind::RsaPublic { bits } => return Err(KeyError::RsaSize { bits }),
            DerKind::EcPublic { curve: "P-256" } => KeyType::EcdsaP256,
            DerKind::EcPublic { curve } => return Err(KeyError::Curve { curve }),
            DerKind::OtherPublic { algorithm } => return Err(KeyError::Algorithm { algorithm }),
            DerKind::Certificate => return Err(KeyError::Certificate),
            DerKind::Unknown => {
                return Err(KeyError::Malformed(
                    "not a DER-encoded public key (SPKI or PKCS#1)".to_owned(),
                ));
            }
            _ => return Err(wrong_half_private()),
        };
        PublicMaterial::parse(der, key_type)
            .map(|m| Self(Arc::new(m)))
            .map_err(|e| KeyError::Malformed(format!("AWS-LC rejected the public key: {e}")))
    }

    /// RSA-2048 or ECDSA P-256.
    #[must_use]
    pub fn key_type(&self) -> KeyType {
        self.0.key_type()
    }

    /// The key as SPKI PEM (`BEGIN PUBLIC KEY`), ready to paste into CloudFront's
    /// "Create public key".
    pub fn to_pem(&self) -> Result<String, KeyError> {
        Ok(encode_pem("PUBLIC KEY", self.0.spki_der().to_vec()))
    }

    /// The key as SubjectPublicKeyInfo DER.
    #[must_use]
    pub fn spki_der(&self) -> &[u8] {
        self.0.spki_der()
    }

    /// Whether `signature` is a valid signature of `message` with `hash`.
    #[must_use]
    pub fn verify(&self, hash: crate::HashAlgorithm, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify(hash, message, signature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("type", &self.key_type())
            .finish_non_exhaustive()
    }
}

/// PEM with Unix line endings and 64-character lines, as OpenSSL writes it.
fn encode_pem(label: &str, der: Vec<u8>) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn labels(blocks: &[pem::Pem]) -> String {
    /// Labels listed; a file with more is damaged anyway.
    const MAX_LABELS: usize = 8;
    let mut v: Vec<String> = blocks
        .iter()
        .take(MAX_LABELS)
        .map(|b| printable_label(b.tag()))
        .collect();
    if blocks.len() > MAX_LABELS {
        v.push(format!("{} more", blocks.len() - MAX_LABELS));
    }
    if v.is_empty() {
        "nothing".to_owned()
    } else {
        v.join(", ")
    }
}

/// A PEM label as it may appear in a message: real labels (`PRIVATE KEY`,
/// `CERTIFICATE`, ...) are short upper-case words; anything else is not echoed,
/// since in a damaged file the "label" can be a line of the key.
fn printable_label(label: &str) -> String {
    const MAX_LABEL: usize = 40;
    if label.len() <= MAX_LABEL
        && label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'#')
    {
        label.to_owned()
    } else {
        "a label that is not a PEM label".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HashAlgorithm;

    fn path(name: &str) -> String {
        format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn loads_every_accepted_format() {
        let message = b"{\"Statement\":[]}";
        for (file, key_type, public) in [
            ("rsa2048.pkcs1.pem", KeyType::Rsa2048, "rsa2048.pub.pem"),
            ("rsa2048.pkcs8.pem", KeyType::Rsa2048, "rsa2048.pub.pem"),
            ("rsa2048.pkcs1.der", KeyType::Rsa2048, "rsa2048.pub.der"),
            (
                "rsa2048.pkcs8.der",
                KeyType::Rsa2048,
                "rsa2048.pkcs1-pub.pem",
            ),
            ("ec-p256.sec1.pem", KeyType::EcdsaP256, "ec-p256.pub.pem"),
            ("ec-p256.pkcs8.pem", KeyType::EcdsaP256, "ec-p256.pub.pem"),
            ("ec-p256.sec1.der", KeyType::EcdsaP256, "ec-p256.pub.der"),
            ("ec-p256.pkcs8.der", KeyType::EcdsaP256, "ec-p256.pub.der"),
        ] {
            let key = PrivateKey::from_file(path(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(key.key_type(), key_type, "{file}");
            let public_file = public;
            let public = PublicKey::from_file(path(public_file)).unwrap();
            for hash in [HashAlgorithm::Sha1, HashAlgorithm::Sha256] {
                let sig = crate::SigningKey::sign(&key, hash, message).unwrap();
                assert!(public.verify(hash, message, &sig), "{file} {hash:?}");
            }
            // the derived public key is the committed one
            let spki = std::fs::read_to_string(path(
                &public_file
                    .replace(".der", ".pem")
                    .replace("pkcs1-pub", "pub"),
            ))
            .unwrap();
            assert_eq!(key.public_key().unwrap().to_pem().unwrap(), spki, "{file}");
        }
    }

    /// A damaged PEM file (a BEGIN line run into the key's base64, a header line
    /// made of key data, an unknown label) is refused without echoing its lines:
    /// the `pem` crate's own messages would quote them.
    #[test]
    fn pem_errors_never_echo_the_text() {
        let pem = std::fs::read_to_string(path("rsa2048.pkcs8.pem")).unwrap();
        let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let secret = body[3];
        let damaged = [
            // BEGIN and END labels that differ, one of them key data
            format!(
                "-----BEGIN {secret}-----\n{}\n-----END PRIVATE KEY-----\n",
                body[..3].join("\n")
            ),
            // a header line made of key data
            format!(
                "-----BEGIN PRIVATE KEY-----\nProc-{secret}\n\n{}\n-----END PRIVATE KEY-----\n",
                body.join("\n")
            ),
            // a complete block under a label that is key data
            format!(
                "-----BEGIN {secret}-----\n{}\n-----END {secret}-----\n",
                body.join("\n")
            ),
        ];
        for text in &damaged {
            for message in [
                PrivateKey::from_pem(text).err().map(|e| e.to_string()),
                PublicKey::from_pem(text).err().map(|e| e.to_string()),
            ] {
                let message = message.expect("a damaged file is refused");
                assert!(
                    !message.contains(&secret[..16]),
                    "echoed key data: {message}"
                );
                assert!(message.len() < 300, "{message}");
            }
        }
    }

    #[test]
    fn each_wrong_input_has_its_own_error() {
        let cases: &[(&str, &str)] = &[
            ("empty.pem", "empty"),
            ("rsa2048.pub.pem", "this is a public key"),
            ("rsa2048.pub.der", "this is a public key"),
            ("rsa2048.pkcs1-pub.pem", "this is a public key"),
            ("rsa2048.encrypted-pkcs8.pem", "encrypted (PKCS#8"),
            ("rsa2048.encrypted-pkcs1.pem", "Proc-Type"),
            ("ec-p256.encrypted-sec1.pem", "Proc-Type"),
            ("certificate.pem", "certificate"),
            ("rsa1024.pkcs8.pem", "RSA-1024"),
            ("rsa3072.pkcs8.pem", "RSA-3072"),
            ("rsa4096.pkcs1.pem", "RSA-4096"),
            ("ec-p384.sec1.pem", "P-384"),
            ("ec-p384.pkcs8.pem", "P-384"),
            ("ec-secp256k1.sec1.pem", "secp256k1"),
            ("ed25519.pkcs8.pem", "Ed25519"),
        ];
        for (file, needle) in cases {
            let err = PrivateKey::from_file(path(file))
                .expect_err(file)
                .to_string();
            assert!(err.contains(needle), "{file}: {err:?} lacks {needle:?}");
            assert!(
                err.contains(file),
                "{file}: error should name the file: {err}"
            );
        }
        let missing = PrivateKey::from_file(path("nope.pem"))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("nope.pem") && missing.contains("cannot read"),
            "{missing}"
        );
        assert!(
            PrivateKey::from_bytes(b"hello")
                .unwrap_err()
                .to_string()
                .contains("not a PEM file")
        );
        assert!(matches!(
            PrivateKey::from_pem("-----BEGIN CERTIFICATE-----\n"),
            Err(KeyError::Malformed(_))
        ));
        let err = PublicKey::from_file(path("rsa2048.pkcs8.pem"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("this is a private key"), "{err}");
    }

    #[test]
    fn key_files_are_read_with_a_bound() {
        for err in [
            PrivateKey::from_file("/dev/zero").unwrap_err(),
            PublicKey::from_file("/dev/zero").unwrap_err(),
        ] {
            assert!(
                matches!(&err, KeyError::Read(InputError::TooLarge { .. })),
                "{err:?}"
            );
            let message = err.to_string();
            assert!(
                message.contains("key file /dev/zero is larger than 64 KiB (65536 bytes)"),
                "{message}"
            );
        }
    }

    #[test]
    fn env_values_are_repaired() {
        let pem = std::fs::read_to_string(path("rsa2048.pkcs1.pem")).unwrap();
        let flat = format!("\"{}\"", pem.replace('\n', "\\n"));
        assert_eq!(
            PrivateKey::from_env_value(&flat).unwrap().key_type(),
            KeyType::Rsa2048
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(&pem);
        assert_eq!(
            PrivateKey::from_env_value(&b64).unwrap().key_type(),
            KeyType::Rsa2048
        );
        let der = std::fs::read(path("ec-p256.sec1.der")).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        assert_eq!(
            PrivateKey::from_env_value(&b64).unwrap().key_type(),
            KeyType::EcdsaP256
        );
        assert!(matches!(
            PrivateKey::from_env_value("  "),
            Err(KeyError::Empty)
        ));
        assert!(
            PrivateKey::from_env_value("%%%")
                .unwrap_err()
                .to_string()
                .contains("neither PEM")
        );
    }

    #[test]
    fn ec_parameters_block_is_skipped() {
        // `openssl ecparam -genkey` without -noout writes EC PARAMETERS first.
        let key = std::fs::read_to_string(path("ec-p256.sec1.pem")).unwrap();
        let with_params = format!(
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{key}"
        );
        assert_eq!(
            PrivateKey::from_pem(&with_params).unwrap().key_type(),
            KeyType::EcdsaP256
        );
    }

    #[test]
    fn debug_never_prints_material() {
        let key = PrivateKey::from_file(path("rsa2048.pkcs8.pem")).unwrap();
        assert_eq!(format!("{key:?}"), "PrivateKey { type: Rsa2048, .. }");
    }

    #[test]
    fn generated_keys_round_trip() {
        for t in [KeyType::Rsa2048, KeyType::EcdsaP256] {
            let key = PrivateKey::generate(t).unwrap();
            let again = PrivateKey::from_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
            assert_eq!(again.key_type(), t);
            let sig = crate::SigningKey::sign(&again, HashAlgorithm::Sha1, b"x").unwrap();
            assert!(
                key.public_key()
                    .unwrap()
                    .verify(HashAlgorithm::Sha1, b"x", &sig)
            );
        }
    }
}
