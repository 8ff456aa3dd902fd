//! Signed cookies: typed values and ready `Set-Cookie` strings with safe defaults.
//!
//! The cookies carry the same values as a signed URL under `CloudFront-*` names:
//! `CloudFront-Expires` (canned) or `CloudFront-Policy` (custom),
//! `CloudFront-Signature`, `CloudFront-Key-Pair-Id`, and
//! `CloudFront-Hash-Algorithm=SHA256` when SHA-256 is used.
//!
//! [`CookieAttributes`] defaults follow AWS's advice and browser reality: `Secure`
//! and `HttpOnly` on, `SameSite=Lax`, `Path=/`, no `Domain` (host-only), and
//! session cookies (no `Max-Age`/`Expires`).
//!
//! ```
//! use std::time::Duration;
//! use cfsign::{CookieAttributes, KeyPairId, KeyType, Policy, PrivateKey, Resource, Signer};
//!
//! let signer = Signer::new(KeyPairId::new("K2JCJMDEHXQW5F")?, PrivateKey::generate(KeyType::EcdsaP256)?);
//! let policy = Policy::builder(Resource::pattern("https://media.example.com/course-42/*")?)
//!     .expires_in(Duration::from_secs(4 * 3600))
//!     .build()?;
//! let cookies = signer.sign_cookies(&policy)?;
//! let headers = cookies.set_cookie_headers(
//!     &CookieAttributes::default().domain("media.example.com").path("/course-42/"),
//! )?;
//! assert_eq!(headers.len(), 3);
//! assert!(headers[0].starts_with("CloudFront-Policy="));
//! assert!(headers[0].ends_with("; Domain=media.example.com; Path=/course-42/; Secure; HttpOnly; SameSite=Lax"));
//! assert!(cookies.warnings(&CookieAttributes::default()).is_empty());
//! # Ok::<(), cfsign::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;

use crate::excerpt::Excerpt;
use crate::lint::Warning;
use crate::policy::PolicyForm;
use crate::resource::Resource;
use crate::signer::{HashAlgorithm, KeyPairId};
use crate::time::EpochSeconds;

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent on same-site requests and top-level navigations (the default).
    #[default]
    Lax,
    /// Sent on same-site requests only.
    Strict,
    /// Sent cross-site too (embedding protected media in another site); requires `Secure`.
    None,
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        })
    }
}

impl FromStr for SameSite {
    type Err = CookieError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "lax" => Ok(SameSite::Lax),
            "strict" => Ok(SameSite::Strict),
            "none" => Ok(SameSite::None),
            _ => Err(CookieError::SameSite(s.to_owned())),
        }
    }
}

/// Why cookie attributes are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// Bad `Domain`.
    #[error("cookie domain {}: {reason}", Excerpt::start(domain))]
    Domain {
        /// The input.
        domain: String,
        /// What is wrong and the fix.
        reason: &'static str,
    },
    /// Bad `Path`.
    #[error("cookie path {}: {reason}", Excerpt::start(path))]
    Path {
        /// The input.
        path: String,
        /// What is wrong and the fix.
        reason: &'static str,
    },
    /// Not Lax/Strict/None.
    #[error("SameSite {} is not one of Lax, Strict, None", Excerpt::start(.0))]
    SameSite(String),
    /// `SameSite=None` without `Secure`.
    #[error(
        "SameSite=None requires Secure: browsers drop a SameSite=None cookie that is not Secure"
    )]
    NoneWithoutSecure,
}

/// Attributes for the `Set-Cookie` headers. Defaults: host-only, `Path=/`,
/// `Secure`, `HttpOnly`, `SameSite=Lax`, session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CookieAttributes {
    domain: Option<String>,
    path: String,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    max_age: Option<Duration>,
    expires: Option<Timestamp>,
}

impl Default for CookieAttributes {
    fn default() -> Self {
        Self {
            domain: None,
            path: "/".to_owned(),
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            max_age: None,
            expires: None,
        }
    }
}

