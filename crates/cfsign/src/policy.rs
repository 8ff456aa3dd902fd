//! The policy model: what a signature grants, and the exact bytes that are signed.
//!
//! A [`Policy`] is one statement: a [`Resource`], `DateLessThan` (required),
//! optional `DateGreaterThan` and optional `IpAddress` (IPv4 only). It is
//! *canned* when the only condition is expiry and the resource is the URL itself
//! (CloudFront rebuilds that policy from the request, so only `Expires` travels);
//! otherwise it is *custom* and its JSON travels base64-encoded in `Policy`.
//!
//! The JSON is produced byte-exactly:
//! - canned: `{"Statement":[{"Resource":"<URL>","Condition":{"DateLessThan":{"AWS:EpochTime":<N>}}}]}`
//! - custom: compact, keys in the order `Resource`, `Condition`, and inside
//!   `Condition` `DateLessThan`, `IpAddress`, `DateGreaterThan` — the order
//!   botocore and the AWS CLI emit, so the bytes are identical to theirs.
//!   Resources never need JSON escaping (they are validated percent-encoded
//!   ASCII without `"` or `\`), so `/` is never escaped and nothing is
//!   `\u`-escaped.
//!
//! ```
//! use std::time::Duration;
//! use cfsign::{Policy, PolicyForm, Resource};
//! use jiff::Timestamp;
//!
//! let now: Timestamp = "2026-01-01T17:00:00Z".parse()?;
//! let canned = Policy::builder(Resource::url("https://d111111abcdef8.cloudfront.net/a.jpg")?)
//!     .expires_in(Duration::from_secs(3600))
//!     .build_at(now)?;
//! assert_eq!(canned.form(), PolicyForm::Canned);
//! assert_eq!(
//!     canned.json(),
//!     r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/a.jpg","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400}}}]}"#
//! );
//!
//! let custom = Policy::builder(Resource::pattern("https://d111111abcdef8.cloudfront.net/videos/*")?)
//!     .expires_in(Duration::from_secs(3600))
//!     .source_ip("192.0.2.0/24".parse()?)
//!     .build_at(now)?;
//! assert_eq!(custom.form(), PolicyForm::Custom);
//! assert_eq!(
//!     custom.json(),
//!     r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/videos/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400},"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"}}}]}"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::time::Duration;

use ipnet::Ipv4Net;
use jiff::Timestamp;
use serde::Deserialize;

use crate::excerpt::Excerpt;
use crate::input::Limit;
use crate::layout::Layout;
use crate::resource::{Resource, ResourceError};
use crate::time::{self, EpochSeconds, TimeError};

/// The bound for a policy file. CloudFront accepts requests of at most 20,480
/// bytes, headers and query together (spec §2.8), and a custom policy travels
/// base64-encoded, a third larger, in the query or the `CloudFront-Policy`
/// cookie: a policy over 15,360 bytes can never reach it.
pub const POLICY_FILE: Limit = Limit::new(
    "the policy file",
    16 * 1024,
    "CloudFront accepts requests of at most 20,480 bytes and a policy travels base64-encoded \
     (a third larger), so a larger policy can never reach it: check that this is the policy JSON",
);

/// Whether the policy travels (custom) or is rebuilt by CloudFront (canned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyForm {
    /// Only `Expires` travels; CloudFront rebuilds the JSON from the request URL.
    Canned,
    /// The JSON travels base64-encoded in `Policy`.
    Custom,
}

impl fmt::Display for PolicyForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyForm::Canned => "canned",
            PolicyForm::Custom => "custom",
        })
    }
}

