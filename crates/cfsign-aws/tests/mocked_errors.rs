//! Error paths moto cannot show, with canned SDK answers (`aws-smithy-mocks`):
//!
//! - `PublicKeyInUse` when deleting a key another group still holds (moto deletes it);
//! - `PreconditionFailed` on `If-Match` (moto 5.2 accepts any ETag; cfsign-testkit's
//!   shim checks it, but a race with another writer cannot be staged there);
//! - KMS `ThrottlingException` (moto never throttles), and the DIGEST path for
//!   policies over 4 KiB (moto's KMS ignores `MessageType=DIGEST`).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use aws_sdk_cloudfront::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudfront::operation::delete_public_key::DeletePublicKeyError;
use aws_sdk_cloudfront::operation::get_key_group::GetKeyGroupOutput;
use aws_sdk_cloudfront::operation::get_public_key::GetPublicKeyOutput;
use aws_sdk_cloudfront::operation::list_key_groups::ListKeyGroupsOutput;
use aws_sdk_cloudfront::operation::list_public_keys::ListPublicKeysOutput;
use aws_sdk_cloudfront::operation::update_key_group::{UpdateKeyGroupError, UpdateKeyGroupOutput};
use aws_sdk_cloudfront::types::error::{PreconditionFailed, PublicKeyInUse};
use aws_sdk_cloudfront::types::{
    KeyGroup, KeyGroupConfig, KeyGroupList, KeyGroupSummary, PublicKeyList, PublicKeySummary,
};
use aws_sdk_kms::operation::get_public_key::GetPublicKeyOutput as KmsGetPublicKeyOutput;
use aws_sdk_kms::operation::sign::{SignError, SignOutput};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use cfsign::{HashAlgorithm, KeyType, PrivateKey, SigningKey as _};
use cfsign_aws::client::Clients;
use cfsign_aws::keys::{self, KeysError, MAX_ETAG_ATTEMPTS};
use cfsign_aws::kms::{KmsError, KmsSigningKey};
use cfsign_aws::plan::{Action, Plan};

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    let mut i = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        i = i.with_rule(r);
    }
    i
}

fn cloudfront(rules: &[&Rule]) -> aws_sdk_cloudfront::Client {
    let conf = aws_sdk_cloudfront::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_cloudfront::Client::from_conf(conf)
}

fn kms(rules: &[&Rule]) -> aws_sdk_kms::Client {
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

fn clients(cf_rules: &[&Rule]) -> Clients {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .http_client(create_mock_http_client())
            .build(),
    );
    Clients::from_parts(cloudfront(cf_rules), s3, kms(&[]), "us-east-1")
}

