//! Sets `CFSIGN_EDGE_GIT_COMMIT`, the `commit` label of the `cfsign_build_info`
//! metric: `git rev-parse --short HEAD`, or `unknown` outside a git checkout (a
//! crates.io build) or without git.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");

    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=CFSIGN_EDGE_GIT_COMMIT={commit}");
    // A new commit moves the branch's ref; a checkout changes HEAD. In a linked worktree
    // HEAD is in the worktree's git dir and the refs are in the common one.
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        rerun_if_exists(&Path::new(&git_dir).join("HEAD"));
        let common = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
            .map_or_else(|| PathBuf::from(&git_dir), PathBuf::from);
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            rerun_if_exists(&common.join(reference));
        }
        rerun_if_exists(&common.join("packed-refs"));
    }
}

/// `git ARGS` run in this crate's directory: its trimmed output, or `None` when git is
/// missing or fails (not a checkout).
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// A missing path would make Cargo run this script on every build (a ref that lives
/// only in packed-refs, or no packed-refs at all).
fn rerun_if_exists(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
