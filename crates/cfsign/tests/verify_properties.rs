#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
//! Property tests of the verifier (`cfsign::verify`) against the signer.
//!
//! * **Everything the signer signs, the verifier accepts**: random valid URLs
//!   (unreserved characters, `%XX` escapes, `+`, `~`, queries, ports, http and
//!   https), random expiries, optional start (in the past), optional IP range
//!   (client inside it), optional wildcard resource; all four key/hash
//!   combinations with two key pairs each; as a signed URL and as signed cookies
//!   (`SignedCookies::cookie_header()` on an unsigned URL the policy covers).
//! * **No false accepts**: for each generated request, ~50 mutations (signature,
//!   policy, each parameter dropped or repeated, key IDs, re-encodings, URL
//!   parts, IPs, `Hash-Algorithm`, exact time boundaries, ...) each with the
//!   expected decision: the `DenialCode` and the `DenialReason`, computed by a
//!   model written here (not by the verifier). A mutation that a policy
//!   legitimately still covers (e.g. a changed query under a `dir/*` wildcard)
//!   must be *allowed*, with the new URL forwarded.
//! * **The signature cache changes no decision**: the same request sequences
//!   (valid requests first, then their mutations: a previously accepted
//!   signature presented with a change) through verifiers with and without
//!   `with_signature_cache`, small (constant eviction) and large.
//!
//! The model follows the readings of `verify/strict.rs`, among them: query
//! values are percent-decoded once (cookie values are not), and in a URL with
//! both `Expires` and `Policy` the signed `Policy` decides and `Expires` is
//! ignored (cookies with both are denied).
//!
//! Two regression tests keep the verifier bugs this suite found fixed:
//! `regression_cloned_verifiers_never_share_verdicts_across_keys` (a false
//! accept through the shared signature cache) and
//! `regression_expires_with_leading_zeros_is_denied`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use cfsign::verify::{
    CredentialSource, Decision, DenialCode, DenialReason, KeyGroup, RequestError, Verifier,
    ViewerRequest,
};
use cfsign::{
    EpochSeconds, HashAlgorithm, KeyPairId, Policy, PolicyForm, PrivateKey, PublicKey, Resource,
    SignableUrl, Signer, SourceIp, cloudfront_base64, policy::canned_policy_json,
};
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const NOW: i64 = 1_767_200_000;
/// CloudFront-base64 alphabet.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~";

fn key_path(name: &str) -> String {
    format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

/// One trusted key pair.
struct Key {
    id: &'static str,
    group: &'static str,
    rsa: bool,
    private: PrivateKey,
    public: PublicKey,
}

fn load(id: &'static str, group: &'static str, rsa: bool, private: &str, public: &str) -> Key {
    Key {
        id,
        group,
        rsa,
        private: PrivateKey::from_file(key_path(private)).unwrap(),
        public: PublicKey::from_file(key_path(public)).unwrap(),
    }
}

/// Index 0/1: RSA A/B, 2/3: ECDSA A/B. A keys in group "primary", B keys in "rotation".
static KEYS: LazyLock<[Key; 4]> = LazyLock::new(|| {
    [
        load(
            "K1RSAPRIMARY",
            "primary",
            true,
            "rsa2048.pkcs8.pem",
            "rsa2048.pub.pem",
        ),
        load(
            "K2RSAROTATION",
            "rotation",
            true,
            "rsa2048-b.pkcs8.pem",
            "rsa2048-b.pub.pem",
        ),
        load(
            "K1ECPRIMARY",
            "primary",
            false,
            "ec-p256.sec1.pem",
            "ec-p256.pub.pem",
        ),
        load(
            "K2ECROTATION",
            "rotation",
            false,
            "ec-p256-b.pkcs8.pem",
            "ec-p256-b.pub.pem",
        ),
    ]
});

fn build_verifier() -> Verifier {
    let mut primary = KeyGroup::new("primary");
    let mut rotation = KeyGroup::new("rotation");
    for k in KEYS.iter() {
        let id = KeyPairId::new(k.id).unwrap();
        if k.group == "primary" {
            primary = primary.with_key(id, k.public.clone());
        } else {
            rotation = rotation.with_key(id, k.public.clone());
        }
    }
    Verifier::new()
        .with_key_group(primary)
        .with_key_group(rotation)
}

static VERIFIER: LazyLock<Verifier> = LazyLock::new(build_verifier);
/// Shared by every case of the cache property, so entries accumulate across
/// scenarios; capacity 3 evicts constantly.
static CACHED_SMALL: LazyLock<Verifier> =
    LazyLock::new(|| build_verifier().with_signature_cache(3));
static CACHED_LARGE: LazyLock<Verifier> =
    LazyLock::new(|| build_verifier().with_signature_cache(100_000));

// ---------------------------------------------------------------------------
// Generated scenarios
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Scenario {
    key: usize,
    sha256: bool,
    /// The URL as signed (no signing parameters).
    url: String,
    expires_in: i64,
    /// DateGreaterThan = NOW - start_ago.
    start_ago: Option<i64>,
    /// CIDR as written: address (host bits allowed), prefix, bare (no "/32").
    ip: Option<([u8; 4], u8, bool)>,
    wildcard: bool,
    force_custom: bool,
    /// Client for policies without an IP condition: 0 none, 1 IPv4, 2 IPv6.
    free_client: u8,
    /// The file under the wildcard directory used with cookies.
    cookie_leaf: String,
    /// Random choices for the mutations.
    knobs: Vec<Index>,
    bit: u8,
    mask: u8,
    unknown_id: String,
}

impl Scenario {
    fn knob(&self, i: usize, len: usize) -> usize {
        self.knobs[i % self.knobs.len()].index(len)
    }
    fn key(&self) -> &'static Key {
        &KEYS[self.key]
    }
    fn hash(&self) -> HashAlgorithm {
        if self.sha256 {
            HashAlgorithm::Sha256
        } else {
            HashAlgorithm::Sha1
        }
    }
    fn expires(&self) -> i64 {
        NOW + self.expires_in
    }
    fn start(&self) -> Option<i64> {
        self.start_ago.map(|a| NOW - a)
    }
    fn parsed(&self) -> SignableUrl {
        SignableUrl::parse(&self.url).unwrap()
    }
    /// `scheme://host/dir/` for the wildcard `scheme://host/dir/*`.
    fn prefix(&self) -> String {
        let u = self.parsed();
        let path = u.path();
        let dir = &path[..=path.rfind('/').unwrap()];
        format!("{}://{}{dir}", u.scheme(), u.host())
    }
    fn grant(&self) -> Grant {
        if self.wildcard {
            Grant::Wildcard(self.prefix())
        } else if self.start_ago.is_some() || self.ip.is_some() || self.force_custom {
            Grant::Exact
        } else {
            Grant::Canned
        }
    }
    fn resource_text(&self) -> String {
        match self.grant() {
            Grant::Wildcard(prefix) => format!("{prefix}*"),
            _ => self.url.clone(),
        }
    }
    fn ip_text(&self) -> Option<String> {
        self.ip.map(|(a, p, bare)| {
            let addr = Ipv4Addr::from(a);
            if bare && p == 32 {
                addr.to_string()
            } else {
                format!("{addr}/{p}")
            }
        })
    }
    fn source_ip(&self) -> Option<SourceIp> {
        self.ip_text().map(|t| t.parse().unwrap())
    }
    /// (network, broadcast) as u32, computed here (not with ipnet).
    fn ip_bounds(&self) -> Option<(u32, u32)> {
        self.ip.map(|(a, p, _)| {
            let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            let net = u32::from_be_bytes(a) & mask;
            (net, net | !mask)
        })
    }
    /// The client used for the unmutated requests.
    fn client(&self) -> Option<IpAddr> {
        match self.ip_bounds() {
            Some((net, bcast)) => {
                let size = u64::from(bcast - net) + 1;
                let offset = self.knobs[0].index(size.min(usize::MAX as u64) as usize) as u32;
                Some(IpAddr::V4(Ipv4Addr::from(net + offset)))
            }
            None => match self.free_client {
                0 => None,
                1 => Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 77))),
                _ => Some(IpAddr::V6(Ipv6Addr::new(
                    0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x77,
                ))),
            },
        }
    }
    fn form(&self) -> PolicyForm {
        match self.grant() {
            Grant::Canned => PolicyForm::Canned,
            _ => PolicyForm::Custom,
        }
    }
    /// The unsigned URL the cookies are sent with.
    fn cookie_url(&self) -> String {
        match self.grant() {
            Grant::Wildcard(prefix) => format!("{prefix}{}", self.cookie_leaf),
            _ => self.url.clone(),
        }
    }
}

/// What the policy grants.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Grant {
    /// Canned: exactly the URL (a change breaks the rebuilt policy's signature).
    Canned,
    /// Custom, the URL itself as resource (with start, IP or forced custom).
    Exact,
    /// Custom, `prefix*`: every URL starting with `prefix`.
    Wildcard(String),
}