/// Why a policy cannot be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// No expiry was given.
    #[error("an expiry is required (DateLessThan): give an absolute time or a duration from now")]
    MissingExpiry,
    /// A time value was refused.
    #[error("{field}: {error}")]
    Time {
        /// Which value (`DateLessThan`, `DateGreaterThan`).
        field: &'static str,
        /// Why. (Included in the message, so not exposed as `source()`.)
        error: TimeError,
    },
    /// Expiry at or before now.
    #[error(
        "the expiry {expires} is not in the future (now is {now}); a URL signed with it is denied at \
         once{hint}"
    )]
    PastExpiry {
        /// The expiry.
        expires: Timestamp,
        /// The clock used.
        now: Timestamp,
        /// Extra diagnosis, empty or starting with "; ".
        hint: String,
    },
    /// Start time at or after expiry.
    #[error(
        "the start time (DateGreaterThan) {start} must be before the expiry (DateLessThan) {expires}"
    )]
    StartNotBeforeExpiry {
        /// `DateGreaterThan`.
        start: Timestamp,
        /// `DateLessThan`.
        expires: Timestamp,
    },
    /// An IPv6 address or range.
    #[error(
        "{} is IPv6; CloudFront policies support IPv4 only (AWS:SourceIp), and IPv6 viewers are \
         denied by any IP condition, so keep IPv6 disabled on distributions that use IP-restricted policies",
        Excerpt::start(input)
    )]
    Ipv6 {
        /// The input.
        input: String,
    },
    /// Not an IPv4 address or CIDR.
    #[error(
        "{} is not an IPv4 address or CIDR range (e.g. 192.0.2.10 or 192.0.2.0/24){detail}",
        Excerpt::start(input)
    )]
    BadIp {
        /// The input.
        input: String,
        /// Extra diagnosis, empty or starting with "; ".
        detail: String,
    },
    /// The resource was refused.
    #[error(transparent)]
    Resource(#[from] ResourceError),
    /// Not JSON at all.
    #[error("the policy is not valid JSON: {0}")]
    Json(String),
    /// JSON, but not a CloudFront policy.
    #[error("the policy is not a CloudFront policy: {0}")]
    Structure(String),
}

/// The `IpAddress` condition: one IPv4 address or CIDR range.
///
/// A bare address gets `/32`, as in botocore and the AWS CLI. The text is kept as
/// written (`192.0.2.7/24` is not truncated), so the signed JSON matches other
/// signers byte for byte; [`lint`](crate::lint) warns about host bits.
///
/// ```
/// use cfsign::SourceIp;
///
/// assert_eq!("192.0.2.10".parse::<SourceIp>()?.to_string(), "192.0.2.10/32");
/// assert!("2001:db8::/32".parse::<SourceIp>().unwrap_err().to_string().contains("IPv4 only"));
/// # Ok::<(), cfsign::PolicyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceIp(Ipv4Net);

impl SourceIp {
    /// The range.
    #[must_use]
    pub fn net(&self) -> Ipv4Net {
        self.0
    }

    /// Whether `addr` is inside the range.
    #[must_use]
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.0.contains(&addr)
    }

    /// Parses the value of `AWS:SourceIp` in policy JSON, where the mask is required.
    fn from_policy_value(text: &str) -> Result<Self, PolicyError> {
        if !text.contains('/') {
            return Err(PolicyError::BadIp {
                input: text.to_owned(),
                detail: format!("; policy JSON needs the mask: write \"{text}/32\""),
            });
        }
        text.parse()
    }
}

impl FromStr for SourceIp {
    type Err = PolicyError;
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        if text.contains(':') {
            let is_v6 = text.parse::<IpAddr>().is_ok_and(|a| a.is_ipv6())
                || text.parse::<ipnet::Ipv6Net>().is_ok();
            if is_v6 {
                return Err(PolicyError::Ipv6 {
                    input: input.to_owned(),
                });
            }
        }
        let bad = |detail: String| PolicyError::BadIp {
            input: input.to_owned(),
            detail,
        };
        if text.contains('/') {
            text.parse::<Ipv4Net>()
                .map(SourceIp)
                .map_err(|_| bad(String::new()))
        } else {
            text.parse::<Ipv4Addr>()
                .map(|a| SourceIp(Ipv4Net::from(a)))
                .map_err(|_| bad(String::new()))
        }
    }
}

impl fmt::Display for SourceIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.addr(), self.0.prefix_len())
    }
}

/// An instant given absolutely or relative to "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    At(Timestamp),
    In(Duration),
}

impl When {
    fn resolve(self, now: Timestamp, field: &'static str) -> Result<Timestamp, PolicyError> {
        match self {
            When::At(t) => Ok(t),
            When::In(d) => {
                time::add_duration(now, d).map_err(|error| PolicyError::Time { field, error })
            }
        }
    }
}

/// Builds a [`Policy`]; see [`Policy::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct PolicyBuilder {
    resource: Resource,
    expires: Option<When>,
    not_before: Option<When>,
    source_ip: Option<SourceIp>,
    allow_past_expiry: bool,
    force_custom: bool,
    layout: Layout,
}

