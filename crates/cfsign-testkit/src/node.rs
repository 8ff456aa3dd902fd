//! The npm CloudFront signers people use, as test oracles: `aws-cloudfront-sign`
//! (its URLs carry both `Expires` and `Policy`, with `~` written `%7E` by
//! `URLSearchParams`) and `@aws-sdk/cloudfront-signer`. The script
//! `crates/cfsign/tests/oracles/node/signers.cjs` signs a set of URLs and cookies
//! with both (canned, custom, wildcard, IP, SHA-256) with the RSA test key; the
//! packages are the versions pinned in that folder's `package-lock.json`,
//! installed by `scripts/setup-node-oracles`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// What to run when Node.js or the npm packages are missing.
pub const INSTALL_HINT: &str = "run `scripts/setup-node-oracles` (scripts/test runs it): it needs \
     Node.js 20+ and npm (apt-get install nodejs npm) and installs the versions pinned in \
     crates/cfsign/tests/oracles/node/package-lock.json";

/// The key-pair ID the signers are given.
pub const KEY_PAIR_ID: &str = "K2NODEORACLE";

/// The distribution host of every URL signed (`https://`).
pub const HOST: &str = "d111111abcdef8.cloudfront.net";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The folder with `package.json`, the lock file and `signers.cjs`.
#[must_use]
pub fn oracle_dir() -> PathBuf {
    workspace().join("crates/cfsign/tests/oracles/node")
}

/// The RSA-2048 private key the signers use (PKCS#1 PEM, as `aws-cloudfront-sign` documents).
#[must_use]
pub fn private_key_path() -> PathBuf {
    workspace().join("crates/cfsign/tests/data/keys/rsa2048.pkcs1.pem")
}

/// Its public key (SPKI PEM), to trust under [`KEY_PAIR_ID`].
#[must_use]
pub fn public_key_path() -> PathBuf {
    workspace().join("crates/cfsign/tests/data/keys/rsa2048.pub.pem")
}

/// One request signed by an npm signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// A unique name, e.g. `acs/url-ip` or `js3/cookies-wildcard`.
    pub id: String,
    /// The npm package that signed it.
    pub package: String,
    /// Its version.
    pub version: String,
    /// The function called (`getSignedUrl`, `getSignedCookies`).
    pub api: String,
    /// `true` for a custom policy, as the signer made it.
    pub custom: bool,
    /// The URL the viewer requests (for cookies, the URL they are sent with).
    pub url: String,
    /// The `Cookie` header (cookies only).
    pub cookie: Option<String>,
    /// The viewer's IP, for IP-restricted policies.
    pub client: Option<IpAddr>,
    /// `true` when signed with SHA-256.
    pub sha256: bool,
    /// `DateLessThan`, epoch seconds.
    pub expires: i64,
}

impl Signed {
    /// Whether it was made by `aws-cloudfront-sign`.
    #[must_use]
    pub fn is_aws_cloudfront_sign(&self) -> bool {
        self.package == "aws-cloudfront-sign"
    }

    /// The URL without its signing parameters: what the origin must get.
    #[must_use]
    pub fn unsigned_url(&self) -> String {
        const SIGNING: [&str; 5] = [
            "Expires",
            "Policy",
            "Signature",
            "Key-Pair-Id",
            "Hash-Algorithm",
        ];
        let Some((base, query)) = self.url.split_once('?') else {
            return self.url.clone();
        };
        let own: Vec<&str> = query
            .split('&')
            .filter(|p| !SIGNING.contains(&p.split('=').next().unwrap_or(p)))
            .collect();
        if own.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", own.join("&"))
        }
    }
}

/// Signs every case with both npm signers at `now` (epoch seconds; every policy
/// expires an hour later). `aws-cloudfront-sign` refuses expiries in the past and
/// after January 2038, so `now` must be the real time.
///
/// # Panics
///
/// If `node` cannot be run or the packages are missing or not the pinned
/// versions (with [`INSTALL_HINT`]; nothing is skipped), or the output is not
/// what `signers.cjs` prints.
#[must_use]
pub fn sign_all(now: i64) -> Vec<Signed> {
    let script = oracle_dir().join("signers.cjs");
    let output = Command::new("node")
        .arg(&script)
        .arg(private_key_path())
        .arg(KEY_PAIR_ID)
        .arg(now.to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `node {}`: {e}; {INSTALL_HINT}",
                script.display()
            )
        });
    assert!(
        output.status.success(),
        "`node {}` failed ({}): {}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("signers.cjs printed no JSON array: {e}"));
    let text = |case: &serde_json::Value, field: &str| -> Option<String> {
        case.get(field)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let cases: Vec<Signed> = value
        .as_array()
        .expect("signers.cjs prints a JSON array")
        .iter()
        .map(|case| {
            let field =
                |name: &str| text(case, name).unwrap_or_else(|| panic!("no {name:?} in {case}"));
            Signed {
                id: field("id"),
                package: field("package"),
                version: field("version"),
                api: field("api"),
                custom: match field("form").as_str() {
                    "custom" => true,
                    "canned" => false,
                    other => panic!("form {other:?} in {case}"),
                },
                url: field("url"),
                cookie: text(case, "cookie"),
                client: text(case, "client").map(|ip| ip.parse().expect("an IP address")),
                sha256: field("hash") == "SHA256",
                expires: case
                    .get("expires")
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or_else(|| panic!("no expires in {case}")),
            }
        })
        .collect();
    assert!(!cases.is_empty(), "signers.cjs signed nothing");
    cases
}
