//! The one place where the core's errors become Python exceptions.
//!
//! Every exception is a subclass of `cfsign.Error` (itself a `ValueError`), one
//! per kind of input, and carries the core's message unchanged (the character,
//! its position and the fix). Which core error is which kind:
//! - `UrlError`: the encoding contract (`UrlError`) and resource patterns;
//! - `PolicyError`: IP ranges, policy JSON, a resource that does not cover the
//!   URL, parts that do not fit together;
//! - `TimeError`: times, durations, a missing or past expiry, a start after it;
//! - `KeyFormatError`: private and public keys, the key variables of the environment;
//! - `SignError`: the key-pair ID, the hash, the private-key operation;
//! - `CookieError`: cookie attributes;
//! - `ManifestError`: an HLS playlist or DASH MPD that cannot be signed (not
//!   either format, malformed, over a limit, a DASH template in `mode="urls"`).
//!   A manifest error about the options (a canned policy to stamp, a start time
//!   or IP range with `mode="urls"`) is a `PolicyError`, and one from the
//!   options, the resource or the signing keeps the kind it has elsewhere.

use cfsign::Error as CoreError;
use cfsign::SignError as CoreSignError;
use cfsign::env::EnvError;
use cfsign::manifest::ManifestError as CoreManifestError;
use cfsign::options::OptionsError;
use cfsign::policy::PolicyError as CorePolicyError;
use pyo3::PyErr;
use pyo3::exceptions::PyValueError;

pyo3::create_exception!(
    cfsign,
    Error,
    PyValueError,
    "Any bad input refused by cfsign (a ValueError); the message names the input and the fix."
);
pyo3::create_exception!(
    cfsign,
    UrlError,
    Error,
    "A URL or resource that breaks the encoding contract: the character, its position and the fix."
);
pyo3::create_exception!(
    cfsign,
    PolicyError,
    Error,
    "A policy that cannot be built or parsed, or does not cover the URL."
);
pyo3::create_exception!(
    cfsign,
    TimeError,
    Error,
    "A time or duration that is refused: milliseconds, past, out of range, unparseable."
);
pyo3::create_exception!(
    cfsign,
    KeyFormatError,
    Error,
    "A private or public key that cannot be used: the format, the type or the half is wrong."
);
pyo3::create_exception!(
    cfsign,
    SignError,
    Error,
    "The key-pair ID, the hash algorithm or the private-key operation failed."
);
pyo3::create_exception!(
    cfsign,
    CookieError,
    Error,
    "Cookie attributes that browsers would refuse."
);
pyo3::create_exception!(
    cfsign,
    ManifestError,
    Error,
    "An HLS playlist or DASH MPD that cannot be signed: the line and what is wrong."
);

#[derive(Clone, Copy)]
enum Kind {
    Url,
    Policy,
    Time,
    Key,
    Sign,
    Cookie,
    Manifest,
}

fn policy_kind(e: &CorePolicyError) -> Kind {
    match e {
        CorePolicyError::MissingExpiry
        | CorePolicyError::Time { .. }
        | CorePolicyError::PastExpiry { .. }
        | CorePolicyError::StartNotBeforeExpiry { .. } => Kind::Time,
        CorePolicyError::Resource(_) => Kind::Url,
        _ => Kind::Policy,
    }
}

fn kind(e: &CoreError) -> Kind {
    match e {
        CoreError::Url(_) | CoreError::Resource(_) => Kind::Url,
        CoreError::Policy(p) => policy_kind(p),
        CoreError::Time(_) => Kind::Time,
        CoreError::Key(_) => Kind::Key,
        CoreError::Sign(s) => sign_kind(s),
        CoreError::Cookie(_) => Kind::Cookie,
        CoreError::Options(o) => options_kind(o),
        CoreError::Manifest(m) => manifest_kind(m),
        _ => Kind::Policy,
    }
}

fn sign_kind(e: &CoreSignError) -> Kind {
    match e {
        CoreSignError::NotCovered { .. }
        | CoreSignError::CannedForOtherUrl { .. }
        | CoreSignError::RtmpMismatch(_) => Kind::Policy,
        _ => Kind::Sign,
    }
}

fn options_kind(e: &OptionsError) -> Kind {
    match e {
        OptionsError::ExpiryTwice | OptionsError::Time(_) => Kind::Time,
        OptionsError::Policy(p) => policy_kind(p),
        _ => Kind::Policy,
    }
}

fn manifest_kind(e: &CoreManifestError) -> Kind {
    match e {
        CoreManifestError::Options(o) => options_kind(o),
        CoreManifestError::Resource(_) => Kind::Url,
        CoreManifestError::SignPolicy(s) | CoreManifestError::Sign { cause: s, .. } => sign_kind(s),
        CoreManifestError::Policy { cause, .. } => policy_kind(cause),
        CoreManifestError::CannedPolicy
        | CoreManifestError::CannedConditions
        | CoreManifestError::NoResource => Kind::Policy,
        _ => Kind::Manifest,
    }
}

fn raise(kind: Kind, message: String) -> PyErr {
    match kind {
        Kind::Url => UrlError::new_err(message),
        Kind::Policy => PolicyError::new_err(message),
        Kind::Time => TimeError::new_err(message),
        Kind::Key => KeyFormatError::new_err(message),
        Kind::Sign => SignError::new_err(message),
        Kind::Cookie => CookieError::new_err(message),
        Kind::Manifest => ManifestError::new_err(message),
    }
}

/// The exception for a core error.
pub(crate) fn to_py(e: impl Into<CoreError>) -> PyErr {
    let e = e.into();
    raise(kind(&e), e.to_string())
}

/// The exception for a core error, with the input it came from first
/// (`urls[3]: ...`), for errors about one of several inputs.
pub(crate) fn to_py_at(e: impl Into<CoreError>, at: &str) -> PyErr {
    let e = e.into();
    raise(kind(&e), format!("{at}: {e}"))
}

/// The exception for a missing or bad key in the environment.
pub(crate) fn env_to_py(e: EnvError) -> PyErr {
    let kind = match &e {
        EnvError::NoKeyPairId | EnvError::KeyPairId(_) => Kind::Sign,
        _ => Kind::Key,
    };
    raise(kind, e.to_string())
}

/// `cfsign.Error` for an argument the core never sees (a client IP that is not
/// an address, a callable that returned no bytes), with `message` naming it.
pub(crate) fn argument(message: String) -> PyErr {
    Error::new_err(message)
}
