//! Python values into the core's types. Conversions only: every check of a
//! value (milliseconds, ranges, formats, key types) is the core's, and its
//! errors go through [`crate::errors`]. A value of the wrong Python type is a
//! `TypeError` naming the argument and the types it takes.

use std::time::Duration;

use cfsign::options::PolicyInputs;
use cfsign::time::{EpochSeconds, parse_duration, parse_instant};
use cfsign::{HashAlgorithm, KeyType, Policy, PrivateKey, PublicKey, Resource, SourceIp};
use jiff::Timestamp;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyInt, PyString, PyType};

use crate::errors::{self, to_py, to_py_at};

static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn datetime_type<'py>(
    py: Python<'py>,
    name: &str,
    cell: &'static PyOnceLock<Py<PyType>>,
) -> PyResult<Bound<'py, PyType>> {
    cell.get_or_try_init(py, || -> PyResult<Py<PyType>> {
        Ok(py
            .import("datetime")?
            .getattr(name)?
            .cast_into::<PyType>()?
            .unbind())
    })
    .map(|t| t.bind(py).clone())
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// An instant: a `datetime` (aware, or naive meaning UTC), epoch seconds as an
/// `int`, or text in the CLI's forms (`2030-01-01T00:00:00Z`, `2030-01-01`).
/// Returns the instant and, for `int` and text, the value as written (for the
/// core's `YYYYMMDD` diagnosis).
pub(crate) fn instant(
    value: &Bound<'_, PyAny>,
    name: &str,
) -> PyResult<(Timestamp, Option<String>)> {
    let py = value.py();
    if value.is_instance_of::<PyBool>() {
        return Err(wrong_time_type(value, name));
    }
    if let Ok(int) = value.cast::<PyInt>() {
        let written = int.str()?.to_string();
        return match int.extract::<i64>() {
            Ok(seconds) => EpochSeconds::new(seconds)
                .map(|s| (s.to_timestamp(), Some(written)))
                .map_err(|e| to_py_at(e, name)),
            // Beyond i64: the core's parser words it.
            Err(_) => parse_instant(&written)
                .map(|t| (t, Some(written)))
                .map_err(|e| to_py_at(e, name)),
        };
    }
    if let Ok(text) = value.cast::<PyString>() {
        let text = text.to_cow()?;
        return parse_instant(&text)
            .map(|t| (t, Some(text.into_owned())))
            .map_err(|e| to_py_at(e, name));
    }
    if value.is_instance(datetime_type(py, "datetime", &DATETIME)?.as_any())? {
        return Ok((datetime(value)?, None));
    }
    Err(wrong_time_type(value, name))
}

fn wrong_time_type(value: &Bound<'_, PyAny>, name: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "{name} must be a datetime, whole epoch seconds (int) or text such as \
         2030-01-01T00:00:00Z, not {}",
        type_name(value)
    ))
}

/// A `datetime` as an instant: its fields as UTC, minus its UTC offset if aware.
fn datetime(value: &Bound<'_, PyAny>) -> PyResult<Timestamp> {
    let field = |n: &str| -> PyResult<i64> { value.getattr(n)?.extract() };
    let civil = jiff::civil::DateTime::new(
        narrow(field("year")?)?,
        narrow(field("month")?)?,
        narrow(field("day")?)?,
        narrow(field("hour")?)?,
        narrow(field("minute")?)?,
        narrow(field("second")?)?,
        narrow(field("microsecond")? * 1000)?,
    )
    .map_err(|e| PyTypeError::new_err(format!("not a representable datetime: {e}")))?;
    let local = civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| PyTypeError::new_err(format!("not a representable datetime: {e}")))?
        .timestamp();
    let offset = value.call_method0("utcoffset")?;
    if offset.is_none() {
        return Ok(local);
    }
    let shift = signed_timedelta(&offset)?;
    local
        .checked_sub(shift)
        .map_err(|e| PyTypeError::new_err(format!("not a representable datetime: {e}")))
}

fn narrow<T: TryFrom<i64>>(v: i64) -> PyResult<T> {
    T::try_from(v).map_err(|_| PyTypeError::new_err(format!("datetime field {v} out of range")))
}

