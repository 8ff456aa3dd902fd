//! `cfsign.Signer` and what it returns, over the core's `Signer`,
//! `SigningOptions`, `UrlBatch`, `manifest::sign` and lints. The GIL is released
//! around every private-key operation (and around the whole of `sign_urls` and
//! `sign_manifest`).

use std::borrow::Cow;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cfsign::batch::{UrlBatch, parallel_map};
use cfsign::manifest::{self, Mode};
use cfsign::options::SigningOptions;
use cfsign::{
    CookieAttributes, HashAlgorithm, KeyPairId, KeyType, PrivateKey, SameSite, SignError,
    SignableUrl, SigningKey, lint,
};
use jiff::Timestamp;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::convert::{self, KeyBytes, PolicyArgs, Span};
use crate::errors::{self, env_to_py, to_py, to_py_at};

/// A private-key operation done by a Python callable (`bytes -> bytes`): AWS KMS
/// through boto3, an HSM, botocore's `rsa_signer`. It receives the policy bytes
/// and returns the raw signature; the hash it uses is the one declared.
struct CallableKey {
    sign: Py<PyAny>,
    key_type: KeyType,
    hash: HashAlgorithm,
}

impl std::fmt::Debug for CallableKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallableKey")
            .field("key_type", &self.key_type)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl SigningKey for CallableKey {
    fn key_type(&self) -> KeyType {
        self.key_type
    }

    fn supports(&self, hash: HashAlgorithm) -> bool {
        hash == self.hash
    }

    fn sign(&self, _hash: HashAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignError> {
        Python::attach(|py| {
            let result = self
                .sign
                .call1(py, (PyBytes::new(py, message),))
                .map_err(|e| SignError::Backend(format!("the signing callable raised {e}")))?;
            let bytes = result.bind(py).cast::<PyBytes>().map_err(|_| {
                SignError::Backend(format!(
                    "the signing callable returned {}, not the signature as bytes",
                    result
                        .bind(py)
                        .get_type()
                        .name()
                        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
                ))
            })?;
            if bytes.as_bytes().is_empty() {
                return Err(SignError::Backend(
                    "the signing callable returned an empty signature".to_owned(),
                ));
            }
            Ok(bytes.as_bytes().to_vec())
        })
    }
}

/// Signs CloudFront URLs and cookies with one key. Thread-safe; the key is
/// parsed once.
#[pyclass(module = "cfsign", frozen)]
pub(crate) struct Signer {
    inner: cfsign::Signer,
}

fn key_pair_id(id: &str) -> PyResult<KeyPairId> {
    KeyPairId::new(id).map_err(to_py)
}

fn with_hash(signer: cfsign::Signer, hash: &str) -> PyResult<cfsign::Signer> {
    signer
        .with_hash_algorithm(convert::hash(hash)?)
        .map_err(to_py)
}

/// The options for one call: "now", then the keyword arguments.
fn options(args: &PolicyArgs<'_, '_>) -> PyResult<SigningOptions> {
    let now = Timestamp::now();
    SigningOptions::new(now)
        .with(args.inputs(now)?)
        .map_err(to_py)
}

fn attributes(
    domain: Option<&str>,
    path: &str,
    secure: bool,
    http_only: bool,
    same_site: &str,
    max_age: Option<&Bound<'_, PyAny>>,
) -> PyResult<CookieAttributes> {
    let mut a = CookieAttributes::default()
        .path(path)
        .secure(secure)
        .http_only(http_only)
        .same_site(same_site.parse::<SameSite>().map_err(to_py)?);
    if let Some(d) = domain {
        a = a.domain(d);
    }
    if let Some(m) = max_age {
        match convert::span(m, "max_age", Timestamp::now())? {
            Span::Ahead(d) => a = a.max_age(d),
            Span::NotAhead(_) => a = a.max_age(Duration::ZERO),
        }
    }
    Ok(a)
}

impl Signer {
    pub(crate) fn core(&self) -> &cfsign::Signer {
        &self.inner
    }

    pub(crate) fn from_core(inner: cfsign::Signer) -> Self {
        Self { inner }
    }

    /// A signer whose private-key operation is `sign(message) -> signature`.
    pub(crate) fn callable(
        key_pair_id: KeyPairId,
        sign: &Bound<'_, PyAny>,
        key_type: KeyType,
        hash: HashAlgorithm,
    ) -> PyResult<cfsign::Signer> {
        if !sign.is_callable() {
            return Err(PyTypeError::new_err(
                "sign must be a callable taking the policy bytes and returning the signature bytes",
            ));
        }
        let key = CallableKey {
            sign: sign.clone().unbind(),
            key_type,
            hash,
        };
        cfsign::Signer::from_arc(key_pair_id, Arc::new(key))
            .with_hash_algorithm(hash)
            .map_err(to_py)
    }

    /// Signs one URL with the policy the options give for it.
    pub(crate) fn sign_one(
        signer: &cfsign::Signer,
        py: Python<'_>,
        url: &str,
        options: &SigningOptions,
    ) -> PyResult<String> {
        let url = SignableUrl::parse(url).map_err(to_py)?;
        let policy = options.policy_for_url(&url).map_err(to_py)?;
        py.detach(|| signer.sign_url(&url, &policy))
            .map(cfsign::SignedUrl::into_string)
            .map_err(to_py)
    }

    /// Signs the cookies for what the options hold.
    pub(crate) fn cookies(
        signer: &cfsign::Signer,
        py: Python<'_>,
        options: &SigningOptions,
        attributes: &CookieAttributes,
    ) -> PyResult<SignedCookies> {
        let policy = options.policy_for_given().map_err(to_py)?;
        let cookies = py.detach(|| signer.sign_cookies(&policy)).map_err(to_py)?;
        let headers = cookies.set_cookie_headers(attributes).map_err(to_py)?;
        let warnings = lint::lint_cookies(
            &cookies,
            &policy,
            attributes,
            options.now(),
            Some(signer.key_type()),
        );
        Ok(SignedCookies {
            pairs: cookies
                .pairs()
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v))
                .collect(),
            set_cookie_headers: headers,
            cookie_header: cookies.cookie_header(),
            warnings: warnings.into_iter().map(Warning::from).collect(),
            policy: policy.json().to_owned(),
            form: policy.form().to_string(),
            expires: policy.date_less_than().get(),
        })
    }
}

