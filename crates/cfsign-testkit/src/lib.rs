//! Test harnesses shared by cfsign's crates. A dev-dependency only; never published.
//!
//! - [`edge`]: an edge on 127.0.0.1 ([`edge::EdgeBuilder`] → [`edge::RunningEdge`]:
//!   origin, access check, cache, TTLs, behaviors, TLS, limits, access log,
//!   admin listener), stopped gracefully; or only built, to serve it yourself.
//! - [`server`]: any service (an axum app standing in for an origin server)
//!   served on 127.0.0.1 and stopped gracefully.
//! - [`http`]: an HTTP client for tests (status, headers, body, chunks) and raw exchanges.
//! - [`signer`]: a test key pair, its signer and verifier, signed URLs and cookies.
//! - [`conformance`]: the conformance suite every origin runs.
//! - [`s3`]: buckets on moto, the S3 origin pointed at them, an S3 writer.
//! - [`moto`]: a real moto server (S3, CloudFront's control plane, KMS) on
//!   127.0.0.1, started per test on a free port and stopped on drop.
//! - [`credentials`]: AWS logins for credential-chain tests: keys moto tells apart
//!   (another account's role, an IAM user with moto's signature checks on), and a
//!   `credential_process` profile in a temporary config file.
//! - [`tls`]: self-signed certificates and an HTTPS client that trusts only them.
//! - [`browser`]: headless Chromium driven by a Node.js script, and its JSON result.
//! - [`cli`]: the `cfsign` binary run for real, and `cfsign edge` as a child process.
//! - [`data`]: the core crate's committed test keys and data.
//! - [`rng`]: a seeded deterministic RNG for picking test inputs.
//! - [`lines`]: a child process's output, line by line, each wait bounded.
//! - [`mangle`]: a signed URL mangled the ways clients mangle it; credential leaks in a text.
//! - [`python`]: the virtual environment the Python oracles run in.
//! - [`node`]: URLs and cookies signed by the npm CloudFront signers.
//! - [`process`]: a child's wall time and peak memory, measured; FIFOs to feed it.
//! - [`media`]: short real HLS and DASH streams made by ffmpeg in a test's folder.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness: a failure is a test failure

pub mod browser;
pub mod cli;
pub mod conformance;
pub mod credentials;
pub mod data;
pub mod edge;
pub mod http;
pub mod lines;
pub mod mangle;
pub mod media;
pub mod moto;
pub mod node;
pub mod process;
pub mod python;
pub mod rng;
pub mod s3;
pub mod server;
pub mod signer;
pub mod tls;
