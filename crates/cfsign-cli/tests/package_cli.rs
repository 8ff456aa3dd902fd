//! The release artefacts of `scripts/package`, checked as a user meets them:
//! the static binary's tarball is unpacked and its `cfsign` runs `quickstart`;
//! the Debian package is unpacked into a temporary root (`dpkg-deb -x`) and its
//! `cfsign` runs `quickstart` and `edge --check` on the packaged example
//! configuration.
//!
//! The artefacts are read from `CFSIGN_PACKAGE_DIR` (`scripts/test` runs
//! `scripts/package` first and sets it); without it this test runs
//! `scripts/package` itself (a release build: minutes the first time).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use cfsign_testkit::cli;
use cfsign_testkit::process::{Measured, Outcome};

/// A release build of the whole CLI on a busy 2-core machine takes about ten minutes.
const PACKAGE_TIMEOUT: Duration = Duration::from_secs(40 * 60);
/// quickstart, edge --check, tar, dpkg-deb: seconds each.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `command` bounded by `timeout` and asserts it succeeded.
fn ok(command: &mut Command, timeout: Duration) -> Outcome {
    let what = format!("{command:?}");
    let outcome = Measured::spawn(command).finish(timeout);
    assert!(!outcome.timed_out, "{what} ran over {timeout:?}");
    assert_eq!(
        outcome.code,
        Some(0),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&outcome.stdout),
        outcome.stderr
    );
    outcome
}

fn stdout(outcome: &Outcome) -> String {
    String::from_utf8(outcome.stdout.clone()).expect("UTF-8 output")
}

/// The folder holding the artefacts, built once per test run.
fn dist() -> &'static Path {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        if let Some(dir) = std::env::var_os("CFSIGN_PACKAGE_DIR") {
            return PathBuf::from(dir);
        }
        let root = workspace_root();
        ok(
            Command::new("bash")
                .arg(root.join("scripts/package"))
                .current_dir(&root),
            PACKAGE_TIMEOUT,
        );
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        target.join("dist")
    })
}

/// The one file in the artefact folder whose name ends with `suffix`.
fn artefact(suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dist())
        .unwrap_or_else(|e| panic!("{}: {e}", dist().display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one *{suffix} in {}",
        dist().display()
    );
    found.into_iter().next().unwrap()
}

/// The 64-bit little-endian ELF file `bytes`: (has a `PT_INTERP` program header,
/// i.e. asks for a dynamic loader; has a `.symtab` section, i.e. is not stripped).
fn elf_interp_and_symtab(bytes: &[u8]) -> (bool, bool) {
    assert_eq!(&bytes[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(bytes[4], 2, "not a 64-bit ELF file");
    assert_eq!(bytes[5], 1, "not a little-endian ELF file");
    let u16_at = |at: usize| usize::from(u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap()));
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| {
        usize::try_from(u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())).unwrap()
    };
    let (phoff, shoff) = (u64_at(0x20), u64_at(0x28));
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    let (shentsize, shnum) = (u16_at(0x3a), u16_at(0x3c));
    const PT_INTERP: u32 = 3;
    const SHT_SYMTAB: u32 = 2;
    let interp = (0..phnum).any(|i| u32_at(phoff + i * phentsize) == PT_INTERP);
    let symtab = (0..shnum).any(|i| u32_at(shoff + i * shentsize + 4) == SHT_SYMTAB);
    (interp, symtab)
}

/// What a user sees of a binary: static (`ldd` says so, no loader asked for),
/// stripped, and its version.
fn assert_static_and_stripped(binary: &Path) {
    let (interp, symtab) = elf_interp_and_symtab(&std::fs::read(binary).unwrap());
    assert!(
        !interp,
        "{} asks for a dynamic loader (PT_INTERP)",
        binary.display()
    );
    assert!(!symtab, "{} is not stripped (.symtab)", binary.display());
    // glibc's ldd exits 1 with "not a dynamic executable"; musl's or busybox's say "statically linked".
    let outcome = Measured::spawn(Command::new("ldd").arg(binary)).finish(STEP_TIMEOUT);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&outcome.stdout),
        outcome.stderr
    );
    assert!(
        said.contains("not a dynamic executable") || said.contains("statically linked"),
        "ldd {}: {said}",
        binary.display()
    );
    let version = stdout(&ok(
        cli::command(binary.to_str().unwrap()).arg("--version"),
        STEP_TIMEOUT,
    ));
    assert!(
        version.starts_with(&format!("cfsign {} (commit ", env!("CARGO_PKG_VERSION")))
            && version.contains("features: aws"),
        "{version}"
    );
}