#[pymethods]
impl Signer {
    /// `Signer(key_pair_id, private_key, *, hash="sha1")`: the key as PEM (`str`/`bytes`)
    /// or DER (`bytes`), RSA-2048 or ECDSA P-256; `hash` is `"sha1"` or `"sha256"`.
    #[new]
    #[pyo3(signature = (key_pair_id, private_key, *, hash = "sha1"))]
    fn new(
        py: Python<'_>,
        key_pair_id: &str,
        private_key: &Bound<'_, PyAny>,
        hash: &str,
    ) -> PyResult<Self> {
        let id = self::key_pair_id(key_pair_id)?;
        let material = KeyBytes::extract(private_key, "private_key")?;
        let key = py.detach(|| material.private()).map_err(to_py)?;
        Ok(Self {
            inner: with_hash(cfsign::Signer::new(id, key), hash)?,
        })
    }

    /// A signer with the private key read from a file (PEM or DER).
    #[staticmethod]
    #[pyo3(signature = (path, *, key_pair_id, hash = "sha1"))]
    fn from_file(py: Python<'_>, path: PathBuf, key_pair_id: &str, hash: &str) -> PyResult<Self> {
        let id = self::key_pair_id(key_pair_id)?;
        let key = py.detach(|| PrivateKey::from_file(&path)).map_err(to_py)?;
        Ok(Self {
            inner: with_hash(cfsign::Signer::new(id, key), hash)?,
        })
    }

