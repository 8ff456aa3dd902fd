#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
//! Cross-implementation test of the *verifier*: URLs signed by other
//! implementations must be allowed by `cfsign::verify::Verifier` with the
//! matching public keys at a fixed "now", and denied after expiry (and before
//! the start, and from outside the IP range).
//!
//! * **botocore**: `CloudFrontSigner` with an RSA-SHA1 signer from
//!   `cryptography`, canned and custom policies (wildcard resources, start
//!   times, IP ranges); plus `cryptography` itself for ECDSA and SHA-256 over
//!   botocore's policy bytes, with the parameters in another order. All cases
//!   go through one Python process (`tests/oracles/peer_signers.py`).
//! * **The OpenSSL CLI recipe from the CloudFront docs**:
//!   `cat policy | tr -d "\n" | tr -d " \t\n\r" | openssl sha1 -sign private_key.pem | openssl base64 -A | tr -- '+=/' '-_~'`
//!   (and the `Policy` value with the same pipeline minus the signing), with
//!   policies written pretty-printed as in the docs; the SHA-256 variant
//!   (`openssl dgst -sha256 -sign`, `&Hash-Algorithm=SHA256`) and ECDSA
//!   (`openssl dgst -sha256|-sha1 -sign ec.pem`).
//!
//! Needs `botocore` and `cryptography` in the test virtual environment
//! (`.venv/`, made by `scripts/setup-python`) and the `openssl`
//! CLI (`apt-get install openssl`). Missing tools fail the tests, never skip them.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use cfsign::verify::{CredentialSource, Decision, DenialReason, KeyGroup, Verifier, ViewerRequest};
use cfsign::{
    EpochSeconds, HashAlgorithm, KeyPairId, PolicyForm, PublicKey, SignableUrl, SourceIp,
};
use jiff::Timestamp;
use serde_json::{Value, json};

const NOW: i64 = 1_767_200_000; // 2025-12-31T16:53:20Z
const SEED: u64 = 0x5eed_cf51_9e0f_0001;
const BOTOCORE_CASES: usize = 64;
const CRYPTOGRAPHY_CASES: usize = 32;
const PYTHON_HINT: &str = cfsign_testkit::python::INSTALL_HINT;
const OPENSSL_HINT: &str = "install the OpenSSL CLI: apt-get install openssl";
const RSA_ID: &str = "K2JCJMDEHXQW5F";
const EC_ID: &str = "K3ECDSAP256KEY";

fn key_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keys")
        .join(name)
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

fn public(name: &str) -> PublicKey {
    PublicKey::from_file(key_path(name)).unwrap()
}

/// Trusts the "A" keys under their IDs.
fn verifier() -> Verifier {
    Verifier::new().with_key_group(
        KeyGroup::new("peers")
            .with_key(KeyPairId::new(RSA_ID).unwrap(), public("rsa2048.pub.pem"))
            .with_key(KeyPairId::new(EC_ID).unwrap(), public("ec-p256.pub.pem")),
    )
}

/// Trusts the *other* ("B") keys under the same IDs: nothing may verify.
fn wrong_keys() -> Verifier {
    Verifier::new()
        .with_key(KeyPairId::new(RSA_ID).unwrap(), public("rsa2048-b.pub.pem"))
        .with_key(KeyPairId::new(EC_ID).unwrap(), public("ec-p256-b.pub.pem"))
}

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

/// What a case grants, as the test intends it (independent of the signer).
#[derive(Debug, Clone)]
struct Case {
    signer: &'static str,
    rsa: bool,
    hash: HashAlgorithm,
    url: String,
    resource: String,
    date_less_than: i64,
    date_greater_than: Option<i64>,
    /// As given to the signer (bare address or CIDR).
    ip: Option<String>,
    form: PolicyForm,
}

