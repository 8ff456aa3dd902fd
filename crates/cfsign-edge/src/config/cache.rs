//! The `[cache]` section: the object cache's bounds.

use std::time::Duration;

use super::ConfigError;
use super::overrides::{CacheSection, Given};
use crate::cache::{CacheSettings, MAX_CACHEABLE_OBJECT};

/// The cache's bounds; `None` when `max_bytes` is 0 (no cache).
pub(super) fn settings(section: &CacheSection) -> Result<Option<CacheSettings>, ConfigError> {
    let defaults = CacheSettings::default();
    let max_bytes = section
        .max_bytes
        .as_ref()
        .map_or(defaults.max_bytes, |g| g.value);
    if max_bytes == 0 {
        return Ok(None);
    }
    let max_object_bytes = match &section.max_object_bytes {
        Some(Given { value, field }) => {
            if *value > MAX_CACHEABLE_OBJECT {
                return Err(ConfigError::CacheObjectTooLarge {
                    field: field.clone(),
                    max_object_bytes: *value,
                });
            }
            if *value > max_bytes {
                return Err(ConfigError::CacheObjectAboveTotal {
                    field: field.clone(),
                    max_object_bytes: *value,
                    max_bytes,
                });
            }
            *value
        }
        None => match &section.max_bytes {
            // the default object bound does not fit the cache given: the cache's size is the mistake
            Some(Given { value, field }) if *value < defaults.max_object_bytes => {
                return Err(ConfigError::CacheBelowObject {
                    field: field.clone(),
                    max_bytes: *value,
                    max_object_bytes: defaults.max_object_bytes,
                });
            }
            _ => defaults.max_object_bytes,
        },
    };
    Ok(Some(CacheSettings {
        max_bytes,
        max_object_bytes,
        error_ttl: section
            .error_ttl
            .map_or(defaults.error_ttl, Duration::from_secs),
    }))
}