    /// A signer from the environment, under the CLI's names.
    #[staticmethod]
    #[pyo3(signature = (*, hash = "sha1"))]
    fn from_env(py: Python<'_>, hash: &str) -> PyResult<Self> {
        let signer = py.detach(cfsign::env::signer_from_env).map_err(env_to_py)?;
        Ok(Self {
            inner: with_hash(signer, hash)?,
        })
    }

    /// A signer whose private-key operation is a Python callable.
    #[staticmethod]
    #[pyo3(signature = (key_pair_id, sign, *, key_type, hash))]
    fn from_callable(
        key_pair_id: &str,
        sign: &Bound<'_, PyAny>,
        key_type: &str,
        hash: &str,
    ) -> PyResult<Self> {
        let id = self::key_pair_id(key_pair_id)?;
        Ok(Self {
            inner: Self::callable(id, sign, convert::key_type(key_type)?, convert::hash(hash)?)?,
        })
    }

    /// The key-pair ID (`Key-Pair-Id`).
    #[getter]
    fn key_pair_id(&self) -> &str {
        self.inner.key_pair_id().as_str()
    }

    /// `"SHA1"` or `"SHA256"`.
    #[getter]
    fn hash_algorithm(&self) -> &'static str {
        self.inner.hash_algorithm().as_param()
    }

    /// `"RSA-2048"` or `"ECDSA P-256"`.
    #[getter]
    fn key_type(&self) -> String {
        self.inner.key_type().to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "Signer(key_pair_id={:?}, key_type={:?}, hash_algorithm={:?})",
            self.inner.key_pair_id().as_str(),
            self.inner.key_type().to_string(),
            self.inner.hash_algorithm().as_param()
        )
    }

    /// `url` (exactly as the client will request it) with the signing parameters; canned
    /// with only an expiry, custom with `not_before`, `ip`, a `resource` or a `policy`.
    #[pyo3(signature = (url, *, expires = None, expires_in = None, not_before = None, ip = None, resource = None, policy = None))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn sign_url(
        &self,
        py: Python<'_>,
        url: &str,
        expires: Option<&Bound<'_, PyAny>>,
        expires_in: Option<&Bound<'_, PyAny>>,
        not_before: Option<&Bound<'_, PyAny>>,
        ip: Option<&str>,
        resource: Option<&str>,
        policy: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let options = options(&PolicyArgs {
            names: &convert::NATIVE,
            expires,
            expires_in,
            not_before,
            ip,
            resource,
            policy,
        })?;
        Self::sign_one(&self.inner, py, url, &options)
    }

    /// Many URLs, in order, on `threads` threads (default: every core) without the GIL;
    /// with `resource` one policy is signed and stamped on every URL.
    #[pyo3(signature = (urls, *, expires = None, expires_in = None, not_before = None, ip = None, resource = None, policy = None, threads = None))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn sign_urls(
        &self,
        py: Python<'_>,
        urls: Vec<String>,
        expires: Option<&Bound<'_, PyAny>>,
        expires_in: Option<&Bound<'_, PyAny>>,
        not_before: Option<&Bound<'_, PyAny>>,
        ip: Option<&str>,
        resource: Option<&str>,
        policy: Option<&Bound<'_, PyAny>>,
        threads: Option<usize>,
    ) -> PyResult<Vec<String>> {
        let options = options(&PolicyArgs {
            names: &convert::NATIVE,
            expires,
            expires_in,
            not_before,
            ip,
            resource,
            policy,
        })?;
        let threads = match threads {
            Some(n) => NonZeroUsize::new(n)
                .ok_or_else(|| errors::argument("threads must be at least 1".to_owned()))?,
            None => std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
        };
        let signer = self.inner.clone();
        let results = py.detach(move || -> Result<Vec<_>, cfsign::Error> {
            let batch = UrlBatch::new(signer, options)?;
            Ok(parallel_map(&urls, threads, |u| {
                SignableUrl::parse(u)
                    .map_err(cfsign::Error::from)
                    .and_then(|url| batch.sign(&url))
            }))
        });
        let results = results.map_err(to_py)?;
        results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.map(cfsign::SignedUrl::into_string)
                    .map_err(|e| to_py_at(e, &format!("urls[{i}]")))
            })
            .collect()
    }

    /// One signed policy for `resource` (a wildcard) or `policy`, to stamp on many URLs
    /// with `SignedPolicy.apply_to`.
    #[pyo3(signature = (resource = None, *, expires = None, expires_in = None, not_before = None, ip = None, policy = None))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn sign_policy(
        &self,
        py: Python<'_>,
        resource: Option<&str>,
        expires: Option<&Bound<'_, PyAny>>,
        expires_in: Option<&Bound<'_, PyAny>>,
        not_before: Option<&Bound<'_, PyAny>>,
        ip: Option<&str>,
        policy: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<SignedPolicy> {
        let options = options(&PolicyArgs {
            names: &convert::NATIVE,
            expires,
            expires_in,
            not_before,
            ip,
            resource,
            policy,
        })?;
        let policy = options.policy_for_given().map_err(to_py)?;
        let signed = py
            .detach(|| self.inner.sign_policy(&policy))
            .map_err(to_py)?;
        Ok(SignedPolicy {
            inner: signed,
            policy: policy.json().to_owned(),
        })
    }

    /// Signed cookies for `resource` (or `policy`): a mapping of name to value with the
    /// `Set-Cookie` values (`domain`, `path`, `secure`, `http_only`, `same_site`,
    /// `max_age`) and the CLI's warnings.
    #[pyo3(signature = (resource = None, *, expires = None, expires_in = None, not_before = None, ip = None, policy = None, domain = None, path = "/", secure = true, http_only = true, same_site = "Lax", max_age = None))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn sign_cookies(
        &self,
        py: Python<'_>,
        resource: Option<&str>,
        expires: Option<&Bound<'_, PyAny>>,
        expires_in: Option<&Bound<'_, PyAny>>,
        not_before: Option<&Bound<'_, PyAny>>,
        ip: Option<&str>,
        policy: Option<&Bound<'_, PyAny>>,
        domain: Option<&str>,
        path: &str,
        secure: bool,
        http_only: bool,
        same_site: &str,
        max_age: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<SignedCookies> {
        let attributes = attributes(domain, path, secure, http_only, same_site, max_age)?;
        let options = options(&PolicyArgs {
            names: &convert::NATIVE,
            expires,
            expires_in,
            not_before,
            ip,
            resource,
            policy,
        })?;
        Self::cookies(&self.inner, py, &options, &attributes)
    }

    /// An HLS playlist or DASH MPD fetched from `manifest_url` with every URI under the
    /// resource signed (by default the manifest's folder and below): one policy stamped
    /// on every URI (`mode="policy"`), or each URI signed with a canned policy
    /// (`mode="urls"`). The signing is `cfsign::manifest::sign`, as `cfsign manifest`.
    #[pyo3(signature = (manifest, manifest_url, *, mode = "policy", expires = None, expires_in = None, not_before = None, ip = None, resource = None, policy = None))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn sign_manifest(
        &self,
        py: Python<'_>,
        manifest: &Bound<'_, PyAny>,
        manifest_url: &str,
        mode: &str,
        expires: Option<&Bound<'_, PyAny>>,
        expires_in: Option<&Bound<'_, PyAny>>,
        not_before: Option<&Bound<'_, PyAny>>,
        ip: Option<&str>,
        resource: Option<&str>,
        policy: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<SignedManifest> {
        let (text, as_str) = manifest_input(manifest)?;
        let mode = manifest_mode(mode)?;
        let options = options(&PolicyArgs {
            names: &convert::NATIVE,
            expires,
            expires_in,
            not_before,
            ip,
            resource,
            policy,
        })?;
        let url = SignableUrl::parse(manifest_url).map_err(|e| to_py_at(e, "manifest_url"))?;
        let signed = py
            .detach(|| manifest::sign(&text, &url, &self.inner, &options, mode))
            .map_err(manifest_error)?;
        let report = signed.rewritten.report;
        let manifest = manifest_output(py, signed.rewritten.text, as_str)?;
        Ok(SignedManifest {
            manifest,
            format: report.format.as_str(),
            mode: match mode {
                Mode::Policy => "policy",
                Mode::Urls => "urls",
            },
            resource: signed.covers.as_str().to_owned(),
            expires: signed.policy.date_less_than().get(),
            signed: report.signed,
            signed_by_place: report.signed_by_place,
            left_alone: report
                .left_alone
                .into_iter()
                .map(|l| LeftAlone {
                    line: l.line,
                    place: l.place,
                    uri: l.uri,
                    reason: l.reason.to_string(),
                })
                .collect(),
        })
    }
}

