//! RSASSA-PKCS1-v1_5 signing with **SHA-1**, through AWS-LC's C API.
//!
//! CloudFront's default signature is RSA PKCS#1 v1.5 over SHA-1. Neither
//! `aws-lc-rs` nor `ring` exposes that signing operation (only verification), so
//! this module calls `RSA_sign(NID_sha1, …)` in the very AWS-LC build that
//! `aws-lc-rs` links (`aws-lc-sys`), which keeps one crypto library in the
//! binary and does not depend on the system OpenSSL — whose crypto policy
//! disables SHA-1 signatures on RHEL 9, Fedora 41+ and FIPS hosts.
//!
//! This is the crate's only `unsafe` code. Invariants:
//! - [`RsaSha1Key`] owns exactly one reference to a non-null `RSA*` obtained from
//!   `EVP_PKEY_get1_RSA` and releases it once, in `Drop`.
//! - `RSA_sign` is called with a 20-byte digest and an output buffer of
//!   `RSA_size(rsa)` bytes, as its contract requires.
//! - AWS-LC's `RSA` objects are safe to use for signing from several threads at
//!   once (blinding state is guarded by the object's internal lock; `aws-lc-rs`
//!   relies on the same property for its `Send + Sync` `RsaKeyPair`), hence the
//!   `Send`/`Sync` impls.
//!
//! Known-answer tests below check the output against OpenSSL CLI signatures.
#![allow(unsafe_code)]

use std::ptr::NonNull;

use aws_lc_sys::{
    CBS, CBS_init, CBS_len, EVP_PKEY_free, EVP_PKEY_get1_RSA, EVP_parse_private_key, NID_sha1, RSA,
    RSA_free, RSA_sign, RSA_size,
};

/// An RSA private key ready for SHA-1 PKCS#1 v1.5 signing.
pub(crate) struct RsaSha1Key {
    rsa: NonNull<RSA>,
}

// SAFETY: see the module documentation; AWS-LC RSA keys may be shared across
// threads for signing.
unsafe impl Send for RsaSha1Key {}
// SAFETY: as above.
unsafe impl Sync for RsaSha1Key {}

impl RsaSha1Key {
    /// Parses a PKCS#8 `PrivateKeyInfo` holding an RSA key. Returns `None` if the
    /// bytes are not exactly one such structure.
    pub(crate) fn from_pkcs8_der(der: &[u8]) -> Option<Self> {
        // SAFETY: `cbs` points into `der`, which outlives every use of `cbs`.
        // `EVP_parse_private_key` returns an owned EVP_PKEY or null; we free it after
        // taking our own reference to its RSA with `EVP_PKEY_get1_RSA`.
        unsafe {
            let mut cbs = std::mem::MaybeUninit::<CBS>::uninit();
            CBS_init(cbs.as_mut_ptr(), der.as_ptr(), der.len());
            let mut cbs = cbs.assume_init();
            let pkey = EVP_parse_private_key(&mut cbs);
            if pkey.is_null() {
                return None;
            }
            let trailing = CBS_len(&cbs) != 0;
            let rsa = EVP_PKEY_get1_RSA(pkey);
            EVP_PKEY_free(pkey);
            let rsa = NonNull::new(rsa)?;
            let key = Self { rsa };
            if trailing {
                return None; // `key` is dropped, releasing the reference
            }
            Some(key)
        }
    }

    /// Signature length in bytes (the modulus size).
    pub(crate) fn len(&self) -> usize {
        // SAFETY: `self.rsa` is a valid RSA key for the lifetime of `self`.
        unsafe { RSA_size(self.rsa.as_ptr()) as usize }
    }

    /// Signs `message`: SHA-1, DigestInfo, PKCS#1 v1.5 padding, RSA private operation.
    pub(crate) fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, message);
        let digest = digest.as_ref();
        let mut out = vec![0u8; self.len()];
        let mut out_len: std::os::raw::c_uint = 0;
        // SAFETY: `digest` is 20 readable bytes; `out` has RSA_size writable bytes;
        // `out_len` is a valid pointer; `self.rsa` is valid (see module docs on threads).
        let ok = unsafe {
            RSA_sign(
                NID_sha1,
                digest.as_ptr(),
                digest.len(),
                out.as_mut_ptr(),
                &mut out_len,
                self.rsa.as_ptr(),
            )
        };
        if ok != 1 {
            return None;
        }
        out.truncate(out_len as usize);
        Some(out)
    }
}

impl Drop for RsaSha1Key {
    fn drop(&mut self) {
        // SAFETY: we own one reference, released exactly once.
        unsafe { RSA_free(self.rsa.as_ptr()) }
    }
}

impl std::fmt::Debug for RsaSha1Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaSha1Key")
            .field("bits", &(self.len() * 8))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudfront_base64;

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(format!("{DATA}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn matches_openssl_known_answers() {
        let key = RsaSha1Key::from_pkcs8_der(&read("keys/rsa2048.pkcs8.der")).expect("key parses");
        assert_eq!(key.len(), 256);
        for message in ["canned", "custom"] {
            let msg = read(&format!("kat/{message}.json"));
            let expected =
                String::from_utf8(read(&format!("kat/{message}.rsa2048.sha1.sig"))).unwrap();
            let sig = key.sign(&msg).expect("signs");
            assert_eq!(cloudfront_base64::encode(&sig), expected, "{message}");
        }
    }

    #[test]
    fn matches_ruby_sdk_vector_with_a_1024_bit_key() {
        // The low-level operation is size-agnostic; PrivateKey refuses non-2048 keys.
        let pem = pem::parse(read("kat/ruby-sdk-dummy-1024.pem")).unwrap();
        let pair = aws_lc_rs::rsa::KeyPair::from_der(pem.contents());
        // aws-lc-rs refuses 1024-bit keys, so wrap PKCS#1 into PKCS#8 by hand.
        assert!(pair.is_err());
        let pkcs8 = crate::key::der::wrap_rsa_pkcs1_in_pkcs8(pem.contents());
        let key = RsaSha1Key::from_pkcs8_der(&pkcs8).expect("key parses");
        let sig = key.sign(&read("kat/ruby-canned.json")).unwrap();
        let expected = String::from_utf8(read("kat/ruby-canned.sha1.sig")).unwrap();
        assert_eq!(cloudfront_base64::encode(&sig), expected);
        assert!(expected.starts_with(
            "GvrDx3aAG1u1sAQF68c~xD6LVORt36mRTvC2u5RwLjsvusXI0sJPxy3D0R8AQp4qFZlRehwh~mabl"
        ));
    }

    #[test]
    fn rejects_non_rsa_and_trailing_bytes() {
        assert!(RsaSha1Key::from_pkcs8_der(&read("keys/ec-p256.pkcs8.der")).is_none());
        let mut der = read("keys/rsa2048.pkcs8.der");
        der.push(0);
        assert!(RsaSha1Key::from_pkcs8_der(&der).is_none());
        assert!(RsaSha1Key::from_pkcs8_der(b"").is_none());
    }
}
