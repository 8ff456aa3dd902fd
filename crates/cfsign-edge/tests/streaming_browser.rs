//! Signed streaming in a real browser (issue 13): headless Chromium (Debian's,
//! driven by Playwright from `tests/browser/play.mjs`) plays the short H.264 + AAC
//! streams of `cfsign_testkit::media` through the edge with hls.js 1.7 (HLS) and
//! dashjs 5 (DASH), muted, through Media Source Extensions. Chromium's MSE plays
//! H.264 main profile (`avc1.4d400b`, level 1.1: the MPD's `codecs`, checked
//! below) with AAC-LC (`mp4a.40.2`), in MPEG-TS segments (hls.js transmuxes them
//! to fMP4) and in fMP4.
//!
//! 1. Signed URLs with `sign_manifests`: for each of the six streams the page
//!    is given only one URL, the manifest's, signed with a custom policy for
//!    `http://127.0.0.1:PORT/streams/<stream>/*`. The edge stamps the viewer's
//!    parameters on every child URI, so the player fetches child playlists, the
//!    AES key, init segments and segments with them: playback passes 3 s, no
//!    response is >= 400, more than 3 segments are fetched, each with `Signature=`.
//! 2. The same URL with one character of its signature changed, and a URL whose
//!    policy has expired: the manifest is refused (403), the player reports a
//!    fatal error and nothing plays.
//! 3. Signed cookies across origins: the page is on `http://127.0.0.1:PA` (the
//!    edge above), the streams on a second edge at `http://127.0.0.1:PB`, which
//!    sets the `CloudFront-*` cookies of a custom policy for `/streams/*` at
//!    `/login` (cfsign's default attributes: `Secure; HttpOnly; SameSite=Lax`,
//!    `Path=/streams/`). hls.js with `xhr.withCredentials = true` plays; without
//!    it the browser sends no cookies and the manifest is refused (403).
//!    Two ports of one host are two origins of one site, like a page on
//!    `www.example.com` and a distribution on `media.example.com`. Across sites
//!    (page on `127.0.0.1`, edge on `localhost`, cookies `SameSite=None; Secure`)
//!    Chromium 156 keeps the cookies off the requests: they are stored, but
//!    blocked as third-party cookies (seen in Playwright's contexts and in a
//!    persistent profile; CDP's reason there: `UserPreferences`).
//!    The edge sends no CORS headers (CloudFront leaves them to a response
//!    headers policy), so the second edge is fronted by a small axum middleware
//!    standing in for that policy: `Access-Control-Allow-Origin: <the page's
//!    origin>` and `Access-Control-Allow-Credentials: true` on every response,
//!    and an answer to `OPTIONS` preflights.
//!
//! Chromium runs once, for every scenario (each in a fresh browser context),
//! bounded by [`DRIVER_TIMEOUT`].
//!
//! Needs `/usr/bin/chromium` (or `$CHROMIUM`), Node.js 20+, `playwright-core`,
//! `hls.js` and `dashjs` in `tests/browser/node_modules` (`bash scripts/setup-browser`)
//! and ffmpeg (`bash scripts/setup-media`). Without them the test fails with the
//! hint; it never skips.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::get;
use cfsign::{CookieAttributes, Policy, PolicyForm, Resource, SignableUrl};
use cfsign_edge::access::{AccessConfig, Scheme};
use cfsign_edge::behavior::{Behavior, Behaviors, PathPattern};
use cfsign_edge::observe::AccessLogFormat;
use cfsign_edge::origin::{DirectoryOrigin, Origin};
use cfsign_edge::server::ServeOptions;
use cfsign_testkit::browser::{self, Json, JsonExt as _};
use cfsign_testkit::edge::{self as tk_edge, BufferedLog, EdgeBuilder};
use cfsign_testkit::media::Streams;
use cfsign_testkit::server::{self as tk_server, RunningServer};
use cfsign_testkit::signer::TestSigner;
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, CONTENT_TYPE, COOKIE, ORIGIN, SET_COOKIE,
    VARY,
};
use http::{HeaderValue, Method, StatusCode};
use serde_json::json;

