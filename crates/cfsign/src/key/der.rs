//! Just enough DER reading to tell what a key file holds, so that each wrong
//! input gets its own precise error (which key type, size or curve; public vs
//! private; encrypted; certificate). Parsing proper is AWS-LC's job.

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;

const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const OID_RSA_PSS: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A];
const OID_EC: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const OID_DSA: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x38, 0x04, 0x01];
const OID_ED25519: &[u8] = &[0x2B, 0x65, 0x70];
const OID_ED448: &[u8] = &[0x2B, 0x65, 0x71];
const OID_X25519: &[u8] = &[0x2B, 0x65, 0x6E];
const OID_P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x23];
const OID_SECP256K1: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x0A];

/// What a DER blob appears to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DerKind {
    RsaPrivatePkcs1 { bits: usize },
    RsaPrivatePkcs8 { bits: usize },
    EcPrivateSec1 { curve: &'static str },
    EcPrivatePkcs8 { curve: &'static str },
    OtherPrivatePkcs8 { algorithm: &'static str },
    EncryptedPkcs8,
    RsaPublic { bits: usize },
    EcPublic { curve: &'static str },
    OtherPublic { algorithm: &'static str },
    Certificate,
    Unknown,
}

/// Reads one TLV: (tag, content, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The elements of a SEQUENCE's content.
fn elements(mut content: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tag, value, rest) = tlv(content)?;
        out.push((tag, value));
        content = rest;
    }
    Some(out)
}

fn integer_bits(value: &[u8]) -> usize {
    let trimmed: &[u8] = {
        let mut v = value;
        while let [0, rest @ ..] = v {
            v = rest;
        }
        v
    };
    match trimmed.first() {
        Some(&b) => trimmed.len() * 8 - b.leading_zeros() as usize,
        None => 0,
    }
}

fn curve_name(oid: &[u8]) -> &'static str {
    match oid {
        OID_P256 => "P-256",
        OID_P384 => "P-384",
        OID_P521 => "P-521",
        OID_SECP256K1 => "secp256k1",
        _ => "an unknown curve",
    }
}

fn algorithm_name(oid: &[u8]) -> &'static str {
    match oid {
        OID_ED25519 => "Ed25519",
        OID_ED448 => "Ed448",
        OID_X25519 => "X25519",
        OID_DSA => "DSA",
        OID_RSA_PSS => "RSASSA-PSS",
        _ => "an unknown algorithm",
    }
}

/// (algorithm OID, parameter OID if any) of an AlgorithmIdentifier.
fn algorithm(content: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let parts = elements(content)?;
    let (OID, alg) = *parts.first()? else {
        return None;
    };
    let param = parts.get(1).and_then(|&(t, v)| (t == OID).then_some(v));
    Some((alg, param))
}

fn rsa_public_bits(pkcs1: &[u8]) -> Option<usize> {
    let (SEQUENCE, content, _) = tlv(pkcs1)? else {
        return None;
    };
    let parts = elements(content)?;
    match parts.as_slice() {
        [(INTEGER, n), (INTEGER, _e)] => Some(integer_bits(n)),
        _ => None,
    }
}

fn rsa_private_bits(pkcs1: &[u8]) -> Option<usize> {
    let (SEQUENCE, content, _) = tlv(pkcs1)? else {
        return None;
    };
    let parts = elements(content)?;
    match parts.as_slice() {
        [(INTEGER, _v), (INTEGER, n), (INTEGER, _e), rest @ ..] if rest.len() >= 6 => {
            Some(integer_bits(n))
        }
        _ => None,
    }
}

/// Classifies a DER blob.
pub(crate) fn classify(der: &[u8]) -> DerKind {
    classify_inner(der).unwrap_or(DerKind::Unknown)
}

