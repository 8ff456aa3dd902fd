//! KMS signing against a real moto server: moto's KMS really signs, so URLs and
//! cookies signed through `KmsSigningKey` are verified with the public key that
//! `GetPublicKey` returns, by cfsign's verifier.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::time::Duration;

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use cfsign::verify::{Verifier, ViewerRequest};
use cfsign::{
    HashAlgorithm, KeyPairId, KeyType, Policy, PublicKey, Resource, SignError, SignableUrl, Signer,
};
use cfsign_aws::kms::{KmsError, KmsSigningKey};
use cfsign_testkit::moto::Moto;
use common::clients;
use rayon::prelude::*;

async fn create_key(kms: &aws_sdk_kms::Client, spec: KeySpec, usage: KeyUsageType) -> String {
    kms.create_key()
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned()
}

async fn public_key(kms: &aws_sdk_kms::Client, id: &str) -> PublicKey {
    let out = kms.get_public_key().key_id(id).send().await.unwrap();
    PublicKey::from_der(out.public_key().unwrap().as_ref()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_signs_urls_and_cookies_that_verify_with_the_kms_public_key() {
    let moto = Moto::start();
    let clients = clients(&moto).await;
    for (spec, key_type) in [
        (KeySpec::Rsa2048, KeyType::Rsa2048),
        (KeySpec::EccNistP256, KeyType::EcdsaP256),
    ] {
        let id = create_key(&clients.kms, spec.clone(), KeyUsageType::SignVerify).await;
        let key = KmsSigningKey::from_client(clients.kms.clone(), &id).unwrap();
        assert_eq!(cfsign::SigningKey::key_type(&key), key_type);
        let public = public_key(&clients.kms, &id).await;
        assert_eq!(key.public_key().spki_der(), public.spki_der());
        assert!(
            key.public_key_pem()
                .unwrap()
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );

        let kid = KeyPairId::new("K2JCJMDEHXQW5F").unwrap();
        // KMS has no SHA-1: the signer refuses it up front.
        let err = Signer::new(kid.clone(), key.clone())
            .with_hash_algorithm(HashAlgorithm::Sha1)
            .unwrap_err();
        assert!(matches!(err, SignError::UnsupportedHash { .. }), "{err}");
        let signer = Signer::new(kid.clone(), key.clone())
            .with_hash_algorithm(HashAlgorithm::Sha256)
            .unwrap();
        let verifier = Verifier::new().with_key(kid.clone(), public);
        let now = jiff::Timestamp::now();

        let url =
            SignableUrl::parse("https://d111111abcdef8.cloudfront.net/kms/report.pdf").unwrap();
        let policy = Policy::builder(Resource::Url(url.clone()))
            .expires_in(Duration::from_secs(600))
            .build()
            .unwrap();
        let signed = signer.sign_url(&url, &policy).unwrap();
        assert!(signed.as_str().ends_with("&Hash-Algorithm=SHA256"));
        let decision = verifier.verify(&ViewerRequest::new(signed.as_str()), now);
        assert!(decision.is_allowed(), "{spec:?} URL: {decision:?}");

        let pattern = Policy::builder(
            Resource::pattern("https://d111111abcdef8.cloudfront.net/kms/*").unwrap(),
        )
        .expires_in(Duration::from_secs(600))
        .build()
        .unwrap();
        let cookies = signer.sign_cookies(&pattern).unwrap();
        let header = cookies.cookie_header();
        let request = ViewerRequest::new("https://d111111abcdef8.cloudfront.net/kms/a.jpg")
            .cookie_header(&header);
        let decision = verifier.verify(&request, now);
        assert!(decision.is_allowed(), "{spec:?} cookies: {decision:?}");

        // A tampered URL is denied: the verifier really checks the KMS signature.
        let tampered = signed.as_str().replace("report.pdf", "other.pdf");
        assert!(
            !verifier
                .verify(&ViewerRequest::new(&tampered), now)
                .is_allowed()
        );

        // From rayon threads, and from inside this tokio runtime: no panic, all verify.
        let urls: Vec<String> = (0..16)
            .into_par_iter()
            .map(|n| {
                let u = SignableUrl::parse(&format!(
                    "https://d111111abcdef8.cloudfront.net/kms/{n}.ts"
                ))
                .unwrap();
                let p = Policy::builder(Resource::Url(u.clone()))
                    .expires_in(Duration::from_secs(600))
                    .build()
                    .unwrap();
                signer.sign_url(&u, &p).unwrap().into_string()
            })
            .collect();
        for u in &urls {
            assert!(verifier.verify(&ViewerRequest::new(u), now).is_allowed());
        }
    }
}

#[test]
fn kms_key_works_from_a_current_thread_runtime_and_is_dropped_inside_it() {
    let moto = Moto::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let clients = clients(&moto).await;
        let id = create_key(&clients.kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
        // Constructed, used and dropped inside a single-threaded runtime.
        let key = KmsSigningKey::from_client(clients.kms.clone(), &id).unwrap();
        let sig = cfsign::SigningKey::sign(&key, HashAlgorithm::Sha256, b"policy").unwrap();
        assert!(
            key.public_key()
                .verify(HashAlgorithm::Sha256, b"policy", &sig)
        );
        let err = cfsign::SigningKey::sign(&key, HashAlgorithm::Sha1, b"policy").unwrap_err();
        assert!(err.to_string().contains("SHA-1"), "{err}");
        drop(key);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_refuses_keys_cloudfront_cannot_use() {
    let moto = Moto::start();
    let clients = clients(&moto).await;
    let p384 = create_key(&clients.kms, KeySpec::EccNistP384, KeyUsageType::SignVerify).await;
    let err = KmsSigningKey::from_client(clients.kms.clone(), &p384).unwrap_err();
    assert!(matches!(err, KmsError::UnsupportedKeySpec { .. }), "{err}");
    assert!(err.to_string().contains("ECC_NIST_P384") && err.to_string().contains("RSA_2048"));

    let encrypt = create_key(
        &clients.kms,
        KeySpec::SymmetricDefault,
        KeyUsageType::EncryptDecrypt,
    )
    .await;
    let err = KmsSigningKey::from_client(clients.kms.clone(), &encrypt).unwrap_err();
    // moto answers GetPublicKey for a symmetric key with the key and its usage
    // ENCRYPT_DECRYPT, which cfsign refuses itself. Real KMS refuses the call with
    // UnsupportedOperationException instead (KmsError::Api): mocked_errors.rs covers that.
    assert!(
        matches!(&err, KmsError::NotSigningKey { usage, .. } if usage == "ENCRYPT_DECRYPT"),
        "{err}"
    );

    let err = KmsSigningKey::from_client(clients.kms.clone(), "alias/does-not-exist").unwrap_err();
    assert!(matches!(err, KmsError::Api { .. }), "{err}");
    assert!(err.to_string().contains("kms:GetPublicKey"), "{err}");
}
