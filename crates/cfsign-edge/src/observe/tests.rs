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
        escape(b"a\tb\r\nc d\x1b[31m\xffe"),
        "a%09b%0D%0Ac%20d%1B[31m%FFe"
    );
    assert_eq!(escape(&[b'a'; 10_000]).len(), MAX_FIELD_BYTES + 3);
    let cut = escape(&[b' '; 10_000]);
    assert!(
        cut.len() <= MAX_FIELD_BYTES + 3 && cut.ends_with("%20..."),
        "{cut}"
    );
    // a run of plain bytes that starts with `%` is cut, not dropped
    assert_eq!(
        escape("%25".repeat(4_000).as_bytes()),
        format!("{}...", &"%25".repeat(4_000)[..MAX_FIELD_BYTES])
    );
    assert_eq!(
        redact_query("Policy=eyJ&Signature=ab~c&Key-Pair-Id=K1"),
        "Policy=REDACTED&Signature=REDACTED&Key-Pair-Id=K1"
    );
    assert_eq!(redact_query("SIGNATURE"), "SIGNATURE=REDACTED");
    assert_eq!(redact_query("a=1&b"), "a=1&b");
    assert_eq!(
        redact_url(b"https://x.test/p a?Expires=1&Signature=zz#frag"),
        "https://x.test/p%20a?Expires=1&Signature=REDACTED"
    );
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
        cookie_names(&headers),
        "CloudFront-Policy;CloudFront-Signature;CloudFront-Key-Pair-Id;session"
    );
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
        text.contains(r#"cfsign_edge_requests_total{status="200",code="-",behavior="-"} 1"#),
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
    assert_eq!(object.len(), FIELDS.len());
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
            .contains(r#"cfsign_edge_requests_total{status="0",code="-",behavior="-"} 1"#)
    );
}

#[tokio::test]
async fn admin_endpoints() {
    let metrics = Metrics::new();
    let admin = admin_router(metrics);
    let response = admin
        .clone()
        .oneshot(http::Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], CONTENT_TYPE);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = std::str::from_utf8(&body).unwrap();
    for name in [
        "cfsign_edge_cache",
        "cfsign_edge_response_bytes",
        "cfsign_edge_verification_seconds",
        "cfsign_edge_origin_seconds",
        "cfsign_edge_connections",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}:\n{text}");
    }
    let response = admin
        .oneshot(http::Request::get("/other").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
