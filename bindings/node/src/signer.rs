//! The native API: `Signer` (the key parsed once), `SignedPolicy`, `keygen`.
//! `signManifest` is the core's `manifest::sign`, as `cfsign manifest`.

use std::num::NonZeroUsize;

use cfsign::batch::{UrlBatch, parallel_map};
use cfsign::manifest::{self, ManifestError, Mode};
use cfsign::options::{PolicyInputs, SigningOptions};
use cfsign::{
    CookieAttributes, HashAlgorithm, KeyPairId, KeyType, PrivateKey, Resource, SameSite,
    SignableUrl, lint,
};
use jiff::Timestamp;
use napi::bindgen_prelude::{AsyncTask, Buffer, Either, Object};
use napi::{Env, Task};
use napi_derive::napi;

use crate::convert::{JsTime, Options, duration};
use crate::errors::{Failure, Outcome, Throw as _};

/// The policy options every signing method takes.
const POLICY_OPTIONS: [&str; 8] = [
    "expires",
    "expiresIn",
    "notBefore",
    "ip",
    "resource",
    "policy",
    "encode",
    "now",
];

/// The core's [`SigningOptions`] from a JavaScript options object, and whether
/// URL arguments are percent-encoded first (`encode`).
pub(crate) struct Prepared {
    /// The options.
    pub(crate) options: SigningOptions,
    encode: bool,
}

impl Prepared {
    /// Reads the policy options of `o` at `now`.
    pub(crate) fn read(o: &Options<'_>, now: Timestamp) -> Outcome<Self> {
        let encode = o.boolean("encode")?.unwrap_or(false);
        let mut inputs = PolicyInputs::default();
        if let Some(text) = o.string("policy")? {
            let policy = cfsign::Policy::from_json(&text)
                .map_err(|e| Failure::from(e).at(&o.label("policy")))?;
            inputs.policy = Some(policy);
        } else if o.value("expires")?.is_none() && o.value("expiresIn")?.is_none() {
            return Err(Failure::new(
                crate::errors::Code::Time,
                format!(
                    "an expiry is required: give {} (a Date, milliseconds or an ISO 8601 string) or {} (e.g. \"15m\")",
                    o.label("expires"),
                    o.label("expiresIn")
                ),
            ));
        }
        if let Some(t) = o.time("expires")? {
            inputs.expires = Some(t.instant().map_err(|f| f.at(&o.label("expires")))?);
            if let JsTime::Text(text) = t {
                inputs.expires_as_written = Some(text);
            }
        }
        if let Some(d) = o.string("expiresIn")? {
            inputs.expires_in = Some(duration(&d).map_err(|f| f.at(&o.label("expiresIn")))?);
        }
        if let Some(t) = o.time("notBefore")? {
            inputs.not_before = Some(t.instant().map_err(|f| f.at(&o.label("notBefore")))?);
        }
        if let Some(ip) = o.string("ip")? {
            let ip: cfsign::SourceIp = ip
                .parse()
                .map_err(|e| Failure::from(e).at(&o.label("ip")))?;
            inputs.source_ip = Some(ip);
        }
        let mut prepared = Self {
            options: SigningOptions::new(now),
            encode,
        };
        if let Some(r) = o.string("resource")? {
            let r = prepared
                .resource_for(&r)
                .map_err(|e| Failure::from(e).at(&o.label("resource")))?;
            inputs.resource = Some(r);
        }
        prepared.options = prepared.options.with(inputs)?;
        Ok(prepared)
    }

    /// A URL argument, validated, or percent-encoded first with `encode`.
    pub(crate) fn url(&self, text: &str) -> Result<SignableUrl, cfsign::UrlError> {
        if self.encode {
            SignableUrl::encode(text)
        } else {
            SignableUrl::parse(text)
        }
    }

    /// A URL-or-pattern argument as a resource (percent-encoded first with `encode`).
    pub(crate) fn resource_for(&self, text: &str) -> Result<Resource, cfsign::ResourceError> {
        if self.encode {
            Ok(Resource::from(SignableUrl::encode(text)?))
        } else {
            Resource::parse(text)
        }
    }
}