impl Case {
    fn key_pair_id(&self) -> &'static str {
        if self.rsa { RSA_ID } else { EC_ID }
    }
    fn source_ip(&self) -> Option<SourceIp> {
        self.ip.as_ref().map(|t| t.parse().unwrap())
    }
    /// (network, broadcast) of the IP range, computed here.
    fn ip_bounds(&self) -> Option<(u32, u32)> {
        self.ip.as_ref().map(|text| {
            let (addr, prefix) = text.split_once('/').unwrap_or((text, "32"));
            let addr: Ipv4Addr = addr.parse().unwrap();
            let prefix: u32 = prefix.parse().unwrap();
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            let net = u32::from(addr) & mask;
            (net, net | !mask)
        })
    }
    /// A client inside the range (the broadcast address: an edge).
    fn client(&self) -> Option<IpAddr> {
        self.ip_bounds()
            .map(|(_, bcast)| IpAddr::V4(Ipv4Addr::from(bcast)))
    }
}

const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

fn word(rng: &mut Rng, min: usize, max: usize) -> String {
    let len = min + rng.below(max - min + 1);
    (0..len)
        .map(|_| UNRESERVED[rng.below(UNRESERVED.len())] as char)
        .collect()
}

fn segment(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..1 + rng.below(3) {
        match rng.below(8) {
            0 => s.push_str("%20"),
            1 => s.push_str(rng.pick(&["%C3%A9", "%E2%82%AC", "%e6%97%a5"])),
            2 => {
                s.push_str(rng.pick(&["'", "+", "~", "!", "$", "(", ")", ",", ";", "=", ":", "@"]))
            }
            3 => s.push_str(rng.pick(&["%2F", "%25", "%3F", "%23", "%7E"])),
            _ => s.push_str(&word(rng, 1, 8)),
        }
    }
    s
}

fn url(rng: &mut Rng) -> String {
    let scheme = if rng.chance(70) { "https" } else { "http" };
    let mut text = format!(
        "{scheme}://{}",
        rng.pick(&[
            "d111111abcdef8.cloudfront.net",
            "cdn.example.com",
            "media-1.example.org",
            "192.0.2.10",
        ])
    );
    if rng.chance(20) {
        text.push_str(rng.pick(&[":8443", ":8080", ":443"]));
    }
    for _ in 0..rng.below(4) {
        text.push('/');
        text.push_str(&segment(rng));
    }
    text.push('/');
    if !rng.chance(10) {
        text.push_str(&segment(rng));
        text.push_str(rng.pick(&[".jpg", ".mp4", ".m3u8", ""]));
    }
    if rng.chance(50) {
        let params: Vec<String> = (0..1 + rng.below(3))
            .map(|_| {
                let name = rng.pick(&["v", "color", "size", "q", "a_b", "x-y", "t~"]);
                let value = match rng.below(5) {
                    0 => "a%2Fb%2Fc".to_owned(),
                    1 => "it's+here".to_owned(),
                    2 => "/p:a@b?c".to_owned(),
                    3 => String::new(),
                    _ => word(rng, 1, 10),
                };
                format!("{name}={value}")
            })
            .collect();
        text.push('?');
        text.push_str(&params.join("&"));
    }
    SignableUrl::parse(&text).unwrap_or_else(|e| panic!("generator made {text:?}: {e}"));
    text
}

