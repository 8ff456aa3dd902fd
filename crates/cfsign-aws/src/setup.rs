//! `setup`: everything private CloudFront content needs, created or brought in
//! line idempotently.
//!
//! In order, each reported as `created`, `updated` or `unchanged`:
//!
//! 1. the S3 bucket (created only when asked) with all four public-access-block
//!    settings on;
//! 2. an origin access control `cfsign-BUCKET` (SigV4, always sign, S3);
//! 3. the CloudFront public key (found by its key material, else uploaded);
//! 4. the key group (found by name, the key added if missing);
//! 5. the distribution (found by its caller reference `cfsign-BUCKET`): the bucket
//!    as S3 origin through the OAC, HTTPS only (unless redirect-to-https is asked
//!    for), and a default behavior that trusts the key group (restricted viewer
//!    access); an existing distribution is only changed where these settings
//!    differ, with its ETag in `If-Match`; its viewer protocol policy only when
//!    [`SetupOptions::viewer_protocol`] is given;
//! 6. the bucket policy statement that lets only that distribution read
//!    (`s3:GetObject` for `cloudfront.amazonaws.com` with `AWS:SourceArn` = the
//!    distribution's ARN), merged into the existing policy without touching its
//!    other statements.
//!
//! Nothing is deleted, and nothing is changed that already matches, so a second
//! run makes no change at all. With a [`Plan::dry_run`] only reads are made.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cfsign::PublicKey;
//! use cfsign_aws::client::AwsSettings;
//! use cfsign_aws::plan::Plan;
//! use cfsign_aws::setup::{self, SetupOptions};
//!
//! let clients = AwsSettings::default().region("us-east-1").load().await?;
//! let plan = Plan::apply();
//! let key = PublicKey::from_file("public_key.pem")?;
//! let report = setup::run(&clients, &plan, &SetupOptions::new("my-private-media", key)).await?;
//! for r in &report.resources {
//!     println!("{:<24} {:<14} {}", r.kind, r.action, r.id);
//! }
//! # Ok(()) }
//! ```

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use aws_sdk_cloudfront::types::{
    AllowedMethods, CachedMethods, DefaultCacheBehavior, DistributionConfig,
    DistributionConfigWithTags, KeyGroupConfig, Method, OriginAccessControlConfig,
    OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols, Origins, S3OriginConfig, Tag, Tags, TrustedKeyGroups,
    ViewerProtocolPolicy,
};
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use cfsign::PublicKey;
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::{ApiError, Clients, IncompleteAnswer, required};
use crate::keys::{self, KeysError, NEW_ID};
use crate::plan::{Action, Plan};

/// CloudFront's managed cache policy `Managed-CachingOptimized`.
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// The `Sid` of the bucket-policy statement cfsign manages.
pub const POLICY_SID: &str = "CfsignCloudFrontReadOnly";
/// The tag cfsign puts on distributions it creates (value: the bucket).
pub const BUCKET_TAG: &str = "cfsign:bucket";

/// What `setup` should provision.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    /// The private bucket.
    pub bucket: String,
    /// Create the bucket if it does not exist (else that is an error).
    pub create_bucket: bool,
    /// The public key viewers' signatures are checked with.
    pub public_key: PublicKey,
    /// The public key's name (default `cfsign-` and its fingerprint).
    pub public_key_name: Option<String>,
    /// The key group's name (default `cfsign-BUCKET`).
    pub key_group: Option<String>,
    /// The distribution's comment (default names the bucket); only set on an
    /// existing distribution when given.
    pub comment: Option<String>,
    /// `https-only` or `redirect-to-https`: `None` leaves an existing distribution
    /// as it is (new ones get `https-only`).
    pub viewer_protocol: Option<ViewerProtocol>,
    /// IPv6 on the distribution: `None` leaves an existing one as it is (new ones get IPv6).
    pub ipv6: Option<bool>,
}

impl SetupOptions {
    /// The defaults for `bucket` and `public_key`.
    #[must_use]
    pub fn new(bucket: impl Into<String>, public_key: PublicKey) -> Self {
        Self {
            bucket: bucket.into(),
            create_bucket: false,
            public_key,
            public_key_name: None,
            key_group: None,
            comment: None,
            viewer_protocol: None,
            ipv6: None,
        }
    }

    /// The key group's name: `cfsign-BUCKET` when the bucket name is a valid
    /// key-group name as it is; otherwise (dots replaced, or shortened) with `-` and
    /// the first 8 hex digits of the bucket name's SHA-256 appended, so that
    /// `media.example.com` and `media-example-com` get different groups.
    #[must_use]
    pub fn key_group_name(&self) -> String {
        self.key_group
            .clone()
            .unwrap_or_else(|| unique_name(&self.bucket, 128))
    }

    /// The caller reference that identifies the distribution.
    #[must_use]
    pub fn caller_reference(&self) -> String {
        format!("cfsign-{}", self.bucket)
    }

    /// The OAC's name.
    #[must_use]
    pub fn oac_name(&self) -> String {
        keys::resource_name(&format!("cfsign-{}", self.bucket), 64)
    }
}

