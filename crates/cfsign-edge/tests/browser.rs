//! Signed cookies in a real browser: headless Chromium (Debian's, driven by
//! Playwright from `tests/browser/driver.mjs`) loads a page whose images and audio
//! are behind the edge's signed-access check, with the `Set-Cookie` headers made
//! by `cfsign` with the default attributes (`Secure; HttpOnly; SameSite=Lax`,
//! session cookies) and `Path=/private/`. With the cookies the media load; with
//! the cookies cleared, or with cookies whose policy has expired, they fail.
//!
//! Chromium treats `http://127.0.0.1` as potentially trustworthy, so it stores
//! and sends `Secure` cookies over plain HTTP on loopback (checked with Chromium
//! 156; a non-loopback name such as `http://edge.test` gets no `Secure` cookie).
//! The same test runs a second time over HTTPS (`server::serve` with TLS, a self-signed
//! certificate for `edge.test`) with the browser reaching the edge by the name
//! `edge.test` (`--host-resolver-rules` maps it to 127.0.0.1; certificate errors
//! ignored), the case of an edge that viewers reach by name: `Secure` cookies work there.
//!
//! Needs `/usr/bin/chromium` (or `$CHROMIUM`), Node.js 20+ and the pinned
//! `playwright-core` in `tests/browser/node_modules`: `bash scripts/setup-browser`
//! installs them. Without them the test fails with that hint; it never skips.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::get;
use cfsign::{CookieAttributes, Policy, Resource};
use cfsign_edge::access::{AccessConfig, Scheme};
use cfsign_edge::origin::{DirectoryOrigin, Origin};
use cfsign_edge::server::ServeOptions;
use cfsign_edge::tls::{EdgeTls, TlsCertificate};
use cfsign_testkit::browser::{self, Json, JsonExt as _};
use cfsign_testkit::edge as tk_edge;
use cfsign_testkit::server::{self as tk_server, RunningServer};
use cfsign_testkit::signer::TestSigner;
use http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};

/// Bound on the whole driver run (launch, three phases, close).
const DRIVER_TIMEOUT: Duration = Duration::from_secs(120);

/// The image sizes: each image is recognised by its size in the browser.
const A_SIZE: (u32, u32) = (3, 2);
const B_SIZE: (u32, u32) = (5, 4);
/// The audio clip: 0.25 s of 8 kHz mono 16-bit PCM.
const CLIP_RATE: u32 = 8000;
const CLIP_SAMPLES: u32 = 2000;

const INDEX_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cfsign edge: signed cookies</title>
<link rel="icon" href="data:,">
<script>
  window.mediaEvents = [];
  for (const type of ['load', 'error', 'loadeddata', 'canplay']) {
    document.addEventListener(type, (e) => {
      if (e.target && e.target.id) window.mediaEvents.push(e.target.id + ':' + type);
    }, true);
  }
</script>
</head>
<body>
<img id="a" src="/private/a.png" alt="a">
<img id="b" src="/private/b.png" alt="b">
<audio id="clip" src="/private/clip.wav" preload="auto"></audio>
</body>
</html>
"#;

const PROBE_HTML: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>probe</title><link rel="icon" href="data:,"></head>
<body><p>protected page</p></body></html>
"#;

/// A cookie that is not `HttpOnly`, set beside the signed cookies: script on a
/// page under `/private/` sees it, so an empty `document.cookie` is not why the
/// CloudFront cookies are missing there.
const CONTROL_COOKIE: &str = "visible=1; Path=/private/; SameSite=Lax";

// ---------------------------------------------------------------------------
// Prerequisites