/// "now" from the options (`now`, for tests and reproductions), else the clock.
pub(crate) fn now_of(o: &Options<'_>) -> Outcome<Timestamp> {
    match o.time("now")? {
        Some(t) => t.instant().map_err(|f| f.at(&o.label("now"))),
        None => Ok(Timestamp::now()),
    }
}

/// Signs CloudFront URLs and cookies with one key, parsed once.
///
/// ```js
/// const signer = new Signer({ keyPairId: 'K2JCJMDEHXQW5F', privateKey: pem, hash: 'SHA256' })
/// signer.signUrl('https://d111111abcdef8.cloudfront.net/a.mp4', { expiresIn: '15m' })
/// ```
#[napi]
pub struct Signer {
    inner: cfsign::Signer,
}

/// The result of `signCookies`.
#[napi(object)]
pub struct SignedCookies {
    /// Cookie name to value (`CloudFront-Policy` or `CloudFront-Expires`,
    /// `CloudFront-Signature`, `CloudFront-Key-Pair-Id`, `CloudFront-Hash-Algorithm`).
    pub cookies: std::collections::HashMap<String, String>,
    /// One `Set-Cookie` header value per cookie, with the attributes.
    pub set_cookie: Vec<String>,
    /// A `Cookie` request header with the cookies (for tests and `curl`).
    pub cookie_header: String,
    /// Things that will probably not work as intended (canned cookies, wildcard paths, ...).
    pub warnings: Vec<Warning>,
    /// `canned` or `custom`.
    pub policy_form: String,
    /// The policy JSON that was signed.
    pub policy: String,
    /// When access ends, epoch seconds.
    pub expires: i64,
}

