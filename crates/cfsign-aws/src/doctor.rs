//! `doctor`: reads a distribution (its behaviors, key groups, public keys, origin
//! access control, and the S3 bucket policy) and reports what breaks signed URLs,
//! each finding with a severity and a fix.
//!
//! | code | severity | what |
//! |---|---|---|
//! | `behavior-unrestricted` | error (default behavior) / warning | no trusted key groups: signatures are not required |
//! | `legacy-trusted-signers` | warning | root-account CloudFront key pairs (`TrustedSigners`) |
//! | `key-group-missing` / `key-group-empty` | error | a trusted key group that does not exist or has no key |
//! | `key-not-trusted` | error | (`--url`) the URL's `Key-Pair-Id` is not in the matched behavior's groups |
//! | `signature-denied` | error | (`--url`) the verifier, with the keys read back, denies the URL |
//! | `s3-origin-without-oac` | error | an S3 origin without OAC or OAI |
//! | `s3-origin-uses-oai` | warning | legacy origin access identity |
//! | `oac-missing` / `oac-never-signs` | error | the OAC does not exist or never signs |
//! | `bucket-policy-missing` / `bucket-policy-no-grant` | error | S3 would refuse CloudFront (for `--url`'s object when given) |
//! | `bucket-policy-denies` | error | a `Deny` statement covers the distribution's reads |
//! | `ipv6-with-ip-policies` | warning | (`--url`) the URL's custom policy restricts IPs, which fails for IPv6 viewers |
//! | `ipv6-enabled` | info | IPv6 is on: only a problem for IP-restricted policies |
//! | `viewer-http-allowed` | warning | signed URLs can travel over plain HTTP |
//! | `denied-by-cloudfront` / `denied-by-s3` | error | (`--url`) who refused the fetched URL |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cfsign_aws::client::AwsSettings;
//! use cfsign_aws::doctor::{self, DoctorOptions};
//! use cfsign_aws::plan::Plan;
//!
//! let clients = AwsSettings::default().load().await?;
//! let report = doctor::run(&clients, &Plan::apply(), &DoctorOptions::new("EDFDVBD6EXAMPLE")).await?;
//! for f in &report.findings {
//!     println!("{} [{}] {}\n  fix: {}", f.severity, f.code, f.message, f.fix);
//! }
//! std::process::exit(if report.has_errors() { 1 } else { 0 });
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use aws_sdk_cloudfront::types::{
    CacheBehavior, DefaultCacheBehavior, DistributionConfig, TrustedKeyGroups, TrustedSigners,
    ViewerProtocolPolicy,
};
use cfsign::verify::{KeyGroup, Verifier, ViewerRequest};
use cfsign::{KeyPairId, PublicKey};
use serde::Serialize;
use serde_json::Value;

use crate::client::{ApiError, Clients};
use crate::plan::Plan;
use crate::setup::bucket_of_domain;

/// The longest `--url` fetch.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a response body `--url` reads.
pub const FETCH_MAX_BYTES: usize = 64 * 1024;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Signed URLs fail (or are not needed at all).
    Error,
    /// Works, but is fragile or insecure.
    Warning,
    /// For information.
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// One problem and its fix.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// Stable identifier (see the module table).
    pub code: &'static str,
    /// The resource concerned (`behavior /videos/*`, `origin s3-media`, ...).
    pub resource: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
}

/// What to check.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The distribution's ID.
    pub distribution_id: String,
    /// A signed URL to check against the behaviors and keys, and fetch.
    pub url: Option<String>,
    /// Whether to fetch `url` (default true).
    pub fetch: bool,
}

impl DoctorOptions {
    /// Checks the distribution only.
    #[must_use]
    pub fn new(distribution_id: impl Into<String>) -> Self {
        Self {
            distribution_id: distribution_id.into(),
            url: None,
            fetch: true,
        }
    }

    /// Also checks (and fetches) this signed URL.
    #[must_use]
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }
}

/// The result of a fetch of `--url`.
#[derive(Debug, Clone, Serialize)]
pub struct FetchResult {
    /// HTTP status.
    pub status: u16,
    /// `Server` header.
    pub server: Option<String>,
    /// `X-Cache` header.
    pub x_cache: Option<String>,
    /// The `<Code>` of an XML error body.
    pub error_code: Option<String>,
    /// `cloudfront`, `s3`, or `unknown`: who answered the error.
    pub denied_by: Option<&'static str>,
}

/// What `doctor` found.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The distribution.
    pub distribution_id: String,
    /// Its domain.
    pub domain: String,
    /// Its status (`Deployed`, `InProgress`).
    pub status: String,
    /// The behavior the URL matched (`--url`), as its path pattern (`*` = default).
    pub matched_behavior: Option<String>,
    /// The verifier's verdict on the URL with the keys read back (`--url`).
    pub url_verdict: Option<String>,
    /// The fetch of the URL (`--url`).
    pub fetch: Option<FetchResult>,
    /// Every finding, errors first.
    pub findings: Vec<Finding>,
}