// ---------------------------------------------------------------------------
// Test assets

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// A solid-colour RGB PNG (one stored deflate block: the images are tiny).
fn png((width, height): (u32, u32), rgb: [u8; 3]) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    // Each row: filter type 0 (none), then the pixels.
    let row: Vec<u8> = std::iter::once(0)
        .chain(rgb.iter().copied().cycle().take(3 * width as usize))
        .collect();
    let raw = row.repeat(height as usize);
    let len = u16::try_from(raw.len()).unwrap();
    let mut zlib = vec![0x78, 0x01, 0x01]; // zlib header; final stored block
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&raw);
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A 440 Hz tone as a PCM WAV file.
fn wav() -> Vec<u8> {
    let data_len = CLIP_SAMPLES * 2;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&CLIP_RATE.to_le_bytes());
    out.extend_from_slice(&(CLIP_RATE * 2).to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..CLIP_SAMPLES {
        let t = f64::from(i) / f64::from(CLIP_RATE);
        #[allow(clippy::cast_possible_truncation)] // |sample| <= 8000
        let sample = (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16;
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

// ---------------------------------------------------------------------------
// The server: /login and /login-expired, a public /index.html, and /private/*
// behind the edge's signed-access check; every request is logged.

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    phase: String,
    path: String,
    status: u16,
    /// The request carried `CloudFront-*` cookies.
    signed_cookies: bool,
    /// The `<Code>` of a denial.
    code: Option<String>,
    /// The HTTP version the browser spoke.
    version: http::Version,
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    let phase = request
        .headers()
        .get("x-test-phase")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let path = request.uri().path().to_owned();
    let version = request.version();
    let signed_cookies = request
        .headers()
        .get_all(COOKIE)
        .iter()
        .any(|v| v.to_str().unwrap_or("").contains("CloudFront-"));
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let (response, code) = if status == 403 {
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let code = text
            .split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map(|(code, _)| code.to_owned());
        (Response::from_parts(parts, Body::from(bytes)), code)
    } else {
        (response, None)
    };
    log.lock().unwrap().push(Seen {
        phase,
        path,
        status,
        signed_cookies,
        code,
        version,
    });
    response
}

fn signed_in(set_cookies: &[String]) -> Response {
    let mut response = Response::builder()
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header("cache-control", "no-store");
    for value in set_cookies {
        response = response.header(SET_COOKIE, value);
    }
    response
        .body(Body::from(
            "<!doctype html><title>signed in</title><link rel=\"icon\" href=\"data:,\"><p>signed in</p>",
        ))
        .unwrap()
}

struct Site {
    base: String,
    /// The names of the cookies `/login` sets, in order.
    cookie_names: Vec<&'static str>,
    log: Log,
    server: RunningServer,
}

/// The host name the browser uses over TLS (mapped to 127.0.0.1 by the driver).
const TLS_HOST: &str = "edge.test";

/// Serves the site on 127.0.0.1; with `tls`, over HTTPS with a self-signed certificate for
/// [`TLS_HOST`] (its files written into `scratch`), and the edge matching `https://` URLs.
async fn start(root: &Path, tls: bool, scratch: &Path) -> Site {
    let keys = TestSigner::new("KBROWSER");
    let signer = keys.signer();

    let listener = tk_server::listener();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let base = if tls {
        format!("https://{TLS_HOST}:{}", addr.port())
    } else {
        format!("http://{addr}")
    };
    let resource = Resource::pattern(&format!("{base}/private/*")).unwrap();
    let attributes = CookieAttributes::default().path("/private/");

    let now = jiff::Timestamp::now();
    let valid = signer
        .sign_cookies(
            &Policy::builder(resource.clone())
                .expires_in(Duration::from_secs(600))
                .build_at(now)
                .unwrap(),
        )
        .unwrap();
    assert!(
        valid.warnings(&attributes).is_empty(),
        "{:?}",
        valid.warnings(&attributes)
    );
    let cookie_names: Vec<&'static str> = valid.pairs().into_iter().map(|(n, _)| n).collect();
    let mut valid_headers = valid.set_cookie_headers(&attributes).unwrap();
    for header in &valid_headers {
        assert!(
            header.ends_with("; Path=/private/; Secure; HttpOnly; SameSite=Lax"),
            "{header}"
        );
    }
    valid_headers.push(CONTROL_COOKIE.to_owned());
    let expired = signer
        .sign_cookies(
            &Policy::builder(resource)
                .expires_at(now - jiff::SignedDuration::from_secs(60))
                .allow_past_expiry(true)
                .build_at(now)
                .unwrap(),
        )
        .unwrap();
    let expired_headers = expired.set_cookie_headers(&attributes).unwrap();

    let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(root).unwrap());
    let edge = tk_edge::edge(
        Arc::clone(&origin),
        Some(AccessConfig::new(
            keys.shared_verifier(),
            if tls { Scheme::Https } else { Scheme::Http },
        )),
    );
    let public = tk_edge::edge(origin, None);
    let log: Log = Arc::default();
    let valid_headers = Arc::new(valid_headers);
    let expired_headers = Arc::new(expired_headers);
    let app = Router::new()
        .route(
            "/login",
            get(move || {
                let headers = Arc::clone(&valid_headers);
                async move { signed_in(&headers) }
            }),
        )
        .route(
            "/login-expired",
            get(move || {
                let headers = Arc::clone(&expired_headers);
                async move { signed_in(&headers) }
            }),
        )
        .route_service("/index.html", public)
        .route_service("/private/{*key}", edge)
        .layer(from_fn_with_state(Arc::clone(&log), record));

    let mut options = ServeOptions::default();
    if tls {
        let cert = cfsign_testkit::tls::self_signed(&[TLS_HOST]);
        let (cert_file, key_file) = cert.write(scratch, "edge");
        options = options
            .tls(EdgeTls::new(&TlsCertificate::load(&cert_file, &key_file).unwrap()).unwrap());
    }
    let server = RunningServer::serve(listener, app, options);
    Site {
        base,
        cookie_names,
        log,
        server,
    }
}

// ---------------------------------------------------------------------------
// The driver

/// Runs the driver once; its last stdout line is the JSON result.
async fn run_driver(base: &str, scratch: &Path) -> (Json, String) {
    browser::run_driver("driver.mjs", base, scratch, DRIVER_TIMEOUT).await
}

// ---------------------------------------------------------------------------
// The test

/// One Chromium at a time: the two runs share 2 cores with the rest of the suite.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_cookies_in_headless_chromium() {
    let _one = ONE_BROWSER.lock().await;
    signed_cookies(false).await;
}