/// Bound on the whole driver run (launch, every scenario, close); `play.mjs`
/// gives up by itself after 100 s.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(110);

/// The players, as `play.mjs` serves them beside the page.
const PLAYERS: [(&str, &str); 2] = [
    ("hls.js/dist/hls.min.js", "hls.min.js"),
    ("dashjs/dist/modern/umd/dash.all.min.js", "dash.all.min.js"),
];

// ---------------------------------------------------------------------------
// Signing

/// The URL of `manifest` (relative to the folder `root`, `<stream>/<file>`) on
/// `base`, signed with a custom policy for every file of its stream
/// (`{base}/{root}/<stream>/*`) that expires at `expires`.
fn signed_manifest(
    keys: &TestSigner,
    base: &str,
    root: &str,
    manifest: &Path,
    expires: jiff::Timestamp,
) -> String {
    let manifest = manifest.to_str().unwrap();
    let stream = manifest.split_once('/').unwrap().0;
    let now = jiff::Timestamp::now();
    let policy = Policy::builder(Resource::pattern(&format!("{base}/{root}/{stream}/*")).unwrap())
        .expires_at(expires)
        .allow_past_expiry(expires <= now)
        .build_at(now)
        .unwrap();
    assert_eq!(policy.form(), PolicyForm::Custom);
    let url = SignableUrl::parse(&format!("{base}/{root}/{manifest}")).unwrap();
    keys.signer()
        .sign_policy(&policy)
        .unwrap()
        .apply_to(&url)
        .unwrap()
        .into_string()
}

/// `url` with one character in the middle of its `Signature` changed (the
/// signature still decodes; it no longer verifies).
fn tampered(url: &str) -> String {
    let start = url.find("Signature=").unwrap() + "Signature=".len();
    let end = url[start..].find('&').map_or(url.len(), |n| start + n);
    let at = (start + end) / 2;
    let flipped = if url[at..].starts_with('A') { "B" } else { "A" };
    format!("{}{flipped}{}", &url[..at], &url[at + 1..])
}

// ---------------------------------------------------------------------------
// The cookie edge: /login sets the signed cookies; /streams/* is the edge,
// restricted, without sign_manifests; a CORS middleware in front of both.

/// One request the cookie edge answered.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    status: u16,
    /// The request carried `CloudFront-*` cookies.
    signed_cookies: bool,
}

#[derive(Clone)]
struct Front {
    /// The one origin allowed to read responses with credentials (the page's).
    allowed: HeaderValue,
    log: Arc<Mutex<Vec<Seen>>>,
}

