//! Time values as CloudFront understands them: whole epoch **seconds**, UTC.
//!
//! The API never takes a bare integer of unknown unit. Absolute instants are
//! [`jiff::Timestamp`]s; relative ones are [`std::time::Duration`]s resolved
//! against an explicit "now". Where integers do come in (CLI flags, policy JSON),
//! [`EpochSeconds::new`] refuses values that look like milliseconds.
//!
//! ```
//! use cfsign::time::{parse_instant, EpochSeconds};
//!
//! let t = parse_instant("2030-01-01")?;
//! assert_eq!(EpochSeconds::from_timestamp_floor(t).get(), 1_893_456_000);
//! assert!(parse_instant("1893456000000").is_err()); // milliseconds
//! # Ok::<(), cfsign::time::TimeError>(())
//! ```

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;

use crate::excerpt::Excerpt;

/// The largest epoch value CloudFront documents ("no later than
/// 9223372036854775807", which is 2^63-1 *nanoseconds*, i.e. 2262-04-11T23:47:16Z
/// in seconds). Larger values are refused; see the spec §2.7.
pub const MAX_EPOCH_SECONDS: i64 = 9_223_372_036;

/// [`MAX_EPOCH_SECONDS`] as a date-time.
const LATEST: &str = "2262-04-11T23:47:16Z";

/// Epoch values at or above this (year 5138 as seconds) are diagnosed as
/// milliseconds: a `Date.now()`-style value today has 13 digits.
const MILLISECONDS_THRESHOLD: i64 = 100_000_000_000;

/// Why a time value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// A value that is almost certainly milliseconds since the epoch.
    #[error(
        "{value} looks like milliseconds since the epoch ({digits} digits); CloudFront wants \
         seconds: use {seconds}"
    )]
    Milliseconds {
        /// The value as given.
        value: i64,
        /// Number of decimal digits.
        digits: usize,
        /// The value divided by 1000.
        seconds: i64,
    },
    /// Beyond CloudFront's maximum (2262-04-11): an epoch, or a date in a later year
    /// (9999-12-31, 10000-01-01).
    #[error(
        "{} is after the latest time CloudFront accepts ({MAX_EPOCH_SECONDS}, {LATEST}); give an \
         earlier time",
        Excerpt::start(value)
    )]
    TooLarge {
        /// The value as given.
        value: String,
    },
    /// Before 1970.
    #[error("{value} is before 1970-01-01T00:00:00Z; CloudFront times are positive epoch seconds")]
    Negative {
        /// The value as given.
        value: i64,
    },
    /// A string that is not one of the accepted forms.
    #[error(
        "{} is not a time: use epoch seconds (1767290400), a date (2026-01-01, midnight UTC), \
         a UTC date-time (2026-01-01T18:00:00) or one with an offset (2026-01-01T18:00:00Z, \
         2026-01-01T20:00:00+02:00){detail}",
        Excerpt::start(input)
    )]
    Unparseable {
        /// The input as given.
        input: String,
        /// Extra diagnosis, empty or starting with "; ".
        detail: String,
    },
    /// A duration string that is not `<number><unit>`.
    #[error(
        "{} is not a duration: use a number with a unit, e.g. 90s, 15m, 2h, 7d, or 1h30m{detail}",
        Excerpt::start(input)
    )]
    BadDuration {
        /// The input as given.
        input: String,
        /// Extra diagnosis, empty or starting with "; ".
        detail: String,
    },
    /// `now + duration` overflows.
    #[error("{0:?} from now is beyond CloudFront's latest accepted time (2262-04-11)")]
    DurationTooLong(Duration),
}

/// A CloudFront time: whole seconds since 1970-01-01T00:00:00Z, in
/// `0..=MAX_EPOCH_SECONDS`.
///
/// ```
/// use cfsign::time::{EpochSeconds, TimeError};
///
/// assert_eq!(EpochSeconds::new(1_767_290_400)?.to_string(), "1767290400");
/// assert!(matches!(EpochSeconds::new(1_767_290_400_000), Err(TimeError::Milliseconds { .. })));
/// # Ok::<(), TimeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpochSeconds(i64);

