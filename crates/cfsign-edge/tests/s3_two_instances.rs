//! Scale-out: two stateless edge instances on 127.0.0.1 in front of one S3 bucket
//! (a real moto server), as behind a load balancer. A URL signed for the public
//! domain works on either instance; an unsigned one is refused by both.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::Arc;
use std::time::Duration;

use cfsign::verify::Verifier;
use cfsign::{KeyPairId, KeyType, Policy, PrivateKey, Resource, SignableUrl, Signer};
use cfsign_edge::access::{AccessConfig, Scheme, SharedVerifier};
use cfsign_edge::fetch::fetch;
use cfsign_edge::origin::{Origin, S3Origin};
use cfsign_edge::server::{self, ServeOptions};
use cfsign_testkit::edge as tk_edge;
use cfsign_testkit::moto::{self, Moto};
use http::{Method, StatusCode};

const BUCKET: &str = "cfsign-scale-out";
const PUBLIC: &str = "https://cdn.example.com";

const UPLOAD: &str = r#"
import os, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["MOTO_ENDPOINT"],
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))
s3.create_bucket(Bucket="cfsign-scale-out")
for i in range(3):
    s3.put_object(Bucket="cfsign-scale-out", Key=f"media/file-{i}.txt", Body=f"object {i}\n".encode(),
                  ContentType="text/plain")
print("ok")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_serve_one_bucket() {
    let moto = Moto::start();
    assert_eq!(moto.python(UPLOAD, b"").trim(), "ok");
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let id = KeyPairId::new("KSCALE").unwrap();
    let signer = Signer::new(id.clone(), key.clone());
    let mut instances = Vec::new();
    for _ in 0..2 {
        // Each instance is built only from configuration: the same keys, the same bucket.
        let origin: Arc<dyn Origin> = Arc::new(
            S3Origin::builder(BUCKET)
                .endpoint(moto.endpoint())
                .allow_http(true)
                .region(moto::REGION)
                .credentials(moto::ACCESS_KEY_ID, moto::SECRET_ACCESS_KEY, None)
                .build()
                .unwrap(),
        );
        let verifier =
            SharedVerifier::new(Verifier::new().with_key(id.clone(), key.public_key().unwrap()));
        let access = AccessConfig::new(verifier, Scheme::Https).public_base_url(PUBLIC);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::serve(
            listener,
            tk_edge::edge(origin, Some(access)),
            ServeOptions::default(),
            async {
                let _ = stopped.await;
            },
        ));
        instances.push((address, stop));
    }
    for i in 0..3 {
        let url = SignableUrl::parse(&format!("{PUBLIC}/media/file-{i}.txt")).unwrap();
        let policy = Policy::builder(Resource::Url(url.clone()))
            .expires_in(Duration::from_secs(300))
            .build()
            .unwrap();
        let signed = signer.sign_url(&url, &policy).unwrap().into_string();
        let path_and_query = &signed[PUBLIC.len()..];
        for (address, _) in &instances {
            // what the load balancer forwards to either instance
            let reply = fetch(
                Method::GET,
                &format!("{address}{path_and_query}"),
                &[],
                Duration::from_secs(10),
            )
            .await
            .unwrap();
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{address}: {:?}",
                String::from_utf8_lossy(&reply.body)
            );
            assert_eq!(reply.body, format!("object {i}\n"));
            let unsigned = fetch(
                Method::GET,
                &format!("{address}/media/file-{i}.txt"),
                &[],
                Duration::from_secs(10),
            )
            .await
            .unwrap();
            assert_eq!(unsigned.status, StatusCode::FORBIDDEN);
        }
    }
    for (_, stop) in instances {
        let _ = stop.send(());
    }
}