/// Stands in for a CloudFront response headers policy with CORS: the edge
/// sends no `Access-Control-*` headers itself.
async fn cors(State(front): State<Front>, request: Request, next: Next) -> Response {
    let allowed = request.headers().get(ORIGIN) == Some(&front.allowed);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let signed_cookies = request
        .headers()
        .get_all(COOKIE)
        .iter()
        .any(|v| v.to_str().unwrap_or("").contains("CloudFront-"));
    let mut response = if method == Method::OPTIONS {
        Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header(ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD")
            .header(ACCESS_CONTROL_ALLOW_HEADERS, "range")
            .header(ACCESS_CONTROL_MAX_AGE, "600")
            .body(Body::empty())
            .unwrap()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    if allowed {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, front.allowed.clone());
        headers.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    headers.append(VARY, HeaderValue::from_static("origin"));
    front.log.lock().unwrap().push(Seen {
        method,
        path,
        status: response.status().as_u16(),
        signed_cookies,
    });
    response
}

struct CookieEdge {
    /// `http://127.0.0.1:PORT`.
    base: String,
    log: Arc<Mutex<Vec<Seen>>>,
    server: RunningServer,
}

/// The cookie edge over `site`, for a page at `page_origin`.
fn cookie_edge(keys: &TestSigner, site: &Path, page_origin: &str) -> CookieEdge {
    let listener = tk_server::listener();
    // Another port than the page's: another origin, the same site.
    let base = format!("http://{}", listener.local_addr().unwrap());
    let policy = Policy::builder(Resource::pattern(&format!("{base}/streams/*")).unwrap())
        .expires_in(Duration::from_secs(600))
        .build()
        .unwrap();
    let cookies = keys.signer().sign_cookies(&policy).unwrap();
    // Secure cookies are kept over plain HTTP on loopback (a potentially
    // trustworthy origin); SameSite=Lax is enough within one site.
    let attributes = CookieAttributes::default().path("/streams/");
    assert!(
        cookies.warnings(&attributes).is_empty(),
        "{:?}",
        cookies.warnings(&attributes)
    );
    let set_cookies = cookies.set_cookie_headers(&attributes).unwrap();
    for header in &set_cookies {
        assert!(
            header.ends_with("; Path=/streams/; Secure; HttpOnly; SameSite=Lax"),
            "{header}"
        );
    }
    let set_cookies = Arc::new(set_cookies);

    let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(site).unwrap());
    let edge = tk_edge::edge(
        origin,
        Some(AccessConfig::new(keys.shared_verifier(), Scheme::Http)),
    );
    let log = Arc::default();
    let front = Front {
        allowed: HeaderValue::from_str(page_origin).unwrap(),
        log: Arc::clone(&log),
    };
    let app = Router::new()
        .route(
            "/login",
            get(move || {
                let set_cookies = Arc::clone(&set_cookies);
                async move {
                    let mut response = Response::builder()
                        .header(CONTENT_TYPE, "text/html; charset=utf-8")
                        .header("cache-control", "no-store");
                    for value in set_cookies.iter() {
                        response = response.header(SET_COOKIE, value);
                    }
                    response
                        .body(Body::from(
                            "<!doctype html><title>signed in</title><link rel=\"icon\" href=\"data:,\">",
                        ))
                        .unwrap()
                }
            }),
        )
        .route_service("/streams/{*key}", edge)
        .layer(from_fn_with_state(front, cors));
    let server = RunningServer::serve(listener, app, ServeOptions::default());
    CookieEdge { base, log, server }
}

// ---------------------------------------------------------------------------
// The driver

/// Runs `play.mjs` once over `scenarios`; returns its JSON result.
async fn run_driver(scenarios: &Json, scratch: &Path) -> (Json, String) {
    let scenarios_path = scratch.join("scenarios.json");
    std::fs::write(&scenarios_path, scenarios.to_string()).unwrap();
    browser::run_driver(
        "play.mjs",
        scenarios_path.to_str().unwrap(),
        scratch,
        DRIVER_TIMEOUT,
    )
    .await
}

// ---------------------------------------------------------------------------
// The test

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_streams_play_in_headless_chromium() {
    browser::check_prerequisites(&["playwright-core/package.json", PLAYERS[0].0, PLAYERS[1].0]);
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let streams = Streams::generate(&site.join("streams"));
    let player = site.join("player");
    std::fs::create_dir_all(&player).unwrap();
    std::fs::copy(
        browser::driver_dir().join("player.html"),
        player.join("index.html"),
    )
    .unwrap();
    for (from, to) in PLAYERS {
        std::fs::copy(
            browser::driver_dir().join("node_modules").join(from),
            player.join(to),
        )
        .unwrap();
    }

    // DASH's own way (Annex I): a copy of the template stream under /static/
    // whose MPD has UrlQueryInfo; the edge serves it unchanged (no sign_manifests
    // there) and dash.js appends the signed MPD URL's query to every segment.
    let url_query_dir = site.join("static/dash-url-query");
    std::fs::create_dir_all(&url_query_dir).unwrap();
    let template_dir = site
        .join("streams")
        .join(streams.dash_template.parent().unwrap());
    for entry in std::fs::read_dir(&template_dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), url_query_dir.join(entry.file_name())).unwrap();
    }
    let mpd_name = streams.dash_template.file_name().unwrap();
    let prepared =
        cfsign::manifest::url_query(&std::fs::read(template_dir.join(mpd_name)).unwrap()).unwrap();
    assert_eq!(prepared.adaptation_sets, 2);
    std::fs::write(url_query_dir.join(mpd_name), &prepared.text).unwrap();
    let url_query_mpd = Path::new("dash-url-query").join(mpd_name);

    // What Chromium's MSE is asked to play (the DASH MPD names the codecs).
    let mpd = std::fs::read_to_string(streams.path(&streams.dash_template)).unwrap();
    let codecs: Vec<&str> = mpd
        .split("codecs=\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(c, _)| c))
        .collect();
    eprintln!("codecs: {codecs:?}");
    assert!(codecs.iter().any(|c| c.starts_with("avc1.4d")), "{mpd}");
    assert!(codecs.contains(&"mp4a.40.2"), "{mpd}");

    // The edge: /streams/* restricted with sign_manifests, the player page public.
    let keys = TestSigner::new("KSTREAM");
    let origin: Arc<dyn Origin> = Arc::new(DirectoryOrigin::new(&site).unwrap());
    let restricted = Behavior {
        sign_manifests: true,
        ..tk_edge::behavior(
            PathPattern::new("/streams/*").unwrap(),
            Arc::clone(&origin),
            Some(AccessConfig::new(keys.shared_verifier(), Scheme::Http)),
        )
    };
    let unstamped = tk_edge::behavior(
        PathPattern::new("/static/*").unwrap(),
        Arc::clone(&origin),
        Some(AccessConfig::new(keys.shared_verifier(), Scheme::Http)),
    );
    let public = tk_edge::behavior(PathPattern::any(), Arc::clone(&origin), None);
    let access_log = BufferedLog::new(AccessLogFormat::Json);
    let edge = EdgeBuilder::new()
        .behaviors(Behaviors::new(vec![restricted, unstamped], public))
        .access_log(access_log.log())
        .start()
        .await;
    let base = edge.base().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let page = edge.url("/player/index.html");
    let cookies = cookie_edge(&keys, &site, &base);

    // --- The scenarios, run by one Chromium.
    let in_10_min = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(10);
    let played: Vec<(&str, &Path, &str)> = vec![
        ("hls-ts", &streams.hls_ts, "hls"),
        ("hls-fmp4", &streams.hls_fmp4, "hls"),
        ("hls-master", &streams.hls_master, "hls"),
        ("hls-aes128", &streams.hls_aes128, "hls"),
        ("dash-template", &streams.dash_template, "dash"),
        ("dash-list", &streams.dash_list, "dash"),
    ];
    let mut scenarios = Vec::new();
    for (name, manifest, player) in &played {
        scenarios.push(json!({
            "name": name, "page": page, "player": player, "expect": "play",
            "src": signed_manifest(&keys, &base, "streams", manifest, in_10_min),
        }));
    }
    let tampered_src = tampered(&signed_manifest(
        &keys,
        &base,
        "streams",
        &streams.hls_ts,
        in_10_min,
    ));
    let expired_src = signed_manifest(
        &keys,
        &base,
        "streams",
        &streams.dash_template,
        jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1),
    );
    let cookie_src = format!("{}/streams/{}", cookies.base, streams.hls_ts.display());
    let login = format!("{}/login", cookies.base);
    scenarios.push(json!({
        "name": "dash-url-query", "page": page, "player": "dash", "expect": "play",
        "src": signed_manifest(&keys, &base, "static", &url_query_mpd, in_10_min),
    }));
    scenarios.extend([
        json!({"name": "tampered", "page": page, "player": "hls", "expect": "fail", "src": tampered_src}),
        json!({"name": "expired", "page": page, "player": "dash", "expect": "fail", "src": expired_src}),
        json!({"name": "cookies-credentials", "page": page, "player": "hls", "expect": "play",
               "login": login, "src": cookie_src, "withCredentials": true}),
        json!({"name": "cookies-no-credentials", "page": page, "player": "hls", "expect": "fail",
               "login": login, "src": cookie_src, "withCredentials": false}),
    ]);
    let started = Instant::now();
    let (result, raw) = run_driver(&Json::Array(scenarios), dir.path()).await;
    eprintln!(
        "{}: driver run {:?}",
        result.at("browser").str(),
        started.elapsed()
    );
    let scenario = |name: &str| -> &Json {
        result
            .at("scenarios")
            .get(name)
            .unwrap_or_else(|| panic!("no scenario {name}: {raw}"))
    };
    for (name, value) in result.at("scenarios").as_object().unwrap() {
        eprintln!(
            "{name}: currentTime {:.2} after {} ms, {} responses, fatal {}",
            value.at("currentTime").num(),
            value.at("ms"),
            value.at("responses").arr().len(),
            value.at("fatal"),
        );
    }

    // --- 1. One signed manifest URL: every stream plays, every child request signed.
    let log_lines = access_log.lines(0).await;
    for (name, manifest, _) in &played {
        let s = scenario(name);
        let stream = format!("{base}/streams/{}/", manifest.parent().unwrap().display());
        assert_played_signed(s, name, &stream);
        // The edge's side: the manifest was rewritten (N URIs stamped).
        let manifest_path = format!("/streams/{}", manifest.display());
        assert!(
            log_lines.iter().any(
                |l| l.contains(&format!("\"cs-uri-stem\":\"{manifest_path}\""))
                    && l.contains("\"x-cfsign-manifest\":\"signed:")
            ),
            "{manifest_path} not signed by the edge: {log_lines:#?}"
        );
    }

    // --- 1b. DASH's UrlQueryInfo: the MPD served as it is, every segment signed by
    // dash.js with the MPD URL's query.
    assert_played_signed(
        scenario("dash-url-query"),
        "dash-url-query",
        &format!("{base}/static/dash-url-query/"),
    );
    let mpd_stem = format!("/static/{}", url_query_mpd.display());
    assert!(
        log_lines
            .iter()
            .any(|l| l.contains(&format!("\"cs-uri-stem\":\"{mpd_stem}\""))
                && !l.contains("\"x-cfsign-manifest\":\"signed")),
        "{mpd_stem} was not served unchanged: {log_lines:#?}"
    );

    // --- 2. A tampered signature, an expired policy: the manifest is refused.
    for (name, manifest) in [
        ("tampered", &streams.hls_ts),
        ("expired", &streams.dash_template),
    ] {
        let s = scenario(name);
        let context = format!("{name}: {s}");
        let manifest_url = format!("{base}/streams/{}", manifest.display());
        assert_refused(s, &manifest_url, &context);
        for r in s.at("responses").arr() {
            assert!(!is_segment(r.at("url").str()), "{r}: {context}");
        }
    }

    // --- 3. Cookies across sites: with credentials the stream plays.
    let s = scenario("cookies-credentials");
    let context = format!("cookies-credentials: {s}");
    assert_eq!(s.at("loginStatus").num(), 200.0, "{context}");
    assert!(s.at("currentTime").num() > 3.0, "did not play: {context}");
    assert!(s.at("fatal").is_null(), "{context}");
    let of_stream: Vec<&Json> = s
        .at("responses")
        .arr()
        .iter()
        .filter(|r| {
            r.at("url")
                .str()
                .starts_with(&format!("{}/streams/", cookies.base))
        })
        .collect();
    assert!(!of_stream.is_empty(), "{context}");
    for r in &of_stream {
        assert_eq!(r.at("status").num(), 200.0, "{r}: {context}");
        assert!(r.at("cookie").bool(), "no cookies sent: {r}: {context}");
        assert!(!r.at("url").str().contains("Signature="), "{r}: {context}");
    }
    let segments = of_stream
        .iter()
        .filter(|r| is_segment(r.at("url").str()))
        .count();
    assert!(segments > 3, "{segments} segments: {context}");

    // Without credentials: the cookies are in the jar, but not sent.
    let s = scenario("cookies-no-credentials");
    let context = format!("cookies-no-credentials: {s}");
    assert_eq!(s.at("loginStatus").num(), 200.0, "{context}");
    assert!(
        s.at("cookies").arr().iter().any(|c| c
            .str()
            .starts_with("CloudFront-Signature@127.0.0.1/streams/ Lax")),
        "{context}"
    );
    assert_refused(s, &cookie_src, &context);
    for r in s.at("responses").arr() {
        assert!(!r.at("cookie").bool(), "{r}: {context}");
    }

    // The cookie edge's side: GETs with cookies served, without refused.
    let seen = cookies.log.lock().unwrap().clone();
    let streamed: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path.starts_with("/streams/"))
        .collect();
    assert!(
        streamed.iter().all(|s| s.method == Method::GET),
        "{streamed:#?}"
    );
    assert!(
        streamed
            .iter()
            .all(|s| (s.status == 200) == s.signed_cookies),
        "{streamed:#?}"
    );
    assert!(streamed.iter().any(|s| s.status == 403), "{streamed:#?}");

    cookies.server.stop().await;
    edge.stop().await;
}