impl EpochSeconds {
    /// Validates an integer number of seconds since the epoch.
    pub fn new(seconds: i64) -> Result<Self, TimeError> {
        if seconds < 0 {
            return Err(TimeError::Negative { value: seconds });
        }
        if seconds >= MILLISECONDS_THRESHOLD {
            return Err(TimeError::Milliseconds {
                value: seconds,
                digits: seconds.to_string().len(),
                seconds: seconds / 1000,
            });
        }
        if seconds > MAX_EPOCH_SECONDS {
            return Err(TimeError::TooLarge {
                value: seconds.to_string(),
            });
        }
        Ok(Self(seconds))
    }

    /// The whole second at or before `t` (used for expiry: never later than asked).
    ///
    /// Instants outside CloudFront's range are clamped to it; policy building
    /// checks ranges before it gets here.
    #[must_use]
    pub fn from_timestamp_floor(t: Timestamp) -> Self {
        Self(t.as_second().clamp(0, MAX_EPOCH_SECONDS))
    }

    /// The whole second at or after `t` (used for start times: never earlier than asked).
    #[must_use]
    pub fn from_timestamp_ceil(t: Timestamp) -> Self {
        let mut s = t.as_second();
        if t.subsec_nanosecond() > 0 {
            s += 1;
        }
        Self(s.clamp(0, MAX_EPOCH_SECONDS))
    }

    /// The number of seconds.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }

    /// As a [`Timestamp`] (always representable: the range ends in 2262).
    #[must_use]
    pub fn to_timestamp(self) -> Timestamp {
        Timestamp::from_second(self.0).unwrap_or(Timestamp::MAX)
    }
}

impl fmt::Display for EpochSeconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Parses a time as the CLI and config files accept it: epoch seconds,
/// `YYYY-MM-DD` (00:00 UTC), `YYYY-MM-DDThh:mm:ss` (UTC), or with `Z`/`±hh:mm`.
///
/// All-digit input is epoch seconds (as in `aws cloudfront sign`); a
/// 13-digit value is refused as milliseconds. A time after the latest one
/// CloudFront accepts (2262-04-11T23:47:16Z), in any form, is
/// [`TimeError::TooLarge`].
///
/// ```
/// use cfsign::time::{parse_instant, TimeError};
///
/// let a = parse_instant("2026-01-01T18:00:00Z")?;
/// let b = parse_instant("2026-01-01T20:00:00+02:00")?;
/// let c = parse_instant("2026-01-01T18:00:00")?;
/// let d = parse_instant("1767290400")?;
/// assert!(a == b && b == c && c == d);
/// assert!(matches!(parse_instant("9999-12-31"), Err(TimeError::TooLarge { .. })));
/// # Ok::<(), cfsign::time::TimeError>(())
/// ```
pub fn parse_instant(input: &str) -> Result<Timestamp, TimeError> {
    let text = input.trim();
    let too_large = || TimeError::TooLarge {
        value: text.to_owned(),
    };
    match parse_any_instant(input) {
        Ok(t) if t.as_second() > MAX_EPOCH_SECONDS => Err(too_large()),
        Err(TimeError::Unparseable { .. }) if year_after_range(text) => Err(too_large()),
        other => other,
    }
}

/// [`parse_instant`] without the upper bound for dates (jiff's range ends in 9999).
fn parse_any_instant(input: &str) -> Result<Timestamp, TimeError> {
    let text = input.trim();
    let unparseable = |detail: String| TimeError::Unparseable {
        input: input.to_owned(),
        detail,
    };
    if text.is_empty() {
        return Err(unparseable(String::new()));
    }
    if let Some(digits) = text.strip_prefix('-').or(Some(text))
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        let value: i64 = match text.parse() {
            Ok(value) => value,
            Err(_) if digits.len() == text.len() => {
                return Err(TimeError::TooLarge {
                    value: text.to_owned(),
                });
            }
            Err(_) => return Err(unparseable("; the number is too large".to_owned())),
        };
        return Ok(EpochSeconds::new(value)?.to_timestamp());
    }
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        // A date-time without offset is UTC. (Parsing a string *with* an offset as a
        // civil DateTime would drop the offset; Timestamp was tried first for that.)
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| unparseable(format!("; {e}")));
    }
    match text.parse::<jiff::civil::Date>() {
        Ok(date) => date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| unparseable(format!("; {e}"))),
        Err(e) => Err(unparseable(format!("; {e}"))),
    }
}

