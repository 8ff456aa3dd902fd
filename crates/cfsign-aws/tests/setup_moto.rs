//! `setup`, `keys` and `doctor` against a real moto server (started per test by
//! cfsign-testkit, with its CloudFront additions: see `cfsign_testkit::moto`).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use cfsign::KeyType;
use cfsign_aws::doctor::{self, DoctorOptions, Severity};
use cfsign_aws::keys::{self, KeysError};
use cfsign_aws::plan::{Action, Plan};
use cfsign_aws::setup::{self, SetupOptions};
use cfsign_testkit::moto::Moto;
use common::*;
use serde_json::Value;

fn options(bucket: &str, key: &cfsign::PrivateKey) -> SetupOptions {
    let mut o = SetupOptions::new(bucket, public(key));
    o.create_bucket = true;
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_twice_second_run_changes_nothing_and_the_policy_grants_exactly_the_distribution() {
    let moto = Moto::start();
    let clients = clients(&moto).await;
    let key = key(KeyType::EcdsaP256);

    let first_plan = Plan::apply();
    let first = setup::run(&clients, &first_plan, &options("media-one", &key))
        .await
        .unwrap();
    let actions: Vec<(&str, Action)> = first.resources.iter().map(|r| (r.kind, r.action)).collect();
    assert_eq!(
        actions,
        [
            ("bucket", Action::Created),
            ("public access block", Action::Created),
            ("origin access control", Action::Created),
            ("public key", Action::Created),
            ("key group", Action::Created),
            ("distribution", Action::Created),
            ("bucket policy", Action::Created),
        ]
    );
    assert!(first.domain.ends_with(".cloudfront.net"), "{first:?}");

    let second_plan = Plan::apply();
    let second = setup::run(&clients, &second_plan, &options("media-one", &key))
        .await
        .unwrap();
    assert!(second.unchanged(), "{:?}", second.resources);
    assert!(
        second_plan.changes().is_empty(),
        "the second run made changes: {:?}",
        second_plan.changes()
    );
    assert!(!second_plan.calls().is_empty());
    assert_eq!(second.distribution_id, first.distribution_id);
    assert_eq!(second.key_pair_id, first.key_pair_id);

    // Read back: the bucket policy grants exactly this distribution, nothing else.
    let policy = clients
        .s3
        .get_bucket_policy()
        .bucket("media-one")
        .send()
        .await
        .unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{policy}");
    let s = &statements[0];
    assert_eq!(s["Effect"], "Allow");
    assert_eq!(s["Principal"]["Service"], "cloudfront.amazonaws.com");
    assert_eq!(s["Action"], "s3:GetObject");
    assert_eq!(s["Resource"], "arn:aws:s3:::media-one/*");
    assert_eq!(
        s["Condition"]["StringEquals"]["AWS:SourceArn"],
        first.distribution_arn.as_str()
    );

    // All four public-access-block flags.
    let pab = clients
        .s3
        .get_public_access_block()
        .bucket("media-one")
        .send()
        .await
        .unwrap();
    let c = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );

    // The distribution as read back: key group trusted, HTTPS only, origin through the OAC.
    let config = clients
        .cloudfront
        .get_distribution_config()
        .id(&first.distribution_id)
        .send()
        .await
        .unwrap();
    let config = config.distribution_config().unwrap();
    let behavior = config.default_cache_behavior.as_ref().unwrap();
    let groups = behavior.trusted_key_groups.as_ref().unwrap();
    assert!(groups.enabled);
    assert_eq!(
        groups.items.as_deref(),
        Some(std::slice::from_ref(&first.key_group_id))
    );
    assert_eq!(behavior.viewer_protocol_policy.as_str(), "https-only");
    let origin = &config.origins.as_ref().unwrap().items[0];
    assert_eq!(origin.domain_name, "media-one.s3.us-east-1.amazonaws.com");
    assert_eq!(
        origin.origin_access_control_id.as_deref(),
        Some(first.origin_access_control_id.as_str())
    );
    let tags = clients
        .cloudfront
        .list_tags_for_resource()
        .resource(&first.distribution_arn)
        .send()
        .await
        .unwrap();
    let tags = tags.tags().unwrap().items();
    assert!(
        tags.iter()
            .any(|t| t.key() == setup::BUCKET_TAG && t.value() == Some("media-one"))
    );

    // The doctor finds nothing wrong: IPv6 is only an info note without an IP-restricted URL.
    let report = doctor::run(
        &clients,
        &Plan::apply(),
        &DoctorOptions::new(&first.distribution_id),
    )
    .await
    .unwrap();
    let findings: Vec<(&str, Severity)> = report
        .findings
        .iter()
        .map(|f| (f.code, f.severity))
        .collect();
    assert_eq!(
        findings,
        [("ipv6-enabled", Severity::Info)],
        "{:#?}",
        report.findings
    );
}