/// `cfsign-BUCKET` if CloudFront accepts it as a name of at most `max`
/// characters, else the accepted form with `-` and 8 hex digits of the bucket
/// name's SHA-256, so that different buckets never share a name.
fn unique_name(bucket: &str, max: usize) -> String {
    let wanted = format!("cfsign-{bucket}");
    let plain = keys::resource_name(&wanted, max);
    if plain == wanted {
        return plain;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bucket.as_bytes());
    let mut suffix = String::from("-");
    for b in &digest.as_ref()[..4] {
        let _ = write!(suffix, "{b:02x}");
    }
    let mut name = keys::resource_name(&wanted, max.saturating_sub(suffix.len()));
    name.push_str(&suffix);
    name
}

/// How viewers may connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViewerProtocol {
    /// HTTPS only; HTTP gets 403.
    HttpsOnly,
    /// HTTP is redirected to HTTPS.
    RedirectToHttps,
}

impl ViewerProtocol {
    fn sdk(self) -> ViewerProtocolPolicy {
        match self {
            ViewerProtocol::HttpsOnly => ViewerProtocolPolicy::HttpsOnly,
            ViewerProtocol::RedirectToHttps => ViewerProtocolPolicy::RedirectToHttps,
        }
    }
}

/// Why `setup` stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// An API call failed.
    #[error("{resource}: {error}")]
    Api {
        /// The resource, e.g. `bucket my-media`.
        resource: String,
        /// The call and its error.
        error: ApiError,
    },
    /// The bucket does not exist.
    #[error(
        "bucket {0} does not exist; pass --create-bucket to create it, or check the name and --region"
    )]
    BucketMissing(String),
    /// The bucket exists but belongs to someone else or cannot be read.
    #[error(
        "bucket {0} exists but these credentials cannot use it (403): bucket names are global, so it may \
         belong to another account; pick another name, or use credentials of the owning account"
    )]
    BucketForbidden(String),
    /// S3 answered 301: the bucket is in another region than the clients'.
    #[error("{}", other_region(bucket, region.as_deref()))]
    BucketInOtherRegion {
        /// The bucket.
        bucket: String,
        /// Its region, from `x-amz-bucket-region`, when S3 sent it.
        region: Option<String>,
    },
    /// The existing bucket policy is not JSON cfsign can merge into.
    #[error(
        "bucket {bucket}: its bucket policy cannot be merged: {reason}; fix or remove it, then run setup again"
    )]
    BucketPolicy {
        /// The bucket.
        bucket: String,
        /// What is wrong.
        reason: PolicyMergeError,
    },
    /// A key or key-group step failed.
    #[error(transparent)]
    Keys(#[from] KeysError),
    /// An answer lacked an ID, ARN or ETag.
    #[error(transparent)]
    IncompleteAnswer(#[from] IncompleteAnswer),
    /// A request could not be built.
    #[error("{resource}: invalid request: {reason}")]
    Request {
        /// The resource.
        resource: String,
        /// What the SDK refused.
        reason: String,
    },
    /// The distribution changed too often while being updated.
    #[error(
        "distribution {0} changed {1} times while being updated (PreconditionFailed each time); someone \
         else is editing it: try again later"
    )]
    EtagRace(String, u32),
    /// The distribution did not reach `Deployed` in time.
    #[error(
        "distribution {id} is still {status} after {waited:?}; it keeps deploying in the background: check \
         later with `cfsign aws doctor --distribution {id}` (or `aws cloudfront wait distribution-deployed --id {id}`)"
    )]
    NotDeployed {
        /// The distribution.
        id: String,
        /// Its last status.
        status: String,
        /// How long was waited.
        waited: Duration,
    },
}

/// Why an existing bucket policy cannot take cfsign's statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyMergeError {
    /// The policy is not JSON.
    #[error("it is not JSON ({0})")]
    NotJson(String),
    /// The policy is JSON but not an object.
    #[error("it is not a JSON object")]
    NotObject,
    /// `Statement` is neither a list nor one statement.
    #[error("its Statement is neither a list nor an object")]
    BadStatement,
}

fn other_region(bucket: &str, region: Option<&str>) -> String {
    match region {
        Some(region) => format!("bucket {bucket} is in {region}; pass --region {region}"),
        None => format!(
            "bucket {bucket} is in another region (S3 answered 301 Moved Permanently without \
             naming it); pass the bucket's region with --region (see the S3 console)"
        ),
    }
}

fn api(resource: impl Into<String>) -> impl FnOnce(ApiError) -> SetupError {
    let resource = resource.into();
    move |error| SetupError::Api { resource, error }
}

fn request(
    resource: &str,
) -> impl FnOnce(aws_smithy_types::error::operation::BuildError) -> SetupError {
    let resource = resource.to_owned();
    move |e| SetupError::Request {
        resource,
        reason: e.to_string(),
    }
}

/// One resource and what was done to it.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceOutcome {
    /// `bucket`, `public access block`, `origin access control`, `public key`,
    /// `key group`, `distribution`, `bucket policy`.
    pub kind: &'static str,
    /// Its ID or name.
    pub id: String,
    /// What was done.
    pub action: Action,
}

/// What `setup` did.
#[derive(Debug, Clone, Serialize)]
pub struct SetupReport {
    /// Each resource, in order.
    pub resources: Vec<ResourceOutcome>,
    /// The bucket.
    pub bucket: String,
    /// The OAC's ID.
    pub origin_access_control_id: String,
    /// The public key's ID: the `Key-Pair-Id` to sign with.
    pub key_pair_id: String,
    /// The key group's ID.
    pub key_group_id: String,
    /// The distribution's ID.
    pub distribution_id: String,
    /// The distribution's ARN.
    pub distribution_arn: String,
    /// The distribution's domain (`d111111abcdef8.cloudfront.net`).
    pub domain: String,
    /// The distribution's status when last read.
    pub status: String,
}

