//! `Verifier::verify`, `explain::explain` and `verify::credentials` on arbitrary
//! requests. Never panics, and an allowed request is forwarded without its
//! signing parameters.
//!
//! Input layout: byte 0 picks the client IP (or none); the rest, as UTF-8 (lossy),
//! is the URL, then optionally `\n` and the `Cookie` header.

#![no_main]

use std::net::IpAddr;
use std::sync::OnceLock;

use cfsign::explain::explain;
use cfsign::verify::{Decision, KeyGroup, Verifier, ViewerRequest, credentials};
use cfsign::{KeyPairId, PublicKey};
use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;

/// Key-pair IDs of the two trusted keys (the seeds are signed with these).
const RSA_ID: &str = "K2JCJMDEHXQW5F";
const EC_ID: &str = "K3ECDSAP256";
/// 2026-01-01T12:30:00Z: inside the validity window of the seed URLs.
const NOW: i64 = 1_767_270_600;
/// The parameters CloudFront reserves; none may reach the origin.
const SIGNING_PARAMETERS: [&str; 5] = [
    "Expires",
    "Policy",
    "Signature",
    "Key-Pair-Id",
    "Hash-Algorithm",
];

fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let key = |pem: &str| PublicKey::from_pem(pem).expect("test public key parses");
        let id = |id: &str| KeyPairId::new(id).expect("valid key-pair ID");
        Verifier::new().with_key_group(
            KeyGroup::new("fuzz")
                .with_key(
                    id(RSA_ID),
                    key(include_str!(
                        "../../crates/cfsign/tests/data/keys/rsa2048.pub.pem"
                    )),
                )
                .with_key(
                    id(EC_ID),
                    key(include_str!(
                        "../../crates/cfsign/tests/data/keys/ec-p256.pub.pem"
                    )),
                ),
        )
    })
}

fn client_ip(selector: u8) -> Option<IpAddr> {
    let text = match selector % 8 {
        0 => return None,
        1 => "192.0.2.10",
        2 => "198.51.100.7",
        3 => "::ffff:192.0.2.10",
        4 => "2001:db8::1",
        5 => "0.0.0.0",
        6 => "255.255.255.255",
        _ => return Some(IpAddr::from([192, 0, 2, selector])),
    };
    text.parse().ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (url, cookie) = match text.split_once('\n') {
        Some((url, cookie)) => (url, Some(cookie)),
        None => (text.as_ref(), None),
    };
    let mut request = ViewerRequest::new(url);
    if let Some(cookie) = cookie {
        request = request.cookie_header(cookie);
    }
    if let Some(ip) = client_ip(selector) {
        request = request.client_ip(ip);
    }
    let now = Timestamp::from_second(NOW).expect("valid timestamp");

    let _ = credentials(&request);
    let decision = verifier().verify(&request, now);
    match &decision {
        Decision::Allowed(allowed) => {
            let forward = allowed.forward_url();
            let query = forward.split_once('?').map_or("", |(_, q)| q);
            for segment in query.split('&') {
                let name = segment.split_once('=').map_or(segment, |(n, _)| n);
                assert!(
                    !SIGNING_PARAMETERS.contains(&name),
                    "allowed request forwards the signing parameter {name:?}: {forward:?}"
                );
            }
            assert!(
                allowed.resource().is_some() || allowed.form() == cfsign::PolicyForm::Custom,
                "a canned policy always has a resource"
            );
        }
        Decision::Denied(denial) => {
            let _ = denial.to_string();
            let _ = denial.xml_body();
        }
    }

    let explanation = explain(Some(verifier()), &request, now);
    assert_eq!(
        explanation.decision.as_ref(),
        Some(&decision),
        "explain and verify disagree"
    );
    let _ = explanation.to_string();
    let _ = explain(None, &request, now).to_string();
});