fn segment() -> impl Strategy<Value = String> {
    "([A-Za-z0-9._~+-]|%[0-9A-Fa-f]{2}|%20|%7[Ee]){1,8}".prop_filter(
        "no dot segments (refused by the contract)",
        |s| {
            let d = s.replace("%2E", ".").replace("%2e", ".");
            d != "." && d != ".."
        },
    )
}

fn url() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("https"), Just("http")],
        prop_oneof![
            Just("d111111abcdef8.cloudfront.net"),
            Just("cdn.example.com"),
            Just("a-b.example.org:8443"),
            Just("media.example.net:80"),
        ],
        prop::collection::vec(segment(), 0..4),
        prop::option::weighted(
            0.6,
            prop::collection::vec(
                // names of at most 5 letters can never be a reserved parameter
                "[a-z]{1,5}(=([A-Za-z0-9._~'+-]|%[0-9A-Fa-f]{2}|%20){0,6})?",
                1..4,
            ),
        ),
        any::<bool>(),
    )
        .prop_map(|(scheme, host, segments, query, trailing_slash)| {
            let mut u = format!("{scheme}://{host}/{}", segments.join("/"));
            if trailing_slash && !segments.is_empty() {
                u.push('/');
            }
            if let Some(params) = query {
                u.push('?');
                u.push_str(&params.join("&"));
            }
            u
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        (0usize..4, any::<bool>(), url(), 2i64..=10 * 365 * 86_400),
        (
            prop::option::weighted(0.3, 1i64..=86_400),
            prop::option::weighted(0.3, (any::<[u8; 4]>(), 0u8..=32, any::<bool>())),
            prop::bool::weighted(0.35),
            prop::bool::weighted(0.15),
            0u8..3,
        ),
        (
            "[a-z0-9]{1,6}(\\.ts|\\.jpg)?(\\?[a-z]{1,3}=[0-9]{1,3})?",
            prop::collection::vec(any::<Index>(), 24),
            0u8..7,
            1u8..=255,
            "K[A-Z0-9]{1,12}",
        ),
    )
        .prop_map(
            |(
                (key, sha256, url, expires_in),
                (start_ago, ip, wildcard, force_custom, free_client),
                (cookie_leaf, knobs, bit, mask, unknown_id),
            )| Scenario {
                key,
                sha256,
                url,
                expires_in,
                start_ago,
                ip,
                wildcard,
                force_custom,
                free_client,
                cookie_leaf,
                knobs,
                bit,
                mask,
                unknown_id,
            },
        )
}

// ---------------------------------------------------------------------------
// Requests and their expected decisions
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Query,
    Cookie,
}

impl Transport {
    fn name(self, param: &str) -> String {
        match self {
            Transport::Query => param.to_owned(),
            Transport::Cookie => format!("CloudFront-{param}"),
        }
    }
    fn source(self) -> CredentialSource {
        match self {
            Transport::Query => CredentialSource::Query,
            Transport::Cookie => CredentialSource::Cookies,
        }
    }
}

/// A request under construction: the user's URL (base + own query segments),
/// the credentials (as query parameters or cookies) and the context.
#[derive(Debug, Clone)]
struct Draft {
    transport: Transport,
    /// `scheme://host/path` (no `?`).
    base: String,
    /// The user's own query segments, in order.
    own: Vec<String>,
    /// CloudFront credentials `(name, value)` in order.
    creds: Vec<(String, String)>,
    /// Query: put the credentials before the user's parameters.
    creds_first: bool,
    /// Cookies that are not CloudFront's, and raw suffixes.
    extra_cookies: Vec<String>,
    /// Appended verbatim to the URL (e.g. a fragment).
    url_suffix: String,
    /// Query-transport requests may also carry cookies (which must be ignored).
    stray_cookie: Option<String>,
    /// Cookie-transport requests may also carry raw query segments.
    stray_query: Vec<String>,
    ip: Option<IpAddr>,
    at: i64,
}

fn split_url(url: &str) -> (String, Vec<String>) {
    match url.split_once('?') {
        Some((base, q)) => (base.to_owned(), q.split('&').map(str::to_owned).collect()),
        None => (url.to_owned(), Vec::new()),
    }
}

fn join_url(base: &str, segments: &[String]) -> String {
    if segments.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", segments.join("&"))
    }
}

impl Draft {
    fn unsigned(&self) -> String {
        join_url(&self.base, &self.own)
    }
    fn cred_segments(&self) -> Vec<String> {
        self.creds.iter().map(|(n, v)| format!("{n}={v}")).collect()
    }
    fn render(&self) -> Req {
        match self.transport {
            Transport::Query => {
                let mut segs = Vec::new();
                if self.creds_first {
                    segs.extend(self.cred_segments());
                    segs.extend(self.own.iter().cloned());
                } else {
                    segs.extend(self.own.iter().cloned());
                    segs.extend(self.cred_segments());
                }
                Req {
                    url: format!("{}{}", join_url(&self.base, &segs), self.url_suffix),
                    cookie: self.stray_cookie.clone(),
                    ip: self.ip,
                    at: self.at,
                }
            }
            Transport::Cookie => {
                let mut segs = self.own.clone();
                segs.extend(self.stray_query.iter().cloned());
                let mut jar = self.extra_cookies.clone();
                let pos = jar.len() / 2;
                for (i, c) in self.cred_segments().into_iter().enumerate() {
                    jar.insert(pos + i, c);
                }
                Req {
                    url: format!("{}{}", join_url(&self.base, &segs), self.url_suffix),
                    cookie: (!jar.is_empty()).then(|| jar.join("; ")),
                    ip: self.ip,
                    at: self.at,
                }
            }
        }
    }
    fn cred(&self, param: &str) -> Option<usize> {
        let name = self.transport.name(param);
        self.creds.iter().position(|(n, _)| *n == name)
    }
    fn value(&self, param: &str) -> String {
        self.creds[self.cred(param).unwrap()].1.clone()
    }
    fn set(&mut self, param: &str, value: String) {
        let i = self.cred(param).unwrap();
        self.creds[i].1 = value;
    }
    fn remove(&mut self, param: &str) {
        let i = self.cred(param).unwrap();
        self.creds.remove(i);
    }
    fn add(&mut self, param: &str, value: &str) {
        self.creds
            .push((self.transport.name(param), value.to_owned()));
    }
    fn rename(&mut self, param: &str, new_name: String) {
        let i = self.cred(param).unwrap();
        self.creds[i].0 = new_name;
    }
    /// Replace the user URL (base + own query).
    fn set_url(&mut self, url: &str) {
        let (base, own) = split_url(url);
        self.base = base;
        self.own = own;
    }
    fn first_param(&self) -> &'static str {
        if self.cred("Policy").is_some() {
            "Policy"
        } else {
            "Expires"
        }
    }
}

#[derive(Debug, Clone)]
struct Req {
    url: String,
    cookie: Option<String>,
    ip: Option<IpAddr>,
    at: i64,
}

impl Req {
    fn view(&self) -> ViewerRequest<'_> {
        let mut r = ViewerRequest::new(&self.url);
        if let Some(c) = &self.cookie {
            r = r.cookie_header(c);
        }
        if let Some(ip) = self.ip {
            r = r.client_ip(ip);
        }
        r
    }
}

#[derive(Debug, Clone)]
enum Want {
    Exact(DenialReason),
    Variant(&'static str),
}

#[derive(Debug, Clone)]
enum Expect {
    Allowed {
        forward: String,
        form: PolicyForm,
        source: CredentialSource,
        hash: HashAlgorithm,
    },
    Denied(DenialCode, Want),
}

fn denied(reason: DenialReason) -> Expect {
    Expect::Denied(reason.code(), Want::Exact(reason))
}

fn variant(reason: &DenialReason) -> &'static str {
    use DenialReason as R;
    match reason {
        R::BadRequest(_) => "BadRequest",
        R::NoCredentials => "NoCredentials",
        R::MissingKeyPairId(_) => "MissingKeyPairId",
        R::Duplicate(_) => "Duplicate",
        R::CaseVariant(_) => "CaseVariant",
        R::UnknownKey(_) => "UnknownKey",
        R::MissingSignature => "MissingSignature",
        R::UndecodableSignature(_) => "UndecodableSignature",
        R::UnknownHashAlgorithm(_) => "UnknownHashAlgorithm",
        R::BothExpiresAndPolicy => "BothExpiresAndPolicy",
        R::NoPolicy => "NoPolicy",
        R::UndecodablePolicy(_) => "UndecodablePolicy",
        R::InvalidPolicy(_) => "InvalidPolicy",
        R::UnrebuildableUrl => "UnrebuildableUrl",
        R::SignatureMismatch => "SignatureMismatch",
        R::Expired { .. } => "Expired",
        R::NotYetValid { .. } => "NotYetValid",
        R::NoClientIp => "NoClientIp",
        R::Ipv6Client(_) => "Ipv6Client",
        R::IpNotAllowed { .. } => "IpNotAllowed",
        R::ResourceMismatch { .. } => "ResourceMismatch",
        _ => "(new variant)",
    }
}

/// One request and what the verifier must decide.
#[derive(Debug, Clone)]
struct Case {
    label: String,
    req: Req,
    expect: Expect,
}

