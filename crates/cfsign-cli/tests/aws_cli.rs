//! `cfsign aws ...` and `--kms-key-id`, through the real binary, against a real
//! moto server (cfsign-testkit). The dummy credentials are set in the child's
//! environment only; nothing of the developer's AWS set-up leaks in.
#![cfg(feature = "aws")]
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::process::Command;

use cfsign_testkit::cli::{self, EdgeProcess};
use cfsign_testkit::credentials::{self, Keys, ProcessProfile, SsoPortal};
use cfsign_testkit::moto::{ACCESS_KEY_ID, Moto, REGION, SECRET_ACCESS_KEY};
use cfsign_testkit::s3::{self, S3Object};
use serde_json::Value;

fn cfsign(moto: &Moto) -> Command {
    let mut c = cli::command(env!("CARGO_BIN_EXE_cfsign"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            c.env_remove(name);
        }
    }
    c.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // For `url`/`cookies`/`batch --kms-key-id`, which use the standard chain only.
        .env("AWS_ENDPOINT_URL", moto.endpoint());
    c
}

/// Runs `cfsign aws ARGS --endpoint-url MOTO`; returns (code, stdout, stderr).
fn aws(moto: &Moto, args: &[&str]) -> (i32, String, String) {
    cli::run(
        cfsign(moto)
            .arg("aws")
            .args(args)
            .args(["--endpoint-url", &moto.endpoint()]),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn run(moto: &Moto, args: &[&str], stdin: &str) -> (i32, String, String) {
    cli::run_with_stdin(cfsign(moto).args(args), stdin)
}

#[test]
fn setup_dry_run_changes_nothing_then_setup_twice_is_idempotent() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let keys = keys.to_str().unwrap();

    // Dry run: lists the mutating calls, writes no key, creates nothing.
    let (code, out, err) = aws(
        &moto,
        &[
            "setup",
            "--bucket",
            "cli-media",
            "--create-bucket",
            "--generate-key",
            keys,
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["dry_run"], true);
    let mutating: Vec<&str> = v["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["mutating"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        mutating.contains(&"s3:CreateBucket")
            && mutating.contains(&"cloudfront:CreateDistributionWithTags"),
        "{mutating:?}"
    );
    assert!(!std::path::Path::new(keys).exists(), "a dry run wrote keys");
    let counts = moto.python(
        "import boto3,os\nkw=dict(endpoint_url=os.environ['MOTO_ENDPOINT'])\ncf=boto3.client('cloudfront',**kw); s3=boto3.client('s3',**kw)\nprint(len(s3.list_buckets()['Buckets']), cf.list_distributions()['DistributionList']['Quantity'], cf.list_key_groups()['KeyGroupList']['Quantity'])",
        b"",
    );
    assert_eq!(counts.trim(), "0 0 0");

    // The real run, then again: everything unchanged, no mutating call.
    let (code, out, err) = aws(
        &moto,
        &[
            "setup",
            "--bucket",
            "cli-media",
            "--create-bucket",
            "--generate-key",
            keys,
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let first = json(&out);
    assert!(
        first["signed_url"]
            .as_str()
            .unwrap()
            .contains("Key-Pair-Id=")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(format!("{keys}/private_key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (code, out, err) = aws(
        &moto,
        &[
            "setup",
            "--bucket",
            "cli-media",
            "--generate-key",
            keys,
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let second = json(&out);
    assert_eq!(second["unchanged"], true, "{out}");
    assert!(
        second["calls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["mutating"] == false)
    );
    assert_eq!(
        second["report"]["distribution_id"],
        first["report"]["distribution_id"]
    );

    // The text form says so, per resource.
    let (code, out, _) = aws(
        &moto,
        &["setup", "--bucket", "cli-media", "--generate-key", keys],
    );
    assert_eq!(code, 0);
    assert_eq!(
        out.lines()
            .take(7)
            .filter(|l| l.contains("unchanged"))
            .count(),
        7,
        "{out}"
    );

    // The signed URL verifies against the public key written next to the private key.
    let url = first["signed_url"].as_str().unwrap();
    let id = first["report"]["key_pair_id"].as_str().unwrap();
    let (code, out, err) = run(
        &moto,
        &[
            "verify",
            url,
            "--public-key",
            &format!("{id}={keys}/public_key.pem"),
        ],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn keys_rotate_list_retire_and_refuse_the_last_key() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old");
    let new = dir.path().join("new");
    let (code, out, err) = aws(
        &moto,
        &[
            "setup",
            "--bucket",
            "rot-media",
            "--create-bucket",
            "--generate-key",
            old.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let old_id = json(&out)["report"]["key_pair_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (code, out, err) = aws(
        &moto,
        &[
            "keys",
            "rotate",
            "--key-group",
            "cfsign-rot-media",
            "--generate-key",
            new.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("sign new URLs and cookies with Key-Pair-Id"),
        "{out}"
    );
    assert!(out.contains(&format!("--key-id {old_id}")), "{out}");

    let (code, out, _) = aws(
        &moto,
        &["keys", "list", "--key-group", "cfsign-rot-media", "--json"],
    );
    assert_eq!(code, 0);
    let list = json(&out);
    let ids: Vec<&str> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], old_id);
    let new_id = ids[1].to_owned();

    let (code, out, err) = aws(
        &moto,
        &[
            "keys",
            "retire",
            "--key-group",
            "cfsign-rot-media",
            "--key-id",
            &old_id,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("deleted"), "{out}");

    let (code, out, err) = aws(
        &moto,
        &[
            "keys",
            "retire",
            "--key-group",
            "cfsign-rot-media",
            "--key-id",
            &new_id,
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("last key") && err.contains("rotate"), "{err}");
    assert!(out.is_empty());
}

const BROKEN: &str = r#"
import boto3, os
kw = dict(endpoint_url=os.environ["MOTO_ENDPOINT"])
boto3.client("s3", **kw).create_bucket(Bucket="broken")
cf = boto3.client("cloudfront", **kw)
oac = cf.create_origin_access_control(OriginAccessControlConfig={"Name": "o", "SigningProtocol": "sigv4",
    "SigningBehavior": "always", "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]
print(cf.create_distribution(DistributionConfig={"CallerReference": "x", "Comment": "", "Enabled": True,
    "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": "broken.s3.us-east-1.amazonaws.com",
        "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": oac}]},
    "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "https-only",
        "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})["Distribution"]["Id"])
"#;

#[test]
fn doctor_exit_codes_and_findings() {
    let moto = Moto::start();
    let id = moto.python(BROKEN, b"").trim().to_owned();
    let (code, out, err) = aws(&moto, &["doctor", "--distribution", &id]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("error [behavior-unrestricted]"), "{out}");
    assert!(out.contains("error [bucket-policy-missing]"), "{out}");
    assert!(out.contains("fix: "), "{out}");

    let (code, out, _) = aws(&moto, &["doctor", "--distribution", &id, "--json"]);
    assert_eq!(code, 1);
    let v = json(&out);
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "bucket-policy-missing" && f["severity"] == "error")
    );

    // Fixed by setup (same bucket: a second distribution of cfsign's own), then clean.
    let (code, out, err) = aws(
        &moto,
        &[
            "setup",
            "--bucket",
            "broken",
            "--generate-key",
            tempfile::tempdir()
                .unwrap()
                .path()
                .join("k")
                .to_str()
                .unwrap(),
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let good = json(&out)["report"]["distribution_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, out, err) = aws(&moto, &["doctor", "--distribution", &good]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 error(s)"), "{out}");

    // CloudFront answers NoSuchDistribution: an AWS service error, exit 3.
    let (code, out, err) = aws(&moto, &["doctor", "--distribution", "E000000NOPE"]);
    assert_eq!(code, 3, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("NoSuchDistribution") && err.contains("check the name or ID"),
        "{err}"
    );
}

const KMS_KEYS: &str = r#"
import boto3, os
from cryptography.hazmat.primitives.serialization import load_der_public_key, Encoding, PublicFormat
kms = boto3.client("kms", endpoint_url=os.environ["MOTO_ENDPOINT"])
for spec in ["RSA_2048", "ECC_NIST_P256"]:
    k = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/cf-" + spec.lower(), TargetKeyId=k)
    der = kms.get_public_key(KeyId=k)["PublicKey"]
    pem = load_der_public_key(der).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    open(os.path.join(os.environ["OUT"], spec + ".pem"), "w").write(pem)
print("ok")
"#;

#[test]
fn kms_signs_url_cookies_and_batch_through_the_binary() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let script = KMS_KEYS.replace(
        "os.environ[\"OUT\"]",
        &format!("{:?}", dir.path().to_str().unwrap()),
    );
    assert_eq!(moto.python(&script, b"").trim(), "ok");
    for spec in ["RSA_2048", "ECC_NIST_P256"] {
        let alias = format!("alias/cf-{}", spec.to_lowercase());
        let pem = dir.path().join(format!("{spec}.pem"));
        let trusted = format!("K2JCJMDEHXQW5F={}", pem.display());
        let (code, url, err) = run(
            &moto,
            &[
                "url",
                "https://d111111abcdef8.cloudfront.net/kms/a.jpg",
                "--key-pair-id",
                "K2JCJMDEHXQW5F",
                "--kms-key-id",
                &alias,
                "--expires-in",
                "1h",
            ],
            "",
        );
        assert_eq!(code, 0, "{err}");
        assert!(url.trim().ends_with("&Hash-Algorithm=SHA256"), "{url}");
        let (code, out, err) = run(&moto, &["verify", url.trim(), "--public-key", &trusted], "");
        assert_eq!(code, 0, "{spec}: {out}{err}");

        let (code, out, err) = run(
            &moto,
            &[
                "cookies",
                "https://d111111abcdef8.cloudfront.net/kms/*",
                "--key-pair-id",
                "K2JCJMDEHXQW5F",
                "--kms-key-id",
                &alias,
                "--expires-in",
                "1h",
                "--json",
            ],
            "",
        );
        assert_eq!(code, 0, "{err}");
        let header = json(&out)["cookie_header"].as_str().unwrap().to_owned();
        let (code, out, err) = run(
            &moto,
            &[
                "verify",
                "https://d111111abcdef8.cloudfront.net/kms/b.jpg",
                "--cookie",
                &header,
                "--public-key",
                &trusted,
            ],
            "",
        );
        assert_eq!(code, 0, "{spec} cookies: {out}{err}");

        let input: String = (0..20)
            .map(|n| format!("https://d111111abcdef8.cloudfront.net/kms/{n}.ts\n"))
            .collect();
        let (code, out, err) = run(
            &moto,
            &[
                "batch",
                "--key-pair-id",
                "K2JCJMDEHXQW5F",
                "--kms-key-id",
                &alias,
                "--expires-in",
                "1h",
                "--no-progress",
            ],
            &input,
        );
        assert_eq!(code, 0, "{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 20);
        assert!(
            lines[7].starts_with("https://d111111abcdef8.cloudfront.net/kms/7.ts?"),
            "order kept"
        );
        let (code, out, err) = run(&moto, &["verify", "-", "--public-key", &trusted], &out);
        assert_eq!(code, 0, "{out}{err}");
    }

    // SHA-1 with KMS: a clear error, not a silent change.
    let (code, out, err) = run(
        &moto,
        &[
            "url",
            "https://d111111abcdef8.cloudfront.net/a.jpg",
            "--key-pair-id",
            "K2JCJMDEHXQW5F",
            "--kms-key-id",
            "alias/cf-rsa_2048",
            "--expires-in",
            "1h",
            "--hash",
            "sha1",
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("SHA-256 only") && err.contains("--hash sha256"),
        "{err}"
    );

    // KMS and a local key at once: refused by the flag parser.
    let (code, _, err) = run(
        &moto,
        &[
            "url",
            "https://d111111abcdef8.cloudfront.net/a.jpg",
            "--key-pair-id",
            "K2JCJMDEHXQW5F",
            "--kms-key-id",
            "alias/cf-rsa_2048",
            "--private-key",
            "x.pem",
            "--expires-in",
            "1h",
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("cannot be used with"), "{err}");

    // A key CloudFront cannot use.
    let _ = moto.python(
        "import boto3,os\nkms=boto3.client('kms',endpoint_url=os.environ['MOTO_ENDPOINT'])\nk=kms.create_key(KeySpec='ECC_NIST_P384',KeyUsage='SIGN_VERIFY')['KeyMetadata']['KeyId']\nkms.create_alias(AliasName='alias/p384',TargetKeyId=k)",
        b"",
    );
    let (code, _, err) = run(
        &moto,
        &[
            "url",
            "https://d111111abcdef8.cloudfront.net/a.jpg",
            "--key-pair-id",
            "K2JCJMDEHXQW5F",
            "--kms-key-id",
            "alias/p384",
            "--expires-in",
            "1h",
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("ECC_NIST_P384") && err.contains("ECC_NIST_P256"),
        "{err}"
    );
}

#[test]
fn generate_key_errors_name_generate_key_and_protocol_flags_conflict() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    // A public_key.pem without its private half: not reusable, and not replaced.
    std::fs::write(dir.path().join("public_key.pem"), "stale").unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let (code, _, err) = aws(
        &moto,
        &["setup", "--bucket", "gen-media", "--generate-key", dir_arg],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("choose another --generate-key DIR")
            && err.contains("public_key.pem already exists"),
        "{err}"
    );
    assert!(!err.contains("--force") && !err.contains("--out"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("public_key.pem")).unwrap(),
        "stale"
    );

    let (code, _, err) = aws(
        &moto,
        &[
            "setup",
            "--bucket",
            "gen-media",
            "--generate-key",
            dir_arg,
            "--redirect-http",
            "--https-only",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn aws_exit_codes_bad_usage_2_unreachable_aws_3() {
    let moto = Moto::start();
    // Nothing listens on a port that was just bound and released.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let unreachable = |args: &[&str]| {
        cli::run(
            cfsign(&moto)
                .arg("aws")
                .args(args)
                .args(["--endpoint-url", &closed]),
        )
    };
    for args in [
        &["keys", "list", "--key-group", "media"][..],
        &["doctor", "--distribution", "EDFDVBD6EXAMPLE"],
        &["doctor", "--distribution", "EDFDVBD6EXAMPLE", "--json"],
    ] {
        let (code, out, err) = unreachable(args);
        assert_eq!(code, 3, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
    // Bad flags: clap's usage error, 2, before any call.
    for args in [
        &["keys", "list"][..],
        &["doctor", "--distribution", "E1", "--no-such-flag"],
        &["no-such-command"],
    ] {
        let (code, out, err) = unreachable(args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    // Bad input found by cfsign (a public key file that does not exist): 2.
    let (code, _, err) = unreachable(&[
        "keys",
        "add",
        "--key-group",
        "media",
        "--public-key",
        "/no/such/public_key.pem",
    ]);
    assert_eq!(code, 2, "{err}");
    // `cfsign aws --help` documents the codes.
    let (code, help, _) = cli::run(cfsign(&moto).args(["aws", "--help"]));
    assert_eq!(code, 0);
    assert!(help.contains("3 AWS failed"), "{help}");
}

/// The account the `credential_process` profile's keys belong to (moto files what
/// they create under it; the dummy keys are the default account, 123456789012).
const PROCESS_ACCOUNT: &str = "111122223333";

/// `cfsign` with no AWS setting but the profile's files (no keys in the environment).
fn cfsign_with_profile(profile: &ProcessProfile) -> Command {
    let mut c = cli::command(env!("CARGO_BIN_EXE_cfsign"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            c.env_remove(name);
        }
    }
    c.envs(profile.env());
    c
}

/// Buckets and key groups as `python` lists them with the keys on its standard
/// input (three lines: key ID, secret, session token), or the dummy keys.
fn listed(moto: &Moto, keys: Option<&Keys>) -> String {
    let input = keys.map_or_else(String::new, |k| {
        format!(
            "{}\n{}\n{}\n",
            k.access_key_id,
            k.secret_access_key,
            k.session_token.as_deref().unwrap_or_default()
        )
    });
    moto.python(
        "import boto3,os,sys\n\
         kw=dict(endpoint_url=os.environ['MOTO_ENDPOINT'])\n\
         lines=sys.stdin.read().split()\n\
         if lines: kw.update(aws_access_key_id=lines[0],aws_secret_access_key=lines[1],aws_session_token=lines[2])\n\
         s3=boto3.client('s3',**kw); cf=boto3.client('cloudfront',**kw)\n\
         print(sorted(b['Name'] for b in s3.list_buckets()['Buckets']), cf.list_key_groups()['KeyGroupList']['Quantity'])",
        input.as_bytes(),
    )
    .trim()
    .to_owned()
}

#[test]
fn aws_setup_gets_its_keys_from_a_credential_process_profile() {
    let moto = Moto::start();
    let keys = credentials::assumed_role_keys(&moto, PROCESS_ACCOUNT);
    let profile = ProcessProfile::new("cfsign-test", &keys);
    let generated = profile.dir().join("keys");
    let (code, out, err) = cli::run(cfsign_with_profile(&profile).args([
        "aws",
        "setup",
        "--bucket",
        "process-media",
        "--create-bucket",
        "--generate-key",
        generated.to_str().unwrap(),
        "--json",
        "--profile",
        profile.name(),
        "--endpoint-url",
        &moto.endpoint(),
    ]));
    assert_eq!(code, 0, "{err}");
    json(&out);
    // The process ran, once for the whole command (the SDK keeps its keys), ...
    assert_eq!(profile.runs(), 1, "credential_process runs");
    // ... and its keys made the bucket and key group: they are its account's, not the
    // default account's.
    assert_eq!(listed(&moto, Some(&keys)), "['process-media'] 1");
    assert_eq!(listed(&moto, None), "[] 0");
    // AWS_PROFILE names it just as well.
    let (code, out, err) = cli::run(
        cfsign_with_profile(&profile)
            .env("AWS_PROFILE", profile.name())
            .args(["aws", "keys", "list", "--key-group", "cfsign-process-media"])
            .args(["--json", "--endpoint-url", &moto.endpoint()]),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["keys"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(profile.runs(), 2);
}

#[test]
fn a_failing_credential_process_is_named_with_its_profile_and_cause() {
    let moto = Moto::start();
    let profile = ProcessProfile::failing("cfsign-broken", "the token vault is locked");
    let (code, out, err) = cli::run(
        cfsign_with_profile(&profile)
            .args(["aws", "keys", "list", "--key-group", "media"])
            .args([
                "--profile",
                "cfsign-broken",
                "--endpoint-url",
                &moto.endpoint(),
            ]),
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(profile.runs() >= 1, "the process did not run: {err}");
    for part in [
        "profile `cfsign-broken`",
        "the token vault is locked",
        "external process",
        "credential_process must print",
    ] {
        assert!(err.contains(part), "{part:?} missing: {err}");
    }
}

/// `cfsign edge` serving a bucket whose only usable keys come from the profile's
/// `credential_process`: moto checks every signature against its IAM users.
#[test]
fn edge_s3_origin_gets_its_keys_from_a_credential_process_profile() {
    let moto = Moto::start();
    let keys = credentials::iam_user_keys(&moto, "edge-reader");
    s3::upload(
        &moto,
        "process-bucket",
        &[
            S3Object::new("a.txt", "first object\n"),
            S3Object::new("b.txt", "second object\n"),
        ],
    );
    credentials::require_iam_auth(&moto);
    let good = ProcessProfile::new("edge-reader", &keys);
    let wrong = ProcessProfile::new(
        "edge-reader",
        &Keys {
            secret_access_key: "not-the-secret".to_owned(),
            ..keys.clone()
        },
    );
    let failing = ProcessProfile::failing("edge-reader", "the token vault is locked");
    let config = good.dir().join("edge.toml");
    std::fs::write(
        &config,
        format!(
            "[origins.bucket]\ntype = \"s3\"\nbucket = \"process-bucket\"\nendpoint = \"{}\"\n\
             allow_http = true\nprofile = \"edge-reader\"\n\
             [default_behavior]\norigin = \"bucket\"\nrestricted = false\n",
            moto.endpoint()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let serve = |profile: &ProcessProfile, path: &str| {
        let env = profile.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let edge =
            EdgeProcess::start_with_env(env!("CARGO_BIN_EXE_cfsign"), &["--config", config], &env);
        let reply = cfsign_testkit::http::get_blocking(&format!("{}{path}", edge.base()), &[]);
        (reply, edge)
    };

    let (first, edge) = serve(&good, "/a.txt");
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    assert_eq!(&first.body[..], b"first object\n");
    let second = cfsign_testkit::http::get_blocking(&format!("{}/b.txt", edge.base()), &[]);
    assert_eq!(second.status, 200);
    assert_eq!(&second.body[..], b"second object\n");
    // One run for both objects: the keys (valid for an hour) are kept.
    assert_eq!(good.runs(), 1, "credential_process runs");
    drop(edge);

    // The same profile with a wrong secret: moto refuses the signature.
    let (refused, _edge) = serve(&wrong, "/a.txt");
    assert_eq!(wrong.runs(), 1);
    assert_eq!(
        refused.status,
        403,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );

    // A process that fails: no object, and the edge says why.
    let (failed, edge) = serve(&failing, "/a.txt");
    assert!(failing.runs() >= 1);
    assert_eq!(
        failed.status,
        502,
        "{}",
        String::from_utf8_lossy(&failed.body)
    );
    let _ = edge;
}

/// An IAM Identity Center (SSO) profile with an `sso-session` logs in: the token
/// `aws sso login` cached is read and sent to SSO's portal for the profile's account and
/// role, and the role's keys it answers with do the work. moto has no SSO portal, so
/// `SsoPortal` stands in for it (`GetRoleCredentials`, as the API reference gives it);
/// the keys it hands out are a role's in another account of moto, so the resources made
/// show which keys were used.
#[test]
fn an_sso_profile_logs_in_with_the_cached_token() {
    let moto = Moto::start();
    let keys = credentials::assumed_role_keys(&moto, PROCESS_ACCOUNT);
    const TOKEN: &str = "cfsign-test-sso-access-token";
    let portal = SsoPortal::start(keys.clone(), TOKEN, PROCESS_ACCOUNT, "MediaAdmin");
    let profile = ProcessProfile::failing("unused", "not this profile");
    let config = format!(
        "[profile cfsign-sso]\nsso_session = cfsign\nsso_account_id = {PROCESS_ACCOUNT}\n\
         sso_role_name = MediaAdmin\nregion = us-east-1\n\
         [sso-session cfsign]\nsso_start_url = https://cfsign-test.awsapps.com/start\n\
         sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n"
    );
    std::fs::write(profile.config_file(), config).unwrap();
    // ~/.aws/sso/cache/SHA1(session name).json, as `aws sso login` writes it.
    let cache = profile.dir().join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    let name = moto.python(
        "import hashlib; print(hashlib.sha1(b'cfsign').hexdigest())",
        b"",
    );
    let token_file = cache.join(format!("{}.json", name.trim()));
    let token = |access_token: &str, expires: jiff::Timestamp| {
        serde_json::json!({
            "accessToken": access_token,
            "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "region": "us-east-1",
            "startUrl": "https://cfsign-test.awsapps.com/start",
        })
        .to_string()
    };
    let generated = profile.dir().join("keys");
    let setup = || {
        cli::run(
            cfsign_with_profile(&profile)
                .env("AWS_ENDPOINT_URL_SSO", portal.endpoint())
                .args(["aws", "setup", "--bucket", "sso-media", "--create-bucket"])
                .args(["--generate-key", generated.to_str().unwrap(), "--json"])
                .args([
                    "--profile",
                    "cfsign-sso",
                    "--endpoint-url",
                    &moto.endpoint(),
                ]),
        )
    };
    let an_hour = jiff::SignedDuration::from_hours(1);

    // Expired: refused before any request (no refresh token to renew it with).
    std::fs::write(&token_file, token(TOKEN, jiff::Timestamp::now() - an_hour)).unwrap();
    let (code, out, err) = setup();
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("profile `cfsign-sso`"), "{err}");
    assert!(err.contains("SSO token has expired"), "{err}");
    assert_eq!(portal.requests(), [], "an expired token was sent");

    // A token the portal does not know: its 401, named with the profile; nothing made.
    std::fs::write(
        &token_file,
        token("revoked-token", jiff::Timestamp::now() + an_hour),
    )
    .unwrap();
    let (code, out, err) = setup();
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("profile `cfsign-sso`"), "{err}");
    let requests = portal.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        !requests[0].token_ok && requests[0].status == 401,
        "{requests:?}"
    );
    assert_eq!(listed(&moto, Some(&keys)), "[] 0");

    // Valid: the portal is asked once for the profile's account and role, and the role's keys
    // make the bucket and the key group in that account, none in the default one.
    std::fs::write(&token_file, token(TOKEN, jiff::Timestamp::now() + an_hour)).unwrap();
    let (code, out, err) = setup();
    assert_eq!(code, 0, "{out}{err}");
    json(&out);
    let requests = portal.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests[1].token_ok && requests[1].status == 200,
        "{requests:?}"
    );
    assert!(
        requests[1].target.contains("role_name=MediaAdmin")
            && requests[1]
                .target
                .contains(&format!("account_id={PROCESS_ACCOUNT}")),
        "{requests:?}"
    );
    assert_eq!(listed(&moto, Some(&keys)), "['sso-media'] 1");
    assert_eq!(listed(&moto, None), "[] 0");
    assert_eq!(
        profile.runs(),
        0,
        "the credential_process of another profile ran"
    );
}
