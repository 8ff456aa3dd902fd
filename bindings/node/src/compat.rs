//! The two drop-ins: the argument shapes and return shapes of
//! `@aws-sdk/cloudfront-signer` (`getSignedUrl(options)`, `getSignedCookies(options)`)
//! and `aws-cloudfront-sign` (`getSignedUrl(url, params)`,
//! `getSignedCookies(url, params)`, `getSignedRTMPUrl(domain, s3key, params)`),
//! over the core. What differs from those packages, and why, is listed in
//! docs/node.md ("Deliberate differences").

use cfsign::options::{PolicyInputs, SigningOptions};
use cfsign::{Layout, Policy, Resource, SignableUrl, SignedCookies};
use jiff::Timestamp;
use napi::Env;
use napi::bindgen_prelude::Object;
use napi_derive::napi;

use crate::convert::{JsTime, Options};
use crate::errors::{Failure, Outcome, Throw as _};
use crate::signer::signer_from;

/// The options of `@aws-sdk/cloudfront-signer`.
const AWS_OPTIONS: [&str; 9] = [
    "url",
    "keyPairId",
    "privateKey",
    "dateLessThan",
    "dateGreaterThan",
    "ipAddress",
    "policy",
    "passphrase",
    "algorithm",
];

/// Cookie names in the order `@aws-sdk/cloudfront-signer` sets them.
const AWS_COOKIE_ORDER: [&str; 5] = [
    "CloudFront-Key-Pair-Id",
    "CloudFront-Signature",
    "CloudFront-Expires",
    "CloudFront-Policy",
    "CloudFront-Hash-Algorithm",
];

fn aws_signer(o: &Options<'_>) -> Outcome<cfsign::Signer> {
    let id = o.required_string("keyPairId")?;
    Ok(
        signer_from(&id, o, "privateKey", o.string("algorithm")?.as_deref())?
            .with_layout(Layout::AwsSdkJs),
    )
}

/// A time of `@aws-sdk/cloudfront-signer`: `Date`, milliseconds or a date
/// string, rounded to the nearest second as it does; a falsy value (`0`, `""`)
/// counts as not given, as there.
fn aws_time(o: &Options<'_>, key: &str) -> Outcome<Option<Timestamp>> {
    match o.time(key)? {
        None => Ok(None),
        Some(JsTime::Millis(0.0)) => Ok(None),
        Some(JsTime::Text(t)) if t.is_empty() => Ok(None),
        Some(t) => t
            .rounded_instant()
            .map(Some)
            .map_err(|f| f.at(&o.label(key))),
    }
}

/// The policy settings of `@aws-sdk/cloudfront-signer`'s options (its condition order).
fn aws_signing_options(o: &Options<'_>) -> Outcome<SigningOptions> {
    let expires = aws_time(o, "dateLessThan")?.ok_or_else(|| {
        Failure::argument(format!(
            "{} is required (a Date, milliseconds since the epoch, or a date string such as \
             2030-01-01T00:00:00Z), or give {}",
            o.label("dateLessThan"),
            o.label("policy")
        ))
    })?;
    let mut inputs = PolicyInputs {
        expires: Some(expires),
        not_before: aws_time(o, "dateGreaterThan")?,
        ..PolicyInputs::default()
    };
    if let Some(ip) = o.string("ipAddress")?.filter(|ip| !ip.is_empty()) {
        let ip: cfsign::SourceIp = ip
            .parse()
            .map_err(|e| Failure::from(e).at(&o.label("ipAddress")))?;
        inputs.source_ip = Some(ip);
    }
    Ok(SigningOptions::new(Timestamp::now())
        .layout(Layout::AwsSdkJs)
        .with(inputs)?)
}

fn aws_policy(o: &Options<'_>) -> Outcome<Option<Policy>> {
    o.string("policy")?
        .map(|json| Policy::from_json(&json).map_err(|e| Failure::from(e).at(&o.label("policy"))))
        .transpose()
}

/// `@aws-sdk/cloudfront-signer`'s `getSignedUrl(options)`.
#[napi(ts_args_type = "options: import('./types').CloudfrontSignInput")]
pub fn aws_get_signed_url(env: Env, options: Object<'_>) -> napi::Result<String> {
    aws_url(options).throw(&env)
}

