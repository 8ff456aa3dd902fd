//! JavaScript values to core types: option objects (unknown names refused), times
//! (`Date`, milliseconds, strings), keys (string or `Buffer`), durations.
//!
//! Only conversion happens here; every decision about policies, encodings and
//! signatures is the core's.

use jiff::Timestamp;
use napi::bindgen_prelude::{Buffer, Object, Unknown};
use napi::{JsValue as _, ValueType};

use crate::errors::{Failure, Outcome};

/// Milliseconds below this (1973-03-03) are almost certainly epoch seconds.
const SECONDS_NOT_MILLISECONDS: f64 = 1e11;

/// An options object of one function, read by name.
pub(crate) struct Options<'a> {
    object: Option<Object<'a>>,
    what: &'static str,
}

impl<'a> Options<'a> {
    /// Reads `object` (absent: every option unset), refusing names not in `known`
    /// so that a misspelt option is an error instead of being ignored.
    pub(crate) fn new(
        object: Option<Object<'a>>,
        what: &'static str,
        known: &[&str],
    ) -> Outcome<Self> {
        if let Some(o) = &object {
            for name in Object::keys(o)? {
                if !known.contains(&name.as_str()) {
                    return Err(Failure::argument(format!(
                        "{what}: unknown option {name:?}; the options are {}",
                        known.join(", ")
                    )));
                }
            }
        }
        Ok(Self { object, what })
    }

    fn name(&self, key: &str) -> String {
        format!("{}.{key}", self.what)
    }

    /// The value of `key`; `undefined` and `null` count as unset.
    pub(crate) fn value(&self, key: &str) -> Outcome<Option<Unknown<'a>>> {
        let Some(o) = &self.object else {
            return Ok(None);
        };
        let v: Option<Unknown<'a>> = o.get(key)?;
        Ok(v.filter(|v| !matches!(v.get_type(), Ok(ValueType::Undefined | ValueType::Null))))
    }

    /// A string option.
    pub(crate) fn string(&self, key: &str) -> Outcome<Option<String>> {
        self.value(key)?
            .map(|v| string_of(&v).map_err(|f| f.at(&self.name(key))))
            .transpose()
    }

    /// A string option that must be given.
    pub(crate) fn required_string(&self, key: &str) -> Outcome<String> {
        self.string(key)?
            .ok_or_else(|| Failure::argument(format!("{} is required", self.name(key))))
    }

    /// A boolean option.
    pub(crate) fn boolean(&self, key: &str) -> Outcome<Option<bool>> {
        match self.value(key)? {
            None => Ok(None),
            Some(v) if v.get_type()? == ValueType::Boolean => Ok(Some(v.coerce_to_bool()?)),
            Some(v) => Err(Failure::argument(format!(
                "{} must be true or false, not {}",
                self.name(key),
                type_name(&v)
            ))),
        }
    }

    /// A positive whole number option.
    pub(crate) fn count(&self, key: &str) -> Outcome<Option<usize>> {
        match self.value(key)? {
            None => Ok(None),
            Some(v) if v.get_type()? == ValueType::Number => {
                let n = v.coerce_to_number()?.get_double()?;
                if n.fract() == 0.0 && (1.0..=1024.0).contains(&n) {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    Ok(Some(n as usize))
                } else {
                    Err(Failure::argument(format!(
                        "{} must be a whole number from 1 to 1024, not {n}",
                        self.name(key)
                    )))
                }
            }
            Some(v) => Err(Failure::argument(format!(
                "{} must be a number, not {}",
                self.name(key),
                type_name(&v)
            ))),
        }
    }

    /// A time option as a [`JsTime`].
    pub(crate) fn time(&self, key: &str) -> Outcome<Option<JsTime>> {
        self.value(key)?
            .map(|v| JsTime::from_js(&v).map_err(|f| f.at(&self.name(key))))
            .transpose()
    }

    /// A key given as a string or a `Buffer`.
    pub(crate) fn key_material(&self, key: &str) -> Outcome<Option<KeyMaterial>> {
        match (&self.object, self.value(key)?) {
            (Some(o), Some(v)) => key_material(o, key, &v)
                .map(Some)
                .map_err(|f| f.at(&self.name(key))),
            _ => Ok(None),
        }
    }

    /// The option converted by napi-rs (`Err` if it has another type).
    pub(crate) fn typed<V: napi::bindgen_prelude::FromNapiValue>(
        &self,
        key: &str,
    ) -> napi::Result<Option<V>> {
        match &self.object {
            Some(o) => o.get(key),
            None => Ok(None),
        }
    }

    /// The full name of an option, for messages (`options.expires`).
    pub(crate) fn label(&self, key: &str) -> String {
        self.name(key)
    }
}

/// A string, or a clear error naming the type that came instead.
pub(crate) fn string_of(v: &Unknown<'_>) -> Outcome<String> {
    if v.get_type()? == ValueType::String {
        Ok(v.coerce_to_string()?.into_utf8()?.into_owned()?)
    } else {
        Err(Failure::argument(format!(
            "must be a string, not {}",
            type_name(v)
        )))
    }
}