impl PolicyBuilder {
    /// Access ends at this instant (`DateLessThan`). Sub-second precision is
    /// rounded down, so access never lasts longer than asked.
    pub fn expires_at(mut self, at: Timestamp) -> Self {
        self.expires = Some(When::At(at));
        self
    }

    /// Access ends this long after "now".
    pub fn expires_in(mut self, duration: Duration) -> Self {
        self.expires = Some(When::In(duration));
        self
    }

    /// Access starts after this instant (`DateGreaterThan`; CloudFront refuses
    /// requests *on or before* it). Rounded up to a whole second. Makes the policy custom.
    pub fn not_before(mut self, at: Timestamp) -> Self {
        self.not_before = Some(When::At(at));
        self
    }

    /// Access starts this long after "now". Makes the policy custom.
    pub fn not_before_in(mut self, duration: Duration) -> Self {
        self.not_before = Some(When::In(duration));
        self
    }

    /// Restricts access to viewers in this IPv4 range. Makes the policy custom.
    pub fn source_ip(mut self, ip: SourceIp) -> Self {
        self.source_ip = Some(ip);
        self
    }

    /// Accepts an expiry that is not in the future (for tests and reproductions).
    pub fn allow_past_expiry(mut self, allow: bool) -> Self {
        self.allow_past_expiry = allow;
        self
    }

    /// Uses a custom policy even when a canned one would do (e.g. so that the
    /// `Policy` value can be inspected or reused as a cookie).
    pub fn force_custom(mut self, force: bool) -> Self {
        self.force_custom = force;
        self
    }

    /// Orders the conditions of a custom policy as another signer does (see
    /// [`Layout`]); CloudFront accepts any order. Defaults to [`Layout::Botocore`].
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Builds with the system clock as "now".
    pub fn build(self) -> Result<Policy, PolicyError> {
        self.build_at(Timestamp::now())
    }

    /// Builds with an explicit "now" (resolves durations, checks the expiry is
    /// in the future).
    pub fn build_at(self, now: Timestamp) -> Result<Policy, PolicyError> {
        let expires_at = self
            .expires
            .ok_or(PolicyError::MissingExpiry)?
            .resolve(now, "DateLessThan")?;
        let expires = checked_epoch(
            expires_at,
            "DateLessThan",
            EpochSeconds::from_timestamp_floor,
        )?;
        if !self.allow_past_expiry && expires.to_timestamp() <= now {
            return Err(PolicyError::PastExpiry {
                expires: expires.to_timestamp(),
                now,
                hint: String::new(),
            });
        }
        let starts = match self.not_before {
            Some(w) => {
                let at = w.resolve(now, "DateGreaterThan")?;
                let s = checked_epoch(at, "DateGreaterThan", EpochSeconds::from_timestamp_ceil)?;
                if s >= expires {
                    return Err(PolicyError::StartNotBeforeExpiry {
                        start: s.to_timestamp(),
                        expires: expires.to_timestamp(),
                    });
                }
                Some(s)
            }
            None => None,
        };
        let canned = !self.force_custom
            && starts.is_none()
            && self.source_ip.is_none()
            && matches!(self.resource, Resource::Url(_) | Resource::RtmpStream(_));
        let form = if canned {
            PolicyForm::Canned
        } else {
            PolicyForm::Custom
        };
        let json = render(
            self.resource.as_str(),
            expires,
            self.source_ip,
            starts,
            self.layout,
        );
        Ok(Policy {
            resource: Some(self.resource),
            date_less_than: expires,
            date_greater_than: starts,
            source_ip: self.source_ip,
            form,
            json,
        })
    }
}

fn checked_epoch(
    t: Timestamp,
    field: &'static str,
    convert: fn(Timestamp) -> EpochSeconds,
) -> Result<EpochSeconds, PolicyError> {
    let s = t.as_second();
    if s < 0 {
        return Err(PolicyError::Time {
            field,
            error: TimeError::Negative { value: s },
        });
    }
    if s > time::MAX_EPOCH_SECONDS {
        return Err(PolicyError::Time {
            field,
            error: TimeError::TooLarge {
                value: t.to_string(),
            },
        });
    }
    Ok(convert(t))
}