/// A lint warning: a stable code and the message with the fix.
#[napi(object)]
pub struct Warning {
    /// e.g. `canned-cookie`.
    pub code: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl From<lint::Warning> for Warning {
    fn from(w: lint::Warning) -> Self {
        Self {
            code: w.code.to_owned(),
            message: w.message,
        }
    }
}

#[napi]
impl Signer {
    /// `new Signer({ keyPairId, privateKey, hash?, passphrase? })`: parses the key once.
    #[napi(
        constructor,
        ts_args_type = "options: { keyPairId: string; privateKey: string | Buffer; hash?: 'SHA1' | 'SHA256'; passphrase?: string }"
    )]
    pub fn new(env: Env, options: Object<'_>) -> napi::Result<Self> {
        Self::build(&options).throw(&env)
    }

    fn build(options: &Object<'_>) -> Outcome<Self> {
        let o = Options::new(
            Some(*options),
            "options",
            &["keyPairId", "privateKey", "hash", "passphrase"],
        )?;
        let inner = signer_from(
            &o.required_string("keyPairId")?,
            &o,
            "privateKey",
            o.string("hash")?.as_deref(),
        )?;
        Ok(Self { inner })
    }

    /// The key-pair ID.
    #[napi(getter)]
    pub fn key_pair_id(&self) -> String {
        self.inner.key_pair_id().to_string()
    }

    /// `SHA1` or `SHA256`.
    #[napi(getter)]
    pub fn hash(&self) -> String {
        self.inner.hash_algorithm().as_param().to_owned()
    }

    /// `RSA-2048` or `ECDSA P-256`.
    #[napi(getter)]
    pub fn key_type(&self) -> String {
        self.inner.key_type().to_string()
    }

    /// Signs one URL. Options: `expires` (Date, ms or ISO string) or `expiresIn`
    /// ("15m"), `notBefore`, `ip`, `resource` (a wildcard the URL falls under),
    /// `policy` (a custom policy JSON used as is), `encode`, `now`.
    #[napi(ts_args_type = "url: string, options: UrlOptions")]
    pub fn sign_url(
        &self,
        env: Env,
        url: String,
        options: Option<Object<'_>>,
    ) -> napi::Result<String> {
        self.sign_url_inner(&url, options).throw(&env)
    }

    fn sign_url_inner(&self, url: &str, options: Option<Object<'_>>) -> Outcome<String> {
        let o = Options::new(options, "options", &POLICY_OPTIONS)?;
        let prepared = Prepared::read(&o, now_of(&o)?)?;
        let url = prepared.url(url).map_err(|e| Failure::from(e).at("url"))?;
        let batch = UrlBatch::new(self.inner.clone(), prepared.options)?;
        Ok(batch
            .sign(&url)
            .map_err(|e| Failure::from(e).at("url"))?
            .into_string())
    }

    /// Signs many URLs on worker threads (all cores, or `threads`), off the
    /// JavaScript thread; resolves to the signed URLs in input order, or rejects
    /// with the first bad URL's error (naming its index).
    #[napi(
        ts_args_type = "urls: string[], options: UrlOptions & { threads?: number }",
        ts_return_type = "Promise<string[]>"
    )]
    pub fn sign_urls(
        &self,
        env: Env,
        urls: Vec<String>,
        options: Option<Object<'_>>,
    ) -> napi::Result<AsyncTask<SignUrls>> {
        self.sign_urls_inner(urls, options)
            .map(AsyncTask::new)
            .throw(&env)
    }

    fn sign_urls_inner(&self, urls: Vec<String>, options: Option<Object<'_>>) -> Outcome<SignUrls> {
        let mut known = POLICY_OPTIONS.to_vec();
        known.push("threads");
        let o = Options::new(options, "options", &known)?;
        let threads = match o.count("threads")? {
            Some(n) => NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN),
            None => std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
        };
        let prepared = Prepared::read(&o, now_of(&o)?)?;
        Ok(SignUrls {
            batch: UrlBatch::new(self.inner.clone(), prepared.options.clone())?,
            prepared,
            urls,
            threads,
        })
    }

    /// Signs cookies for a URL or a wildcard pattern. Options: the policy options
    /// (without `resource`) and the cookie attributes `domain`, `path` ("/"),
    /// `secure` (true), `httpOnly` (true), `sameSite` ("Lax"), `maxAge` ("4h").
    #[napi(ts_args_type = "urlOrPattern: string, options: CookieOptions")]
    pub fn sign_cookies(
        &self,
        env: Env,
        url_or_pattern: String,
        options: Option<Object<'_>>,
    ) -> napi::Result<SignedCookies> {
        self.sign_cookies_inner(&url_or_pattern, options)
            .throw(&env)
    }

    fn sign_cookies_inner(
        &self,
        target: &str,
        options: Option<Object<'_>>,
    ) -> Outcome<SignedCookies> {
        let mut known: Vec<&str> = POLICY_OPTIONS
            .iter()
            .copied()
            .filter(|n| *n != "resource")
            .collect();
        known.extend(["domain", "path", "secure", "httpOnly", "sameSite", "maxAge"]);
        let o = Options::new(options, "options", &known)?;
        let now = now_of(&o)?;
        let prepared = Prepared::read(&o, now)?;
        let resource = prepared
            .resource_for(target)
            .map_err(|e| Failure::from(e).at("urlOrPattern"))?;
        let policy = prepared.options.policy_for_resource(resource)?;
        let mut attributes = CookieAttributes::default()
            .path(o.string("path")?.unwrap_or_else(|| "/".to_owned()))
            .secure(o.boolean("secure")?.unwrap_or(true))
            .http_only(o.boolean("httpOnly")?.unwrap_or(true));
        if let Some(s) = o.string("sameSite")? {
            let same_site: SameSite = s
                .parse()
                .map_err(|e: cfsign::CookieError| Failure::from(e).at(&o.label("sameSite")))?;
            attributes = attributes.same_site(same_site);
        }
        if let Some(d) = o.string("domain")? {
            attributes = attributes.domain(d);
        }
        if let Some(m) = o.string("maxAge")? {
            attributes = attributes.max_age(duration(&m).map_err(|f| f.at(&o.label("maxAge")))?);
        }
        let cookies = self.inner.sign_cookies(&policy)?;
        let set_cookie = cookies
            .set_cookie_headers(&attributes)
            .map_err(|e| Failure::from(e).at("options"))?;
        let mut warnings: Vec<Warning> = cookies
            .warnings(&attributes)
            .into_iter()
            .map(Warning::from)
            .collect();
        warnings.extend(
            lint::lint_policy(&policy, None, now, Some(self.inner.key_type()))
                .into_iter()
                .filter(|w| w.code != "url-too-long")
                .map(Warning::from),
        );
        Ok(SignedCookies {
            cookies: cookies
                .pairs()
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v))
                .collect(),
            set_cookie,
            cookie_header: cookies.cookie_header(),
            warnings,
            policy_form: policy.form().to_string(),
            policy: policy.json().to_owned(),
            expires: policy.date_less_than().get(),
        })
    }

    /// Signs a policy once (e.g. a wildcard resource); `applyTo(url)` then stamps
    /// it on every URL it covers without another private-key operation.
    #[napi(ts_args_type = "options: PolicyOptions")]
    pub fn sign_policy(&self, env: Env, options: Object<'_>) -> napi::Result<SignedPolicy> {
        self.sign_policy_inner(options).throw(&env)
    }

    fn sign_policy_inner(&self, options: Object<'_>) -> Outcome<SignedPolicy> {
        let o = Options::new(Some(options), "options", &POLICY_OPTIONS)?;
        let prepared = Prepared::read(&o, now_of(&o)?)?;
        let policy = prepared.options.policy_for_given().map_err(|e| match e {
            cfsign::options::OptionsError::NoResource => Failure::argument(format!(
                "{} is required: the URL or wildcard the policy grants (or give {})",
                o.label("resource"),
                o.label("policy")
            )),
            other => Failure::from(other),
        })?;
        Ok(SignedPolicy {
            inner: self.inner.sign_policy(&policy)?,
            policy: policy.json().to_owned(),
        })
    }

    /// Signs an HLS playlist or DASH MPD fetched from `manifestUrl`: every URI under
    /// the resource (by default the manifest's folder and below) gets one policy
    /// stamped on it (`mode: 'policy'`, the default) or its own canned policy
    /// (`mode: 'urls'`). Returns the manifest (a string if given a string, else a
    /// `Buffer`) and the report of `cfsign manifest --json`.
    #[napi(
        ts_args_type = "manifest: string | Buffer, manifestUrl: string, options: ManifestOptions",
        ts_return_type = "SignedManifest"
    )]
    pub fn sign_manifest<'env>(
        &self,
        env: &'env Env,
        manifest: Either<String, Buffer>,
        manifest_url: String,
        options: Option<Object<'_>>,
    ) -> napi::Result<Object<'env>> {
        let (signed, mode, as_string) = self
            .sign_manifest_inner(&manifest, &manifest_url, options)
            .throw(env)?;
        manifest_object(env, signed, mode, as_string)
    }

    fn sign_manifest_inner(
        &self,
        manifest: &Either<String, Buffer>,
        manifest_url: &str,
        options: Option<Object<'_>>,
    ) -> Outcome<(manifest::SignedManifest, Mode, bool)> {
        let mut known = POLICY_OPTIONS.to_vec();
        known.push("mode");
        let o = Options::new(options, "options", &known)?;
        let mode = match o.string("mode")?.as_deref() {
            None | Some("policy") => Mode::Policy,
            Some("urls") => Mode::Urls,
            Some(other) => {
                return Err(Failure::argument(format!(
                    "{}: {other:?} is not a mode; give 'policy' (one policy stamped on every URI) \
                     or 'urls' (each URI signed with its own canned policy)",
                    o.label("mode")
                )));
            }
        };
        let prepared = Prepared::read(&o, now_of(&o)?)?;
        let url = prepared
            .url(manifest_url)
            .map_err(|e| Failure::from(e).at("manifestUrl"))?;
        let (bytes, as_string) = match manifest {
            Either::A(text) => (text.as_bytes(), true),
            Either::B(buffer) => (&buffer[..], false),
        };
        let signed = manifest::sign(bytes, &url, &self.inner, &prepared.options, mode).map_err(
            |e| match e {
                ManifestError::CannedPolicy => Failure::from(e).at(&o.label("resource")),
                ManifestError::CannedConditions => Failure::from(e).at(&o.label("mode")),
                ManifestError::Resource(_) => Failure::from(e).at("manifestUrl"),
                ManifestError::Options(_)
                | ManifestError::SignPolicy(_)
                | ManifestError::NoResource => Failure::from(e),
                _ => Failure::from(e).at("manifest"),
            },
        )?;
        Ok((signed, mode, as_string))
    }
}