fn type_name(v: &Unknown<'_>) -> &'static str {
    match v.get_type() {
        Ok(ValueType::Undefined) => "undefined",
        Ok(ValueType::Null) => "null",
        Ok(ValueType::Boolean) => "a boolean",
        Ok(ValueType::Number) => "a number",
        Ok(ValueType::String) => "a string",
        Ok(ValueType::Symbol) => "a symbol",
        Ok(ValueType::Object) => "an object",
        Ok(ValueType::Function) => "a function",
        _ => "an unknown value",
    }
}

/// A time as JavaScript gives it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JsTime {
    /// Milliseconds since the epoch: a number, a `Date`, or an object whose
    /// `valueOf()` is that number (moment, dayjs, Luxon).
    Millis(f64),
    /// A string, read by the caller's rule.
    Text(String),
}

impl JsTime {
    fn from_js(v: &Unknown<'_>) -> Outcome<Self> {
        let millis = match v.get_type()? {
            ValueType::String => return Ok(JsTime::Text(string_of(v)?)),
            ValueType::Number => v.coerce_to_number()?.get_double()?,
            ValueType::Object => v.coerce_to_number()?.get_double()?,
            _ => {
                return Err(Failure::argument(format!(
                    "must be a Date, a number of milliseconds or a date string such as \
                     2030-01-01T00:00:00Z, not {}",
                    type_name(v)
                )));
            }
        };
        if !millis.is_finite() {
            return Err(Failure::argument(
                "is not a valid time (an invalid Date or NaN); give a Date, milliseconds since the \
                 epoch, or a date string such as 2030-01-01T00:00:00Z",
            ));
        }
        Ok(JsTime::Millis(millis))
    }

    /// The instant, strings read by the core ([`cfsign::time::parse_instant`]: ISO
    /// 8601, where a time without offset is UTC, or epoch seconds).
    pub(crate) fn instant(&self) -> Outcome<Timestamp> {
        match self {
            JsTime::Text(t) => Ok(cfsign::time::parse_instant(t)?),
            JsTime::Millis(ms) => millis_instant(*ms),
        }
    }

    /// The instant rounded to the nearest second, as `Math.round(ms / 1000)`
    /// does in `@aws-sdk/cloudfront-signer` and `aws-cloudfront-sign`.
    pub(crate) fn rounded_instant(&self) -> Outcome<Timestamp> {
        let ms = match self {
            JsTime::Millis(ms) => {
                millis_instant(*ms)?;
                *ms
            }
            JsTime::Text(_) => {
                let t = self.instant()?;
                #[allow(clippy::cast_precision_loss)]
                let ms = t.as_millisecond() as f64;
                ms
            }
        };
        let seconds = (ms / 1000.0).round();
        #[allow(clippy::cast_possible_truncation)]
        Timestamp::from_second(seconds as i64)
            .map_err(|e| Failure::new(crate::errors::Code::Time, format!("{ms} ms: {e}")))
    }
}

fn millis_instant(ms: f64) -> Outcome<Timestamp> {
    if ms < SECONDS_NOT_MILLISECONDS {
        let hint = if ms >= 1e8 {
            format!(
                "; if {ms} is epoch seconds, pass {} (milliseconds) or new Date({ms} * 1000)",
                ms * 1000.0
            )
        } else {
            String::new()
        };
        return Err(Failure::new(
            crate::errors::Code::Time,
            format!(
                "{ms} is read as milliseconds since the epoch (as a JavaScript Date is), which is \
                 before 1973 and never a useful CloudFront time{hint}"
            ),
        ));
    }
    #[allow(clippy::cast_possible_truncation)]
    Timestamp::from_millisecond(ms.floor() as i64).map_err(|e| {
        Failure::new(
            crate::errors::Code::Time,
            format!("{ms} ms is outside the range of times: {e}"),
        )
    })
}

/// A key as given: PEM text (also flattened `\n` or base64, as the core's
/// environment-value loader reads it) or bytes (PEM or DER).
#[derive(Debug)]
pub(crate) enum KeyMaterial {
    /// A string.
    Text(String),
    /// A `Buffer` or `Uint8Array`.
    Bytes(Vec<u8>),
}

/// The key in `object[key]` (whose value `v` was read already).
pub(crate) fn key_material(
    object: &Object<'_>,
    key: &str,
    v: &Unknown<'_>,
) -> Outcome<KeyMaterial> {
    if v.get_type()? == ValueType::String {
        return Ok(KeyMaterial::Text(string_of(v)?));
    }
    if v.is_buffer()? {
        let b: Option<Buffer> = object.get(key)?;
        return Ok(KeyMaterial::Bytes(
            b.map(|b| b.to_vec()).unwrap_or_default(),
        ));
    }
    Err(Failure::argument(format!(
        "must be the key as a PEM string or a Buffer, not {}",
        type_name(v)
    )))
}

impl KeyMaterial {
    /// The private key.
    pub(crate) fn private_key(&self) -> Outcome<cfsign::PrivateKey> {
        Ok(match self {
            KeyMaterial::Text(t) => cfsign::PrivateKey::from_env_value(t)?,
            KeyMaterial::Bytes(b) => cfsign::PrivateKey::from_bytes(b)?,
        })
    }

    /// The public key.
    pub(crate) fn public_key(&self) -> Outcome<cfsign::PublicKey> {
        Ok(match self {
            KeyMaterial::Text(t) => cfsign::PublicKey::from_bytes(t.as_bytes())?,
            KeyMaterial::Bytes(b) => cfsign::PublicKey::from_bytes(b)?,
        })
    }
}

/// A duration string (`90s`, `15m`, `1h30m`), read by the core.
pub(crate) fn duration(text: &str) -> Outcome<std::time::Duration> {
    Ok(cfsign::time::parse_duration(text)?)
}
