//! The native API: `Verifier` (decide a request as CloudFront's edge would) and
//! its `explain` (the decoded parts and the cause of a denial, with the fix).

use std::net::IpAddr;

use cfsign::KeyPairId;
use cfsign::explain::explain;
use cfsign::verify::{Decision as CoreDecision, KeyGroup, ViewerRequest};
use jiff::Timestamp;
use napi::bindgen_prelude::Object;
use napi::{Env, ValueType};
use napi_derive::napi;

use crate::convert::{Options, key_material, string_of};
use crate::errors::{Failure, Outcome, Throw as _};

/// The verdict on one request.
#[napi(object)]
pub struct Decision {
    /// Whether CloudFront would serve it.
    pub allowed: bool,
    /// Denied: `403`.
    pub status: Option<u32>,
    /// Denied: CloudFront's error code (`AccessDenied`, `MissingKey`, `MalformedPolicy`, ...).
    pub code: Option<String>,
    /// Denied: CloudFront's message.
    pub message: Option<String>,
    /// Denied: the exact rule that failed.
    pub reason: Option<String>,
    /// Allowed: the key-pair ID that signed.
    pub key_pair_id: Option<String>,
    /// Allowed: `canned` or `custom`.
    pub policy_form: Option<String>,
    /// Allowed: `query` or `cookies`.
    pub credentials: Option<String>,
    /// Allowed: `SHA1` or `SHA256`.
    pub hash_algorithm: Option<String>,
    /// Allowed: `DateLessThan`, epoch seconds.
    pub expires: Option<i64>,
    /// Allowed: the policy JSON.
    pub policy: Option<String>,
    /// Allowed: the policy's resource.
    pub resource: Option<String>,
    /// Allowed: the URL the origin receives (signing parameters removed).
    pub forward_url: Option<String>,
}

impl From<&CoreDecision> for Decision {
    fn from(d: &CoreDecision) -> Self {
        let mut out = Decision {
            allowed: d.is_allowed(),
            status: None,
            code: None,
            message: None,
            reason: None,
            key_pair_id: None,
            policy_form: None,
            credentials: None,
            hash_algorithm: None,
            expires: None,
            policy: None,
            resource: None,
            forward_url: None,
        };
        match d {
            CoreDecision::Allowed(a) => {
                out.key_pair_id = Some(a.key_pair_id().to_owned());
                out.policy_form = Some(a.form().to_string());
                out.credentials = Some(a.source().to_string());
                out.hash_algorithm = Some(a.hash_algorithm().as_param().to_owned());
                out.expires = Some(a.date_less_than().get());
                out.policy = Some(a.policy_json().to_owned());
                out.resource = a.resource().map(str::to_owned);
                out.forward_url = Some(a.forward_url().to_owned());
            }
            CoreDecision::Denied(denial) => {
                out.status = Some(u32::from(denial.status()));
                out.code = Some(denial.code().as_str().to_owned());
                out.message = Some(denial.code().message().to_owned());
                out.reason = Some(denial.reason().to_string());
            }
        }
        out
    }
}

/// A decoded fact (label and value).
#[napi(object)]
pub struct Fact {
    /// e.g. `expires`.
    pub label: String,
    /// The value.
    pub value: String,
}

/// A likely cause with its fix.
#[napi(object)]
pub struct Finding {
    /// Stable identifier, e.g. `hash-algorithm-missing`.
    pub code: String,
    /// What is wrong.
    pub summary: String,
    /// What to do.
    pub fix: String,
}

/// The diagnosis of one request.
#[napi(object)]
pub struct Explanation {
    /// The verdict (absent when the verifier has no keys: decode-only).
    pub decision: Option<Decision>,
    /// Decoded facts in display order.
    pub facts: Vec<Fact>,
    /// Likely causes, most likely first.
    pub findings: Vec<Finding>,
    /// What could not be checked.
    pub not_checked: Vec<String>,
    /// The whole diagnosis as text (what `cfsign explain` prints).
    pub text: String,
}

/// Decides signed URLs and cookies as CloudFront would, with the public keys of a
/// key group.
///
/// ```js
/// const verifier = new Verifier({ K2JCJMDEHXQW5F: publicKeyPem })
/// verifier.verify(url, { cookies: 'CloudFront-Policy=...; ...', clientIp: '203.0.113.7' })
/// ```
#[napi]
pub struct Verifier {
    inner: Option<cfsign::verify::Verifier>,
}

#[napi]
impl Verifier {
    /// `new Verifier({ [keyPairId]: publicKeyPem })`; with no keys, only
    /// `explain` works (decode-only).
    #[napi(constructor, ts_args_type = "keys: Record<string, string | Buffer>")]
    pub fn new(env: Env, keys: Object<'_>) -> napi::Result<Self> {
        Self::build(&keys).throw(&env)
    }