/// A signed manifest as the object `signManifest` returns (the `SignedManifest` of
/// `types.d.ts`): the names of `cfsign manifest --json`, in camel case, with
/// `signedByPlace` in the order the places first appeared.
fn manifest_object<'env>(
    env: &'env Env,
    signed: manifest::SignedManifest,
    mode: Mode,
    as_string: bool,
) -> napi::Result<Object<'env>> {
    let report = signed.rewritten.report;
    let mut object = Object::new(env)?;
    if as_string {
        let text = String::from_utf8(signed.rewritten.text).map_err(|e| {
            napi::Error::from_reason(format!("the signed manifest is not UTF-8: {e}"))
        })?;
        object.set("manifest", text)?;
    } else {
        object.set("manifest", Buffer::from(signed.rewritten.text))?;
    }
    object.set("format", report.format.as_str())?;
    object.set(
        "mode",
        match mode {
            Mode::Policy => "policy",
            Mode::Urls => "urls",
        },
    )?;
    object.set("resource", signed.covers.as_str())?;
    object.set("expires", signed.policy.date_less_than().get())?;
    object.set("signed", count(report.signed))?;
    let mut by_place = Object::new(env)?;
    for (place, n) in &report.signed_by_place {
        by_place.set(*place, count(*n))?;
    }
    object.set("signedByPlace", by_place)?;
    let mut left_alone = env.create_array(0)?;
    for (i, l) in report.left_alone.iter().enumerate() {
        let mut entry = Object::new(env)?;
        entry.set("line", count(l.line))?;
        entry.set("place", l.place)?;
        entry.set("uri", l.uri.as_str())?;
        entry.set("reason", l.reason.to_string())?;
        left_alone.set(count(i), entry)?;
    }
    object.set("leftAlone", left_alone)?;
    Ok(object)
}

