//! The Node.js addon of cfsign (napi-rs): the `cfsign` crate's signing,
//! verifying and explaining as `Signer`, `SignedPolicy`, `Verifier` and `keygen`,
//! plus the native halves of the two drop-ins (`@aws-sdk/cloudfront-signer`,
//! `aws-cloudfront-sign`).
//!
//! The addon only converts values ([`convert`]) and maps errors ([`errors`]);
//! every policy, encoding, signing, verifying and explaining decision is the
//! core's. The JavaScript entry files re-export these functions.
//!
//! `#[napi]` expands to the N-API glue; no code in this crate is `unsafe` (the
//! workspace denies it).

pub mod compat;
mod convert;
pub mod errors;
pub mod signer;
pub mod verifier;