impl DoctorReport {
    /// Whether any finding is an error (the CLI then exits with 1).
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Why `doctor` could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DoctorError {
    /// An API call failed.
    #[error("{resource}: {error}")]
    Api {
        /// The resource.
        resource: String,
        /// The call and its error.
        error: ApiError,
    },
    /// The distribution has no configuration in the answer.
    #[error("distribution {0}: the answer has no configuration; check the ID")]
    NoConfig(String),
}

fn api(resource: impl Into<String>) -> impl FnOnce(ApiError) -> DoctorError {
    let resource = resource.into();
    move |error| DoctorError::Api { resource, error }
}

struct Behavior<'a> {
    pattern: String,
    key_groups: Option<&'a TrustedKeyGroups>,
    signers: Option<&'a TrustedSigners>,
    protocol: &'a ViewerProtocolPolicy,
}

fn behaviors(config: &DistributionConfig) -> Vec<Behavior<'_>> {
    let mut list: Vec<Behavior<'_>> = config
        .cache_behaviors
        .as_ref()
        .and_then(|c| c.items.as_ref())
        .map(|items| items.iter().map(cache_behavior).collect())
        .unwrap_or_default();
    if let Some(d) = &config.default_cache_behavior {
        list.push(default_behavior(d));
    }
    list
}

fn cache_behavior(b: &CacheBehavior) -> Behavior<'_> {
    Behavior {
        pattern: b.path_pattern.clone(),
        key_groups: b.trusted_key_groups.as_ref(),
        signers: b.trusted_signers.as_ref(),
        protocol: &b.viewer_protocol_policy,
    }
}

fn default_behavior(b: &DefaultCacheBehavior) -> Behavior<'_> {
    Behavior {
        pattern: "*".to_owned(),
        key_groups: b.trusted_key_groups.as_ref(),
        signers: b.trusted_signers.as_ref(),
        protocol: &b.viewer_protocol_policy,
    }
}

fn group_ids(b: &Behavior<'_>) -> Vec<String> {
    b.key_groups
        .filter(|g| g.enabled)
        .and_then(|g| g.items.clone())
        .unwrap_or_default()
}

/// Whether a cache behavior's path pattern matches a request path, as CloudFront
/// matches them: case-sensitive, `*` any run of characters (slashes included),
/// `?` one character, and the leading `/` optional in the pattern.
///
/// ```
/// use cfsign_aws::doctor::path_pattern_matches;
/// assert!(path_pattern_matches("images/*.jpg", "/images/2026/a.jpg"));
/// assert!(path_pattern_matches("/videos/*", "/videos/a.mp4"));
/// assert!(!path_pattern_matches("/videos/*", "/Videos/a.mp4"));
/// assert!(path_pattern_matches("*", "/anything"));
/// ```
#[must_use]
pub fn path_pattern_matches(pattern: &str, path: &str) -> bool {
    let pattern = if pattern.starts_with('/') || pattern.starts_with('*') {
        pattern.to_owned()
    } else {
        format!("/{pattern}")
    };
    cfsign::resource::wildcard_match(&pattern, path)
}

/// The path of an absolute URL (without the query).
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path_start = rest.find('/').unwrap_or(rest.len());
    let path = &rest[path_start..];
    let path = path.split(['?', '#']).next().unwrap_or(path);
    if path.is_empty() { "/" } else { path }
}

fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether `url` carries a custom policy (`Policy=`) with an `IpAddress` condition.
fn url_restricts_ip(url: &str) -> bool {
    let Some(encoded) = query_param(url, "Policy") else {
        return false;
    };
    let Ok(bytes) = cfsign::cloudfront_base64::decode(encoded) else {
        return false;
    };
    serde_json::from_slice::<Value>(&bytes).is_ok_and(|policy| {
        as_list(policy.get("Statement")).iter().any(|s| {
            s.get("Condition")
                .and_then(|c| c.get("IpAddress"))
                .is_some()
        })
    })
}