/// A manifest given as `str` or `bytes`: its bytes, and whether it was a `str`.
fn manifest_input<'a>(manifest: &'a Bound<'_, PyAny>) -> PyResult<(Cow<'a, [u8]>, bool)> {
    if let Ok(b) = manifest.cast::<PyBytes>() {
        Ok((Cow::Borrowed(b.as_bytes()), false))
    } else if let Ok(s) = manifest.cast::<PyString>() {
        // Borrowed when Python holds the text as UTF-8 already.
        let bytes = match s.to_cow()? {
            Cow::Borrowed(t) => Cow::Borrowed(t.as_bytes()),
            Cow::Owned(t) => Cow::Owned(t.into_bytes()),
        };
        Ok((bytes, true))
    } else {
        Err(PyTypeError::new_err(format!(
            "manifest must be the playlist or MPD as str or bytes, not {}",
            manifest
                .get_type()
                .name()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string())
        )))
    }
}

/// A rewritten manifest as the type it was given in.
fn manifest_output(py: Python<'_>, text: Vec<u8>, as_str: bool) -> PyResult<Py<PyAny>> {
    if as_str {
        // The core refuses input that is not UTF-8 and adds only ASCII.
        let text = String::from_utf8(text)
            .map_err(|e| errors::argument(format!("the manifest is not UTF-8 text: {e}")))?;
        Ok(PyString::new(py, &text).into_any().unbind())
    } else {
        Ok(PyBytes::new(py, &text).into_any().unbind())
    }
}

