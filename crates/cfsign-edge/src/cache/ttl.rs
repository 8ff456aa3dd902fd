//! How long an object stays cached: CloudFront's rules for a behavior's
//! minimum, default and maximum TTL combined with the origin's `Cache-Control`
//! and `Expires` headers.
//!
//! | Origin sends | Cached for |
//! |---|---|
//! | `Cache-Control: s-maxage=N` (wins over `max-age`) | `N` clamped to `[min, max]` |
//! | `Cache-Control: max-age=N` | `N` clamped to `[min, max]` |
//! | `Cache-Control: no-cache`, `no-store` or `private` | `min` (so not at all when `min` is 0) |
//! | `Expires: DATE` (no `max-age`) | `DATE − now` clamped to `[min, max]`; a past or invalid date counts as 0 |
//! | nothing | `default` |
//!
//! Source: CloudFront developer guide, "Manage how long content stays in the
//! cache (expiration)".
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use cfsign_edge::cache::TtlPolicy;
//!
//! let policy = TtlPolicy::new(60, 3_600, 86_400)?; // min 1 minute, default 1 hour, max 1 day
//! let now = SystemTime::now();
//! assert_eq!(policy.ttl(Some("public, max-age=5"), None, now), Duration::from_secs(60));
//! assert_eq!(policy.ttl(Some("max-age=600"), None, now), Duration::from_secs(600));
//! assert_eq!(policy.ttl(None, None, now), Duration::from_secs(3_600));
//! # Ok::<(), cfsign_edge::cache::TtlError>(())
//! ```

use std::time::{Duration, SystemTime};

/// Why a TTL triple is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "TTLs must satisfy min_ttl <= default_ttl <= max_ttl (got min_ttl = {min}, default_ttl = {default}, max_ttl = {max}); raise max_ttl or lower min_ttl"
)]
pub struct TtlError {
    min: u64,
    default: u64,
    max: u64,
}

/// A behavior's minimum, default and maximum TTL (CloudFront's defaults are
/// 0 s, 1 day and 1 year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TtlPolicy {
    min: Duration,
    default: Duration,
    max: Duration,
}

impl Default for TtlPolicy {
    /// CloudFront's defaults: min 0, default 86,400 s (1 day), max 31,536,000 s (1 year).
    fn default() -> Self {
        Self {
            min: Duration::ZERO,
            default: Duration::from_secs(86_400),
            max: Duration::from_secs(31_536_000),
        }
    }
}

impl TtlPolicy {
    /// The TTLs in seconds; `min <= default <= max` is required, as CloudFront requires.
    ///
    /// ```
    /// use cfsign_edge::cache::TtlPolicy;
    ///
    /// assert!(TtlPolicy::new(0, 60, 3600).is_ok());
    /// let err = TtlPolicy::new(0, 7200, 3600).unwrap_err();
    /// assert!(err.to_string().contains("default_ttl = 7200"));
    /// ```
    pub fn new(min: u64, default: u64, max: u64) -> Result<Self, TtlError> {
        if min <= default && default <= max {
            Ok(Self {
                min: Duration::from_secs(min),
                default: Duration::from_secs(default),
                max: Duration::from_secs(max),
            })
        } else {
            Err(TtlError { min, default, max })
        }
    }

    /// The minimum TTL.
    #[must_use]
    pub fn min(&self) -> Duration {
        self.min
    }

    /// The default TTL (when the origin says nothing).
    #[must_use]
    pub fn default_ttl(&self) -> Duration {
        self.default
    }

    /// The maximum TTL.
    #[must_use]
    pub fn max(&self) -> Duration {
        self.max
    }

    /// How long an object with these `Cache-Control` and `Expires` header
    /// values, fetched at `now`, stays cached (zero: not cached).
    #[must_use]
    pub fn ttl(
        &self,
        cache_control: Option<&str>,
        expires: Option<&str>,
        now: SystemTime,
    ) -> Duration {
        let directives = cache_control.map(Directives::parse).unwrap_or_default();
        if directives.no_cache {
            return self.min;
        }
        if let Some(seconds) = directives.s_maxage.or(directives.max_age) {
            return self.clamp(Duration::from_secs(seconds));
        }
        if let Some(expires) = expires {
            let remaining = httpdate::parse_http_date(expires.trim())
                .ok()
                .and_then(|at| at.duration_since(now).ok())
                .unwrap_or(Duration::ZERO);
            return self.clamp(remaining);
        }
        self.default
    }

