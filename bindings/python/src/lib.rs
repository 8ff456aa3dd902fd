//! The `cfsign._cfsign` extension module of the Python package `cfsign-rs`
//! (imported as `cfsign`): a thin layer over the `cfsign` crate. It converts
//! Python values into the core's types (`convert`), maps the core's errors to
//! exception classes (`errors`, the one place), and releases the GIL around
//! every private- and public-key operation (and around manifest signing). Policy building, the encoding
//! contract, signing, verifying and explain are the core's.

mod convert;
mod dropin;
mod errors;
mod signing;
mod verifying;

use pyo3::prelude::*;

#[pymodule]
fn _cfsign(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<errors::Error>())?;
    m.add("UrlError", py.get_type::<errors::UrlError>())?;
    m.add("PolicyError", py.get_type::<errors::PolicyError>())?;
    m.add("TimeError", py.get_type::<errors::TimeError>())?;
    m.add("KeyFormatError", py.get_type::<errors::KeyFormatError>())?;
    m.add("SignError", py.get_type::<errors::SignError>())?;
    m.add("CookieError", py.get_type::<errors::CookieError>())?;
    m.add("ManifestError", py.get_type::<errors::ManifestError>())?;
    m.add_class::<signing::Signer>()?;
    m.add_class::<signing::SignedPolicy>()?;
    m.add_class::<signing::SignedCookies>()?;
    m.add_class::<signing::Warning>()?;
    m.add_class::<signing::SignedManifest>()?;
    m.add_class::<verifying::Verifier>()?;
    m.add_class::<verifying::Decision>()?;
    m.add_class::<verifying::Explanation>()?;
    m.add_class::<verifying::Finding>()?;
    m.add_class::<dropin::CloudFrontSigner>()?;
    m.add_function(wrap_pyfunction!(signing::keygen, m)?)?;
    m.add_function(wrap_pyfunction!(signing::encode_url, m)?)?;
    m.add_function(wrap_pyfunction!(signing::dash_url_query, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