/// A DASH MPD with `UrlQueryInfo` in every `AdaptationSet` (DASH's own URL
/// parameters, ISO/IEC 23009-1 Annex I), as `str` or `bytes` like the input:
/// players that support it (dash.js 5+, Shaka Player 4.11+) append the MPD URL's
/// query to their segment requests, so one signed MPD URL signs the segments.
/// Nothing is signed; the MPD is the same for every viewer.
#[pyfunction]
pub(crate) fn dash_url_query(py: Python<'_>, mpd: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let (text, as_str) = manifest_input(mpd)?;
    let prepared = py
        .detach(|| manifest::url_query(&text))
        .map_err(|e| to_py_at(e, "mpd"))?;
    manifest_output(py, prepared.text, as_str)
}

/// `"policy"` or `"urls"`, as the CLI's `--mode`.
fn manifest_mode(text: &str) -> PyResult<Mode> {
    match text {
        "policy" => Ok(Mode::Policy),
        "urls" => Ok(Mode::Urls),
        _ => Err(errors::argument(format!(
            "mode {text:?}: give \"policy\" (one policy stamped on every URI) or \"urls\" \
             (each URI signed with its own canned policy)"
        ))),
    }
}

/// The exception for a manifest that cannot be signed, with the argument it came
/// from first, as the CLI names its flag (the options' own errors name theirs).
fn manifest_error(e: manifest::ManifestError) -> PyErr {
    use manifest::ManifestError as E;
    match e {
        E::CannedPolicy => to_py_at(e, "resource"),
        E::CannedConditions => to_py_at(e, "mode=\"urls\""),
        E::Resource(_) => to_py_at(e, "manifest_url"),
        E::Options(_) | E::SignPolicy(_) | E::NoResource => to_py(e),
        _ => to_py_at(e, "manifest"),
    }
}

