//! The `[origins.NAME]` sections: where objects come from.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{ConfigError, Field, OriginFile};
use crate::origin::s3::{S3ConfigError, S3OriginBuilder};
use crate::origin::{DirectoryOrigin, HttpOrigin, Origin, S3Origin};

/// Seconds an HTTP origin may take to send the response head, unless `timeout_seconds` says otherwise.
const DEFAULT_HTTP_TIMEOUT: u64 = 30;

/// Every origin, built (relative folders against `base`).
pub(super) fn origins(
    origins: &BTreeMap<String, OriginFile>,
    base: &Path,
) -> Result<BTreeMap<String, Arc<dyn Origin>>, ConfigError> {
    origins
        .iter()
        .map(|(name, file)| Ok((name.clone(), origin(name, file, base)?)))
        .collect()
}

/// One origin.
fn origin(name: &str, file: &OriginFile, base: &Path) -> Result<Arc<dyn Origin>, ConfigError> {
    let field = |f: &str| Field::file(format!("origins.{name}{f}"));
    Ok(match file {
        OriginFile::Directory { root } => {
            let path = base.join(root);
            match DirectoryOrigin::new(&path) {
                Ok(origin) => Arc::new(origin),
                Err(source) => {
                    return Err(ConfigError::DirectoryRoot {
                        field: field(".root"),
                        path,
                        source,
                    });
                }
            }
        }
        OriginFile::S3 {
            bucket,
            prefix,
            region,
            endpoint,
            allow_http,
            profile,
        } => {
            let mut builder = S3Origin::builder(bucket.clone()).allow_http(*allow_http);
            builder =
                aws_chain(builder, profile.as_deref()).map_err(|source| ConfigError::S3Origin {
                    field: field(".profile"),
                    source,
                })?;
            if let Some(p) = prefix {
                builder = builder.prefix(p.clone());
            }
            if let Some(r) = region {
                builder = builder.region(r.clone());
            }
            if let Some(e) = endpoint {
                builder = builder.endpoint(e.clone());
            }
            Arc::new(builder.build().map_err(|source| {
                let field = match &source {
                    S3ConfigError::InvalidPrefix { .. } => field(".prefix"),
                    S3ConfigError::NoAwsChain { .. } => field(".profile"),
                    _ => field(""),
                };
                ConfigError::S3Origin { field, source }
            })?)
        }
        OriginFile::Http {
            url,
            timeout_seconds,
        } => {
            let timeout =
                Duration::from_secs(timeout_seconds.unwrap_or(DEFAULT_HTTP_TIMEOUT).max(1));
            Arc::new(
                HttpOrigin::new(url, timeout).map_err(|source| ConfigError::HttpOrigin {
                    field: field(".url"),
                    source,
                })?,
            )
        }
    })
}

/// The AWS SDK's credential chain (with `profile`, if given), as `cfsign aws` uses.
#[cfg(feature = "aws-chain")]
#[allow(clippy::unnecessary_wraps)] // the same signature as without the feature
fn aws_chain(
    builder: S3OriginBuilder,
    profile: Option<&str>,
) -> Result<S3OriginBuilder, S3ConfigError> {
    Ok(match profile {
        Some(p) => builder.aws_profile(p),
        None => builder.aws_chain(),
    })
}

/// Without the AWS SDK: object_store's chain; a profile cannot be read.
#[cfg(not(feature = "aws-chain"))]
fn aws_chain(
    builder: S3OriginBuilder,
    profile: Option<&str>,
) -> Result<S3OriginBuilder, S3ConfigError> {
    match profile {
        Some(p) => Err(S3ConfigError::NoAwsChain {
            profile: p.to_owned(),
        }),
        None => Ok(builder),
    }
}
