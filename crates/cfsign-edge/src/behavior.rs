//! Cache behaviors, as in a CloudFront distribution: ordered path patterns, each
//! with its origin, whether viewer access is restricted (and by which key
//! groups) and its cache TTLs, plus a default behavior (`*`). The first pattern that matches the
//! request path wins.
//!
//! Path patterns follow CloudFront: matched against the URL path (no query),
//! case-sensitive, `*` matches any characters including `/`, `?` exactly one; a
//! leading `/` is optional (`images/*.jpg` ≡ `/images/*.jpg`).
//!
//! ```
//! use cfsign_edge::behavior::PathPattern;
//!
//! let p = PathPattern::new("/videos/*.m3u8")?;
//! assert!(p.matches("/videos/show/index.m3u8"));
//! assert!(!p.matches("/images/a.jpg"));
//! assert!(PathPattern::new("*.jpg")?.matches("/a/b.jpg"));
//! # Ok::<(), cfsign_edge::behavior::PatternError>(())
//! ```

use std::sync::Arc;

use crate::access::AccessConfig;
use crate::cache::TtlPolicy;
use crate::origin::Origin;

/// Why a path pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path pattern {pattern:?}: {reason}")]
pub struct PatternError {
    pattern: String,
    reason: &'static str,
}

/// A behavior's path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern(String);

impl PathPattern {
    /// Validates a pattern: 1–255 characters of `A–Z a–z 0–9 _ - . * $ / ~ " ' @ : +` and `?`
    /// (CloudFront's set), `&` as `&amp;` is not needed here.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        let bad = |reason| PatternError {
            pattern: pattern.to_owned(),
            reason,
        };
        if pattern.is_empty() || pattern.len() > 255 {
            return Err(bad("must be 1 to 255 characters"));
        }
        if !pattern
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.*$/~\"'@:+?&".contains(&b))
        {
            return Err(bad(
                "may contain only A-Z a-z 0-9 _ - . * $ / ~ \" ' @ : + ? &",
            ));
        }
        let normalised = if pattern.starts_with('/') || pattern.starts_with('*') {
            pattern.to_owned()
        } else {
            format!("/{pattern}")
        };
        Ok(Self(normalised))
    }

    /// The default behavior's pattern, `*`.
    #[must_use]
    pub fn any() -> Self {
        Self("*".to_owned())
    }

    /// The pattern.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `path` (the raw URL path, starting with `/`) matches.
    #[must_use]
    pub fn matches(&self, path: &str) -> bool {
        cfsign::resource::wildcard_match(&self.0, path)
    }
}

/// One behavior.
#[derive(Clone)]
pub struct Behavior {
    /// Which paths it serves.
    pub pattern: PathPattern,
    /// Where objects come from.
    pub origin: Arc<dyn Origin>,
    /// The origin's name (for logs).
    pub origin_name: String,
    /// `Some` when viewer access is restricted: the check and its trusted keys.
    pub access: Option<AccessConfig>,
    /// How long its objects stay in the edge's cache.
    pub ttl: TtlPolicy,
    /// Whether compressible objects are sent gzip- or Brotli-compressed to
    /// viewers that accept it (CloudFront's "compress objects automatically").
    pub compress: bool,
    /// Whether HLS and DASH manifests served to a viewer whose credentials are a
    /// query-string custom policy get those credentials stamped on every child
    /// URI the policy covers ([`manifests`](crate::manifests)).
    pub sign_manifests: bool,
}

impl std::fmt::Debug for Behavior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Behavior")
            .field("pattern", &self.pattern)
            .field("origin", &self.origin_name)
            .field("restricted", &self.access.is_some())
            .field("ttl", &self.ttl)
            .field("compress", &self.compress)
            .finish()
    }
}

/// Ordered behaviors and the default.
#[derive(Debug, Clone)]
pub struct Behaviors {
    ordered: Vec<Behavior>,
    default: Behavior,
}

impl Behaviors {
    /// `ordered` are tried first, in order; `default` serves everything else.
    #[must_use]
    pub fn new(ordered: Vec<Behavior>, default: Behavior) -> Self {
        Self { ordered, default }
    }

    /// The behavior for a request path: the first whose pattern matches, or
    /// the default.
    #[must_use]
    pub fn select(&self, path: &str) -> &Behavior {
        self.ordered
            .get(self.position(path))
            .unwrap_or(&self.default)
    }

    /// Where [`select`](Self::select)'s behavior is in [`iter`](Self::iter)'s
    /// order (the default is last), for a table built in that order.
    #[must_use]
    pub fn position(&self, path: &str) -> usize {
        self.ordered
            .iter()
            .position(|b| b.pattern.matches(path))
            .unwrap_or(self.ordered.len())
    }

    /// All behaviors, default last.
    pub fn iter(&self) -> impl Iterator<Item = &Behavior> {
        self.ordered.iter().chain(std::iter::once(&self.default))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let m = |p: &str, path: &str| PathPattern::new(p).unwrap().matches(path);
        assert!(m("/videos/*", "/videos/a/b.mp4"));
        assert!(m("videos/*", "/videos/a.mp4"));
        assert!(!m("/videos/*", "/Videos/a.mp4"), "case-sensitive");
        assert!(m("*.m3u8", "/x/y/index.m3u8"));
        assert!(m("/img?.png", "/img1.png"));
        assert!(!m("/img?.png", "/img10.png"));
        assert!(PathPattern::any().matches("/anything?x"));
        assert!(PathPattern::new("").is_err());
        assert!(PathPattern::new("/a b/*").is_err());
        assert!(PathPattern::new(&"a".repeat(256)).is_err());
    }
}