/// Runs every check; see the module documentation.
///
/// # Errors
///
/// When the distribution cannot be read. Problems with the resources it points
/// at (a missing key group, an unreadable bucket policy) are findings, not errors.
pub async fn run(
    clients: &Clients,
    plan: &Plan,
    options: &DoctorOptions,
) -> Result<DoctorReport, DoctorError> {
    let id = &options.distribution_id;
    plan.record_read("cloudfront:GetDistribution", [("Id", id.as_str())]);
    let out = clients
        .cloudfront
        .get_distribution()
        .id(id)
        .send()
        .await
        .map_err(|e| ApiError::from_sdk("cloudfront:GetDistribution", e))
        .map_err(api(format!("distribution {id}")))?;
    let dist = out
        .distribution()
        .ok_or_else(|| DoctorError::NoConfig(id.clone()))?;
    let config = dist
        .distribution_config()
        .ok_or_else(|| DoctorError::NoConfig(id.clone()))?;
    let mut findings = Vec::new();
    let behaviors = behaviors(config);

    // Key groups and their keys, read once.
    let mut groups: BTreeMap<String, Option<KeyGroup>> = BTreeMap::new();
    for b in &behaviors {
        for g in group_ids(b) {
            if groups.contains_key(&g) {
                continue;
            }
            let group = read_key_group(clients, plan, &g, &mut findings).await;
            groups.insert(g, group);
        }
    }

    for b in &behaviors {
        let resource = format!("behavior {}", b.pattern);
        let ids = group_ids(b);
        let signers = b.signers.is_some_and(|s| s.enabled);
        if ids.is_empty() && !signers {
            let default = b.pattern == "*";
            findings.push(Finding {
                severity: if default { Severity::Error } else { Severity::Warning },
                code: "behavior-unrestricted",
                resource: resource.clone(),
                message: format!(
                    "{} does not restrict viewer access (no trusted key groups): CloudFront serves it \
                     without a signature and ignores signed URLs",
                    if default { "the default behavior" } else { "this behavior" }
                ),
                fix: "edit the behavior: Restrict viewer access = Yes, Trusted key groups = your group \
                      (or run `cfsign aws setup`)"
                    .to_owned(),
            });
        }
        if signers {
            findings.push(Finding {
                severity: Severity::Warning,
                code: "legacy-trusted-signers",
                resource: resource.clone(),
                message: "trusts legacy CloudFront key pairs of the root account (TrustedSigners)"
                    .to_owned(),
                fix: "create a public key and key group (`cfsign aws keys add`), trust the group on the \
                      behavior, sign with the new key, then remove the trusted signers"
                    .to_owned(),
            });
        }
        if *b.protocol == ViewerProtocolPolicy::AllowAll {
            findings.push(Finding {
                severity: Severity::Warning,
                code: "viewer-http-allowed",
                resource,
                message:
                    "viewers may use plain HTTP, so signed URLs and cookies can be read on the wire"
                        .to_owned(),
                fix: "set Viewer protocol policy to HTTPS only or Redirect HTTP to HTTPS"
                    .to_owned(),
            });
        }
    }

    let path = options.url.as_deref().map(url_path);
    check_origins(clients, plan, config, dist.arn(), path, &mut findings).await;

    if config.is_ipv6_enabled == Some(true) {
        let ip_url = options.url.as_deref().filter(|u| url_restricts_ip(u));
        findings.push(match ip_url {
            Some(_) => Finding {
                severity: Severity::Warning,
                code: "ipv6-with-ip-policies",
                resource: format!("distribution {id}"),
                message: "IPv6 is enabled and the URL's custom policy has an IpAddress condition: \
                          AWS:SourceIp only takes IPv4 ranges, so viewers arriving over IPv6 are \
                          refused"
                    .to_owned(),
                fix: "disable IPv6 on the distribution (cfsign aws setup --no-ipv6), or sign without \
                      an IP restriction"
                    .to_owned(),
            },
            None => Finding {
                severity: Severity::Info,
                code: "ipv6-enabled",
                resource: format!("distribution {id}"),
                message: "IPv6 is enabled: fine, unless you sign custom policies restricted by IP \
                          (AWS:SourceIp takes IPv4 ranges only)"
                    .to_owned(),
                fix: "nothing to do; if you sign IP-restricted URLs or cookies, disable IPv6 \
                      (cfsign aws setup --no-ipv6); --url with such a URL checks it"
                    .to_owned(),
            },
        });
    }

    let mut report = DoctorReport {
        distribution_id: id.clone(),
        domain: dist.domain_name().to_owned(),
        status: dist.status().to_owned(),
        matched_behavior: None,
        url_verdict: None,
        fetch: None,
        findings: Vec::new(),
    };
    if let Some(url) = &options.url {
        check_url(url, &behaviors, &groups, &mut report, &mut findings);
        if options.fetch {
            report.fetch = Some(fetch(url, &mut findings).await);
        }
    }
    findings.sort_by_key(|f| f.severity);
    report.findings = findings;
    Ok(report)
}