impl SetupReport {
    /// Whether nothing was (or in a dry run, would be) changed.
    #[must_use]
    pub fn unchanged(&self) -> bool {
        self.resources.iter().all(|r| r.action == Action::Unchanged)
    }
}

/// Runs the whole setup; see the module documentation.
///
/// # Errors
///
/// The first step that fails, naming the resource and the fix.
pub async fn run(
    clients: &Clients,
    plan: &Plan,
    options: &SetupOptions,
) -> Result<SetupReport, SetupError> {
    let bucket = &options.bucket;
    let mut resources = Vec::new();
    let (bucket_action, bucket_region) = ensure_bucket(clients, plan, options).await?;
    let bucket_exists = bucket_action != Action::Created || plan.applies();
    resources.push(ResourceOutcome {
        kind: "bucket",
        id: bucket.clone(),
        action: bucket_action,
    });
    resources.push(ResourceOutcome {
        kind: "public access block",
        id: bucket.clone(),
        action: ensure_public_access_block(clients, plan, bucket, bucket_exists).await?,
    });
    let (oac_id, oac_action) = ensure_oac(clients, plan, options).await?;
    resources.push(ResourceOutcome {
        kind: "origin access control",
        id: oac_id.clone(),
        action: oac_action,
    });
    let (key_id, key_action) = keys::ensure_public_key(
        clients,
        plan,
        &options.public_key,
        options.public_key_name.as_deref(),
        None,
    )
    .await?;
    resources.push(ResourceOutcome {
        kind: "public key",
        id: key_id.clone(),
        action: key_action,
    });
    let (group_id, group_action) = ensure_key_group(clients, plan, options, &key_id).await?;
    resources.push(ResourceOutcome {
        kind: "key group",
        id: group_id.clone(),
        action: group_action,
    });
    let origin_domain = format!("{bucket}.s3.{bucket_region}.amazonaws.com");
    let distribution =
        ensure_distribution(clients, plan, options, &origin_domain, &oac_id, &group_id).await?;
    resources.push(ResourceOutcome {
        kind: "distribution",
        id: distribution.id.clone(),
        action: distribution.action,
    });
    resources.push(ResourceOutcome {
        kind: "bucket policy",
        id: bucket.clone(),
        action: ensure_bucket_policy(clients, plan, bucket, &distribution.arn, bucket_exists)
            .await?,
    });
    Ok(SetupReport {
        resources,
        bucket: bucket.clone(),
        origin_access_control_id: oac_id,
        key_pair_id: key_id,
        key_group_id: group_id,
        distribution_id: distribution.id,
        distribution_arn: distribution.arn,
        domain: distribution.domain,
        status: distribution.status,
    })
}

async fn ensure_bucket(
    clients: &Clients,
    plan: &Plan,
    options: &SetupOptions,
) -> Result<(Action, String), SetupError> {
    let bucket = &options.bucket;
    plan.record_read("s3:HeadBucket", [("Bucket", bucket.as_str())]);
    let head = clients.s3.head_bucket().bucket(bucket).send().await;
    match head {
        Ok(out) => {
            let region = out.bucket_region().unwrap_or(clients.region()).to_owned();
            return Ok((Action::Unchanged, region));
        }
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            match status {
                Some(404) => {}
                Some(403) => return Err(SetupError::BucketForbidden(bucket.clone())),
                Some(301) => {
                    let region = e
                        .raw_response()
                        .and_then(|r| r.headers().get("x-amz-bucket-region"))
                        .filter(|r| !r.is_empty())
                        .map(str::to_owned);
                    return Err(SetupError::BucketInOtherRegion {
                        bucket: bucket.clone(),
                        region,
                    });
                }
                _ => {
                    return Err(api(format!("bucket {bucket}"))(ApiError::from_sdk(
                        "s3:HeadBucket",
                        e,
                    )));
                }
            }
        }
    }
    if !options.create_bucket {
        return Err(SetupError::BucketMissing(bucket.clone()));
    }
    let region = clients.region().to_owned();
    plan.record_change(
        "s3:CreateBucket",
        [("Bucket", bucket.as_str()), ("Region", region.as_str())],
    );
    if plan.applies() {
        let mut create = clients.s3.create_bucket().bucket(bucket);
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                        region.as_str(),
                    ))
                    .build(),
            );
        }
        create
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("s3:CreateBucket", e))
            .map_err(api(format!("bucket {bucket}")))?;
    }
    Ok((Action::Created, region))
}

