//! The byte layout of the parts CloudFront does not care about but that other
//! signers fix: the order of the conditions in a custom policy and the order of
//! the signing parameters appended to a URL.
//!
//! CloudFront accepts either order. The default, [`Layout::Botocore`], is what
//! botocore and the AWS CLI emit. [`Layout::AwsSdkJs`] reproduces
//! `@aws-sdk/cloudfront-signer` (AWS SDK for JavaScript v3) byte for byte, so a
//! drop-in replacement returns the same strings for the same inputs.
//!
//! ```
//! use cfsign::{KeyPairId, KeyType, Layout, Policy, PrivateKey, Resource, SignableUrl, Signer};
//! use jiff::Timestamp;
//!
//! let now: Timestamp = "2026-01-01T00:00:00Z".parse()?;
//! let resource = Resource::pattern("https://d111111abcdef8.cloudfront.net/videos/*")?;
//! let policy = Policy::builder(resource)
//!     .expires_at("2026-01-02T00:00:00Z".parse()?)
//!     .not_before("2026-01-01T12:00:00Z".parse()?)
//!     .source_ip("192.0.2.0/24".parse()?)
//!     .layout(Layout::AwsSdkJs)
//!     .build_at(now)?;
//! assert!(policy.json().contains(r#""DateGreaterThan":{"AWS:EpochTime":1767268800},"IpAddress""#));
//!
//! let signer = Signer::new(KeyPairId::new("K2JCJMDEHXQW5F")?, PrivateKey::generate(KeyType::EcdsaP256)?)
//!     .with_layout(Layout::AwsSdkJs);
//! let url = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/videos/a.mp4")?;
//! let signed = signer.sign_url(&url, &policy)?;
//! let query = signed.as_str().split_once('?').map(|(_, q)| q).unwrap_or_default();
//! assert!(query.starts_with("Policy=") && query.contains("&Key-Pair-Id=K2JCJMDEHXQW5F&Signature="));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// Which signer's byte layout to follow (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Layout {
    /// botocore and the AWS CLI: conditions `DateLessThan`, `IpAddress`,
    /// `DateGreaterThan`; parameters `Expires`/`Policy`, `Signature`, `Key-Pair-Id`.
    #[default]
    Botocore,
    /// `@aws-sdk/cloudfront-signer`: conditions `DateLessThan`, `DateGreaterThan`,
    /// `IpAddress`; parameters `Expires`/`Policy`, `Key-Pair-Id`, `Signature`.
    AwsSdkJs,
}

#[cfg(test)]
mod tests {
    use super::Layout;
    use crate::{KeyPairId, KeyType, Policy, PrivateKey, Resource, SignableUrl, Signer};

    fn signed(layout: Layout, ip: bool) -> (String, String) {
        let now = "2026-01-01T00:00:00Z".parse().expect("time");
        let url = SignableUrl::parse("https://x.net/a.jpg?v=1").expect("url");
        let mut b = Policy::builder(Resource::from(url.clone()))
            .expires_at("2026-01-02T00:00:00Z".parse().expect("time"))
            .not_before("2026-01-01T06:00:00Z".parse().expect("time"))
            .layout(layout);
        if ip {
            b = b.source_ip("192.0.2.0/24".parse().expect("ip"));
        }
        let policy = b.build_at(now).expect("policy");
        let key = PrivateKey::generate(KeyType::EcdsaP256).expect("key");
        let signer = Signer::new(KeyPairId::new("KID").expect("id"), key).with_layout(layout);
        let url = signer.sign_url(&url, &policy).expect("sign").into_string();
        (policy.json().to_owned(), url)
    }

    #[test]
    fn each_layout_orders_conditions_and_parameters() {
        let (json, url) = signed(Layout::Botocore, true);
        assert!(json.contains(r#"{"AWS:EpochTime":1767312000},"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"},"DateGreaterThan":{"AWS:EpochTime":1767247200}}"#), "{json}");
        let signature_at = url.find("&Signature=").expect("signature");
        assert!(
            signature_at < url.find("&Key-Pair-Id=KID").expect("id"),
            "{url}"
        );

        let (json, url) = signed(Layout::AwsSdkJs, true);
        assert!(json.contains(r#"{"AWS:EpochTime":1767312000},"DateGreaterThan":{"AWS:EpochTime":1767247200},"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"}}"#), "{json}");
        assert!(
            url.find("&Key-Pair-Id=KID").expect("id") < url.find("&Signature=").expect("signature"),
            "{url}"
        );
        assert!(url.starts_with("https://x.net/a.jpg?v=1&Policy="), "{url}");
    }

    #[test]
    fn layouts_agree_when_there_is_one_optional_condition() {
        assert_eq!(
            signed(Layout::Botocore, false).0,
            signed(Layout::AwsSdkJs, false).0
        );
    }
}
