//! Metrics, the admin listener and access logs through real sockets on 127.0.0.1.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cfsign::{Policy, Resource, SignableUrl, Signer};
use cfsign_edge::access::{AccessConfig, Scheme, SharedVerifier};
use cfsign_edge::behavior::{Behavior, Behaviors, PathPattern};
use cfsign_edge::cache::{CacheSettings, ObjectCache, TtlPolicy};
use cfsign_edge::observe::{self, AccessLogFormat, FIELDS, Metrics};
use cfsign_edge::origin::{DirectoryOrigin, Origin};
use cfsign_testkit::data;
use cfsign_testkit::edge::{BufferedLog, EdgeBuilder, RunningEdge};
use cfsign_testkit::http::{fetch, try_fetch};
use cfsign_testkit::mangle::{self, Credentials};
use cfsign_testkit::signer::TestSigner;
use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The object a viewer abandons mid-body: larger than the loopback socket buffers.
const HUGE: usize = 32 << 20;

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let i = FIELDS.iter().position(|f| *f == name).unwrap();
    line.split('\t').nth(i).unwrap()
}

fn query_value<'a>(url: &'a str, name: &str) -> &'a str {
    url.split(['?', '&'])
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .unwrap()
}

async fn get(url: &str, headers: &[(&str, &str)]) -> StatusCode {
    fetch(Method::GET, url, headers).await.status
}

/// A running edge with a restricted `/media/*` behavior and a public default,
/// its access log in a buffer and its admin listener.
struct Edge {
    addr: SocketAddr,
    base: String,
    admin: String,
    metrics: Metrics,
    log: BufferedLog,
    edge: RunningEdge,
}