async fn ensure_public_access_block(
    clients: &Clients,
    plan: &Plan,
    bucket: &str,
    exists: bool,
) -> Result<Action, SetupError> {
    let mut action = Action::Created;
    if exists {
        plan.record_read("s3:GetPublicAccessBlock", [("Bucket", bucket)]);
        match clients
            .s3
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(out) => {
                let c = out.public_access_block_configuration();
                let all = c.is_some_and(|c| {
                    c.block_public_acls() == Some(true)
                        && c.ignore_public_acls() == Some(true)
                        && c.block_public_policy() == Some(true)
                        && c.restrict_public_buckets() == Some(true)
                });
                if all {
                    return Ok(Action::Unchanged);
                }
                action = Action::Updated;
            }
            Err(e) => {
                let e = ApiError::from_sdk("s3:GetPublicAccessBlock", e);
                if !e.is("NoSuchPublicAccessBlockConfiguration") {
                    return Err(api(format!("bucket {bucket}"))(e));
                }
            }
        }
    }
    plan.record_change(
        "s3:PutPublicAccessBlock",
        [
            ("Bucket", bucket),
            (
                "PublicAccessBlockConfiguration",
                "BlockPublicAcls,IgnorePublicAcls,BlockPublicPolicy,RestrictPublicBuckets",
            ),
        ],
    );
    if plan.applies() {
        clients
            .s3
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("s3:PutPublicAccessBlock", e))
            .map_err(api(format!("bucket {bucket}")))?;
    }
    Ok(action)
}

fn oac_config(name: &str, bucket: &str) -> Result<OriginAccessControlConfig, SetupError> {
    OriginAccessControlConfig::builder()
        .name(name)
        .description(format!("cfsign: CloudFront reads s3://{bucket}"))
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .build()
        .map_err(request(&format!("origin access control {name}")))
}

async fn ensure_oac(
    clients: &Clients,
    plan: &Plan,
    options: &SetupOptions,
) -> Result<(String, Action), SetupError> {
    let name = options.oac_name();
    let resource = format!("origin access control {name}");
    let mut marker: Option<String> = None;
    let mut found = None;
    loop {
        plan.record_read(
            "cloudfront:ListOriginAccessControls",
            marker.iter().map(|m| ("Marker", m.clone())),
        );
        let out = clients
            .cloudfront
            .list_origin_access_controls()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("cloudfront:ListOriginAccessControls", e))
            .map_err(api(&resource))?;
        let Some(list) = out.origin_access_control_list() else {
            break;
        };
        if let Some(s) = list.items().iter().find(|s| s.name() == name) {
            found = Some(s.clone());
            break;
        }
        match list.next_marker() {
            Some(next) if list.is_truncated() && marker.as_deref() != Some(next) => {
                marker = Some(next.to_owned());
            }
            _ => break,
        }
    }
    let Some(summary) = found else {
        plan.record_change(
            "cloudfront:CreateOriginAccessControl",
            [
                ("Name", name.as_str()),
                ("SigningProtocol", "sigv4"),
                ("SigningBehavior", "always"),
                ("OriginAccessControlOriginType", "s3"),
            ],
        );
        if !plan.applies() {
            return Ok((NEW_ID.to_owned(), Action::Created));
        }
        let out = clients
            .cloudfront
            .create_origin_access_control()
            .origin_access_control_config(oac_config(&name, &options.bucket)?)
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("cloudfront:CreateOriginAccessControl", e))
            .map_err(api(&resource))?;
        let id = required(
            out.origin_access_control().map(|o| o.id()),
            &resource,
            "cloudfront:CreateOriginAccessControl",
            "OriginAccessControl.Id",
        )?;
        return Ok((id, Action::Created));
    };
    let id = summary.id().to_owned();
    let good = *summary.signing_protocol() == OriginAccessControlSigningProtocols::Sigv4
        && *summary.signing_behavior() == OriginAccessControlSigningBehaviors::Always
        && *summary.origin_access_control_origin_type() == OriginAccessControlOriginTypes::S3;
    if good {
        return Ok((id, Action::Unchanged));
    }
    plan.record_read("cloudfront:GetOriginAccessControl", [("Id", id.as_str())]);
    let out = clients
        .cloudfront
        .get_origin_access_control()
        .id(&id)
        .send()
        .await
        .map_err(|e| ApiError::from_sdk("cloudfront:GetOriginAccessControl", e))
        .map_err(api(&resource))?;
    let etag = required(
        out.e_tag(),
        &resource,
        "cloudfront:GetOriginAccessControl",
        "ETag",
    )?;
    plan.record_change(
        "cloudfront:UpdateOriginAccessControl",
        [
            ("Id", id.as_str()),
            ("IfMatch", etag.as_str()),
            ("SigningProtocol", "sigv4"),
            ("SigningBehavior", "always"),
            ("OriginAccessControlOriginType", "s3"),
        ],
    );
    if plan.applies() {
        clients
            .cloudfront
            .update_origin_access_control()
            .id(&id)
            .if_match(etag)
            .origin_access_control_config(oac_config(&name, &options.bucket)?)
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("cloudfront:UpdateOriginAccessControl", e))
            .map_err(api(&resource))?;
    }
    Ok((id, Action::Updated))
}