/// The same over HTTPS, with the browser reaching the edge by a name
/// (`https://edge.test:PORT`), not a loopback address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_cookies_in_headless_chromium_over_https() {
    let _one = ONE_BROWSER.lock().await;
    signed_cookies(true).await;
}

async fn signed_cookies(tls: bool) {
    browser::check_prerequisites(&["playwright-core/package.json"]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("private")).unwrap();
    std::fs::write(root.join("index.html"), INDEX_HTML).unwrap();
    std::fs::write(root.join("private/probe.html"), PROBE_HTML).unwrap();
    std::fs::write(root.join("private/a.png"), png(A_SIZE, [200, 30, 30])).unwrap();
    std::fs::write(root.join("private/b.png"), png(B_SIZE, [30, 30, 200])).unwrap();
    std::fs::write(root.join("private/clip.wav"), wav()).unwrap();

    let site = start(&root, tls, dir.path()).await;
    assert_eq!(site.base.starts_with("https://edge.test:"), tls);
    let (result, raw) = run_driver(&site.base, dir.path()).await;
    site.server.stop().await;
    let context = format!("driver result: {raw}");

    // --- Signed in: the cookies as the browser holds them, then the media load.
    let valid = result.at("phases.valid");
    assert_eq!(valid.at("loginStatus").num(), 200.0, "{context}");
    assert_eq!(valid.at("probeStatus").num(), 200.0, "{context}");
    let jar = valid.at("cookies").arr();
    let names: Vec<&str> = jar.iter().map(|c| c.at("name").str()).collect();
    for name in &site.cookie_names {
        assert!(names.contains(name), "{name} not stored: {context}");
    }
    for cookie in jar {
        let name = cookie.at("name").str();
        assert_eq!(cookie.at("path").str(), "/private/", "{name}: {context}");
        let domain = if tls { TLS_HOST } else { "127.0.0.1" };
        assert_eq!(cookie.at("domain").str(), domain, "{name}: {context}");
        assert!(cookie.at("session").bool(), "{name}: {context}");
        assert_eq!(cookie.at("sameSite").str(), "Lax", "{name}: {context}");
        let signed = name.starts_with("CloudFront-");
        assert_eq!(cookie.at("secure").bool(), signed, "{name}: {context}");
        assert_eq!(cookie.at("httpOnly").bool(), signed, "{name}: {context}");
    }
    // HttpOnly: script on a page inside the cookies' path sees only the control cookie.
    assert_eq!(
        valid.at("probeDocumentCookie").str(),
        "visible=1",
        "{context}"
    );
    assert_loaded(valid, &context);

    // --- Cookies cleared, page reloaded: nothing loads.
    let cleared = result.at("phases.cleared");
    assert!(cleared.at("cookies").arr().is_empty(), "{context}");
    assert_failed(cleared, &context);

    // --- Cookies whose policy has expired: stored and sent, but nothing loads.
    let expired = result.at("phases.expired");
    assert_eq!(expired.at("loginStatus").num(), 200.0, "{context}");
    let names: Vec<&str> = expired
        .at("cookies")
        .arr()
        .iter()
        .map(|c| c.at("name").str())
        .collect();
    for name in &site.cookie_names {
        assert!(names.contains(name), "{name} not stored: {context}");
    }
    assert_failed(expired, &context);

    // --- What the browser got for the protected files, per phase.
    let responses = result.at("responses").arr();
    for (phase, ok) in [("valid", true), ("cleared", false), ("expired", false)] {
        let got: Vec<(&str, f64)> = responses
            .iter()
            .filter(|r| r.at("phase").str() == phase && r.at("path").str().starts_with("/private/"))
            .map(|r| (r.at("path").str(), r.at("status").num()))
            .collect();
        for file in ["/private/a.png", "/private/b.png", "/private/clip.wav"] {
            assert!(
                got.iter().any(|(p, _)| *p == file),
                "{phase}: no response for {file}: {got:?}"
            );
        }
        for (path, status) in &got {
            if ok {
                assert!(
                    *status == 200.0 || *status == 206.0,
                    "{phase}: {path} {status}"
                );
            } else {
                assert!(
                    (*status - 403.0).abs() < f64::EPSILON,
                    "{phase}: {path} {status}"
                );
            }
        }
    }

    // --- The edge's side: every protected request, by phase.
    let log = site.log.lock().unwrap().clone();
    let private: Vec<&Seen> = log
        .iter()
        .filter(|s| s.path.starts_with("/private/"))
        .collect();
    // Over HTTPS Chromium picks HTTP/2 by ALPN; over plain HTTP it speaks HTTP/1.1.
    let expected = if tls {
        http::Version::HTTP_2
    } else {
        http::Version::HTTP_11
    };
    assert!(
        private.iter().all(|s| s.version == expected),
        "not all {expected:?}: {private:#?}"
    );
    assert!(
        private
            .iter()
            .all(|s| ["valid", "cleared", "expired"].contains(&s.phase.as_str())),
        "a protected request outside the phases: {private:#?}"
    );
    let in_phase = |phase: &str| -> Vec<&Seen> {
        private
            .iter()
            .copied()
            .filter(|s| s.phase == phase)
            .collect()
    };
    let valid = in_phase("valid");
    assert!(
        valid
            .iter()
            .all(|s| s.signed_cookies && (s.status == 200 || s.status == 206)),
        "{valid:#?}"
    );
    let cleared = in_phase("cleared");
    assert!(
        cleared.iter().all(|s| !s.signed_cookies
            && s.status == 403
            && s.code.as_deref() == Some("MissingKey")),
        "{cleared:#?}"
    );
    let expired = in_phase("expired");
    assert!(
        expired.iter().all(|s| s.signed_cookies
            && s.status == 403
            && s.code.as_deref() == Some("AccessDenied")),
        "{expired:#?}"
    );
    for (phase, seen) in [
        ("valid", &valid),
        ("cleared", &cleared),
        ("expired", &expired),
    ] {
        for file in ["/private/a.png", "/private/b.png", "/private/clip.wav"] {
            assert!(
                seen.iter().any(|s| s.path == file),
                "{phase}: the edge never saw {file}: {seen:#?}"
            );
        }
    }
    assert!(valid.iter().any(|s| s.path == "/private/probe.html"));
    let served = |status: u16| private.iter().filter(|s| s.status == status).count();
    eprintln!(
        "{}: protected requests: {} x 200, {} x 206, {} x 403",
        result.at("browser").str(),
        served(200),
        served(206),
        served(403)
    );
}