/// A wildcard resource that covers `url` (by CloudFront's documented rules).
fn wildcard_for(rng: &mut Rng, url: &str) -> String {
    let u = SignableUrl::parse(url).unwrap();
    let (scheme, host, path) = (u.scheme(), u.host(), u.path());
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
        5 => match u.query() {
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

fn ip(rng: &mut Rng) -> String {
    let a = [[192, 0, 2], [198, 51, 100], [203, 0, 113], [10, 20, 30]][rng.below(4)];
    let last = rng.below(256);
    match rng.below(3) {
        0 => format!("{}.{}.{}.{last}", a[0], a[1], a[2]),
        1 => {
            let prefix = [8, 16, 24, 28, 31, 32][rng.below(6)];
            format!("{}.{}.{}.{last}/{prefix}", a[0], a[1], a[2])
        }
        _ => format!("{}.{}.{}.0/24", a[0], a[1], a[2]),
    }
}

fn generate(rng: &mut Rng, signer: &'static str, index: usize) -> Case {
    let (rsa, hash) = if signer == "botocore" {
        (true, HashAlgorithm::Sha1)
    } else {
        // the three combinations botocore cannot emit, and RSA-SHA1 too
        match index % 4 {
            0 => (true, HashAlgorithm::Sha256),
            1 => (false, HashAlgorithm::Sha1),
            2 => (false, HashAlgorithm::Sha256),
            _ => (true, HashAlgorithm::Sha1),
        }
    };
    let url = url(rng);
    let date_less_than = NOW + 1 + rng.below(400_000_000) as i64;
    let mut case = Case {
        signer,
        rsa,
        hash,
        resource: url.clone(),
        url,
        date_less_than,
        date_greater_than: None,
        ip: None,
        form: PolicyForm::Custom,
    };
    match (index / 4) % 5 {
        0 => case.form = PolicyForm::Canned,
        1 => case.date_greater_than = Some(NOW - 1 - rng.below(86_400) as i64),
        2 => {
            case.ip = Some(ip(rng));
            if rng.chance(40) {
                case.date_greater_than = Some(NOW - 1 - rng.below(86_400) as i64);
            }
        }
        _ => {
            case.resource = wildcard_for(rng, &case.url);
            if rng.chance(30) {
                case.date_greater_than = Some(NOW - 1 - rng.below(86_400) as i64);
            }
            if rng.chance(30) {
                case.ip = Some(ip(rng));
            }
        }
    }
    case
}

/// Fails (never skips) when the virtual environment, botocore or cryptography is missing.
fn require_python() {
    cfsign_testkit::python::require(&["botocore", "cryptography"]);
}

/// Fails (never skips) when the openssl CLI is missing.
fn require_openssl() {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`openssl version` failed ({}); {OPENSSL_HINT}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("cannot run openssl ({e}); {OPENSSL_HINT}"),
    }
}

/// Runs the oracle once for all cases; returns each case's signed URL and policy.
fn run_oracle(cases: &[Case]) -> Vec<(String, String)> {
    let input: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(id, c)| {
            let (private, key_type) = if c.rsa {
                ("rsa2048.pkcs1.pem", "rsa")
            } else {
                ("ec-p256.sec1.pem", "ecdsa")
            };
            json!({
                "id": id,
                "signer": c.signer,
                "url": c.url,
                "resource": c.resource,
                "date_less_than": c.date_less_than,
                "date_greater_than": c.date_greater_than,
                "ip": c.ip,
                "form": c.form.to_string(),
                "key_type": key_type,
                "hash": if c.hash == HashAlgorithm::Sha1 { "sha1" } else { "sha256" },
                "private_key": key_path(private),
                "key_pair_id": c.key_pair_id(),
            })
        })
        .collect();
    let oracle = format!(
        "{}/tests/oracles/peer_signers.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut child = cfsign_testkit::python::command()
        .arg(&oracle)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 {oracle}: {e}; {PYTHON_HINT}"));
    let bytes = serde_json::to_vec(&json!({ "cases": input })).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "oracle failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let mut signed: BTreeMap<usize, (String, String)> = BTreeMap::new();
    let mut summary = None;
    for line in stdout.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("oracle printed a non-JSON line {line:?}: {e}"));
        if let Some(s) = v.get("summary") {
            summary = Some(s.clone());
            continue;
        }
        let id = v["id"].as_u64().unwrap() as usize;
        let url = v["signed_url"].as_str().unwrap_or_else(|| panic!("{line}"));
        let policy = v["policy"].as_str().unwrap();
        assert!(
            signed
                .insert(id, (url.to_owned(), policy.to_owned()))
                .is_none(),
            "duplicate {line}"
        );
    }
    let summary =
        summary.unwrap_or_else(|| panic!("no summary from the oracle; stderr:\n{stderr}"));
    assert_eq!(summary["signed"], json!(cases.len()), "{summary}");
    assert_eq!(signed.len(), cases.len());
    signed.into_values().collect()
}

