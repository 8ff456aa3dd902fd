//! The crate's crypto, behind one small crate-private facade (as in `aws-sigv4`).
//!
//! Everything goes through AWS-LC: `aws-lc-rs` for RSA-SHA256 and ECDSA signing,
//! all verification, key parsing, generation and SPKI export; [`rsa_sha1`] for the
//! one operation `aws-lc-rs` does not offer (RSA PKCS#1 v1.5 signing with SHA-1).
//!
//! ECDSA with SHA-1 needs no extra code path: ECDSA signs the integer value of the
//! hash, and for P-256 a 160-bit SHA-1 value is used whole. Twelve zero bytes
//! followed by the SHA-1 digest encode the same integer in 32 bytes, so importing
//! that buffer as a "SHA-256 digest" and calling `sign_digest` yields a valid
//! ECDSA-with-SHA-1 signature (checked against OpenSSL and `ECDSA_P256_SHA1_ASN1`
//! verification in the tests).

mod rsa_sha1;

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _, ParsedPublicKey,
    UnparsedPublicKey,
};

use crate::{HashAlgorithm, KeyType};
use rsa_sha1::RsaSha1Key;

/// A parsed private key, ready to sign with either hash.
pub(crate) enum PrivateMaterial {
    Rsa { pair: RsaKeyPair, sha1: RsaSha1Key },
    Ecdsa(EcdsaKeyPair),
}

/// Which DER structure holds the private key.
#[derive(Clone, Copy)]
pub(crate) enum PrivateDer {
    RsaPkcs1,
    RsaPkcs8,
    /// SEC1 or PKCS#8 (aws-lc-rs detects which).
    Ec,
}

impl PrivateMaterial {
    /// Parses DER; `None` means AWS-LC rejected the structure or the key.
    pub(crate) fn parse(der: &[u8], kind: PrivateDer) -> Result<Self, String> {
        match kind {
            PrivateDer::RsaPkcs1 | PrivateDer::RsaPkcs8 => {
                let pair = match kind {
                    PrivateDer::RsaPkcs1 => RsaKeyPair::from_der(der),
                    _ => RsaKeyPair::from_pkcs8(der),
                }
                .map_err(|e| e.to_string())?;
                Self::from_rsa_pair(pair)
            }
            PrivateDer::Ec => {
                EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, der)
                    .map(PrivateMaterial::Ecdsa)
                    .map_err(|e| e.to_string())
            }
        }
    }

    fn from_rsa_pair(pair: RsaKeyPair) -> Result<Self, String> {
        let pkcs8: Pkcs8V1Der<'_> = pair.as_der().map_err(|e| e.to_string())?;
        let sha1 = RsaSha1Key::from_pkcs8_der(pkcs8.as_ref())
            .ok_or_else(|| "AWS-LC could not load the RSA key for SHA-1 signing".to_owned())?;
        Ok(PrivateMaterial::Rsa { pair, sha1 })
    }

    pub(crate) fn generate(key_type: KeyType) -> Result<Self, String> {
        match key_type {
            KeyType::Rsa2048 => Self::from_rsa_pair(
                RsaKeyPair::generate(KeySize::Rsa2048).map_err(|e| e.to_string())?,
            ),
            KeyType::EcdsaP256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                .map(PrivateMaterial::Ecdsa)
                .map_err(|e| e.to_string()),
        }
    }

    pub(crate) fn key_type(&self) -> KeyType {
        match self {
            PrivateMaterial::Rsa { .. } => KeyType::Rsa2048,
            PrivateMaterial::Ecdsa(_) => KeyType::EcdsaP256,
        }
    }

    /// RSA modulus size in bits (None for EC).
    pub(crate) fn rsa_bits(&self) -> Option<usize> {
        match self {
            PrivateMaterial::Rsa { pair, .. } => Some(pair.public_modulus_len() * 8),
            PrivateMaterial::Ecdsa(_) => None,
        }
    }

    pub(crate) fn sign(&self, hash: HashAlgorithm, message: &[u8]) -> Result<Vec<u8>, String> {
        match (self, hash) {
            (PrivateMaterial::Rsa { sha1, .. }, HashAlgorithm::Sha1) => sha1
                .sign(message)
                .ok_or_else(|| "AWS-LC RSA_sign (SHA-1) failed".to_owned()),
            (PrivateMaterial::Rsa { pair, .. }, HashAlgorithm::Sha256) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .map_err(|_| "AWS-LC RSA signing (SHA-256) failed".to_owned())?;
                Ok(sig)
            }
            (PrivateMaterial::Ecdsa(pair), HashAlgorithm::Sha256) => pair
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "AWS-LC ECDSA signing (SHA-256) failed".to_owned()),
            (PrivateMaterial::Ecdsa(pair), HashAlgorithm::Sha1) => {
                let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, message);
                let mut widened = [0u8; 32];
                widened[12..].copy_from_slice(sha1.as_ref());
                let d = Digest::import_less_safe(&widened, &digest::SHA256)
                    .map_err(|_| "digest import failed".to_owned())?;
                pair.sign_digest(&d)
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|_| "AWS-LC ECDSA signing (SHA-1) failed".to_owned())
            }
        }
    }

    /// PKCS#8 v1 DER of the private key.
    pub(crate) fn to_pkcs8_der(&self) -> Result<Vec<u8>, String> {
        match self {
            PrivateMaterial::Rsa { pair, .. } => {
                let der: Pkcs8V1Der<'_> = pair.as_der().map_err(|e| e.to_string())?;
                Ok(der.as_ref().to_vec())
            }
            PrivateMaterial::Ecdsa(pair) => pair
                .to_pkcs8v1()
                .map(|d| d.as_ref().to_vec())
                .map_err(|e| e.to_string()),
        }
    }

    /// SubjectPublicKeyInfo DER of the public key.
    pub(crate) fn public_spki_der(&self) -> Result<Vec<u8>, String> {
        let der: PublicKeyX509Der<'_> = match self {
            PrivateMaterial::Rsa { pair, .. } => pair.public_key().as_der(),
            PrivateMaterial::Ecdsa(pair) => pair.public_key().as_der(),
        }
        .map_err(|e| e.to_string())?;
        Ok(der.as_ref().to_vec())
    }
}

