//! `cfsign.Verifier`: the core's verifier and `explain`, with the GIL released
//! around every public-key operation.

use std::net::IpAddr;

use cfsign::explain::explain;
use cfsign::verify::{Decision as CoreDecision, ViewerRequest};
use cfsign::{KeyPairId, PublicKey};
use jiff::Timestamp;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyMapping, PyString};

use crate::convert::{self, KeyBytes};
use crate::errors::{self, to_py};

/// Decides requests as CloudFront's edge would, for a set of trusted keys.
#[pyclass(module = "cfsign", frozen)]
pub(crate) struct Verifier {
    inner: cfsign::verify::Verifier,
    has_keys: bool,
}

/// The request's parts, converted.
struct Request {
    url: String,
    cookie: Option<String>,
    client_ip: Option<IpAddr>,
    now: Timestamp,
}

impl Request {
    fn new(
        url: String,
        cookies: Option<&Bound<'_, PyAny>>,
        client_ip: Option<&str>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let cookie = match cookies {
            None => None,
            Some(c) if c.is_instance_of::<PyString>() => {
                let text: String = c.extract()?;
                Some(
                    text.strip_prefix("Cookie:")
                        .map_or(text.as_str(), str::trim_start)
                        .to_owned(),
                )
            }
            Some(c) => {
                let mapping = c.cast::<PyMapping>().map_err(|_| {
                    PyTypeError::new_err(
                        "cookies must be a Cookie header (str) or a mapping of cookie name to value",
                    )
                })?;
                let mut parts = Vec::new();
                for item in mapping.items()?.iter() {
                    let (name, value): (String, String) = item.extract()?;
                    parts.push(format!("{name}={value}"));
                }
                Some(parts.join("; "))
            }
        };
        let client_ip = client_ip
            .map(|ip| {
                ip.parse::<IpAddr>().map_err(|_| {
                    errors::argument(format!(
                        "client_ip {ip:?} is not an IP address (e.g. 203.0.113.7 or 2001:db8::1)"
                    ))
                })
            })
            .transpose()?;
        let now = match now {
            Some(v) => convert::instant(v, "now")?.0,
            None => Timestamp::now(),
        };
        Ok(Self {
            url,
            cookie,
            client_ip,
            now,
        })
    }

    fn viewer(&self) -> ViewerRequest<'_> {
        let mut r = ViewerRequest::new(&self.url);
        if let Some(c) = &self.cookie {
            r = r.cookie_header(c);
        }
        if let Some(ip) = self.client_ip {
            r = r.client_ip(ip);
        }
        r
    }
}