async fn ensure_key_group(
    clients: &Clients,
    plan: &Plan,
    options: &SetupOptions,
    key_id: &str,
) -> Result<(String, Action), SetupError> {
    let name = options.key_group_name();
    if let Some(state) = keys::find_key_group(clients, plan, &name).await? {
        let wanted = key_id.to_owned();
        let (after, action) = keys::update_key_group_items(clients, plan, &state.id, |s| {
            if s.items.contains(&wanted) {
                Ok(None)
            } else {
                let mut items = s.items.clone();
                items.push(wanted.clone());
                Ok(Some(items))
            }
        })
        .await?;
        return Ok((after.id, action));
    }
    plan.record_change(
        "cloudfront:CreateKeyGroup",
        [("Name", name.as_str()), ("Items", key_id)],
    );
    if !plan.applies() {
        return Ok((NEW_ID.to_owned(), Action::Created));
    }
    let config = KeyGroupConfig::builder()
        .name(&name)
        .items(key_id)
        .comment(format!("cfsign: signers for s3://{}", options.bucket))
        .build()
        .map_err(request(&format!("key group {name}")))?;
    let out = clients
        .cloudfront
        .create_key_group()
        .key_group_config(config)
        .send()
        .await
        .map_err(|e| ApiError::from_sdk("cloudfront:CreateKeyGroup", e))
        .map_err(api(format!("key group {name}")))?;
    let id = required(
        out.key_group().map(|g| g.id()),
        &format!("key group {name}"),
        "cloudfront:CreateKeyGroup",
        "KeyGroup.Id",
    )?;
    Ok((id, Action::Created))
}

struct DistributionOutcome {
    id: String,
    arn: String,
    domain: String,
    status: String,
    action: Action,
}

/// Finds the distribution whose caller reference is `caller_reference`.
/// Summaries that list origins are only opened when one points at `origin_domain`.
async fn find_distribution(
    clients: &Clients,
    plan: &Plan,
    caller_reference: &str,
    origin_domain: &str,
) -> Result<Option<String>, SetupError> {
    let mut marker: Option<String> = None;
    loop {
        plan.record_read(
            "cloudfront:ListDistributions",
            marker.iter().map(|m| ("Marker", m.clone())),
        );
        let out = clients
            .cloudfront
            .list_distributions()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("cloudfront:ListDistributions", e))
            .map_err(api("distributions"))?;
        let Some(list) = out.distribution_list() else {
            return Ok(None);
        };
        for summary in list.items() {
            let candidate = match summary.origins() {
                Some(origins) if !origins.items().is_empty() => origins
                    .items()
                    .iter()
                    .any(|o| same_bucket_domain(&o.domain_name, origin_domain)),
                _ => true,
            };
            if !candidate {
                continue;
            }
            plan.record_read("cloudfront:GetDistributionConfig", [("Id", summary.id())]);
            let config = clients
                .cloudfront
                .get_distribution_config()
                .id(summary.id())
                .send()
                .await
                .map_err(|e| ApiError::from_sdk("cloudfront:GetDistributionConfig", e))
                .map_err(api(format!("distribution {}", summary.id())))?;
            if config
                .distribution_config()
                .is_some_and(|c| c.caller_reference == caller_reference)
            {
                return Ok(Some(summary.id().to_owned()));
            }
        }
        match list.next_marker() {
            Some(next) if list.is_truncated() && marker.as_deref() != Some(next) => {
                marker = Some(next.to_owned());
            }
            _ => return Ok(None),
        }
    }
}

/// `b.s3.us-east-1.amazonaws.com`, `b.s3.amazonaws.com`, `b.s3-us-east-1.amazonaws.com`
/// all name bucket `b`.
pub(crate) fn bucket_of_domain(domain: &str) -> Option<&str> {
    let host = domain.strip_suffix(".amazonaws.com")?;
    let (bucket, rest) = host.split_once(".s3")?;
    (rest.is_empty() || rest.starts_with('.') || rest.starts_with('-')).then_some(bucket)
}

fn same_bucket_domain(a: &str, b: &str) -> bool {
    a == b || (bucket_of_domain(a).is_some() && bucket_of_domain(a) == bucket_of_domain(b))
}

fn desired_behavior(
    target: &str,
    protocol: ViewerProtocol,
    group_id: &str,
) -> Result<DefaultCacheBehavior, SetupError> {
    let resource = "the default cache behavior";
    DefaultCacheBehavior::builder()
        .target_origin_id(target)
        .viewer_protocol_policy(protocol.sdk())
        .trusted_key_groups(
            TrustedKeyGroups::builder()
                .enabled(true)
                .quantity(1)
                .items(group_id)
                .build()
                .map_err(request(resource))?,
        )
        .allowed_methods(
            AllowedMethods::builder()
                .quantity(2)
                .items(Method::Get)
                .items(Method::Head)
                .cached_methods(
                    CachedMethods::builder()
                        .quantity(2)
                        .items(Method::Get)
                        .items(Method::Head)
                        .build()
                        .map_err(request(resource))?,
                )
                .build()
                .map_err(request(resource))?,
        )
        .compress(true)
        .cache_policy_id(CACHING_OPTIMIZED)
        .build()
        .map_err(request(resource))
}

fn desired_origin(
    id: &str,
    domain: &str,
    oac_id: &str,
) -> Result<aws_sdk_cloudfront::types::Origin, SetupError> {
    aws_sdk_cloudfront::types::Origin::builder()
        .id(id)
        .domain_name(domain)
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .origin_access_control_id(oac_id)
        .build()
        .map_err(request(&format!("origin {domain}")))
}