fn reason(d: &Decision) -> Option<DenialReason> {
    d.denial().map(|d| d.reason().clone())
}

/// The checks every peer-signed URL must pass. `what` names the case in messages.
fn check_peer_url(what: &str, case: &Case, signed: &str, policy_text: &str) {
    let v = verifier();
    let client = case.client();
    let request = |t: i64, ip: Option<IpAddr>| {
        let r = ViewerRequest::new(signed);
        let r = match ip {
            Some(ip) => r.client_ip(ip),
            None => r,
        };
        v.verify(&r, at(t))
    };

    // Allowed now, with the key, hash, form, policy and URL the peer used.
    match request(NOW, client) {
        Decision::Allowed(a) => {
            assert_eq!(a.key_pair_id(), case.key_pair_id(), "{what}");
            assert_eq!(a.key_group(), "peers", "{what}");
            assert_eq!(a.hash_algorithm(), case.hash, "{what}");
            assert_eq!(a.form(), case.form, "{what}");
            assert_eq!(a.source(), CredentialSource::Query, "{what}");
            assert_eq!(a.forward_url(), case.url, "{what}: {signed}");
            assert_eq!(a.policy_json(), policy_text, "{what}");
            assert_eq!(a.date_less_than().get(), case.date_less_than, "{what}");
            assert_eq!(
                a.date_greater_than().map(EpochSeconds::get),
                case.date_greater_than,
                "{what}"
            );
            assert_eq!(a.source_ip(), case.source_ip(), "{what}");
            assert_eq!(a.resource(), Some(case.resource.as_str()), "{what}");
        }
        Decision::Denied(d) => panic!("{what}: peer-signed URL denied: {d}\n  {signed}"),
    }

    // Denied at and after DateLessThan.
    for t in [case.date_less_than, case.date_less_than + 1] {
        assert_eq!(
            reason(&request(t, client)),
            Some(DenialReason::Expired {
                date_less_than: EpochSeconds::new(case.date_less_than).unwrap(),
                now: at(t),
            }),
            "{what} at {t}"
        );
    }
    assert!(
        request(case.date_less_than - 1, client).is_allowed(),
        "{what}"
    );

    // Denied on the start, allowed one second later.
    if let Some(s) = case.date_greater_than {
        assert_eq!(
            reason(&request(s, client)),
            Some(DenialReason::NotYetValid {
                date_greater_than: EpochSeconds::new(s).unwrap(),
                now: at(s),
            }),
            "{what}"
        );
        assert!(request(s + 1, client).is_allowed(), "{what}");
    }

    // Denied from just outside the range.
    if let (Some((net, bcast)), Some(range)) = (case.ip_bounds(), case.source_ip()) {
        for outside in [net.checked_sub(1), bcast.checked_add(1)]
            .into_iter()
            .flatten()
        {
            let ip = IpAddr::V4(Ipv4Addr::from(outside));
            assert_eq!(
                reason(&request(NOW, Some(ip))),
                Some(DenialReason::IpNotAllowed { client: ip, range }),
                "{what}"
            );
        }
    }

    // Denied when the same IDs name other keys.
    let mut r = ViewerRequest::new(signed);
    if let Some(ip) = client {
        r = r.client_ip(ip);
    }
    assert_eq!(
        reason(&wrong_keys().verify(&r, at(NOW))),
        Some(DenialReason::SignatureMismatch),
        "{what}"
    );

    // The same values as cookies on the unsigned URL: allowed too.
    let query = &signed[case.url.len() + 1..];
    let cookies: Vec<String> = query
        .split('&')
        .map(|p| format!("CloudFront-{p}"))
        .collect();
    let cookie_header = cookies.join("; ");
    let mut r = ViewerRequest::new(&case.url).cookie_header(&cookie_header);
    if let Some(ip) = client {
        r = r.client_ip(ip);
    }
    match v.verify(&r, at(NOW)) {
        Decision::Allowed(a) => {
            assert_eq!(a.source(), CredentialSource::Cookies, "{what}");
            assert_eq!(a.forward_url(), case.url, "{what}");
        }
        Decision::Denied(d) => panic!("{what}: as cookies {cookie_header:?}: {d}"),
    }
}

