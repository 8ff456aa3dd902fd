//! Shared by the moto tests: clients pointed at a moto server, signing helpers.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::Duration;

use cfsign::verify::{KeyGroup, Verifier, ViewerRequest};
use cfsign::{
    HashAlgorithm, KeyPairId, KeyType, Policy, PrivateKey, PublicKey, Resource, SignableUrl, Signer,
};
use cfsign_aws::client::{AwsSettings, Clients};
use cfsign_testkit::moto::{ACCESS_KEY_ID, Moto, REGION, SECRET_ACCESS_KEY};

/// Clients for `moto`, with its dummy credentials (never the environment's).
pub async fn clients(moto: &Moto) -> Clients {
    AwsSettings::default()
        .region(REGION)
        .endpoint_url(moto.endpoint())
        .static_credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
        .load()
        .await
        .unwrap()
}

pub fn key(key_type: KeyType) -> PrivateKey {
    PrivateKey::generate(key_type).unwrap()
}

pub fn public(key: &PrivateKey) -> PublicKey {
    key.public_key().unwrap()
}

/// A URL on `domain` signed by `key` as `id`, valid for an hour (canned policy).
pub fn signed_url(domain: &str, id: &str, key: &PrivateKey, path: &str) -> String {
    let signer = Signer::new(KeyPairId::new(id).unwrap(), key.clone());
    let url = SignableUrl::parse(&format!("https://{domain}{path}")).unwrap();
    let policy = Policy::builder(Resource::Url(url.clone()))
        .expires_in(Duration::from_secs(3600))
        .build()
        .unwrap();
    signer.sign_url(&url, &policy).unwrap().into_string()
}

/// A verifier for a key group as read back from CloudFront: the IDs and PEMs the API returns.
pub fn verifier_from(keys: &[cfsign_aws::keys::KeyInfo]) -> Verifier {
    let mut group = KeyGroup::new("read back");
    for k in keys {
        group = group.with_key(
            KeyPairId::new(&k.id).unwrap(),
            PublicKey::from_pem(&k.pem).unwrap(),
        );
    }
    Verifier::new().with_key_group(group)
}

pub fn allowed(verifier: &Verifier, url: &str) -> bool {
    verifier
        .verify(&ViewerRequest::new(url), jiff::Timestamp::now())
        .is_allowed()
}

pub const SHA256: HashAlgorithm = HashAlgorithm::Sha256;
