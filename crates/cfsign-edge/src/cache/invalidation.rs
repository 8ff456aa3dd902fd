//! Invalidation: dropping cached objects before they expire, with the path
//! syntax of CloudFront's `CreateInvalidation`.
//!
//! [`InvalidationPaths::parse`] validates a list of paths the way CloudFront
//! documents them, and [`ObjectCache::invalidate`] drops every cached entry
//! (objects, "too large" markers and cached errors alike, in every behavior)
//! whose key one of them matches. The edge's admin listener exposes it as
//! `POST /invalidations` ([`crate::admin`]), and `cfsign edge invalidate` posts
//! to it.
//!
//! What CloudFront's documentation says, and how this module reads it:
//!
//! - **Paths start with `/`** and are relative to the distribution: "When you
//!   use the CloudFront API directly, invalidation paths must begin with a
//!   leading slash" (the console lets you omit it; this is the API)
//!   ([Invalidation paths], [`InvalidRelativePath`]: "The relative path is too
//!   big, is not URL-encoded, or does not begin with a slash").
//! - **Case-sensitive**: `/images/image.jpg` and `/images/Image.jpg` are two
//!   files ([Specifying the files]). Keys are compared byte for byte.
//! - **`*` only as the last character**: it "replaces 0 or more characters,
//!   must be the last character in the invalidation path"; "You can't use a
//!   wildcard within the path; only at the end" ([Invalidation paths]). So
//!   `/images/*` (everything under `images/`), `/images*` (also `images.jpg`,
//!   `images2/…`), `/images/a*` and `/*` (everything). A `*` anywhere else is
//!   refused; a literal `*` in a name is written `%2A` (this module's reading:
//!   only a raw trailing `*` is the wildcard).
//! - **Percent-encoding**: "If the path includes non-ASCII characters or unsafe
//!   characters as defined in RFC 1738, URL-encode those characters. Do not
//!   URL-encode any other characters in the path" ([Specifying the files]).
//!   A raw non-ASCII character, space, `"`, `<`, `>`, `#`, `{`, `}`, `|`, `^`,
//!   `` ` ``, `[` or `]` is refused with the encoded form as the fix; `~`,
//!   which RFC 1738 lists as unsafe but RFC 3986 made unreserved, is accepted.
//!   The path is then decoded exactly as a request path is
//!   ([`ObjectKey::from_request_path`]: decoded once, `%41` and `A` are the same
//!   key), so an invalidation names what a viewer's request names.
//! - **Query strings**: CloudFront invalidates `/a.jpg?x=1` separately only when
//!   it forwards query strings, and for signed URLs says to give "only the
//!   portion of the URL before the question mark" ([Specifying the files]).
//!   This edge never puts the query string in its cache key (CloudFront's
//!   `CachingOptimized` policy), so a path with a `?` is refused, with that
//!   advice; a `?` that is part of a name is written `%3F`. Refusing also keeps
//!   a pasted signed URL's signature out of every message.
//! - **Length and count**: "The maximum length of a path is 4,000 characters"
//!   ([Invalidation paths]) ([`MAX_PATH_CHARS`]); up to 3,000 individual paths
//!   may be in progress per distribution ([Concurrent invalidation maximum]),
//!   which bounds one request here ([`MAX_PATHS`]). CloudFront's separate limit
//!   of 15 wildcard paths in progress does not apply: an invalidation here is
//!   done when the call returns.
//!
//! Like CloudFront, a path invalidates every cached variant of the object (here:
//! every behavior whose origin and TTLs made its own entry for the key). A
//! "directory" is two keys: invalidate `/images` and `/images/` (CloudFront
//! gives the same advice), or `/images*`.
//!
//! [Specifying the files]: https://github.com/awsdocs/amazon-cloudfront-developer-guide/blob/main/doc_source/Invalidation.md#invalidation-specifying-objects
//! [Invalidation paths]: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/invalidation-specifying-objects.html
//! [`InvalidRelativePath`]: https://docs.aws.amazon.com/botocore/latest/reference/services/cloudfront/client/exceptions/InvalidRelativePath.html
//! [Concurrent invalidation maximum]: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html
//!
//! ```
//! use cfsign_edge::cache::invalidation::InvalidationPaths;
//! use cfsign_edge::origin::ObjectKey;
//!
//! let paths = InvalidationPaths::parse(&["/a%20b.jpg", "/videos/*"])?;
//! let key = |p: &str| ObjectKey::from_request_path(p).unwrap();
//! assert!(paths.matches(&key("/a b.jpg")));
//! assert!(paths.matches(&key("/videos/2026/intro.mp4")));
//! assert!(!paths.matches(&key("/videos")));
//! assert!(!paths.matches(&key("/A%20B.jpg")));
//!
//! let err = InvalidationPaths::parse(&["/ok.jpg", "/images/*.jpg"]).unwrap_err();
//! assert!(err.to_string().starts_with("invalidation path 1, \"/images/*.jpg\": "));
//! # Ok::<(), cfsign_edge::cache::invalidation::InvalidationError>(())
//! ```