/// `cfsign quickstart` from `binary`: both signatures check and the local edge
/// answers the signed URL with 200; its temporary folder is removed.
fn assert_quickstart_runs(binary: &Path) {
    let out = stdout(&ok(
        cli::command(binary.to_str().unwrap()).arg("quickstart"),
        STEP_TIMEOUT,
    ));
    assert_eq!(
        out.matches("Checked: the signature verifies").count(),
        2,
        "{out}"
    );
    assert!(
        out.contains("GET signed URL                     -> 200 OK"),
        "{out}"
    );
    let dir = out
        .lines()
        .find_map(|l| l.split(" key pair, in ").nth(1))
        .expect("quickstart names its folder")
        .trim();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn static_binary_tarball() {
    let tarball = artefact("-x86_64-unknown-linux-musl.tar.gz");
    let unpacked = tempfile::tempdir().unwrap();
    ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(unpacked.path()),
        STEP_TIMEOUT,
    );
    // Reproducible: gzip's header carries no time (gzip -n), every member is root's with the
    // same modes (the umask of the machine that packed it does not show).
    let bytes = std::fs::read(&tarball).unwrap();
    assert_eq!(&bytes[..3], b"\x1f\x8b\x08", "not gzip");
    assert_eq!(&bytes[4..8], &[0, 0, 0, 0], "gzip header carries a time");
    let listing = stdout(&ok(
        Command::new("tar").arg("-tvzf").arg(&tarball),
        STEP_TIMEOUT,
    ));
    for line in listing.lines() {
        let mode = line.split_whitespace().next().unwrap();
        assert!(
            line.contains(" 0/0 ") && ["-rw-r--r--", "-rwxr-xr-x", "drwxr-xr-x"].contains(&mode),
            "{line}"
        );
    }
    let name = tarball.file_name().unwrap().to_str().unwrap();
    let top = unpacked.path().join(name.strip_suffix(".tar.gz").unwrap());
    for file in [
        "cfsign",
        "completions/cfsign.bash",
        "completions/_cfsign",
        "completions/cfsign.fish",
        "completions/_cfsign.ps1",
        "man/cfsign.1.gz",
        "man/cfsign-edge.1.gz",
        "systemd/cfsign-edge.service",
        "edge.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
    ] {
        assert!(top.join(file).is_file(), "{name} lacks {file}");
    }
    let binary = top.join("cfsign");
    assert_static_and_stripped(&binary);
    assert_quickstart_runs(&binary);

    // The completions load in bash and complete the subcommands.
    let script = format!(
        "source {}; complete -p cfsign",
        top.join("completions/cfsign.bash").display()
    );
    let said = stdout(&ok(
        Command::new("bash").args(["-c", &script]),
        STEP_TIMEOUT,
    ));
    assert!(said.contains("cfsign"), "{said}");
    // The man page is roff for `cfsign`.
    let page = stdout(&ok(
        Command::new("gzip")
            .arg("-dc")
            .arg(top.join("man/cfsign.1.gz")),
        STEP_TIMEOUT,
    ));
    assert!(page.contains(".TH cfsign 1"), "{page}");
}

#[test]
fn checksums_match() {
    let sums = dist().join("SHA256SUMS");
    let listed = std::fs::read_to_string(&sums).unwrap();
    assert_eq!(listed.lines().count(), 2, "{listed}");
    ok(
        Command::new("sha256sum")
            .args(["--check", "--strict", "SHA256SUMS"])
            .current_dir(dist()),
        STEP_TIMEOUT,
    );
}