/// One URI a manifest signing left as it was.
struct LeftAlone {
    line: usize,
    place: &'static str,
    uri: String,
    reason: String,
}

/// A signed manifest and its report (the fields of `cfsign manifest --json`); it
/// holds no signature apart from the ones in `manifest`.
#[pyclass(module = "cfsign", frozen)]
pub(crate) struct SignedManifest {
    manifest: Py<PyAny>,
    format: &'static str,
    mode: &'static str,
    resource: String,
    expires: i64,
    signed: usize,
    signed_by_place: Vec<(&'static str, usize)>,
    left_alone: Vec<LeftAlone>,
}

#[pymethods]
impl SignedManifest {
    /// The manifest with the covered URIs signed (`str` if given `str`, else `bytes`).
    #[getter]
    fn manifest(&self, py: Python<'_>) -> Py<PyAny> {
        self.manifest.clone_ref(py)
    }

    /// `"HLS"` or `"DASH"`.
    #[getter]
    fn format(&self) -> &'static str {
        self.format
    }

    /// `"policy"` or `"urls"`.
    #[getter]
    fn mode(&self) -> &'static str {
        self.mode
    }

    /// The resource that decided which URIs were signed.
    #[getter]
    fn resource(&self) -> &str {
        &self.resource
    }

    /// When access ends, epoch seconds.
    #[getter]
    fn expires(&self) -> i64 {
        self.expires
    }

    /// How many URIs were signed.
    #[getter]
    fn signed(&self) -> usize {
        self.signed
    }

    /// How many URIs were signed per place, in the order the places first appeared.
    #[getter]
    fn signed_by_place<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (place, n) in &self.signed_by_place {
            d.set_item(place, n)?;
        }
        Ok(d)
    }

    /// Every URI left as it was, in document order: `line`, `place`, `uri`, `reason`.
    #[getter]
    fn left_alone<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for l in &self.left_alone {
            let d = PyDict::new(py);
            d.set_item("line", l.line)?;
            d.set_item("place", l.place)?;
            d.set_item("uri", &l.uri)?;
            d.set_item("reason", &l.reason)?;
            list.append(d)?;
        }
        Ok(list)
    }

    fn __repr__(&self) -> String {
        format!(
            "SignedManifest(format={:?}, mode={:?}, resource={:?}, expires={}, signed={}, left_alone={})",
            self.format,
            self.mode,
            self.resource,
            self.expires,
            self.signed,
            self.left_alone.len()
        )
    }
}

/// One signed policy, to stamp on every URL it covers.
#[pyclass(module = "cfsign", frozen)]
pub(crate) struct SignedPolicy {
    inner: cfsign::SignedPolicy,
    policy: String,
}

#[pymethods]
impl SignedPolicy {
    /// `url` with the signing parameters appended (the policy must cover it).
    fn apply_to(&self, url: &str) -> PyResult<String> {
        let url = SignableUrl::parse(url).map_err(to_py)?;
        self.inner
            .apply_to(&url)
            .map(cfsign::SignedUrl::into_string)
            .map_err(to_py)
    }

    #[getter]
    fn query_parameters(&self) -> &str {
        self.inner.query_parameters()
    }

    #[getter]
    fn policy(&self) -> &str {
        &self.policy
    }

    #[getter]
    fn form(&self) -> String {
        self.inner.form().to_string()
    }

    #[getter]
    fn expires(&self) -> i64 {
        self.inner.expires().get()
    }

    fn __repr__(&self) -> String {
        format!(
            "SignedPolicy(form={:?}, expires={})",
            self.inner.form().to_string(),
            self.inner.expires().get()
        )
    }
}

