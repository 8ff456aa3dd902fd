//! What to sign, apart from the key: the expiry, a start time, an IP range and a
//! resource (or a whole policy), resolved against one "now", and the policy that
//! follows for a URL or a resource.
//!
//! Every front end (the CLI's flags, `batch` lines, the Python package's keyword
//! arguments) turns its inputs into [`PolicyInputs`] and asks [`SigningOptions`]
//! for the policy, so they all choose canned or custom the same way:
//! - a whole policy, when given, is signed exactly as written;
//! - a resource different from the delivered URL makes the policy custom (the
//!   URL must still be covered by it; the signer checks);
//! - without a resource the URL itself is the resource (a `*` in it is a
//!   wildcard, so that gives a custom policy too);
//! - an expiry written as eight digits that reads as a date (`20300101`) is
//!   diagnosed as the `YYYYMMDD` trap when it lies in the past.
//!
//! ```
//! use std::time::Duration;
//! use cfsign::options::{PolicyInputs, SigningOptions};
//! use cfsign::{PolicyForm, Resource, SignableUrl};
//!
//! let now: jiff::Timestamp = "2026-01-01T17:00:00Z".parse()?;
//! let options = SigningOptions::new(now).with(PolicyInputs {
//!     expires_in: Some(Duration::from_secs(3600)),
//!     ..PolicyInputs::default()
//! })?;
//! let url = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/a.jpg")?;
//! assert_eq!(options.policy_for_url(&url)?.form(), PolicyForm::Canned);
//!
//! let wildcard = options.with(PolicyInputs {
//!     resource: Some(Resource::pattern("https://d111111abcdef8.cloudfront.net/*")?),
//!     ..PolicyInputs::default()
//! })?;
//! assert_eq!(wildcard.policy_for_url(&url)?.form(), PolicyForm::Custom);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

use jiff::Timestamp;

use crate::layout::Layout;
use crate::policy::{Policy, PolicyError, SourceIp};
use crate::resource::Resource;
use crate::time::{self, TimeError, yyyymmdd_hint};
use crate::url::SignableUrl;

/// Why the options cannot give a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// An absolute expiry and a duration were both given.
    #[error("give either an expiry time or a duration from now, not both")]
    ExpiryTwice,
    /// A whole policy was given together with a part of one.
    #[error(
        "a whole policy was given, so the {part} cannot be given as well: put it in the policy, or \
         give the parts without a policy"
    )]
    PolicyWithPart {
        /// Which part (`expiry`, `start time`, `IP range`, `resource`).
        part: &'static str,
    },
    /// Neither a resource nor a whole policy was given where one is needed.
    #[error(
        "nothing to sign: give a resource (a URL, or a pattern such as \
         https://d111111abcdef8.cloudfront.net/videos/*) or a whole policy"
    )]
    NoResource,
    /// The policy cannot be built.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A time value was refused.
    #[error(transparent)]
    Time(#[from] TimeError),
}

/// The parts of a policy as one caller gives them; every field is optional.
///
/// ```
/// use cfsign::options::PolicyInputs;
///
/// let inputs = PolicyInputs { source_ip: Some("192.0.2.0/24".parse()?), ..PolicyInputs::default() };
/// assert!(inputs.expires.is_none());
/// # Ok::<(), cfsign::PolicyError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct PolicyInputs {
    /// When access ends (`DateLessThan`).
    pub expires: Option<Timestamp>,
    /// The expiry as the caller wrote it (`"20300101"`), for diagnosing the
    /// `YYYYMMDD` trap; optional.
    pub expires_as_written: Option<String>,
    /// How long access lasts from "now" (instead of `expires`).
    pub expires_in: Option<Duration>,
    /// When access starts (`DateGreaterThan`).
    pub not_before: Option<Timestamp>,
    /// The viewer's IPv4 range (`IpAddress`).
    pub source_ip: Option<SourceIp>,
    /// What is granted, when it is not the delivered URL (a wildcard).
    pub resource: Option<Resource>,
    /// A whole policy, signed exactly as written (excludes every other part).
    pub policy: Option<Policy>,
}

