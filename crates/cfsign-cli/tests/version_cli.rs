//! `cfsign --version`, run for real: the version, the commit, the features.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::process::Command;

use cfsign_testkit::cli;

/// The binary, without the test's own `CFSIGN_*` variables.
fn cfsign() -> Command {
    cli::command(env!("CARGO_BIN_EXE_cfsign"))
}

#[test]
fn version_names_the_commit_and_the_features() {
    let (code, out, err) = cli::run(cfsign().arg("--version"));
    assert_eq!((code, err.as_str()), (0, ""));
    let line = out.strip_suffix('\n').unwrap();
    assert!(!line.contains('\n'), "{out}");
    let rest = line
        .strip_prefix(&format!("cfsign {} (commit ", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("{line}"));
    let (commit, rest) = rest
        .split_once(", features: ")
        .unwrap_or_else(|| panic!("{line}"));
    let features = rest.strip_suffix(')').unwrap_or_else(|| panic!("{line}"));

    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    // Built from this checkout: the commit is its HEAD (or unknown without git).
    let head = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_owned());
    assert_eq!(commit, head.as_deref().unwrap_or("unknown"), "{line}");

    let expected = if cfg!(feature = "aws") { "aws" } else { "none" };
    assert_eq!(features, expected, "{line}");

    // -V and the subcommands say the same.
    let (_, short, _) = cli::run(cfsign().arg("-V"));
    assert_eq!(short, out);
    let (_, sub, _) = cli::run(cfsign().args(["url", "--version"]));
    assert_eq!(sub, out.replacen("cfsign ", "cfsign-url ", 1));
}
