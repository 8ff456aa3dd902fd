//! The layer through `oneshot` (no sockets), and the log formatting.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use super::*;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn lines(&self, log: &AccessLog) -> Vec<String> {
        assert!(log.flush(Duration::from_secs(5)));
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }
}

fn setup(format: AccessLogFormat) -> (Router, Metrics, AccessLog, Buffer) {
    let buffer = Buffer::default();
    let log = AccessLog::new(format, buffer.clone()).unwrap();
    let metrics = Metrics::new();
    let app = Router::new()
        .route("/ok", get(|| async { "hello" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        )
        .layer(ObserveLayer::new(metrics.clone(), Some(log.clone())));
    (app, metrics, log, buffer)
}

#[test]
fn escaping_and_redaction() {
    assert_eq!(
        redact(b"a\tb\r\nc d\x1b[31m\xffe"),
        "a%09b%0D%0Ac%20d%1B[31m%FFe"
    );
    assert_eq!(redact(&[b'.'; 10_000]).len(), MAX_FIELD_BYTES + 3);
    let cut = redact(&[b' '; 10_000]);
    assert!(
        cut.len() <= MAX_FIELD_BYTES + 3 && cut.ends_with("%20..."),
        "{cut}"
    );
    // a run of plain bytes that starts with `%` is cut, not dropped
    assert_eq!(
        redact("%25".repeat(4_000).as_bytes()),
        format!("{}...", &"%25".repeat(4_000)[..MAX_FIELD_BYTES])
    );
    assert_eq!(
        redact(b"Policy=eyJ&Signature=ab~c&Key-Pair-Id=K1"),
        "Policy=REDACTED&Signature=REDACTED&Key-Pair-Id=K1"
    );
    assert_eq!(redact(b"SIGNATURE"), "SIGNATURE");
    assert_eq!(redact(b"a=1&b"), "a=1&b");
    let mut headers = HeaderMap::new();
    headers.append(
        "cookie",
        HeaderValue::from_static("CloudFront-Policy=eyJ; CloudFront-Signature=abc"),
    );
    headers.append(
        "cookie",
        HeaderValue::from_static("CloudFront-Key-Pair-Id=K1;session=s3cr3t"),
    );
    assert_eq!(
        log::cookie_names(&headers).as_str(),
        "CloudFront-Policy;CloudFront-Signature;CloudFront-Key-Pair-Id;session"
    );
}

/// A run of `n` characters of CloudFront base64.
fn run(n: usize) -> String {
    "Ab0-_~9zQ".chars().cycle().take(n).collect()
}

#[test]
fn base64_runs_from_the_threshold_on_are_redacted() {
    let short = run(MIN_REDACTED_RUN - 1);
    let long = run(MIN_REDACTED_RUN);
    assert_eq!(
        redact(format!("x={short}").as_bytes()),
        format!("x={short}")
    );
    assert_eq!(redact(format!("x={long}&y=1").as_bytes()), "x=REDACTED&y=1");
    // the standard alphabet, across line breaks, and after decoding
    let standard = long.replace('-', "+").replace('~', "/");
    assert_eq!(redact(format!("x={standard}").as_bytes()), "x=REDACTED");
    let (a, b) = long.split_at(40);
    assert_eq!(redact(format!("x={a}%0D%0A{b}").as_bytes()), "x=REDACTED");
    assert_eq!(redact(format!("x={a}\n{b}").as_bytes()), "x=REDACTED");
    assert_eq!(redact(format!("{a}%257E{b}").as_bytes()), "REDACTED");
    assert_eq!(redact(format!("{a}&#x7E;{b}").as_bytes()), "REDACTED");
    assert_eq!(redact(format!("{a}&#126{b}").as_bytes()), "REDACTED");
    let almost = run(MIN_REDACTED_RUN - 1);
    assert_eq!(redact(format!("{almost}&#126").as_bytes()), "REDACTED");
    assert_eq!(
        redact(format!("{almost}&#12").as_bytes()),
        format!("{almost}&#12")
    );
    // a space or a dot ends a run
    assert_eq!(redact(format!("{a} {a}").as_bytes()), format!("{a}%20{a}"));
    // one case: not random base64, or a credential that lost its case
    let lower = long.to_ascii_lowercase();
    assert_eq!(
        redact(format!("x={lower}").as_bytes()),
        format!("x={lower}")
    );
    let upper = long.to_ascii_uppercase();
    assert_eq!(
        redact(format!("x={upper}").as_bytes()),
        format!("x={upper}")
    );
    // so a SHA-256 hex digest (64 characters) stays readable, deliberately
    let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let path = format!("/blobs/sha256:{digest}");
    assert_eq!(redact(path.as_bytes()), path);
}

#[test]
fn ordinary_values_are_logged_as_they_came() {
    for value in [
        "/media/2024/summer-holiday/episode-01/segment_00001.ts",
        "/hls/show-7/1080p/index.m3u8",
        "/assets/app.3f2a9c1b7d4e5f60.js",
        "/api/v2/organizations/acme-corp/projects/website-redesign/issues",
        "/videos/customers/acme-corporation/training-library/module-03/lesson-12/segment_000123.ts",
        "/blog/how-to-configure-cloudfront-signed-urls-with-custom-policies-and-wildcards",
        "Expires=1767225600&Key-Pair-Id=K2JCJMDEHXQW5F&Hash-Algorithm=SHA256",
        "utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale_2026",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
        "https://www.example.com/articles/how-to-sign-cloudfront-urls?ref=home",
        "CloudFront-Policy;CloudFront-Signature;CloudFront-Key-Pair-Id;session",
        "privacy-policy=accepted&signatures=3&x-signature-version=2",
        "%7E%2F%26amp%3B&#38;",
    ] {
        assert_eq!(
            redact(value.as_bytes()),
            value.replace(' ', "%20"),
            "{value}"
        );
    }
}

#[test]
fn reserved_names_are_read_through_every_mangling() {
    for (raw, logged) in [
        ("signature=abc", "signature=REDACTED"),
        (
            "x=1&amp;Signature=abc&amp;y=2",
            "x=1&amp;Signature=REDACTED&amp;y=2",
        ),
        ("x=1;Policy=abc;y=2", "x=1;Policy=REDACTED;y=2"),
        (
            "x=1%26Signature%3Dabc%26y=2",
            "x=1%26Signature%3DREDACTED%26y=2",
        ),
        (
            "x=1%2526Signature%253Dabc%2526y=2",
            "x=1%2526Signature%253DREDACTED%2526y=2",
        ),
        ("Signature[]=abc&y=2", "Signature[]=REDACTED&y=2"),
        ("Signature%5B0%5D=abc", "Signature%5B0%5D=REDACTED"),
        ("&%20Signature%20=%20abc", "&%20Signature%20=%20REDACTED"),
        ("+Signature=ab+cd/ef==&y", "+Signature=REDACTED&y"),
        ("Sig%6Eature=abc", "Sig%6Eature=REDACTED"),
        ("Sig&#110;ature=abc", "Sig&#110;ature=REDACTED"),
        ("Signature&#61abc", "Signature&#61REDACTED"),
        (
            "{\"Signature\":\"abc\",\"Key-Pair-Id\":\"K1\"}",
            "{\"Signature\":\"REDACTED\",\"Key-Pair-Id\":\"K1\"}",
        ),
        (
            "a\\u0026CloudFront-Policy=abc",
            "a\\u0026CloudFront-Policy=REDACTED",
        ),
        (
            "CLOUDFRONT-SIGNATURE: abc",
            "CLOUDFRONT-SIGNATURE:%20REDACTED",
        ),
    ] {
        assert_eq!(redact(raw.as_bytes()), logged, "{raw}");
    }
}

#[test]
fn deep_encodings_are_undone_in_linear_time() {
    // every character of a signature encoded 50 times over
    let secret = run(96);
    let mut deep = String::new();
    for c in secret.chars() {
        deep.push('%');
        deep.push_str(&"25".repeat(49));
        deep.push_str(&format!("{:02X}", u32::from(c)));
    }
    assert!(deep.len() > 8_000);
    let started = std::time::Instant::now();
    assert_eq!(redact(format!("x={deep}").as_bytes()), "x=REDACTED");
    let big = "%25".repeat(40_000);
    assert_eq!(redact(big.as_bytes()).len(), MAX_FIELD_BYTES + 3);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// The corpus of mangled signed URLs (the one the socket test sends to an
/// edge), signed with a test key of the core, through [`redact`].
#[test]
fn no_mangling_of_a_real_signed_url_survives_redaction() {
    use cfsign::{KeyPairId, Policy, PrivateKey, Resource, SignableUrl, Signer};
    use cfsign_testkit::mangle::{self, Credentials};

    let base = "https://d111111abcdef8.cloudfront.net";
    for key in ["ec-p256.pkcs8.pem", "rsa2048.pkcs8.pem"] {
        let path = format!(
            "{}/../cfsign/tests/data/keys/{key}",
            env!("CARGO_MANIFEST_DIR")
        );
        let signer = Signer::new(
            KeyPairId::new("K2JCJMDEHXQW5F").unwrap(),
            PrivateKey::from_file(path).unwrap(),
        );
        let url = SignableUrl::parse(&format!("{base}/media/hello.txt")).unwrap();
        // RSA signatures are deterministic: vary the expiry until one has a `~`
        let (canned, expires) = (0..200)
            .map(|i| {
                let policy = Policy::builder(Resource::Url(url.clone()))
                    .expires_in(Duration::from_secs(3_600 + i))
                    .build()
                    .unwrap();
                (
                    signer.sign_policy(&policy).unwrap(),
                    policy.date_less_than(),
                )
            })
            .find(|(signed, _)| signed.signature().contains('~'))
            .unwrap();
        let custom = Policy::builder(Resource::pattern(&format!("{base}/media/*")).unwrap())
            .expires_in(Duration::from_secs(3_600))
            .build()
            .unwrap();
        let custom = signer.sign_policy(&custom).unwrap();
        let expires = expires.to_string();
        let credentials = Credentials {
            base,
            path: "/media/hello.txt",
            expires: &expires,
            signature: canned.signature(),
            policy: custom.encoded_policy().unwrap(),
            policy_signature: custom.signature(),
            key_pair_id: "K2JCJMDEHXQW5F",
        };
        let corpus = mangle::corpus(&credentials);
        assert!(corpus.len() >= 20);
        for request in &corpus {
            let mut values = vec![request.method.clone(), request.target.clone()];
            values.extend(request.headers.iter().map(|(_, v)| v.clone()));
            for value in values {
                let logged = redact(value.as_bytes());
                let found = mangle::leaks(&logged, &credentials.secrets());
                assert!(
                    found.is_empty(),
                    "{key}, {}: {found:?} in {logged}",
                    request.label
                );
            }
        }
        assert_eq!(
            redact(corpus[0].target.as_bytes()),
            format!(
                "/media/hello.txt?Expires={expires}&Signature=REDACTED&Key-Pair-Id=K2JCJMDEHXQW5F"
            )
        );
    }
}

#[tokio::test]
async fn text_lines_have_every_field_and_no_secrets() {
    let (app, metrics, log, buffer) = setup(AccessLogFormat::Text);
    let request = http::Request::get("/ok?Expires=9&Signature=SECRETSIG&Key-Pair-Id=K1")
        .header("host", "edge.test")
        .header("user-agent", "curl/8\tinjected")
        .header("referer", "https://site.test/page?Policy=SECRETPOLICY")
        .header("cookie", "CloudFront-Signature=SECRETCOOKIE")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let id = response.headers()[REQUEST_ID_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "hello");
    let lines = buffer.lines(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let fields: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(fields.len(), FIELDS.len(), "{}", lines[0]);
    let field = |name: &str| fields[FIELDS.iter().position(|f| *f == name).unwrap()];
    assert_eq!(field("x-edge-location"), "cfsign");
    assert_eq!(field("sc-bytes"), "5");
    assert_eq!(field("c-ip"), "-");
    assert_eq!(field("cs-method"), "GET");
    assert_eq!(field("cs(Host)"), "edge.test");
    assert_eq!(field("cs-uri-stem"), "/ok");
    assert_eq!(field("sc-status"), "200");
    assert_eq!(
        field("cs(Referer)"),
        "https://site.test/page?Policy=REDACTED"
    );
    assert_eq!(field("cs(User-Agent)"), "curl/8%09injected");
    assert_eq!(
        field("cs-uri-query"),
        "Expires=9&Signature=REDACTED&Key-Pair-Id=K1"
    );
    assert_eq!(field("cs(Cookie)"), "CloudFront-Signature");
    assert_eq!(field("x-edge-result-type"), "Miss");
    assert_eq!(field("x-edge-request-id"), id);
    assert_eq!(field("sc-content-type"), "text/plain;%20charset=utf-8");
    assert_eq!(field("sc-content-len"), "5");
    assert_eq!(field("sc-range-start"), "-");
    for secret in ["SECRETSIG", "SECRETPOLICY", "SECRETCOOKIE"] {
        assert!(!lines[0].contains(secret), "{secret} logged: {}", lines[0]);
    }
    let text = metrics.encode();
    assert!(
        text.contains(r#"cfsign_edge_requests_total{code="200",error_code="-",behavior="-"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("cfsign_edge_response_bytes_total 5"),
        "{text}"
    );
}

#[tokio::test]
async fn json_lines_parse_and_404s_are_errors() {
    let (app, metrics, log, buffer) = setup(AccessLogFormat::Json);
    let request = http::Request::get("/none").body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    drop(response);
    let lines = buffer.lines(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let object = v.as_object().unwrap();
    // CloudFront's fields, and the time as RFC 3339 first.
    assert_eq!(object.len(), FIELDS.len() + 1);
    let timestamp = v["timestamp"].as_str().unwrap();
    let parsed: jiff::Timestamp = timestamp.parse().unwrap();
    assert!(
        timestamp.ends_with('Z') && timestamp.contains('.'),
        "{timestamp}"
    );
    assert!(
        (jiff::Timestamp::now() - parsed).get_seconds().abs() < 60,
        "{timestamp}"
    );
    assert_eq!(
        format!(
            "{}T{}",
            v["date"].as_str().unwrap(),
            v["time"].as_str().unwrap()
        ),
        timestamp[..19]
    );
    assert_eq!(v["cs-protocol"], "http");
    assert_eq!(v["ssl-protocol"], serde_json::Value::Null);
    assert_eq!(v["sc-status"], 404);
    assert_eq!(v["cs-uri-stem"], "/none");
    assert_eq!(v["cs-uri-query"], serde_json::Value::Null);
    assert_eq!(v["x-edge-result-type"], "Error");
    assert!(
        metrics
            .encode()
            .contains(r#"cfsign_edge_cache_total{result="error"} 1"#)
    );
}

#[tokio::test]
async fn an_abandoned_request_is_logged_as_000() {
    let (app, metrics, log, buffer) = setup(AccessLogFormat::Text);
    let request = http::Request::get("/slow").body(Body::empty()).unwrap();
    let pending = tokio::time::timeout(Duration::from_millis(50), app.oneshot(request)).await;
    assert!(pending.is_err(), "the handler should still be waiting");
    let lines = buffer.lines(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let fields: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(fields[8], "000");
    assert_eq!(fields[28], "ClientCommError");
    assert!(
        metrics
            .encode()
            .contains(r#"cfsign_edge_requests_total{code="0",error_code="-",behavior="-"} 1"#)
    );
}

#[test]
fn build_info_reloads_and_watched_gauges() {
    let metrics = Metrics::new();
    let text = metrics.encode();
    let info = format!(
        "cfsign_build_info{{version=\"{}\",commit=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION"),
        env!("CFSIGN_EDGE_GIT_COMMIT")
    );
    assert!(text.contains(&info), "{text}");
    assert!(!env!("CFSIGN_EDGE_GIT_COMMIT").is_empty());
    assert!(
        text.contains("cfsign_edge_reloads_total{result=\"ok\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("cfsign_edge_reloads_total{result=\"error\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("cfsign_edge_last_reload_timestamp_seconds 0\n"),
        "{text}"
    );
    // without a cache nor TLS, their gauges are absent rather than 0
    assert!(!text.contains("cfsign_edge_cache_bytes"), "{text}");
    assert!(!text.contains("cfsign_edge_tls_certificate"), "{text}");

    metrics.reloaded(false);
    metrics.reloaded(true);
    let text = metrics.encode();
    assert!(
        text.contains("cfsign_edge_reloads_total{result=\"ok\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("cfsign_edge_reloads_total{result=\"error\"} 1\n"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("cfsign_edge_last_reload_timestamp_seconds "))
        .unwrap();
    let at: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(at <= now && at + 60 > now, "{line}");

    let cache = crate::cache::ObjectCache::new(crate::cache::CacheSettings::default());
    metrics.watch_cache(&cache);
    let text = metrics.encode();
    assert!(
        text.contains("# TYPE cfsign_edge_cache_bytes gauge\n"),
        "{text}"
    );
    assert!(text.contains("cfsign_edge_cache_bytes 0\n"), "{text}");
    assert!(text.contains("cfsign_edge_cache_entries 0\n"), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[test]
fn request_ids_are_the_prefix_and_the_counter_in_hex() {
    for (prefix, n) in [(0, 0), (0x0123_4567_89ab_cdef, 1), (u64::MAX, u64::MAX - 1)] {
        let id = log::RequestId::new(prefix, n);
        assert_eq!(id.as_str(), format!("{prefix:016x}{n:016x}"));
    }
}