#[test]
fn urls_signed_by_botocore_and_cryptography_are_allowed() {
    require_python();
    let mut rng = Rng(SEED);
    let mut cases: Vec<Case> = (0..BOTOCORE_CASES)
        .map(|i| generate(&mut rng, "botocore", i))
        .collect();
    cases.extend((0..CRYPTOGRAPHY_CASES).map(|i| generate(&mut rng, "cryptography", i)));
    let signed = run_oracle(&cases);

    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (case, (url, policy))) in cases.iter().zip(&signed).enumerate() {
        let what = format!(
            "case {i} ({} {:?} {} {})",
            case.signer,
            case.hash,
            if case.rsa { "RSA" } else { "ECDSA" },
            case.form
        );
        // The peer appended to the URL unchanged.
        assert!(
            url.starts_with(&case.url) && url[case.url.len()..].starts_with(['?', '&']),
            "{what}: {url}"
        );
        check_peer_url(&what, case, url, policy);
        for tag in [
            format!("signer {}", case.signer),
            format!("{} {:?}", if case.rsa { "RSA" } else { "ECDSA" }, case.hash),
            format!("form {}", case.form),
        ]
        .into_iter()
        .chain(case.ip.as_ref().map(|_| "IP".to_owned()))
        .chain(case.date_greater_than.map(|_| "start".to_owned()))
        .chain((case.resource != case.url).then(|| "wildcard".to_owned()))
        {
            *counts.entry(tag).or_default() += 1;
        }
    }
    eprintln!(
        "verify_interop: {} peer-signed URLs allowed, and denied after expiry",
        cases.len()
    );
    for (k, n) in &counts {
        eprintln!("  {k:<24} {n:>4}");
    }
    for must in [
        "signer botocore",
        "signer cryptography",
        "RSA Sha1",
        "RSA Sha256",
        "ECDSA Sha1",
        "ECDSA Sha256",
        "form canned",
        "form custom",
        "IP",
        "start",
        "wildcard",
    ] {
        let n = counts.get(must).copied().unwrap_or(0);
        assert!(n >= 5, "only {n} cases of {must:?}");
    }
    assert!(counts["signer botocore"] >= 50);
}

/// A scratch folder, removed on drop (also on panic).
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "cfsign-verify-interop-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a shell pipeline with `sh -c`, $1.. set to `args`; returns stdout.
fn sh(script: &str, args: &[&Path]) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

/// Policies as a person following the docs writes them (pretty-printed), the
/// URL requested, and what the compacted policy grants.
struct DocPolicy {
    name: &'static str,
    file: String,
    url: &'static str,
    canned: bool,
    resource: &'static str,
    date_less_than: i64,
    date_greater_than: Option<i64>,
    ip: Option<&'static str>,
}