/// Brings an existing configuration in line; returns the names of what changed.
fn reconcile(
    config: &mut DistributionConfig,
    options: &SetupOptions,
    origin_domain: &str,
    oac_id: &str,
    group_id: &str,
) -> Result<Vec<&'static str>, SetupError> {
    let mut changed = Vec::new();
    if !config.enabled {
        config.enabled = true;
        changed.push("Enabled");
    }
    if let Some(comment) = &options.comment
        && config.comment != *comment
    {
        config.comment.clone_from(comment);
        changed.push("Comment");
    }
    if let Some(ipv6) = options.ipv6
        && config.is_ipv6_enabled != Some(ipv6)
    {
        config.is_ipv6_enabled = Some(ipv6);
        changed.push("IsIPV6Enabled");
    }
    if config.origins.is_none() {
        config.origins = Some(
            Origins::builder()
                .quantity(0)
                .set_items(Some(Vec::new()))
                .build()
                .map_err(request("origins"))?,
        );
    }
    let Some(origins) = config.origins.as_mut() else {
        return Ok(changed);
    };
    let target = match origins
        .items
        .iter_mut()
        .find(|o| same_bucket_domain(&o.domain_name, origin_domain))
    {
        Some(origin) => {
            if origin.origin_access_control_id.as_deref() != Some(oac_id) {
                origin.origin_access_control_id = Some(oac_id.to_owned());
                changed.push("Origins.OriginAccessControlId");
            }
            let oai_empty = origin
                .s3_origin_config
                .as_ref()
                .is_some_and(|s| s.origin_access_identity.is_empty());
            if !oai_empty {
                origin.s3_origin_config =
                    Some(S3OriginConfig::builder().origin_access_identity("").build());
                changed.push("Origins.S3OriginConfig");
            }
            origin.id.clone()
        }
        None => {
            let id = format!("s3-{}", options.bucket);
            origins
                .items
                .push(desired_origin(&id, origin_domain, oac_id)?);
            origins.quantity = i32::try_from(origins.items.len()).unwrap_or(i32::MAX);
            changed.push("Origins");
            id
        }
    };
    match config.default_cache_behavior.as_mut() {
        None => {
            config.default_cache_behavior = Some(desired_behavior(
                &target,
                options.viewer_protocol.unwrap_or(ViewerProtocol::HttpsOnly),
                group_id,
            )?);
            changed.push("DefaultCacheBehavior");
        }
        Some(behavior) => {
            if behavior.target_origin_id != target {
                behavior.target_origin_id.clone_from(&target);
                changed.push("DefaultCacheBehavior.TargetOriginId");
            }
            if let Some(protocol) = options.viewer_protocol
                && behavior.viewer_protocol_policy != protocol.sdk()
            {
                behavior.viewer_protocol_policy = protocol.sdk();
                changed.push("DefaultCacheBehavior.ViewerProtocolPolicy");
            }
            if behavior.trusted_key_groups.is_none() {
                behavior.trusted_key_groups = Some(
                    TrustedKeyGroups::builder()
                        .enabled(false)
                        .quantity(0)
                        .build()
                        .map_err(request("trusted key groups"))?,
                );
            }
            let Some(groups) = behavior.trusted_key_groups.as_mut() else {
                return Ok(changed);
            };
            let items = groups.items.get_or_insert_with(Vec::new);
            if !groups.enabled || !items.iter().any(|g| g == group_id) {
                if !items.iter().any(|g| g == group_id) {
                    items.push(group_id.to_owned());
                }
                groups.enabled = true;
                groups.quantity = i32::try_from(items.len()).unwrap_or(i32::MAX);
                changed.push("DefaultCacheBehavior.TrustedKeyGroups");
            }
        }
    }
    Ok(changed)
}

async fn ensure_distribution(
    clients: &Clients,
    plan: &Plan,
    options: &SetupOptions,
    origin_domain: &str,
    oac_id: &str,
    group_id: &str,
) -> Result<DistributionOutcome, SetupError> {
    let caller_reference = options.caller_reference();
    let existing = find_distribution(clients, plan, &caller_reference, origin_domain).await?;
    let Some(id) = existing else {
        return create_distribution(clients, plan, options, origin_domain, oac_id, group_id).await;
    };
    let resource = format!("distribution {id}");
    const ATTEMPTS: u32 = 5;
    for _ in 0..ATTEMPTS {
        plan.record_read("cloudfront:GetDistribution", [("Id", id.as_str())]);
        let out = clients
            .cloudfront
            .get_distribution()
            .id(&id)
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("cloudfront:GetDistribution", e))
            .map_err(api(&resource))?;
        const GET: &str = "cloudfront:GetDistribution";
        let etag = required(out.e_tag(), &resource, GET, "ETag")?;
        let dist = out.distribution();
        let mut outcome = DistributionOutcome {
            id: id.clone(),
            arn: required(dist.map(|d| d.arn()), &resource, GET, "Distribution.ARN")?,
            domain: required(
                dist.map(|d| d.domain_name()),
                &resource,
                GET,
                "Distribution.DomainName",
            )?,
            status: required(
                dist.map(|d| d.status()),
                &resource,
                GET,
                "Distribution.Status",
            )?,
            action: Action::Unchanged,
        };
        let Some(mut config) = dist.and_then(|d| d.distribution_config()).cloned() else {
            return Err(IncompleteAnswer {
                resource,
                call: GET,
                field: "Distribution.DistributionConfig",
            }
            .into());
        };
        let changed = reconcile(&mut config, options, origin_domain, oac_id, group_id)?;
        if changed.is_empty() {
            return Ok(outcome);
        }
        plan.record_change(
            "cloudfront:UpdateDistribution",
            [
                ("Id", id.clone()),
                ("IfMatch", etag.clone()),
                ("Changes", changed.join(",")),
            ],
        );
        outcome.action = Action::Updated;
        if !plan.applies() {
            return Ok(outcome);
        }
        let result = clients
            .cloudfront
            .update_distribution()
            .id(&id)
            .if_match(&etag)
            .distribution_config(config)
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("cloudfront:UpdateDistribution", e));
        match result {
            Ok(out) => {
                if let Some(d) = out.distribution() {
                    outcome.status = d.status().to_owned();
                }
                return Ok(outcome);
            }
            Err(e) if e.is("PreconditionFailed") => continue,
            Err(error) => return Err(SetupError::Api { resource, error }),
        }
    }
    Err(SetupError::EtagRace(id, ATTEMPTS))
}

