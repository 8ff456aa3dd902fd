//! The edge serves URLs signed by `aws-cloudfront-sign`, the npm module whose URLs
//! carry `Expires` beside `Policy` and `%7E` for `~` (`URLSearchParams`), signed by
//! the real package (`cfsign_testkit::node`, installed by
//! `scripts/setup-node-oracles`): 200 with the file, and 403 once changed.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use bytes::Bytes;
use cfsign::verify::Verifier;
use cfsign::{KeyPairId, PublicKey};
use cfsign_edge::access::SharedVerifier;
use cfsign_testkit::edge::EdgeBuilder;
use cfsign_testkit::node;
use http::StatusCode;

async fn get(url: &str) -> (StatusCode, Bytes) {
    let reply = cfsign_testkit::http::get(url, &[]).await;
    (reply.status, reply.body)
}

#[tokio::test]
async fn aws_cloudfront_sign_urls_get_200() {
    let now = jiff::Timestamp::now();
    let signed = node::sign_all(now.as_second());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("videos")).unwrap();
    std::fs::write(dir.path().join("videos/intro.mp4"), "intro\n").unwrap();
    let verifier = Verifier::new().with_key(
        KeyPairId::new(node::KEY_PAIR_ID).unwrap(),
        PublicKey::from_file(node::public_key_path()).unwrap(),
    );
    // The URLs were signed for the distribution's name: the edge builds viewer
    // URLs from it, as behind a load balancer.
    let edge = EdgeBuilder::new()
        .directory(dir.path())
        .verifier(SharedVerifier::new(verifier))
        .access(move |access| {
            access
                .public_base_url(format!("https://{}", node::HOST))
                .clock(move || now)
        })
        .start()
        .await;
    let base = edge.base().to_owned();

    for id in ["acs/url", "acs/url-query"] {
        let case = signed.iter().find(|c| c.id == id).unwrap();
        let path = case
            .url
            .strip_prefix(&format!("https://{}", node::HOST))
            .unwrap();
        assert!(
            path.contains("Expires=") && path.contains("Policy="),
            "{path}"
        );
        let (status, body) = get(&format!("{base}{path}")).await;
        assert_eq!(status, StatusCode::OK, "{id}: {body:?}");
        assert_eq!(body, "intro\n", "{id}");

        // the same URL with one character of its signature changed
        let at = path.find("Signature=").unwrap() + "Signature=".len() + 40;
        let new = if path.as_bytes()[at] == b'A' {
            "B"
        } else {
            "A"
        };
        let tampered = format!("{}{new}{}", &path[..at], &path[at + 1..]);
        let (status, body) = get(&format!("{base}{tampered}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{id}: {body:?}");
        assert!(
            String::from_utf8_lossy(&body).contains("<Code>"),
            "{id}: {body:?}"
        );
    }
    edge.stop().await;
}