/// Whether `text` is a well-formed time in a year after 2262 that cannot be
/// converted (9999-12-31 is past jiff's last instant; 10000-01-01 has five digits):
/// the same text in a year jiff handles (2000 or 2001, keeping February 29 valid
/// exactly when it is) parses.
fn year_after_range(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    let year_len = digits.bytes().take_while(u8::is_ascii_digit).count();
    if year_len < 4 || digits.as_bytes().get(year_len) != Some(&b'-') {
        return false;
    }
    let leap = match digits[..year_len].parse::<u128>() {
        Ok(year) if year <= 2262 => return false,
        Ok(year) => year % 4 == 0 && (year % 100 != 0 || year % 400 == 0),
        Err(_) => true,
    };
    let stand_in = if leap { "2000" } else { "2001" };
    parse_any_instant(&format!("{stand_in}{}", &digits[year_len..])).is_ok()
}

/// Parses a duration: one or more `<number><unit>` groups with units `s`, `m`,
/// `h`, `d` (e.g. `90s`, `15m`, `2h`, `7d`, `1h30m`).
///
/// ```
/// use std::time::Duration;
/// use cfsign::time::parse_duration;
///
/// assert_eq!(parse_duration("1h30m")?, Duration::from_secs(5400));
/// assert!(parse_duration("90").is_err()); // which unit?
/// # Ok::<(), cfsign::time::TimeError>(())
/// ```
pub fn parse_duration(input: &str) -> Result<Duration, TimeError> {
    let bad = |detail: &str| TimeError::BadDuration {
        input: input.to_owned(),
        detail: detail.to_owned(),
    };
    let text = input.trim();
    if text.is_empty() {
        return Err(bad(""));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("; a bare number has no unit (seconds? minutes?)"));
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            let n = number.unwrap_or(0);
            number = Some(
                n.checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(d)))
                    .ok_or_else(|| bad("; the number is too large"))?,
            );
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad(&format!("; unknown unit {c:?}"))),
        };
        let n = number
            .take()
            .ok_or_else(|| bad("; a unit needs a number before it"))?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| bad("; the duration is too long"))?;
    }
    if number.is_some() {
        return Err(bad("; the last number has no unit"));
    }
    if total == 0 {
        return Err(bad("; the duration is zero"));
    }
    Ok(Duration::from_secs(total))
}

/// `now + duration`, refusing results beyond CloudFront's range.
pub fn add_duration(now: Timestamp, duration: Duration) -> Result<Timestamp, TimeError> {
    let span = jiff::SignedDuration::try_from(duration)
        .map_err(|_| TimeError::DurationTooLong(duration))?;
    let t = now
        .checked_add(span)
        .map_err(|_| TimeError::DurationTooLong(duration))?;
    if t.as_second() > MAX_EPOCH_SECONDS {
        return Err(TimeError::DurationTooLong(duration));
    }
    Ok(t)
}