fn signed_timedelta(value: &Bound<'_, PyAny>) -> PyResult<jiff::SignedDuration> {
    let days: i64 = value.getattr("days")?.extract()?;
    let seconds: i64 = value.getattr("seconds")?.extract()?;
    let micros: i32 = value.getattr("microseconds")?.extract()?;
    let whole = days
        .checked_mul(86_400)
        .and_then(|d| d.checked_add(seconds))
        .ok_or_else(|| PyTypeError::new_err("timedelta out of range"))?;
    Ok(jiff::SignedDuration::new(whole, micros * 1000))
}

/// How long from now: a `timedelta`, whole seconds as an `int`, or text in the
/// CLI's forms (`15m`, `1h30m`). A zero or negative span becomes an instant at
/// or before `now`, which the core refuses as an expiry not in the future.
pub(crate) enum Span {
    /// A positive duration.
    Ahead(Duration),
    /// Not ahead of now: this instant.
    NotAhead(Timestamp),
}

pub(crate) fn span(value: &Bound<'_, PyAny>, name: &str, now: Timestamp) -> PyResult<Span> {
    let py = value.py();
    let signed = if value.is_instance_of::<PyBool>() {
        return Err(wrong_span_type(value, name));
    } else if let Ok(int) = value.cast::<PyInt>() {
        let seconds: i64 = int.extract()?;
        jiff::SignedDuration::from_secs(seconds)
    } else if let Ok(text) = value.cast::<PyString>() {
        return parse_duration(&text.to_cow()?)
            .map(Span::Ahead)
            .map_err(|e| to_py_at(e, name));
    } else if value.is_instance(datetime_type(py, "timedelta", &TIMEDELTA)?.as_any())? {
        signed_timedelta(value)?
    } else {
        return Err(wrong_span_type(value, name));
    };
    if signed.is_positive() {
        Duration::try_from(signed)
            .map(Span::Ahead)
            .map_err(|e| PyTypeError::new_err(format!("{name}: {e}")))
    } else {
        now.checked_add(signed)
            .map(Span::NotAhead)
            .map_err(|e| PyTypeError::new_err(format!("{name}: {e}")))
    }
}

fn wrong_span_type(value: &Bound<'_, PyAny>, name: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "{name} must be a timedelta, whole seconds (int) or text such as 15m or 1h30m, not {}",
        type_name(value)
    ))
}

/// Key material: `bytes` (PEM or DER, detected) or `str` (PEM).
pub(crate) enum KeyBytes {
    /// PEM or DER.
    Bytes(Vec<u8>),
    /// PEM text.
    Text(String),
}

