//! Cross-check against the OpenSSL CLI, following AWS's documented recipes
//! ("Create a URL signature using OpenSSL"):
//!
//! * verify: our CloudFront-base64 signature, decoded with
//!   `tr -- '-_~' '+=/' | openssl base64 -d -A`, passes
//!   `openssl dgst -sha1|-sha256 -verify public.pem -signature sig.bin policy.json`
//!   for canned and custom policies with all four key/hash combinations (and
//!   fails for another key or a changed policy);
//! * sign (RSA is deterministic): `cat policy | tr -d "\n" | tr -d " \t\n\r" |
//!   openssl sha1 -sign private_key.pem | openssl base64 -A | tr -- '+=/' '-_~'`
//!   produces exactly our signature.
//!
//! Needs the `openssl` CLI (`apt-get install openssl`); without it the test fails.

// Helpers outside #[test] fns are not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cfsign::{
    HashAlgorithm, KeyPairId, Policy, PolicyForm, PrivateKey, Resource, SignableUrl, Signer,
    cloudfront_base64,
};
use jiff::Timestamp;

const NOW: i64 = 1_767_200_000;
const EXPIRES: i64 = 1_767_290_400;

fn key_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keys")
        .join(name)
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

/// A scratch folder under the system temp dir, removed on drop (also on panic).
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "cfsign-openssl-{label}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn require_openssl() {
    let out = Command::new("openssl").arg("version").output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`openssl version` failed ({}); install the OpenSSL CLI: apt-get install openssl",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => {
            panic!("cannot run openssl ({e}); install the OpenSSL CLI: apt-get install openssl")
        }
    }
}

/// Runs a shell pipeline with `sh -c`, the script's $1.. set to `args`; returns stdout.
fn sh(script: &str, args: &[&Path]) -> (bool, Vec<u8>, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The policies checked: canned and custom (wildcard, start time, IP).
fn policies() -> Vec<(&'static str, Policy)> {
    let url = |s: &str| Resource::Url(SignableUrl::parse(s).unwrap());
    let base = |r: Resource| Policy::builder(r).expires_at(at(EXPIRES));
    vec![
        (
            "canned",
            base(url(
                "https://d111111abcdef8.cloudfront.net/images/image.jpg?color=red&size=medium",
            ))
            .build_at(at(NOW))
            .unwrap(),
        ),
        (
            "canned-encoded",
            base(url(
                "http://cdn.example.com:8080/r%C3%A9sum%C3%A9%201.pdf?name=a%2Fb~c'd+e",
            ))
            .build_at(at(NOW))
            .unwrap(),
        ),
        (
            "custom-wildcard",
            base(Resource::pattern("https://d111111abcdef8.cloudfront.net/videos/*").unwrap())
                .build_at(at(NOW))
                .unwrap(),
        ),
        (
            "custom-start-ip",
            base(url("https://d111111abcdef8.cloudfront.net/a.mp4"))
                .not_before(at(1_767_200_000))
                .source_ip("192.0.2.0/24".parse().unwrap())
                .build_at(at(NOW))
                .unwrap(),
        ),
        (
            "custom-duration",
            Policy::builder(Resource::pattern("*://*.example.com/*").unwrap())
                .expires_in(Duration::from_secs(3600))
                .source_ip("203.0.113.7".parse().unwrap())
                .build_at(at(NOW))
                .unwrap(),
        ),
    ]
}

const COMBOS: [(&str, &str, HashAlgorithm); 4] = [
    ("rsa2048.pkcs1.pem", "rsa2048.pub.pem", HashAlgorithm::Sha1),
    (
        "rsa2048.pkcs8.pem",
        "rsa2048.pub.pem",
        HashAlgorithm::Sha256,
    ),
    ("ec-p256.sec1.pem", "ec-p256.pub.pem", HashAlgorithm::Sha1),
    (
        "ec-p256.pkcs8.pem",
        "ec-p256.pub.pem",
        HashAlgorithm::Sha256,
    ),
];

fn dgst_flag(hash: HashAlgorithm) -> &'static str {
    match hash {
        HashAlgorithm::Sha1 => "-sha1",
        HashAlgorithm::Sha256 => "-sha256",
    }
}

fn signer(private: &str, hash: HashAlgorithm) -> Signer {
    Signer::new(
        KeyPairId::new("K2JCJMDEHXQW5F").unwrap(),
        PrivateKey::from_file(key_path(private)).unwrap(),
    )
    .with_hash_algorithm(hash)
    .unwrap()
}