fn classify_inner(der: &[u8]) -> Option<DerKind> {
    let (SEQUENCE, content, _) = tlv(der)? else {
        return None;
    };
    let parts = elements(content)?;
    match parts.as_slice() {
        // PKCS#8 PrivateKeyInfo: version, AlgorithmIdentifier, OCTET STRING, ...
        [(INTEGER, _), (SEQUENCE, alg), (OCTET_STRING, key), ..] => {
            let (oid, param) = algorithm(alg)?;
            Some(match oid {
                OID_RSA => DerKind::RsaPrivatePkcs8 {
                    bits: rsa_private_bits(key)?,
                },
                OID_EC => {
                    // The curve is in the AlgorithmIdentifier, or inside the SEC1 structure.
                    let curve = param.map(curve_name).or_else(|| match classify_inner(key) {
                        Some(DerKind::EcPrivateSec1 { curve }) => Some(curve),
                        _ => None,
                    });
                    DerKind::EcPrivatePkcs8 {
                        curve: curve.unwrap_or("an unspecified curve"),
                    }
                }
                other => DerKind::OtherPrivatePkcs8 {
                    algorithm: algorithm_name(other),
                },
            })
        }
        // SEC1 ECPrivateKey: version 1, OCTET STRING, [0] parameters, [1] public key
        [(INTEGER, [1]), (OCTET_STRING, _), rest @ ..] => {
            let curve = rest
                .iter()
                .find(|(t, _)| *t == 0xA0)
                .and_then(|(_, v)| match tlv(v) {
                    Some((OID, oid, _)) => Some(curve_name(oid)),
                    _ => None,
                })
                .unwrap_or("an unspecified curve");
            Some(DerKind::EcPrivateSec1 { curve })
        }
        // PKCS#1 RSAPrivateKey: version, n, e, d, p, q, dp, dq, qinv
        [(INTEGER, _), (INTEGER, n), (INTEGER, _), ..] if parts.len() >= 9 => {
            Some(DerKind::RsaPrivatePkcs1 {
                bits: integer_bits(n),
            })
        }
        // PKCS#1 RSAPublicKey: n, e
        [(INTEGER, n), (INTEGER, _)] => Some(DerKind::RsaPublic {
            bits: integer_bits(n),
        }),
        // EncryptedPrivateKeyInfo: AlgorithmIdentifier, OCTET STRING
        [(SEQUENCE, _), (OCTET_STRING, _)] => Some(DerKind::EncryptedPkcs8),
        // SubjectPublicKeyInfo: AlgorithmIdentifier, BIT STRING
        [(SEQUENCE, alg), (BIT_STRING, bits)] => {
            let (oid, param) = algorithm(alg)?;
            Some(match oid {
                OID_RSA => DerKind::RsaPublic {
                    bits: rsa_public_bits(bits.get(1..)?)?,
                },
                OID_EC => DerKind::EcPublic {
                    curve: param.map_or("an unspecified curve", curve_name),
                },
                other => DerKind::OtherPublic {
                    algorithm: algorithm_name(other),
                },
            })
        }
        // Certificate: TBSCertificate, AlgorithmIdentifier, BIT STRING
        [(SEQUENCE, _), (SEQUENCE, _), (BIT_STRING, _)] => Some(DerKind::Certificate),
        _ => None,
    }
}

/// Wraps a PKCS#1 `RSAPrivateKey` into a PKCS#8 `PrivateKeyInfo` (test helper for
/// keys AWS-LC's high-level API refuses, e.g. the 1024-bit Ruby SDK test key).
#[cfg(test)]
pub(crate) fn wrap_rsa_pkcs1_in_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|&b| b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }
    let mut alg = encode(OID, OID_RSA);
    alg.extend([0x05, 0x00]);
    let mut body = encode(INTEGER, &[0]);
    body.extend(encode(SEQUENCE, &alg));
    body.extend(encode(OCTET_STRING, pkcs1));
    encode(SEQUENCE, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der_of(path: &str) -> Vec<u8> {
        let bytes = std::fs::read(format!(
            "{}/tests/data/keys/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        if path.ends_with(".der") {
            bytes
        } else {
            pem::parse(bytes).unwrap().into_contents()
        }
    }

    #[test]
    fn classifies_the_test_keys() {
        let cases = [
            ("rsa2048.pkcs1.der", DerKind::RsaPrivatePkcs1 { bits: 2048 }),
            ("rsa2048.pkcs8.der", DerKind::RsaPrivatePkcs8 { bits: 2048 }),
            ("rsa2048.pub.der", DerKind::RsaPublic { bits: 2048 }),
            ("rsa2048.pkcs1-pub.pem", DerKind::RsaPublic { bits: 2048 }),
            ("rsa1024.pkcs8.pem", DerKind::RsaPrivatePkcs8 { bits: 1024 }),
            ("rsa3072.pkcs8.pem", DerKind::RsaPrivatePkcs8 { bits: 3072 }),
            ("rsa4096.pkcs1.pem", DerKind::RsaPrivatePkcs1 { bits: 4096 }),
            (
                "ec-p256.sec1.der",
                DerKind::EcPrivateSec1 { curve: "P-256" },
            ),
            (
                "ec-p256.pkcs8.der",
                DerKind::EcPrivatePkcs8 { curve: "P-256" },
            ),
            ("ec-p256.pub.der", DerKind::EcPublic { curve: "P-256" }),
            (
                "ec-p384.sec1.pem",
                DerKind::EcPrivateSec1 { curve: "P-384" },
            ),
            (
                "ec-p384.pkcs8.pem",
                DerKind::EcPrivatePkcs8 { curve: "P-384" },
            ),
            (
                "ec-secp256k1.sec1.pem",
                DerKind::EcPrivateSec1 { curve: "secp256k1" },
            ),
            (
                "ed25519.pkcs8.pem",
                DerKind::OtherPrivatePkcs8 {
                    algorithm: "Ed25519",
                },
            ),
            ("rsa2048.encrypted-pkcs8.pem", DerKind::EncryptedPkcs8),
            ("certificate.pem", DerKind::Certificate),
        ];
        for (file, want) in cases {
            assert_eq!(classify(&der_of(file)), want, "{file}");
        }
        assert_eq!(classify(b""), DerKind::Unknown);
        assert_eq!(classify(b"\x30\x82\xff\xff"), DerKind::Unknown);
    }

    #[test]
    fn wrapping_pkcs1_gives_pkcs8() {
        let pkcs1 = der_of("rsa2048.pkcs1.der");
        assert_eq!(wrap_rsa_pkcs1_in_pkcs8(&pkcs1), der_of("rsa2048.pkcs8.der"));
    }
}