/// A count as a JavaScript number (manifests are bounded far below 2^32 URIs).
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Builds a core signer from a key-pair ID, the key in `options[key]` and a hash name.
pub(crate) fn signer_from(
    key_pair_id: &str,
    o: &Options<'_>,
    key: &str,
    hash: Option<&str>,
) -> Outcome<cfsign::Signer> {
    let id = KeyPairId::new(key_pair_id).map_err(|e| Failure::from(e).at(&o.label("keyPairId")))?;
    let material = o
        .key_material(key)?
        .ok_or_else(|| Failure::argument(format!("{} is required", o.label(key))))?;
    let label = if o.value("passphrase")?.is_some() {
        format!("{} (with {})", o.label(key), o.label("passphrase"))
    } else {
        o.label(key)
    };
    let private = material.private_key().map_err(|f| f.at(&label))?;
    let hash: HashAlgorithm = match hash {
        Some(h) => h
            .parse()
            .map_err(|e| Failure::from(e).at(&o.label("hash")))?,
        None => HashAlgorithm::Sha1,
    };
    cfsign::Signer::new(id, private)
        .with_hash_algorithm(hash)
        .map_err(|e| Failure::from(e).at(&o.label("hash")))
}

/// A policy signed once.
#[napi]
pub struct SignedPolicy {
    inner: cfsign::SignedPolicy,
    policy: String,
}

#[napi]
impl SignedPolicy {
    /// `url` with the signing parameters appended; refused if the policy does not
    /// cover it. `{ encode: true }` percent-encodes the URL first.
    #[napi(ts_args_type = "url: string, options?: { encode?: boolean }")]
    pub fn apply_to(
        &self,
        env: Env,
        url: String,
        options: Option<Object<'_>>,
    ) -> napi::Result<String> {
        self.apply_inner(&url, options).throw(&env)
    }

    fn apply_inner(&self, url: &str, options: Option<Object<'_>>) -> Outcome<String> {
        let o = Options::new(options, "options", &["encode"])?;
        let parsed = if o.boolean("encode")?.unwrap_or(false) {
            SignableUrl::encode(url)
        } else {
            SignableUrl::parse(url)
        }
        .map_err(|e| Failure::from(e).at("url"))?;
        Ok(self
            .inner
            .apply_to(&parsed)
            .map_err(|e| Failure::from(e).at("url"))?
            .into_string())
    }

