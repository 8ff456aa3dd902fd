//! Signed video streaming: an HLS playlist or a DASH MPD rewritten so that every
//! URI it references, and that the signed resource covers, carries CloudFront's
//! signing parameters. A player given one signed manifest URL then gets every
//! child playlist, key, init segment and segment through too.
//!
//! Two ways to sign ([`Signing`]):
//! - [`Signing::Stamp`] (the default of the front ends): one custom policy whose
//!   wildcard resource covers the stream, signed once; its parameters are stamped
//!   on every covered URI. It works for HLS and DASH, including DASH
//!   `SegmentTemplate`s whose `$Number$`/`$Time$` URLs exist only in the player.
//! - [`Signing::Urls`]: each covered URI signed on its own with a canned policy
//!   (HLS, and DASH without templates).
//!
//! [`sign`] is what the front ends call (the CLI, Python, Node): the resource
//! from the options or the manifest's folder, a [`Mode`], and the signer.
//! [`url_query`] is DASH's own alternative (ISO/IEC 23009-1 Annex I): nothing
//! signed, the player appends the signed MPD URL's query to its requests.
//!
//! Relative URIs stay relative; they are resolved against the manifest's URL
//! (RFC 3986 §5.2) only to decide coverage and, for [`Signing::Urls`], what is
//! signed. A URI outside the resource, with another scheme (`skd://`, `data:`),
//! that does not satisfy the encoding contract, that already carries signing
//! parameters, or that uses an HLS `{$variable}`, is left as it is and listed in
//! the [`Report`]. Every other byte (tags, comments, blank lines, CRLF line
//! endings, XML layout and escaping) is kept exactly; a URI with a query gets
//! `&`, and in XML the `&` is written `&amp;`.
//!
//! ```
//! use std::time::Duration;
//! use cfsign::{KeyPairId, Policy, PrivateKey, Resource, SignableUrl, Signer};
//! use cfsign::manifest::{self, Signing};
//! # let key = PrivateKey::generate(cfsign::KeyType::EcdsaP256)?;
//! # let signer = Signer::new(KeyPairId::new("K2JCJMDEHXQW5F")?, key);
//!
//! let manifest_url = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/movies/1/index.m3u8")?;
//! let resource = manifest::stream_resource(&manifest_url)?; // https://…/movies/1/*
//! let policy = Policy::builder(resource).expires_in(Duration::from_secs(3600)).build()?;
//! let signed = signer.sign_policy(&policy)?;
//!
//! let playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nseg0.ts\n#EXTINF:6,\nhttps://ads.example/ad.ts\n";
//! let out = manifest::rewrite(playlist, &manifest_url, &Signing::stamp(&signed)?)?;
//! let text = std::str::from_utf8(&out.text).unwrap();
//! assert!(text.contains(&format!("\nseg0.ts?{}\n", signed.query_parameters())));
//! assert!(text.contains("\nhttps://ads.example/ad.ts\n")); // another host: left alone
//! assert_eq!(out.report.signed, 1);
//! assert_eq!(out.report.left_alone.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod dash;
mod hls;
mod resolve;

pub use dash::URL_QUERY_DESCRIPTOR;

use std::borrow::Cow;
use std::fmt;

use jiff::Timestamp;

use crate::Policy;
use crate::input::Limit;
use crate::options::{OptionsError, SigningOptions};
use crate::policy::{PolicyError, PolicyForm};
use crate::resource::{Resource, ResourceError};
use crate::signer::{SignError, SignedPolicy, Signer};
use crate::url::{SignableUrl, UrlError};

/// The largest manifest accepted, in bytes: far above any real playlist or MPD
/// (a 10,000-segment HLS playlist is about 300 KB).
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024 * 1024;

/// The bound for reading a manifest from a file or a stream.
pub const MANIFEST_FILE: Limit = Limit::new(
    "the manifest",
    MAX_MANIFEST_BYTES,
    "HLS playlists and DASH MPDs are text of a few KiB to a few MiB; give the manifest, not media",
);

/// The longest HLS line accepted, in bytes.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The deepest XML element nesting accepted in an MPD (real MPDs nest about 6 deep).
pub const MAX_XML_DEPTH: usize = 64;

/// The two manifest formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManifestFormat {
    /// An HLS playlist (RFC 8216), master or media.
    Hls,
    /// A DASH Media Presentation Description (ISO/IEC 23009-1).
    Dash,
}