fn group(items: &[&str]) -> KeyGroup {
    KeyGroup::builder()
        .id("KG1")
        .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
        .key_group_config(
            KeyGroupConfig::builder()
                .name("media")
                .set_items(Some(items.iter().map(|s| (*s).to_owned()).collect()))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn list_groups(items: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_cloudfront::Client::list_key_groups)
        .match_requests(|_| true)
        .then_output(move || {
            ListKeyGroupsOutput::builder()
                .key_group_list(
                    KeyGroupList::builder()
                        .max_items(100)
                        .quantity(1)
                        .items(KeyGroupSummary::builder().key_group(group(items)).build())
                        .build()
                        .unwrap(),
                )
                .build()
        })
}

fn precondition_failed() -> UpdateKeyGroupError {
    UpdateKeyGroupError::PreconditionFailed(
        PreconditionFailed::builder()
            .message("The precondition given in one or more of the request header fields evaluated to false.")
            .meta(ErrorMetadata::builder().code("PreconditionFailed").build())
            .build(),
    )
}

#[tokio::test]
async fn retire_keeps_a_public_key_that_another_group_still_uses() {
    // moto deletes a public key even while a key group holds it; CloudFront answers
    // PublicKeyInUse. The key is then removed from this group and kept, with the reason.
    let list = list_groups(&["K1", "K2"]);
    let get_group = mock!(aws_sdk_cloudfront::Client::get_key_group)
        .match_requests(|_| true)
        .sequence()
        .output(|| {
            GetKeyGroupOutput::builder()
                .key_group(group(&["K1", "K2"]))
                .e_tag("E1")
                .build()
        })
        .repeatedly()
        .build();
    let update = mock!(aws_sdk_cloudfront::Client::update_key_group)
        .match_requests(|r| {
            r.if_match() == Some("E1") && r.key_group_config().is_some_and(|c| c.items() == ["K2"])
        })
        .then_output(|| {
            UpdateKeyGroupOutput::builder()
                .key_group(group(&["K2"]))
                .e_tag("E2")
                .build()
        });
    let get_key = mock!(aws_sdk_cloudfront::Client::get_public_key)
        .match_requests(|_| true)
        .then_output(|| GetPublicKeyOutput::builder().e_tag("PK1").build());
    let delete = mock!(aws_sdk_cloudfront::Client::delete_public_key)
        .match_requests(|r| r.if_match() == Some("PK1"))
        .then_error(|| {
            DeletePublicKeyError::PublicKeyInUse(
                PublicKeyInUse::builder()
                    .message("The specified public key is in use.")
                    .meta(ErrorMetadata::builder().code("PublicKeyInUse").build())
                    .build(),
            )
        });
    let clients = clients(&[&list, &get_group, &update, &get_key, &delete]);
    let retired = keys::retire(&clients, &Plan::apply(), "media", "K1", true)
        .await
        .unwrap();
    assert_eq!(retired.membership, Action::Updated);
    assert_eq!(retired.public_key, Action::Unchanged);
    assert!(
        retired
            .kept_because
            .as_deref()
            .unwrap()
            .contains("another key group"),
        "{retired:?}"
    );
    assert_eq!(retired.remaining_key_ids, ["K2"]);
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn add_rereads_the_group_after_precondition_failed_and_keeps_the_other_writers_key() {
    // Between our read and our update someone else added K3: CloudFront answers
    // PreconditionFailed to our If-Match; we read again and add ours to the new list.
    let new_key = PrivateKey::generate(KeyType::EcdsaP256)
        .unwrap()
        .public_key()
        .unwrap();
    let pem = new_key.to_pem().unwrap();
    let list = list_groups(&["K1"]);
    let list_keys = mock!(aws_sdk_cloudfront::Client::list_public_keys)
        .match_requests(|_| true)
        .then_output(move || {
            ListPublicKeysOutput::builder()
                .public_key_list(
                    PublicKeyList::builder()
                        .max_items(100)
                        .quantity(1)
                        .items(
                            PublicKeySummary::builder()
                                .id("K2")
                                .name("new")
                                .created_time(aws_smithy_types::DateTime::from_secs(0))
                                .encoded_key(pem.clone())
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let get_group = mock!(aws_sdk_cloudfront::Client::get_key_group)
        .match_requests(|_| true)
        .sequence()
        .output(|| {
            GetKeyGroupOutput::builder()
                .key_group(group(&["K1"]))
                .e_tag("E1")
                .build()
        })
        .times(2) // found by name, then read for the update
        .output(|| {
            GetKeyGroupOutput::builder()
                .key_group(group(&["K1", "K3"]))
                .e_tag("E2")
                .build()
        })
        .build();
    let stale = mock!(aws_sdk_cloudfront::Client::update_key_group)
        .match_requests(|r| r.if_match() == Some("E1"))
        .then_error(precondition_failed);
    let fresh = mock!(aws_sdk_cloudfront::Client::update_key_group)
        .match_requests(|r| {
            r.if_match() == Some("E2")
                && r.key_group_config()
                    .is_some_and(|c| c.items() == ["K1", "K3", "K2"])
        })
        .then_output(|| {
            UpdateKeyGroupOutput::builder()
                .key_group(group(&["K1", "K3", "K2"]))
                .e_tag("E3")
                .build()
        });
    let clients = clients(&[&list, &list_keys, &get_group, &stale, &fresh]);
    let added = keys::add(&clients, &Plan::apply(), "media", &new_key, None, None)
        .await
        .unwrap();
    assert_eq!(added.key_id, "K2");
    assert_eq!(added.public_key, Action::Unchanged);
    assert_eq!(added.membership, Action::Updated);
    assert_eq!(added.previous_key_ids, ["K1", "K3"]);
    assert_eq!((stale.num_calls(), fresh.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_group_that_keeps_changing_gives_up_after_bounded_attempts() {
    let list = list_groups(&["K1", "K2"]);
    let get_group = mock!(aws_sdk_cloudfront::Client::get_key_group)
        .match_requests(|_| true)
        .sequence()
        .output(|| {
            GetKeyGroupOutput::builder()
                .key_group(group(&["K1", "K2"]))
                .e_tag("E1")
                .build()
        })
        .repeatedly()
        .build();
    let update = mock!(aws_sdk_cloudfront::Client::update_key_group)
        .match_requests(|_| true)
        .sequence()
        .error(precondition_failed)
        .repeatedly()
        .build();
    let clients = clients(&[&list, &get_group, &update]);
    let err = keys::retire(&clients, &Plan::apply(), "media", "K1", true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, KeysError::EtagRace { attempts, .. } if attempts == MAX_ETAG_ATTEMPTS),
        "{err}"
    );
    assert_eq!(update.num_calls(), MAX_ETAG_ATTEMPTS as usize);
    assert!(err.to_string().contains("try again"), "{err}");
}

fn kms_public_key_rule(key: &PrivateKey) -> Rule {
    let der = key.public_key().unwrap().spki_der().to_vec();
    mock!(aws_sdk_kms::Client::get_public_key)
        .match_requests(|_| true)
        .then_output(move || {
            KmsGetPublicKeyOutput::builder()
                .key_id("arn:aws:kms:us-east-1:111122223333:key/test")
                .public_key(Blob::new(der.clone()))
                .key_spec(KeySpec::EccNistP256)
                .key_usage(KeyUsageType::SignVerify)
                .build()
        })
}

fn throttled() -> SignError {
    SignError::generic(
        ErrorMetadata::builder()
            .code("ThrottlingException")
            .message("Rate exceeded")
            .build(),
    )
}

#[test]
fn kms_sign_retries_throttling_with_backoff() {
    // moto never throttles. Two ThrottlingExceptions, then a signature.
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let get = kms_public_key_rule(&key);
    let sign = mock!(aws_sdk_kms::Client::sign)
        .match_requests(|r| r.message_type() == Some(&MessageType::Raw))
        .sequence()
        .error(throttled)
        .times(2)
        .output(|| {
            SignOutput::builder()
                .signature(Blob::new(vec![0x30, 0x06]))
                .build()
        })
        .build();
    let signer = KmsSigningKey::from_client(kms(&[&get, &sign]), "alias/test").unwrap();
    let signature = signer
        .sign(HashAlgorithm::Sha256, b"{\"Statement\":[]}")
        .unwrap();
    assert_eq!(signature, [0x30, 0x06]);
    assert_eq!(sign.num_calls(), 3);
}

#[test]
fn kms_does_not_retry_other_errors_and_names_the_key() {
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let get = kms_public_key_rule(&key);
    let sign = mock!(aws_sdk_kms::Client::sign)
        .match_requests(|_| true)
        .then_error(|| {
            SignError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not allowed")
                    .build(),
            )
        });
    let signer = KmsSigningKey::from_client(kms(&[&get, &sign]), "alias/test").unwrap();
    let err = signer.sign(HashAlgorithm::Sha256, b"policy").unwrap_err();
    assert_eq!(sign.num_calls(), 1);
    let text = err.to_string();
    assert!(
        text.contains("AccessDeniedException") && text.contains("kms:Sign"),
        "{text}"
    );
    assert!(text.contains("IAM"), "{text}");
}

#[test]
fn kms_signs_long_policies_as_a_digest() {
    // KMS takes at most 4096 bytes RAW; longer policies are hashed here (moto ignores DIGEST).
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let get = kms_public_key_rule(&key);
    let long = vec![b'a'; 5000];
    let expected = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &long)
        .as_ref()
        .to_vec();
    // Only this exact request is answered: DIGEST, and the message is SHA-256(policy).
    let sign = mock!(aws_sdk_kms::Client::sign)
        .match_requests(move |r| {
            r.message_type() == Some(&MessageType::Digest)
                && r.message()
                    .is_some_and(|m| m.as_ref() == expected.as_slice())
        })
        .then_output(|| SignOutput::builder().signature(Blob::new(vec![1])).build());
    let signer = KmsSigningKey::from_client(kms(&[&get, &sign]), "alias/test").unwrap();
    assert_eq!(signer.sign(HashAlgorithm::Sha256, &long).unwrap(), [1]);
    assert_eq!(sign.num_calls(), 1);
    // A different long policy has another digest: the rule does not match it.
    let other = vec![b'b'; 5000];
    assert!(signer.sign(HashAlgorithm::Sha256, &other).is_err());
    assert_eq!(sign.num_calls(), 1);
}

#[test]
fn kms_explains_a_symmetric_key_as_real_kms_refuses_it() {
    // Real KMS answers GetPublicKey on a symmetric key with UnsupportedOperationException
    // (moto instead returns the key and its ENCRYPT_DECRYPT usage: see kms_moto.rs).
    let get = mock!(aws_sdk_kms::Client::get_public_key)
        .match_requests(|_| true)
        .then_error(|| {
            aws_sdk_kms::operation::get_public_key::GetPublicKeyError::generic(
                ErrorMetadata::builder()
                    .code("UnsupportedOperationException")
                    .message("GetPublicKey is not supported for symmetric keys")
                    .build(),
            )
        });
    let err = KmsSigningKey::from_client(kms(&[&get]), "alias/symmetric").unwrap_err();
    assert!(
        matches!(&err, KmsError::Api { error, .. } if error.is("UnsupportedOperationException")),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("alias/symmetric"), "{text}");
    assert!(text.contains("--key-usage SIGN_VERIFY"), "{text}");
}

#[tokio::test]
async fn a_key_group_answer_without_an_etag_stops_before_any_update() {
    let list = list_groups(&["K1", "K2"]);
    let get_group = mock!(aws_sdk_cloudfront::Client::get_key_group)
        .match_requests(|_| true)
        .then_output(|| {
            GetKeyGroupOutput::builder()
                .key_group(group(&["K1", "K2"]))
                .build()
        });
    let update = mock!(aws_sdk_cloudfront::Client::update_key_group)
        .match_requests(|_| true)
        .then_output(|| UpdateKeyGroupOutput::builder().e_tag("E2").build());
    let clients = clients(&[&list, &get_group, &update]);
    let err = keys::retire(&clients, &Plan::apply(), "media", "K1", true)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KeysError::IncompleteAnswer(a) if a.field == "ETag" && a.call == "cloudfront:GetKeyGroup"),
        "{err}"
    );
    assert_eq!(update.num_calls(), 0, "no update with an empty If-Match");
    assert!(err.to_string().contains("key group KG1"), "{err}");
}

#[tokio::test]
async fn setup_names_the_region_of_a_bucket_elsewhere() {
    // S3 answers HeadBucket for a bucket in another region with 301 and x-amz-bucket-region.
    let head = mock!(aws_sdk_s3::Client::head_bucket)
        .match_requests(|_| true)
        .then_http_response(|| {
            let mut response = aws_sdk_s3::config::http::HttpResponse::new(
                301.try_into().unwrap(),
                aws_smithy_types::body::SdkBody::empty(),
            );
            response
                .headers_mut()
                .insert("x-amz-bucket-region", "eu-west-1");
            response
        });
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor(&[&head]))
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let clients = Clients::from_parts(cloudfront(&[]), s3, kms(&[]), "us-east-1");
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let options = cfsign_aws::setup::SetupOptions::new("far-media", key.public_key().unwrap());
    let err = cfsign_aws::setup::run(&clients, &Plan::apply(), &options)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, cfsign_aws::setup::SetupError::BucketInOtherRegion { region: Some(r), .. } if r == "eu-west-1"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "bucket far-media is in eu-west-1; pass --region eu-west-1"
    );
}
