//! Behavioural tests of the layer, through `oneshot` (no sockets).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::routing::get;
use cfsign::verify::{Allowed, Verifier};
use cfsign::{KeyPairId, KeyType, Policy, PrivateKey, Resource, SignableUrl, Signer};
use http::StatusCode;
use http_body_util::BodyExt as _;
use jiff::Timestamp;
use tower::ServiceExt as _;

use super::*;

const NOW: i64 = 1_767_200_000;

struct Setup {
    signer: Signer,
    verifier: SharedVerifier,
}

fn setup() -> Setup {
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let id = KeyPairId::new("KEDGE").unwrap();
    let verifier =
        SharedVerifier::new(Verifier::new().with_key(id.clone(), key.public_key().unwrap()));
    Setup {
        signer: Signer::new(id, key),
        verifier,
    }
}

fn now() -> Timestamp {
    Timestamp::from_second(NOW).unwrap()
}

fn sign(s: &Setup, url: &str) -> String {
    let u = SignableUrl::parse(url).unwrap();
    let p = Policy::builder(Resource::Url(u.clone()))
        .expires_in(Duration::from_secs(60))
        .build_at(now())
        .unwrap();
    s.signer.sign_url(&u, &p).unwrap().into_string()
}

fn app(config: AccessConfig) -> Router {
    Router::new()
        .fallback(get(|request: Request| async move {
            let key = request
                .extensions()
                .get::<Arc<Allowed>>()
                .map_or("none", |a| a.key_pair_id())
                .to_owned();
            format!("{} {key}", request.uri())
        }))
        .layer(SignedAccessLayer::new(config.clock(now)))
}