use std::fmt::Write as _;
use std::sync::Arc;

use cfsign::excerpt::Excerpt;

use super::ObjectCache;
use crate::origin::{KeyError, MAX_KEY_BYTES, ObjectKey, percent_decode};

/// The most paths one invalidation may have (CloudFront's 3,000 paths in progress).
pub const MAX_PATHS: usize = 3_000;

/// The longest invalidation path, in characters (CloudFront's limit).
pub const MAX_PATH_CHARS: usize = 4_000;

/// Characters that must be percent-encoded in an invalidation path (RFC 1738's
/// unsafe characters, less `~` and `%`, which RFC 3986 allows raw; `%` must
/// start a valid escape, as in a request path).
const UNSAFE: &[char] = &[' ', '"', '<', '>', '#', '{', '}', '|', '^', '`', '[', ']'];

/// Why a list of invalidation paths is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidationError {
    /// The list is empty.
    #[error("no invalidation paths: give at least one, such as /images/photo.jpg or /images/*")]
    NoPaths,
    /// More than [`MAX_PATHS`].
    #[error(
        "{count} invalidation paths: one invalidation takes at most {MAX_PATHS}; split them into several invalidations, or use a wildcard such as /images/*"
    )]
    TooManyPaths {
        /// How many were given.
        count: usize,
    },
    /// One path is invalid.
    #[error("invalidation path {index}, {shown}: {reason}")]
    Path {
        /// Its position in the list, from 0.
        index: usize,
        /// The path as messages show it: cut to a readable length, without a
        /// query string.
        shown: String,
        /// What is wrong with it, and the fix.
        reason: PathError,
    },
}

impl InvalidationError {
    /// For an invalid path: its position in the list and the path as shown.
    ///
    /// ```
    /// use cfsign_edge::cache::invalidation::InvalidationPaths;
    ///
    /// let err = InvalidationPaths::parse(&["/a.jpg", "b.jpg"]).unwrap_err();
    /// assert_eq!(err.path(), Some((1, "\"b.jpg\"")));
    /// ```
    #[must_use]
    pub fn path(&self) -> Option<(usize, &str)> {
        match self {
            Self::Path { index, shown, .. } => Some((*index, shown.as_str())),
            Self::NoPaths | Self::TooManyPaths { .. } => None,
        }
    }
}

/// What is wrong with one invalidation path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// It does not start with `/`.
    #[error(
        "it must start with '/' (paths are relative to the distribution: /images/photo.jpg, /*)"
    )]
    NotAbsolute,
    /// Longer than [`MAX_PATH_CHARS`].
    #[error(
        "it has {chars} characters, more than the {MAX_PATH_CHARS} CloudFront allows; invalidate a shorter prefix ending in '*' instead"
    )]
    TooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// A `*` before the last character.
    #[error(
        "'*' at byte {at} is a wildcard, which is allowed only as the last character (/images/*); write a '*' that is part of a name as %2A"
    )]
    InnerWildcard {
        /// Byte offset of the `*`.
        at: usize,
    },
    /// A `?`: a query string.
    #[error(
        "it has a query string: the edge caches objects without their query string (signed URLs included), so give only the part before '?'; write a '?' that is part of a name as %3F"
    )]
    QueryString,
    /// A non-ASCII or unsafe character that is not percent-encoded.
    #[error(
        "{character:?} at byte {at} must be percent-encoded (CloudFront takes non-ASCII and unsafe characters only URL-encoded): write {}",
        Excerpt::around(suggestion, *at)
    )]
    NotEncoded {
        /// The character.
        character: char,
        /// Its byte offset.
        at: usize,
        /// The whole path with every such character encoded.
        suggestion: String,
    },
    /// Once decoded, it cannot name an object (the rules of request paths).
    #[error("it cannot name an object: {0}; give the path viewers request, percent-encoded once")]
    Key(KeyError),
}