impl PolicyInputs {
    fn first_part(&self) -> Option<&'static str> {
        if self.expires.is_some() || self.expires_in.is_some() {
            Some("expiry")
        } else if self.not_before.is_some() {
            Some("start time")
        } else if self.source_ip.is_some() {
            Some("IP range")
        } else if self.resource.is_some() {
            Some("resource")
        } else {
            None
        }
    }
}

/// Policy settings resolved against one "now"; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct SigningOptions {
    now: Timestamp,
    expires: Option<(Timestamp, Option<String>)>,
    not_before: Option<Timestamp>,
    source_ip: Option<SourceIp>,
    resource: Option<Resource>,
    policy: Option<Policy>,
    allow_past_expiry: bool,
    force_custom: bool,
    layout: Layout,
}

impl SigningOptions {
    /// No parts yet, with `now` as the clock for durations and the expiry check.
    #[must_use]
    pub fn new(now: Timestamp) -> Self {
        Self {
            now,
            expires: None,
            not_before: None,
            source_ip: None,
            resource: None,
            policy: None,
            allow_past_expiry: false,
            force_custom: false,
            layout: Layout::Botocore,
        }
    }

    /// Accepts an expiry that is not in the future (tests, reproductions).
    #[must_use]
    pub fn allow_past_expiry(mut self, allow: bool) -> Self {
        self.allow_past_expiry = allow;
        self
    }

