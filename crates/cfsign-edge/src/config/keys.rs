//! The `[key_groups.NAME]` sections: the trusted public keys.

use std::collections::BTreeMap;
use std::path::Path;

use cfsign::verify::KeyGroup;
use cfsign::{KeyPairId, PublicKey};

use super::{ConfigError, Field, KeyGroupFile};

/// Every key group, its keys read (relative paths against `base`).
pub(super) fn key_groups(
    groups: &BTreeMap<String, KeyGroupFile>,
    base: &Path,
) -> Result<BTreeMap<String, KeyGroup>, ConfigError> {
    groups
        .iter()
        .map(|(name, group)| Ok((name.clone(), key_group(name, group, base)?)))
        .collect()
}

/// One key group: at least one key, each ID valid and each file a public key.
fn key_group(name: &str, group: &KeyGroupFile, base: &Path) -> Result<KeyGroup, ConfigError> {
    let field = format!("key_groups.{name}");
    if group.keys.is_empty() {
        return Err(ConfigError::EmptyKeyGroup {
            field: Field::file(field),
        });
    }
    let mut built = KeyGroup::new(name.to_owned());
    for (i, key) in group.keys.iter().enumerate() {
        let id = KeyPairId::new(&key.id).map_err(|source| ConfigError::KeyPairId {
            field: Field::file(format!("{field}.keys[{i}].id")),
            source,
        })?;
        let public = PublicKey::from_file(base.join(&key.public_key)).map_err(|source| {
            ConfigError::PublicKey {
                field: Field::file(format!("{field}.keys[{i}].public_key")),
                source,
            }
        })?;
        built = built.with_key(id, public);
    }
    Ok(built)
}