/// A media segment (not a manifest, key or init segment).
fn is_segment(url: &str) -> bool {
    let path = url.split('?').next().unwrap();
    let file = path.rsplit('/').next().unwrap();
    (file.ends_with(".ts") || file.ends_with(".m4s") || file.ends_with(".aac"))
        && !file.starts_with("init")
}

/// The manifest was answered 403, nothing else of the stream was fetched, the
/// player reported a fatal error and the video never passed 0.5 s.
/// The scenario played past 3 s without a fatal error or any 4xx/5xx, and every
/// request under `stream` (the manifest's folder) carried a signature, more
/// than three of them segments.
fn assert_played_signed(s: &Json, name: &str, stream: &str) {
    let context = format!("{name}: {s}");
    assert!(s.get("error").is_none(), "{context}");
    assert_eq!(s.at("pageStatus").num(), 200.0, "{context}");
    assert!(s.at("currentTime").num() > 3.0, "did not play: {context}");
    assert!(s.at("fatal").is_null(), "{context}");
    let responses = s.at("responses").arr();
    for r in responses {
        assert!(r.at("status").num() < 400.0, "{r}: {context}");
    }
    let of_stream: Vec<&str> = responses
        .iter()
        .map(|r| r.at("url").str())
        .filter(|u| u.starts_with(stream))
        .collect();
    for url in &of_stream {
        assert!(url.contains("Signature="), "unsigned {url}: {context}");
    }
    let segments = of_stream.iter().filter(|u| is_segment(u)).count();
    assert!(segments > 3, "{segments} segments: {context}");
}

fn assert_refused(s: &Json, manifest_url: &str, context: &str) {
    assert!(s.get("error").is_none(), "{context}");
    let manifest: Vec<&Json> = s
        .at("responses")
        .arr()
        .iter()
        .filter(|r| r.at("url").str().split('?').next() == manifest_url.split('?').next())
        .collect();
    assert!(!manifest.is_empty(), "no manifest request: {context}");
    for r in manifest {
        assert_eq!(r.at("status").num(), 403.0, "{r}: {context}");
    }
    assert!(!s.at("fatal").is_null(), "no player error: {context}");
    assert!(s.at("currentTime").num() <= 0.5, "{context}");
}