async fn read_key_group(
    clients: &Clients,
    plan: &Plan,
    id: &str,
    findings: &mut Vec<Finding>,
) -> Option<KeyGroup> {
    let resource = format!("key group {id}");
    let state = match crate::keys::get_key_group(clients, plan, id).await {
        Ok(s) => s,
        Err(e) => {
            findings.push(Finding {
                severity: Severity::Error,
                code: "key-group-missing",
                resource,
                message: format!("a behavior trusts this key group, but it cannot be read: {e}"),
                fix: "trust an existing key group on the behavior".to_owned(),
            });
            return None;
        }
    };
    if state.items.is_empty() {
        findings.push(Finding {
            severity: Severity::Error,
            code: "key-group-empty",
            resource: resource.clone(),
            message: "the key group has no public keys, so no signature can be accepted".to_owned(),
            fix: format!("cfsign aws keys add --key-group {id} --public-key public_key.pem"),
        });
    }
    let mut group = KeyGroup::new(state.name.clone());
    for key_id in &state.items {
        match crate::keys::get_public_key_info(clients, plan, key_id).await {
            Ok(info) => match (KeyPairId::new(key_id), PublicKey::from_pem(&info.pem)) {
                (Ok(kid), Ok(key)) => group = group.with_key(kid, key),
                (_, Err(e)) => findings.push(Finding {
                    severity: Severity::Warning,
                    code: "public-key-unreadable",
                    resource: format!("public key {key_id}"),
                    message: format!("its encoded key cannot be read: {e}"),
                    fix: "upload the key again as SubjectPublicKeyInfo PEM".to_owned(),
                }),
                (Err(e), _) => findings.push(Finding {
                    severity: Severity::Warning,
                    code: "public-key-unreadable",
                    resource: format!("public key {key_id}"),
                    message: e.to_string(),
                    fix: "check the key group's items".to_owned(),
                }),
            },
            Err(e) => findings.push(Finding {
                severity: Severity::Error,
                code: "public-key-missing",
                resource: format!("public key {key_id}"),
                message: format!("in key group {id} but cannot be read: {e}"),
                fix: format!("remove it from the group: cfsign aws keys retire --key-group {id} --key-id {key_id}"),
            }),
        }
    }
    Some(group)
}

async fn check_origins(
    clients: &Clients,
    plan: &Plan,
    config: &DistributionConfig,
    arn: &str,
    path: Option<&str>,
    findings: &mut Vec<Finding>,
) {
    let Some(origins) = &config.origins else {
        return;
    };
    for origin in &origins.items {
        let Some(bucket) = bucket_of_domain(&origin.domain_name) else {
            continue;
        };
        // S3 website endpoints are custom origins: OAC does not apply.
        if origin.domain_name.contains(".s3-website") {
            continue;
        }
        let resource = format!("origin {} ({})", origin.id, origin.domain_name);
        let oai = origin
            .s3_origin_config
            .as_ref()
            .map(|s| s.origin_access_identity.clone())
            .filter(|s| !s.is_empty());
        let oac = origin
            .origin_access_control_id
            .clone()
            .filter(|s| !s.is_empty());
        match (&oac, &oai) {
            (None, None) => findings.push(Finding {
                severity: Severity::Error,
                code: "s3-origin-without-oac",
                resource: resource.clone(),
                message: "the S3 origin has no origin access control (or identity): either the bucket is \
                          public (signed URLs can be bypassed) or S3 refuses CloudFront (403 AccessDenied \
                          from S3)"
                    .to_owned(),
                fix: "attach an origin access control to the origin and grant it in the bucket policy \
                      (`cfsign aws setup --bucket BUCKET` does both)"
                    .to_owned(),
            }),
            (None, Some(_)) => findings.push(Finding {
                severity: Severity::Warning,
                code: "s3-origin-uses-oai",
                resource: resource.clone(),
                message: "the S3 origin uses a legacy origin access identity".to_owned(),
                fix: "migrate to an origin access control (SigV4; needed for SSE-KMS and newer regions)"
                    .to_owned(),
            }),
            _ => {}
        }
        if let Some(oac_id) = &oac {
            plan.record_read(
                "cloudfront:GetOriginAccessControl",
                [("Id", oac_id.as_str())],
            );
            match clients
                .cloudfront
                .get_origin_access_control()
                .id(oac_id)
                .send()
                .await
            {
                Ok(out) => {
                    let never = out
                        .origin_access_control()
                        .and_then(|o| o.origin_access_control_config())
                        .is_some_and(|c| c.signing_behavior().as_str() == "never");
                    if never {
                        findings.push(Finding {
                            severity: Severity::Error,
                            code: "oac-never-signs",
                            resource: format!("origin access control {oac_id}"),
                            message:
                                "its signing behavior is `never`, so S3 sees anonymous requests"
                                    .to_owned(),
                            fix: "set Signing behavior to `always` (Sign requests)".to_owned(),
                        });
                    }
                }
                Err(e) => findings.push(Finding {
                    severity: Severity::Error,
                    code: "oac-missing",
                    resource: format!("origin access control {oac_id}"),
                    message: format!(
                        "the origin points at it but it cannot be read: {}",
                        ApiError::from_sdk("cloudfront:GetOriginAccessControl", e)
                    ),
                    fix: "attach an existing origin access control to the origin".to_owned(),
                }),
            }
        }
        if oac.is_some() {
            check_bucket_policy(clients, plan, bucket, arn, path, findings).await;
        }
    }
}