async fn create_distribution(
    clients: &Clients,
    plan: &Plan,
    options: &SetupOptions,
    origin_domain: &str,
    oac_id: &str,
    group_id: &str,
) -> Result<DistributionOutcome, SetupError> {
    let origin_id = format!("s3-{}", options.bucket);
    let resource = format!("distribution for s3://{}", options.bucket);
    let protocol = options.viewer_protocol.unwrap_or(ViewerProtocol::HttpsOnly);
    plan.record_change(
        "cloudfront:CreateDistributionWithTags",
        [
            ("CallerReference", options.caller_reference()),
            ("Origin", format!("{origin_domain} (OAC {oac_id})")),
            ("TrustedKeyGroups", group_id.to_owned()),
            ("ViewerProtocolPolicy", protocol.sdk().as_str().to_owned()),
        ],
    );
    if !plan.applies() {
        return Ok(DistributionOutcome {
            id: NEW_ID.to_owned(),
            arn: format!("arn:aws:cloudfront::ACCOUNT:distribution/{NEW_ID}"),
            domain: format!("{NEW_ID}.cloudfront.net"),
            status: "not created (dry run)".to_owned(),
            action: Action::Created,
        });
    }
    let config = DistributionConfig::builder()
        .caller_reference(options.caller_reference())
        .comment(
            options
                .comment
                .clone()
                .unwrap_or_else(|| format!("cfsign: private content from s3://{}", options.bucket)),
        )
        .enabled(true)
        .is_ipv6_enabled(options.ipv6.unwrap_or(true))
        .origins(
            Origins::builder()
                .quantity(1)
                .items(desired_origin(&origin_id, origin_domain, oac_id)?)
                .build()
                .map_err(request(&resource))?,
        )
        .default_cache_behavior(desired_behavior(&origin_id, protocol, group_id)?)
        .build()
        .map_err(request(&resource))?;
    let tags = Tags::builder()
        .items(
            Tag::builder()
                .key(BUCKET_TAG)
                .value(&options.bucket)
                .build()
                .map_err(request(&resource))?,
        )
        .build();
    let out = clients
        .cloudfront
        .create_distribution_with_tags()
        .distribution_config_with_tags(
            DistributionConfigWithTags::builder()
                .distribution_config(config)
                .tags(tags)
                .build(),
        )
        .send()
        .await
        .map_err(|e| ApiError::from_sdk("cloudfront:CreateDistributionWithTags", e))
        .map_err(api(&resource))?;
    const CREATE: &str = "cloudfront:CreateDistributionWithTags";
    let dist = out.distribution();
    Ok(DistributionOutcome {
        id: required(dist.map(|d| d.id()), &resource, CREATE, "Distribution.Id")?,
        arn: required(dist.map(|d| d.arn()), &resource, CREATE, "Distribution.ARN")?,
        domain: required(
            dist.map(|d| d.domain_name()),
            &resource,
            CREATE,
            "Distribution.DomainName",
        )?,
        status: required(
            dist.map(|d| d.status()),
            &resource,
            CREATE,
            "Distribution.Status",
        )?,
        action: Action::Created,
    })
}