/// One parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// Exactly this key.
    Exact(ObjectKey),
    /// Every key whose bytes start with these (decoded) bytes.
    Prefix(Vec<u8>),
}

/// A validated list of invalidation paths (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidationPaths {
    /// The paths as given, in order.
    given: Vec<String>,
    patterns: Vec<Pattern>,
}

impl InvalidationPaths {
    /// Validates `paths` (between 1 and [`MAX_PATHS`], each at most
    /// [`MAX_PATH_CHARS`] characters); the error names the first bad path, its
    /// position and the fix.
    ///
    /// ```
    /// use cfsign_edge::cache::invalidation::{InvalidationError, InvalidationPaths, PathError};
    ///
    /// let paths = InvalidationPaths::parse(&["/index.html", "/images/*"])?;
    /// assert_eq!(paths.len(), 2);
    /// assert_eq!(paths.paths().collect::<Vec<_>>(), ["/index.html", "/images/*"]);
    ///
    /// let err = InvalidationPaths::parse(&["/photo.jpg?Signature=abc"]).unwrap_err();
    /// assert!(matches!(err, InvalidationError::Path { index: 0, reason: PathError::QueryString, .. }));
    /// assert!(!err.to_string().contains("Signature"));
    /// # Ok::<(), InvalidationError>(())
    /// ```
    pub fn parse(paths: &[impl AsRef<str>]) -> Result<Self, InvalidationError> {
        if paths.is_empty() {
            return Err(InvalidationError::NoPaths);
        }
        if paths.len() > MAX_PATHS {
            return Err(InvalidationError::TooManyPaths { count: paths.len() });
        }
        let mut given = Vec::with_capacity(paths.len());
        let mut patterns = Vec::with_capacity(paths.len());
        for (index, path) in paths.iter().enumerate() {
            let path = path.as_ref();
            let pattern = parse_one(path).map_err(|(reason, at)| InvalidationError::Path {
                index,
                shown: shown(path, at),
                reason,
            })?;
            given.push(path.to_owned());
            patterns.push(pattern);
        }
        Ok(Self { given, patterns })
    }

    /// Whether one of the paths matches `key`: an exact path names the same key
    /// (decoded as [`ObjectKey::from_request_path`] decodes request paths), a
    /// path ending in `*` every key that starts with the rest, decoded.
    ///
    /// ```
    /// use cfsign_edge::cache::invalidation::InvalidationPaths;
    /// use cfsign_edge::origin::ObjectKey;
    ///
    /// let paths = InvalidationPaths::parse(&["/logo.*", "/%C3%A9t%C3%A9.txt"])?;
    /// let key = |p: &str| ObjectKey::from_request_path(p).unwrap();
    /// assert!(paths.matches(&key("/logo.png")) && paths.matches(&key("/logo.gif")));
    /// assert!(paths.matches(&key("/%c3%a9t%c3%a9.txt")));
    /// assert!(!paths.matches(&key("/Logo.png")) && !paths.matches(&key("/img/logo.png")));
    /// # Ok::<(), cfsign_edge::cache::invalidation::InvalidationError>(())
    /// ```
    #[must_use]
    pub fn matches(&self, key: &ObjectKey) -> bool {
        self.patterns.iter().any(|pattern| match pattern {
            Pattern::Exact(exact) => exact == key,
            Pattern::Prefix(prefix) => key.as_str().as_bytes().starts_with(prefix),
        })
    }

    /// The paths as given, in order.
    pub fn paths(&self) -> impl ExactSizeIterator<Item = &str> {
        self.given.iter().map(String::as_str)
    }

    /// How many paths there are (at least one).
    #[must_use]
    pub fn len(&self) -> usize {
        self.given.len()
    }

    /// Never true: [`parse`](Self::parse) refuses an empty list.
    ///
    /// ```
    /// use cfsign_edge::cache::invalidation::InvalidationPaths;
    ///
    /// assert!(!InvalidationPaths::parse(&["/*"])?.is_empty());
    /// # Ok::<(), cfsign_edge::cache::invalidation::InvalidationError>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.given.is_empty()
    }
}