async fn check_bucket_policy(
    clients: &Clients,
    plan: &Plan,
    bucket: &str,
    arn: &str,
    path: Option<&str>,
    findings: &mut Vec<Finding>,
) {
    let resource = format!("bucket {bucket}");
    let fix = format!(
        "add this statement to the bucket policy (or run `cfsign aws setup --bucket {bucket}`): {}",
        crate::setup::policy_statement(bucket, arn)
    );
    plan.record_read("s3:GetBucketPolicy", [("Bucket", bucket)]);
    let policy = match clients.s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => out.policy().unwrap_or_default().to_owned(),
        Err(e) => {
            let e = ApiError::from_sdk("s3:GetBucketPolicy", e);
            if e.is("NoSuchBucketPolicy") {
                findings.push(Finding {
                    severity: Severity::Error,
                    code: "bucket-policy-missing",
                    resource,
                    message: "the bucket has no policy, so S3 refuses CloudFront's requests (403 \
                              AccessDenied from S3 for every signed URL)"
                        .to_owned(),
                    fix,
                });
            } else {
                findings.push(Finding {
                    severity: Severity::Warning,
                    code: "bucket-policy-unreadable",
                    resource,
                    message: format!("the bucket policy could not be read: {e}"),
                    fix: "check it by hand, or use credentials of the bucket's account".to_owned(),
                });
            }
            return;
        }
    };
    match policy_verdict(&policy, bucket, arn, path) {
        PolicyVerdict::Granted => {}
        PolicyVerdict::NoGrant => findings.push(Finding {
            severity: Severity::Error,
            code: "bucket-policy-no-grant",
            resource,
            message: format!(
                "the bucket policy does not let this distribution ({arn}) read {}, so S3 answers \
                 CloudFront with 403 AccessDenied",
                path.map_or_else(|| "objects".to_owned(), str::to_owned)
            ),
            fix,
        }),
        PolicyVerdict::Denied => findings.push(Finding {
            severity: Severity::Error,
            code: "bucket-policy-denies",
            resource,
            message: format!(
                "a Deny statement of the bucket policy covers this distribution's ({arn}) reads{}, and \
                 a Deny wins over any Allow: S3 answers CloudFront with 403 AccessDenied",
                path.map_or_else(String::new, |p| format!(" of {p}"))
            ),
            fix: "narrow or remove that Deny statement (its Principal, Resource or Condition)"
                .to_owned(),
        }),
    }
}

fn as_list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

/// What a bucket policy says about CloudFront reading objects for a distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyVerdict {
    /// A matching `Allow`, and no matching `Deny`.
    Granted,
    /// A `Deny` that matches the distribution's reads (it wins over any `Allow`).
    Denied,
    /// No statement allows the reads.
    NoGrant,
}

/// Whether the `AWS:SourceArn` conditions of a statement hold for `arn`:
/// `StringEquals` / `ArnEquals` compare exactly, `StringLike` / `ArnLike` with
/// `*` and `?` wildcards. Other conditions are not evaluated.
fn source_arn_holds(statement: &Value, arn: &str) -> bool {
    let Some(condition) = statement.get("Condition").and_then(Value::as_object) else {
        return true;
    };
    condition.iter().all(|(op, map)| {
        let like = match op.as_str() {
            "StringEquals" | "ArnEquals" => false,
            "StringLike" | "ArnLike" => true,
            _ => return true,
        };
        let Some(map) = map.as_object() else {
            return true;
        };
        map.iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case("aws:SourceArn"))
            .all(|(_, v)| {
                as_list(Some(v)).iter().any(|x| {
                    x.as_str().is_some_and(|x| {
                        if like {
                            cfsign::resource::wildcard_match(x, arn)
                        } else {
                            x == arn
                        }
                    })
                })
            })
    })
}

/// Whether a statement's `Principal` covers CloudFront's service principal
/// (`"*"` counts, as it does for a `Deny`).
fn covers_cloudfront(statement: &Value) -> bool {
    match statement.get("Principal") {
        Some(Value::String(p)) => p == "*",
        Some(Value::Object(p)) => {
            p.get("AWS")
                .is_some_and(|a| as_list(Some(a)).iter().any(|v| v.as_str() == Some("*")))
                || p.get("Service").is_some_and(|svc| {
                    as_list(Some(svc))
                        .iter()
                        .any(|v| v.as_str() == Some("cloudfront.amazonaws.com"))
                })
        }
        _ => false,
    }
}

