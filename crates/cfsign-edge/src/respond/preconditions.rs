//! Conditional requests (RFC 9110 §13.2.2), evaluated against an object's
//! metadata: `If-Match` / `If-Unmodified-Since` → 412, `If-None-Match` /
//! `If-Modified-Since` → 304 (for GET and HEAD), and `If-Range` deciding whether
//! a `Range` is honoured.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use http::header::{IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE};

use crate::origin::ObjectMeta;

/// The outcome of the preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Serve the object; `honour_range` is false when `If-Range` does not match.
    Proceed {
        /// Whether a `Range` header may be applied.
        honour_range: bool,
    },
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Whether the request has any header that needs the object's metadata first.
#[must_use]
pub fn has_preconditions(headers: &HeaderMap) -> bool {
    [
        IF_MATCH,
        IF_NONE_MATCH,
        IF_MODIFIED_SINCE,
        IF_UNMODIFIED_SINCE,
        IF_RANGE,
    ]
    .iter()
    .any(|h| headers.contains_key(h))
}

/// Evaluates the preconditions in RFC 9110 order.
#[must_use]
pub fn evaluate(headers: &HeaderMap, meta: &ObjectMeta) -> Precondition {
    let etag = meta.etag.as_deref();
    let modified = meta.last_modified.map(whole_seconds);
    if let Some(value) = header_str(headers, &IF_MATCH) {
        if !list_matches(value, etag, true) {
            return Precondition::Failed;
        }
    } else if let (Some(date), Some(modified)) =
        (header_date(headers, &IF_UNMODIFIED_SINCE), modified)
        && modified > date
    {
        return Precondition::Failed;
    }
    if let Some(value) = header_str(headers, &IF_NONE_MATCH) {
        if list_matches(value, etag, false) {
            return Precondition::NotModified;
        }
    } else if let (Some(date), Some(modified)) =
        (header_date(headers, &IF_MODIFIED_SINCE), modified)
        && modified <= date
    {
        return Precondition::NotModified;
    }
    let honour_range = match header_str(headers, &IF_RANGE) {
        None => true,
        Some(value) if value.starts_with('"') => {
            // Strong comparison with the current entity tag.
            etag.is_some_and(|e| !e.starts_with("W/") && e == value.trim())
        }
        Some(value) => match (httpdate::parse_http_date(value).ok(), modified) {
            (Some(date), Some(modified)) => date == modified,
            _ => false,
        },
    };
    Precondition::Proceed { honour_range }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &http::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn header_date(headers: &HeaderMap, name: &http::HeaderName) -> Option<SystemTime> {
    header_str(headers, name).and_then(|v| httpdate::parse_http_date(v).ok())
}

/// HTTP dates have one-second resolution.
fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Whether an `If-Match` / `If-None-Match` list matches `etag` (`*` matches any
/// existing object). `strong` is the If-Match comparison: weak tags never match.
fn list_matches(value: &str, etag: Option<&str>, strong: bool) -> bool {
    let Some(etag) = etag else {
        return value.trim() == "*";
    };
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    value.split(',').map(str::trim).any(|candidate| {
        if candidate == "*" {
            return true;
        }
        if strong {
            !candidate.starts_with("W/") && !etag.starts_with("W/") && candidate == etag
        } else {
            bare(candidate) == bare(etag)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            size: 10,
            etag: Some("\"abc\"".to_owned()),
            last_modified: Some(UNIX_EPOCH + Duration::from_millis(1_767_200_000_500)),
            content_type: None,
            cache_control: None,
            expires: None,
        }
    }

    fn eval(pairs: &[(&'static str, &str)]) -> Precondition {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        evaluate(&h, &meta())
    }

    const SAME: &str = "Wed, 31 Dec 2025 16:53:20 GMT"; // 1767200000
    const BEFORE: &str = "Wed, 31 Dec 2025 16:53:19 GMT";
    const PROCEED: Precondition = Precondition::Proceed { honour_range: true };

    #[test]
    fn if_match_and_unmodified_since() {
        assert_eq!(eval(&[("if-match", "\"abc\"")]), PROCEED);
        assert_eq!(eval(&[("if-match", "\"x\", \"abc\"")]), PROCEED);
        assert_eq!(eval(&[("if-match", "*")]), PROCEED);
        assert_eq!(eval(&[("if-match", "\"x\"")]), Precondition::Failed);
        assert_eq!(
            eval(&[("if-match", "W/\"abc\"")]),
            Precondition::Failed,
            "weak never matches If-Match"
        );
        assert_eq!(eval(&[("if-unmodified-since", SAME)]), PROCEED);
        assert_eq!(
            eval(&[("if-unmodified-since", BEFORE)]),
            Precondition::Failed
        );
        // If-Match takes precedence over If-Unmodified-Since
        assert_eq!(
            eval(&[("if-match", "\"abc\""), ("if-unmodified-since", BEFORE)]),
            PROCEED
        );
    }

    #[test]
    fn if_none_match_and_modified_since() {
        assert_eq!(
            eval(&[("if-none-match", "\"abc\"")]),
            Precondition::NotModified
        );
        assert_eq!(
            eval(&[("if-none-match", "W/\"abc\"")]),
            Precondition::NotModified,
            "weak comparison"
        );
        assert_eq!(eval(&[("if-none-match", "*")]), Precondition::NotModified);
        assert_eq!(eval(&[("if-none-match", "\"x\"")]), PROCEED);
        assert_eq!(
            eval(&[("if-modified-since", SAME)]),
            Precondition::NotModified
        );
        assert_eq!(eval(&[("if-modified-since", BEFORE)]), PROCEED);
        // If-None-Match takes precedence over If-Modified-Since
        assert_eq!(
            eval(&[("if-none-match", "\"x\""), ("if-modified-since", SAME)]),
            PROCEED
        );
        assert_eq!(eval(&[("if-modified-since", "garbage")]), PROCEED);
    }

    #[test]
    fn if_range() {
        assert_eq!(eval(&[("if-range", "\"abc\"")]), PROCEED);
        assert_eq!(
            eval(&[("if-range", "\"old\"")]),
            Precondition::Proceed {
                honour_range: false
            }
        );
        assert_eq!(eval(&[("if-range", SAME)]), PROCEED);
        assert_eq!(
            eval(&[("if-range", BEFORE)]),
            Precondition::Proceed {
                honour_range: false
            }
        );
        assert_eq!(
            eval(&[("if-range", "garbage")]),
            Precondition::Proceed {
                honour_range: false
            }
        );
    }
}