/// How an invalid path is shown: without its query string, cut around `at`.
fn shown(path: &str, at: usize) -> String {
    match path.find('?') {
        Some(q) => format!("{}?...", Excerpt::around(&path[..q], at.min(q))),
        None => Excerpt::around(path, at).to_string(),
    }
}

/// One path: the pattern, or why not and the byte offset the message is about.
fn parse_one(path: &str) -> Result<Pattern, (PathError, usize)> {
    if !path.starts_with('/') {
        return Err((PathError::NotAbsolute, 0));
    }
    let chars = path.chars().count();
    if chars > MAX_PATH_CHARS {
        return Err((PathError::TooLong { chars }, MAX_PATH_CHARS));
    }
    let last = path.len() - 1;
    for (at, character) in path.char_indices() {
        match character {
            '?' => return Err((PathError::QueryString, at)),
            '*' if at != last => return Err((PathError::InnerWildcard { at }, at)),
            c if !c.is_ascii() || UNSAFE.contains(&c) => {
                let error = PathError::NotEncoded {
                    character: c,
                    at,
                    suggestion: encode_unsafe(path),
                };
                return Err((error, at));
            }
            _ => {}
        }
    }
    let key_error = |e: KeyError| (PathError::Key(e), 0);
    let Some(prefix) = path.strip_suffix('*') else {
        return ObjectKey::from_request_path(path)
            .map(Pattern::Exact)
            .map_err(key_error);
    };
    // The complete segments follow the rules of request paths; the last,
    // partial one may be anything a segment can start with ("." included).
    let (folder, partial) = prefix.split_at(prefix.rfind('/').map_or(0, |i| i + 1));
    let mut bytes = ObjectKey::from_request_path(folder)
        .map_err(key_error)?
        .as_str()
        .as_bytes()
        .to_vec();
    let tail = percent_decode(partial).map_err(key_error)?;
    if tail.contains(&b'/') {
        return Err(key_error(KeyError::ForbiddenCharacter("encoded '/'")));
    }
    if tail.contains(&b'\\') {
        return Err(key_error(KeyError::ForbiddenCharacter("backslash")));
    }
    if tail.contains(&0) {
        return Err(key_error(KeyError::ForbiddenCharacter("NUL")));
    }
    let control = tail.iter().any(|b| b.is_ascii_control())
        || std::str::from_utf8(&tail).is_ok_and(|t| t.chars().any(char::is_control));
    if control {
        return Err(key_error(KeyError::ForbiddenCharacter("control character")));
    }
    bytes.extend_from_slice(&tail);
    if bytes.len() > MAX_KEY_BYTES {
        return Err(key_error(KeyError::TooLong));
    }
    Ok(Pattern::Prefix(bytes))
}

