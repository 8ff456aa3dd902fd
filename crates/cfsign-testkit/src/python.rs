//! The Python the test oracles run in: the virtual environment that
//! `scripts/setup-python` creates at the workspace root (`.venv/`), never the
//! system Python, so that botocore, cryptography, boto3 and moto are the
//! versions `scripts/requirements-test.txt` names and nothing is installed
//! outside the repository.

use std::path::PathBuf;
use std::process::Command;

/// What to run when the virtual environment or a package in it is missing.
pub const INSTALL_HINT: &str = "the test oracles live in the virtual environment .venv/ at the \
     workspace root: run `scripts/setup-python` (scripts/test runs it), which creates it and \
     installs scripts/requirements-test.txt into it";

/// The virtual environment's interpreter, `<workspace>/.venv/bin/python3`.
///
/// # Panics
///
/// If the virtual environment does not exist (with [`INSTALL_HINT`]); nothing is
/// skipped and the system Python is never used instead.
#[must_use]
pub fn interpreter() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python3");
    assert!(
        python.exists(),
        "{} does not exist. {INSTALL_HINT}",
        python.display()
    );
    python
}

/// A command running the virtual environment's interpreter.
///
/// # Panics
///
/// As [`interpreter`].
#[must_use]
pub fn command() -> Command {
    Command::new(interpreter())
}

/// Fails (never skips) unless every module in `modules` imports.
///
/// # Panics
///
/// If the interpreter is missing or a module does not import, naming it and
/// [`INSTALL_HINT`].
pub fn require(modules: &[&str]) {
    let script = format!("import {}", modules.join(", "));
    let output = command()
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}. {INSTALL_HINT}",
                interpreter().display()
            )
        });
    assert!(
        output.status.success(),
        "`{script}` failed in .venv ({}). {INSTALL_HINT}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
}
