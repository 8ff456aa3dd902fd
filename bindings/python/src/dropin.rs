//! `cfsign.CloudFrontSigner`: botocore's `CloudFrontSigner` methods and argument
//! names over the core, so that replacing the import is the whole change.
//!
//! The second argument is a private key (PEM `str`/`bytes`, or DER) or, as in
//! botocore, an `rsa_signer(message) -> signature` callable. Policies come from
//! the core's `SigningOptions`, so they are byte-identical to botocore's for the
//! same inputs (compact JSON, `Resource` then `Condition`, `DateLessThan`,
//! `IpAddress` with `/32` added to a bare address, `DateGreaterThan`), and every
//! input the core refuses raises a `cfsign.Error` (a `ValueError`).

use cfsign::KeyPairId;
use cfsign::options::{PolicyInputs, SigningOptions};
use jiff::Timestamp;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::convert::{self, KeyBytes, PolicyArgs};
use crate::errors::to_py;
use crate::signing::{SignedCookies, Signer};

/// botocore's `CloudFrontSigner`, with SHA-256 and signed cookies as well.
#[pyclass(module = "cfsign", frozen)]
pub(crate) struct CloudFrontSigner {
    signer: Signer,
    #[pyo3(get)]
    key_id: String,
}

impl CloudFrontSigner {
    fn options(
        date_less_than: Option<&Bound<'_, PyAny>>,
        date_greater_than: Option<&Bound<'_, PyAny>>,
        ip_address: Option<&str>,
        resource: Option<&str>,
        policy: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<SigningOptions> {
        let now = Timestamp::now();
        let inputs: PolicyInputs = PolicyArgs {
            names: &convert::BOTOCORE,
            expires: date_less_than,
            expires_in: None,
            not_before: date_greater_than,
            ip: ip_address,
            resource,
            policy,
        }
        .inputs(now)?;
        SigningOptions::new(now).with(inputs).map_err(to_py)
    }
}

#[pymethods]
impl CloudFrontSigner {
    /// `CloudFrontSigner(key_id, signer_or_private_key, *, hash_algorithm="SHA1",
    /// key_type="rsa")`: a private key (PEM or DER) or botocore's `rsa_signer` callable
    /// (whose key type is `key_type` and whose hash is `hash_algorithm`).
    #[new]
    #[pyo3(signature = (key_id, signer_or_private_key, *, hash_algorithm = "SHA1", key_type = "rsa"))]
    fn new(
        py: Python<'_>,
        key_id: &str,
        signer_or_private_key: &Bound<'_, PyAny>,
        hash_algorithm: &str,
        key_type: &str,
    ) -> PyResult<Self> {
        let id = KeyPairId::new(key_id).map_err(to_py)?;
        let hash = convert::hash(hash_algorithm)?;
        let is_key = signer_or_private_key.is_instance_of::<PyString>()
            || signer_or_private_key.is_instance_of::<PyBytes>();
        let core = if !is_key && signer_or_private_key.is_callable() {
            Signer::callable(
                id,
                signer_or_private_key,
                convert::key_type(key_type)?,
                hash,
            )?
        } else {
            let material = KeyBytes::extract(signer_or_private_key, "signer_or_private_key")?;
            let key = py.detach(|| material.private()).map_err(to_py)?;
            cfsign::Signer::new(id, key)
                .with_hash_algorithm(hash)
                .map_err(to_py)?
        };
        Ok(Self {
            signer: Signer::from_core(core),
            key_id: key_id.to_owned(),
        })
    }

    /// A signed URL: canned with `date_less_than`, or under `policy` (JSON from
    /// `build_policy` or your own); exactly one of the two.
    #[pyo3(signature = (url, date_less_than = None, policy = None))]
    fn generate_presigned_url(
        &self,
        py: Python<'_>,
        url: &str,
        date_less_than: Option<&Bound<'_, PyAny>>,
        policy: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let options = Self::options(date_less_than, None, None, None, policy)?;
        Signer::sign_one(self.signer.core(), py, url, &options)
    }

    /// The custom policy JSON for `resource` (a URL or a wildcard pattern).
    #[pyo3(signature = (resource, date_less_than, date_greater_than = None, ip_address = None))]
    fn build_policy(
        &self,
        resource: &str,
        date_less_than: &Bound<'_, PyAny>,
        date_greater_than: Option<&Bound<'_, PyAny>>,
        ip_address: Option<&str>,
    ) -> PyResult<String> {
        let options = Self::options(
            Some(date_less_than),
            date_greater_than,
            ip_address,
            Some(resource),
            None,
        )?;
        let policy = options.policy_for_given().map_err(to_py)?;
        Ok(policy.json().to_owned())
    }

    /// Signed cookies (`CloudFront-Policy` or `CloudFront-Expires`,
    /// `CloudFront-Signature`, `CloudFront-Key-Pair-Id`, and
    /// `CloudFront-Hash-Algorithm` with SHA-256) as a dict, for `url` (a URL or
    /// a wildcard pattern) with `date_less_than`, or under `policy`.
    #[pyo3(signature = (url, date_less_than = None, policy = None))]
    fn generate_signed_cookies<'py>(
        &self,
        py: Python<'py>,
        url: &str,
        date_less_than: Option<&Bound<'_, PyAny>>,
        policy: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let resource = if policy.is_some() { None } else { Some(url) };
        let options = Self::options(date_less_than, None, None, resource, policy)?;
        let cookies: SignedCookies = Signer::cookies(
            self.signer.core(),
            py,
            &options,
            &cfsign::CookieAttributes::default(),
        )?;
        cookies.to_dict(py)
    }

    /// `"SHA1"` or `"SHA256"`.
    #[getter]
    fn hash_algorithm(&self) -> &'static str {
        self.signer.core().hash_algorithm().as_param()
    }

    fn __repr__(&self) -> String {
        format!(
            "CloudFrontSigner(key_id={:?}, hash_algorithm={:?})",
            self.key_id,
            self.signer.core().hash_algorithm().as_param()
        )
    }
}