impl CookieAttributes {
    /// `Domain=`: also sends the cookies to sub-domains. Must be the
    /// distribution's domain or an alternate domain name.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// `Path=`: a literal prefix (no wildcards), e.g. `/videos/`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// `Secure` (default on).
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// `HttpOnly` (default on).
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// `SameSite` (default `Lax`).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// `Max-Age=` (default: none, a session cookie).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// `Expires=` (default: none, a session cookie).
    pub fn expires(mut self, at: Timestamp) -> Self {
        self.expires = Some(at);
        self
    }

    fn validate(&self) -> Result<(), CookieError> {
        if let Some(d) = &self.domain {
            let bad = |reason| CookieError::Domain {
                domain: d.clone(),
                reason,
            };
            let bare = d.strip_prefix('.').unwrap_or(d);
            if bare.is_empty() {
                return Err(bad("is empty"));
            }
            if !bare
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            {
                return Err(bad(
                    "must be a lower-case host name (letters, digits, '-', '.'), without scheme, port or path",
                ));
            }
            if bare == "cloudfront.net" || bare.contains('*') {
                return Err(bad(
                    "browsers refuse cookies for cloudfront.net itself; use your distribution's domain \
                     (d111111abcdef8.cloudfront.net) or an alternate domain name",
                ));
            }
        }
        if !self.path.starts_with('/') {
            return Err(CookieError::Path {
                path: self.path.clone(),
                reason: "must start with '/'",
            });
        }
        if self
            .path
            .bytes()
            .any(|b| b == b';' || b.is_ascii_control() || !b.is_ascii() || b == b' ')
        {
            return Err(CookieError::Path {
                path: self.path.clone(),
                reason: "must not contain ';', spaces, control or non-ASCII characters",
            });
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(CookieError::NoneWithoutSecure);
        }
        Ok(())
    }

    fn suffix(&self) -> String {
        use fmt::Write as _;
        let mut s = String::new();
        if let Some(d) = &self.domain {
            let _ = write!(s, "; Domain={d}");
        }
        let _ = write!(s, "; Path={}", self.path);
        if let Some(m) = self.max_age {
            let _ = write!(s, "; Max-Age={}", m.as_secs());
        }
        if let Some(e) = self.expires {
            let _ = write!(
                s,
                "; Expires={}",
                jiff::fmt::rfc2822::to_string(&e.to_zoned(jiff::tz::TimeZone::UTC))
                    .map(|t| t.replace("+0000", "GMT"))
                    .unwrap_or_default()
            );
        }
        if self.secure {
            s.push_str("; Secure");
        }
        if self.http_only {
            s.push_str("; HttpOnly");
        }
        let _ = write!(s, "; SameSite={}", self.same_site);
        s
    }
}

/// The signed cookie values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCookies {
    form: PolicyForm,
    resource: Option<Resource>,
    expires: EpochSeconds,
    policy: Option<String>,
    signature: String,
    key_pair_id: KeyPairId,
    hash: HashAlgorithm,
}

impl SignedCookies {
    pub(crate) fn from_parts(
        form: PolicyForm,
        resource: Option<Resource>,
        expires: EpochSeconds,
        policy: Option<String>,
        signature: String,
        key_pair_id: KeyPairId,
        hash: HashAlgorithm,
    ) -> Self {
        Self {
            form,
            resource,
            expires,
            policy,
            signature,
            key_pair_id,
            hash,
        }
    }