async fn viewer_protocol(clients: &cfsign_aws::client::Clients, id: &str) -> String {
    let config = clients
        .cloudfront
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .unwrap();
    let config = config.distribution_config().unwrap();
    let behavior = config.default_cache_behavior.as_ref().unwrap();
    behavior.viewer_protocol_policy.as_str().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_rerun_keeps_redirect_to_https_until_https_only_is_asked_for() {
    let moto = Moto::start();
    let clients = clients(&moto).await;
    let key = key(KeyType::EcdsaP256);

    let mut redirect = options("media-redirect", &key);
    redirect.viewer_protocol = Some(setup::ViewerProtocol::RedirectToHttps);
    let first = setup::run(&clients, &Plan::apply(), &redirect)
        .await
        .unwrap();
    let id = first.distribution_id.clone();
    assert_eq!(viewer_protocol(&clients, &id).await, "redirect-to-https");

    // A plain re-run (no protocol flag) leaves the policy as it is.
    let plain_plan = Plan::apply();
    let plain = setup::run(&clients, &plain_plan, &options("media-redirect", &key))
        .await
        .unwrap();
    assert!(plain.unchanged(), "{:?}", plain.resources);
    assert!(
        plain_plan.changes().is_empty(),
        "{:?}",
        plain_plan.changes()
    );
    assert_eq!(viewer_protocol(&clients, &id).await, "redirect-to-https");

    // Asking for https-only switches it back.
    let mut https = options("media-redirect", &key);
    https.viewer_protocol = Some(setup::ViewerProtocol::HttpsOnly);
    let back = setup::run(&clients, &Plan::apply(), &https).await.unwrap();
    let distribution = back
        .resources
        .iter()
        .find(|r| r.kind == "distribution")
        .unwrap();
    assert_eq!(distribution.action, Action::Updated);
    assert_eq!(viewer_protocol(&clients, &id).await, "https-only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_keeps_other_bucket_policy_statements_and_fixes_a_drifted_distribution() {
    let moto = Moto::start();
    let clients = clients(&moto).await;
    clients
        .s3
        .create_bucket()
        .bucket("media-two")
        .send()
        .await
        .unwrap();
    let other = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Logs","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::media-two/logs/*"}]}"#;
    clients
        .s3
        .put_bucket_policy()
        .bucket("media-two")
        .policy(other)
        .send()
        .await
        .unwrap();
    let key = key(KeyType::Rsa2048);
    let mut o = SetupOptions::new("media-two", public(&key));
    o.create_bucket = false;
    let first = setup::run(&clients, &Plan::apply(), &o).await.unwrap();
    assert_eq!(
        first.resources[0].action,
        Action::Unchanged,
        "the bucket existed"
    );
    assert_eq!(first.resources[6].action, Action::Updated, "policy merged");
    let policy = clients
        .s3
        .get_bucket_policy()
        .bucket("media-two")
        .send()
        .await
        .unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, ["Logs", setup::POLICY_SID]);

    // Someone switches the behavior to allow-all: a run asking for https-only (the CLI's
    // --https-only; a plain run keeps the policy as it is) puts back only that.
    let out = clients
        .cloudfront
        .get_distribution_config()
        .id(&first.distribution_id)
        .send()
        .await
        .unwrap();
    let mut config = out.distribution_config().unwrap().clone();
    config
        .default_cache_behavior
        .as_mut()
        .unwrap()
        .viewer_protocol_policy = aws_sdk_cloudfront::types::ViewerProtocolPolicy::AllowAll;
    clients
        .cloudfront
        .update_distribution()
        .id(&first.distribution_id)
        .if_match(out.e_tag().unwrap())
        .distribution_config(config)
        .send()
        .await
        .unwrap();
    let mut https_only = o.clone();
    https_only.viewer_protocol = Some(setup::ViewerProtocol::HttpsOnly);
    let plan = Plan::apply();
    let again = setup::run(&clients, &plan, &https_only).await.unwrap();
    let changed: Vec<(&str, Action)> = again
        .resources
        .iter()
        .filter(|r| r.action != Action::Unchanged)
        .map(|r| (r.kind, r.action))
        .collect();
    assert_eq!(changed, [("distribution", Action::Updated)]);
    let calls: Vec<String> = plan.changes().iter().map(ToString::to_string).collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].starts_with("cloudfront:UpdateDistribution")
            && calls[0].contains("Changes=DefaultCacheBehavior.ViewerProtocolPolicy"),
        "{calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_lists_the_calls_and_changes_nothing() {
    let moto = Moto::start();
    let clients = clients(&moto).await;
    let key = key(KeyType::EcdsaP256);
    let plan = Plan::dry_run();
    let report = setup::run(&clients, &plan, &options("media-dry", &key))
        .await
        .unwrap();
    assert!(report.resources.iter().all(|r| r.action == Action::Created));
    let names: Vec<String> = plan.changes().into_iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "s3:CreateBucket",
            "s3:PutPublicAccessBlock",
            "cloudfront:CreateOriginAccessControl",
            "cloudfront:CreatePublicKey",
            "cloudfront:CreateKeyGroup",
            "cloudfront:CreateDistributionWithTags",
            "s3:PutBucketPolicy",
        ]
    );
    // Read back: nothing exists.
    let buckets = clients.s3.list_buckets().send().await.unwrap();
    assert!(buckets.buckets().is_empty());
    let dists = clients
        .cloudfront
        .list_distributions()
        .send()
        .await
        .unwrap();
    assert!(
        dists
            .distribution_list()
            .is_none_or(|l| l.items().is_empty())
    );
    let groups = clients.cloudfront.list_key_groups().send().await.unwrap();
    assert!(groups.key_group_list().is_none_or(|l| l.items().is_empty()));
    let pks = clients.cloudfront.list_public_keys().send().await.unwrap();
    assert!(pks.public_key_list().is_none_or(|l| l.items().is_empty()));
    let oacs = clients
        .cloudfront
        .list_origin_access_controls()
        .send()
        .await
        .unwrap();
    assert!(
        oacs.origin_access_control_list()
            .is_none_or(|l| l.items().is_empty())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_end_to_end_old_urls_verify_during_the_overlap_and_stop_after_retire() {
    let moto = Moto::start();
    let clients = clients(&moto).await;
    let old_key = key(KeyType::Rsa2048);
    let report = setup::run(&clients, &Plan::apply(), &options("media-rot", &old_key))
        .await
        .unwrap();
    let group = setup::SetupOptions::new("media-rot", public(&old_key)).key_group_name();
    let old_id = report.key_pair_id.clone();
    let old_url = signed_url(&report.domain, &old_id, &old_key, "/v/old.mp4");

    // Rotate: the new key joins the group, the old one stays.
    let new_key = key(KeyType::EcdsaP256);
    let added = keys::add(
        &clients,
        &Plan::apply(),
        &group,
        &public(&new_key),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(added.public_key, Action::Created);
    assert_eq!(added.membership, Action::Updated);
    assert_eq!(added.previous_key_ids, std::slice::from_ref(&old_id));
    let new_url = signed_url(&report.domain, &added.key_id, &new_key, "/v/new.mp4");

    // Rotating again with the same key changes nothing.
    let again_plan = Plan::apply();
    let again = keys::add(&clients, &again_plan, &group, &public(&new_key), None, None)
        .await
        .unwrap();
    assert_eq!(
        (again.public_key, again.membership),
        (Action::Unchanged, Action::Unchanged)
    );
    assert!(again_plan.changes().is_empty());

    // During the overlap: both verify against the group read back from the API.
    let (_, read_back) = keys::list(&clients, &Plan::apply(), &group).await.unwrap();
    assert_eq!(read_back.len(), 2);
    assert!(
        read_back
            .iter()
            .all(|k| k.fingerprint.starts_with("sha256:"))
    );
    let verifier = verifier_from(&read_back);
    assert!(allowed(&verifier, &old_url), "old URL during the overlap");
    assert!(allowed(&verifier, &new_url), "new URL");

    // Retire the old key: removed from the group and deleted.
    let retired = keys::retire(&clients, &Plan::apply(), &group, &old_id, true)
        .await
        .unwrap();
    assert_eq!(retired.membership, Action::Updated);
    assert_eq!(retired.public_key, Action::Deleted);
    assert_eq!(
        retired.remaining_key_ids,
        std::slice::from_ref(&added.key_id)
    );
    let (_, read_back) = keys::list(&clients, &Plan::apply(), &group).await.unwrap();
    let verifier = verifier_from(&read_back);
    assert!(!allowed(&verifier, &old_url), "old URL after retirement");
    assert!(allowed(&verifier, &new_url), "new URL after retirement");
    let pks = clients.cloudfront.list_public_keys().send().await.unwrap();
    assert!(
        !pks.public_key_list()
            .unwrap()
            .items()
            .iter()
            .any(|k| k.id() == old_id)
    );

    // The last key of a group the distribution uses cannot be retired.
    let err = keys::retire(&clients, &Plan::apply(), &group, &added.key_id, true)
        .await
        .unwrap_err();
    match &err {
        KeysError::LastKeyInUse { distributions, .. } => {
            assert_eq!(distributions, std::slice::from_ref(&report.distribution_id));
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("last key"), "{err}");
}

/// A distribution made by hand (boto3) the way a console session goes wrong: no
/// key group on the behavior, no bucket policy.
const BROKEN: &str = r#"
import boto3, os, json
kw = dict(endpoint_url=os.environ["MOTO_ENDPOINT"])
s3 = boto3.client("s3", **kw); cf = boto3.client("cloudfront", **kw)
s3.create_bucket(Bucket="broken-media")
oac = cf.create_origin_access_control(OriginAccessControlConfig={"Name": "hand-made", "SigningProtocol": "sigv4",
    "SigningBehavior": "always", "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]
d = cf.create_distribution(DistributionConfig={"CallerReference": "by-hand", "Comment": "", "Enabled": True,
    "Origins": {"Quantity": 2, "Items": [
        {"Id": "s3", "DomainName": "broken-media.s3.us-east-1.amazonaws.com",
         "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": oac},
        {"Id": "public", "DomainName": "other-bucket.s3.us-east-1.amazonaws.com",
         "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
    "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all",
        "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})
print(d["Distribution"]["Id"])
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_a_broken_distribution_with_fixes() {
    let moto = Moto::start();
    let clients = clients(&moto).await;
    let id = moto.python(BROKEN, b"").trim().to_owned();
    let report = doctor::run(&clients, &Plan::apply(), &DoctorOptions::new(&id))
        .await
        .unwrap();
    assert!(report.has_errors());
    let codes: Vec<(&str, Severity)> = report
        .findings
        .iter()
        .map(|f| (f.code, f.severity))
        .collect();
    for expected in [
        ("behavior-unrestricted", Severity::Error),
        ("bucket-policy-missing", Severity::Error),
        ("s3-origin-without-oac", Severity::Error),
        ("viewer-http-allowed", Severity::Warning),
        ("ipv6-enabled", Severity::Info),
    ] {
        assert!(
            codes.contains(&expected),
            "{expected:?} missing from {codes:?}"
        );
    }
    assert!(report.findings.iter().all(|f| !f.fix.is_empty()));
    let policy_fix = &report
        .findings
        .iter()
        .find(|f| f.code == "bucket-policy-missing")
        .unwrap()
        .fix;
    assert!(policy_fix.contains("AWS:SourceArn"), "{policy_fix}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_a_url_names_an_untrusted_key_and_a_cloudfront_denial() {
    let moto = Moto::start();
    let clients = clients(&moto).await;
    let key = key(KeyType::EcdsaP256);
    let report = setup::run(&clients, &Plan::apply(), &options("media-url", &key))
        .await
        .unwrap();

    // Signed with the right key: allowed by the verifier with the keys read back.
    let good = signed_url(&report.domain, &report.key_pair_id, &key, "/a.jpg");
    let mut o = DoctorOptions::new(&report.distribution_id).url(&good);
    o.fetch = false;
    let r = doctor::run(&clients, &Plan::apply(), &o).await.unwrap();
    assert_eq!(r.matched_behavior.as_deref(), Some("*"));
    assert_eq!(r.url_verdict.as_deref(), Some("allowed"));
    assert!(!r.has_errors(), "{:#?}", r.findings);

    // Signed with a key CloudFront does not know.
    let stranger = common::key(KeyType::EcdsaP256);
    let bad = signed_url(&report.domain, "K2JCJMDEHXQW5F", &stranger, "/a.jpg");
    let mut o = DoctorOptions::new(&report.distribution_id).url(&bad);
    o.fetch = false;
    let r = doctor::run(&clients, &Plan::apply(), &o).await.unwrap();
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "key-not-trusted" && f.severity == Severity::Error),
        "{:#?}",
        r.findings
    );

    // Fetching: a local server answering like CloudFront's edge, or (for /s3/...)
    // like S3 behind it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let from_s3 = buf[..n].starts_with(b"GET /s3/");
            let (server, extra, message) = if from_s3 {
                (
                    "AmazonS3",
                    "x-amz-request-id: 4442587FB7D0A2F9\r\nX-Cache: Error from cloudfront\r\n",
                    "Access Denied",
                )
            } else {
                (
                    "CloudFront",
                    "X-Cache: Error from cloudfront\r\n",
                    "Access denied",
                )
            };
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>{message}</Message></Error>"
            );
            let head = format!(
                "HTTP/1.1 403 Forbidden\r\nServer: {server}\r\n{extra}Content-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(body.as_bytes()).await;
        }
    });
    let o =
        DoctorOptions::new(&report.distribution_id).url(format!("http://127.0.0.1:{port}/a.jpg"));
    let r = doctor::run(&clients, &Plan::apply(), &o).await.unwrap();
    let fetch = r.fetch.clone().unwrap();
    assert_eq!((fetch.status, fetch.denied_by), (403, Some("cloudfront")));
    assert_eq!(fetch.error_code.as_deref(), Some("AccessDenied"));
    assert!(
        r.findings.iter().any(|f| f.code == "denied-by-cloudfront"),
        "{:#?}",
        r.findings
    );
    // The same 403 from S3 (CloudFront let the request through): told apart.
    let o = DoctorOptions::new(&report.distribution_id)
        .url(format!("http://127.0.0.1:{port}/s3/a.jpg"));
    let r = doctor::run(&clients, &Plan::apply(), &o).await.unwrap();
    let fetch = r.fetch.clone().unwrap();
    assert_eq!((fetch.status, fetch.denied_by), (403, Some("s3")));
    let finding = r
        .findings
        .iter()
        .find(|f| f.code == "denied-by-s3")
        .unwrap_or_else(|| panic!("{:#?}", r.findings));
    assert_eq!(finding.severity, Severity::Error);
    assert!(
        finding.message.contains("from S3") && finding.fix.contains("bucket policy"),
        "{finding:#?}"
    );
    assert!(!r.findings.iter().any(|f| f.code == "denied-by-cloudfront"));
}