#[test]
fn debian_package() {
    let deb = artefact("_amd64.deb");
    let field = |name: &str| {
        stdout(&ok(
            Command::new("dpkg-deb").arg("--field").arg(&deb).arg(name),
            STEP_TIMEOUT,
        ))
        .trim()
        .to_owned()
    };
    assert_eq!(field("Package"), "cfsign");
    assert_eq!(field("Version"), format!("{}-1", env!("CARGO_PKG_VERSION")));
    assert_eq!(field("Architecture"), "amd64");
    assert_eq!(field("Depends"), "", "a static binary depends on nothing");

    // Control files: the example configuration is a conffile (an upgrade keeps the operator's
    // edits), and the unit is registered with systemd but neither enabled nor started.
    let control = tempfile::tempdir().unwrap();
    ok(
        Command::new("dpkg-deb")
            .arg("--control")
            .arg(&deb)
            .arg(control.path()),
        STEP_TIMEOUT,
    );
    let conffiles = std::fs::read_to_string(control.path().join("conffiles")).unwrap();
    assert!(
        conffiles.lines().any(|l| l == "/etc/cfsign/edge.toml"),
        "{conffiles}"
    );
    let postinst = std::fs::read_to_string(control.path().join("postinst")).unwrap();
    assert!(postinst.contains("daemon-reload"), "{postinst}");
    assert!(
        postinst.contains("try-restart cfsign-edge.service"),
        "{postinst}"
    );
    assert!(!postinst.contains("deb-systemd-invoke start"), "{postinst}");

    let root = tempfile::tempdir().unwrap();
    ok(
        Command::new("dpkg-deb")
            .arg("--extract")
            .arg(&deb)
            .arg(root.path()),
        STEP_TIMEOUT,
    );
    let r = root.path();
    for file in [
        "usr/bin/cfsign",
        "usr/share/bash-completion/completions/cfsign",
        "usr/share/zsh/vendor-completions/_cfsign",
        "usr/share/fish/vendor_completions.d/cfsign.fish",
        "usr/share/man/man1/cfsign.1.gz",
        "usr/share/man/man1/cfsign-edge.1.gz",
        "usr/share/doc/cfsign/copyright",
        "etc/cfsign/edge.toml",
    ] {
        assert!(r.join(file).is_file(), "the package lacks /{file}");
    }
    let unit = ["lib/systemd/system", "usr/lib/systemd/system"]
        .iter()
        .map(|d| r.join(d).join("cfsign-edge.service"))
        .find(|p| p.is_file())
        .expect("the package installs cfsign-edge.service");
    assert!(
        std::fs::read_to_string(&unit).unwrap()
            == std::fs::read_to_string(workspace_root().join("dist/systemd/cfsign-edge.service"))
                .unwrap(),
        "the packaged unit is not dist/systemd/cfsign-edge.service (run scripts/package again?)"
    );

    let binary = r.join("usr/bin/cfsign");
    assert_static_and_stripped(&binary);
    assert_quickstart_runs(&binary);

    // The packaged configuration needs the operator's public key: --check names what is missing,
    // then passes once keys/public_key.pem (next to the file) exists.
    let config = r.join("etc/cfsign/edge.toml");
    let check = || {
        let mut command = cli::command(binary.to_str().unwrap());
        command
            .arg("edge")
            .arg("--config")
            .arg(&config)
            .arg("--check");
        Measured::spawn(&mut command).finish(STEP_TIMEOUT)
    };
    let missing = check();
    assert_eq!(missing.code, Some(2), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("keys/public_key.pem") || missing.stderr.contains("public_key"),
        "{}",
        missing.stderr
    );
    ok(
        cli::command(binary.to_str().unwrap())
            .args(["keygen", "--out"])
            .arg(r.join("etc/cfsign/keys")),
        STEP_TIMEOUT,
    );
    let checked = check();
    assert_eq!(checked.code, Some(0), "{}", checked.stderr);
    let said = stdout(&checked);
    assert!(
        said.contains("configuration OK; would listen on 0.0.0.0:8080"),
        "{said}"
    );
    assert!(said.contains("-> origin app"), "{said}");
}
