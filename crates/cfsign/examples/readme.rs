//! The library example from the README, compiled with every `cargo clippy --all-targets`
//! (and checked to match the README by `readme_example_matches` in tests/readme.rs).
//!
//! Run it with a key from `cfsign keygen`: `cargo run -p cfsign --example readme`.

use cfsign::verify::{Verifier, ViewerRequest};
use cfsign::{
    CookieAttributes, HashAlgorithm, KeyPairId, Policy, PrivateKey, Resource, SignableUrl, Signer,
};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Parse the key once; a Signer is Send + Sync and cheap to clone.
    let key = PrivateKey::from_file("private_key.pem")?;
    let id = KeyPairId::new("K2JCJMDEHXQW5F")?;
    let verifier = Verifier::new().with_key(id.clone(), key.public_key()?);
    let signer = Signer::new(id, key).with_hash_algorithm(HashAlgorithm::Sha256)?;

    // One URL: canned policy.
    let url = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/videos/intro%20final.mp4")?;
    let policy = Policy::builder(Resource::Url(url.clone()))
        .expires_in(Duration::from_secs(900))
        .build()?;
    let signed = signer.sign_url(&url, &policy)?;

    // Many URLs under one wildcard: sign once, stamp many times.
    let album = Policy::builder(Resource::pattern(
        "https://d111111abcdef8.cloudfront.net/album/*",
    )?)
    .expires_in(Duration::from_secs(3600))
    .build()?;
    let stamp = signer.sign_policy(&album)?;
    let photo = stamp.apply_to(&SignableUrl::parse(
        "https://d111111abcdef8.cloudfront.net/album/7.jpg",
    )?)?;

    // Cookies, with Set-Cookie strings.
    let cookies = signer.sign_cookies(&album)?;
    for header in cookies.set_cookie_headers(&CookieAttributes::default().path("/album/"))? {
        println!("Set-Cookie: {header}");
    }

    // Decide a request as CloudFront's edge would (tests, your own gateway).
    let decision = verifier.verify(&ViewerRequest::new(photo.as_str()), jiff::Timestamp::now());
    assert!(decision.is_allowed());
    println!("{signed}\n{photo}");
    Ok(())
}
