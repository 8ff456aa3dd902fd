//! CloudFront's URL-safe base64 variant.
//!
//! CloudFront encodes both the `Policy` and the `Signature` values with standard
//! (RFC 4648 §4) base64, **padding kept**, no line breaks, and then replaces three
//! characters: `+` → `-`, `=` → `_`, `/` → `~`. This is *not* the RFC 4648 §5
//! "base64url" alphabet (which uses `_` for `/` and drops padding), so a generic
//! URL-safe encoder produces values CloudFront rejects with `MalformedSignature`.
//!
//! ```
//! use cfsign::cloudfront_base64;
//!
//! let encoded = cloudfront_base64::encode(&[0xfb, 0xff]);
//! assert_eq!(encoded, "-~8_");
//! assert_eq!(cloudfront_base64::decode(&encoded)?, vec![0xfb, 0xff]);
//! # Ok::<(), cloudfront_base64::DecodeError>(())
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Why a value is not valid CloudFront base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A character outside `A–Z a–z 0–9 - ~ _`.
    #[error(
        "character {character:?} at position {position} is not in CloudFront's base64 alphabet \
         (A-Z a-z 0-9 - ~ _){hint}"
    )]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its byte offset in the input.
        position: usize,
        /// A diagnosis for well-known damage, empty otherwise.
        hint: &'static str,
    },
    /// The length or padding is wrong (CloudFront keeps `_` padding).
    #[error(
        "length {length} is not a whole number of base64 blocks: CloudFront keeps the padding \
         as '_' (the value may have been truncated or had its padding stripped)"
    )]
    InvalidLength {
        /// Length of the input in bytes.
        length: usize,
    },
    /// Decoding failed for another reason (e.g. padding in the middle).
    #[error("not decodable as base64: {0}")]
    Malformed(String),
}

/// Encodes bytes in CloudFront's base64 variant.
///
/// ```
/// assert_eq!(cfsign::cloudfront_base64::encode(b"\xfb\xef\xbe"), "----");
/// ```
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            other => other,
        })
        .collect()
}

/// Decodes a CloudFront base64 value. Strict: the standard alphabet's `+ / =`
/// are refused (that is what a URL encoder or a generic base64 library leaves
/// behind, and CloudFront answers `MalformedSignature`), and padding is required.
///
/// ```
/// use cfsign::cloudfront_base64::{decode, DecodeError};
///
/// assert_eq!(decode("aGk_")?, b"hi");
/// assert!(matches!(decode("aGk="), Err(DecodeError::InvalidCharacter { .. })));
/// assert!(matches!(decode("aGk"), Err(DecodeError::InvalidLength { .. })));
/// # Ok::<(), DecodeError>(())
/// ```
pub fn decode(value: &str) -> Result<Vec<u8>, DecodeError> {
    let mut standard = Vec::with_capacity(value.len());
    for (position, character) in value.char_indices() {
        let mapped = match character {
            'A'..='Z' | 'a'..='z' | '0'..='9' => character as u8,
            '-' => b'+',
            '_' => b'=',
            '~' => b'/',
            other => {
                let hint = match other {
                    '+' | '/' | '=' => {
                        ": the value uses the standard base64 alphabet; CloudFront expects \
                         '+' -> '-', '=' -> '_', '/' -> '~'"
                    }
                    '%' => ": the value was percent-encoded by a URL encoder after signing",
                    ' ' => ": a '+' was probably turned into a space by form decoding",
                    '\n' | '\r' => ": the base64 was line-wrapped; CloudFront needs one line",
                    _ => "",
                };
                return Err(DecodeError::InvalidCharacter {
                    character: other,
                    position,
                    hint,
                });
            }
        };
        standard.push(mapped);
    }
    if standard.len() % 4 != 0 {
        return Err(DecodeError::InvalidLength {
            length: value.len(),
        });
    }
    STANDARD
        .decode(&standard)
        .map_err(|e| DecodeError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn maps_all_three_characters() {
        // 0xfb 0xff -> standard "+/8=" -> "-~8_"
        assert_eq!(encode(&[0xfb, 0xff]), "-~8_");
        assert_eq!(encode(b""), "");
    }

    #[test]
    fn refuses_standard_alphabet_with_diagnosis() {
        let err = decode("+/8=").unwrap_err();
        assert!(
            err.to_string().contains("standard base64 alphabet"),
            "{err}"
        );
    }

    #[test]
    fn refuses_percent_encoded_value() {
        let err = decode("ab%7E").unwrap_err();
        assert!(err.to_string().contains("percent-encoded"), "{err}");
    }

    #[test]
    fn refuses_missing_padding() {
        assert!(matches!(
            decode("aGk"),
            Err(DecodeError::InvalidLength { length: 3 })
        ));
    }

    #[test]
    fn refuses_padding_in_the_middle() {
        assert!(matches!(decode("aG__aGk_"), Err(DecodeError::Malformed(_))));
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let encoded = encode(&bytes);
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_~".contains(&b)));
            prop_assert_eq!(decode(&encoded).unwrap(), bytes);
        }
    }
}