    /// The cookies as (name, value) pairs, in the order they are set.
    #[must_use]
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::with_capacity(4);
        match &self.policy {
            Some(p) => v.push(("CloudFront-Policy", p.clone())),
            None => v.push(("CloudFront-Expires", self.expires.to_string())),
        }
        v.push(("CloudFront-Signature", self.signature.clone()));
        v.push(("CloudFront-Key-Pair-Id", self.key_pair_id.to_string()));
        if self.hash == HashAlgorithm::Sha256 {
            v.push(("CloudFront-Hash-Algorithm", "SHA256".to_owned()));
        }
        v
    }

    /// One `Set-Cookie` header value per cookie (without the `Set-Cookie: ` name).
    pub fn set_cookie_headers(
        &self,
        attributes: &CookieAttributes,
    ) -> Result<Vec<String>, CookieError> {
        attributes.validate()?;
        let suffix = attributes.suffix();
        Ok(self
            .pairs()
            .into_iter()
            .map(|(n, v)| format!("{n}={v}{suffix}"))
            .collect())
    }

    /// A `Cookie` request header carrying these cookies (for `curl -H` and tests).
    #[must_use]
    pub fn cookie_header(&self) -> String {
        self.pairs()
            .into_iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Canned or custom.
    #[must_use]
    pub fn form(&self) -> PolicyForm {
        self.form
    }

    /// When access ends.
    #[must_use]
    pub fn expires(&self) -> EpochSeconds {
        self.expires
    }

    /// Things that will probably not work as intended: a canned cookie (valid for
    /// exactly one URL), a `Path` with `*` (cookie paths are literal prefixes), a
    /// `Path` the resource does not fall under, an explicit lifetime.
    #[must_use]
    pub fn warnings(&self, attributes: &CookieAttributes) -> Vec<Warning> {
        let mut w = Vec::new();
        if self.form == PolicyForm::Canned {
            w.push(Warning::new(
                "canned-cookie",
                format!(
                    "canned-policy cookies are valid only for the one URL {}: CloudFront rebuilds the policy \
                     from each request URL. For several files, sign a custom policy with a wildcard resource \
                     (e.g. --resource 'https://host/path/*')",
                    Excerpt::start(self.resource.as_ref().map_or("", Resource::as_str))
                ),
            ));
        }
        if attributes.path.contains('*') {
            w.push(Warning::new(
                "cookie-path-wildcard",
                format!(
                    "cookie Path {} contains '*', but cookie paths are literal prefixes (RFC 6265), so browsers \
                     will not send these cookies; use {}",
                    Excerpt::start(&attributes.path),
                    Excerpt::start(attributes.path.split('*').next().unwrap_or("/"))
                ),
            ));
        }
        if let Some(resource) = &self.resource
            && let Some(rpath) = resource_path(resource.as_str())
            && !attributes.path.contains('*')
        {
            let literal: &str = rpath.split(['*', '?']).next().unwrap_or("");
            // The cookie must reach every path the resource grants; if the resource's literal
            // path prefix does not start with the cookie path, the browser will not send it.
            if !literal.starts_with(attributes.path.trim_end_matches('/'))
                && !attributes.path.is_empty()
            {
                w.push(Warning::new(
                    "cookie-path-outside-resource",
                    format!(
                        "cookie Path {} does not cover the resource path {}; browsers will not send the \
                         cookies with those requests",
                        Excerpt::start(&attributes.path),
                        Excerpt::start(rpath)
                    ),
                ));
            }
        }
        if attributes.max_age.is_some() || attributes.expires.is_some() {
            w.push(Warning::new(
                "persistent-cookie",
                "the cookies persist across browser sessions (Max-Age/Expires set); AWS recommends session \
                 cookies to limit misuse"
                    .to_owned(),
            ));
        }
        w
    }
}

