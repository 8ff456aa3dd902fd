//! Scale-out: two stateless edge instances on 127.0.0.1 in front of one S3 bucket
//! (a real moto server), as behind a load balancer. A URL signed for the public
//! domain works on either instance; an unsigned one is refused by both.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::Arc;

use cfsign_edge::access::Scheme;
use cfsign_edge::origin::Origin;
use cfsign_testkit::edge::EdgeBuilder;
use cfsign_testkit::http::get;
use cfsign_testkit::moto::Moto;
use cfsign_testkit::s3::{self, S3Object};
use cfsign_testkit::signer::TestSigner;
use http::StatusCode;

const BUCKET: &str = "cfsign-scale-out";
const PUBLIC: &str = "https://cdn.example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_serve_one_bucket() {
    let moto = Moto::start();
    let objects: Vec<S3Object> = (0..3)
        .map(|i| {
            S3Object::new(format!("media/file-{i}.txt"), format!("object {i}\n"))
                .content_type("text/plain")
        })
        .collect();
    s3::upload(&moto, BUCKET, &objects);
    let keys = TestSigner::new("KSCALE");
    let mut instances = Vec::new();
    for _ in 0..2 {
        // Each instance is built only from configuration: the same keys, the same bucket.
        let origin: Arc<dyn Origin> = Arc::new(s3::origin_builder(&moto, BUCKET).build().unwrap());
        let edge = EdgeBuilder::new()
            .origin(origin)
            .signer(keys.clone())
            .scheme(Scheme::Https)
            .access(|access| access.public_base_url(PUBLIC))
            .start()
            .await;
        instances.push((edge.base().to_owned(), edge));
    }
    for i in 0..3 {
        let signed = keys.sign_url(&format!("{PUBLIC}/media/file-{i}.txt"), 300);
        let path_and_query = &signed[PUBLIC.len()..];
        for (address, _) in &instances {
            // what the load balancer forwards to either instance
            let reply = get(&format!("{address}{path_and_query}"), &[]).await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{address}: {:?}",
                String::from_utf8_lossy(&reply.body)
            );
            assert_eq!(reply.body, format!("object {i}\n"));
            let unsigned = get(&format!("{address}/media/file-{i}.txt"), &[]).await;
            assert_eq!(unsigned.status, StatusCode::FORBIDDEN);
        }
    }
}
