//! What `cargo publish` would upload: for each crate published to crates.io, the
//! file list of `cargo package --list` (offline, no network needed) holds its
//! sources, its README and both license files, and none of the test keys and data
//! (`tests/data`), nothing that looks like a key (`.pem`, `.der`, `.key`) and no
//! fuzz corpus (`fuzz/`). The set of published crates is checked against
//! `cargo metadata`, so a new crate without `publish = false` is not missed.
//!
//! The cargo binary is the one running the tests (`CARGO`); each run is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use cfsign_testkit::process::Measured;
use serde_json::Value;

/// The crates meant for crates.io; every other workspace member says `publish = false`.
const PUBLISHED: [&str; 4] = ["cfsign", "cfsign-aws", "cfsign-cli", "cfsign-edge"];

/// A `cargo package --list` or `cargo metadata` run takes about a second; a minute is a hang.
const TIMEOUT: Duration = Duration::from_secs(60);

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs cargo with `args` in the workspace root, offline and bounded; its standard output.
fn cargo(args: &[&str]) -> String {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut command = Command::new(program);
    command
        .args(args)
        .arg("--offline")
        .current_dir(workspace_root());
    let outcome = Measured::spawn(&mut command).finish(TIMEOUT);
    assert!(
        !outcome.timed_out,
        "cargo {args:?} ran over {TIMEOUT:?}; stderr:\n{}",
        outcome.stderr
    );
    assert_eq!(
        outcome.code,
        Some(0),
        "cargo {args:?} failed; stderr:\n{}",
        outcome.stderr
    );
    String::from_utf8(outcome.stdout).expect("cargo's output is UTF-8")
}

/// The files `cargo publish` would upload for `krate`, as paths inside the package.
fn packaged(krate: &str) -> Vec<String> {
    let out = cargo(&["package", "--list", "--allow-dirty", "-p", krate]);
    let files: Vec<String> = out.lines().map(str::to_owned).collect();
    assert!(!files.is_empty(), "{krate}: an empty package list");
    files
}

fn check(krate: &str) {
    let files = packaged(krate);
    let listing = files.join("\n");
    for file in &files {
        let lower = file.to_ascii_lowercase();
        let parts: Vec<&str> = lower.split('/').collect();
        assert!(
            !parts.windows(2).any(|w| w == ["tests", "data"]),
            "{krate} packages test data: {file}\n{listing}"
        );
        assert!(
            ![".pem", ".der", ".key"].iter().any(|e| lower.ends_with(e)),
            "{krate} packages a key file: {file}\n{listing}"
        );
        assert!(
            !parts[..parts.len() - 1].contains(&"fuzz"),
            "{krate} packages a fuzz file: {file}\n{listing}"
        );
    }
    let has = |name: &str| files.iter().any(|f| f == name);
    for required in ["Cargo.toml", "README.md", "LICENSE-MIT", "LICENSE-APACHE"] {
        assert!(
            has(required),
            "{krate} does not package {required}\n{listing}"
        );
    }
    assert!(
        has("src/lib.rs") || has("src/main.rs"),
        "{krate} packages no crate root\n{listing}"
    );
    let dir = workspace_root().join("crates").join(krate);
    // A build script left out compiles without it: `env!` of what it sets then fails.
    assert!(
        !dir.join("build.rs").exists() || has("build.rs"),
        "{krate} has a build.rs but does not package it\n{listing}"
    );
    // The license files are links to the root's texts: they must resolve to them.
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{krate}/{name}: {e}"))
    };
    assert!(
        read("LICENSE-MIT").starts_with("MIT License"),
        "{krate}/LICENSE-MIT"
    );
    assert!(
        read("LICENSE-APACHE").contains("Apache License\n")
            && read("LICENSE-APACHE").contains("Version 2.0, January 2004"),
        "{krate}/LICENSE-APACHE"
    );
    assert!(
        read("README.md").starts_with(&format!("# {krate}\n")),
        "{krate}/README.md"
    );
}

#[test]
fn published_crates_are_exactly_these() {
    let metadata: Value =
        serde_json::from_str(&cargo(&["metadata", "--no-deps", "--format-version", "1"]))
            .expect("cargo metadata prints JSON");
    let mut published: Vec<&str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        // `publish`: null when publishing anywhere is allowed, [] for `publish = false`.
        .filter(|p| p["publish"].as_array().is_none_or(|r| !r.is_empty()))
        .map(|p| p["name"].as_str().expect("a name"))
        .collect();
    published.sort_unstable();
    assert_eq!(published, PUBLISHED, "give the others `publish = false`");
}

#[test]
fn cfsign_package() {
    check("cfsign");
}

#[test]
fn cfsign_edge_package() {
    check("cfsign-edge");
}

#[test]
fn cfsign_aws_package() {
    check("cfsign-aws");
}

#[test]
fn cfsign_cli_package() {
    check("cfsign-cli");
}