    /// Custom policies even where a canned one would do, e.g. cookies whose
    /// `CloudFront-Policy` must be there (as `aws-cloudfront-sign` returns them).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cfsign::{PolicyForm, SignableUrl, options::{PolicyInputs, SigningOptions}};
    ///
    /// let hour = PolicyInputs { expires_in: Some(Duration::from_secs(3600)), ..PolicyInputs::default() };
    /// let url = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/a.mp4")?;
    /// let canned = SigningOptions::new(jiff::Timestamp::now()).with(hour.clone())?;
    /// assert_eq!(canned.policy_for_url(&url)?.form(), PolicyForm::Canned);
    /// let custom = SigningOptions::new(jiff::Timestamp::now()).force_custom(true).with(hour)?;
    /// assert_eq!(custom.policy_for_url(&url)?.form(), PolicyForm::Custom);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn force_custom(mut self, force: bool) -> Self {
        self.force_custom = force;
        self
    }

    /// The condition order of the policies built (see [`Layout`]; CloudFront
    /// accepts any order). Defaults to [`Layout::Botocore`].
    #[must_use]
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// A copy with `inputs` applied: each part given replaces the one held (so
    /// per-line options override shared ones). Refuses an expiry given twice in
    /// `inputs`, and a whole policy next to any part.
    pub fn with(&self, inputs: PolicyInputs) -> Result<Self, OptionsError> {
        if inputs.expires.is_some() && inputs.expires_in.is_some() {
            return Err(OptionsError::ExpiryTwice);
        }
        let mut next = self.clone();
        if let Some(policy) = inputs.policy.clone() {
            if let Some(part) = inputs.first_part() {
                return Err(OptionsError::PolicyWithPart { part });
            }
            next.policy = Some(policy);
        } else if let (Some(_), Some(part)) = (&self.policy, inputs.first_part()) {
            return Err(OptionsError::PolicyWithPart { part });
        }
        if let Some(at) = inputs.expires {
            next.expires = Some((at, inputs.expires_as_written));
        }
        if let Some(d) = inputs.expires_in {
            next.expires = Some((time::add_duration(self.now, d)?, None));
        }
        if inputs.not_before.is_some() {
            next.not_before = inputs.not_before;
        }
        if inputs.source_ip.is_some() {
            next.source_ip = inputs.source_ip;
        }
        if inputs.resource.is_some() {
            next.resource = inputs.resource;
        }
        Ok(next)
    }

    /// The clock in use.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The resource given (a wildcard signed once for many URLs), if any.
    #[must_use]
    pub fn resource(&self) -> Option<&Resource> {
        self.resource.as_ref()
    }

    /// The whole policy given, if any.
    #[must_use]
    pub fn policy(&self) -> Option<&Policy> {
        self.policy.as_ref()
    }

    /// The start time given (`DateGreaterThan`).
    #[must_use]
    pub fn not_before(&self) -> Option<Timestamp> {
        self.not_before
    }

    /// The IP range given (`IpAddress`).
    #[must_use]
    pub fn source_ip(&self) -> Option<SourceIp> {
        self.source_ip
    }

    /// The policy for delivering `url`: the whole policy if given; else one for
    /// the resource given (custom when it differs from `url`) or for `url` itself.
    pub fn policy_for_url(&self, url: &SignableUrl) -> Result<Policy, OptionsError> {
        if let Some(p) = &self.policy {
            return Ok(p.clone());
        }
        let (resource, differs) = match &self.resource {
            Some(r) => (r.clone(), r.as_str() != url.as_str()),
            None => (Resource::from(url.clone()), false),
        };
        self.build(resource, differs)
    }

    /// The policy for `resource` given directly (cookies, a policy to stamp on
    /// many URLs): the whole policy if given, else one built for `resource`.
    pub fn policy_for_resource(&self, resource: Resource) -> Result<Policy, OptionsError> {
        if let Some(p) = &self.policy {
            return Ok(p.clone());
        }
        self.build(resource, false)
    }

    /// The policy for what the options hold on their own (cookies, a policy to
    /// stamp on many URLs): the whole policy, or one for the resource given.
    pub fn policy_for_given(&self) -> Result<Policy, OptionsError> {
        match (&self.policy, &self.resource) {
            (Some(p), _) => Ok(p.clone()),
            (None, Some(r)) => self.build(r.clone(), false),
            (None, None) => Err(OptionsError::NoResource),
        }
    }

    fn build(&self, resource: Resource, force_custom: bool) -> Result<Policy, OptionsError> {
        let (expires, written) = self.expires.clone().ok_or(PolicyError::MissingExpiry)?;
        let mut builder = Policy::builder(resource)
            .expires_at(expires)
            .allow_past_expiry(self.allow_past_expiry)
            .force_custom(force_custom || self.force_custom)
            .layout(self.layout);
        if let Some(t) = self.not_before {
            builder = builder.not_before(t);
        }
        if let Some(ip) = self.source_ip {
            builder = builder.source_ip(ip);
        }
        builder.build_at(self.now).map_err(|e| match e {
            PolicyError::PastExpiry { expires, now, .. } => {
                let hint = written
                    .as_deref()
                    .and_then(|w| yyyymmdd_hint(w).map(|iso| (w, iso)))
                    .map(|(w, iso)| {
                        format!(
                            "; {w} was read as epoch seconds ({expires}); for a date write {iso}"
                        )
                    })
                    .unwrap_or_default();
                OptionsError::Policy(PolicyError::PastExpiry { expires, now, hint })
            }
            other => OptionsError::Policy(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PolicyForm;

    fn now() -> Timestamp {
        "2026-01-01T17:00:00Z".parse().unwrap()
    }

    fn url(s: &str) -> SignableUrl {
        SignableUrl::parse(s).unwrap()
    }

    fn hour() -> PolicyInputs {
        PolicyInputs {
            expires_in: Some(Duration::from_secs(3600)),
            ..PolicyInputs::default()
        }
    }

    #[test]
    fn form_follows_the_resource() {
        let o = SigningOptions::new(now()).with(hour()).unwrap();
        let a = url("https://x.net/a");
        assert_eq!(o.policy_for_url(&a).unwrap().form(), PolicyForm::Canned);
        let star = url("https://x.net/a*");
        assert_eq!(o.policy_for_url(&star).unwrap().form(), PolicyForm::Custom);
        let same = o
            .with(PolicyInputs {
                resource: Some(Resource::url("https://x.net/a").unwrap()),
                ..PolicyInputs::default()
            })
            .unwrap();
        assert_eq!(same.policy_for_url(&a).unwrap().form(), PolicyForm::Canned);
        let other = o
            .with(PolicyInputs {
                resource: Some(Resource::url("https://x.net/b").unwrap()),
                ..PolicyInputs::default()
            })
            .unwrap();
        assert_eq!(other.policy_for_url(&a).unwrap().form(), PolicyForm::Custom);
    }

    #[test]
    fn conflicts_and_missing_parts() {
        let o = SigningOptions::new(now());
        let twice = PolicyInputs {
            expires: Some(now()),
            ..hour()
        };
        assert_eq!(o.with(twice).unwrap_err(), OptionsError::ExpiryTwice);
        let policy = Policy::from_json(
            r#"{"Statement":[{"Resource":"https://x.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400}}}]}"#,
        )
        .unwrap();
        let both = PolicyInputs {
            policy: Some(policy.clone()),
            ..hour()
        };
        assert!(matches!(
            o.with(both),
            Err(OptionsError::PolicyWithPart { part: "expiry" })
        ));
        let with_policy = o
            .with(PolicyInputs {
                policy: Some(policy),
                ..PolicyInputs::default()
            })
            .unwrap();
        assert!(matches!(
            with_policy.with(hour()),
            Err(OptionsError::PolicyWithPart { .. })
        ));
        assert_eq!(
            o.policy_for_url(&url("https://x.net/a")).unwrap_err(),
            OptionsError::Policy(PolicyError::MissingExpiry)
        );
        assert_eq!(
            o.with(hour()).unwrap().policy_for_given().unwrap_err(),
            OptionsError::NoResource
        );
    }

    #[test]
    fn later_inputs_replace_earlier_ones() {
        let o = SigningOptions::new(now()).with(hour()).unwrap();
        let later = o
            .with(PolicyInputs {
                expires: Some("2026-01-02T00:00:00Z".parse().unwrap()),
                ..PolicyInputs::default()
            })
            .unwrap();
        let p = later.policy_for_url(&url("https://x.net/a")).unwrap();
        assert_eq!(p.date_less_than().get(), 1_767_312_000);
    }

    #[test]
    fn yyyymmdd_is_diagnosed_only_when_written_so() {
        let o = SigningOptions::new(now());
        let trap = |written: Option<&str>| {
            o.with(PolicyInputs {
                expires: Some(Timestamp::from_second(20_300_101).unwrap()),
                expires_as_written: written.map(str::to_owned),
                ..PolicyInputs::default()
            })
            .unwrap()
            .policy_for_url(&url("https://x.net/a"))
            .unwrap_err()
            .to_string()
        };
        assert!(
            trap(Some("20300101")).contains("for a date write 2030-01-01"),
            "{}",
            trap(Some("20300101"))
        );
        assert!(!trap(None).contains("for a date"));
    }

    #[test]
    fn layout_orders_the_conditions_of_built_policies() {
        let inputs = PolicyInputs {
            not_before: Some("2026-01-01T17:30:00Z".parse().unwrap()),
            source_ip: Some("192.0.2.0/24".parse().unwrap()),
            ..hour()
        };
        let a = url("https://x.net/a");
        let js = SigningOptions::new(now())
            .layout(crate::Layout::AwsSdkJs)
            .with(inputs.clone())
            .unwrap();
        let json = js.policy_for_url(&a).unwrap().json().to_owned();
        assert!(
            json.find("DateGreaterThan").unwrap() < json.find("IpAddress").unwrap(),
            "{json}"
        );
        let boto = SigningOptions::new(now()).with(inputs).unwrap();
        let json = boto.policy_for_url(&a).unwrap().json().to_owned();
        assert!(
            json.find("IpAddress").unwrap() < json.find("DateGreaterThan").unwrap(),
            "{json}"
        );
    }
}