impl ManifestFormat {
    /// Tells the format from the content: `#EXTM3U` first for HLS, an `<MPD`
    /// root element for DASH (after an optional UTF-8 byte-order mark, blank
    /// space, an XML declaration and comments). `None` for anything else.
    ///
    /// ```
    /// use cfsign::manifest::ManifestFormat;
    /// assert_eq!(ManifestFormat::detect(b"#EXTM3U\n"), Some(ManifestFormat::Hls));
    /// assert_eq!(ManifestFormat::detect(b"<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\">"), Some(ManifestFormat::Dash));
    /// assert_eq!(ManifestFormat::detect(b"<html>"), None);
    /// ```
    #[must_use]
    pub fn detect(content: &[u8]) -> Option<Self> {
        let content = content.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(content);
        if content.starts_with(b"#EXTM3U") {
            return Some(Self::Hls);
        }
        let mut rest = content.trim_ascii_start();
        // Skip the XML declaration, processing instructions and comments.
        loop {
            if rest.starts_with(b"<?") {
                let end = rest.windows(2).position(|w| w == b"?>")?;
                rest = rest[end + 2..].trim_ascii_start();
            } else if rest.starts_with(b"<!--") {
                let end = rest.windows(3).position(|w| w == b"-->")?;
                rest = rest[end + 3..].trim_ascii_start();
            } else if let Some(doctype) = rest.strip_prefix(b"<!DOCTYPE") {
                // Named for the rewrite to refuse it with its line.
                return (doctype.trim_ascii_start().starts_with(b"MPD")).then_some(Self::Dash);
            } else {
                break;
            }
        }
        let name = rest.strip_prefix(b"<")?;
        let name_end = name
            .iter()
            .position(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))
            .unwrap_or(name.len());
        let local = name[..name_end].rsplit(|&b| b == b':').next()?;
        (local == b"MPD").then_some(Self::Dash)
    }

    /// `HLS` or `DASH`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hls => "HLS",
            Self::Dash => "DASH",
        }
    }
}

impl fmt::Display for ManifestFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How covered URIs are signed.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Signing<'a> {
    /// The same parameters (`Policy=…&Signature=…&Key-Pair-Id=…`, from one
    /// custom policy) appended to every URI the resource covers. Build it with
    /// [`Signing::stamp`] from a [`SignedPolicy`], or directly from parameters
    /// that were verified elsewhere (an edge passing a viewer's own credentials
    /// down the tree).
    Stamp {
        /// The query parameters to append, without a leading `?` or `&`.
        parameters: &'a str,
        /// What the parameters grant: only URIs it covers are stamped.
        covers: &'a Resource,
    },
    /// Every URI the resource covers signed on its own, with a canned policy
    /// that expires at `expires`. DASH templates cannot be signed this way.
    Urls {
        /// The signer.
        signer: &'a Signer,
        /// When every canned policy expires.
        expires: Timestamp,
        /// Which URIs are signed.
        covers: &'a Resource,
    },
}

impl<'a> Signing<'a> {
    /// Stamps the parameters of a signed custom policy; its resource decides
    /// coverage. A canned policy covers one exact URL and cannot be stamped on
    /// others.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cfsign::{KeyPairId, Policy, PrivateKey, Resource, Signer};
    /// use cfsign::manifest::Signing;
    /// # let signer = Signer::new(KeyPairId::new("K2JCJMDEHXQW5F")?, PrivateKey::generate(cfsign::KeyType::EcdsaP256)?);
    /// let policy = Policy::builder(Resource::parse("https://cdn.example.com/v/*")?)
    ///     .expires_in(Duration::from_secs(600))
    ///     .build()?;
    /// let signed = signer.sign_policy(&policy)?;
    /// assert!(Signing::stamp(&signed).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stamp(signed: &'a SignedPolicy) -> Result<Self, ManifestError> {
        match (signed.form(), signed.resource()) {
            (PolicyForm::Custom, Some(resource)) => Ok(Self::Stamp {
                parameters: signed.query_parameters(),
                covers: resource,
            }),
            (PolicyForm::Canned, _) => Err(ManifestError::CannedPolicy),
            (PolicyForm::Custom, None) => Err(ManifestError::NoResource),
        }
    }

    /// The resource that decides which URIs are signed.
    #[must_use]
    pub fn covers(&self) -> &Resource {
        match self {
            Self::Stamp { covers, .. } | Self::Urls { covers, .. } => covers,
        }
    }
}