/// Renders the statement. With only `DateLessThan` this is the canned template;
/// the custom form adds conditions in the order of `layout`.
fn render(
    resource: &str,
    expires: EpochSeconds,
    ip: Option<SourceIp>,
    starts: Option<EpochSeconds>,
    layout: Layout,
) -> String {
    use fmt::Write as _;
    let mut json = String::with_capacity(resource.len() + 160);
    json.push_str(r#"{"Statement":[{"Resource":""#);
    json.push_str(resource);
    let _ = write!(
        json,
        r#"","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}"#
    );
    let write_ip = |json: &mut String| {
        if let Some(ip) = ip {
            let _ = write!(json, r#","IpAddress":{{"AWS:SourceIp":"{ip}"}}"#);
        }
    };
    let write_start = |json: &mut String| {
        if let Some(s) = starts {
            let _ = write!(json, r#","DateGreaterThan":{{"AWS:EpochTime":{s}}}"#);
        }
    };
    match layout {
        Layout::Botocore => {
            write_ip(&mut json);
            write_start(&mut json);
        }
        Layout::AwsSdkJs => {
            write_start(&mut json);
            write_ip(&mut json);
        }
    }
    json.push_str("}}]}");
    json
}

/// The canned-policy bytes for `resource` and `expires` (what CloudFront rebuilds
/// from a request that carries `Expires`).
///
/// ```
/// use cfsign::{policy::canned_policy_json, time::EpochSeconds};
///
/// let json = canned_policy_json("https://abc.cloudfront.net/images/image.jpg?color=red", EpochSeconds::new(1357034400)?);
/// assert_eq!(json, r#"{"Statement":[{"Resource":"https://abc.cloudfront.net/images/image.jpg?color=red","Condition":{"DateLessThan":{"AWS:EpochTime":1357034400}}}]}"#);
/// # Ok::<(), cfsign::time::TimeError>(())
/// ```
#[must_use]
pub fn canned_policy_json(resource: &str, expires: EpochSeconds) -> String {
    render(resource, expires, None, None, Layout::Botocore)
}

/// One policy statement plus the exact bytes that are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    resource: Option<Resource>,
    date_less_than: EpochSeconds,
    date_greater_than: Option<EpochSeconds>,
    source_ip: Option<SourceIp>,
    form: PolicyForm,
    json: String,
}

impl Policy {
    /// Starts a policy for `resource`. An expiry is required.
    ///
    /// A [`Resource::Url`] with a `*` in it is taken as the [`Resource::Pattern`]
    /// CloudFront reads it as, so the policy is custom (as `Resource::from` a
    /// [`SignableUrl`](crate::SignableUrl) decides); a `?` in its query stays exact
    /// and canned.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cfsign::{Policy, PolicyForm, Resource, SignableUrl};
    ///
    /// let star = SignableUrl::parse("https://x.net/a*.ts")?;
    /// let policy = Policy::builder(Resource::Url(star)).expires_in(Duration::from_secs(60)).build()?;
    /// assert_eq!(policy.form(), PolicyForm::Custom);
    /// let literal = SignableUrl::parse("https://x.net/a.ts?v=?")?;
    /// let policy = Policy::builder(Resource::Url(literal)).expires_in(Duration::from_secs(60)).build()?;
    /// assert_eq!(policy.form(), PolicyForm::Canned);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(resource: Resource) -> PolicyBuilder {
        PolicyBuilder {
            resource: match resource {
                Resource::Url(url) => Resource::from(url),
                other => other,
            },
            expires: None,
            not_before: None,
            source_ip: None,
            allow_past_expiry: false,
            force_custom: false,
            layout: Layout::Botocore,
        }
    }

    /// Parses a custom policy given as JSON text and keeps its bytes exactly as
    /// given (whitespace included): that is what is signed and base64-encoded.
    ///
    /// Validated strictly: one object with only `Statement`, holding exactly one
    /// statement with only `Resource` (optional, a valid resource) and
    /// `Condition`, which has `DateLessThan` (required) and optionally
    /// `DateGreaterThan` and `IpAddress`; epochs are integers in seconds; no key
    /// appears twice. Anything else is refused with the reason.
    ///
    /// ```
    /// use cfsign::Policy;
    ///
    /// let p = Policy::from_json(r#"{"Statement":[{"Resource":"https://x.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400}}}]}"#)?;
    /// assert_eq!(p.date_less_than().get(), 1767290400);
    ///
    /// let err = Policy::from_json(r#"{"Statement":[{"Resource":"https://x.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400000}}}]}"#).unwrap_err();
    /// assert!(err.to_string().contains("milliseconds"));
    /// # Ok::<(), cfsign::PolicyError>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let parsed: PolicyJson = serde_json::from_str(text).map_err(|e| {
            if e.is_data() {
                PolicyError::Structure(data_error_message(&e))
            } else {
                PolicyError::Json(e.to_string())
            }
        })?;
        let [statement]: [StatementJson; 1] =
            parsed.statement.try_into().map_err(|v: Vec<_>| {
                PolicyError::Structure(format!(
                    "\"Statement\" must hold exactly one statement, it holds {}",
                    v.len()
                ))
            })?;
        let resource = statement
            .resource
            .as_deref()
            .map(resource_from_policy)
            .transpose()?;
        let condition = statement.condition;
        let dlt = condition.date_less_than.ok_or_else(|| {
            PolicyError::Structure(
                "\"Condition\" has no \"DateLessThan\", which CloudFront requires".to_owned(),
            )
        })?;
        let date_less_than = dlt.epoch("DateLessThan")?;
        let date_greater_than = condition
            .date_greater_than
            .map(|d| d.epoch("DateGreaterThan"))
            .transpose()?;
        let source_ip = condition
            .ip_address
            .map(|ip| SourceIp::from_policy_value(&ip.source_ip))
            .transpose()?;
        Ok(Policy {
            resource,
            date_less_than,
            date_greater_than,
            source_ip,
            form: PolicyForm::Custom,
            json: text.to_owned(),
        })
    }

    /// The exact bytes that are signed (and, for custom policies, base64-encoded
    /// into `Policy`).
    #[must_use]
    pub fn json(&self) -> &str {
        &self.json
    }

    /// Canned or custom.
    #[must_use]
    pub fn form(&self) -> PolicyForm {
        self.form
    }

    /// The resource; `None` only for parsed JSON without `Resource` (which grants
    /// every file of every distribution that trusts the key).
    #[must_use]
    pub fn resource(&self) -> Option<&Resource> {
        self.resource.as_ref()
    }

    /// `DateLessThan`.
    #[must_use]
    pub fn date_less_than(&self) -> EpochSeconds {
        self.date_less_than
    }

    /// `DateGreaterThan`.
    #[must_use]
    pub fn date_greater_than(&self) -> Option<EpochSeconds> {
        self.date_greater_than
    }

    /// `IpAddress` / `AWS:SourceIp`.
    #[must_use]
    pub fn source_ip(&self) -> Option<SourceIp> {
        self.source_ip
    }

    /// Whether a request for `url` is covered by the resource.
    #[must_use]
    pub fn covers(&self, url: &crate::SignableUrl) -> bool {
        match &self.resource {
            Some(r) => r.matches(url),
            None => true,
        }
    }
}

