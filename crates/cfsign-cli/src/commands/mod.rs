//! One module per subcommand.

#[cfg(feature = "aws")]
pub(crate) mod aws;
pub(crate) mod batch;
pub(crate) mod cookies;
pub(crate) mod docs;
pub(crate) mod edge;
pub(crate) mod invalidate;
pub(crate) mod keygen;
pub(crate) mod manifest;
pub(crate) mod policy;
pub(crate) mod quickstart;
pub(crate) mod url;
pub(crate) mod verify;

use std::io::Write as _;

use cfsign::Warning;

/// Prints warnings to stderr, one per line.
pub(crate) fn print_warnings(warnings: &[Warning]) {
    let mut err = std::io::stderr().lock();
    for w in warnings {
        let _ = writeln!(err, "{w}");
    }
}

/// Warnings as JSON values.
pub(crate) fn warnings_json(warnings: &[Warning]) -> serde_json::Value {
    warnings
        .iter()
        .map(|w| serde_json::json!({ "code": w.code, "message": w.message }))
        .collect()
}

/// An epoch as an RFC 3339 UTC string.
pub(crate) fn iso(epoch: cfsign::EpochSeconds) -> String {
    epoch.to_timestamp().to_string()
}