/// The default resource for a stream: the manifest's folder and everything
/// below it (`https://host/path/to/*`), with any query.
///
/// ```
/// use cfsign::SignableUrl;
/// let url = SignableUrl::parse("https://cdn.example.com/movies/42/master.m3u8?lang=en")?;
/// let resource = cfsign::manifest::stream_resource(&url)?;
/// assert_eq!(resource.as_str(), "https://cdn.example.com/movies/42/*");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn stream_resource(manifest_url: &SignableUrl) -> Result<Resource, ResourceError> {
    let path = manifest_url.path();
    let folder = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    Resource::pattern(&format!(
        "{}://{}{folder}*",
        manifest_url.scheme(),
        manifest_url.host()
    ))
}

/// How [`sign`] signs a manifest's URIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One custom policy for the resource, signed once and stamped on every URI
    /// it covers ([`Signing::Stamp`]).
    Policy,
    /// Every covered URI signed on its own with a canned policy ([`Signing::Urls`]).
    Urls,
}

/// A manifest signed by [`sign`].
#[derive(Debug, Clone)]
pub struct SignedManifest {
    /// The rewritten manifest and its report.
    pub rewritten: Rewritten,
    /// The policy signed ([`Mode::Policy`]), or the one whose expiry every
    /// canned policy has ([`Mode::Urls`]).
    pub policy: Policy,
    /// The resource that decided which URIs were signed.
    pub covers: Resource,
}

/// Signs a manifest the way the front ends do: the resource is the one in
/// `options`, else the manifest's folder and below ([`stream_resource`]); in
/// [`Mode::Policy`] the options' policy for it is signed once and stamped, in
/// [`Mode::Urls`] each covered URI gets a canned policy with the options'
/// expiry (which then may not carry a start time, an IP range or a whole policy).
///
/// ```
/// use std::time::Duration;
/// use cfsign::{KeyPairId, PrivateKey, SignableUrl, Signer};
/// use cfsign::manifest::{self, Mode};
/// use cfsign::options::{PolicyInputs, SigningOptions};
/// # let signer = Signer::new(KeyPairId::new("K2JCJMDEHXQW5F")?, PrivateKey::generate(cfsign::KeyType::EcdsaP256)?);
///
/// let options = SigningOptions::new(jiff::Timestamp::now())
///     .with(PolicyInputs { expires_in: Some(Duration::from_secs(3600)), ..PolicyInputs::default() })?;
/// let url = SignableUrl::parse("https://cdn.example.com/v/1/index.m3u8")?;
/// let signed = manifest::sign(b"#EXTM3U\nseg0.ts\n", &url, &signer, &options, Mode::Policy)?;
/// assert_eq!(signed.covers.as_str(), "https://cdn.example.com/v/1/*");
/// assert_eq!(signed.rewritten.report.signed, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sign(
    manifest: &[u8],
    manifest_url: &SignableUrl,
    signer: &Signer,
    options: &SigningOptions,
    mode: Mode,
) -> Result<SignedManifest, ManifestError> {
    let covers = match (
        options.policy().and_then(Policy::resource),
        options.resource(),
    ) {
        (Some(r), _) | (None, Some(r)) => r.clone(),
        (None, None) => stream_resource(manifest_url)?,
    };
    match mode {
        Mode::Policy => {
            let policy = options.policy_for_resource(covers.clone())?;
            let signed = signer
                .sign_policy(&policy)
                .map_err(ManifestError::SignPolicy)?;
            let rewritten = rewrite(manifest, manifest_url, &Signing::stamp(&signed)?)?;
            Ok(SignedManifest {
                rewritten,
                policy,
                covers,
            })
        }
        Mode::Urls => {
            if options.policy().is_some()
                || options.not_before().is_some()
                || options.source_ip().is_some()
            {
                return Err(ManifestError::CannedConditions);
            }
            let policy = options.policy_for_resource(covers.clone())?;
            let signing = Signing::Urls {
                signer,
                expires: policy.date_less_than().to_timestamp(),
                covers: &covers,
            };
            let rewritten = rewrite(manifest, manifest_url, &signing)?;
            Ok(SignedManifest {
                rewritten,
                policy,
                covers,
            })
        }
    }
}

/// A DASH MPD prepared for [`url_query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlQueryMpd {
    /// The MPD with the descriptor in each `AdaptationSet`.
    pub text: Vec<u8>,
    /// How many `AdaptationSet`s were given the descriptor (those that had a
    /// `urn:mpeg:dash:urlparam` descriptor already keep theirs).
    pub adaptation_sets: usize,
}

