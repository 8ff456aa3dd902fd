//! The record of AWS API calls a command made, or with `--dry-run` would make.
//!
//! Reads always happen (a dry run must look at what exists to know what would
//! change); calls that change something are only recorded in a dry run.
//!
//! ```
//! use cfsign_aws::plan::Plan;
//!
//! let plan = Plan::dry_run();
//! plan.record_change("cloudfront:CreateKeyGroup", [("Name", "media")]);
//! assert!(!plan.applies());
//! assert_eq!(plan.changes()[0].to_string(), "cloudfront:CreateKeyGroup Name=media");
//! ```

use std::fmt;
use std::sync::Mutex;

use serde::Serialize;

/// One API call: `service:Operation` and its key parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiCall {
    /// `cloudfront:CreateKeyGroup`, `s3:PutBucketPolicy`, ...
    pub name: String,
    /// Key parameters, in order (`Id`, `Name`, `IfMatch`, ...).
    pub params: Vec<(String, String)>,
    /// Whether the call changes something (create, update, delete, put).
    pub mutating: bool,
}

impl fmt::Display for ApiCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (k, v) in &self.params {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

/// The calls of one command run, in order; shared by the steps of the command.
#[derive(Debug)]
pub struct Plan {
    dry_run: bool,
    calls: Mutex<Vec<ApiCall>>,
}

impl Plan {
    /// Makes the changes (and records every call).
    #[must_use]
    pub fn apply() -> Self {
        Self {
            dry_run: false,
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Records the changes without making them.
    #[must_use]
    pub fn dry_run() -> Self {
        Self {
            dry_run: true,
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Whether changes are made (not a dry run).
    #[must_use]
    pub fn applies(&self) -> bool {
        !self.dry_run
    }

    /// Records a read.
    pub fn record_read<K: Into<String>, V: Into<String>>(
        &self,
        name: &str,
        params: impl IntoIterator<Item = (K, V)>,
    ) {
        self.push(name, params, false);
    }

    /// Records a change; the caller makes it only when [`Plan::applies`].
    pub fn record_change<K: Into<String>, V: Into<String>>(
        &self,
        name: &str,
        params: impl IntoIterator<Item = (K, V)>,
    ) {
        self.push(name, params, true);
    }

    fn push<K: Into<String>, V: Into<String>>(
        &self,
        name: &str,
        params: impl IntoIterator<Item = (K, V)>,
        mutating: bool,
    ) {
        let call = ApiCall {
            name: name.to_owned(),
            params: params
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            mutating,
        };
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(call);
    }

    /// Every call so far.
    #[must_use]
    pub fn calls(&self) -> Vec<ApiCall> {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The calls that change something (made, or in a dry run, to be made).
    #[must_use]
    pub fn changes(&self) -> Vec<ApiCall> {
        self.calls().into_iter().filter(|c| c.mutating).collect()
    }
}

/// What a command did (or in a dry run, would do) to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// It did not exist and was created.
    Created,
    /// It existed and was changed where it differed.
    Updated,
    /// It existed as wanted; nothing was sent.
    Unchanged,
    /// It was deleted.
    Deleted,
}

impl Action {
    /// `created`, `updated`, `unchanged`, `deleted`; in a dry run `would create`, ...
    #[must_use]
    pub fn describe(self, dry_run: bool) -> &'static str {
        match (self, dry_run) {
            (Action::Created, false) => "created",
            (Action::Updated, false) => "updated",
            (Action::Deleted, false) => "deleted",
            (Action::Created, true) => "would create",
            (Action::Updated, true) => "would update",
            (Action::Deleted, true) => "would delete",
            (Action::Unchanged, _) => "unchanged",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe(false))
    }
}
