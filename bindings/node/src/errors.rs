//! The one place where errors become JavaScript errors.
//!
//! Every error the addon throws is built here: a [`Failure`] carries a stable
//! [`Code`] and the core's message (with the argument it came from in front), and
//! [`Failure::into_js`] turns it into an instance of the error class that the
//! package's entry file registered with `setErrorFactory` (`CfsignError` and its
//! subclasses, see `errors.js`). A `Failure` holds no JavaScript value, so it can
//! be made on a worker thread and thrown (or used to reject a promise) later on
//! the JavaScript thread.

use std::cell::RefCell;
use std::fmt;

use napi::bindgen_prelude::{FnArgs, Function, FunctionRef, Object, ToNapiValue as _, Unknown};
use napi::{Env, Status};
use napi_derive::napi;

/// What kind of input was refused: the `code` property of the thrown error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// A URL that violates the encoding contract.
    Url,
    /// A resource or pattern.
    Resource,
    /// A policy that cannot be built or parsed.
    Policy,
    /// A time value.
    Time,
    /// A key that cannot be loaded.
    Key,
    /// Signing refused (key-pair ID, hash, coverage).
    Sign,
    /// Cookie attributes.
    Cookie,
    /// An HLS playlist or DASH MPD that cannot be signed.
    Manifest,
    /// An argument of the wrong type or an unknown option.
    Argument,
}

impl Code {
    /// The `code` string.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Code::Url => "ERR_CFSIGN_URL",
            Code::Resource => "ERR_CFSIGN_RESOURCE",
            Code::Policy => "ERR_CFSIGN_POLICY",
            Code::Time => "ERR_CFSIGN_TIME",
            Code::Key => "ERR_CFSIGN_KEY",
            Code::Sign => "ERR_CFSIGN_SIGN",
            Code::Cookie => "ERR_CFSIGN_COOKIE",
            Code::Manifest => "ERR_CFSIGN_MANIFEST",
            Code::Argument => "ERR_CFSIGN_ARGUMENT",
        }
    }
}

/// An error on its way to JavaScript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    code: Code,
    message: String,
}

impl Failure {
    /// A failure with this code and message.
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A wrongly typed or unknown argument.
    pub(crate) fn argument(message: impl Into<String>) -> Self {
        Self::new(Code::Argument, message)
    }

    /// Names the argument the failure came from: `"<name>: <message>"`.
    #[must_use]
    pub(crate) fn at(mut self, name: &str) -> Self {
        self.message = format!("{name}: {}", self.message);
        self
    }

    /// The code.
    #[cfg(test)]
    pub(crate) fn code(&self) -> Code {
        self.code
    }

    /// The message.
    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// The JavaScript error to throw: made by the registered factory (a
    /// `CfsignError` subclass), or a plain `Error` with `code` if none is registered.
    pub(crate) fn into_js(self, env: &Env) -> napi::Error {
        let made = FACTORY.with(|cell| {
            let factory = cell.borrow();
            let factory = factory.as_ref()?;
            Some(factory.borrow_back(env).and_then(|f| {
                f.call(FnArgs::from((
                    self.code.as_str().to_owned(),
                    self.message.clone(),
                )))
                .map(napi::Error::from)
            }))
        });
        match made {
            Some(Ok(error)) => error,
            _ => plain_error(env, &self).unwrap_or_else(|e| e),
        }
    }
}

fn plain_error(env: &Env, failure: &Failure) -> Result<napi::Error, napi::Error> {
    let mut error: Object<'_> = env.create_error(napi::Error::new(
        Status::GenericFailure,
        failure.message.clone(),
    ))?;
    error.set("code", failure.code.as_str())?;
    Ok(napi::Error::from(error.into_unknown(env)?))
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.message, self.code.as_str())
    }
}

/// The errors of the core crate, each with its code and the core's message. The
/// codes follow what the input was, as in the CLI's bad-input corpus: a time
/// that does not fit (missing, past, start after expiry) is a time error; a URL
/// outside the policy's resource is a policy error; a resource that is not a
/// valid URL pattern is a resource error (a kind of URL error, see `errors.js`).
/// A manifest that cannot be signed is a manifest error, except where the cause
/// is an option: a canned policy to stamp or a start time or IP range with
/// `mode: 'urls'` is a policy error, and an error of the options, the resource
/// or the signing keeps the code it has elsewhere.
impl From<cfsign::Error> for Failure {
    fn from(e: cfsign::Error) -> Self {
        use cfsign::Error;
        let code = match &e {
            Error::Url(_) => Code::Url,
            Error::Resource(_) => Code::Resource,
            Error::Policy(p) => policy_code(p),
            Error::Time(_) => Code::Time,
            Error::Options(o) => options_code(o),
            Error::Key(_) => Code::Key,
            Error::Sign(s) => sign_code(s),
            Error::Cookie(_) => Code::Cookie,
            Error::Manifest(m) => manifest_code(m),
            _ => Code::Argument,
        };
        Self::new(code, e.to_string())
    }
}