/// DASH's own way, Annex I of ISO/IEC 23009-1: every `AdaptationSet` gets an
/// `EssentialProperty` with `UrlQueryInfo useMPDUrlQuery="true"`
/// ([`URL_QUERY_DESCRIPTOR`]), so the player appends
/// the MPD URL's query to its segment requests. Nothing is signed here: the MPD
/// stays the same for every viewer (it can be stored in S3 as it is), and one
/// signed MPD URL whose custom policy covers the stream's folder then signs the
/// segments too. dash.js 5.0 and later and Shaka Player 4.11 and later do this;
/// Media3/ExoPlayer (1.11) does not and requests the segments without the
/// parameters, so offer it only where the players are known (see
/// `docs/streaming.md`). Every other byte is kept.
///
/// ```
/// let mpd = br#"<MPD><Period><AdaptationSet mimeType="video/mp4"><SegmentTemplate media="$Number$.m4s"/></AdaptationSet></Period></MPD>"#;
/// let out = cfsign::manifest::url_query(mpd)?;
/// assert_eq!(out.adaptation_sets, 1);
/// let text = String::from_utf8(out.text).unwrap();
/// assert!(text.contains(r#"<AdaptationSet mimeType="video/mp4"><EssentialProperty schemeIdUri="urn:mpeg:dash:urlparam:2014""#));
/// # Ok::<(), cfsign::manifest::ManifestError>(())
/// ```
pub fn url_query(mpd: &[u8]) -> Result<UrlQueryMpd, ManifestError> {
    match ManifestFormat::detect(mpd) {
        Some(ManifestFormat::Dash) => {}
        Some(ManifestFormat::Hls) => return Err(ManifestError::NotDash),
        None => return Err(ManifestError::UnknownFormat),
    }
    if mpd.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge {
            size: mpd.len(),
            max: MAX_MANIFEST_BYTES,
        });
    }
    let text = std::str::from_utf8(mpd).map_err(|e| {
        let (line, column) = line_and_column(mpd, e.valid_up_to());
        ManifestError::NotUtf8 { line, column }
    })?;
    let (text, adaptation_sets) = dash::url_query(text)?;
    Ok(UrlQueryMpd {
        text: text.into_bytes(),
        adaptation_sets,
    })
}

/// A rewritten manifest and what was done to it.
#[derive(Debug, Clone)]
pub struct Rewritten {
    /// The manifest with the covered URIs signed: the input's bytes otherwise.
    pub text: Vec<u8>,
    /// What was signed and what was left alone.
    pub report: Report,
}

/// What a rewrite signed and left alone. It holds no signing parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The manifest's format.
    pub format: ManifestFormat,
    /// How many URIs were signed.
    pub signed: usize,
    /// How many URIs were signed, per place (`URI line`, `EXT-X-KEY URI`,
    /// `SegmentTemplate@media`, …), in the order the places first appeared.
    pub signed_by_place: Vec<(&'static str, usize)>,
    /// Every URI left as it was, in document order.
    pub left_alone: Vec<LeftAloneUri>,
}

impl Report {
    fn new(format: ManifestFormat) -> Self {
        Self {
            format,
            signed: 0,
            signed_by_place: Vec::new(),
            left_alone: Vec::new(),
        }
    }

    fn count_signed(&mut self, place: &'static str) {
        self.signed += 1;
        match self.signed_by_place.iter_mut().find(|(p, _)| *p == place) {
            Some((_, n)) => *n += 1,
            None => self.signed_by_place.push((place, 1)),
        }
    }
}

/// One URI a rewrite did not sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftAloneUri {
    /// 1-based line of the manifest.
    pub line: usize,
    /// Where it was: `URI line`, `EXT-X-KEY URI`, `BaseURL`, `SegmentURL@media`, …
    pub place: &'static str,
    /// The URI as written (for [`LeftAlone::AlreadySigned`], without its query).
    pub uri: String,
    /// Why it was not signed.
    pub reason: LeftAlone,
}