#[pymethods]
impl Verifier {
    /// `Verifier({key_pair_id: public_key, ...})`: public keys as PEM or DER.
    #[new]
    #[pyo3(signature = (keys))]
    fn new(py: Python<'_>, keys: &Bound<'_, PyAny>) -> PyResult<Self> {
        let mapping = keys.cast::<PyMapping>().map_err(|_| {
            PyTypeError::new_err("keys must be a mapping of key-pair ID to public key (PEM or DER)")
        })?;
        let mut parsed: Vec<(KeyPairId, KeyBytes)> = Vec::new();
        for item in mapping.items()?.iter() {
            let (id, key): (String, Bound<'_, PyAny>) = item.extract()?;
            let id = KeyPairId::new(&id).map_err(to_py)?;
            parsed.push((id, KeyBytes::extract(&key, "a public key")?));
        }
        let has_keys = !parsed.is_empty();
        let inner = py
            .detach(|| -> Result<_, (String, cfsign::KeyError)> {
                let mut v = cfsign::verify::Verifier::new();
                for (id, key) in parsed {
                    let public: PublicKey = key.public().map_err(|e| (id.to_string(), e))?;
                    v = v.with_key(id, public);
                }
                Ok(v)
            })
            .map_err(|(id, e)| errors::to_py_at(e, &format!("public key {id}")))?;
        Ok(Self { inner, has_keys })
    }

    /// The decision for one request.
    #[pyo3(signature = (url, *, cookies = None, client_ip = None, now = None))]
    fn verify(
        &self,
        py: Python<'_>,
        url: String,
        cookies: Option<&Bound<'_, PyAny>>,
        client_ip: Option<&str>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Decision> {
        let request = Request::new(url, cookies, client_ip, now)?;
        let decision = py.detach(|| self.inner.verify(&request.viewer(), request.now));
        Ok(Decision::from(&decision))
    }

    /// The diagnosis of one request: the decision, the decoded facts, and the
    /// findings (cause and fix) the CLI's `cfsign explain` prints.
    #[pyo3(signature = (url, *, cookies = None, client_ip = None, now = None))]
    fn explain(
        &self,
        py: Python<'_>,
        url: String,
        cookies: Option<&Bound<'_, PyAny>>,
        client_ip: Option<&str>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Explanation> {
        let request = Request::new(url, cookies, client_ip, now)?;
        let verifier = self.has_keys.then_some(&self.inner);
        let report = py.detach(|| explain(verifier, &request.viewer(), request.now));
        Ok(Explanation {
            text: report.to_string(),
            decision: report.decision.as_ref().map(Decision::from),
            facts: report
                .facts
                .iter()
                .map(|(l, v)| ((*l).to_owned(), v.clone()))
                .collect(),
            findings: report
                .findings
                .into_iter()
                .map(|f| Finding {
                    code: f.code.to_owned(),
                    summary: f.summary,
                    fix: f.fix,
                })
                .collect(),
            not_checked: report.unchecked,
        })
    }

    /// The trusted key-pair IDs.
    #[getter]
    fn key_ids(&self) -> Vec<String> {
        self.inner
            .key_ids()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("Verifier(key_ids={:?})", self.inner.key_ids())
    }
}

/// Whether CloudFront would serve the request, and why not.
#[pyclass(module = "cfsign", frozen, get_all)]
#[derive(Clone)]
pub(crate) struct Decision {
    allowed: bool,
    status: u16,
    code: Option<String>,
    message: Option<String>,
    reason: Option<String>,
    key_pair_id: Option<String>,
    policy_form: Option<String>,
    hash_algorithm: Option<String>,
    expires: Option<i64>,
    policy: Option<String>,
    forward_url: Option<String>,
}

impl From<&CoreDecision> for Decision {
    fn from(d: &CoreDecision) -> Self {
        match d {
            CoreDecision::Allowed(a) => Self {
                allowed: true,
                status: 200,
                code: None,
                message: None,
                reason: None,
                key_pair_id: Some(a.key_pair_id().to_owned()),
                policy_form: Some(a.form().to_string()),
                hash_algorithm: Some(a.hash_algorithm().as_param().to_owned()),
                expires: Some(a.date_less_than().get()),
                policy: Some(a.policy_json().to_owned()),
                forward_url: Some(a.forward_url().to_owned()),
            },
            CoreDecision::Denied(x) => Self {
                allowed: false,
                status: x.status(),
                code: Some(x.code().as_str().to_owned()),
                message: Some(x.code().message().to_owned()),
                reason: Some(x.reason().to_string()),
                key_pair_id: None,
                policy_form: None,
                hash_algorithm: None,
                expires: None,
                policy: None,
                forward_url: None,
            },
        }
    }
}

#[pymethods]
impl Decision {
    fn __bool__(&self) -> bool {
        self.allowed
    }

    fn __repr__(&self) -> String {
        if self.allowed {
            format!(
                "Decision(allowed=True, key_pair_id={:?})",
                self.key_pair_id.as_deref().unwrap_or("")
            )
        } else {
            format!(
                "Decision(allowed=False, status={}, code={:?}, reason={:?})",
                self.status,
                self.code.as_deref().unwrap_or(""),
                self.reason.as_deref().unwrap_or("")
            )
        }
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("allowed", self.allowed)?;
        d.set_item("status", self.status)?;
        d.set_item("code", &self.code)?;
        d.set_item("message", &self.message)?;
        d.set_item("reason", &self.reason)?;
        Ok(d)
    }
}

/// One likely cause of a denial, with the fix.
#[pyclass(module = "cfsign", frozen, get_all)]
#[derive(Clone)]
pub(crate) struct Finding {
    code: String,
    summary: String,
    fix: String,
}

#[pymethods]
impl Finding {
    fn __repr__(&self) -> String {
        format!(
            "Finding(code={:?}, summary={:?}, fix={:?})",
            self.code, self.summary, self.fix
        )
    }
}

/// The diagnosis of one request; `str()` of it is what `cfsign explain` prints.
#[pyclass(module = "cfsign", frozen)]
pub(crate) struct Explanation {
    #[pyo3(get)]
    decision: Option<Decision>,
    #[pyo3(get)]
    facts: Vec<(String, String)>,
    #[pyo3(get)]
    findings: Vec<Finding>,
    #[pyo3(get)]
    not_checked: Vec<String>,
    text: String,
}

#[pymethods]
impl Explanation {
    fn __str__(&self) -> &str {
        &self.text
    }

    fn __repr__(&self) -> String {
        let codes: Vec<&str> = self.findings.iter().map(|f| f.code.as_str()).collect();
        format!("Explanation(findings={codes:?})")
    }
}