async fn send(app: Router, request: http::Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

fn request(path_and_query: &str, host: &str) -> http::Request<Body> {
    http::Request::get(path_and_query)
        .header("host", host)
        .body(Body::empty())
        .unwrap()
}

fn path_of(url: &str) -> &str {
    &url[url.find("://").unwrap() + 3..][url[url.find("://").unwrap() + 3..].find('/').unwrap()..]
}

#[tokio::test]
async fn signed_request_reaches_the_service_without_signing_parameters() {
    let s = setup();
    let url = sign(&s, "http://edge.test:8080/media/a.jpg?size=2");
    let (status, _, body) = send(
        app(AccessConfig::new(s.verifier.clone(), Scheme::Http)),
        request(path_of(&url), "edge.test:8080"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "/media/a.jpg?size=2 KEDGE");
}

#[tokio::test]
async fn denials_are_cloudfront_xml() {
    let s = setup();
    let (status, headers, body) = send(
        app(AccessConfig::new(s.verifier.clone(), Scheme::Http)),
        request("/media/a.jpg", "edge.test"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers["content-type"], "text/xml");
    assert_eq!(headers["x-cache"], "Error from cfsign");
    assert_eq!(
        body,
        r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>MissingKey</Code><Message>Missing Key-Pair-Id query parameter or cookie value</Message></Error>"#
    );
    let url = sign(&s, "http://edge.test/media/a.jpg");
    // signed for another scheme, host or path: AccessDenied
    for (path, host, scheme) in [
        (
            path_of(&url).replace("a.jpg", "b.jpg"),
            "edge.test",
            Scheme::Http,
        ),
        (path_of(&url).to_owned(), "other.test", Scheme::Http),
        (path_of(&url).to_owned(), "edge.test", Scheme::Https),
    ] {
        let (status, _, body) = send(
            app(AccessConfig::new(s.verifier.clone(), scheme)),
            request(&path, host),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    }
}

#[tokio::test]
async fn host_header_case_and_public_base_url() {
    let s = setup();
    let url = sign(&s, "http://edge.test/a.jpg");
    let (status, _, _) = send(
        app(AccessConfig::new(s.verifier.clone(), Scheme::Http)),
        request(path_of(&url), "EDGE.Test"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let url = sign(&s, "https://cdn.example.com/a.jpg");
    let config = AccessConfig::new(s.verifier.clone(), Scheme::Http)
        .public_base_url("https://cdn.example.com/");
    let (status, _, body) = send(app(config), request(path_of(&url), "10.0.0.7:8080")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, headers, body) = send(
        app(AccessConfig::new(s.verifier.clone(), Scheme::Http)),
        http::Request::get(path_of(&url))
            .header("host", "bad host!")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["content-type"], "text/xml");
    assert_eq!(body, ErrorResponse::BadHost.xml_body());
}

/// Behind a load balancer the public base URL names the viewer URL, over an
/// absolute-form target and `Host` alike; the `Host` headers are still checked.
#[tokio::test]
async fn public_base_url_wins_over_the_target_and_host_is_still_checked() {
    let s = setup();
    let url = sign(&s, "https://cdn.example.com/a.jpg");
    let config = || {
        AccessConfig::new(s.verifier.clone(), Scheme::Http)
            .public_base_url("https://cdn.example.com")
    };
    let absolute = format!("http://other.example{}", path_of(&url));
    let (status, _, body) = send(app(config()), request(&absolute, "10.0.0.7")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for twice in [
        http::Request::get(path_of(&url))
            .header("host", "a")
            .header("host", "a"),
        http::Request::get(&absolute)
            .header("host", "a")
            .header("host", "b"),
    ] {
        let (status, _, body) = send(app(config()), twice.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, ErrorResponse::DuplicateHost.xml_body());
    }
    // Without a base, an HTTP/1.1 request without Host names no viewer URL.
    let (status, _, body) = send(
        app(AccessConfig::new(s.verifier.clone(), Scheme::Http)),
        http::Request::get(path_of(&url))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, ErrorResponse::MissingHost.xml_body());
}

#[tokio::test]
async fn cookie_headers_over_the_request_limit() {
    let s = setup();
    let mut req = http::Request::get("/v/1.ts").header("host", "edge.test");
    for i in 0..30 {
        req = req.header("cookie", format!("c{i}={}", "x".repeat(1_000)));
    }
    let (status, headers, body) = send(
        app(AccessConfig::new(s.verifier.clone(), Scheme::Http)),
        req.body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["content-type"], "text/xml");
    assert_eq!(
        body,
        r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidRequestHeader</Code><Message>The Cookie headers are longer than 20,480 bytes.</Message></Error>"#
    );
}

#[tokio::test]
async fn cookies_from_several_headers() {
    let s = setup();
    let policy = Policy::builder(Resource::pattern("http://edge.test/v/*").unwrap())
        .expires_in(Duration::from_secs(60))
        .build_at(now())
        .unwrap();
    let pairs = s.signer.sign_cookies(&policy).unwrap().pairs();
    let mut req = http::Request::get("/v/1.ts").header("host", "edge.test");
    for (name, value) in &pairs {
        req = req.header("cookie", format!("{name}={value}"));
    }
    let (status, _, body) = send(
        app(AccessConfig::new(s.verifier.clone(), Scheme::Http)),
        req.body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn client_ip_only_from_trusted_proxies() {
    let s = setup();
    let policy = Policy::builder(Resource::pattern("http://edge.test/*").unwrap())
        .expires_in(Duration::from_secs(60))
        .source_ip("203.0.113.0/24".parse().unwrap())
        .build_at(now())
        .unwrap();
    let url = s
        .signer
        .sign_url(&SignableUrl::parse("http://edge.test/a").unwrap(), &policy)
        .unwrap()
        .into_string();
    let with = |peer: &str, xff: Option<&str>| {
        let mut r = request(path_of(&url), "edge.test");
        r.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        if let Some(x) = xff {
            r.headers_mut()
                .insert("x-forwarded-for", x.parse().unwrap());
        }
        r
    };
    let untrusted = AccessConfig::new(s.verifier.clone(), Scheme::Http);
    let trusted = AccessConfig::new(s.verifier.clone(), Scheme::Http)
        .trusted_proxies(vec!["10.0.0.0/8".parse().unwrap()]);
    // direct client inside the range
    assert_eq!(
        send(app(untrusted.clone()), with("203.0.113.5:5000", None))
            .await
            .0,
        StatusCode::OK
    );
    // an untrusted peer cannot claim an address with X-Forwarded-For
    assert_eq!(
        send(
            app(untrusted.clone()),
            with("198.51.100.1:5000", Some("203.0.113.5"))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // a trusted proxy can; the right-most untrusted address wins
    assert_eq!(
        send(
            app(trusted.clone()),
            with("10.1.2.3:5000", Some("203.0.113.5"))
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        send(
            app(trusted.clone()),
            with("10.1.2.3:5000", Some("203.0.113.5, 198.51.100.1"))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(
            app(trusted.clone()),
            with("10.1.2.3:5000", Some("198.51.100.1, 203.0.113.5, 10.9.9.9"))
        )
        .await
        .0,
        StatusCode::OK
    );
    // IPv4-mapped peer addresses are IPv4 clients
    assert_eq!(
        send(
            app(untrusted.clone()),
            with("[::ffff:203.0.113.5]:5000", None)
        )
        .await
        .0,
        StatusCode::OK
    );
    // no peer known: the IP condition cannot be met
    assert_eq!(
        send(app(untrusted), request(path_of(&url), "edge.test"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn keys_can_be_replaced_while_serving() {
    let s = setup();
    let url = sign(&s, "http://edge.test/a.jpg");
    let config = AccessConfig::new(s.verifier.clone(), Scheme::Http);
    assert_eq!(
        send(app(config.clone()), request(path_of(&url), "edge.test"))
            .await
            .0,
        StatusCode::OK
    );
    s.verifier.replace(Verifier::new());
    let (status, _, body) = send(app(config), request(path_of(&url), "edge.test")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("InvalidKey"), "{body}");
}