/// Why a URI was left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeftAlone {
    /// Not an `http` or `https` URL (a FairPlay `skd://` key, `data:`, …).
    #[error("its scheme `{scheme}` is not http or https")]
    Scheme {
        /// The scheme.
        scheme: String,
    },
    /// Resolved, it is outside the signed resource.
    #[error("{url} is outside the signed resource")]
    NotCovered {
        /// The absolute URL it resolves to.
        url: String,
    },
    /// It uses an HLS variable (`{$name}`, EXT-X-DEFINE): what it names is only
    /// known to the player.
    #[error("it uses an EXT-X-DEFINE variable, so what it names is only known to the player")]
    Variable,
    /// It already carries CloudFront signing parameters.
    #[error("it already carries CloudFront signing parameters")]
    AlreadySigned,
    /// Resolved, it is not a URL in its on-the-wire form (see [`SignableUrl`]):
    /// the player would request other bytes than the ones the coverage check saw.
    #[error("it is not a valid URL as players send it: {0}")]
    Invalid(UrlError),
    /// Empty, or only a fragment.
    #[error("it names the manifest itself")]
    Empty,
    /// A DASH `BaseURL` or `Location` whose text holds markup (a comment, CDATA).
    #[error("its text holds XML markup (a comment or CDATA)")]
    Markup,
}

/// Why a manifest cannot be rewritten. Nothing is written for a failed rewrite.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The content is neither an HLS playlist nor a DASH MPD (named on line 1,
    /// where either starts).
    #[error(
        "line 1: the manifest is neither an HLS playlist (first line `#EXTM3U`) nor a DASH MPD (an `<MPD>` root element)"
    )]
    UnknownFormat,
    /// Larger than [`MAX_MANIFEST_BYTES`].
    #[error("the manifest is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not UTF-8 text.
    #[error("line {line}: the manifest is not UTF-8 text (invalid byte at column {column})")]
    NotUtf8 {
        /// 1-based line.
        line: usize,
        /// 1-based byte column.
        column: usize,
    },
    /// A control character other than tab, or a carriage return not before a
    /// line feed: binary data, not a playlist.
    #[error(
        "line {line}: the byte 0x{byte:02X} at column {column} is binary data, not playlist text"
    )]
    Binary {
        /// 1-based line.
        line: usize,
        /// 1-based byte column.
        column: usize,
        /// The byte.
        byte: u8,
    },
    /// An HLS playlist whose first line is not `#EXTM3U`.
    #[error("line 1: an HLS playlist must start with the line `#EXTM3U`")]
    MissingExtm3u,
    /// An HLS line longer than [`MAX_LINE_BYTES`].
    #[error("line {line}: {length} bytes long, over the {max}-byte line limit")]
    LineTooLong {
        /// 1-based line.
        line: usize,
        /// Its length.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// An HLS attribute list with a quoted string that does not end on its line.
    #[error(
        "line {line}: the quoted value of attribute {attribute} in {tag} is not closed with `\"`"
    )]
    UnterminatedQuote {
        /// 1-based line.
        line: usize,
        /// The tag, e.g. `EXT-X-KEY`.
        tag: String,
        /// The attribute name.
        attribute: String,
    },
    /// The MPD is not well-formed XML.
    #[error("line {line}: the MPD is not well-formed XML: {cause}")]
    Xml {
        /// 1-based line.
        line: usize,
        /// The XML parser's error (in the message, so not also a `source`).
        cause: quick_xml::Error,
    },
    /// An attribute of the MPD cannot be read.
    #[error("line {line}: an attribute of the MPD cannot be read: {cause}")]
    XmlAttribute {
        /// 1-based line.
        line: usize,
        /// The XML parser's error (in the message).
        cause: quick_xml::events::attributes::AttrError,
    },
    /// A `<!DOCTYPE>` in an MPD: document type definitions are where entity
    /// expansion attacks live, and MPDs have none.
    #[error(
        "line {line}: the MPD has a <!DOCTYPE>; MPDs have none, and its entities are not expanded"
    )]
    Doctype {
        /// 1-based line.
        line: usize,
    },
    /// An entity reference other than XML's five and character references.
    #[error("line {line}: the MPD uses the entity `&{name};`, which XML does not define")]
    UnknownEntity {
        /// 1-based line.
        line: usize,
        /// The entity name.
        name: String,
    },
    /// Elements nested deeper than [`MAX_XML_DEPTH`].
    #[error("line {line}: elements are nested more than {max} deep")]
    TooDeep {
        /// 1-based line.
        line: usize,
        /// The limit.
        max: usize,
    },
    /// [`Signing::Urls`] met a DASH template (`$Number$`, `$Time$`, …), whose
    /// URLs exist only in the player.
    #[error(
        "line {line}: {place} is the template {template:?}: the URLs it stands for exist only in the player and cannot be signed one by one; sign with one policy stamped on every URI instead"
    )]
    Template {
        /// 1-based line.
        line: usize,
        /// The place, e.g. `SegmentTemplate@media`.
        place: &'static str,
        /// The template.
        template: String,
    },
    /// [`url_query`] was given an HLS playlist.
    #[error("line 1: this is an HLS playlist; UrlQueryInfo is DASH's (an MPD)")]
    NotDash,
    /// [`Signing::stamp`] was given a canned policy.
    #[error(
        "a canned policy covers one exact URL, so it cannot be stamped on a manifest's URIs; sign a custom policy whose resource covers the stream (for example the manifest's folder and below)"
    )]
    CannedPolicy,
    /// [`Mode::Urls`] with a start time, an IP range or a whole policy, which a
    /// canned policy cannot hold.
    #[error(
        "each URI is signed with a canned policy, which holds only an expiry: a start time, an IP range or a whole policy needs one policy stamped on every URI instead"
    )]
    CannedConditions,
    /// The policy options do not give a policy.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// The manifest URL's folder is not a valid resource.
    #[error(transparent)]
    Resource(#[from] ResourceError),
    /// Signing the policy failed.
    #[error(transparent)]
    SignPolicy(SignError),
    /// [`Signing::stamp`] was given a custom policy without a resource.
    #[error("the custom policy has no resource, so it covers no URI")]
    NoResource,
    /// The canned policy for a URI cannot be built (an expiry in the past).
    #[error("line {line}: {cause}")]
    Policy {
        /// 1-based line.
        line: usize,
        /// Why (in the message).
        cause: PolicyError,
    },
    /// Signing a URI failed.
    #[error("line {line}: signing {url} failed: {cause}")]
    Sign {
        /// 1-based line.
        line: usize,
        /// The URL that was signed.
        url: String,
        /// Why (in the message).
        cause: SignError,
    },
}