    /// The parameters appended to URLs (`Policy=…&Signature=…&Key-Pair-Id=…`).
    #[napi(getter)]
    pub fn query_parameters(&self) -> String {
        self.inner.query_parameters().to_owned()
    }

    /// The policy JSON that was signed.
    #[napi(getter)]
    pub fn policy(&self) -> String {
        self.policy.clone()
    }

    /// `canned` or `custom`.
    #[napi(getter)]
    pub fn policy_form(&self) -> String {
        self.inner.form().to_string()
    }

    /// When access ends, epoch seconds.
    #[napi(getter)]
    pub fn expires(&self) -> i64 {
        self.inner.expires().get()
    }

    /// The same signature as cookie values (name to value).
    #[napi]
    pub fn cookies(&self) -> std::collections::HashMap<String, String> {
        self.inner
            .to_cookies()
            .pairs()
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v))
            .collect()
    }
}

/// `signUrls` off the JavaScript thread.
pub struct SignUrls {
    batch: UrlBatch,
    prepared: Prepared,
    urls: Vec<String>,
    threads: NonZeroUsize,
}

impl Task for SignUrls {
    type Output = Outcome<Vec<String>>;
    type JsValue = Vec<String>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let urls = std::mem::take(&mut self.urls);
        let (batch, prepared) = (&self.batch, &self.prepared);
        let results = parallel_map(&urls, self.threads, |u| batch.sign(&prepared.url(u)?));
        Ok(results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.map(cfsign::SignedUrl::into_string)
                    .map_err(|e| Failure::from(e).at(&format!("urls[{i}]")))
            })
            .collect())
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.throw(&env)
    }
}

/// A new key pair.
#[napi(object)]
pub struct KeyPair {
    /// The private key, PKCS#8 PEM: keep it secret.
    pub private_key: String,
    /// The public key, SubjectPublicKeyInfo PEM: upload it to CloudFront.
    pub public_key: String,
    /// `RSA-2048` or `ECDSA P-256`.
    pub key_type: String,
}

/// `dashUrlQuery(mpd)`: a DASH MPD with `UrlQueryInfo` in every AdaptationSet
/// (DASH's own URL parameters, ISO/IEC 23009-1 Annex I), as a string or a
/// Buffer like the input. Players that support it (dash.js 5+, Shaka Player
/// 4.11+) append the MPD URL's query to their segment requests, so one MPD URL
/// signed for its folder signs the segments too. Nothing is signed.
#[napi(
    ts_args_type = "mpd: string | Buffer",
    ts_return_type = "string | Buffer"
)]
pub fn dash_url_query(
    env: Env,
    mpd: Either<String, Buffer>,
) -> napi::Result<Either<String, Buffer>> {
    let (bytes, as_string) = match &mpd {
        Either::A(text) => (text.as_bytes(), true),
        Either::B(buffer) => (&buffer[..], false),
    };
    let prepared = manifest::url_query(bytes)
        .map_err(|e| Failure::from(e).at("mpd"))
        .throw(&env)?;
    if as_string {
        let text = String::from_utf8(prepared.text)
            .map_err(|e| napi::Error::from_reason(format!("the MPD is not UTF-8: {e}")))?;
        Ok(Either::A(text))
    } else {
        Ok(Either::B(Buffer::from(prepared.text)))
    }
}

/// `keygen("ecdsa" | "rsa")`: a new key pair CloudFront accepts.
#[napi(ts_args_type = "type: 'ecdsa' | 'rsa'")]
pub fn keygen(env: Env, key_type: String) -> napi::Result<KeyPair> {
    keygen_inner(&key_type).throw(&env)
}

fn keygen_inner(key_type: &str) -> Outcome<KeyPair> {
    let t = match key_type {
        "ecdsa" => KeyType::EcdsaP256,
        "rsa" => KeyType::Rsa2048,
        other => {
            return Err(Failure::argument(format!(
                "type: {other:?} is not a key type CloudFront accepts; use \"ecdsa\" (ECDSA P-256) or \"rsa\" (RSA-2048)"
            )));
        }
    };
    let key = PrivateKey::generate(t)?;
    Ok(KeyPair {
        private_key: key.to_pkcs8_pem()?,
        public_key: key.public_key()?.to_pem()?,
        key_type: t.to_string(),
    })
}
