//! The recipe for real CloudFront (docs/streaming.md, "Rewritten playlists from
//! your application"), with the edge standing in for the distribution: static
//! playlists in S3 cannot carry per-viewer signatures, so the application
//! serves the playlists (master and variants), rewritten for each logged-in
//! viewer with `cfsign::manifest::sign`, and the segments come from the
//! distribution with the stamped signature. The variant playlists name their
//! segments by absolute distribution URLs (as ffmpeg's `-hls_base_url` or
//! MediaConvert's segment base URL write them); the master names its variants
//! relatively, so players fetch them from the application too.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use cfsign::manifest::{self, Mode};
use cfsign::options::{PolicyInputs, SigningOptions};
use cfsign::{Resource, SignableUrl, Signer};
use cfsign_edge::server::ServeOptions;
use cfsign_testkit::edge::EdgeBuilder;
use cfsign_testkit::http;
use cfsign_testkit::media::{Streams, hls_uris};
use cfsign_testkit::server::RunningServer;
use cfsign_testkit::signer::TestSigner;

/// The application: its playlists, its signer, and the distribution's folder
/// that its signatures grant.
struct App {
    playlists: PathBuf,
    signer: Signer,
    grants: String,
}

/// `GET /watch/{path}`: the playlist rewritten for a logged-in viewer.
async fn watch(
    State(app): State<Arc<App>>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let status = |code: StatusCode| {
        Response::builder()
            .status(code)
            .body(Body::empty())
            .unwrap()
    };
    // The application's own login (a session cookie in a real one).
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some("Bearer viewer-1")
    {
        return status(StatusCode::UNAUTHORIZED);
    }
    if path.split('/').any(|s| s == ".." || s.is_empty()) {
        return status(StatusCode::BAD_REQUEST);
    }
    let Ok(playlist) = std::fs::read(app.playlists.join(&path)) else {
        return status(StatusCode::NOT_FOUND);
    };
    let host = headers.get(header::HOST).unwrap().to_str().unwrap();
    let url = SignableUrl::parse(&format!("http://{host}/watch/{path}")).unwrap();
    let options = SigningOptions::new(jiff::Timestamp::now())
        .with(PolicyInputs {
            resource: Some(Resource::parse(&app.grants).unwrap()),
            expires_in: Some(Duration::from_secs(600)),
            ..PolicyInputs::default()
        })
        .unwrap();
    match manifest::sign(&playlist, &url, &app.signer, &options, Mode::Policy) {
        Ok(signed) => Response::builder()
            .header(header::CONTENT_TYPE, "application/vnd.apple.mpegurl")
            // Per viewer: never cached by a shared cache.
            .header(header::CACHE_CONTROL, "private, no-store")
            .body(Body::from(signed.rewritten.text))
            .unwrap(),
        Err(_) => status(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_serves_playlists_and_the_distribution_the_segments() {
    let dir = tempfile::tempdir().unwrap();
    let streams = Streams::generate(&dir.path().join("media"));
    let keys = TestSigner::new("KRECIPE");
    // The distribution: restricted to the key, no manifest signing of its own.
    let distribution = EdgeBuilder::new()
        .directory(&dir.path().join("media"))
        .signer(keys.clone())
        .start()
        .await;
    // The application's copies of the playlists: the master as packaged, the
    // variants with absolute segment URLs on the distribution.
    let master = &streams.hls_master;
    let stream_dir = master.parent().unwrap();
    let playlists = dir.path().join("app");
    let app_stream = playlists.join(stream_dir);
    std::fs::create_dir_all(&app_stream).unwrap();
    std::fs::copy(streams.path(master), playlists.join(master)).unwrap();
    let master_text = std::fs::read_to_string(streams.path(master)).unwrap();
    let variants = hls_uris(&master_text);
    assert_eq!(variants.len(), 3, "{master_text}");
    for variant in &variants {
        let variant_path = stream_dir.join(variant);
        let folder = variant_path
            .parent()
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        let text = std::fs::read_to_string(streams.path(&variant_path)).unwrap();
        let absolute: String = text
            .lines()
            .map(|line| {
                if line.starts_with('#') || line.is_empty() {
                    format!("{line}\n")
                } else {
                    format!("{}/{folder}/{line}\n", distribution.base())
                }
            })
            .collect();
        std::fs::create_dir_all(playlists.join(&variant_path).parent().unwrap()).unwrap();
        std::fs::write(playlists.join(&variant_path), absolute).unwrap();
    }
    let grants = format!(
        "{}/{}/*",
        distribution.base(),
        stream_dir.to_str().unwrap().replace('\\', "/")
    );
    let app = Arc::new(App {
        playlists,
        signer: keys.signer().clone(),
        grants,
    });
    let router = Router::new()
        .route("/watch/{*path}", get(watch))
        .with_state(app);
    let server = RunningServer::start(router, ServeOptions::default()).await;
    let login = [("authorization", "Bearer viewer-1")];

    // A player: the master from the application, unchanged (its variants are
    // the application's, outside the distribution's grant).
    let master_url = format!(
        "{}/watch/{}",
        server.base(),
        master.to_str().unwrap().replace('\\', "/")
    );
    assert_eq!(http::get(&master_url, &[]).await.status, 401);
    let reply = http::get(&master_url, &login).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), master_text);
    let base = &master_url[..master_url.rfind('/').unwrap() + 1];
    let mut segments = 0;
    for variant in &variants {
        // Each variant from the application, its segments signed for the distribution.
        let reply = http::get(&format!("{base}{variant}"), &login).await;
        assert_eq!(reply.status, 200, "{variant}");
        assert_eq!(reply.header("cache-control"), Some("private, no-store"));
        for segment in hls_uris(&reply.text()) {
            assert!(segment.starts_with(distribution.base()), "{segment}");
            assert!(segment.contains(".ts?Policy="), "{segment}");
            let got = http::get(&segment, &[]).await;
            assert_eq!(got.status, 200, "{}", http::path_of(&segment));
            assert_eq!(got.header("content-type"), Some("video/mp2t"));
            // The signature is what lets it through.
            let bare = &segment[..segment.find('?').unwrap()];
            assert_eq!(http::get(bare, &[]).await.status, 403);
            segments += 1;
        }
    }
    assert!(segments > 12, "{segments}");
    server.stop().await;
    distribution.stop().await;
}