/// Rewrites `manifest` (HLS or DASH, told apart by [`ManifestFormat::detect`])
/// fetched from `manifest_url` so that every URI that `signing` covers is
/// signed. See the [module docs](self).
pub fn rewrite(
    manifest: &[u8],
    manifest_url: &SignableUrl,
    signing: &Signing<'_>,
) -> Result<Rewritten, ManifestError> {
    let format = ManifestFormat::detect(manifest).ok_or(ManifestError::UnknownFormat)?;
    rewrite_as(format, manifest, manifest_url, signing)
}

/// [`rewrite`] for a known format.
pub fn rewrite_as(
    format: ManifestFormat,
    manifest: &[u8],
    manifest_url: &SignableUrl,
    signing: &Signing<'_>,
) -> Result<Rewritten, ManifestError> {
    if manifest.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge {
            size: manifest.len(),
            max: MAX_MANIFEST_BYTES,
        });
    }
    let text = std::str::from_utf8(manifest).map_err(|e| {
        let (line, column) = line_and_column(manifest, e.valid_up_to());
        ManifestError::NotUtf8 { line, column }
    })?;
    let stamper = Stamper::new(manifest_url, signing);
    match format {
        ManifestFormat::Hls => hls::rewrite(text, stamper),
        ManifestFormat::Dash => dash::rewrite(text, stamper),
    }
}

/// 1-based line and column of byte `offset`.
fn line_and_column(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    (line, column)
}

/// What to do with one URI.
enum Decision<'s> {
    /// Insert `separator` and `parameters` at byte `at` of the URI (before any fragment).
    Sign {
        at: usize,
        separator: char,
        parameters: Cow<'s, str>,
    },
    Leave(LeftAlone),
}

/// What a resource `prefix*` says of the URLs `folder` + name, decided once.
#[derive(Debug, Clone, Copy)]
enum FolderCoverage {
    /// The folder starts with the prefix: every name is covered.
    All,
    /// The folder and the prefix differ: no name is covered.
    None,
    /// The prefix goes on past the folder: a name is covered when it starts
    /// with the prefix's text from this byte on.
    NameStartsWith(usize),
    /// Not a literal-prefix resource: each URL is matched whole.
    Unknown,
}

/// The per-URI decision both formats share.
struct Stamper<'a> {
    base: &'a SignableUrl,
    /// The length of the manifest URL's folder (`https://host/path/`).
    base_folder_end: usize,
    /// What a literal-prefix resource says of names in that folder.
    folder_coverage: FolderCoverage,
    signing: &'a Signing<'a>,
    absolute: String,
}