fn aws_url(options: Object<'_>) -> Outcome<String> {
    let o = Options::new(Some(options), "options", &AWS_OPTIONS)?;
    let signer = aws_signer(&o)?;
    let url = o.string("url")?;
    match (url, aws_policy(&o)?) {
        (None, None) => Err(Failure::argument(
            "give options.url (the URL to sign) or options.policy (a custom policy JSON)",
        )),
        (url, Some(policy)) => {
            // Without a URL, the first statement's resource is the URL, as there.
            let text = match url {
                Some(u) => u,
                None => policy
                    .resource()
                    .map(|r| r.as_str().replacen("*://", "https://", 1))
                    .ok_or_else(|| {
                        Failure::argument(
                            "options.url is required when options.policy has no Resource",
                        )
                    })?,
            };
            let url = SignableUrl::encode(&text).map_err(|e| Failure::from(e).at("options.url"))?;
            let signed = signer.sign_policy(&policy)?;
            Ok(signed
                .apply_to(&url)
                .map_err(|e| Failure::from(e).at("options.url"))?
                .into_string())
        }
        (Some(u), None) => {
            let options = aws_signing_options(&o)?;
            // Raw spaces and non-ASCII are encoded, as @aws-sdk/cloudfront-signer does;
            // a URL already as a client sends it is signed unchanged.
            let url = SignableUrl::encode(&u).map_err(|e| Failure::from(e).at("options.url"))?;
            let policy = options.policy_for_url(&url)?;
            Ok(signer.sign_url(&url, &policy)?.into_string())
        }
    }
}

/// `@aws-sdk/cloudfront-signer`'s `getSignedCookies(options)`.
#[napi(
    ts_args_type = "options: import('./types').CloudfrontSignInput",
    ts_return_type = "import('./types').CloudfrontSignedCookiesOutput"
)]
pub fn aws_get_signed_cookies<'env>(
    env: &'env Env,
    options: Object<'_>,
) -> napi::Result<Object<'env>> {
    let cookies = aws_cookies(options).throw(env)?;
    cookie_object(env, &cookies, &AWS_COOKIE_ORDER, true)
}

fn aws_cookies(options: Object<'_>) -> Outcome<SignedCookies> {
    let o = Options::new(Some(options), "options", &AWS_OPTIONS)?;
    let signer = aws_signer(&o)?;
    let policy = match aws_policy(&o)? {
        Some(p) => p,
        None => {
            let url = o.required_string("url")?;
            let options = aws_signing_options(&o)?;
            // Cookies are never seen by the user, so they are not encoded: a resource a
            // browser request can never match is refused with the fix.
            let resource = Resource::parse(&url).map_err(|e| Failure::from(e).at("options.url"))?;
            options.policy_for_resource(resource)?
        }
    };
    Ok(signer.sign_cookies(&policy)?)
}

/// The cookies as an object with the names in `order`; `CloudFront-Expires` is a
/// number when `expires_as_number` (as `@aws-sdk/cloudfront-signer` returns it).
fn cookie_object<'env>(
    env: &'env Env,
    cookies: &SignedCookies,
    order: &[&str],
    expires_as_number: bool,
) -> napi::Result<Object<'env>> {
    let pairs = cookies.pairs();
    let mut object = Object::new(env)?;
    for name in order {
        if let Some((_, value)) = pairs.iter().find(|(n, _)| n == name) {
            if expires_as_number && *name == "CloudFront-Expires" {
                object.set(*name, cookies.expires().get())?;
            } else {
                object.set(*name, value.as_str())?;
            }
        }
    }
    Ok(object)
}

/// The parameters of `aws-cloudfront-sign`.
const ACS_PARAMS: [&str; 5] = [
    "keypairId",
    "privateKeyString",
    "privateKeyPath",
    "expireTime",
    "ipRange",
];

/// Its default lifetime: 30 minutes.
const ACS_DEFAULT_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30 * 60);

fn acs_signer(o: &Options<'_>) -> Outcome<cfsign::Signer> {
    let id = cfsign::KeyPairId::new(&o.required_string("keypairId")?)
        .map_err(|e| Failure::from(e).at(&o.label("keypairId")))?;
    let key = match (
        o.string("privateKeyPath")?,
        o.key_material("privateKeyString")?,
    ) {
        (Some(path), _) => cfsign::PrivateKey::from_file(&path)
            .map_err(|e| Failure::from(e).at(&o.label("privateKeyPath")))?,
        (None, Some(m)) => m
            .private_key()
            .map_err(|f| f.at(&o.label("privateKeyString")))?,
        (None, None) => {
            return Err(Failure::argument(format!(
                "give {} (the PEM text) or {} (a file)",
                o.label("privateKeyString"),
                o.label("privateKeyPath")
            )));
        }
    };
    Ok(cfsign::Signer::new(id, key))
}

/// The policy settings of `aws-cloudfront-sign`'s params: `expireTime` in
/// milliseconds (a number, a `Date`, a moment, or a string of digits), 30 minutes
/// from now by default; `ipRange`.
fn acs_signing_options(o: &Options<'_>, options: SigningOptions) -> Outcome<SigningOptions> {
    let mut inputs = PolicyInputs::default();
    match o.time("expireTime")? {
        None | Some(JsTime::Millis(0.0)) => inputs.expires_in = Some(ACS_DEFAULT_LIFETIME),
        Some(JsTime::Text(t)) => {
            let ms = t.trim().parse::<u64>().map_err(|_| {
                Failure::new(
                    crate::errors::Code::Time,
                    format!(
                        "{}: {t:?} is not milliseconds since the epoch; give a number, a Date or a \
                         string of digits",
                        o.label("expireTime")
                    ),
                )
            })?;
            #[allow(clippy::cast_precision_loss)]
            let ms = ms as f64;
            inputs.expires = Some(
                JsTime::Millis(ms)
                    .rounded_instant()
                    .map_err(|f| f.at(&o.label("expireTime")))?,
            );
        }
        Some(t) => {
            inputs.expires = Some(
                t.rounded_instant()
                    .map_err(|f| f.at(&o.label("expireTime")))?,
            );
        }
    }
    if let Some(ip) = o.string("ipRange")?.filter(|ip| !ip.is_empty()) {
        let ip: cfsign::SourceIp = ip
            .parse()
            .map_err(|e| Failure::from(e).at(&o.label("ipRange")))?;
        inputs.source_ip = Some(ip);
    }
    Ok(options.with(inputs)?)
}