/// Checks one decision against its expectation.
fn check_decision(sc: &Scenario, case: &Case, decision: &Decision) -> Result<(), TestCaseError> {
    let ctx = || {
        format!(
            "[{}] url={:?} cookie={:?} ip={:?} at=NOW{:+}\n expected {:?}\n got {decision:?}",
            case.label,
            case.req.url,
            case.req.cookie,
            case.req.ip,
            case.req.at - NOW,
            case.expect
        )
    };
    match (&case.expect, decision) {
        (
            Expect::Allowed {
                forward,
                form,
                source,
                hash,
            },
            Decision::Allowed(a),
        ) => {
            let key = sc.key();
            prop_assert_eq!(a.key_pair_id(), key.id, "{}", ctx());
            prop_assert_eq!(a.key_group(), key.group, "{}", ctx());
            prop_assert_eq!(a.hash_algorithm(), *hash, "{}", ctx());
            prop_assert_eq!(a.forward_url(), forward.as_str(), "{}", ctx());
            prop_assert_eq!(a.form(), *form, "{}", ctx());
            prop_assert_eq!(a.source(), *source, "{}", ctx());
            prop_assert_eq!(a.date_less_than().get(), sc.expires(), "{}", ctx());
            prop_assert_eq!(a.date_greater_than().map(EpochSeconds::get), sc.start());
            prop_assert_eq!(a.source_ip(), sc.source_ip(), "{}", ctx());
            let resource = match form {
                PolicyForm::Canned => forward.clone(),
                PolicyForm::Custom => sc.resource_text(),
            };
            prop_assert_eq!(a.resource(), Some(resource.as_str()), "{}", ctx());
        }
        (Expect::Denied(code, want), Decision::Denied(d)) => {
            prop_assert_eq!(d.code(), *code, "{}", ctx());
            prop_assert_eq!(d.status(), 403);
            match want {
                Want::Exact(r) => prop_assert_eq!(d.reason(), r, "{}", ctx()),
                Want::Variant(v) => prop_assert_eq!(variant(d.reason()), *v, "{}", ctx()),
            }
        }
        (Expect::Denied(..), Decision::Allowed(_)) => {
            return Err(TestCaseError::fail(format!("FALSE ACCEPT {}", ctx())));
        }
        (Expect::Allowed { .. }, Decision::Denied(_)) => {
            return Err(TestCaseError::fail(format!("false denial {}", ctx())));
        }
    }
    Ok(())
}

/// The signed artefacts of a scenario.
struct Signed {
    url: String,
    cookie_header: String,
    policy_json: String,
}

fn sign(sc: &Scenario) -> Signed {
    let key = sc.key();
    let url = sc.parsed();
    let resource = match sc.grant() {
        Grant::Wildcard(prefix) => Resource::pattern(&format!("{prefix}*")).unwrap(),
        _ => Resource::Url(url.clone()),
    };
    let mut b = Policy::builder(resource)
        .expires_at(at(sc.expires()))
        .force_custom(sc.force_custom);
    if let Some(s) = sc.start() {
        b = b.not_before(at(s));
    }
    if let Some(ip) = sc.source_ip() {
        b = b.source_ip(ip);
    }
    let policy = b.build_at(at(NOW)).unwrap();
    assert_eq!(policy.form(), sc.form());
    let signer = Signer::new(KeyPairId::new(key.id).unwrap(), key.private.clone())
        .with_hash_algorithm(sc.hash())
        .unwrap();
    let signed = signer.sign_url(&url, &policy).unwrap().into_string();
    let cookie_header = signer.sign_cookies(&policy).unwrap().cookie_header();
    Signed {
        url: signed,
        cookie_header,
        policy_json: policy.json().to_owned(),
    }
}

/// The unmutated draft for a transport.
fn base_draft(sc: &Scenario, signed: &Signed, transport: Transport) -> Draft {
    let (user_url, creds): (String, Vec<(String, String)>) = match transport {
        Transport::Query => {
            // The signed URL is the user URL + sep + the signing parameters.
            let sep = if sc.url.contains('?') { '&' } else { '?' };
            let tail = signed
                .url
                .strip_prefix(&format!("{}{sep}", sc.url))
                .unwrap();
            let creds = tail
                .split('&')
                .map(|p| {
                    let (n, v) = p.split_once('=').unwrap();
                    (n.to_owned(), v.to_owned())
                })
                .collect();
            (sc.url.clone(), creds)
        }
        Transport::Cookie => {
            let creds = signed
                .cookie_header
                .split("; ")
                .map(|p| {
                    let (n, v) = p.split_once('=').unwrap();
                    (n.to_owned(), v.to_owned())
                })
                .collect();
            (sc.cookie_url(), creds)
        }
    };
    let (base, own) = split_url(&user_url);
    Draft {
        transport,
        base,
        own,
        creds,
        creds_first: false,
        extra_cookies: Vec::new(),
        url_suffix: String::new(),
        stray_cookie: None,
        stray_query: Vec::new(),
        ip: sc.client(),
        at: NOW,
    }
}

fn allowed(sc: &Scenario, d: &Draft) -> Expect {
    Expect::Allowed {
        forward: d.unsigned(),
        form: sc.form(),
        source: d.transport.source(),
        hash: sc.hash(),
    }
}

/// The decision for the draft whose URL (or cookie URL) was changed: the model
/// of what each grant covers.
fn after_url_change(sc: &Scenario, d: &Draft) -> Expect {
    let new = d.unsigned();
    // A change that produces a '.' or '..' path segment is denied first (strict reading).
    let path = new.split_once("://").map_or("", |(_, r)| r);
    let path = path
        .find('/')
        .map_or("", |i| &path[i..])
        .split('?')
        .next()
        .unwrap_or("");
    if path.split('/').any(|seg| {
        let dots = seg.replace("%2E", ".").replace("%2e", ".");
        dots == "." || dots == ".."
    }) {
        return denied(DenialReason::DotSegments);
    }
    let original = match d.transport {
        Transport::Query => sc.url.clone(),
        Transport::Cookie => sc.cookie_url(),
    };
    let covered = match sc.grant() {
        Grant::Canned | Grant::Exact => new == sc.url,
        Grant::Wildcard(prefix) => new.starts_with(&prefix),
    };
    if covered {
        return allowed(sc, d);
    }
    assert_ne!(new, original, "the mutation changed nothing");
    match sc.grant() {
        Grant::Canned => denied(DenialReason::SignatureMismatch),
        _ => denied(DenialReason::ResourceMismatch {
            resource: sc.resource_text(),
            url: new,
        }),
    }
}

/// The model of query-value decoding (strict reading): `%XX` decoded once,
/// everything else (`+` too) kept; `None` for a `%` without two hex digits or
/// bytes that are not UTF-8. Written here, independently of the verifier.
fn model_percent_decode(value: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut rest = value.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            out.push(b);
            rest = tail;
        }
    }
    String::from_utf8(out).ok()
}

/// What the verifier sees of a credential value after a one-character change,
/// and whether the request can still be parsed: models the query (`&`, `#`,
/// percent-decoding) and cookie (`;`, trailing blanks, no decoding) syntax.
fn seen_value(
    transport: Transport,
    param: &'static str,
    mutated: &str,
) -> Result<String, DenialReason> {
    match transport {
        Transport::Query => {
            if mutated.contains('#') {
                return Err(DenialReason::BadRequest(RequestError::Fragment));
            }
            let sent = mutated.split('&').next().unwrap();
            model_percent_decode(sent).ok_or(DenialReason::InvalidEscape(param))
        }
        Transport::Cookie => Ok(mutated
            .split(';')
            .next()
            .unwrap()
            .trim_end_matches([' ', '\t'])
            .to_owned()),
    }
}

/// Expected decision for a signature value the verifier will see.
fn for_signature(
    transport: Transport,
    original: &[u8],
    mutated: &str,
) -> Result<Expect, TestCaseError> {
    let seen = match seen_value(transport, "Signature", mutated) {
        Ok(s) => s,
        Err(r) => return Ok(denied(r)),
    };
    Ok(match cloudfront_base64::decode(&seen) {
        Err(_) => Expect::Denied(
            DenialCode::MalformedSignature,
            Want::Variant("UndecodableSignature"),
        ),
        Ok(bytes) => {
            prop_assert_ne!(bytes.as_slice(), original, "mutation kept the signature");
            denied(DenialReason::SignatureMismatch)
        }
    })
}

/// Expected decision for a changed `Policy` value.
fn for_policy(original: &str, mutated: &str) -> Result<Expect, TestCaseError> {
    let malformed = |v| Expect::Denied(DenialCode::MalformedPolicy, Want::Variant(v));
    Ok(match cloudfront_base64::decode(mutated) {
        Err(_) => malformed("UndecodablePolicy"),
        Ok(bytes) => match String::from_utf8(bytes) {
            Err(_) => malformed("UndecodablePolicy"),
            Ok(text) => {
                prop_assert_ne!(text.as_str(), original, "mutation kept the policy");
                match Policy::from_json(&text) {
                    Err(_) => malformed("InvalidPolicy"),
                    Ok(_) => denied(DenialReason::SignatureMismatch),
                }
            }
        },
    })
}

