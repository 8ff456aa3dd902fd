//! The `[[behaviors]]` and `[default_behavior]` sections: which paths go to
//! which origin, under which access rules and TTLs.

use std::collections::BTreeMap;
use std::sync::Arc;

use cfsign::verify::{KeyGroup, Verifier};

use super::top::Viewers;
use super::{BehaviorFile, ConfigError, Field};
use crate::access::{AccessConfig, SharedVerifier};
use crate::behavior::{Behavior, Behaviors, PathPattern};
use crate::cache::TtlPolicy;
use crate::origin::Origin;

/// What behaviors refer to: the origins and key groups by name, and how viewers are seen.
pub(super) struct Context<'a> {
    pub(super) origins: &'a BTreeMap<String, Arc<dyn Origin>>,
    pub(super) key_groups: &'a BTreeMap<String, KeyGroup>,
    pub(super) viewers: &'a Viewers,
}

/// The ordered behaviors, then the default.
pub(super) fn behaviors(
    ordered: &[BehaviorFile],
    default: &BehaviorFile,
    cx: &Context<'_>,
) -> Result<Behaviors, ConfigError> {
    let ordered = (ordered.iter().enumerate())
        .map(|(i, b)| {
            let field = format!("behaviors[{i}]");
            let Some(text) = b.path_pattern.as_deref() else {
                return Err(ConfigError::MissingPathPattern {
                    field: Field::file(format!("{field}.path_pattern")),
                });
            };
            let pattern = PathPattern::new(text).map_err(|source| ConfigError::PathPattern {
                field: Field::file(format!("{field}.path_pattern")),
                source,
            })?;
            behavior(&field, b, pattern, cx)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if default.path_pattern.is_some() {
        return Err(ConfigError::DefaultPathPattern {
            field: Field::file("default_behavior.path_pattern"),
        });
    }
    let default = behavior("default_behavior", default, PathPattern::any(), cx)?;
    Ok(Behaviors::new(ordered, default))
}

/// One behavior; `field` is its name in errors (`behaviors[2]`, `default_behavior`).
fn behavior(
    field: &str,
    b: &BehaviorFile,
    pattern: PathPattern,
    cx: &Context<'_>,
) -> Result<Behavior, ConfigError> {
    let origin = cx
        .origins
        .get(&b.origin)
        .cloned()
        .ok_or_else(|| ConfigError::UnknownOrigin {
            field: Field::file(format!("{field}.origin")),
            name: b.origin.clone(),
            defined: cx.origins.keys().cloned().collect(),
        })?;
    let access = match (b.restricted, b.trusted_key_groups.is_empty()) {
        (true, true) => {
            return Err(ConfigError::NoTrustedKeyGroups {
                field: Field::file(field),
            });
        }
        (false, false) => {
            return Err(ConfigError::UnrestrictedWithKeyGroups {
                field: Field::file(field),
            });
        }
        (false, true) if b.sign_manifests => {
            return Err(ConfigError::SignManifestsUnrestricted {
                field: Field::file(field),
            });
        }
        (false, true) => None,
        (true, false) => Some(access(field, &b.trusted_key_groups, cx)?),
    };
    let defaults = TtlPolicy::default();
    let ttl = TtlPolicy::new(
        b.min_ttl.unwrap_or(defaults.min().as_secs()),
        b.default_ttl.unwrap_or(defaults.default_ttl().as_secs()),
        b.max_ttl.unwrap_or(defaults.max().as_secs()),
    )
    .map_err(|source| ConfigError::Ttl {
        field: Field::file(field),
        source,
    })?;
    Ok(Behavior {
        pattern,
        origin,
        origin_name: b.origin.clone(),
        access,
        ttl,
        compress: b.compress,
        sign_manifests: b.sign_manifests,
    })
}

/// The signature check of a restricted behavior: a verifier of its key groups' keys.
fn access(field: &str, groups: &[String], cx: &Context<'_>) -> Result<AccessConfig, ConfigError> {
    let mut verifier = Verifier::new().with_signature_cache(cx.viewers.signature_cache);
    for name in groups {
        let group = cx
            .key_groups
            .get(name)
            .ok_or_else(|| ConfigError::UnknownKeyGroup {
                field: Field::file(format!("{field}.trusted_key_groups")),
                name: name.clone(),
                defined: cx.key_groups.keys().cloned().collect(),
            })?;
        verifier = verifier.with_key_group(group.clone());
    }
    let mut config = AccessConfig::new(SharedVerifier::new(verifier), cx.viewers.scheme)
        .trusted_proxies(cx.viewers.trusted_proxies.clone());
    if let Some(base_url) = &cx.viewers.public_base_url {
        config = config.public_base_url(base_url.clone());
    }
    Ok(config)
}