/// `aws-cloudfront-sign`'s `getSignedUrl(url, params)`.
#[napi(ts_args_type = "url: string, params: import('./types').SignatureOptions")]
pub fn acs_get_signed_url(env: Env, url: String, params: Object<'_>) -> napi::Result<String> {
    acs_url(&url, params).throw(&env)
}

fn acs_url(url: &str, params: Object<'_>) -> Outcome<String> {
    let o = Options::new(Some(params), "params", &ACS_PARAMS)?;
    let signer = acs_signer(&o)?;
    let options = acs_signing_options(&o, SigningOptions::new(Timestamp::now()))?;
    let url = SignableUrl::encode(url).map_err(|e| Failure::from(e).at("url"))?;
    let policy = options.policy_for_url(&url)?;
    Ok(signer.sign_url(&url, &policy)?.into_string())
}

/// `aws-cloudfront-sign`'s `getSignedCookies(url, params)`: always a custom
/// policy (`CloudFront-Policy`), as there.
#[napi(
    ts_args_type = "url: string, params: import('./types').SignatureOptions",
    ts_return_type = "Record<'CloudFront-Policy' | 'CloudFront-Signature' | 'CloudFront-Key-Pair-Id', string>"
)]
pub fn acs_get_signed_cookies<'env>(
    env: &'env Env,
    url: String,
    params: Object<'_>,
) -> napi::Result<Object<'env>> {
    let cookies = acs_cookies(&url, params).throw(env)?;
    cookie_object(
        env,
        &cookies,
        &[
            "CloudFront-Policy",
            "CloudFront-Signature",
            "CloudFront-Key-Pair-Id",
        ],
        false,
    )
}

fn acs_cookies(url: &str, params: Object<'_>) -> Outcome<SignedCookies> {
    let o = Options::new(Some(params), "params", &ACS_PARAMS)?;
    let signer = acs_signer(&o)?;
    let options =
        acs_signing_options(&o, SigningOptions::new(Timestamp::now()).force_custom(true))?;
    let resource = Resource::parse(url).map_err(|e| Failure::from(e).at("url"))?;
    let policy = options.policy_for_resource(resource)?;
    Ok(signer.sign_cookies(&policy)?)
}

/// The result of `getSignedRTMPUrl`.
#[napi(object)]
pub struct RtmpUrl {
    /// `rtmp://<domain>/cfx/st`.
    pub rtmp_server_path: String,
    /// The stream name with the signing parameters.
    pub rtmp_stream_name: String,
}

/// `aws-cloudfront-sign` 2.x's `getSignedRTMPUrl(domain, s3key, params)`. RTMP
/// distributions were retired on 31 December 2020; this reproduces the
/// signature of old integrations.
#[napi(
    js_name = "acsGetSignedRTMPUrl",
    ts_args_type = "domain: string, s3key: string, params: import('./types').SignatureOptions"
)]
pub fn acs_get_signed_rtmp_url(
    env: Env,
    domain: String,
    s3key: String,
    params: Object<'_>,
) -> napi::Result<RtmpUrl> {
    acs_rtmp(&domain, &s3key, params).throw(&env)
}

fn acs_rtmp(domain: &str, s3key: &str, params: Object<'_>) -> Outcome<RtmpUrl> {
    let host_ok = !domain.is_empty()
        && domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !host_ok {
        return Err(Failure::argument(format!(
            "domain: {domain:?} is not a distribution domain; give the bare host name, e.g. \
             s5c39gqb8ow64r.cloudfront.net (no scheme, port or path)"
        )));
    }
    let o = Options::new(Some(params), "params", &ACS_PARAMS)?;
    let signer = acs_signer(&o)?;
    let options = acs_signing_options(&o, SigningOptions::new(Timestamp::now()))?;
    let resource = Resource::rtmp_stream(s3key).map_err(|e| Failure::from(e).at("s3key"))?;
    let policy = options.policy_for_resource(resource)?;
    Ok(RtmpUrl {
        rtmp_server_path: format!("rtmp://{domain}/cfx/st"),
        rtmp_stream_name: signer.sign_policy(&policy)?.rtmp_stream_url()?,
    })
}