impl Edge {
    async fn start(root: &Path, verifier: SharedVerifier, format: AccessLogFormat) -> Self {
        let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(root).unwrap());
        let behavior = |pattern: PathPattern, access: Option<AccessConfig>| Behavior {
            pattern,
            origin: Arc::clone(&origin),
            origin_name: "files".to_owned(),
            access,
            ttl: TtlPolicy::default(),
            compress: false,
            sign_manifests: false,
        };
        let behaviors = Behaviors::new(
            vec![behavior(
                PathPattern::new("/media/*").unwrap(),
                Some(AccessConfig::new(verifier, Scheme::Http)),
            )],
            behavior(PathPattern::any(), None),
        );
        let log = BufferedLog::new(format);
        let edge = EdgeBuilder::new()
            .behaviors(behaviors)
            .cache(ObjectCache::new(CacheSettings::default()))
            .access_log(log.log())
            .admin()
            .start()
            .await;
        Self {
            addr: edge.addr(),
            base: edge.base().to_owned(),
            admin: edge.admin_base().to_owned(),
            metrics: edge.metrics().clone(),
            log,
            edge,
        }
    }

    /// The log lines once there are at least `n` (or after 10 s).
    async fn lines(&self, n: usize) -> Vec<String> {
        self.log.lines(n).await
    }

    async fn stop(self) {
        self.edge.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_access_logs_over_sockets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    std::fs::write(dir.path().join("media/hello.txt"), "hello edge\n").unwrap();
    std::fs::write(dir.path().join("media/huge.bin"), vec![7u8; HUGE]).unwrap();
    std::fs::write(dir.path().join("public.txt"), "public\n").unwrap();
    let keys = TestSigner::new("KEDGE");
    let signer = keys.signer();
    let edge = Edge::start(dir.path(), keys.shared_verifier(), AccessLogFormat::Text).await;
    let (addr, metrics, admin) = (edge.addr, edge.metrics.clone(), edge.admin.clone());
    let base = edge.base.clone();
    let sign = |path: &str, resource: Resource| {
        let url = SignableUrl::parse(&format!("{base}{path}")).unwrap();
        let policy = Policy::builder(resource)
            .expires_in(Duration::from_secs(60))
            .build()
            .unwrap();
        signer.sign_url(&url, &policy).unwrap().into_string()
    };
    let exact = |path: &str| Resource::Url(SignableUrl::parse(&format!("{base}{path}")).unwrap());

    // 1. signed (canned policy) 200
    let signed = sign("/media/hello.txt", exact("/media/hello.txt"));
    assert_eq!(get(&signed, &[]).await, StatusCode::OK);
    // 2. unsigned: 403 MissingKey
    assert_eq!(
        get(&format!("{base}/media/hello.txt"), &[]).await,
        StatusCode::FORBIDDEN
    );
    // 3. signed with a custom policy, missing object: 404
    let wildcard = Resource::pattern(&format!("{base}/media/*")).unwrap();
    let custom = sign("/media/none.txt", wildcard.clone());
    assert!(custom.contains("Policy="));
    assert_eq!(get(&custom, &[]).await, StatusCode::NOT_FOUND);
    // 4. signed cookies: 200
    let policy = Policy::builder(wildcard)
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    let cookies = signer.sign_cookies(&policy).unwrap();
    let cookie_header = cookies.cookie_header();
    assert_eq!(
        get(
            &format!("{base}/media/hello.txt"),
            &[("cookie", &cookie_header)]
        )
        .await,
        StatusCode::OK
    );
    // 5. the public default behavior
    assert_eq!(
        get(&format!("{base}/public.txt"), &[]).await,
        StatusCode::OK
    );
    // 6. a viewer that reads 64 KiB of a 32 MiB object and goes away
    let huge = sign("/media/huge.bin", exact("/media/huge.bin"));
    let path = &huge[base.len()..];
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut received = vec![0u8; 64 * 1024];
    stream.read_exact(&mut received).await.unwrap();
    assert!(received.starts_with(b"HTTP/1.1 200"));
    drop(stream);

    // one line per request; the abandoned one is logged once its body is dropped
    let lines = edge.lines(6).await;
    assert_eq!(lines.len(), 6, "{lines:#?}");
    let by_stem = |stem: &str| -> Vec<&String> {
        lines
            .iter()
            .filter(|l| field(l, "cs-uri-stem") == stem)
            .collect()
    };
    let hello = by_stem("/media/hello.txt");
    assert_eq!(hello.len(), 3);
    let statuses: Vec<(&str, &str)> = hello
        .iter()
        .map(|l| {
            (
                field(l, "sc-status"),
                field(l, "x-edge-detailed-result-type"),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [("200", "Miss"), ("403", "MissingKey"), ("200", "Hit")]
    );
    assert_eq!(field(hello[0], "sc-bytes"), "11");
    assert_eq!(field(hello[0], "c-ip"), "127.0.0.1");
    assert_eq!(field(hello[1], "x-edge-result-type"), "Error");
    assert_eq!(field(hello[1], "sc-content-type"), "text/xml");
    assert_eq!(
        field(hello[2], "cs(Cookie)"),
        "CloudFront-Policy;CloudFront-Signature;CloudFront-Key-Pair-Id"
    );
    let none = by_stem("/media/none.txt");
    assert_eq!(field(none[0], "sc-status"), "404");
    assert!(field(none[0], "cs-uri-query").contains("Policy=REDACTED&Signature=REDACTED"));
    assert_eq!(field(by_stem("/public.txt")[0], "sc-status"), "200");
    let abandoned = by_stem("/media/huge.bin")[0];
    let sent: u64 = field(abandoned, "sc-bytes").parse().unwrap();
    assert!(
        sent >= 64 * 1024 - 512 && sent < HUGE as u64,
        "sc-bytes {sent} of {HUGE}"
    );
    assert_eq!(field(abandoned, "sc-status"), "200");
    assert_eq!(
        field(abandoned, "x-edge-detailed-result-type"),
        "ClientCommError"
    );
    assert_eq!(field(abandoned, "sc-content-len"), HUGE.to_string());
    // CloudFront's way of saying "the viewer left": Error, though the response was a Miss
    assert_eq!(field(abandoned, "x-edge-result-type"), "Error");
    assert_eq!(field(abandoned, "x-edge-response-result-type"), "Miss");

    // no credential in any line
    let mut secrets = vec![
        query_value(&signed, "Signature").to_owned(),
        query_value(&custom, "Signature").to_owned(),
        query_value(&custom, "Policy").to_owned(),
        query_value(&huge, "Signature").to_owned(),
    ];
    for (name, value) in cookies.pairs() {
        if name != "CloudFront-Key-Pair-Id" {
            secrets.push(value.to_string());
        }
    }
    for line in &lines {
        for secret in &secrets {
            assert!(!line.contains(secret.as_str()), "{secret} logged in {line}");
        }
    }

    // the metrics, scraped from the admin listener
    let healthz = fetch(Method::GET, &format!("{admin}/healthz"), &[]).await;
    assert_eq!(
        (healthz.status, healthz.body.as_ref()),
        (StatusCode::OK, &b"ok"[..])
    );
    let scraped = fetch(Method::GET, &format!("{admin}/metrics"), &[]).await;
    assert_eq!(scraped.headers["content-type"], observe::CONTENT_TYPE);
    let text = String::from_utf8(scraped.body.to_vec()).unwrap();
    let total_sent: u64 = lines
        .iter()
        .map(|l| field(l, "sc-bytes").parse::<u64>().unwrap())
        .sum();
    for expected in [
        r#"cfsign_edge_requests_total{code="200",error_code="-",behavior="/media/*"} 3"#.to_owned(),
        r#"cfsign_edge_requests_total{code="403",error_code="MissingKey",behavior="/media/*"} 1"#
            .to_owned(),
        r#"cfsign_edge_requests_total{code="404",error_code="-",behavior="/media/*"} 1"#.to_owned(),
        r#"cfsign_edge_requests_total{code="200",error_code="-",behavior="*"} 1"#.to_owned(),
        // hello.txt again (with cookies) is the one hit; huge.bin is too large
        // to cache and is streamed from the cache's own look at it (one get).
        r#"cfsign_edge_cache_total{result="hit"} 1"#.to_owned(),
        r#"cfsign_edge_cache_total{result="miss"} 3"#.to_owned(),
        r#"cfsign_edge_cache_total{result="error"} 2"#.to_owned(),
        r#"cfsign_edge_verification_seconds_count{outcome="allowed"} 4"#.to_owned(),
        r#"cfsign_edge_verification_seconds_count{outcome="denied"} 1"#.to_owned(),
        r#"cfsign_edge_origin_seconds_count{op="get"} 4"#.to_owned(),
        r#"cfsign_edge_origin_seconds_count{op="head"} 0"#.to_owned(),
        format!("cfsign_edge_response_bytes_total {total_sent}\n"),
        // one duration per request, by behavior and status
        r#"cfsign_edge_request_duration_seconds_count{behavior="/media/*",code="200"} 3"#
            .to_owned(),
        r#"cfsign_edge_request_duration_seconds_count{behavior="/media/*",code="403"} 1"#
            .to_owned(),
        r#"cfsign_edge_request_duration_seconds_bucket{le="60.0",behavior="*",code="200"} 1"#
            .to_owned(),
        format!(
            "cfsign_build_info{{version=\"{}\",commit=\"",
            env!("CARGO_PKG_VERSION")
        ),
        // the cache holds what was cached (read at the scrape)
        "# TYPE cfsign_edge_cache_entries gauge\n".to_owned(),
    ] {
        assert!(text.contains(&expected), "lacks {expected}:\n{text}");
    }

    let gauge = |name: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name}:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(gauge("cfsign_edge_cache_entries") >= 1, "{text}");
    assert!(gauge("cfsign_edge_cache_bytes") > 0, "{text}");

    // every viewer connection is closed by now, or soon
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !metrics.encode().contains("cfsign_edge_connections 0\n") {
        assert!(std::time::Instant::now() < deadline, "{}", metrics.encode());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    edge.stop().await;
}

/// Signs `{base}{path}` with a canned and a custom (`{base}/media/*`) policy;
/// signs again until the canned signature has a `~` (ECDSA signatures are
/// randomized), so that the `%7E` manglings mangle something.
fn signed_parts(signer: &Signer, base: &str, path: &str) -> (String, String, String, String) {
    let url = SignableUrl::parse(&format!("{base}{path}")).unwrap();
    let build = |resource: Resource| {
        Policy::builder(resource)
            .expires_in(Duration::from_secs(600))
            .build()
            .unwrap()
    };
    let canned = build(Resource::Url(url.clone()));
    let custom = build(Resource::pattern(&format!("{base}/media/*")).unwrap());
    let canned = (0..64)
        .map(|_| signer.sign_policy(&canned).unwrap())
        .find(|signed| signed.signature().contains('~'))
        .expect("64 ECDSA signatures without a `~`");
    let custom = signer.sign_policy(&custom).unwrap();
    (
        canned.expires().to_string(),
        canned.signature().to_owned(),
        custom.encoded_policy().unwrap().to_owned(),
        custom.signature().to_owned(),
    )
}

/// A logged field, in either format.
fn logged(line: &str, format: AccessLogFormat, name: &str) -> String {
    match format {
        AccessLogFormat::Text => field(line, name).to_owned(),
        AccessLogFormat::Json => {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            match &v[name] {
                serde_json::Value::Null => "-".to_owned(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_fragment_of_a_credential_reaches_the_access_log() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media/2024/summer-holiday/episode-01")).unwrap();
    std::fs::write(dir.path().join("media/hello.txt"), "hello edge\n").unwrap();
    let keys = TestSigner::with_key("K2JCJMDEHXQW5F", data::private_key("ec-p256.pkcs8.pem"));
    let verifier = keys.shared_verifier();
    let signer = keys.signer();
    for format in [AccessLogFormat::Text, AccessLogFormat::Json] {
        let edge = Edge::start(dir.path(), verifier.clone(), format).await;
        let (expires, signature, policy, policy_signature) =
            signed_parts(signer, &edge.base, "/media/hello.txt");
        let credentials = Credentials {
            base: &edge.base,
            path: "/media/hello.txt",
            expires: &expires,
            signature: &signature,
            policy: &policy,
            policy_signature: &policy_signature,
            key_pair_id: "K2JCJMDEHXQW5F",
        };
        let corpus = mangle::corpus(&credentials);
        assert!(corpus.len() >= 20);
        let mut statuses = Vec::new();
        for (i, request) in corpus.iter().enumerate() {
            let method = Method::from_bytes(request.method.as_bytes()).unwrap();
            let headers: Vec<(&str, &str)> = request
                .headers
                .iter()
                .map(|(n, v)| (*n, v.as_str()))
                .collect();
            let url = format!("{}{}", edge.base, request.target);
            let answer = try_fetch(method, &url, &headers)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", request.label));
            statuses.push(answer.status);
            // one line per request, in order
            assert_eq!(edge.lines(i + 1).await.len(), i + 1, "{}", request.label);
        }
        // ordinary requests stay readable
        let ordinary = [
            "/media/2024/summer-holiday/episode-01/segment_00001.ts?bitrate=4500&lang=en-US",
            "/media/app.3f2a9c1b7d4e5f60a1b2c3d4.js?v=2",
            "/public/very-long-but-ordinary-file-name_with-dashes_and_underscores-2024.pdf",
        ];
        let browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                       Chrome/126.0.0.0 Safari/537.36";
        for target in ordinary {
            let url = format!("{}{target}", edge.base);
            get(&url, &[("user-agent", browser), ("referer", &url)]).await;
        }
        let lines = edge.lines(corpus.len() + ordinary.len()).await;
        assert_eq!(lines.len(), corpus.len() + ordinary.len(), "{lines:#?}");

        // nothing of a signature or of the policy, in any form, in any line
        let mut leaked = Vec::new();
        for (request, line) in corpus.iter().zip(&lines) {
            let found = mangle::leaks(line, &credentials.secrets());
            if !found.is_empty() {
                leaked.push(format!(
                    "{}: {} windows, e.g. {:?}\n  {line}",
                    request.label,
                    found.len(),
                    found[0]
                ));
            }
        }
        let all = lines.join("\n");
        assert!(
            leaked.is_empty() && mangle::leaks(&all, &credentials.secrets()).is_empty(),
            "{format:?} log leaks credentials in {} of {} lines:\n{}",
            leaked.len(),
            corpus.len(),
            leaked.join("\n")
        );

        // and the log stays useful: what is not a credential is logged as sent
        let line = |label: &str| -> &str {
            let i = corpus.iter().position(|r| r.label == label).unwrap();
            &lines[i]
        };
        let query = |label: &str| logged(line(label), format, "cs-uri-query");
        let k = "K2JCJMDEHXQW5F";
        assert_eq!(statuses[0], StatusCode::OK, "the canned URL as signed");
        assert_eq!(
            query("canned URL as signed"),
            format!("Expires={expires}&Signature=REDACTED&Key-Pair-Id={k}")
        );
        assert_eq!(
            query("custom-policy URL as signed"),
            format!("Policy=REDACTED&Signature=REDACTED&Key-Pair-Id={k}")
        );
        assert_eq!(
            query("HTML-escaped &amp; separators"),
            format!("Expires={expires}&amp;Signature=REDACTED&amp;Key-Pair-Id={k}")
        );
        assert_eq!(
            query("%26 separators"),
            format!("Expires={expires}%26Signature=REDACTED%26Key-Pair-Id={k}")
        );
        assert_eq!(
            query("Signature%3D"),
            format!("Expires={expires}&Signature%3DREDACTED&Key-Pair-Id={k}")
        );
        assert_eq!(
            query("lower-case names"),
            format!("expires={expires}&signature=REDACTED&key-pair-id={k}")
        );
        assert_eq!(
            query("~ as %7E"),
            format!("Expires={expires}&Signature=REDACTED&Key-Pair-Id={k}")
        );
        assert_eq!(
            logged(
                line("signature pasted as a path segment"),
                format,
                "cs-uri-stem"
            ),
            // `/` is standard base64 too: the run starts at the first `/`
            "REDACTED"
        );
        assert_eq!(
            logged(line("Cookie: signed cookies"), format, "cs(Cookie)"),
            "CloudFront-Policy;CloudFront-Signature;CloudFront-Key-Pair-Id"
        );
        for (request, line) in corpus.iter().zip(&lines) {
            if request.target.contains(&format!("&Key-Pair-Id={k}")) {
                let query = logged(line, format, "cs-uri-query");
                assert!(query.contains(&format!("Key-Pair-Id={k}")), "{query}");
            }
        }
        for (target, line) in ordinary.iter().zip(&lines[corpus.len()..]) {
            let (stem, query) = target.split_once('?').unwrap_or((target, "-"));
            assert_eq!(logged(line, format, "cs-uri-stem"), stem);
            assert_eq!(logged(line, format, "cs-uri-query"), query);
            assert_eq!(
                logged(line, format, "cs(User-Agent)"),
                browser.replace(' ', "%20")
            );
            assert_eq!(
                logged(line, format, "cs(Referer)"),
                format!("{}{target}", edge.base)
            );
        }
        edge.stop().await;
    }
}
