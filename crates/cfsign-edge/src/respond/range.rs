//! `Range` requests as S3 and CloudFront answer them: one range → 206; a
//! range that starts past the end → 416; several ranges → the whole object
//! (200); a syntactically invalid header is ignored (RFC 9110 §14.2).

use http_range_header::{EndPosition, StartPosition, parse_range_header};

use crate::origin::ByteRange;

/// What to do about a `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeDecision {
    /// Serve the whole object (no header, invalid header, several ranges).
    Full,
    /// Serve this range with 206.
    Partial(ByteRange),
    /// 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// Resolves a `Range` header value against an object size.
///
/// ```
/// use cfsign_edge::origin::ByteRange;
/// use cfsign_edge::respond::range::{RangeDecision, resolve};
///
/// assert_eq!(resolve("bytes=0-9", 100), RangeDecision::Partial(ByteRange { start: 0, end: 9 }));
/// assert_eq!(resolve("bytes=-10", 100), RangeDecision::Partial(ByteRange { start: 90, end: 99 }));
/// assert_eq!(resolve("bytes=200-", 100), RangeDecision::Unsatisfiable);
/// assert_eq!(resolve("bytes=0-1,5-6", 100), RangeDecision::Full);
/// ```
#[must_use]
pub fn resolve(header: &str, size: u64) -> RangeDecision {
    let Ok(parsed) = parse_range_header(header.trim()) else {
        return RangeDecision::Full;
    };
    let [range] = parsed.ranges.as_slice() else {
        return RangeDecision::Full;
    };
    if size == 0 {
        return RangeDecision::Unsatisfiable;
    }
    let last = size - 1;
    let (start, end) = match (range.start, range.end) {
        // last-pos < first-pos is an invalid range-spec: ignore the header (RFC 9110 §14.1.1).
        (StartPosition::Index(s), EndPosition::Index(e)) if e < s => return RangeDecision::Full,
        (StartPosition::Index(s), EndPosition::Index(e)) => (s, e.min(last)),
        (StartPosition::Index(s), EndPosition::LastByte) => (s, last),
        // A suffix longer than the object means the whole object (RFC 9110 §14.1.2).
        (StartPosition::FromLast(n), _) => (size.saturating_sub(n), last),
    };
    if start > last || start > end {
        return RangeDecision::Unsatisfiable;
    }
    RangeDecision::Partial(ByteRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(start: u64, end: u64) -> RangeDecision {
        RangeDecision::Partial(ByteRange { start, end })
    }

    #[test]
    fn single_ranges() {
        assert_eq!(resolve("bytes=0-0", 10), partial(0, 0));
        assert_eq!(resolve("bytes=9-9", 10), partial(9, 9));
        assert_eq!(resolve("bytes=5-", 10), partial(5, 9));
        assert_eq!(resolve("bytes=5-100", 10), partial(5, 9));
        assert_eq!(resolve("bytes=-3", 10), partial(7, 9));
        assert_eq!(resolve("bytes=-30", 10), partial(0, 9));
        assert_eq!(resolve("bytes=0-9", 10), partial(0, 9));
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        assert_eq!(resolve("bytes=10-", 10), RangeDecision::Unsatisfiable);
        assert_eq!(resolve("bytes=10-20", 10), RangeDecision::Unsatisfiable);
        assert_eq!(resolve("bytes=0-0", 0), RangeDecision::Unsatisfiable);
        assert_eq!(
            resolve("bytes=5-2", 10),
            RangeDecision::Full,
            "reversed is invalid syntax: ignored"
        );
        assert_eq!(resolve("bytes=0-1,3-4", 10), RangeDecision::Full);
        assert_eq!(resolve("items=0-1", 10), RangeDecision::Full);
        assert_eq!(resolve("bytes=abc", 10), RangeDecision::Full);
        assert_eq!(resolve("", 10), RangeDecision::Full);
    }
}