/// If an all-digit input of eight digits reads as a `YYYYMMDD` date, returns that
/// date as `YYYY-MM-DD` (the `aws cloudfront sign` trap: `20300101` is epoch
/// seconds, i.e. 1970-08-23).
#[must_use]
pub fn yyyymmdd_hint(input: &str) -> Option<String> {
    let t = input.trim();
    if t.len() != 8 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let iso = format!("{}-{}-{}", &t[0..4], &t[4..6], &t[6..8]);
    iso.parse::<jiff::civil::Date>().ok().map(|_| iso)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_forms_agree() {
        let expected = 1_767_290_400;
        for s in [
            "1767290400",
            "2026-01-01T18:00:00",
            "2026-01-01T18:00:00Z",
            "2026-01-01T20:00:00+02:00",
            "2026-01-01T13:00:00-05:00",
        ] {
            assert_eq!(parse_instant(s).unwrap().as_second(), expected, "{s}");
        }
        assert_eq!(
            parse_instant("2026-01-01").unwrap().as_second(),
            1_767_225_600
        );
    }

    #[test]
    fn milliseconds_are_diagnosed() {
        let err = parse_instant("1767290400000").unwrap_err();
        assert_eq!(
            err,
            TimeError::Milliseconds {
                value: 1_767_290_400_000,
                digits: 13,
                seconds: 1_767_290_400
            }
        );
        assert!(err.to_string().contains("use 1767290400"));
    }

    #[test]
    fn bounds() {
        assert!(EpochSeconds::new(MAX_EPOCH_SECONDS).is_ok());
        assert!(matches!(
            EpochSeconds::new(MAX_EPOCH_SECONDS + 1),
            Err(TimeError::TooLarge { .. })
        ));
        assert!(matches!(
            EpochSeconds::new(-1),
            Err(TimeError::Negative { .. })
        ));
        assert!(matches!(
            parse_instant("-5"),
            Err(TimeError::Negative { .. })
        ));
    }

    #[test]
    fn times_after_the_latest_cloudfront_accepts_say_so() {
        assert_eq!(
            parse_instant("2262-04-11T23:47:16Z").unwrap().as_second(),
            MAX_EPOCH_SECONDS
        );
        for late in [
            "9999-12-31",
            "9999-12-31T23:59:59Z",
            "9999-12-31T00:00:00",
            "9999-12-31T00:00:00+02:00",
            "2262-04-11T23:47:17Z",
            "2262-04-12",
            "2263-01-01",
            "4000-02-29",
            "10000-02-29",
            "10000-01-01",
            "+010000-01-01T00:00:00Z",
            "123456789012345678901234567890-06-01",
            "9223372037",
            "99999999999999999999",
            " 9999-12-31 ",
        ] {
            let err = parse_instant(late).unwrap_err();
            assert_eq!(
                err,
                TimeError::TooLarge {
                    value: late.trim().to_owned()
                },
                "{late}"
            );
            let message = err.to_string();
            assert!(
                message.contains("is after the latest time CloudFront accepts")
                    && message.contains("9223372036")
                    && message.contains("2262-04-11T23:47:16Z")
                    && !message.contains("not a time"),
                "{late}: {message}"
            );
        }
        // Not dates at all, whatever the year: still "not a time".
        for bad in [
            "9999-13-01",
            "9999-02-30",
            "5000-02-29",
            "10001-02-29",
            "10000-01-01Tnoon",
        ] {
            let err = parse_instant(bad).unwrap_err();
            assert!(!matches!(err, TimeError::TooLarge { .. }), "{bad}: {err}");
        }
        // A 13-digit value is still diagnosed as milliseconds.
        assert!(matches!(
            parse_instant("9999999999999"),
            Err(TimeError::Milliseconds { .. })
        ));
    }

    #[test]
    fn long_inputs_are_echoed_cut() {
        let long = "x".repeat(120_000);
        for message in [
            parse_instant(&long).unwrap_err().to_string(),
            parse_duration(&long).unwrap_err().to_string(),
        ] {
            assert!(message.len() < 1000, "{} bytes", message.len());
            assert!(message.contains("(120000 bytes)"), "{message}");
        }
    }

    #[test]
    fn garbage_is_refused_with_the_accepted_forms() {
        let err = parse_instant("next tuesday").unwrap_err();
        assert!(err.to_string().contains("YYYY") || err.to_string().contains("2026-01-01"));
        assert!(parse_instant("2026-13-01").is_err());
        assert!(parse_instant("").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        for bad in ["", "90", "h", "5x", "1h30", "0s", "99999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn floor_and_ceil() {
        let t = Timestamp::new(100, 5).unwrap();
        assert_eq!(EpochSeconds::from_timestamp_floor(t).get(), 100);
        assert_eq!(EpochSeconds::from_timestamp_ceil(t).get(), 101);
        let whole = Timestamp::from_second(100).unwrap();
        assert_eq!(EpochSeconds::from_timestamp_ceil(whole).get(), 100);
    }

    #[test]
    fn yyyymmdd_trap() {
        assert_eq!(yyyymmdd_hint("20300101").as_deref(), Some("2030-01-01"));
        assert_eq!(yyyymmdd_hint("20301301"), None);
        assert_eq!(yyyymmdd_hint("1767290400"), None);
    }
}