/// A policy's `Resource`: an exact URL when it is one without a wildcard, a
/// pattern when it has one (a `*`, or a `?` other than the query delimiter:
/// [`crate::resource::has_wildcard`], as for a resource given on its own) or is
/// not a URL we would sign, a legacy RTMP stream name when it has no scheme.
fn resource_from_policy(text: &str) -> Result<Resource, ResourceError> {
    if text.contains("://") || text.starts_with('*') {
        match crate::SignableUrl::parse(text) {
            Ok(url) if !crate::resource::has_wildcard(text) => Ok(Resource::Url(url)),
            _ => Resource::pattern(text),
        }
    } else {
        Resource::rtmp_stream(text)
    }
}

fn data_error_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let hint = if msg.contains("unknown field") {
        "; a CloudFront policy has only \"Statement\" > [{\"Resource\", \"Condition\"}] and conditions \
         DateLessThan, DateGreaterThan, IpAddress (IAM/S3 keys such as Version, Sid, Effect, Principal, \
         Action are not part of it)"
    } else if msg.contains("duplicate field") {
        "; each key may appear once"
    } else {
        ""
    };
    format!("{msg}{hint}")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyJson {
    #[serde(rename = "Statement")]
    statement: Vec<StatementJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementJson {
    #[serde(rename = "Resource")]
    resource: Option<String>,
    #[serde(rename = "Condition")]
    condition: ConditionJson,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionJson {
    #[serde(rename = "DateLessThan")]
    date_less_than: Option<EpochJson>,
    #[serde(rename = "DateGreaterThan")]
    date_greater_than: Option<EpochJson>,
    #[serde(rename = "IpAddress")]
    ip_address: Option<IpJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EpochJson {
    #[serde(rename = "AWS:EpochTime")]
    epoch: serde_json::Value,
}

impl EpochJson {
    fn epoch(&self, field: &'static str) -> Result<EpochSeconds, PolicyError> {
        let structure = |m: String| PolicyError::Structure(format!("{field}: {m}"));
        match &self.epoch {
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => EpochSeconds::new(i).map_err(|error| PolicyError::Time { field, error }),
                None if n.is_u64() => Err(PolicyError::Time {
                    field,
                    error: TimeError::TooLarge {
                        value: n.to_string(),
                    },
                }),
                None => Err(structure(format!(
                    "AWS:EpochTime {n} must be a whole number of seconds"
                ))),
            },
            serde_json::Value::String(s) => Err(structure(format!(
                "AWS:EpochTime is the string {}; write it as a number without quotes",
                Excerpt::start(s)
            ))),
            other => Err(structure(format!(
                "AWS:EpochTime must be a number, not {other}"
            ))),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IpJson {
    #[serde(rename = "AWS:SourceIp")]
    source_ip: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-01-01T17:00:00Z".parse().unwrap()
    }

    fn url(s: &str) -> Resource {
        Resource::url(s).unwrap()
    }

    #[test]
    fn custom_key_order_matches_botocore() {
        let p = Policy::builder(url("https://example.com/a"))
            .expires_at(Timestamp::from_second(1_767_290_400).unwrap())
            .not_before(Timestamp::from_second(1_767_200_000).unwrap())
            .source_ip("192.0.2.10".parse().unwrap())
            .build_at(now())
            .unwrap();
        assert_eq!(p.form(), PolicyForm::Custom);
        assert_eq!(
            p.json(),
            r#"{"Statement":[{"Resource":"https://example.com/a","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400},"IpAddress":{"AWS:SourceIp":"192.0.2.10/32"},"DateGreaterThan":{"AWS:EpochTime":1767200000}}}]}"#
        );
        // and it parses back to the same values
        let back = Policy::from_json(p.json()).unwrap();
        assert_eq!(back.date_less_than(), p.date_less_than());
        assert_eq!(back.date_greater_than(), p.date_greater_than());
        assert_eq!(back.source_ip(), p.source_ip());
        assert_eq!(back.resource(), p.resource());
    }

    #[test]
    fn form_selection() {
        let e = Timestamp::from_second(1_767_290_400).unwrap();
        let b = |r| Policy::builder(r).expires_at(e);
        assert_eq!(
            b(url("https://x.net/a")).build_at(now()).unwrap().form(),
            PolicyForm::Canned
        );
        assert_eq!(
            b(Resource::pattern("https://x.net/*").unwrap())
                .build_at(now())
                .unwrap()
                .form(),
            PolicyForm::Custom
        );
        assert_eq!(
            b(url("https://x.net/a"))
                .force_custom(true)
                .build_at(now())
                .unwrap()
                .form(),
            PolicyForm::Custom
        );
        assert_eq!(
            b(url("https://x.net/a"))
                .source_ip("10.0.0.0/8".parse().unwrap())
                .build_at(now())
                .unwrap()
                .form(),
            PolicyForm::Custom
        );
        assert_eq!(
            b(Resource::rtmp_stream("videos/a.flv").unwrap())
                .build_at(now())
                .unwrap()
                .form(),
            PolicyForm::Canned
        );
    }

    #[test]
    fn time_rules() {
        let r = || url("https://x.net/a");
        assert_eq!(
            Policy::builder(r()).build_at(now()),
            Err(PolicyError::MissingExpiry)
        );
        let past = Policy::builder(r())
            .expires_at(now())
            .build_at(now())
            .unwrap_err();
        assert!(matches!(past, PolicyError::PastExpiry { .. }), "{past}");
        assert!(
            Policy::builder(r())
                .expires_at(now())
                .allow_past_expiry(true)
                .build_at(now())
                .is_ok()
        );
        let start_after = Policy::builder(r())
            .expires_in(Duration::from_secs(60))
            .not_before_in(Duration::from_secs(60))
            .build_at(now())
            .unwrap_err();
        assert!(matches!(
            start_after,
            PolicyError::StartNotBeforeExpiry { .. }
        ));
        let far = Policy::builder(r())
            .expires_at("2300-01-01T00:00:00Z".parse().unwrap())
            .build_at(now());
        assert!(matches!(
            far,
            Err(PolicyError::Time {
                field: "DateLessThan",
                ..
            })
        ));
        // sub-second expiry rounds down, start rounds up
        let p = Policy::builder(r())
            .expires_at("2026-01-01T18:00:00.9Z".parse().unwrap())
            .not_before("2026-01-01T17:30:00.1Z".parse().unwrap())
            .build_at(now())
            .unwrap();
        assert_eq!(p.date_less_than().get(), 1_767_290_400);
        assert_eq!(p.date_greater_than().unwrap().get(), 1_767_288_601);
    }

    #[test]
    fn source_ip_forms() {
        assert_eq!(
            "203.0.113.0/24".parse::<SourceIp>().unwrap().to_string(),
            "203.0.113.0/24"
        );
        assert_eq!(
            "203.0.113.7/24".parse::<SourceIp>().unwrap().to_string(),
            "203.0.113.7/24"
        );
        assert!(matches!(
            "::1".parse::<SourceIp>(),
            Err(PolicyError::Ipv6 { .. })
        ));
        assert!(matches!(
            "2001:db8::/48".parse::<SourceIp>(),
            Err(PolicyError::Ipv6 { .. })
        ));
        assert!(matches!(
            "300.1.1.1".parse::<SourceIp>(),
            Err(PolicyError::BadIp { .. })
        ));
        assert!(matches!(
            "10.0.0.0/33".parse::<SourceIp>(),
            Err(PolicyError::BadIp { .. })
        ));
        let ip: SourceIp = "192.0.2.0/24".parse().unwrap();
        assert!(ip.contains(Ipv4Addr::new(192, 0, 2, 255)));
        assert!(!ip.contains(Ipv4Addr::new(192, 0, 3, 0)));
    }

    #[test]
    fn from_json_keeps_bytes_and_refuses_non_policies() {
        let pretty = "{\n  \"Statement\": [{\"Resource\": \"https://x.net/*\", \"Condition\": {\"DateLessThan\": {\"AWS:EpochTime\": 1767290400}}}]\n}\n";
        assert_eq!(Policy::from_json(pretty).unwrap().json(), pretty);
        let no_resource =
            r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":1767290400}}}]}"#;
        assert!(Policy::from_json(no_resource).unwrap().resource().is_none());

        let cases: &[(&str, &str)] = &[
            ("not json", "not valid JSON"),
            (r#"{"Statement":[]}"#, "exactly one statement, it holds 0"),
            (
                r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":1}}},{"Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}"#,
                "it holds 2",
            ),
            (
                r#"{"Statement":[{"Resource":"https://x.net/*","Condition":{}}]}"#,
                "no \"DateLessThan\"",
            ),
            (
                r#"{"Statement":[{"Resource":"https://x.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":"1767290400"}}}]}"#,
                "without quotes",
            ),
            (
                r#"{"Statement":[{"Resource":"https://x.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400.5}}}]}"#,
                "whole number",
            ),
            (
                r#"{"Statement":[{"Resource":"https://x.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400000}}}]}"#,
                "milliseconds",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Resource":"https://x.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}"#,
                "Version, Sid",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Resource":"https://x.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}"#,
                "unknown field `Effect`",
            ),
            (
                r#"{"Statement":[{"Resource":"https://x.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1},"DateLessThan":{"AWS:EpochTime":2}}}]}"#,
                "duplicate field",
            ),
            (
                r#"{"Statement":[{"Resource":"https://x.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1},"IpAddress":{"AWS:SourceIp":"192.0.2.1"}}}]}"#,
                "192.0.2.1/32",
            ),
            (
                r#"{"Statement":[{"Resource":"https://x.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1},"IpAddress":{"AWS:SourceIp":"2001:db8::/32"}}}]}"#,
                "IPv4 only",
            ),
            (
                r#"{"Statement":[{"Resource":"https://x.net/a b","Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}"#,
                "%20",
            ),
            (
                r#"{"Statement":[{"Resource":"https://x.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":99999999999999999999}}}]}"#,
                "",
            ),
        ];
        for (json, needle) in cases {
            let err = Policy::from_json(json).expect_err(json).to_string();
            assert!(err.contains(needle), "{json}\n=> {err}\n lacks {needle:?}");
        }
    }
}