/// A public key pre-parsed for both hashes.
pub(crate) struct PublicMaterial {
    key_type: KeyType,
    sha1: ParsedPublicKey,
    sha256: ParsedPublicKey,
    /// SubjectPublicKeyInfo DER, whatever form the key was given in.
    spki: Vec<u8>,
}

impl PublicMaterial {
    /// Parses SPKI DER (or PKCS#1 `RSAPublicKey` for RSA).
    pub(crate) fn parse(der: &[u8], key_type: KeyType) -> Result<Self, String> {
        let (a1, a256): (
            &'static dyn signature::VerificationAlgorithm,
            &'static dyn signature::VerificationAlgorithm,
        ) = match key_type {
            KeyType::Rsa2048 => (
                &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                &signature::RSA_PKCS1_2048_8192_SHA256,
            ),
            KeyType::EcdsaP256 => (
                &signature::ECDSA_P256_SHA1_ASN1,
                &signature::ECDSA_P256_SHA256_ASN1,
            ),
        };
        let parse = |alg| {
            UnparsedPublicKey::new(alg, der)
                .parse()
                .map_err(|e| e.to_string())
        };
        let sha256 = parse(a256)?;
        let spki: PublicKeyX509Der<'_> = sha256.as_der().map_err(|e| e.to_string())?;
        let spki = spki.as_ref().to_vec();
        Ok(Self {
            key_type,
            sha1: parse(a1)?,
            sha256,
            spki,
        })
    }

    pub(crate) fn key_type(&self) -> KeyType {
        self.key_type
    }

    pub(crate) fn verify(&self, hash: HashAlgorithm, message: &[u8], sig: &[u8]) -> bool {
        let key = match hash {
            HashAlgorithm::Sha1 => &self.sha1,
            HashAlgorithm::Sha256 => &self.sha256,
        };
        key.verify_sig(message, sig).is_ok()
    }

    pub(crate) fn spki_der(&self) -> &[u8] {
        &self.spki
    }
}

/// SHA-256 over length-prefixed parts (so that no two different part lists collide
/// by concatenation). Used as the verifier's signature-cache key.
pub(crate) fn fingerprint(parts: &[&[u8]]) -> [u8; 32] {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudfront_base64;

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(format!("{DATA}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn sig(path: &str) -> Vec<u8> {
        cloudfront_base64::decode(std::str::from_utf8(&read(path)).unwrap()).unwrap()
    }

    #[test]
    fn rsa_sha256_matches_openssl() {
        let key =
            PrivateMaterial::parse(&read("keys/rsa2048.pkcs1.der"), PrivateDer::RsaPkcs1).unwrap();
        for m in ["canned", "custom"] {
            let s = key
                .sign(HashAlgorithm::Sha256, &read(&format!("kat/{m}.json")))
                .unwrap();
            assert_eq!(s, sig(&format!("kat/{m}.rsa2048.sha256.sig")), "{m}");
        }
    }

    #[test]
    fn verifies_openssl_signatures_for_all_four_combinations() {
        let rsa = PublicMaterial::parse(&read("keys/rsa2048.pub.der"), KeyType::Rsa2048).unwrap();
        let ec = PublicMaterial::parse(&read("keys/ec-p256.pub.der"), KeyType::EcdsaP256).unwrap();
        for m in ["canned", "custom"] {
            let msg = read(&format!("kat/{m}.json"));
            for (key, name) in [(&rsa, "rsa2048"), (&ec, "ec-p256")] {
                for (hash, h) in [
                    (HashAlgorithm::Sha1, "sha1"),
                    (HashAlgorithm::Sha256, "sha256"),
                ] {
                    let s = sig(&format!("kat/{m}.{name}.{h}.sig"));
                    assert!(key.verify(hash, &msg, &s), "{m} {name} {h}");
                    let other = if hash == HashAlgorithm::Sha1 {
                        HashAlgorithm::Sha256
                    } else {
                        HashAlgorithm::Sha1
                    };
                    assert!(
                        !key.verify(other, &msg, &s),
                        "{m} {name} {h} must fail with the other hash"
                    );
                }
            }
        }
    }

    #[test]
    fn ecdsa_sha1_trick_verifies_as_real_ecdsa_sha1() {
        let key = PrivateMaterial::parse(&read("keys/ec-p256.sec1.der"), PrivateDer::Ec).unwrap();
        let public =
            PublicMaterial::parse(&read("keys/ec-p256.pub.der"), KeyType::EcdsaP256).unwrap();
        let msg = read("kat/canned.json");
        for _ in 0..16 {
            let s = key.sign(HashAlgorithm::Sha1, &msg).unwrap();
            assert!(public.verify(HashAlgorithm::Sha1, &msg, &s));
            assert!(!public.verify(HashAlgorithm::Sha256, &msg, &s));
        }
    }
}