    fn build(keys: &Object<'_>) -> Outcome<Self> {
        let mut group = KeyGroup::new("keys");
        for id in Object::keys(keys)? {
            let at = format!("keys[{id:?}]");
            let key_pair_id = KeyPairId::new(&id).map_err(|e| Failure::from(e).at(&at))?;
            let value: Option<napi::bindgen_prelude::Unknown<'_>> = keys.get(&id)?;
            let Some(value) = value else { continue };
            let key = key_material(keys, &id, &value)
                .and_then(|m| m.public_key())
                .map_err(|f| f.at(&at))?;
            group = group.with_key(key_pair_id, key);
        }
        let inner = (!group.keys().is_empty())
            .then(|| cfsign::verify::Verifier::new().with_key_group(group));
        Ok(Self { inner })
    }

    /// Would CloudFront serve `url` (with these cookies, to this client, now)?
    #[napi(ts_args_type = "url: string, options?: VerifyOptions")]
    pub fn verify(
        &self,
        env: Env,
        url: String,
        options: Option<Object<'_>>,
    ) -> napi::Result<Decision> {
        self.verify_inner(&url, options).throw(&env)
    }

    fn verify_inner(&self, url: &str, options: Option<Object<'_>>) -> Outcome<Decision> {
        let Some(verifier) = &self.inner else {
            return Err(Failure::argument(
                "this Verifier has no public keys, so it cannot decide; give { KEYID: publicKeyPem } \
                 (the key uploaded to CloudFront under that ID), or use explain() to decode only",
            ));
        };
        let inputs = Inputs::read(options)?;
        let decision = verifier.verify(&inputs.request(url), inputs.now);
        Ok(Decision::from(&decision))
    }

    /// The decoded parts, the verdict (with keys) and the likely cause with its fix.
    #[napi(ts_args_type = "url: string, options?: VerifyOptions")]
    pub fn explain(
        &self,
        env: Env,
        url: String,
        options: Option<Object<'_>>,
    ) -> napi::Result<Explanation> {
        self.explain_inner(&url, options).throw(&env)
    }

    fn explain_inner(&self, url: &str, options: Option<Object<'_>>) -> Outcome<Explanation> {
        let inputs = Inputs::read(options)?;
        let report = explain(self.inner.as_ref(), &inputs.request(url), inputs.now);
        Ok(Explanation {
            decision: report.decision.as_ref().map(Decision::from),
            facts: report
                .facts
                .iter()
                .map(|(l, v)| Fact {
                    label: (*l).to_owned(),
                    value: v.clone(),
                })
                .collect(),
            findings: report
                .findings
                .iter()
                .map(|f| Finding {
                    code: f.code.to_owned(),
                    summary: f.summary.clone(),
                    fix: f.fix.clone(),
                })
                .collect(),
            not_checked: report.unchecked.clone(),
            text: report.to_string(),
        })
    }
}

/// `cookies`, `clientIp` and `now` of `verify`/`explain`.
struct Inputs {
    cookie: Option<String>,
    client_ip: Option<IpAddr>,
    now: Timestamp,
}

impl Inputs {
    fn read(options: Option<Object<'_>>) -> Outcome<Self> {
        let o = Options::new(options, "options", &["cookies", "clientIp", "now"])?;
        let cookie = match o.value("cookies")? {
            None => None,
            Some(v) if v.get_type()? == ValueType::String => {
                let text = string_of(&v)?;
                Some(
                    text.strip_prefix("Cookie:")
                        .map_or(text.as_str(), str::trim_start)
                        .to_owned(),
                )
            }
            Some(v) if v.get_type()? == ValueType::Object => {
                // { name: value } as getSignedCookies returns: the Cookie header a browser sends.
                let map: std::collections::HashMap<String, String> = o
                    .typed("cookies")
                    .map_err(|_| {
                        Failure::argument(
                            "options.cookies must be a Cookie header string or an object of cookie names to string values",
                        )
                    })?
                    .unwrap_or_default();
                let mut pairs: Vec<_> = map.into_iter().collect();
                pairs.sort();
                Some(
                    pairs
                        .into_iter()
                        .map(|(n, v)| format!("{n}={v}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            }
            Some(_) => {
                return Err(Failure::argument(
                    "options.cookies must be a Cookie header string or an object of cookie names to values",
                ));
            }
        };
        let client_ip = o
            .string("clientIp")?
            .map(|ip| {
                ip.parse::<IpAddr>().map_err(|_| {
                    Failure::argument(format!(
                        "options.clientIp: {ip:?} is not an IP address (e.g. 203.0.113.7 or 2001:db8::1)"
                    ))
                })
            })
            .transpose()?;
        let now = match o.time("now")? {
            Some(t) => t.instant().map_err(|f| f.at("options.now"))?,
            None => Timestamp::now(),
        };
        Ok(Self {
            cookie,
            client_ip,
            now,
        })
    }

    fn request<'a>(&'a self, url: &'a str) -> ViewerRequest<'a> {
        let mut r = ViewerRequest::new(url);
        if let Some(c) = &self.cookie {
            r = r.cookie_header(c);
        }
        if let Some(ip) = self.client_ip {
            r = r.client_ip(ip);
        }
        r
    }
}