/// The statement that lets only `distribution_arn` read `bucket`'s objects.
#[must_use]
pub fn policy_statement(bucket: &str, distribution_arn: &str) -> Value {
    json!({
        "Sid": POLICY_SID,
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{bucket}/*"),
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}}
    })
}

/// Merges cfsign's statement into `existing` (a bucket policy, or `None`): other
/// statements are kept as they are. Returns `None` when it is already there.
///
/// ```
/// use cfsign_aws::setup::{merge_bucket_policy, policy_statement};
///
/// let other = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Logs","Effect":"Allow",
///     "Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject",
///     "Resource":"arn:aws:s3:::media/logs/*"}]}"#;
/// let arn = "arn:aws:cloudfront::111122223333:distribution/EDFDVBD6EXAMPLE";
/// let merged = merge_bucket_policy(Some(other), "media", arn)?.unwrap();
/// let v: serde_json::Value = serde_json::from_str(&merged).unwrap();
/// assert_eq!(v["Statement"].as_array().unwrap().len(), 2);
/// assert_eq!(merge_bucket_policy(Some(&merged), "media", arn)?, None);
/// # Ok::<(), cfsign_aws::setup::PolicyMergeError>(())
/// ```
///
/// # Errors
///
/// [`PolicyMergeError`] when `existing` is not a JSON object with a `Statement`
/// list (or one statement).
pub fn merge_bucket_policy(
    existing: Option<&str>,
    bucket: &str,
    distribution_arn: &str,
) -> Result<Option<String>, PolicyMergeError> {
    let wanted = policy_statement(bucket, distribution_arn);
    let mut policy = match existing {
        None => json!({"Version": "2012-10-17", "Statement": []}),
        Some(text) => serde_json::from_str::<Value>(text)
            .map_err(|e| PolicyMergeError::NotJson(e.to_string()))?,
    };
    let object = policy.as_object_mut().ok_or(PolicyMergeError::NotObject)?;
    let statements = object
        .entry("Statement")
        .or_insert_with(|| Value::Array(Vec::new()));
    if statements.is_object() {
        *statements = Value::Array(vec![statements.take()]);
    }
    let list = statements
        .as_array_mut()
        .ok_or(PolicyMergeError::BadStatement)?;
    if list.contains(&wanted) {
        return Ok(None);
    }
    match list
        .iter_mut()
        .find(|s| s.get("Sid").and_then(Value::as_str) == Some(POLICY_SID))
    {
        Some(ours) => *ours = wanted,
        None => list.push(wanted),
    }
    Ok(Some(policy.to_string()))
}

async fn ensure_bucket_policy(
    clients: &Clients,
    plan: &Plan,
    bucket: &str,
    distribution_arn: &str,
    bucket_exists: bool,
) -> Result<Action, SetupError> {
    let resource = format!("bucket {bucket}");
    let mut existing = None;
    if bucket_exists {
        plan.record_read("s3:GetBucketPolicy", [("Bucket", bucket)]);
        match clients.s3.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => existing = out.policy().map(str::to_owned),
            Err(e) => {
                let e = ApiError::from_sdk("s3:GetBucketPolicy", e);
                if !e.is("NoSuchBucketPolicy") {
                    return Err(api(&resource)(e));
                }
            }
        }
    }
    let merged =
        merge_bucket_policy(existing.as_deref(), bucket, distribution_arn).map_err(|reason| {
            SetupError::BucketPolicy {
                bucket: bucket.to_owned(),
                reason,
            }
        })?;
    let Some(policy) = merged else {
        return Ok(Action::Unchanged);
    };
    plan.record_change(
        "s3:PutBucketPolicy",
        [
            ("Bucket", bucket.to_owned()),
            (
                "Statement",
                format!("{POLICY_SID}: s3:GetObject for {distribution_arn}"),
            ),
        ],
    );
    if plan.applies() {
        clients
            .s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("s3:PutBucketPolicy", e))
            .map_err(api(&resource))?;
    }
    Ok(if existing.is_some() {
        Action::Updated
    } else {
        Action::Created
    })
}

/// Polls the distribution until it is `Deployed`, at most `timeout`, calling
/// `progress(status, elapsed)` after each read. Returns the final status.
///
/// # Errors
///
/// [`SetupError::NotDeployed`] after `timeout`, or a failed read.
pub async fn wait_deployed(
    clients: &Clients,
    plan: &Plan,
    id: &str,
    timeout: Duration,
    poll: Duration,
    mut progress: impl FnMut(&str, Duration),
) -> Result<String, SetupError> {
    let start = Instant::now();
    loop {
        plan.record_read("cloudfront:GetDistribution", [("Id", id)]);
        let out = clients
            .cloudfront
            .get_distribution()
            .id(id)
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("cloudfront:GetDistribution", e))
            .map_err(api(format!("distribution {id}")))?;
        let status = required(
            out.distribution().map(|d| d.status()),
            &format!("distribution {id}"),
            "cloudfront:GetDistribution",
            "Distribution.Status",
        )?;
        progress(&status, start.elapsed());
        if status == "Deployed" {
            return Ok(status);
        }
        if start.elapsed() + poll > timeout {
            return Err(SetupError::NotDeployed {
                id: id.to_owned(),
                status,
                waited: start.elapsed(),
            });
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_group_names_of_buckets_that_map_to_the_same_name_differ() {
        let dotted = unique_name("media.example.com", 128);
        let dashed = unique_name("media-example-com", 128);
        assert_eq!(
            dashed, "cfsign-media-example-com",
            "valid names stay as they were"
        );
        assert_ne!(dotted, dashed);
        assert!(dotted.starts_with("cfsign-media-example-com-"), "{dotted}");
        assert_eq!(
            dotted.len(),
            "cfsign-media-example-com-".len() + 8,
            "{dotted}"
        );
        // Stable: the same bucket always gets the same name.
        assert_eq!(dotted, unique_name("media.example.com", 128));
    }

    #[test]
    fn shortened_names_keep_the_limit_and_differ() {
        let a = format!("{}a", "x".repeat(70));
        let b = format!("{}b", "x".repeat(70));
        let (na, nb) = (unique_name(&a, 64), unique_name(&b, 64));
        assert_eq!(na.len(), 64, "{na}");
        assert_ne!(na, nb);
    }

    #[test]
    fn merge_errors_are_typed() {
        let arn = "arn:aws:cloudfront::111122223333:distribution/E1";
        assert!(matches!(
            merge_bucket_policy(Some("{"), "media", arn),
            Err(PolicyMergeError::NotJson(_))
        ));
        assert_eq!(
            merge_bucket_policy(Some("[]"), "media", arn),
            Err(PolicyMergeError::NotObject)
        );
        assert_eq!(
            merge_bucket_policy(Some(r#"{"Statement":3}"#), "media", arn),
            Err(PolicyMergeError::BadStatement)
        );
    }
}