impl<'a> Stamper<'a> {
    fn new(base: &'a SignableUrl, signing: &'a Signing<'a>) -> Self {
        let base_folder_end =
            base.as_str().len() - base.path().len() + base.path().rfind('/').map_or(0, |i| i + 1);
        let folder = &base.as_str()[..base_folder_end];
        let folder_coverage = match signing.covers().literal_prefix() {
            None => FolderCoverage::Unknown,
            Some(prefix) if prefix.len() > folder.len() => match prefix.strip_prefix(folder) {
                Some(_) => FolderCoverage::NameStartsWith(folder.len()),
                None => FolderCoverage::None,
            },
            Some(prefix) if folder.starts_with(prefix) => FolderCoverage::All,
            Some(_) => FolderCoverage::None,
        };
        Self {
            base,
            base_folder_end,
            folder_coverage,
            signing,
            absolute: String::with_capacity(256),
        }
    }

    /// Whether the resource covers `folder` followed by `uri`, without joining
    /// them when the resource is a literal prefix followed by `*`.
    fn covers_in_folder(&mut self, folder: &str, uri: &str) -> bool {
        match self.folder_coverage {
            FolderCoverage::All => return true,
            FolderCoverage::None => return false,
            FolderCoverage::NameStartsWith(start) => {
                let covers = self.signing.covers();
                if let Some(prefix) = covers.literal_prefix() {
                    return uri.starts_with(&prefix[start..]);
                }
            }
            FolderCoverage::Unknown => {}
        }
        let covers = self.signing.covers();
        self.absolute.clear();
        self.absolute.push_str(folder);
        self.absolute.push_str(uri);
        covers.matches_str(&self.absolute)
    }

    /// A capacity for the output: the input, and the parameters after about one
    /// line in two (an HLS media playlist: a tag, then a URI).
    fn output_estimate(&self, length: usize, lines: usize) -> usize {
        match self.signing {
            Signing::Stamp { parameters, .. } => length + (lines / 2 + 1) * (parameters.len() + 1),
            Signing::Urls { .. } => length * 2,
        }
    }

    /// Decides for `uri` (as written, unescaped), found at `line` in `place`,
    /// relative to `base` (the manifest's URL when `None`). `template`: a DASH
    /// template with identifiers.
    fn decide(
        &mut self,
        base: Option<&str>,
        uri: &str,
        line: usize,
        place: &'static str,
        template: bool,
    ) -> Result<Decision<'_>, ManifestError> {
        if base.is_none() && is_plain_relative(uri) {
            // The common case (`seg00042.ts`, `720p/index.m3u8`): the manifest's
            // folder and the name make a valid URL without checking (the folder
            // is one, and the name adds only unreserved characters and `/`).
            let folder = &self.base.as_str()[..self.base_folder_end];
            if folder.len() + uri.len() <= crate::url::MAX_URL_LENGTH {
                if !self.covers_in_folder(folder, uri) {
                    return Ok(Decision::Leave(LeftAlone::NotCovered {
                        url: format!("{folder}{uri}"),
                    }));
                }
                if let Signing::Stamp { parameters, .. } = self.signing {
                    return Ok(Decision::Sign {
                        at: uri.len(),
                        separator: '?',
                        parameters: Cow::Borrowed(*parameters),
                    });
                }
            }
        }
        let at = uri.find('#').unwrap_or(uri.len());
        let reference = &uri[..at];
        if reference.is_empty() {
            return Ok(Decision::Leave(LeftAlone::Empty));
        }
        if let Some(scheme) = resolve::scheme_of(reference)
            && !scheme.eq_ignore_ascii_case("http")
            && !scheme.eq_ignore_ascii_case("https")
        {
            return Ok(Decision::Leave(LeftAlone::Scheme {
                scheme: scheme.to_owned(),
            }));
        }
        if reference.contains("{$") {
            return Ok(Decision::Leave(LeftAlone::Variable));
        }
        resolve::resolve_into(
            base.unwrap_or(self.base.as_str()),
            reference,
            &mut self.absolute,
        );
        // The coverage check sees what the player requests. A DASH template is
        // checked with its identifiers in place (a `*` in the resource matches them).
        let url = match SignableUrl::parse(&self.absolute) {
            Ok(url) => url,
            Err(UrlError::ReservedParameter { .. }) => {
                return Ok(Decision::Leave(LeftAlone::AlreadySigned));
            }
            Err(e) => return Ok(Decision::Leave(LeftAlone::Invalid(e))),
        };
        if !self.signing.covers().matches(&url) {
            return Ok(Decision::Leave(LeftAlone::NotCovered {
                url: url.as_str().to_owned(),
            }));
        }
        let separator = if reference.contains('?') { '&' } else { '?' };
        let parameters = match self.signing {
            Signing::Stamp { parameters, .. } => Cow::Borrowed(*parameters),
            Signing::Urls { .. } if template => {
                return Err(ManifestError::Template {
                    line,
                    place,
                    template: uri.to_owned(),
                });
            }
            Signing::Urls {
                signer, expires, ..
            } => {
                let policy = Policy::builder(Resource::from(url.clone()))
                    .expires_at(*expires)
                    .build()
                    .map_err(|cause| ManifestError::Policy { line, cause })?;
                let signed =
                    signer
                        .sign_url(&url, &policy)
                        .map_err(|cause| ManifestError::Sign {
                            line,
                            url: url.as_str().to_owned(),
                            cause,
                        })?;
                Cow::Owned(signed.as_str()[url.as_str().len() + 1..].to_owned())
            }
        };
        Ok(Decision::Sign {
            at,
            separator,
            parameters,
        })
    }
}