/// What `policy` says about CloudFront reading `bucket`'s objects for `arn`.
/// With `path` (`/videos/a.mp4`, from `--url`) the statements must cover that
/// object; without it an `Allow` on any object of the bucket (a prefix such as
/// `bucket/private/*` too) counts as a grant, and a `Deny` counts when it covers
/// every object (`bucket/*`).
///
/// ```
/// use cfsign_aws::doctor::{PolicyVerdict, policy_verdict};
/// use cfsign_aws::setup::merge_bucket_policy;
/// let arn = "arn:aws:cloudfront::111122223333:distribution/EDFDVBD6EXAMPLE";
/// let policy = merge_bucket_policy(None, "media", arn).unwrap().unwrap();
/// assert_eq!(policy_verdict(&policy, "media", arn, None), PolicyVerdict::Granted);
/// let other = "arn:aws:cloudfront::111122223333:distribution/OTHER";
/// assert_eq!(policy_verdict(&policy, "media", other, None), PolicyVerdict::NoGrant);
/// ```
#[must_use]
pub fn policy_verdict(policy: &str, bucket: &str, arn: &str, path: Option<&str>) -> PolicyVerdict {
    let Ok(value) = serde_json::from_str::<Value>(policy) else {
        return PolicyVerdict::NoGrant;
    };
    let prefix = format!("arn:aws:s3:::{bucket}/");
    let object = path.map(|p| format!("{prefix}{}", p.trim_start_matches('/')));
    let every_object = format!("{prefix}*");
    let mut granted = false;
    for s in as_list(value.get("Statement")) {
        let effect = s.get("Effect").and_then(Value::as_str);
        let action = as_list(s.get("Action")).iter().any(|a| {
            a.as_str().is_some_and(|a| {
                a == "*"
                    || cfsign::resource::wildcard_match(&a.to_ascii_lowercase(), "s3:getobject")
            })
        });
        if !action || !covers_cloudfront(s) || !source_arn_holds(s, arn) {
            continue;
        }
        let resources = as_list(s.get("Resource"));
        let covers = |target: &str| {
            resources.iter().any(|r| {
                r.as_str()
                    .is_some_and(|r| cfsign::resource::wildcard_match(r, target))
            })
        };
        match effect {
            Some("Deny") if covers(object.as_deref().unwrap_or(&every_object)) => {
                return PolicyVerdict::Denied;
            }
            Some("Allow") => {
                let service = s
                    .get("Principal")
                    .and_then(|p| p.get("Service"))
                    .is_some_and(|svc| {
                        as_list(Some(svc))
                            .iter()
                            .any(|v| v.as_str() == Some("cloudfront.amazonaws.com"))
                    });
                let on_object = match &object {
                    Some(object) => covers(object),
                    None => {
                        covers(&format!("{prefix}x"))
                            || resources
                                .iter()
                                .any(|r| r.as_str().is_some_and(|r| r.starts_with(&prefix)))
                    }
                };
                granted |= service && on_object;
            }
            _ => {}
        }
    }
    if granted {
        PolicyVerdict::Granted
    } else {
        PolicyVerdict::NoGrant
    }
}

fn check_url(
    url: &str,
    behaviors: &[Behavior<'_>],
    groups: &BTreeMap<String, Option<KeyGroup>>,
    report: &mut DoctorReport,
    findings: &mut Vec<Finding>,
) {
    let path = url_path(url);
    let Some(behavior) = behaviors
        .iter()
        .find(|b| path_pattern_matches(&b.pattern, path))
    else {
        return;
    };
    report.matched_behavior = Some(behavior.pattern.clone());
    let trusted = group_ids(behavior);
    let resource = format!("behavior {}", behavior.pattern);
    if let Some(key_id) = query_param(url, "Key-Pair-Id") {
        let trusted_keys: Vec<&str> = trusted
            .iter()
            .filter_map(|g| groups.get(g).and_then(Option::as_ref))
            .flat_map(|g| g.keys().iter().map(|(k, _)| k.as_str()))
            .collect();
        if !trusted.is_empty() && !trusted_keys.contains(&key_id) {
            findings.push(Finding {
                severity: Severity::Error,
                code: "key-not-trusted",
                resource: resource.clone(),
                message: format!(
                    "the URL is signed with key {key_id}, which is in none of the key groups this \
                     behavior ({path} matched {}) trusts; trusted keys: {}",
                    behavior.pattern,
                    if trusted_keys.is_empty() { "none".to_owned() } else { trusted_keys.join(", ") }
                ),
                fix: format!(
                    "sign with one of the trusted keys, or add {key_id}'s public key to the group: cfsign \
                     aws keys add --key-group GROUP --public-key public_key.pem"
                ),
            });
        }
    }
    if trusted.is_empty() {
        return;
    }
    let mut verifier = Verifier::new();
    for g in trusted
        .iter()
        .filter_map(|g| groups.get(g).and_then(Option::as_ref))
    {
        verifier = verifier.with_key_group(g.clone());
    }
    let request = ViewerRequest::new(url);
    let now = jiff::Timestamp::now();
    let explanation = cfsign::explain::explain(Some(&verifier), &request, now);
    match &explanation.decision {
        Some(cfsign::verify::Decision::Allowed(_)) => {
            report.url_verdict = Some("allowed".to_owned());
        }
        Some(cfsign::verify::Decision::Denied(d)) => {
            report.url_verdict = Some(d.to_string());
            let causes: Vec<String> = explanation
                .findings
                .iter()
                .map(|f| format!("{} (fix: {})", f.summary, f.fix))
                .collect();
            findings.push(Finding {
                severity: Severity::Error,
                code: "signature-denied",
                resource,
                message: format!(
                    "with the keys read from CloudFront, this URL is denied: {d}{}",
                    if causes.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", causes.join("; "))
                    }
                ),
                fix: format!(
                    "`cfsign explain '{url}' --public-key KEYID=public_key.pem` shows the details"
                ),
            });
        }
        None => {}
    }
}

