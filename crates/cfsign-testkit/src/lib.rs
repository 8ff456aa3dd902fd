//! Test harnesses shared by cfsign's crates. A dev-dependency only; never published.
//!
//! - [`moto`]: a real moto server (S3, CloudFront's control plane, KMS) on
//!   127.0.0.1, started per test on a free port and stopped on drop.
//! - [`tls`]: self-signed certificates and an HTTPS client that trusts only them.
//! - [`conformance`]: the conformance suite every origin runs.
//! - [`edge`]: an edge over one origin, with or without a cache.
//! - [`lines`]: a child process's output, line by line, each wait bounded.
//! - [`mangle`]: a signed URL mangled the ways clients mangle it; credential leaks in a text.
//! - [`python`]: the virtual environment the Python oracles run in.
//! - [`node`]: URLs and cookies signed by the npm CloudFront signers.
//! - [`process`]: a child's wall time and peak memory, measured; FIFOs to feed it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness: a failure is a test failure

pub mod conformance;
pub mod edge;
pub mod lines;
pub mod mangle;
pub mod moto;
pub mod node;
pub mod process;
pub mod python;
pub mod tls;
