//! The small parsers: `SignableUrl::parse` / `encode`, CloudFront base64,
//! `ResourcePattern` matching, and the time parsers. Never panics, and:
//! - whatever `SignableUrl::encode` returns parses again, unchanged;
//! - whatever `cloudfront_base64::decode` accepts re-encodes to the same text.
//!
//! Input layout: byte 0 splits the rest (UTF-8, lossy) into a pattern and a URL
//! for `ResourcePattern::matches_str`; every parser also sees the whole text.

#![no_main]

use cfsign::{ResourcePattern, SignableUrl, cloudfront_base64, time};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let text = text.as_ref();

    if let Ok(url) = SignableUrl::parse(text) {
        assert_eq!(url.as_str(), text, "parse must not change the URL");
        let _ = (url.scheme(), url.host(), url.path(), url.query());
    }
    if let Ok(url) = SignableUrl::encode(text) {
        let again = SignableUrl::parse(url.as_str()).unwrap_or_else(|e| {
            panic!("encode({text:?}) = {:?} does not parse: {e}", url.as_str())
        });
        assert_eq!(again, url, "encode output changes when parsed again");
    }

    if let Ok(bytes) = cloudfront_base64::decode(text) {
        assert_eq!(
            cloudfront_base64::encode(&bytes),
            text,
            "decode then encode must round-trip"
        );
    }

    let at = text
        .char_indices()
        .map(|(i, _)| i)
        .nth(usize::from(split))
        .unwrap_or(text.len());
    let (pattern, url) = text.split_at(at);
    if let Ok(pattern) = ResourcePattern::new(pattern) {
        let _ = pattern.matches_str(url);
        if let Ok(url) = SignableUrl::parse(url) {
            assert_eq!(pattern.matches(&url), pattern.matches_str(url.as_str()));
        }
    }

    let _ = time::parse_instant(text);
    let _ = time::parse_duration(text);
});