    fn clamp(&self, ttl: Duration) -> Duration {
        ttl.clamp(self.min, self.max)
    }
}

/// The `Cache-Control` directives that decide a TTL.
#[derive(Debug, Default, PartialEq, Eq)]
struct Directives {
    /// `no-cache`, `no-store` or `private`.
    no_cache: bool,
    max_age: Option<u64>,
    s_maxage: Option<u64>,
}

impl Directives {
    /// Parses `a, b=1, c="x"`: names are case-insensitive; a malformed
    /// `max-age` value is ignored (as if absent), the strictest reading that
    /// still lets the default TTL apply.
    fn parse(value: &str) -> Self {
        let mut d = Self::default();
        for part in value.split(',') {
            let (name, argument) = match part.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (part.trim(), None),
            };
            let seconds = || argument.and_then(|a| a.parse::<u64>().ok());
            if name.eq_ignore_ascii_case("no-cache")
                || name.eq_ignore_ascii_case("no-store")
                || name.eq_ignore_ascii_case("private")
            {
                d.no_cache = true;
            } else if name.eq_ignore_ascii_case("max-age") {
                d.max_age = d.max_age.or_else(seconds);
            } else if name.eq_ignore_ascii_case("s-maxage") {
                d.s_maxage = d.s_maxage.or_else(seconds);
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn policy() -> TtlPolicy {
        TtlPolicy::new(10, 100, 1000).unwrap()
    }

    #[test]
    fn max_age_is_clamped() {
        let now = SystemTime::now();
        let p = policy();
        assert_eq!(p.ttl(Some("max-age=50"), None, now), S(50));
        assert_eq!(p.ttl(Some("max-age=1"), None, now), S(10));
        assert_eq!(p.ttl(Some("max-age=0"), None, now), S(10));
        assert_eq!(p.ttl(Some("max-age=99999"), None, now), S(1000));
        assert_eq!(p.ttl(Some("public, MAX-AGE=\"60\""), None, now), S(60));
    }

    #[test]
    fn s_maxage_wins_over_max_age() {
        let now = SystemTime::now();
        assert_eq!(
            policy().ttl(Some("max-age=20, s-maxage=500"), None, now),
            S(500)
        );
        assert_eq!(
            policy().ttl(Some("s-maxage=30, max-age=500"), None, now),
            S(30)
        );
    }

    #[test]
    fn no_cache_no_store_private_use_the_minimum() {
        let now = SystemTime::now();
        for cc in ["no-cache", "no-store", "private", "max-age=500, private"] {
            assert_eq!(policy().ttl(Some(cc), None, now), S(10), "{cc}");
            assert_eq!(
                TtlPolicy::default().ttl(Some(cc), None, now),
                Duration::ZERO,
                "{cc} with min 0: not cached"
            );
        }
    }

    #[test]
    fn expires_counts_from_now_and_max_age_wins() {
        let now = SystemTime::UNIX_EPOCH + S(1_700_000_000);
        let at = |s: u64| httpdate::fmt_http_date(now + S(s));
        let p = policy();
        assert_eq!(p.ttl(None, Some(&at(300)), now), S(300));
        assert_eq!(p.ttl(None, Some(&at(5_000)), now), S(1000));
        let past = httpdate::fmt_http_date(now - S(60));
        assert_eq!(p.ttl(None, Some(&past), now), S(10), "past: min");
        assert_eq!(p.ttl(None, Some("0"), now), S(10), "invalid: expired");
        assert_eq!(p.ttl(Some("max-age=40"), Some(&at(300)), now), S(40));
        assert_eq!(p.ttl(Some("public"), Some(&at(300)), now), S(300));
    }

    #[test]
    fn nothing_gives_the_default() {
        let now = SystemTime::now();
        assert_eq!(policy().ttl(None, None, now), S(100));
        assert_eq!(policy().ttl(Some("public"), None, now), S(100));
        assert_eq!(policy().ttl(Some("max-age=abc"), None, now), S(100));
        assert_eq!(TtlPolicy::default().ttl(None, None, now), S(86_400));
    }

    #[test]
    fn ordering_is_enforced() {
        assert!(TtlPolicy::new(5, 5, 5).is_ok());
        assert!(TtlPolicy::new(6, 5, 10).is_err());
        assert!(TtlPolicy::new(0, 11, 10).is_err());
    }
}
