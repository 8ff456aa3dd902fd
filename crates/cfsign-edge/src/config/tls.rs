//! The `[tls]` section: the certificate and key, read and checked.

use super::ConfigError;
use super::overrides::TlsPaths;
use crate::tls::TlsCertificate;

/// Loads the certificate and key; `None` (plain HTTP) without `[tls]`.
pub(super) fn certificate(paths: Option<&TlsPaths>) -> Result<Option<TlsCertificate>, ConfigError> {
    let Some(TlsPaths {
        cert_file,
        key_file,
    }) = paths
    else {
        return Ok(None);
    };
    TlsCertificate::load(&cert_file.value, &key_file.value)
        .map(Some)
        .map_err(|source| {
            let field = if source.field() == "cert_file" {
                &cert_file.field
            } else {
                &key_file.field
            };
            ConfigError::Tls {
                field: field.clone(),
                source,
            }
        })
}
