//! `Policy::from_json` on arbitrary UTF-8, then `lint::lint_policy` on every policy
//! it accepts. Never panics; an accepted policy keeps its bytes exactly.

#![no_main]

use cfsign::{KeyType, Policy, SignableUrl, lint};
use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;

/// 2026-01-01T12:00:00Z.
const NOW: i64 = 1_767_268_800;

fuzz_target!(|text: &str| {
    let Ok(policy) = Policy::from_json(text) else {
        return;
    };
    assert_eq!(policy.json(), text, "a parsed policy must keep its bytes");
    let now = Timestamp::from_second(NOW).expect("valid timestamp");
    let url = policy
        .resource()
        .and_then(|r| SignableUrl::parse(r.as_str()).ok());
    for key_type in [None, Some(KeyType::Rsa2048), Some(KeyType::EcdsaP256)] {
        for warning in lint::lint_policy(&policy, url.as_ref(), now, key_type) {
            let _ = warning.to_string();
        }
    }
    if let Some(url) = &url {
        let _ = policy.covers(url);
        let _ = lint::estimated_signed_length(&policy, url, None);
    }
});
