//! Headless Chromium for the edge's browser tests: Debian's Chromium driven by
//! Playwright from a Node.js script in `crates/cfsign-edge/tests/browser/`
//! (`driver.mjs`, `play.mjs`), its prerequisites checked (never skipped), its
//! run bounded, and its one-line JSON result read.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What installs the browser tests' prerequisites.
pub const SETUP_HINT: &str = "run `bash scripts/setup-browser` (as root it installs Debian's chromium with \
     apt-get; it needs Node.js 20+ and npm, and runs `npm ci` in crates/cfsign-edge/tests/browser: \
     playwright-core, hls.js, dashjs)";

/// The folder of the drivers, the pages and their `node_modules`.
///
/// ```
/// assert!(cfsign_testkit::browser::driver_dir().ends_with("cfsign-edge/tests/browser"));
/// ```
#[must_use]
pub fn driver_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cfsign-edge/tests/browser")
}

/// Chromium: `$CHROMIUM`, else Debian's `/usr/bin/chromium`.
///
/// ```
/// let _ = cfsign_testkit::browser::chromium();
/// ```
#[must_use]
pub fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Fails (never skips) with [`SETUP_HINT`] when Chromium, Node.js or one of
/// `modules` (paths under `node_modules`, e.g. `playwright-core/package.json`)
/// is missing.
///
/// # Panics
///
/// When a prerequisite is missing.
pub fn check_prerequisites(modules: &[&str]) {
    let chromium = chromium();
    assert!(
        chromium.is_file(),
        "Chromium not found at {}: {SETUP_HINT}",
        chromium.display()
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "node not found ({node:?}): {SETUP_HINT}"
    );
    for module in modules {
        let path = driver_dir().join("node_modules").join(module);
        assert!(
            path.is_file(),
            "{} is missing: {SETUP_HINT}",
            path.display()
        );
    }
}

/// Runs `node SCRIPT ARGUMENT` in [`driver_dir`] with `CHROMIUM` set, its output
/// in `scratch`, and returns the JSON object of its last stdout line (and the
/// line). Past `timeout` the driver gets SIGTERM (Playwright then closes
/// Chromium), 5 s later SIGKILL, and the test fails.
///
/// # Panics
///
/// When the driver cannot start, runs too long, exits with an error, prints no
/// JSON, or reports an `error` (with its `console` when it kept one).
pub async fn run_driver(
    script: &str,
    argument: &str,
    scratch: &Path,
    timeout: Duration,
) -> (Json, String) {
    let stdout_path = scratch.join(format!("{script}.stdout"));
    let stderr_path = scratch.join(format!("{script}.stderr"));
    let mut child = Command::new("node")
        .arg(script)
        .arg(argument)
        .current_dir(driver_dir())
        .env("CHROMIUM", chromium())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node: {e}: {SETUP_HINT}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            tokio::time::sleep(Duration::from_secs(5)).await;
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the browser driver {script} did not finish within {timeout:?}; stderr:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(
        status.success(),
        "the browser driver {script} failed ({status}):\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let line = stdout.lines().last().unwrap_or_default();
    let result = serde_json::from_str::<Json>(line)
        .unwrap_or_else(|e| panic!("driver output is not JSON ({e}): {stdout}"));
    assert!(
        result.get("error").is_none(),
        "the browser driver {script} reported an error:\n{}\nconsole: {:?}\nstderr:\n{stderr}",
        result.at("error").str(),
        result.get("console")
    );
    (result, line.to_owned())
}

/// A driver's result.
pub type Json = serde_json::Value;

/// Reading a driver's result, failing the test with the whole result when a
/// value is absent or of another type.
///
/// ```
/// use cfsign_testkit::browser::{Json, JsonExt as _};
/// let result: Json = serde_json::json!({"video": {"time": 3.5, "ok": true}});
/// assert_eq!(result.at("video.time").num(), 3.5);
/// assert!(result.at("video.ok").bool());
/// ```
pub trait JsonExt {
    /// The value at a dotted path of object keys.
    fn at(&self, path: &str) -> &Json;
    /// A string.
    fn str(&self) -> &str;
    /// A number.
    fn num(&self) -> f64;
    /// A boolean.
    fn bool(&self) -> bool;
    /// An array.
    fn arr(&self) -> &[Json];
}

impl JsonExt for Json {
    fn at(&self, path: &str) -> &Json {
        path.split('.').fold(self, |value, key| {
            value
                .get(key)
                .unwrap_or_else(|| panic!("no {path:?} in the driver result: {self}"))
        })
    }

    fn str(&self) -> &str {
        self.as_str()
            .unwrap_or_else(|| panic!("not a string: {self}"))
    }

    fn num(&self) -> f64 {
        self.as_f64()
            .unwrap_or_else(|| panic!("not a number: {self}"))
    }

    fn bool(&self) -> bool {
        self.as_bool()
            .unwrap_or_else(|| panic!("not a boolean: {self}"))
    }

    fn arr(&self) -> &[Json] {
        self.as_array()
            .map(Vec::as_slice)
            .unwrap_or_else(|| panic!("not an array: {self}"))
    }
}