/// Both images decoded at their sizes, the audio playable.
fn assert_loaded(phase: &Json, context: &str) {
    let images = phase.at("images").arr();
    assert_eq!(images.len(), 2, "{context}");
    for (image, (w, h)) in images.iter().zip([A_SIZE, B_SIZE]) {
        assert!(image.at("complete").bool(), "{context}");
        assert_eq!(image.at("naturalWidth").num(), f64::from(w), "{context}");
        assert_eq!(image.at("naturalHeight").num(), f64::from(h), "{context}");
    }
    let audio = phase.at("audio");
    assert!(audio.at("error").is_null(), "{context}");
    assert!(audio.at("readyState").num() >= 2.0, "{context}");
    let duration = audio.at("duration").num();
    let expected = f64::from(CLIP_SAMPLES) / f64::from(CLIP_RATE);
    assert!(
        (duration - expected).abs() < 0.01,
        "duration {duration}: {context}"
    );
    let events = event_names(phase);
    for event in ["a:load", "b:load", "clip:loadeddata"] {
        assert!(events.contains(&event), "no {event}: {context}");
    }
    assert!(!events.iter().any(|e| e.ends_with(":error")), "{context}");
    assert!(
        !phase.at("documentCookie").str().contains("CloudFront-"),
        "{context}"
    );
}

/// Both images broken, the audio in error.
fn assert_failed(phase: &Json, context: &str) {
    for image in phase.at("images").arr() {
        assert!(image.at("complete").bool(), "{context}");
        assert_eq!(image.at("naturalWidth").num(), 0.0, "{context}");
    }
    let audio = phase.at("audio");
    // MEDIA_ERR_SRC_NOT_SUPPORTED: what a media element reports for a 403.
    assert_eq!(audio.at("error").num(), 4.0, "{context}");
    assert!(audio.at("readyState").num() < 1.0, "{context}");
    let events = event_names(phase);
    for event in ["a:error", "b:error", "clip:error"] {
        assert!(events.contains(&event), "no {event}: {context}");
    }
    assert!(
        !events
            .iter()
            .any(|e| e.ends_with(":load") || e.ends_with(":loadeddata")),
        "{context}"
    );
    assert!(
        !phase.at("documentCookie").str().contains("CloudFront-"),
        "{context}"
    );
}

fn event_names(phase: &Json) -> Vec<&str> {
    phase.at("events").arr().iter().map(|e| e.str()).collect()
}