#[test]
fn openssl_verifies_our_signatures() {
    require_openssl();
    let scratch = Scratch::new("verify");
    let mut checked = 0;
    for (private, public, hash) in COMBOS {
        let signer = signer(private, hash);
        for (name, policy) in policies() {
            let signed = signer.sign_policy(&policy).unwrap();
            assert_eq!(
                signed.form() == PolicyForm::Canned,
                name.starts_with("canned")
            );
            let what = format!("{name} / {private} / {hash:?}");

            // The policy bytes: for custom, what the Policy parameter carries.
            let policy_bytes = match signed.encoded_policy() {
                Some(p) => cloudfront_base64::decode(p).unwrap(),
                None => policy.json().as_bytes().to_vec(),
            };
            assert_eq!(policy_bytes, policy.json().as_bytes(), "{what}");
            let policy_file = scratch.path("policy.json");
            std::fs::write(&policy_file, &policy_bytes).unwrap();

            // Decode our signature as the AWS docs do.
            let sig_text = scratch.path("sig.txt");
            std::fs::write(&sig_text, signed.signature()).unwrap();
            let (ok, sig_bin, err) = sh(
                r#"tr -- '-_~' '+=/' < "$1" | openssl base64 -d -A"#,
                &[&sig_text],
            );
            assert!(ok, "{what}: decoding failed: {err}");
            assert_eq!(
                sig_bin,
                cloudfront_base64::decode(signed.signature()).unwrap(),
                "{what}: openssl base64 and cloudfront_base64 disagree"
            );
            let sig_file = scratch.path("sig.bin");
            std::fs::write(&sig_file, &sig_bin).unwrap();

            let verify = |public: &str, policy_file: &Path| {
                let out = Command::new("openssl")
                    .args(["dgst", dgst_flag(hash), "-verify"])
                    .arg(key_path(public))
                    .arg("-signature")
                    .arg(&sig_file)
                    .arg(policy_file)
                    .output()
                    .unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                (
                    out.status.success() && stdout.contains("Verified OK"),
                    stdout,
                )
            };
            let (ok, stdout) = verify(public, &policy_file);
            assert!(ok, "{what}: openssl did not verify: {stdout}");

            // Another key, or a policy changed by one byte: must not verify.
            let other = if public.starts_with("rsa") {
                "rsa2048-b.pub.pem"
            } else {
                "ec-p256-b.pub.pem"
            };
            assert!(
                !verify(other, &policy_file).0,
                "{what}: verified with {other}"
            );
            let mut tampered = policy_bytes.clone();
            let i = tampered.len() - 6; // inside the last epoch / closing braces
            tampered[i] ^= 0x01;
            let tampered_file = scratch.path("tampered.json");
            std::fs::write(&tampered_file, &tampered).unwrap();
            assert!(
                !verify(public, &tampered_file).0,
                "{what}: tampered policy verified"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * policies().len());
    eprintln!("openssl dgst -verify: {checked} signatures verified (4 key/hash combinations)");
}

#[test]
fn aws_openssl_recipe_produces_our_rsa_signatures() {
    require_openssl();
    let scratch = Scratch::new("sign");
    let mut checked = 0;
    for private in ["rsa2048.pkcs1.pem", "rsa2048.pkcs8.pem"] {
        for hash in [HashAlgorithm::Sha1, HashAlgorithm::Sha256] {
            let signer = signer(private, hash);
            for (name, policy) in policies() {
                let policy_file = scratch.path("policy");
                std::fs::write(&policy_file, policy.json()).unwrap();
                // Verbatim from the AWS docs, with sha1 or sha256.
                let digest = if hash == HashAlgorithm::Sha1 {
                    "sha1"
                } else {
                    "sha256"
                };
                let script = format!(
                    r#"cat "$1" | tr -d "\n" | tr -d " \t\n\r" | openssl {digest} -sign "$2" | openssl base64 -A | tr -- '+=/' '-_~'"#
                );
                let (ok, out, err) = sh(&script, &[&policy_file, &key_path(private)]);
                assert!(ok, "{name}: openssl recipe failed: {err}");
                let theirs = String::from_utf8(out).unwrap();
                let ours = signer.sign_policy(&policy).unwrap();
                assert_eq!(
                    theirs.trim_end(),
                    ours.signature(),
                    "{name} / {private} / {hash:?}: signature differs from the OpenSSL recipe"
                );
                // and the signed URL carries exactly that value
                if policy.form() == PolicyForm::Canned {
                    let url = SignableUrl::parse(policy.resource().unwrap().as_str()).unwrap();
                    let signed = signer.sign_url(&url, &policy).unwrap();
                    assert!(
                        signed
                            .as_str()
                            .contains(&format!("&Signature={}&", theirs.trim_end())),
                        "{}",
                        signed.as_str()
                    );
                }
                checked += 1;
            }
        }
    }
    eprintln!("openssl -sign recipe: {checked} RSA signatures identical");
}
