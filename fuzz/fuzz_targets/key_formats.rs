//! The key loaders on arbitrary bytes: `PrivateKey::from_bytes` / `from_der` /
//! `from_env_value` and `PublicKey::from_bytes` / `from_der`, which run the DER
//! classifier (`key/der.rs`) on everything they are given before AWS-LC sees it.
//!
//! Byte 0 picks the loader; the rest is the input. Never panics; an accepted key
//! is RSA-2048 or P-256 and round-trips through its public half; a refusal's
//! message stays short (it never echoes the input).

#![no_main]

use cfsign::{KeyType, PrivateKey, PublicKey};
use libfuzzer_sys::fuzz_target;

/// Longest error message a refusal may print.
const MAX_MESSAGE: usize = 1024;

fn check_private(result: Result<PrivateKey, cfsign::KeyError>) {
    match result {
        Ok(key) => {
            let key_type = key.key_type();
            assert!(matches!(key_type, KeyType::Rsa2048 | KeyType::EcdsaP256));
            let public = key.public_key().expect("an accepted private key has a public half");
            assert_eq!(public.key_type(), key_type);
            let again = PublicKey::from_der(public.spki_der()).expect("its SPKI parses again");
            assert_eq!(again.spki_der(), public.spki_der());
        }
        Err(error) => check_message(&error),
    }
}

fn check_public(result: Result<PublicKey, cfsign::KeyError>) {
    match result {
        Ok(key) => {
            assert!(matches!(key.key_type(), KeyType::Rsa2048 | KeyType::EcdsaP256));
            let pem = key.to_pem().expect("an accepted public key has a PEM form");
            let again = PublicKey::from_bytes(pem.as_bytes()).expect("its PEM parses again");
            assert_eq!(again.spki_der(), key.spki_der());
        }
        Err(error) => check_message(&error),
    }
}

fn check_message(error: &cfsign::KeyError) {
    let message = error.to_string();
    assert!(!message.is_empty(), "an error says what is wrong");
    assert!(message.len() <= MAX_MESSAGE, "error message of {} bytes", message.len());
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    match selector % 5 {
        0 => check_private(PrivateKey::from_bytes(input)),
        1 => check_private(PrivateKey::from_der(input)),
        2 => check_private(PrivateKey::from_env_value(&String::from_utf8_lossy(input))),
        3 => check_public(PublicKey::from_bytes(input)),
        _ => check_public(PublicKey::from_der(input)),
    }
});