fn doc_policies() -> Vec<DocPolicy> {
    let dlt = NOW + 3600;
    let canned = |url: &'static str| DocPolicy {
        name: "canned",
        file: format!(
            r#"{{"Statement":[{{"Resource":"{url}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{dlt}}}}}}}]}}"#
        ),
        url,
        canned: true,
        resource: url,
        date_less_than: dlt,
        date_greater_than: None,
        ip: None,
    };
    vec![
        canned("https://d111111abcdef8.cloudfront.net/images/image.jpg?color=red&size=medium"),
        DocPolicy {
            name: "canned, escapes and port",
            ..canned("http://cdn.example.com:8080/r%C3%A9sum%C3%A9%201.pdf?name=a%2Fb~c'd+e")
        },
        DocPolicy {
            name: "custom wildcard (pretty-printed)",
            file: format!(
                "{{\n    \"Statement\": [\n        {{\n            \"Resource\": \"https://d111111abcdef8.cloudfront.net/videos/*\",\n            \"Condition\": {{\n                \"DateLessThan\": {{\n                    \"AWS:EpochTime\": {dlt}\n                }}\n            }}\n        }}\n    ]\n}}\n"
            ),
            url: "https://d111111abcdef8.cloudfront.net/videos/intro%20final.mp4?t=10",
            canned: false,
            resource: "https://d111111abcdef8.cloudfront.net/videos/*",
            date_less_than: dlt,
            date_greater_than: None,
            ip: None,
        },
        DocPolicy {
            name: "custom start + IP (pretty-printed, conditions reordered)",
            file: format!(
                "{{\n  \"Statement\": [\n    {{\n      \"Resource\": \"https://d111111abcdef8.cloudfront.net/a.mp4\",\n      \"Condition\": {{\n        \"IpAddress\": {{ \"AWS:SourceIp\": \"192.0.2.0/24\" }},\n        \"DateGreaterThan\": {{ \"AWS:EpochTime\": {} }},\n        \"DateLessThan\": {{ \"AWS:EpochTime\": {dlt} }}\n      }}\n    }}\n  ]\n}}\r\n",
                NOW - 60
            ),
            url: "https://d111111abcdef8.cloudfront.net/a.mp4",
            canned: false,
            resource: "https://d111111abcdef8.cloudfront.net/a.mp4",
            date_less_than: dlt,
            date_greater_than: Some(NOW - 60),
            ip: Some("192.0.2.0/24"),
        },
        DocPolicy {
            name: "custom any scheme, host wildcard, tabs",
            file: format!(
                "{{\"Statement\":[{{\t\"Resource\":\"*://*.example.com/*\",\n\t\"Condition\":{{\"DateLessThan\":{{\"AWS:EpochTime\":{dlt}}}}}}}]}}"
            ),
            url: "http://media.example.com/x/y.jpg?size=2",
            canned: false,
            resource: "*://*.example.com/*",
            date_less_than: dlt,
            date_greater_than: None,
            ip: None,
        },
    ]
}