/// Candidate re-encodings in the path and query of `url`: (start, len, replacement).
fn re_encodings(url: &str) -> Vec<(usize, usize, String)> {
    let start = url.find("://").unwrap() + 3;
    let path_start = start + url[start..].find('/').unwrap();
    let b = url.as_bytes();
    let mut out = Vec::new();
    let mut i = path_start;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = &url[i + 1..i + 3];
                if hex == "20" {
                    out.push((i, 3, "+".to_owned()));
                }
                if hex.eq_ignore_ascii_case("7e") {
                    out.push((i, 3, "~".to_owned()));
                }
                if hex.bytes().any(|h| h.is_ascii_alphabetic()) {
                    let toggled: String = hex
                        .chars()
                        .map(|c| {
                            if c.is_ascii_uppercase() {
                                c.to_ascii_lowercase()
                            } else {
                                c.to_ascii_uppercase()
                            }
                        })
                        .collect();
                    out.push((i + 1, 2, toggled));
                }
                i += 3;
            }
            b'+' => {
                out.push((i, 1, "%20".to_owned()));
                i += 1;
            }
            b'~' => {
                out.push((i, 1, "%7E".to_owned()));
                out.push((i, 1, "%7e".to_owned()));
                i += 1;
            }
            c if c.is_ascii_alphanumeric() => {
                out.push((i, 1, format!("%{c:02X}")));
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

fn replace_at(s: &str, start: usize, len: usize, with: &str) -> String {
    format!("{}{with}{}", &s[..start], &s[start + len..])
}

/// All the cases of one scenario and transport, each with its expected decision.
fn cases(sc: &Scenario, signed: &Signed, transport: Transport) -> Result<Vec<Case>, TestCaseError> {
    let t = transport;
    let src = t.source();
    let base = base_draft(sc, signed, t);
    let mut out: Vec<Case> = Vec::new();
    let mut push = |label: &str, d: &Draft, expect: Expect| {
        out.push(Case {
            label: format!("{t:?}/{label}"),
            req: d.render(),
            expect,
        });
    };

    // --- the unmutated request, exactly as the library renders it ---
    {
        let rendered = base.render();
        match t {
            Transport::Query => prop_assert_eq!(&rendered.url, &signed.url),
            Transport::Cookie => {
                prop_assert_eq!(
                    rendered.cookie.as_deref(),
                    Some(signed.cookie_header.as_str())
                );
            }
        }
        push("valid", &base, allowed(sc, &base));
    }
    // unrelated cookies around the CloudFront ones / stray cookies with a signed URL
    {
        let mut d = base.clone();
        match t {
            Transport::Query => d.stray_cookie = Some("CloudFront-Key-Pair-Id=KNOPE".into()),
            Transport::Cookie => {
                d.extra_cookies = vec!["session=abc".into(), "theme=dark".into()];
            }
        }
        push("with unrelated cookies", &d, allowed(sc, &d));
    }
    // credentials in another order (documented: any order)
    {
        let mut d = base.clone();
        d.creds.reverse();
        d.creds_first = true;
        push("credentials reordered", &d, allowed(sc, &d));
    }

    // --- signature ---
    let sig_text = base.value("Signature");
    let sig = cloudfront_base64::decode(&sig_text).unwrap();
    {
        let i = sc.knob(1, sig_text.len());
        let mut bytes = sig_text.clone().into_bytes();
        bytes[i] ^= 1 << sc.bit;
        let mutated = String::from_utf8(bytes).unwrap();
        let mut d = base.clone();
        d.set("Signature", mutated.clone());
        push(
            &format!("signature char {i} bit {}", sc.bit),
            &d,
            for_signature(t, &sig, &mutated)?,
        );
    }
    {
        let mut bytes = sig.clone();
        let i = sc.knob(2, bytes.len());
        bytes[i] ^= sc.mask;
        let mut d = base.clone();
        d.set("Signature", cloudfront_base64::encode(&bytes));
        push(
            "signature byte flipped",
            &d,
            denied(DenialReason::SignatureMismatch),
        );
        let mut d = base.clone();
        let mut longer = sig.clone();
        longer.push(0);
        d.set("Signature", cloudfront_base64::encode(&longer));
        push(
            "signature with a trailing zero byte",
            &d,
            denied(DenialReason::SignatureMismatch),
        );
        let mut d = base.clone();
        d.set(
            "Signature",
            cloudfront_base64::encode(&sig[..sig.len() - 1]),
        );
        push(
            "signature truncated",
            &d,
            denied(DenialReason::SignatureMismatch),
        );
    }
    // Percent-encoded values (strict.rs): a query value is decoded once, as
    // aws-cloudfront-sign's URLSearchParams URLs need; a cookie value never.
    let malformed_signature = || {
        Expect::Denied(
            DenialCode::MalformedSignature,
            Want::Variant("UndecodableSignature"),
        )
    };
    let decoded_or = |d: &Draft, cookie: Expect| match t {
        Transport::Query => allowed(sc, d),
        Transport::Cookie => cookie,
    };
    if let Some(p) = sig_text.find('~') {
        for escape in ["%7E", "%7e"] {
            let mut d = base.clone();
            d.set("Signature", replace_at(&sig_text, p, 1, escape));
            let expect = decoded_or(&d, malformed_signature());
            push(&format!("signature ~ as {escape}"), &d, expect);
        }
        // encoded twice: decoded once it is still "%7E", not base64
        let mut d = base.clone();
        d.set("Signature", replace_at(&sig_text, p, 1, "%257E"));
        push("signature ~ encoded twice", &d, malformed_signature());
    }
    {
        // every character percent-encoded
        let mut d = base.clone();
        let all: String = sig_text.bytes().map(|b| format!("%{b:02X}")).collect();
        d.set("Signature", all);
        let expect = decoded_or(&d, malformed_signature());
        push("signature fully percent-encoded", &d, expect);
        // an escape cut short, or one that is not hex
        for (label, bad) in [
            ("signature with a trailing %", format!("{sig_text}%")),
            ("signature with %zz", format!("%zz{}", &sig_text[3..])),
        ] {
            let mut d = base.clone();
            d.set("Signature", bad);
            let expect = match t {
                Transport::Query => denied(DenialReason::InvalidEscape("Signature")),
                Transport::Cookie => malformed_signature(),
            };
            push(label, &d, expect);
        }
        // the key-pair ID percent-encoded
        let id = base.value("Key-Pair-Id");
        let encoded: String = id.bytes().map(|b| format!("%{b:02x}")).collect();
        let mut d = base.clone();
        d.set("Key-Pair-Id", encoded.clone());
        let expect = decoded_or(&d, denied(DenialReason::UnknownKey(encoded)));
        push("Key-Pair-Id percent-encoded", &d, expect);
        // a CloudFront parameter name percent-encoded: never read as that parameter
        let mut d = base.clone();
        let name = format!(
            "{}%{:02X}",
            &t.name("Signature")[..t.name("Signature").len() - 1],
            b'e'
        );
        d.rename("Signature", name.clone());
        let expect = match t {
            Transport::Query => denied(DenialReason::EncodedName(name)),
            Transport::Cookie => denied(DenialReason::MissingSignature),
        };
        push("Signature name percent-encoded", &d, expect);
    }

    // --- policy / expires ---
    match sc.form() {
        PolicyForm::Custom => {
            let p = base.value("Policy");
            let i = sc.knob(3, p.len());
            let old = p.as_bytes()[i];
            let mut c = ALPHABET[sc.knob(4, ALPHABET.len())];
            if c == old {
                c = if old == b'A' { b'B' } else { b'A' };
            }
            let mutated = replace_at(&p, i, 1, &(c as char).to_string());
            let mut d = base.clone();
            d.set("Policy", mutated.clone());
            push(
                &format!("policy char {i} {:?}->{:?}", old as char, c as char),
                &d,
                for_policy(&signed.policy_json, &mutated)?,
            );
            if let Some(i) = p.find('~') {
                let mut d = base.clone();
                d.set("Policy", replace_at(&p, i, 1, "%7E"));
                let expect = decoded_or(
                    &d,
                    Expect::Denied(
                        DenialCode::MalformedPolicy,
                        Want::Variant("UndecodablePolicy"),
                    ),
                );
                push("policy ~ as %7E", &d, expect);
            }
            // Expires added to a custom policy (as aws-cloudfront-sign does): in a
            // URL the Policy decides and Expires is ignored, whatever its value;
            // cookies with both are denied.
            for value in [
                sc.expires().to_string(),
                (sc.expires() + 1 + sc.knob(12, 1000) as i64).to_string(),
                "01".to_owned(),
                "soon".to_owned(),
            ] {
                let mut d = base.clone();
                let pos = sc.knob(13, d.creds.len() + 1);
                d.creds.insert(pos, (t.name("Expires"), value.clone()));
                let expect = match t {
                    Transport::Query => allowed(sc, &d),
                    Transport::Cookie => denied(DenialReason::BothExpiresAndPolicy),
                };
                push("Expires added", &d, expect);
            }
            // the custom policy is the canned one: it also works as Expires
            if signed.policy_json
                == canned_policy_json(&sc.url, EpochSeconds::new(sc.expires()).unwrap())
                && base.unsigned() == sc.url
            {
                let mut d = base.clone();
                let i = d.cred("Policy").unwrap();
                d.creds[i] = (t.name("Expires"), sc.expires().to_string());
                push(
                    "forced-custom presented as canned",
                    &d,
                    Expect::Allowed {
                        forward: d.unsigned(),
                        form: PolicyForm::Canned,
                        source: src,
                        hash: sc.hash(),
                    },
                );
            }
        }
        PolicyForm::Canned => {
            let e = sc.expires();
            for delta in [-1i64, 1] {
                let mut d = base.clone();
                d.set("Expires", (e + delta).to_string());
                push(
                    &format!("Expires {delta:+}"),
                    &d,
                    denied(DenialReason::SignatureMismatch),
                );
            }
            // one digit changed
            let text = e.to_string();
            let i = sc.knob(3, text.len());
            let old = text.as_bytes()[i];
            let mut c = b'0' + sc.knob(4, 10) as u8;
            if c == old {
                c = if old == b'9' { b'0' } else { old + 1 };
            }
            let mutated = replace_at(&text, i, 1, &(c as char).to_string());
            let value: i64 = mutated.parse().unwrap();
            let mut d = base.clone();
            d.set("Expires", mutated.clone());
            // strict reading (verify/strict.rs): a non-canonical Expires (leading
            // zero) is MalformedPolicy, like an out-of-range one.
            let expect = if value > 9_223_372_036 || mutated.starts_with('0') {
                Expect::Denied(DenialCode::MalformedPolicy, Want::Variant("InvalidPolicy"))
            } else {
                denied(DenialReason::SignatureMismatch)
            };
            push(&format!("Expires digit -> {mutated}"), &d, expect);
            for bad in ["", "1e9", "-1", "+1767290400", "17672904000000"] {
                let mut d = base.clone();
                d.set("Expires", bad.to_owned());
                push(
                    &format!("Expires {bad:?}"),
                    &d,
                    Expect::Denied(DenialCode::MalformedPolicy, Want::Variant("InvalidPolicy")),
                );
            }
            // Policy (the canned policy's own bytes) added to a canned URL: in a
            // URL the Policy then decides (the same grant, as a custom policy),
            // and Expires no longer counts; cookies with both are denied.
            let mut d = base.clone();
            d.add(
                "Policy",
                &cloudfront_base64::encode(signed.policy_json.as_bytes()),
            );
            let as_custom = |d: &Draft| match t {
                Transport::Query => Expect::Allowed {
                    forward: d.unsigned(),
                    form: PolicyForm::Custom,
                    source: src,
                    hash: sc.hash(),
                },
                Transport::Cookie => denied(DenialReason::BothExpiresAndPolicy),
            };
            push("Policy added", &d, as_custom(&d));
            d.set("Expires", (e + 1).to_string());
            push("Policy added, Expires changed", &d, as_custom(&d));
            // the canned policy sent as a custom one: same bytes, same grant
            let mut d = base.clone();
            let i = d.cred("Expires").unwrap();
            d.creds[i] = (
                t.name("Policy"),
                cloudfront_base64::encode(signed.policy_json.as_bytes()),
            );
            let forward = d.unsigned();
            push(
                "canned presented as custom",
                &d,
                Expect::Allowed {
                    forward,
                    form: PolicyForm::Custom,
                    source: src,
                    hash: sc.hash(),
                },
            );
        }
    }

    // --- each credential dropped, repeated, renamed ---
    let first = base.first_param();
    {
        let mut d = base.clone();
        d.remove("Key-Pair-Id");
        push(
            "Key-Pair-Id dropped",
            &d,
            denied(DenialReason::MissingKeyPairId(src)),
        );
        let mut d = base.clone();
        d.set("Key-Pair-Id", String::new());
        push(
            "Key-Pair-Id empty",
            &d,
            denied(DenialReason::MissingKeyPairId(src)),
        );
        let mut d = base.clone();
        d.remove("Signature");
        push(
            "Signature dropped",
            &d,
            denied(DenialReason::MissingSignature),
        );
        let mut d = base.clone();
        d.remove(first);
        push(
            &format!("{first} dropped"),
            &d,
            denied(DenialReason::NoPolicy),
        );
        let mut d = base.clone();
        d.creds.clear();
        push(
            "all credentials dropped",
            &d,
            denied(DenialReason::NoCredentials),
        );
    }
    for param in [first, "Signature", "Key-Pair-Id"]
        .into_iter()
        .chain(sc.sha256.then_some("Hash-Algorithm"))
    {
        let mut d = base.clone();
        let v = d.value(param);
        let pos = sc.knob(5, d.creds.len() + 1);
        d.creds.insert(pos, (t.name(param), v));
        push(
            &format!("{param} repeated"),
            &d,
            denied(DenialReason::Duplicate(t.name(param))),
        );
    }
    {
        // repeated with another (trusted) key ID: still a duplicate, never a choice
        let mut d = base.clone();
        let other = KEYS[sc.key ^ 1].id;
        d.creds.insert(0, (t.name("Key-Pair-Id"), other.to_owned()));
        push(
            "Key-Pair-Id repeated with another key",
            &d,
            denied(DenialReason::Duplicate(t.name("Key-Pair-Id"))),
        );
    }
    {
        // a parameter renamed to lower case
        let param = [first, "Signature", "Key-Pair-Id"][sc.knob(6, 3)];
        let lower = t.name(param).to_ascii_lowercase();
        let mut d = base.clone();
        d.rename(param, lower.clone());
        let expect = match (t, param) {
            // strict reading: a case variant in the query is refused
            (Transport::Query, "Key-Pair-Id") => {
                denied(DenialReason::MissingKeyPairId(CredentialSource::Query))
            }
            (Transport::Query, _) => denied(DenialReason::CaseVariant(lower.clone())),
            // cookie names are case-sensitive: the cookie is simply absent
            (Transport::Cookie, "Key-Pair-Id") => {
                denied(DenialReason::MissingKeyPairId(CredentialSource::Cookies))
            }
            (Transport::Cookie, "Signature") => denied(DenialReason::MissingSignature),
            (Transport::Cookie, _) => denied(DenialReason::NoPolicy),
        };
        push(&format!("{param} named {lower}"), &d, expect);
    }

    // --- key IDs ---
    {
        let same_type = sc.key ^ 1;
        let other_type = (sc.key + 2 + sc.knob(7, 2)) % 4;
        for (label, k) in [("same type", same_type), ("other type", other_type)] {
            let mut d = base.clone();
            d.set("Key-Pair-Id", KEYS[k].id.to_owned());
            push(
                &format!("other trusted key ({label})"),
                &d,
                denied(DenialReason::SignatureMismatch),
            );
        }
        let unknown = if KEYS.iter().any(|k| k.id == sc.unknown_id) {
            format!("{}X", sc.unknown_id)
        } else {
            sc.unknown_id.clone()
        };
        let mut d = base.clone();
        d.set("Key-Pair-Id", unknown.clone());
        push("unknown key", &d, denied(DenialReason::UnknownKey(unknown)));
        let lower = sc.key().id.to_ascii_lowercase();
        let mut d = base.clone();
        d.set("Key-Pair-Id", lower.clone());
        push(
            "key ID in lower case",
            &d,
            denied(DenialReason::UnknownKey(lower)),
        );
    }

    // --- Hash-Algorithm ---
    let hash_name = t.name("Hash-Algorithm");
    if sc.sha256 {
        let mut d = base.clone();
        d.remove("Hash-Algorithm");
        push(
            "Hash-Algorithm removed",
            &d,
            denied(DenialReason::SignatureMismatch),
        );
        let mut d = base.clone();
        d.set("Hash-Algorithm", "SHA1".into());
        push(
            "Hash-Algorithm SHA1",
            &d,
            denied(DenialReason::SignatureMismatch),
        );
        let mut d = base.clone();
        d.set("Hash-Algorithm", "sha256".into());
        push(
            "Hash-Algorithm lower-cased",
            &d,
            denied(DenialReason::UnknownHashAlgorithm("sha256".into())),
        );
        let mut d = base.clone();
        d.rename("Hash-Algorithm", hash_name.to_ascii_lowercase());
        let expect = match t {
            Transport::Query => denied(DenialReason::CaseVariant("hash-algorithm".into())),
            Transport::Cookie => denied(DenialReason::SignatureMismatch),
        };
        push("Hash-Algorithm name lower-cased", &d, expect);
    } else {
        let mut d = base.clone();
        d.add("Hash-Algorithm", "SHA256");
        push(
            "Hash-Algorithm=SHA256 added",
            &d,
            denied(DenialReason::SignatureMismatch),
        );
        let mut d = base.clone();
        d.add("Hash-Algorithm", "SHA1");
        push(
            "Hash-Algorithm=SHA1 added (explicit default)",
            &d,
            allowed(sc, &d),
        );
        let mut d = base.clone();
        d.add("Hash-Algorithm", "sha1");
        push(
            "Hash-Algorithm=sha1 added",
            &d,
            denied(DenialReason::UnknownHashAlgorithm("sha1".into())),
        );
        let mut d = base.clone();
        d.creds
            .push((hash_name.to_ascii_lowercase(), "SHA1".to_owned()));
        let expect = match t {
            Transport::Query => denied(DenialReason::CaseVariant("hash-algorithm".into())),
            // another cookie name: ignored
            Transport::Cookie => allowed(sc, &d),
        };
        push("hash-algorithm=SHA1 added", &d, expect);
    }
    for bad in ["", "SHA-256", "SHA512", "SHA256 "] {
        let mut d = base.clone();
        if sc.sha256 {
            d.set("Hash-Algorithm", bad.into());
        } else {
            d.add("Hash-Algorithm", bad);
        }
        let expect = match (t, bad) {
            // a trailing blank is trimmed from a cookie value ... and then it is valid
            (Transport::Cookie, "SHA256 ") if sc.sha256 => allowed(sc, &d),
            (Transport::Cookie, "SHA256 ") => denied(DenialReason::SignatureMismatch),
            _ => denied(DenialReason::UnknownHashAlgorithm(bad.into())),
        };
        push(&format!("Hash-Algorithm {bad:?}"), &d, expect);
    }

    // --- the URL ---
    {
        // scheme
        let mut d = base.clone();
        d.base = if let Some(rest) = d.base.strip_prefix("https://") {
            format!("http://{rest}")
        } else {
            format!("https://{}", d.base.strip_prefix("http://").unwrap())
        };
        push("scheme swapped", &d, after_url_change(sc, &d));
        // host: prefixed, upper-cased, port added/removed
        let scheme_end = base.base.find("://").unwrap() + 3;
        let host_end = scheme_end + base.base[scheme_end..].find('/').unwrap();
        let host = &base.base[scheme_end..host_end];
        let variants = [
            format!("x{host}"),
            format!("{}{}", host[..1].to_ascii_uppercase(), &host[1..]),
            match host.split_once(':') {
                Some((h, _)) => h.to_owned(),
                None if base.base.starts_with("https") => format!("{host}:443"),
                None => format!("{host}:80"),
            },
            format!("{host}.evil.example"),
        ];
        for (i, h) in variants.iter().enumerate() {
            let mut d = base.clone();
            d.base = format!("{}{h}{}", &base.base[..scheme_end], &base.base[host_end..]);
            push(
                &format!("host variant {i}: {h}"),
                &d,
                after_url_change(sc, &d),
            );
        }
        // path: a segment inserted at the root, one character changed, one appended
        let mut d = base.clone();
        d.base.insert_str(host_end + 1, "x/");
        push("path segment inserted", &d, after_url_change(sc, &d));
        let path = &base.base[host_end..];
        let mut letters = Vec::new(); // alphanumerics outside %XX escapes
        let mut i = 0;
        while i < path.len() {
            match path.as_bytes()[i] {
                b'%' => i += 3,
                c => {
                    if c.is_ascii_alphanumeric() {
                        letters.push(i);
                    }
                    i += 1;
                }
            }
        }
        if !letters.is_empty() {
            let i = letters[sc.knob(8, letters.len())];
            let mut d = base.clone();
            let c = path.as_bytes()[i];
            let new = if c == b'z' { 'y' } else { 'z' };
            d.base = format!(
                "{}{}{new}{}",
                &base.base[..host_end],
                &path[..i],
                &path[i + 1..]
            );
            push("path character changed", &d, after_url_change(sc, &d));
        }
        let mut d = base.clone();
        d.base
            .push_str(if d.base.ends_with('/') { "x" } else { "/" });
        push("path extended", &d, after_url_change(sc, &d));
        // Dot segments: CloudFront normalises them before matching, so the strict
        // reading (verify/strict.rs) denies them everywhere, wildcard or not, before
        // the signature is looked at (also percent-encoded).
        for segment in ["/../secret", "/./x", "/%2e%2E/secret"] {
            let mut d = base.clone();
            d.base.push_str(segment);
            push(
                "dot segments appended",
                &d,
                denied(DenialReason::DotSegments),
            );
        }
    }
    {
        // query: a parameter added (at the end, or after the credentials)
        let mut d = base.clone();
        d.own.push("zz=1".into());
        push("query parameter added", &d, after_url_change(sc, &d));
        if t == Transport::Query {
            let mut d = base.clone();
            d.creds.push(("zz".into(), "1".into()));
            let mut model = d.clone();
            model.creds.pop();
            model.own.push("zz=1".into());
            let expect = after_url_change(sc, &model);
            push("query parameter added after the signature", &d, expect);
        }
        if !base.own.is_empty() {
            let i = sc.knob(9, base.own.len());
            let mut d = base.clone();
            d.own[i].push('x');
            push("query value changed", &d, after_url_change(sc, &d));
            let mut d = base.clone();
            d.own.remove(i);
            push("query parameter removed", &d, after_url_change(sc, &d));
            let mut d = base.clone();
            d.own.insert(i, String::new());
            push("empty query segment", &d, after_url_change(sc, &d));
        }
        let mut reordered = base.own.clone();
        reordered.reverse();
        if reordered != base.own {
            let mut d = base.clone();
            d.own = reordered;
            push("own parameters reordered", &d, after_url_change(sc, &d));
        }
    }
    {
        // re-encodings of the user URL (%20 <-> +, ~ <-> %7E, hex case, %XX of a letter)
        let user = base.unsigned();
        let spots = re_encodings(&user);
        for k in 0..2 {
            if spots.is_empty() {
                break;
            }
            let (s, l, with) = &spots[sc.knob(10 + k, spots.len())];
            let mut d = base.clone();
            d.set_url(&replace_at(&user, *s, *l, with));
            push(
                &format!("re-encoded {:?} -> {with:?}", &user[*s..*s + *l]),
                &d,
                after_url_change(sc, &d),
            );
        }
    }
    {
        let mut d = base.clone();
        d.url_suffix = "#frag".into();
        push(
            "fragment",
            &d,
            denied(DenialReason::BadRequest(RequestError::Fragment)),
        );
    }
    if t == Transport::Cookie {
        // a CloudFront parameter in the query makes the query the credential source
        let mut d = base.clone();
        d.stray_query = vec!["Hash-Algorithm=SHA256".into()];
        push(
            "Hash-Algorithm alone in the query",
            &d,
            denied(DenialReason::MissingKeyPairId(CredentialSource::Query)),
        );
        let mut d = base.clone();
        d.stray_query = vec![format!("Key-Pair-Id={}", sc.key().id)];
        push(
            "Key-Pair-Id alone in the query",
            &d,
            denied(DenialReason::MissingSignature),
        );
    }

    // --- client IP ---
    match (sc.ip_bounds(), sc.source_ip()) {
        (Some((net, bcast)), Some(range)) => {
            let v4 = |a: u32| IpAddr::V4(Ipv4Addr::from(a));
            for (label, a) in [("network", net), ("broadcast", bcast)] {
                let mut d = base.clone();
                d.ip = Some(v4(a));
                push(&format!("client = {label}"), &d, allowed(sc, &d));
            }
            let mut outside = Vec::new();
            if net > 0 {
                outside.push(("below the network", net - 1));
            }
            if bcast < u32::MAX {
                outside.push(("above the broadcast", bcast + 1));
            }
            for (label, a) in outside {
                let mut d = base.clone();
                d.ip = Some(v4(a));
                push(
                    &format!("client just {label}"),
                    &d,
                    denied(DenialReason::IpNotAllowed {
                        client: v4(a),
                        range,
                    }),
                );
                let mapped = IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped());
                let mut d = base.clone();
                d.ip = Some(mapped);
                push(
                    &format!("client just {label}, IPv4-mapped"),
                    &d,
                    denied(DenialReason::IpNotAllowed {
                        client: mapped,
                        range,
                    }),
                );
            }
            let inside = match sc.client() {
                Some(IpAddr::V4(a)) => a,
                other => panic!("{other:?}"),
            };
            let mut d = base.clone();
            d.ip = Some(IpAddr::V6(inside.to_ipv6_mapped()));
            push("client inside, IPv4-mapped", &d, allowed(sc, &d));
            for v6 in [
                Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
                inside.to_ipv6_compatible(),
                // NAT64 well-known prefix 64:ff9b::/96 carrying the inside address
                Ipv6Addr::from((0x0064_ff9b_u128 << 96) | u128::from(u32::from(inside))),
            ] {
                let mut d = base.clone();
                d.ip = Some(IpAddr::V6(v6));
                push(
                    &format!("IPv6 client {v6}"),
                    &d,
                    denied(DenialReason::Ipv6Client(IpAddr::V6(v6))),
                );
            }
            let mut d = base.clone();
            d.ip = None;
            push("no client IP", &d, denied(DenialReason::NoClientIp));
        }
        _ => {
            for ip in [
                None,
                Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                Some(IpAddr::V4(Ipv4Addr::BROADCAST)),
            ] {
                let mut d = base.clone();
                d.ip = ip;
                push(
                    &format!("no IP condition, client {ip:?}"),
                    &d,
                    allowed(sc, &d),
                );
            }
        }
    }

    // --- time boundaries ---
    {
        let e = sc.expires();
        let expired = |t: i64| {
            denied(DenialReason::Expired {
                date_less_than: EpochSeconds::new(e).unwrap(),
                now: at(t),
            })
        };
        let mut d = base.clone();
        d.at = e - 1;
        push("at DateLessThan - 1", &d, allowed(sc, &d));
        for when in [e, e + 1] {
            let mut d = base.clone();
            d.at = when;
            push(
                &format!("at DateLessThan {:+}", when - e),
                &d,
                expired(when),
            );
        }
        if let Some(s) = sc.start() {
            let not_yet = |t: i64| {
                denied(DenialReason::NotYetValid {
                    date_greater_than: EpochSeconds::new(s).unwrap(),
                    now: at(t),
                })
            };
            for when in [s - 1, s] {
                let mut d = base.clone();
                d.at = when;
                push(
                    &format!("at DateGreaterThan {:+}", when - s),
                    &d,
                    not_yet(when),
                );
            }
            let mut d = base.clone();
            d.at = s + 1;
            push("at DateGreaterThan + 1", &d, allowed(sc, &d));
        }
    }
    Ok(out)
}