/// The path part of a URL-shaped resource.
fn resource_path(resource: &str) -> Option<&str> {
    let rest = resource.split_once("://")?.1;
    let start = rest.find('/')?;
    Some(&rest[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyType, Policy, PrivateKey, Signer};

    fn signer(hash: HashAlgorithm) -> Signer {
        Signer::new(
            KeyPairId::new("K2JCJMDEHXQW5F").unwrap(),
            PrivateKey::generate(KeyType::EcdsaP256).unwrap(),
        )
        .with_hash_algorithm(hash)
        .unwrap()
    }

    fn policy(resource: &str) -> Policy {
        Policy::builder(Resource::parse(resource).unwrap())
            .expires_in(Duration::from_secs(600))
            .build()
            .unwrap()
    }

    #[test]
    fn canned_and_custom_names() {
        let c = signer(HashAlgorithm::Sha1)
            .sign_cookies(&policy("https://x.net/a.jpg"))
            .unwrap();
        let names: Vec<_> = c.pairs().into_iter().map(|p| p.0).collect();
        assert_eq!(
            names,
            [
                "CloudFront-Expires",
                "CloudFront-Signature",
                "CloudFront-Key-Pair-Id"
            ]
        );
        let w = c.warnings(&CookieAttributes::default());
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].code, "canned-cookie");

        let c = signer(HashAlgorithm::Sha256)
            .sign_cookies(&policy("https://x.net/v/*"))
            .unwrap();
        let names: Vec<_> = c.pairs().into_iter().map(|p| p.0).collect();
        assert_eq!(
            names,
            [
                "CloudFront-Policy",
                "CloudFront-Signature",
                "CloudFront-Key-Pair-Id",
                "CloudFront-Hash-Algorithm"
            ]
        );
        assert!(
            c.cookie_header()
                .contains("; CloudFront-Hash-Algorithm=SHA256")
        );
    }

    #[test]
    fn attributes() {
        let c = signer(HashAlgorithm::Sha1)
            .sign_cookies(&policy("https://x.net/v/*"))
            .unwrap();
        let h = c.set_cookie_headers(&CookieAttributes::default()).unwrap();
        assert!(
            h.iter()
                .all(|h| h.ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax")),
            "{h:?}"
        );
        let attrs = CookieAttributes::default()
            .domain("x.net")
            .path("/v/")
            .same_site(SameSite::None)
            .max_age(Duration::from_secs(3600))
            .expires(Timestamp::from_second(1_767_290_400).unwrap());
        let h = c.set_cookie_headers(&attrs).unwrap();
        assert!(
            h[0].ends_with("; Domain=x.net; Path=/v/; Max-Age=3600; Expires=Thu, 1 Jan 2026 18:00:00 GMT; Secure; HttpOnly; SameSite=None"),
            "{}",
            h[0]
        );
        assert!(
            c.warnings(&attrs)
                .iter()
                .any(|w| w.code == "persistent-cookie")
        );
    }

    #[test]
    fn attribute_errors_and_warnings() {
        let c = signer(HashAlgorithm::Sha1)
            .sign_cookies(&policy("https://x.net/images/*"))
            .unwrap();
        for (attrs, needle) in [
            (
                CookieAttributes::default().domain("*.cloudfront.net"),
                "cloudfront.net",
            ),
            (
                CookieAttributes::default().domain("https://x.net"),
                "host name",
            ),
            (CookieAttributes::default().path("images"), "start with '/'"),
            (CookieAttributes::default().path("/a;b"), "';'"),
            (
                CookieAttributes::default()
                    .same_site(SameSite::None)
                    .secure(false),
                "requires Secure",
            ),
        ] {
            let e = c.set_cookie_headers(&attrs).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
        let w = c.warnings(&CookieAttributes::default().path("/images/*"));
        assert!(
            w.iter()
                .any(|w| w.code == "cookie-path-wildcard" && w.message.contains("\"/images/\"")),
            "{w:?}"
        );
        let w = c.warnings(&CookieAttributes::default().path("/videos/"));
        assert!(
            w.iter().any(|w| w.code == "cookie-path-outside-resource"),
            "{w:?}"
        );
        assert!(
            c.warnings(&CookieAttributes::default().path("/images/"))
                .is_empty()
        );
        assert!(
            c.warnings(&CookieAttributes::default().path("/images"))
                .is_empty()
        );
    }
}