impl KeyBytes {
    pub(crate) fn extract(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Self> {
        if let Ok(b) = value.cast::<PyBytes>() {
            Ok(Self::Bytes(b.as_bytes().to_vec()))
        } else if let Ok(s) = value.cast::<PyString>() {
            Ok(Self::Text(s.to_cow()?.into_owned()))
        } else {
            Err(PyTypeError::new_err(format!(
                "{name} must be the key as bytes (PEM or DER) or str (PEM), not {}",
                type_name(value)
            )))
        }
    }

    pub(crate) fn private(&self) -> Result<PrivateKey, cfsign::KeyError> {
        match self {
            Self::Bytes(b) => PrivateKey::from_bytes(b),
            Self::Text(t) => PrivateKey::from_pem(t),
        }
    }

    pub(crate) fn public(&self) -> Result<PublicKey, cfsign::KeyError> {
        match self {
            Self::Bytes(b) => PublicKey::from_bytes(b),
            Self::Text(t) => PublicKey::from_pem(t),
        }
    }
}

/// `"sha1"`/`"SHA256"`/... as the core parses it.
pub(crate) fn hash(text: &str) -> PyResult<HashAlgorithm> {
    text.parse().map_err(to_py)
}

/// `"rsa"` or `"ecdsa"`.
pub(crate) fn key_type(text: &str) -> PyResult<KeyType> {
    match text.to_ascii_lowercase().as_str() {
        "rsa" | "rsa2048" | "rsa-2048" => Ok(KeyType::Rsa2048),
        "ecdsa" | "ecdsa-p256" | "ecdsa p-256" | "p256" => Ok(KeyType::EcdsaP256),
        _ => Err(errors::argument(format!(
            "key type {text:?}: CloudFront accepts \"rsa\" (RSA-2048) and \"ecdsa\" (ECDSA P-256)"
        ))),
    }
}

/// A policy given as JSON text or bytes, parsed by the core (kept byte for byte).
pub(crate) fn policy(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Policy> {
    let text = if let Ok(b) = value.cast::<PyBytes>() {
        std::str::from_utf8(b.as_bytes())
            .map_err(|e| {
                PyTypeError::new_err(format!("{name}: the policy bytes are not UTF-8: {e}"))
            })?
            .to_owned()
    } else if let Ok(s) = value.cast::<PyString>() {
        s.to_cow()?.into_owned()
    } else {
        return Err(PyTypeError::new_err(format!(
            "{name} must be the policy JSON as str or bytes, not {}",
            type_name(value)
        )));
    };
    Policy::from_json(&text).map_err(|e| to_py_at(e, name))
}

/// What the caller calls each part, for messages that name the argument.
pub(crate) struct ArgNames {
    expires: &'static str,
    expires_in: &'static str,
    not_before: &'static str,
    ip: &'static str,
    resource: &'static str,
    policy: &'static str,
}

/// The native API's names (`Signer.sign_url(..., expires=...)`).
pub(crate) const NATIVE: ArgNames = ArgNames {
    expires: "expires",
    expires_in: "expires_in",
    not_before: "not_before",
    ip: "ip",
    resource: "resource",
    policy: "policy",
};

/// botocore's names (`CloudFrontSigner.build_policy(..., date_less_than=...)`).
pub(crate) const BOTOCORE: ArgNames = ArgNames {
    expires: "date_less_than",
    expires_in: "expires_in",
    not_before: "date_greater_than",
    ip: "ip_address",
    resource: "resource",
    policy: "policy",
};

/// The keyword arguments that shape a policy, as the core's [`PolicyInputs`].
pub(crate) struct PolicyArgs<'a, 'py> {
    pub(crate) names: &'static ArgNames,
    pub(crate) expires: Option<&'a Bound<'py, PyAny>>,
    pub(crate) expires_in: Option<&'a Bound<'py, PyAny>>,
    pub(crate) not_before: Option<&'a Bound<'py, PyAny>>,
    pub(crate) ip: Option<&'a str>,
    pub(crate) resource: Option<&'a str>,
    pub(crate) policy: Option<&'a Bound<'py, PyAny>>,
}

impl PolicyArgs<'_, '_> {
    /// Converts every argument given; `now` resolves zero or negative spans.
    pub(crate) fn inputs(&self, now: Timestamp) -> PyResult<PolicyInputs> {
        let names = self.names;
        let mut inputs = PolicyInputs::default();
        if let Some(v) = self.expires {
            let (at, written) = instant(v, names.expires)?;
            inputs.expires = Some(at);
            inputs.expires_as_written = written;
        }
        if let Some(v) = self.expires_in {
            match span(v, names.expires_in, now)? {
                Span::Ahead(d) => inputs.expires_in = Some(d),
                Span::NotAhead(at) if inputs.expires.is_none() => inputs.expires = Some(at),
                // Both given: let the core refuse the pair.
                Span::NotAhead(_) => inputs.expires_in = Some(Duration::ZERO),
            }
        }
        if let Some(v) = self.not_before {
            inputs.not_before = Some(instant(v, names.not_before)?.0);
        }
        if let Some(ip) = self.ip {
            inputs.source_ip = Some(ip.parse::<SourceIp>().map_err(|e| to_py_at(e, names.ip))?);
        }
        if let Some(r) = self.resource {
            inputs.resource = Some(Resource::parse(r).map_err(|e| to_py_at(e, names.resource))?);
        }
        if let Some(p) = self.policy {
            inputs.policy = Some(policy(p, names.policy)?);
        }
        Ok(inputs)
    }
}