/// A lint finding: a stable code and the message with the fix.
#[pyclass(module = "cfsign", frozen, get_all)]
#[derive(Clone)]
pub(crate) struct Warning {
    code: String,
    message: String,
}

impl From<cfsign::Warning> for Warning {
    fn from(w: cfsign::Warning) -> Self {
        Self {
            code: w.code.to_owned(),
            message: w.message,
        }
    }
}

#[pymethods]
impl Warning {
    fn __str__(&self) -> String {
        format!("warning[{}]: {}", self.code, self.message)
    }

    fn __repr__(&self) -> String {
        format!("Warning(code={:?}, message={:?})", self.code, self.message)
    }
}

/// Signed cookies: a read-only mapping of cookie name to value, plus the
/// `Set-Cookie` header values, a `Cookie` header and the warnings.
#[pyclass(module = "cfsign", frozen, mapping)]
pub(crate) struct SignedCookies {
    pairs: Vec<(String, String)>,
    #[pyo3(get)]
    set_cookie_headers: Vec<String>,
    #[pyo3(get)]
    cookie_header: String,
    #[pyo3(get)]
    warnings: Vec<Warning>,
    #[pyo3(get)]
    policy: String,
    #[pyo3(get)]
    form: String,
    #[pyo3(get)]
    expires: i64,
}

impl SignedCookies {
    pub(crate) fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (n, v) in &self.pairs {
            d.set_item(n, v)?;
        }
        Ok(d)
    }
}

#[pymethods]
impl SignedCookies {
    fn __getitem__(&self, key: &str) -> PyResult<String> {
        self.pairs
            .iter()
            .find(|(n, _)| n == key)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(key.to_owned()))
    }

    fn __len__(&self) -> usize {
        self.pairs.len()
    }

    fn __contains__(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let names: Vec<&str> = self.pairs.iter().map(|(n, _)| n.as_str()).collect();
        Ok(names.into_pyobject(py)?.try_iter()?.into_any().unbind())
    }

    fn keys(&self) -> Vec<String> {
        self.pairs.iter().map(|(n, _)| n.clone()).collect()
    }

    fn values(&self) -> Vec<String> {
        self.pairs.iter().map(|(_, v)| v.clone()).collect()
    }

    fn items(&self) -> Vec<(String, String)> {
        self.pairs.clone()
    }

    #[pyo3(signature = (key, default = None, /))]
    fn get(&self, py: Python<'_>, key: &str, default: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        match self.pairs.iter().find(|(n, _)| n == key) {
            Some((_, v)) => Ok(v.into_pyobject(py)?.into_any().unbind()),
            None => Ok(default.unwrap_or_else(|| py.None())),
        }
    }

    #[pyo3(name = "to_dict")]
    fn py_to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.to_dict(py)
    }

    fn __repr__(&self) -> String {
        let names: Vec<&str> = self.pairs.iter().map(|(n, _)| n.as_str()).collect();
        format!("SignedCookies({names:?}, form={:?})", self.form)
    }
}

/// A new key pair: `(private_pem, public_pem)`; the public key is what
/// CloudFront takes.
#[pyfunction]
pub(crate) fn keygen(py: Python<'_>, key_type: &str) -> PyResult<(String, String)> {
    let kind = convert::key_type(key_type)?;
    py.detach(|| -> Result<(String, String), cfsign::KeyError> {
        let key = PrivateKey::generate(kind)?;
        Ok((key.to_pkcs8_pem()?, key.public_key()?.to_pem()?))
    })
    .map_err(to_py)
}

/// A raw URL percent-encoded as clients send it (keeps valid `%XX` escapes).
#[pyfunction]
pub(crate) fn encode_url(url: &str) -> PyResult<String> {
    SignableUrl::encode(url)
        .map(|u| u.as_str().to_owned())
        .map_err(to_py)
}