/// Every case of both transports of a scenario.
fn all_cases(sc: &Scenario) -> Result<Vec<Case>, TestCaseError> {
    let signed = sign(sc);
    let mut v = cases(sc, &signed, Transport::Query)?;
    v.extend(cases(sc, &signed, Transport::Cookie)?);
    Ok(v)
}

/// The mutation kind, for the coverage counts (the label without its details).
fn kind(label: &str) -> String {
    label
        .split([':', '"', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
        .next()
        .unwrap()
        .trim_end_matches([' ', '-', '+', '>'])
        .to_owned()
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn signer_output_is_accepted_and_mutations_are_decided_exactly() {
    let counts: RefCell<BTreeMap<String, usize>> = RefCell::new(BTreeMap::new());
    let shapes: RefCell<BTreeMap<String, usize>> = RefCell::new(BTreeMap::new());
    let mut runner = runner(192);
    let result = runner.run(&scenario(), |sc| {
        let all = all_cases(&sc)?;
        for case in &all {
            let decision = VERIFIER.verify(&case.req.view(), at(case.req.at));
            check_decision(&sc, case, &decision)?;
            let outcome = match &case.expect {
                Expect::Allowed { .. } => "allowed".to_owned(),
                Expect::Denied(code, _) => code.to_string(),
            };
            *counts
                .borrow_mut()
                .entry(format!("{} => {outcome}", kind(&case.label)))
                .or_default() += 1;
        }
        let key = sc.key();
        let shape = format!(
            "{} {} {:?}{}",
            if key.rsa { "RSA" } else { "ECDSA" },
            if sc.sha256 { "SHA-256" } else { "SHA-1" },
            sc.form(),
            match sc.grant() {
                Grant::Wildcard(_) => " wildcard",
                _ => "",
            }
        );
        *shapes.borrow_mut().entry(shape).or_default() += 1;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let counts = counts.into_inner();
    let total: usize = counts.values().sum();
    eprintln!("verify_properties: {total} decisions checked");
    for (k, n) in &counts {
        eprintln!("  {n:>6} {k}");
    }
    for (k, n) in &shapes.into_inner() {
        eprintln!("  scenario {k:<40} {n:>4}");
    }
    // every kind of mutation has run, with both transports
    for must in [
        "valid => allowed",
        "with unrelated cookies => allowed",
        "credentials reordered => allowed",
        "signature char => AccessDenied",
        "signature char => MalformedSignature",
        "signature byte flipped => AccessDenied",
        "signature truncated => AccessDenied",
        "signature ~ encoded twice => MalformedSignature",
        "policy char => MalformedPolicy",
        "Expires => AccessDenied",
        "Expires => MalformedPolicy",
        "Expires digit",
        "canned presented as custom => allowed",
        "Key-Pair-Id dropped => MissingKey",
        "Key-Pair-Id empty => MissingKey",
        "Signature dropped => MalformedSignature",
        "Expires dropped => MalformedPolicy",
        "Policy dropped => MalformedPolicy",
        "all credentials dropped => MissingKey",
        "Expires repeated => AccessDenied",
        "Policy repeated => AccessDenied",
        "Signature repeated => AccessDenied",
        "Key-Pair-Id repeated => AccessDenied",
        "Hash-Algorithm repeated => AccessDenied",
        "other trusted key (same type) => AccessDenied",
        "other trusted key (other type) => AccessDenied",
        "unknown key => InvalidKey",
        "key ID in lower case => InvalidKey",
        "Hash-Algorithm removed => AccessDenied",
        "Hash-Algorithm lower-cased => AccessDenied",
        "Hash-Algorithm name lower-cased => AccessDenied",
        "Hash-Algorithm=SHA => AccessDenied",
        "Hash-Algorithm=SHA => allowed",
        "scheme swapped => AccessDenied",
        "host variant => AccessDenied",
        "path segment inserted => AccessDenied",
        "path character changed => AccessDenied",
        "path extended => AccessDenied",
        "path extended => allowed",
        "dot segments appended => AccessDenied",
        "query parameter added => AccessDenied",
        "query parameter added => allowed",
        "query value changed => AccessDenied",
        "query parameter removed => AccessDenied",
        "own parameters reordered => AccessDenied",
        "re-encoded => AccessDenied",
        "re-encoded => allowed",
        "fragment => AccessDenied",
        "client just below the network => AccessDenied",
        "client just above the broadcast => AccessDenied",
        "client = network => allowed",
        "IPv => AccessDenied",
        "no client IP => AccessDenied",
        "at DateLessThan => allowed",
        "at DateLessThan => AccessDenied",
        "at DateGreaterThan => allowed",
        "at DateGreaterThan => AccessDenied",
    ]
    .iter()
    .flat_map(|m| [format!("Query/{m}"), format!("Cookie/{m}")])
    .chain(
        [
            "Query/query parameter added after the signature => AccessDenied",
            // query values are percent-decoded; cookie values are not
            "Query/signature ~ as % => allowed",
            "Cookie/signature ~ as % => MalformedSignature",
            "Query/signature fully percent-encoded => allowed",
            "Cookie/signature fully percent-encoded => MalformedSignature",
            "Query/signature with a trailing % => MalformedSignature",
            "Query/Key-Pair-Id percent-encoded => allowed",
            "Cookie/Key-Pair-Id percent-encoded => InvalidKey",
            "Query/Signature name percent-encoded => AccessDenied",
            "Query/policy ~ as % => allowed",
            "Cookie/policy ~ as % => MalformedPolicy",
            // Expires beside Policy: ignored in a URL, denied in cookies
            "Query/Expires added => allowed",
            "Cookie/Expires added => MalformedPolicy",
            "Query/Policy added => allowed",
            "Cookie/Policy added => MalformedPolicy",
        ]
        .map(str::to_owned),
    ) {
        let n: usize = counts
            .iter()
            .filter(|(k, _)| k.starts_with(&must))
            .map(|(_, n)| n)
            .sum();
        assert!(n >= 5, "only {n} cases of {must:?}; counts: {counts:#?}");
    }
}

#[test]
fn the_signature_cache_changes_no_decision() {
    let mut runner = runner(40);
    let strategy = (
        scenario(),
        prop::collection::vec(any::<Index>(), 20..40),
        any::<bool>(),
    );
    let result = runner.run(&strategy, |(sc, order, valid_last)| {
        let all = all_cases(&sc)?;
        // The valid URL and cookies first (so their signatures are cached; or,
        // for `valid_last`, only at the end), then a random sequence with
        // repetitions: mutations of accepted signatures, expired times, ...,
        // then the valid requests again.
        let valid: Vec<&Case> = all.iter().filter(|c| c.label.ends_with("/valid")).collect();
        prop_assert_eq!(valid.len(), 2);
        let mut sequence: Vec<&Case> = valid.clone();
        sequence.extend(order.iter().map(|i| &all[i.index(all.len())]));
        sequence.extend(valid.iter().copied());
        if valid_last {
            sequence.rotate_left(2);
        }
        for case in sequence {
            let view = case.req.view();
            let now = at(case.req.at);
            let plain = VERIFIER.verify(&view, now);
            let small = CACHED_SMALL.verify(&view, now);
            let large = CACHED_LARGE.verify(&view, now);
            prop_assert_eq!(&small, &plain, "[{}] capacity 3", case.label);
            prop_assert_eq!(&large, &plain, "[{}] capacity 100000", case.label);
            check_decision(&sc, case, &large)?;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The cache key must not be ambiguous: moving bytes between the policy and
/// the signature of an accepted request (a pretty-printed policy ending in a
/// newline; the newline moved to the front of the signature) gives the same
/// concatenation but must still be verified, and denied.
#[test]
fn the_cache_key_separates_policy_and_signature() {
    for k in [&KEYS[0], &KEYS[2]] {
        let json = format!(
            "{{\n  \"Statement\": [{{\"Resource\": \"https://x.net/v/*\", \"Condition\": {{\"DateLessThan\": {{\"AWS:EpochTime\": {}}}}}}}]\n}}\n",
            NOW + 600
        );
        let policy = Policy::from_json(&json).unwrap();
        let signer = Signer::new(KeyPairId::new(k.id).unwrap(), k.private.clone());
        let signed = signer.sign_policy(&policy).unwrap();
        let sig = cloudfront_base64::decode(signed.signature()).unwrap();
        let url = format!("https://x.net/v/1.ts?{}", signed.query_parameters());
        let cached = build_verifier().with_signature_cache(16);
        assert!(
            cached
                .verify(&ViewerRequest::new(&url), at(NOW))
                .is_allowed()
        );

        let shifted_policy = cloudfront_base64::encode(json.trim_end().as_bytes());
        let mut shifted_sig = b"\n".to_vec();
        shifted_sig.extend_from_slice(&sig);
        let forged = format!(
            "https://x.net/v/1.ts?Policy={shifted_policy}&Signature={}&Key-Pair-Id={}",
            cloudfront_base64::encode(&shifted_sig),
            k.id
        );
        for v in [&cached, &*VERIFIER] {
            let d = v.verify(&ViewerRequest::new(&forged), at(NOW));
            assert_eq!(
                d.denial().map(|d| d.reason().clone()),
                Some(DenialReason::SignatureMismatch),
                "{forged}"
            );
        }
    }
}

/// Regression (found by this suite; was a false accept through the signature
/// cache): `Verifier` clones share one signature cache, and its entries were
/// keyed by the key-pair *ID*, so two verifiers trusting *different* public keys
/// under one ID shared verdicts. Entries are now keyed by a fingerprint of the
/// public key itself.
///
/// `base = Verifier::new().with_signature_cache(100)`;
/// `a = base.clone().with_key("KSHARED", rsa2048.pub.pem)`;
/// `b = base.clone().with_key("KSHARED", rsa2048-b.pub.pem)`; a canned URL
/// signed with `rsa2048`: `b` denies, `a` allows, and `b` must deny again.
#[test]
fn regression_cloned_verifiers_never_share_verdicts_across_keys() {
    let id = KeyPairId::new("KSHARED").unwrap();
    let base = Verifier::new().with_signature_cache(100);
    let a = base.clone().with_key(id.clone(), KEYS[0].public.clone());
    let b = base.clone().with_key(id.clone(), KEYS[1].public.clone());
    let url = SignableUrl::parse("https://x.net/private/report.pdf").unwrap();
    let policy = Policy::builder(Resource::Url(url.clone()))
        .expires_at(at(NOW + 600))
        .build_at(at(NOW))
        .unwrap();
    let signed = Signer::new(id, KEYS[0].private.clone())
        .sign_url(&url, &policy)
        .unwrap();
    let request = ViewerRequest::new(signed.as_str());
    let reason = |d: Decision| d.denial().map(|d| d.reason().clone());

    assert_eq!(
        reason(b.verify(&request, at(NOW))),
        Some(DenialReason::SignatureMismatch),
        "b trusts another key under this ID"
    );
    assert!(
        a.verify(&request, at(NOW)).is_allowed(),
        "a trusts the signing key"
    );
    assert_eq!(
        reason(b.verify(&request, at(NOW))),
        Some(DenialReason::SignatureMismatch),
        "FALSE ACCEPT: b allowed a signature it cannot verify, because a cached it \
         (the cache is shared by clones and keyed by key-pair ID, not by public key)"
    );
}

/// Sub-second instants: access requires `now < DateLessThan` and
/// `now > DateGreaterThan`, both compared in whole seconds (strict readings).
#[test]
fn sub_second_boundaries() {
    let key = &KEYS[2];
    let policy = Policy::builder(Resource::pattern("https://x.net/v/*").unwrap())
        .expires_at(at(NOW + 600))
        .not_before(at(NOW - 100))
        .build_at(at(NOW))
        .unwrap();
    let signed = Signer::new(KeyPairId::new(key.id).unwrap(), key.private.clone())
        .sign_policy(&policy)
        .unwrap();
    let url = format!("https://x.net/v/a.ts?{}", signed.query_parameters());
    let ns = |s: i64, n: i32| Timestamp::new(s, n).unwrap();
    for (t, ok) in [
        (ns(NOW + 599, 999_999_999), true),
        (ns(NOW + 600, 0), false),
        (ns(NOW + 600, 1), false),
        (ns(NOW - 100, 0), false),
        (ns(NOW - 100, 999_999_999), false),
        (ns(NOW - 99, 0), true),
    ] {
        assert_eq!(
            VERIFIER.verify(&ViewerRequest::new(&url), t).is_allowed(),
            ok,
            "{t}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary text as URL and Cookie header: never a panic, never allowed.
    #[test]
    fn arbitrary_requests_never_panic_and_are_denied(
        url in prop_oneof![
            any::<String>(),
            "https?://[a-z.]{1,12}/[ -~]{0,60}",
            "https://x\\.net/[a-z]{0,5}\\?((Expires|Policy|Signature|Key-Pair-Id|Hash-Algorithm|expires)=[ -~]{0,20}&?){0,6}",
        ],
        cookie in prop::option::of(prop_oneof![
            any::<String>(),
            "((CloudFront-(Expires|Policy|Signature|Key-Pair-Id|Hash-Algorithm)|x)=[ -~]{0,30}; ?){0,6}",
        ]),
        ip in prop::option::of(any::<[u8; 16]>()),
        seconds in 0i64..=9_223_372_036,
    ) {
        let mut r = ViewerRequest::new(&url);
        if let Some(c) = &cookie {
            r = r.cookie_header(c);
        }
        if let Some(b) = ip {
            r = r.client_ip(IpAddr::V6(Ipv6Addr::from(b)));
        }
        let d = VERIFIER.verify(&r, at(seconds));
        let d2 = CACHED_SMALL.verify(&r, at(seconds));
        prop_assert!(!d.is_allowed(), "{d:?}");
        prop_assert_eq!(d, d2);
    }

    /// One arbitrary character inserted anywhere in a valid signed URL or
    /// cookie header: never a panic; and for a canned URL, never allowed
    /// (everything but the credentials' order is signed).
    #[test]
    fn one_inserted_character_never_panics(
        sc in scenario(),
        c in any::<char>(),
        pos in any::<Index>(),
        cookies in any::<bool>(),
    ) {
        let signed = sign(&sc);
        let text = if cookies { signed.cookie_header.clone() } else { signed.url.clone() };
        let boundaries: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
        let at_ = boundaries[pos.index(boundaries.len())];
        let mut mutated = text.clone();
        mutated.insert(at_, c);
        let req = if cookies {
            Req { url: sc.cookie_url(), cookie: Some(mutated.clone()), ip: sc.client(), at: NOW }
        } else {
            Req { url: mutated.clone(), cookie: None, ip: sc.client(), at: NOW }
        };
        let d = VERIFIER.verify(&req.view(), at(NOW));
        prop_assert_eq!(&d, &CACHED_LARGE.verify(&req.view(), at(NOW)));
        if let Decision::Allowed(a) = &d {
            // Harmless insertions exist (a blank between cookies, a character
            // under a wildcard); the forwarded URL must still be one the policy
            // covers.
            let forward = a.forward_url();
            let covered = match sc.grant() {
                Grant::Canned | Grant::Exact => forward == sc.url,
                Grant::Wildcard(prefix) => forward.starts_with(&prefix),
            };
            prop_assert!(covered, "allowed {mutated:?} forwarding {forward:?}");
        }
    }
}

/// Regression (found by this suite): `Expires` with leading zeros was accepted,
/// because the canned policy was rebuilt from the *parsed* number, so
/// `Expires=0001767200060` verified against a signature over
/// `"AWS:EpochTime":1767200060`. Whether CloudFront inserts the parameter's text
/// or its value is undocumented (spec §2.5, §6.2); the strict reading, now in
/// `verify::strict`, denies a non-canonical `Expires` (URL and cookie alike).
#[test]
fn regression_expires_with_leading_zeros_is_denied() {
    let key = &KEYS[0];
    let url = SignableUrl::parse("https://x.net/a.jpg").unwrap();
    let policy = Policy::builder(Resource::Url(url.clone()))
        .expires_at(at(NOW + 60))
        .build_at(at(NOW))
        .unwrap();
    let signer = Signer::new(KeyPairId::new(key.id).unwrap(), key.private.clone());
    let signed = signer.sign_url(&url, &policy).unwrap().into_string();
    let expires = format!("Expires={}", NOW + 60);
    let padded = signed.replace(&expires, &format!("Expires=000{}", NOW + 60));
    assert_ne!(padded, signed);
    let cookies = signer
        .sign_cookies(&policy)
        .unwrap()
        .cookie_header()
        .replace(&expires, &format!("Expires=0{}", NOW + 60));
    let cookie_request = ViewerRequest::new(url.as_str()).cookie_header(&cookies);
    let query = VERIFIER.verify(&ViewerRequest::new(&padded), at(NOW));
    let cookie = VERIFIER.verify(&cookie_request, at(NOW));
    assert!(
        !query.is_allowed() && !cookie.is_allowed(),
        "Expires with leading zeros: URL {padded:?} -> {query:?}; cookies {cookies:?} -> {cookie:?}"
    );
}
