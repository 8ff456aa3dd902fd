//! # cfsign-edge
//!
//! A CloudFront-compatible signed-access gateway: the `cfsign` verifier as a tower
//! layer, origins behind one trait, and the edge server that puts them together.

pub mod access;
pub mod admin;
pub mod behavior;
pub mod cache;
pub mod compress;
pub mod config;
pub mod edge;
pub mod fetch;
pub mod manifests;
pub mod observe;
pub mod origin;
pub mod outcome;
pub mod reload;
pub mod respond;
pub mod server;
pub mod tls;