/// `path` with every non-ASCII or unsafe character percent-encoded (UTF-8).
fn encode_unsafe(path: &str) -> String {
    let mut out = String::with_capacity(path.len() * 3);
    for c in path.chars() {
        if c.is_ascii() && !UNSAFE.contains(&c) {
            out.push(c);
        } else {
            let mut buffer = [0; 4];
            for b in c.encode_utf8(&mut buffer).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

impl ObjectCache {
    /// Drops every entry, in every behavior, whose key one of `paths` matches
    /// (objects, "too large to cache" markers and cached errors), as a
    /// CloudFront invalidation does; the next request for such a key goes to
    /// the origin. Returns how many matching entries the cache held when the
    /// call began.
    ///
    /// How: moka's invalidation predicate (`invalidate_entries_if`) is
    /// registered for the paths, which guarantees that no lookup after this call
    /// returns an entry stored before it, even one a concurrent load stored
    /// while the call ran; moka removes them in the background and does not say
    /// how many it removed. The count is therefore taken by scanning the entries
    /// just before the predicate is registered: an entry stored during the call
    /// is dropped but not counted, one that expired during it is counted.
    /// Scanning visits every entry once, so an invalidation costs time
    /// proportional to the number of cached entries (not to their size). A
    /// load that was already reading from the origin when the call ran may
    /// still store what it read (as a CloudFront edge may, for a request in
    /// flight); the next invalidation drops it.
    ///
    /// ```
    /// use cfsign_edge::cache::invalidation::InvalidationPaths;
    /// use cfsign_edge::cache::{CacheSettings, ObjectCache};
    ///
    /// let cache = ObjectCache::new(CacheSettings::default());
    /// assert_eq!(cache.invalidate(&InvalidationPaths::parse(&["/*"])?), 0);
    /// # Ok::<(), cfsign_edge::cache::invalidation::InvalidationError>(())
    /// ```
    pub fn invalidate(&self, paths: &InvalidationPaths) -> u64 {
        let found = self
            .entries
            .iter()
            .filter(|(key, _)| paths.matches(&key.key))
            .count() as u64;
        let paths = Arc::new(paths.clone());
        let registered = self
            .entries
            .invalidate_entries_if(move |key, _| paths.matches(&key.key));
        if registered.is_err() {
            // Only if the cache was built without invalidation closures (never
            // by `ObjectCache::new`): dropping everything is still correct.
            self.entries.invalidate_all();
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CachedOrigin;
    use crate::cache::{CacheSettings, TtlPolicy};
    use crate::origin::{DirectoryOrigin, Origin};
    use std::sync::Arc;

    fn parse(paths: &[&str]) -> Result<InvalidationPaths, InvalidationError> {
        InvalidationPaths::parse(paths)
    }

    fn reason(path: &str) -> PathError {
        match parse(&[path]) {
            Err(InvalidationError::Path { reason, .. }) => reason,
            other => panic!("{path}: {other:?}"),
        }
    }

    fn key(path: &str) -> ObjectKey {
        ObjectKey::from_request_path(path).unwrap()
    }

    fn matching(paths: &[&str], keys: &[&str]) -> Vec<bool> {
        let parsed = parse(paths).unwrap();
        keys.iter().map(|k| parsed.matches(&key(k))).collect()
    }

    #[test]
    fn exact_paths_match_the_decoded_key_only() {
        assert_eq!(
            matching(
                &["/images/photo.jpg"],
                &[
                    "/images/photo.jpg",
                    "/images/Photo.jpg",
                    "/images/photo.jpg/",
                    "/images/photo.jpgx",
                    "/images/photo",
                    "/images/%70hoto.jpg",
                ]
            ),
            [true, false, false, false, false, true]
        );
        // Decoded once, as request paths are; %25 is a literal percent.
        assert_eq!(
            matching(
                &["/100%25.txt", "/a%2541"],
                &["/100%25.txt", "/a%2541", "/aA"]
            ),
            [true, true, false]
        );
        // The root and a "folder" are keys of their own.
        assert_eq!(
            matching(&["/", "/dir/"], &["/", "/dir/", "/dir", "/dir/a"]),
            [true, true, false, false]
        );
        // A literal star or question mark in a name, encoded.
        assert_eq!(
            matching(&["/a%2A", "/b%3Fc"], &["/a%2A", "/ab", "/b%3Fc"]),
            [true, false, true]
        );
    }

    #[test]
    fn a_trailing_star_is_a_prefix_of_the_decoded_key() {
        let keys = [
            "/images/a.jpg",
            "/images/sub/b.jpg",
            "/images",
            "/images.jpg",
            "/imagesX/c",
            "/Images/a.jpg",
            "/other/images/a.jpg",
            "/",
        ];
        assert_eq!(
            matching(&["/images/*"], &keys),
            [true, true, false, false, false, false, false, false]
        );
        assert_eq!(
            matching(&["/images*"], &keys),
            [true, true, true, true, true, false, false, false]
        );
        assert_eq!(matching(&["/*"], &keys), [true; 8]);
        assert_eq!(
            matching(&["/images/a*"], &keys),
            [true, false, false, false, false, false, false, false]
        );
        // Encoded characters in the prefix are decoded; a partial last segment
        // may be a dot or the start of a multi-byte character.
        assert_eq!(
            matching(
                &["/a%20b/*", "/.h*", "/%C3*"],
                &["/a%20b/x", "/a b/y", "/.hidden", "/%C3%A9", "/e"]
            ),
            [true, true, true, true, false]
        );
        // A literal '*' at the end of a name is %2A, not a wildcard.
        assert_eq!(matching(&["/a%2A"], &["/a%2A", "/ab"]), [true, false]);
    }

    #[test]
    fn paths_must_start_with_a_slash() {
        for path in ["", "images/a.jpg", "*", "%2Fa", "http://example.com/a"] {
            assert_eq!(reason(path), PathError::NotAbsolute, "{path}");
        }
    }

    #[test]
    fn a_star_is_only_allowed_last() {
        assert_eq!(reason("/images/*.jpg"), PathError::InnerWildcard { at: 8 });
        assert_eq!(reason("/**"), PathError::InnerWildcard { at: 1 });
        assert_eq!(reason("/a*/b"), PathError::InnerWildcard { at: 2 });
    }

    #[test]
    fn query_strings_are_refused_and_never_echoed() {
        let err = parse(&[
            "/a.jpg",
            "/b.jpg?Expires=1&Signature=SECRETSIG&Key-Pair-Id=K",
        ])
        .unwrap_err();
        assert_eq!(err.path(), Some((1, "\"/b.jpg\"?...")));
        let message = err.to_string();
        assert!(!message.contains("SECRETSIG"), "{message}");
        assert!(message.contains("only the part before '?'"), "{message}");
        assert_eq!(reason("/dir/?a=1"), PathError::QueryString);
    }

    #[test]
    fn unsafe_and_non_ascii_characters_must_be_encoded() {
        for (path, character, at, suggestion) in [
            ("/a b.jpg", ' ', 2, "/a%20b.jpg"),
            ("/été/x", 'é', 1, "/%C3%A9t%C3%A9/x"),
            ("/a#b", '#', 2, "/a%23b"),
            ("/a\"b", '"', 2, "/a%22b"),
            ("/<x>", '<', 1, "/%3Cx%3E"),
            ("/a{b}", '{', 2, "/a%7Bb%7D"),
            ("/a|b^c`d", '|', 2, "/a%7Cb%5Ec%60d"),
            ("/a[0]", '[', 2, "/a%5B0%5D"),
            ("/日本*", '日', 1, "/%E6%97%A5%E6%9C%AC*"),
        ] {
            assert_eq!(
                reason(path),
                PathError::NotEncoded {
                    character,
                    at,
                    suggestion: suggestion.to_owned()
                },
                "{path}"
            );
            // The suggestion is accepted.
            assert!(parse(&[suggestion]).is_ok(), "{suggestion}");
        }
        // What is allowed raw.
        for path in [
            "/a~b",
            "/a;b=c&d,e",
            "/a+b",
            "/a'b(c)!$@:",
            "/a%20b",
            "/-._",
        ] {
            assert!(parse(&[path]).is_ok(), "{path}");
        }
        let message = parse(&["/x", "/a b.jpg"]).unwrap_err().to_string();
        assert_eq!(
            message,
            "invalidation path 1, \"/a b.jpg\": ' ' at byte 2 must be percent-encoded (CloudFront takes non-ASCII and unsafe characters only URL-encoded): write \"/a%20b.jpg\""
        );
    }

    #[test]
    fn decoded_paths_follow_the_rules_of_request_paths() {
        for (path, expected) in [
            ("/a/../b", KeyError::DotSegment),
            ("/a/%2e%2e/*", KeyError::DotSegment),
            ("/a//b", KeyError::EmptySegment),
            ("//*", KeyError::EmptySegment),
            ("/a%2Fb", KeyError::ForbiddenCharacter("encoded '/'")),
            ("/a%2F*", KeyError::ForbiddenCharacter("encoded '/'")),
            ("/a%5C*", KeyError::ForbiddenCharacter("backslash")),
            ("/a\\b", KeyError::ForbiddenCharacter("backslash")),
            ("/a%00*", KeyError::ForbiddenCharacter("NUL")),
            ("/a%0A*", KeyError::ForbiddenCharacter("control character")),
            (
                "/a%C2%85*",
                KeyError::ForbiddenCharacter("control character"),
            ),
            ("/a%zz", KeyError::BadEscape),
            ("/a%*", KeyError::BadEscape),
            ("/%C0%AE", KeyError::NotUtf8),
        ] {
            assert_eq!(reason(path), PathError::Key(expected), "{path}");
        }
        let long = format!("/{}*", "x".repeat(MAX_KEY_BYTES + 1));
        assert_eq!(reason(&long), PathError::Key(KeyError::TooLong));
    }

    #[test]
    fn count_and_length_are_bounded() {
        let none: [&str; 0] = [];
        assert_eq!(parse(&none).unwrap_err(), InvalidationError::NoPaths);
        let many = vec!["/a"; MAX_PATHS + 1];
        assert_eq!(
            parse(&many).unwrap_err(),
            InvalidationError::TooManyPaths {
                count: MAX_PATHS + 1
            }
        );
        assert_eq!(parse(&many[..MAX_PATHS]).unwrap().len(), MAX_PATHS);
        // The raw length is checked first; a path within it still decodes to a
        // key of at most 1,024 bytes (S3's limit), so no valid path reaches 4,000.
        let longest = format!("/{}", "%41".repeat(MAX_PATH_CHARS / 3));
        assert_eq!(longest.chars().count(), MAX_PATH_CHARS);
        assert_eq!(reason(&longest), PathError::Key(KeyError::TooLong));
        let longest_key = format!("/{}*", "%41".repeat(MAX_KEY_BYTES));
        assert!(parse(&[longest_key.as_str()]).is_ok());
        let too_long = format!("/{}", "x".repeat(MAX_PATH_CHARS));
        let err = parse(&[too_long.as_str()]).unwrap_err();
        assert!(
            matches!(
                err,
                InvalidationError::Path {
                    index: 0,
                    reason: PathError::TooLong { chars: 4001 },
                    ..
                }
            ),
            "{err:?}"
        );
        // The message stays short.
        assert!(err.to_string().len() < 400, "{err}");
    }

    /// Entries of two behaviors over one origin, a cached error, and one that
    /// must survive: exact and wildcard invalidations drop exactly the matches.
    #[tokio::test]
    async fn invalidate_drops_the_matching_entries_of_every_behavior() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.txt", "b.txt", "keep.txt"] {
            std::fs::create_dir_all(dir.path().join("img")).unwrap();
            std::fs::write(dir.path().join("img").join(name), name).unwrap();
        }
        let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(dir.path()).unwrap());
        let cache = ObjectCache::new(CacheSettings::default());
        let short = cache.wrap(Arc::clone(&origin), TtlPolicy::default());
        let long = cache.wrap(
            Arc::clone(&origin),
            TtlPolicy::new(0, 86_400 * 2, 86_400 * 365).unwrap(),
        );
        // A GET through the cache: whether it was answered from memory.
        let load = |behavior: &CachedOrigin, path: &'static str| {
            let behavior = behavior.clone();
            async move {
                behavior
                    .get(&key(path), None)
                    .await
                    .is_ok_and(|r| r.cached.is_some())
            }
        };
        for behavior in [&short, &long] {
            for path in [
                "/img/a.txt",
                "/img/b.txt",
                "/img/keep.txt",
                "/img/missing.txt",
            ] {
                assert!(!load(behavior, path).await);
            }
        }
        // Whether the cache holds the object (a HEAD answered from memory).
        let hit = |behavior: &CachedOrigin, path: &'static str| {
            let behavior = behavior.clone();
            async move {
                behavior
                    .head(&key(path))
                    .await
                    .is_ok_and(|h| h.cached.is_some())
            }
        };
        assert!(hit(&long, "/img/a.txt").await);

        let exact = parse(&["/img/a.txt", "/img/missing.txt", "/nothing"]).unwrap();
        assert_eq!(cache.invalidate(&exact), 4);
        for behavior in [&short, &long] {
            assert!(!hit(behavior, "/img/a.txt").await);
            assert!(!hit(behavior, "/img/missing.txt").await);
            assert!(hit(behavior, "/img/b.txt").await);
            assert!(hit(behavior, "/img/keep.txt").await);
        }
        // Counted once: already invalidated entries are not found again.
        assert_eq!(cache.invalidate(&exact), 0);

        let wildcard = parse(&["/img/b*"]).unwrap();
        assert_eq!(cache.invalidate(&wildcard), 2);
        for behavior in [&short, &long] {
            assert!(!hit(behavior, "/img/b.txt").await);
            assert!(hit(behavior, "/img/keep.txt").await);
        }
        // Loaded again after the invalidation: a miss, then cached.
        assert!(!load(&short, "/img/a.txt").await);
        assert!(load(&short, "/img/a.txt").await);
        assert_eq!(cache.invalidate(&parse(&["/*"]).unwrap()), 3);
        assert!(!hit(&short, "/img/keep.txt").await);
    }
}