fn options_code(e: &cfsign::options::OptionsError) -> Code {
    use cfsign::options::OptionsError;
    match e {
        OptionsError::Policy(p) => policy_code(p),
        OptionsError::Time(_) | OptionsError::ExpiryTwice => Code::Time,
        _ => Code::Policy,
    }
}

fn sign_code(e: &cfsign::SignError) -> Code {
    use cfsign::SignError;
    match e {
        SignError::NotCovered { .. } | SignError::CannedForOtherUrl { .. } => Code::Policy,
        _ => Code::Sign,
    }
}

fn manifest_code(e: &cfsign::manifest::ManifestError) -> Code {
    use cfsign::manifest::ManifestError;
    match e {
        ManifestError::Options(o) => options_code(o),
        ManifestError::Resource(_) => Code::Resource,
        ManifestError::SignPolicy(s) | ManifestError::Sign { cause: s, .. } => sign_code(s),
        ManifestError::Policy { cause, .. } => policy_code(cause),
        ManifestError::CannedPolicy
        | ManifestError::CannedConditions
        | ManifestError::NoResource => Code::Policy,
        _ => Code::Manifest,
    }
}

fn policy_code(e: &cfsign::PolicyError) -> Code {
    use cfsign::PolicyError;
    match e {
        PolicyError::MissingExpiry
        | PolicyError::Time { .. }
        | PolicyError::PastExpiry { .. }
        | PolicyError::StartNotBeforeExpiry { .. } => Code::Time,
        PolicyError::Resource(_) => Code::Resource,
        _ => Code::Policy,
    }
}

macro_rules! from_core {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                cfsign::Error::from(e).into()
            }
        }
    )*};
}
from_core!(
    cfsign::UrlError,
    cfsign::ResourceError,
    cfsign::PolicyError,
    cfsign::TimeError,
    cfsign::KeyError,
    cfsign::SignError,
    cfsign::CookieError,
    cfsign::options::OptionsError,
    cfsign::manifest::ManifestError
);

/// A value napi-rs could not convert (a wrong argument type).
impl From<napi::Error> for Failure {
    fn from(e: napi::Error) -> Self {
        Self::argument(e.reason)
    }
}

/// `Result` of the functions that build failures.
pub type Outcome<T> = Result<T, Failure>;

/// Throws a failure on the JavaScript thread.
pub(crate) trait Throw<T> {
    /// As a napi result, the failure made into a JavaScript error.
    fn throw(self, env: &Env) -> napi::Result<T>;
}

impl<T> Throw<T> for Outcome<T> {
    fn throw(self, env: &Env) -> napi::Result<T> {
        self.map_err(|f| f.into_js(env))
    }
}

type Factory = FunctionRef<FnArgs<(String, String)>, Unknown<'static>>;

thread_local! {
    /// The error factory of the JavaScript environment running on this thread
    /// (one per main thread or worker; each loads the entry file, which registers it).
    static FACTORY: RefCell<Option<Factory>> = const { RefCell::new(None) };
}

/// Registers `factory(code, message)`, which returns the error object to throw.
/// Called once by the package's entry file.
#[napi(ts_args_type = "factory: (code: string, message: string) => Error")]
pub fn set_error_factory(
    factory: Function<'_, FnArgs<(String, String)>, Unknown<'static>>,
) -> napi::Result<()> {
    let reference = factory.create_ref()?;
    FACTORY.with(|cell| *cell.borrow_mut() = Some(reference));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_keep_their_message_and_get_their_code() {
        let url = cfsign::SignableUrl::parse("https://x.net/a b").expect_err("space");
        let f = Failure::from(url.clone()).at("url");
        assert_eq!(f.code(), Code::Url);
        assert_eq!(f.message(), format!("url: {url}"));
        assert!(f.message().contains("position 15") && f.message().contains("%20"));
        let key = cfsign::PrivateKey::from_pem("nonsense").expect_err("key");
        assert_eq!(Failure::from(key).code(), Code::Key);
        let hash = "md5".parse::<cfsign::HashAlgorithm>().expect_err("hash");
        assert_eq!(Failure::from(hash).code(), Code::Sign);
        let past = cfsign::Policy::builder(cfsign::Resource::url("https://x.net/a").expect("url"))
            .expires_at(jiff::Timestamp::UNIX_EPOCH)
            .build()
            .expect_err("past");
        assert_eq!(Failure::from(past).code(), Code::Time);
        let outside = cfsign::SignError::NotCovered {
            url: "https://x.net/a".to_owned(),
            resource: "https://x.net/b/*".to_owned(),
        };
        assert_eq!(Failure::from(outside).code(), Code::Policy);
    }

    #[test]
    fn codes_are_distinct() {
        let all = [
            Code::Url,
            Code::Resource,
            Code::Policy,
            Code::Time,
            Code::Key,
            Code::Sign,
            Code::Cookie,
            Code::Manifest,
            Code::Argument,
        ];
        let mut names: Vec<_> = all.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }
}