/// The text between `<tag>` and `</tag>`.
fn xml_tag<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(&body[start..end])
}

/// Tells a CloudFront denial from an S3 one by the headers and body.
///
/// ```
/// use cfsign_aws::doctor::who_denied;
/// assert_eq!(who_denied(Some("CloudFront"), Some("Error from cloudfront"), None), "cloudfront");
/// assert_eq!(who_denied(Some("AmazonS3"), Some("Error from cloudfront"), Some("ABC123")), "s3");
/// ```
#[must_use]
pub fn who_denied(
    server: Option<&str>,
    x_cache: Option<&str>,
    amz_request_id: Option<&str>,
) -> &'static str {
    let server = server.unwrap_or_default().to_ascii_lowercase();
    if server.contains("amazons3") || amz_request_id.is_some() {
        "s3"
    } else if server.contains("cloudfront") || x_cache.is_some() {
        "cloudfront"
    } else {
        "unknown"
    }
}

async fn fetch(url: &str, findings: &mut Vec<Finding>) -> FetchResult {
    let resource = "the URL".to_owned();
    let client = match reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            findings.push(Finding {
                severity: Severity::Warning,
                code: "fetch-failed",
                resource,
                message: format!("could not make an HTTP client: {e}"),
                fix: "check the system's TLS set-up".to_owned(),
            });
            return FetchResult {
                status: 0,
                server: None,
                x_cache: None,
                error_code: None,
                denied_by: None,
            };
        }
    };
    let mut response = match client.get(url).send().await {
        Ok(r) => r,
        Err(e) => {
            findings.push(Finding {
                severity: Severity::Warning,
                code: "fetch-failed",
                resource,
                message: format!("GET failed: {e}"),
                fix: "check the URL, DNS and network; the distribution may still be deploying"
                    .to_owned(),
            });
            return FetchResult {
                status: 0,
                server: None,
                x_cache: None,
                error_code: None,
                denied_by: None,
            };
        }
    };
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = response.status().as_u16();
    let server = header("server");
    let x_cache = header("x-cache");
    let request_id = header("x-amz-request-id");
    let mut body = Vec::new();
    while body.len() < FETCH_MAX_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(FETCH_MAX_BYTES);
    let text = String::from_utf8_lossy(&body);
    let error_code = xml_tag(&text, "Code").map(str::to_owned);
    let mut result = FetchResult {
        status,
        server: server.clone(),
        x_cache: x_cache.clone(),
        error_code: error_code.clone(),
        denied_by: None,
    };
    if status < 400 {
        return result;
    }
    let by = who_denied(server.as_deref(), x_cache.as_deref(), request_id.as_deref());
    result.denied_by = Some(by);
    let code = error_code.unwrap_or_else(|| "no error code".to_owned());
    let message = xml_tag(&text, "Message").unwrap_or_default().to_owned();
    let (finding_code, message, fix) = match by {
        "s3" => (
            "denied-by-s3",
            format!(
                "{status} {code} from S3 (CloudFront accepted the signature and forwarded the request; \
                 the bucket refused it){}",
                if message.is_empty() { String::new() } else { format!(": {message}") }
            ),
            "check the origin access control and the bucket policy (findings above), and that the object \
             exists: S3 answers 403 instead of 404 when CloudFront may not list the bucket"
                .to_owned(),
        ),
        "cloudfront" => (
            "denied-by-cloudfront",
            format!(
                "{status} {code} from CloudFront (the edge refused the signature or policy){}",
                if message.is_empty() { String::new() } else { format!(": {message}") }
            ),
            match code.as_str() {
                "MissingKey" => "the URL carries no signature, or the behavior trusts no key: sign it \
                                 (cfsign url ...)"
                    .to_owned(),
                _ => format!("run `cfsign explain '{url}' --public-key KEYID=public_key.pem` for the cause"),
            },
        ),
        _ => (
            "denied",
            format!("{status} {code} from an unknown server"),
            "check that the URL points at the distribution's domain".to_owned(),
        ),
    };
    findings.push(Finding {
        severity: Severity::Error,
        code: finding_code,
        resource,
        message,
        fix,
    });
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_policy(json: &str) -> String {
        format!(
            "https://d111111abcdef8.cloudfront.net/a.mp4?Policy={}&Signature=x&Key-Pair-Id=K1",
            cfsign::cloudfront_base64::encode(json.as_bytes())
        )
    }

    const ARN: &str = "arn:aws:cloudfront::111122223333:distribution/E1";

    fn policy(statements: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
    }

    fn allow(resource: &str, condition: &str) -> String {
        format!(
            r#"{{"Effect":"Allow","Principal":{{"Service":"cloudfront.amazonaws.com"}},"Action":"s3:GetObject","Resource":"{resource}","Condition":{condition}}}"#
        )
    }

    #[test]
    fn a_matching_deny_wins_over_the_grant() {
        let deny = r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::media/*"}"#;
        let grant = allow(
            "arn:aws:s3:::media/*",
            &format!(r#"{{"StringEquals":{{"AWS:SourceArn":"{ARN}"}}}}"#),
        );
        let both = policy(&format!("{grant},{deny}"));
        assert_eq!(
            policy_verdict(&both, "media", ARN, None),
            PolicyVerdict::Denied
        );
        assert_eq!(
            policy_verdict(&policy(&grant), "media", ARN, None),
            PolicyVerdict::Granted
        );
        // A Deny for another distribution does not apply.
        let other_deny = r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::media/*","Condition":{"StringEquals":{"AWS:SourceArn":"arn:aws:cloudfront::111122223333:distribution/E2"}}}"#;
        let p = policy(&format!("{grant},{other_deny}"));
        assert_eq!(
            policy_verdict(&p, "media", ARN, None),
            PolicyVerdict::Granted
        );
    }

    #[test]
    fn equals_is_exact_and_like_is_a_wildcard() {
        let wildcard = "arn:aws:cloudfront::111122223333:distribution/*";
        let equals = policy(&allow(
            "arn:aws:s3:::media/*",
            &format!(r#"{{"StringEquals":{{"AWS:SourceArn":"{wildcard}"}}}}"#),
        ));
        assert_eq!(
            policy_verdict(&equals, "media", ARN, None),
            PolicyVerdict::NoGrant
        );
        let like = policy(&allow(
            "arn:aws:s3:::media/*",
            &format!(r#"{{"ArnLike":{{"AWS:SourceArn":"{wildcard}"}}}}"#),
        ));
        assert_eq!(
            policy_verdict(&like, "media", ARN, None),
            PolicyVerdict::Granted
        );
    }

    #[test]
    fn a_prefix_grant_counts_and_is_checked_against_the_url_path() {
        let prefix = policy(&allow(
            "arn:aws:s3:::media/private/*",
            &format!(r#"{{"StringEquals":{{"AWS:SourceArn":"{ARN}"}}}}"#),
        ));
        assert_eq!(
            policy_verdict(&prefix, "media", ARN, None),
            PolicyVerdict::Granted
        );
        assert_eq!(
            policy_verdict(&prefix, "media", ARN, Some("/private/a.mp4")),
            PolicyVerdict::Granted
        );
        assert_eq!(
            policy_verdict(&prefix, "media", ARN, Some("/public/a.mp4")),
            PolicyVerdict::NoGrant
        );
        // Another bucket's objects are no grant.
        assert_eq!(
            policy_verdict(&prefix, "other", ARN, None),
            PolicyVerdict::NoGrant
        );
    }

    #[test]
    fn only_custom_policies_with_an_ip_condition_restrict_ips() {
        let ip = r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400},"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"}}}]}"#;
        let no_ip = r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400}}}]}"#;
        assert!(url_restricts_ip(&with_policy(ip)));
        assert!(!url_restricts_ip(&with_policy(no_ip)));
        assert!(!url_restricts_ip(
            "https://d111111abcdef8.cloudfront.net/a.mp4?Expires=1767290400&Signature=x&Key-Pair-Id=K1"
        ));
        assert!(!url_restricts_ip(
            "https://d111111abcdef8.cloudfront.net/a.mp4?Policy=%%%"
        ));
    }
}