#[test]
fn urls_signed_with_the_openssl_recipe_are_allowed() {
    require_openssl();
    let scratch = Scratch::new();
    let v = verifier();
    // (private key file, key ID, the signing command, hash)
    let combos: [(&str, &str, &str, HashAlgorithm); 4] = [
        // verbatim from the CloudFront docs
        (
            "rsa2048.pkcs1.pem",
            RSA_ID,
            "openssl sha1 -sign",
            HashAlgorithm::Sha1,
        ),
        (
            "rsa2048.pkcs8.pem",
            RSA_ID,
            "openssl dgst -sha256 -sign",
            HashAlgorithm::Sha256,
        ),
        (
            "ec-p256.sec1.pem",
            EC_ID,
            "openssl dgst -sha256 -sign",
            HashAlgorithm::Sha256,
        ),
        (
            "ec-p256.pkcs8.pem",
            EC_ID,
            "openssl dgst -sha1 -sign",
            HashAlgorithm::Sha1,
        ),
    ];
    let mut checked = 0;
    for (private, id, command, hash) in combos {
        for p in doc_policies() {
            let what = format!("{} / {private} / {command}", p.name);
            let policy_file = scratch.0.join("policy");
            std::fs::write(&policy_file, &p.file).unwrap();
            let signature = sh(
                &format!(
                    r#"cat "$1" | tr -d "\n" | tr -d " \t\n\r" | {command} "$2" | openssl base64 -A | tr -- '+=/' '-_~'"#
                ),
                &[&policy_file, &key_path(private)],
            );
            let compact = sh(
                r#"cat "$1" | tr -d "\n" | tr -d " \t\n\r""#,
                &[&policy_file],
            );
            let first = if p.canned {
                format!("Expires={}", p.date_less_than)
            } else {
                let encoded = sh(
                    r#"cat "$1" | tr -d "\n" | tr -d " \t\n\r" | openssl base64 -A | tr -- '+=/' '-_~'"#,
                    &[&policy_file],
                );
                format!("Policy={encoded}")
            };
            let sep = if p.url.contains('?') { '&' } else { '?' };
            let mut signed = format!(
                "{}{sep}{first}&Signature={signature}&Key-Pair-Id={id}",
                p.url
            );
            if hash == HashAlgorithm::Sha256 {
                signed.push_str("&Hash-Algorithm=SHA256");
            }
            let client: Option<IpAddr> = p.ip.map(|_| "192.0.2.200".parse().unwrap());
            let request = |t: i64, ip: Option<IpAddr>| {
                let r = ViewerRequest::new(&signed);
                let r = match ip {
                    Some(ip) => r.client_ip(ip),
                    None => r,
                };
                v.verify(&r, at(t))
            };
            match request(NOW, client) {
                Decision::Allowed(a) => {
                    assert_eq!(a.key_pair_id(), id, "{what}");
                    assert_eq!(a.hash_algorithm(), hash, "{what}");
                    assert_eq!(a.forward_url(), p.url, "{what}");
                    assert_eq!(a.policy_json(), compact, "{what}");
                    assert_eq!(
                        a.form(),
                        if p.canned {
                            PolicyForm::Canned
                        } else {
                            PolicyForm::Custom
                        },
                        "{what}"
                    );
                    assert_eq!(a.resource(), Some(p.resource), "{what}");
                    assert_eq!(a.date_less_than().get(), p.date_less_than, "{what}");
                    assert_eq!(
                        a.date_greater_than().map(EpochSeconds::get),
                        p.date_greater_than
                    );
                    assert_eq!(a.source_ip(), p.ip.map(|t| t.parse().unwrap()), "{what}");
                }
                Decision::Denied(d) => panic!("{what}: denied: {d}\n  {signed}"),
            }
            for t in [p.date_less_than, p.date_less_than + 1] {
                assert_eq!(
                    reason(&request(t, client)),
                    Some(DenialReason::Expired {
                        date_less_than: EpochSeconds::new(p.date_less_than).unwrap(),
                        now: at(t),
                    }),
                    "{what}"
                );
            }
            if let Some(s) = p.date_greater_than {
                assert!(matches!(
                    reason(&request(s, client)),
                    Some(DenialReason::NotYetValid { .. })
                ));
            }
            if p.ip.is_some() {
                for outside in ["192.0.1.255", "192.0.3.0"] {
                    assert!(
                        matches!(
                            reason(&request(NOW, Some(outside.parse().unwrap()))),
                            Some(DenialReason::IpNotAllowed { .. })
                        ),
                        "{what}: {outside}"
                    );
                }
            }
            // the other key under the same ID, and a tampered URL: denied
            let mut r = ViewerRequest::new(&signed);
            if let Some(ip) = client {
                r = r.client_ip(ip);
            }
            assert_eq!(
                reason(&wrong_keys().verify(&r, at(NOW))),
                Some(DenialReason::SignatureMismatch),
                "{what}"
            );
            if p.canned {
                let tampered = signed
                    .replacen(".cloudfront.net/", ".cloudfront.net/x", 1)
                    .replacen(".com:8080/", ".com:8080/x", 1);
                assert_eq!(
                    reason(&v.verify(&ViewerRequest::new(&tampered), at(NOW))),
                    Some(DenialReason::SignatureMismatch),
                    "{what}: {tampered}"
                );
            } else {
                let other = if p.resource.starts_with("*://") {
                    "http://media.example.org/x/y.jpg?size=2"
                } else {
                    "https://d111111abcdef8.cloudfront.net/audio/a.mp3"
                };
                let other_sep = if other.contains('?') { '&' } else { '?' };
                let moved = format!("{other}{other_sep}{}", &signed[p.url.len() + 1..]);
                let mut r = ViewerRequest::new(&moved);
                if let Some(ip) = client {
                    r = r.client_ip(ip);
                }
                assert!(
                    matches!(
                        reason(&v.verify(&r, at(NOW))),
                        Some(DenialReason::ResourceMismatch { .. })
                    ),
                    "{what}: {moved}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * doc_policies().len());
    eprintln!(
        "verify_interop: {checked} URLs from the OpenSSL recipe allowed, and denied after expiry"
    );
}