/// A relative path of unreserved characters and `/` without dot segments,
/// not starting with `/`: resolved by appending it to the manifest's folder.
fn is_plain_relative(uri: &str) -> bool {
    let bytes = uri.as_bytes();
    if bytes.first().is_none_or(|&b| b == b'/') {
        return false;
    }
    // One pass: the characters, and whether a segment is only dots (`.`, `..`).
    let mut segment_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'/' => {
                if is_dot_segment(&bytes[segment_start..i]) {
                    return false;
                }
                segment_start = i + 1;
            }
            b'-' | b'.' | b'_' | b'~' => {}
            _ if b.is_ascii_alphanumeric() => {}
            _ => return false,
        }
    }
    !is_dot_segment(&bytes[segment_start..])
}

fn is_dot_segment(segment: &[u8]) -> bool {
    matches!(segment, b"." | b"..")
}

/// A URI for the report: an already signed one without its query.
fn reported_uri(uri: &str, reason: &LeftAlone) -> String {
    match reason {
        LeftAlone::AlreadySigned => uri.split('?').next().unwrap_or(uri).to_owned(),
        _ => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{ManifestError, Signing, rewrite};
    use crate::{Resource, SignableUrl};

    #[test]
    fn an_unknown_format_is_refused_on_line_1() {
        let url = SignableUrl::parse("https://cdn.example.com/v/1/index.m3u8").unwrap();
        let covers = Resource::parse("https://cdn.example.com/v/1/*").unwrap();
        let signing = Signing::Stamp {
            parameters: "Policy=cG9saWN5&Signature=c2ln&Key-Pair-Id=K2JCJMDEHXQW5F",
            covers: &covers,
        };
        for input in [
            &b"#EXTINF:1,\nseg.ts\n"[..],
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
            b"<html></html>",
        ] {
            let err = rewrite(input, &url, &signing).unwrap_err();
            assert!(matches!(err, ManifestError::UnknownFormat), "{err:?}");
            assert!(
                err.to_string()
                    .starts_with("line 1: the manifest is neither an HLS playlist"),
                "{err}"
            );
        }
    }
}

/// What the HLS and DASH tests share: parameters to stamp, and a rewrite that
/// stamps them for the folder `https://cdn.example.com/v/1/*`.
#[cfg(test)]
mod test_support {
    use super::{ManifestError, Rewritten, Signing, rewrite};
    use crate::{Resource, SignableUrl};

    pub(super) const PARAMS: &str = "Policy=cG9saWN5&Signature=c2ln&Key-Pair-Id=K2JCJMDEHXQW5F";

    /// `manifest` fetched from `https://cdn.example.com/v/1/{name}`, stamped.
    pub(super) fn stamp(manifest: &str, name: &str) -> Result<Rewritten, ManifestError> {
        let url = SignableUrl::parse(&format!("https://cdn.example.com/v/1/{name}")).unwrap();
        let covers = Resource::parse("https://cdn.example.com/v/1/*").unwrap();
        rewrite(
            manifest.as_bytes(),
            &url,
            &Signing::Stamp {
                parameters: PARAMS,
                covers: &covers,
            },
        )
    }
}
