//! Cross-implementation test: every URL cfsign signs here is re-signed by
//! botocore's `CloudFrontSigner` (the AWS SDK for Python / AWS CLI) and compared.
//!
//! The cases are generated deterministically (a seeded SplitMix64 below, fixed
//! epochs, `build_at` with a fixed "now"), sent as one JSON document to
//! `tests/oracles/botocore_sign.py`, which runs once for all of them. RSA + SHA-1
//! URLs must be byte-identical to botocore's; for SHA-256 and ECDSA (which
//! botocore cannot emit) the URL without its signature must be identical and the
//! signature must verify over botocore's policy bytes (see the oracle's docs).
//!
//! Needs `botocore` and `cryptography` in the test virtual environment:
//! `.venv/`, made by `scripts/setup-python`. Missing ones fail
//! the test, they do not skip it.

// Helpers outside #[test] fns are not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

use cfsign::{
    HashAlgorithm, KeyPairId, Policy, PolicyForm, PrivateKey, Resource, SignableUrl, Signer,
};
use jiff::Timestamp;
use serde_json::{Value, json};

const CASES: usize = 400;
const SEED: u64 = 0x00c0_ffee_cf51_9e00;
const NOW: i64 = 1_767_200_000; // 2025-12-31T16:53:20Z
const KEY_PAIR_ID: &str = "K2JCJMDEHXQW5F";
const INSTALL_HINT: &str = cfsign_testkit::python::INSTALL_HINT;

/// SplitMix64: tiny, seeded, good enough to pick test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform-ish in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Combo {
    RsaSha1,
    RsaSha256,
    EcdsaSha1,
    EcdsaSha256,
}

const COMBOS: [Combo; 4] = [
    Combo::RsaSha1,
    Combo::RsaSha256,
    Combo::EcdsaSha1,
    Combo::EcdsaSha256,
];

impl Combo {
    fn is_rsa(self) -> bool {
        matches!(self, Combo::RsaSha1 | Combo::RsaSha256)
    }
    fn hash(self) -> HashAlgorithm {
        match self {
            Combo::RsaSha1 | Combo::EcdsaSha1 => HashAlgorithm::Sha1,
            Combo::RsaSha256 | Combo::EcdsaSha256 => HashAlgorithm::Sha256,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Combo::RsaSha1 => "RSA-2048 SHA-1",
            Combo::RsaSha256 => "RSA-2048 SHA-256",
            Combo::EcdsaSha1 => "ECDSA P-256 SHA-1",
            Combo::EcdsaSha256 => "ECDSA P-256 SHA-256",
        }
    }
}

