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

/// The version of every `--json` object's layout, in its `"schema"` field: raised
/// when a field is removed or changes meaning (new fields may appear in any version).
pub(crate) const JSON_SCHEMA: u64 = 1;

/// A `--json` object with its `"schema"` field.
pub(crate) fn with_schema(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(map) = value.as_object_mut() {
        map.insert("schema".to_owned(), JSON_SCHEMA.into());
    }
    value
}

/// A policy's JSON text as a JSON value (an object), for `--json` output; the text
/// itself if it somehow does not parse. Beside it, `policy_text` keeps the exact
/// bytes that were signed (an object's key order and spacing are not kept).
pub(crate) fn policy_value(json: &str) -> serde_json::Value {
    serde_json::from_str(json).unwrap_or_else(|_| json.into())
}

/// An epoch as an RFC 3339 UTC string.
pub(crate) fn iso(epoch: cfsign::EpochSeconds) -> String {
    epoch.to_timestamp().to_string()
}