fn key_path(name: &str) -> String {
    format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// One signing job, as the user would state it.
struct Case {
    combo: Combo,
    /// Private key file (both on-disk formats are used).
    key_file: &'static str,
    url: String,
    /// The resource the user gave (`--resource`), defaulting to the URL.
    resource: String,
    /// Expiry: absolute, or a duration from NOW.
    expires_at: Option<i64>,
    expires_in: Option<u64>,
    starts_at: Option<i64>,
    /// As typed (bare address or CIDR), before `/32` is added.
    ip: Option<String>,
    /// Categories, for the summary and the coverage assertions.
    tags: Vec<&'static str>,
}

/// Path/query pieces that are valid on the wire as-is.
const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

fn word(rng: &mut Rng, min: usize, max: usize) -> String {
    let len = min + rng.below(max - min + 1);
    (0..len)
        .map(|_| UNRESERVED[rng.below(UNRESERVED.len())] as char)
        .collect()
}

/// A path segment (never empty), recording which special features it used.
fn segment(rng: &mut Rng, star: bool, tags: &mut BTreeSet<&'static str>) -> String {
    let mut s = String::new();
    for _ in 0..1 + rng.below(3) {
        match rng.below(10) {
            0 => {
                s.push_str("%20");
                tags.insert("space %20");
            }
            1 => {
                s.push_str(rng.pick(&["%C3%A9", "%E2%82%AC", "%F0%9F%98%80", "%E6%97%A5"]));
                tags.insert("UTF-8 %XX");
            }
            2 => {
                s.push_str(rng.pick(&[
                    "'", "+", "~", "!", "$", "(", ")", ",", ";", "=", ":", "@", "&",
                ]));
                tags.insert("sub-delims in path");
            }
            3 => {
                s.push_str(rng.pick(&["%2F", "%25", "%3F", "%23", "%2a"]));
                tags.insert("%2F-style escapes");
            }
            _ => s.push_str(&word(rng, 1, 8)),
        }
    }
    if star && rng.chance(40) {
        // at either end, so that no %XX escape is split
        if rng.chance(50) {
            s.insert(0, '*');
        } else {
            s.push('*');
        }
    }
    s
}

const QUERY_NAMES: &[&str] = &[
    "v",
    "color",
    "size",
    "q",
    "a_b",
    "x-y",
    "token",
    "response-content-disposition",
    "t~",
    "sig",
];

fn query(rng: &mut Rng, star: bool, tags: &mut BTreeSet<&'static str>) -> String {
    let params: Vec<String> = (0..1 + rng.below(3))
        .map(|_| {
            let name = rng.pick(QUERY_NAMES);
            if rng.chance(10) {
                return name.to_owned(); // a flag without '='
            }
            let value = match rng.below(8) {
                0 => "a%2Fb%2Fc".to_owned(),
                1 => format!("{}~{}", word(rng, 1, 4), word(rng, 0, 3)),
                2 => "it's+here".to_owned(),
                3 => "x=y".to_owned(),
                4 => "attachment%3B%20filename%3D%22r%C3%A9sum%C3%A9.pdf%22".to_owned(),
                5 => "/p:a@b?c".to_owned(),
                6 => String::new(),
                _ => word(rng, 1, 10),
            };
            format!("{name}={value}")
        })
        .collect();
    tags.insert("query string");
    let mut q = params.join("&");
    if star && rng.chance(30) {
        q.push_str("&glob=*");
    }
    q
}

const HOSTS: &[&str] = &[
    "d111111abcdef8.cloudfront.net",
    "cdn.example.com",
    "media-1.example.org",
    "a.b.c.example.net",
    "192.0.2.10",
];

/// Generates a URL. `star`: may contain '*' (which makes the policy custom).
fn url(rng: &mut Rng, star: bool) -> (String, BTreeSet<&'static str>) {
    let mut tags = BTreeSet::new();
    let scheme = if rng.chance(70) { "https" } else { "http" };
    tags.insert(if scheme == "https" { "https" } else { "http" });
    let mut text = format!("{scheme}://{}", rng.pick(HOSTS));
    if rng.chance(20) {
        text.push_str(rng.pick(&[":8443", ":8080", ":443", ":80", ":1"]));
        tags.insert("port");
    }
    let segments = rng.below(4);
    for _ in 0..segments {
        text.push('/');
        text.push_str(&segment(rng, star, &mut tags));
    }
    text.push('/');
    if segments == 0 || !rng.chance(10) {
        // a file name (otherwise a trailing '/')
        text.push_str(&segment(rng, star, &mut tags));
        text.push_str(rng.pick(&[".jpg", ".mp4", ".m3u8", ".pdf", "", ".tar.gz"]));
    }
    if rng.chance(50) {
        text.push('?');
        text.push_str(&query(rng, star, &mut tags));
    }
    if text.contains('*') {
        tags.insert("'*' in URL");
    }
    (text, tags)
}

/// A wildcard resource that covers `url` and differs from it.
fn wildcard_for(rng: &mut Rng, url: &SignableUrl) -> String {
    let scheme = url.scheme();
    let host = url.host();
    let path = url.path();
    let dir = &path[..=path.rfind('/').unwrap()];
    let host_glob = match host.find('.') {
        Some(dot) => format!("*{}", &host[dot..]),
        None => "*".to_owned(),
    };
    match rng.below(7) {
        0 => format!("{scheme}://{host}{dir}*"),
        1 => format!("{scheme}://{host}/*"),
        2 => format!("*://{host}{dir}*"),
        3 => format!("http*://{host}{dir}*"),
        4 => format!("{scheme}://{host_glob}{dir}*"),
        5 => match url.query() {
            // an explicit query section
            Some(q) if !q.contains('?') => format!("{scheme}://{host}{path}?{}*", &q[..1]),
            _ => format!("{scheme}://{host}{path}?*"),
        },
        _ => {
            if rng.chance(50) {
                "*".to_owned()
            } else {
                format!("{scheme}://{host}*")
            }
        }
    }
}

fn ip(rng: &mut Rng) -> (String, &'static str) {
    let a = [[192, 0, 2], [198, 51, 100], [203, 0, 113], [10, 20, 30]][rng.below(4)];
    let last = rng.below(256);
    match rng.below(3) {
        0 => (format!("{}.{}.{}.{last}", a[0], a[1], a[2]), "IP bare"),
        1 => {
            let prefix = [8, 16, 24, 32, 0, 28][rng.below(6)];
            (
                format!("{}.{}.{}.{last}/{prefix}", a[0], a[1], a[2]),
                "IP CIDR",
            )
        }
        _ => (format!("{}.{}.{}.0/24", a[0], a[1], a[2]), "IP CIDR"),
    }
}

fn generate(rng: &mut Rng, index: usize) -> Case {
    let combo = COMBOS[index % 4];
    let key_file = match (combo.is_rsa(), rng.chance(50)) {
        (true, true) => "rsa2048.pkcs1.pem",
        (true, false) => "rsa2048.pkcs8.pem",
        (false, true) => "ec-p256.sec1.pem",
        (false, false) => "ec-p256.pkcs8.pem",
    };
    // Cycle through the policy shapes so each combo sees each shape.
    let shape = (index / 4) % 6;
    let (url_text, url_tags) = url(rng, shape == 4 || shape == 5);
    let parsed = SignableUrl::parse(&url_text)
        .unwrap_or_else(|e| panic!("generator made an invalid URL {url_text:?}: {e}"));
    let mut tags: Vec<&'static str> = url_tags.into_iter().collect();
    let mut resource = url_text.clone();
    let mut starts_at = None;
    let mut ip_text = None;
    let (expires_at, expires_in) = if rng.chance(50) {
        (Some(NOW + 1 + rng.below(400_000_000) as i64), None)
    } else {
        (None, Some(1 + rng.below(30 * 86_400) as u64))
    };
    let expiry = expires_at.unwrap_or_else(|| NOW + expires_in.unwrap() as i64);
    let mut add_start = |rng: &mut Rng, tags: &mut Vec<&'static str>| {
        // before or after "now", always before the expiry
        let earliest = NOW - 86_400;
        starts_at = Some(earliest + rng.below((expiry - earliest) as usize) as i64);
        tags.push("start time");
    };
    match shape {
        0 => {}                         // canned
        1 => add_start(rng, &mut tags), // custom: start time
        2 => {
            let (text, tag) = ip(rng);
            ip_text = Some(text);
            tags.push(tag);
            if rng.chance(30) {
                add_start(rng, &mut tags);
            }
        }
        3 | 5 => {
            resource = wildcard_for(rng, &parsed);
            tags.push("wildcard resource");
            if shape == 5 || rng.chance(25) {
                add_start(rng, &mut tags);
            }
            if shape == 5 || rng.chance(25) {
                let (text, tag) = ip(rng);
                ip_text = Some(text);
                tags.push(tag);
            }
        }
        _ => {
            // URL that may contain '*': the resource is the URL itself
            if url_text.contains('*') {
                tags.push("'*' URL as its own resource");
            }
            if rng.chance(20) {
                add_start(rng, &mut tags);
            }
        }
    }
    tags.push(if expires_at.is_some() {
        "expires_at"
    } else {
        "expires_in"
    });
    Case {
        combo,
        key_file,
        url: url_text,
        resource,
        expires_at,
        expires_in,
        starts_at,
        ip: ip_text,
        tags,
    }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

/// Signs one case with cfsign; returns the oracle's JSON object and the form.
fn sign(case: &Case, id: usize, signers: &BTreeMap<String, Signer>) -> (Value, PolicyForm) {
    let url = SignableUrl::parse(&case.url).unwrap();
    // As the CLI does: the URL itself when no resource is given (a '?' in its
    // query stays literal and canned), else the resource parsed on its own.
    let resource = if case.resource == case.url {
        Resource::from(url.clone())
    } else {
        Resource::parse(&case.resource)
            .unwrap_or_else(|e| panic!("resource {:?}: {e}", case.resource))
    };
    let mut builder = Policy::builder(resource);
    builder = match (case.expires_at, case.expires_in) {
        (Some(e), _) => builder.expires_at(at(e)),
        (None, Some(d)) => builder.expires_in(Duration::from_secs(d)),
        (None, None) => unreachable!(),
    };
    if let Some(s) = case.starts_at {
        builder = builder.not_before(at(s));
    }
    if let Some(ip) = &case.ip {
        builder = builder.source_ip(ip.parse().unwrap());
    }
    let policy = builder.build_at(at(NOW)).unwrap();
    let signer = &signers[format!("{}/{:?}", case.key_file, case.combo.hash()).as_str()];
    let signed = signer
        .sign_url(&url, &policy)
        .unwrap_or_else(|e| panic!("case {id} ({}): {e}", case.url));
    let (pub_file, key_type) = if case.combo.is_rsa() {
        ("rsa2048.pub.pem", "rsa")
    } else {
        ("ec-p256.pub.pem", "ecdsa")
    };
    let value = json!({
        "id": id,
        "url": case.url,
        "resource": case.resource,
        "date_less_than": policy.date_less_than().get(),
        "date_greater_than": case.starts_at,
        "ip": case.ip,
        "form": policy.form().to_string(),
        "key_type": key_type,
        "hash": if case.combo.hash() == HashAlgorithm::Sha1 { "sha1" } else { "sha256" },
        "private_key": key_path(case.key_file),
        "public_key": key_path(pub_file),
        "key_pair_id": KEY_PAIR_ID,
        "signed_url": signed.as_str(),
    });
    (value, policy.form())
}

/// Fails (never skips) when the virtual environment, botocore or cryptography is missing.
fn require_python() {
    cfsign_testkit::python::require(&["botocore", "cryptography"]);
}

#[test]
fn botocore_agrees_with_cfsign() {
    require_python();

    let mut signers = BTreeMap::new();
    for file in [
        "rsa2048.pkcs1.pem",
        "rsa2048.pkcs8.pem",
        "ec-p256.sec1.pem",
        "ec-p256.pkcs8.pem",
    ] {
        let key = PrivateKey::from_file(key_path(file)).unwrap();
        for hash in [HashAlgorithm::Sha1, HashAlgorithm::Sha256] {
            let signer = Signer::new(KeyPairId::new(KEY_PAIR_ID).unwrap(), key.clone())
                .with_hash_algorithm(hash)
                .unwrap();
            signers.insert(format!("{file}/{hash:?}"), signer);
        }
    }

    let mut rng = Rng(SEED);
    let mut cases = Vec::with_capacity(CASES);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for id in 0..CASES {
        let case = generate(&mut rng, id);
        let (value, form) = sign(&case, id, &signers);
        // cfsign's form choice is what the test intended (the oracle re-checks it
        // against the AWS CLI rule independently).
        let wants_custom = case.resource != case.url
            || case.url.contains('*')
            || case.starts_at.is_some()
            || case.ip.is_some();
        assert_eq!(
            form == PolicyForm::Custom,
            wants_custom,
            "case {id}: {} chose {form}",
            case.url
        );
        *counts.entry(format!("form {form}")).or_default() += 1;
        *counts
            .entry(format!("key {}", case.combo.name()))
            .or_default() += 1;
        *counts
            .entry(format!("key file {}", case.key_file))
            .or_default() += 1;
        for tag in &case.tags {
            *counts.entry((*tag).to_owned()).or_default() += 1;
        }
        cases.push(value);
    }

    // Run the oracle once for all cases.
    let oracle = format!(
        "{}/tests/oracles/botocore_sign.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut child = cfsign_testkit::python::command()
        .arg(&oracle)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 {oracle}: {e}; {INSTALL_HINT}"));
    let input = serde_json::to_vec(&json!({ "cases": cases })).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);

    let mut passed = BTreeSet::new();
    let mut failures = Vec::new();
    let mut summary = None;
    for line in stdout.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("oracle printed a non-JSON line {line:?}: {e}"));
        if let Some(s) = v.get("summary") {
            summary = Some(s.clone());
        } else if v["ok"] == Value::Bool(true) {
            assert!(passed.insert(v["id"].as_u64().unwrap()), "duplicate {line}");
        } else {
            failures.push(v);
        }
    }
    for f in failures.iter().take(10) {
        let id = f["id"].as_u64().unwrap() as usize;
        eprintln!(
            "MISMATCH case {id}: {}\n  input:    {}\n  cfsign:   {}\n  botocore: {}",
            f["reason"], cases[id], f["ours"], f["botocore"]
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {CASES} cases disagree with botocore (first 10 above)",
        failures.len()
    );
    assert!(
        output.status.success(),
        "oracle exited with {}; stderr:\n{stderr}",
        output.status
    );
    let summary = summary.unwrap_or_else(|| panic!("oracle printed no summary; stderr:\n{stderr}"));
    assert_eq!(summary["checked"], json!(CASES), "{summary}");
    assert_eq!(summary["failed"], json!(0), "{summary}");
    let expected: BTreeSet<u64> = (0..CASES as u64).collect();
    assert_eq!(passed, expected, "the oracle did not confirm every case");

    // Coverage: every category the test promises is actually exercised.
    for category in [
        "form canned",
        "form custom",
        "key RSA-2048 SHA-1",
        "key RSA-2048 SHA-256",
        "key ECDSA P-256 SHA-1",
        "key ECDSA P-256 SHA-256",
        "wildcard resource",
        "start time",
        "IP bare",
        "IP CIDR",
        "query string",
        "'*' in URL",
        "'*' URL as its own resource",
        "port",
        "http",
        "https",
        "space %20",
        "UTF-8 %XX",
        "sub-delims in path",
        "%2F-style escapes",
        "expires_at",
        "expires_in",
    ] {
        let n = counts.get(category).copied().unwrap_or(0);
        assert!(n >= 10, "only {n} cases in category {category:?}");
    }
    eprintln!("botocore interop: {} cases, all agree", passed.len());
    for (category, n) in &counts {
        eprintln!("  {category:<28} {n:>4}");
    }
}
