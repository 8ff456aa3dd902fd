//! Public keys and key groups: list, add, retire — the rotation workflow
//! CloudFront recommends.
//!
//! 1. **add** (the CLI's `keys rotate` too): upload the new public key (reused if the same key is
//!    already uploaded) and add it to the key group, keeping the old keys;
//! 2. sign new URLs and cookies with the new key's ID;
//! 3. after the overlap (the longest lifetime of URLs signed with the old key),
//!    **retire** the old key: remove it from the group, then delete the public key.
//!
//! Key-group updates send the group's ETag in `If-Match`; when someone else
//! changed the group meanwhile (`PreconditionFailed`) the group is read again and
//! the change re-applied, at most [`MAX_ETAG_ATTEMPTS`] times. Retiring the last
//! key of a group a distribution uses is refused: every signed URL would fail.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cfsign::PublicKey;
//! use cfsign_aws::client::AwsSettings;
//! use cfsign_aws::keys;
//! use cfsign_aws::plan::Plan;
//!
//! let clients = AwsSettings::default().load().await?;
//! let plan = Plan::apply();
//! let new_key = PublicKey::from_file("keys-2026/public_key.pem")?;
//! let added = keys::add(&clients, &plan, "media", &new_key, None, None).await?;
//! println!("sign with Key-Pair-Id={}", added.key_id);
//! // ... after the overlap:
//! for old in &added.previous_key_ids {
//!     keys::retire(&clients, &plan, "media", old, true).await?;
//! }
//! # Ok(()) }
//! ```

use std::fmt::Write as _;

use aws_sdk_cloudfront::types::{KeyGroupConfig, PublicKeyConfig};
use cfsign::PublicKey;
use serde::Serialize;

use crate::client::{ApiError, Clients, IncompleteAnswer, required};
use crate::plan::{Action, Plan};

/// How often a key-group update is tried when its ETag keeps changing underneath.
pub const MAX_ETAG_ATTEMPTS: u32 = 5;

/// The placeholder ID of a resource a dry run would create.
pub const NEW_ID: &str = "(new)";

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// An API call failed.
    #[error("{resource}: {error}")]
    Api {
        /// The resource, e.g. `key group media`.
        resource: String,
        /// The call and its error.
        error: ApiError,
    },
    /// No key group has this name or ID.
    #[error(
        "key group {0:?} not found (by name or ID); list them with `aws cloudfront list-key-groups`, or \
         create it with `cfsign aws setup --key-group NAME`"
    )]
    KeyGroupNotFound(String),
    /// The key is not in the group.
    #[error(
        "public key {key_id} is not in key group {group}; `cfsign aws keys list --key-group {group}` shows \
         its keys"
    )]
    KeyNotInGroup {
        /// The key.
        key_id: String,
        /// The group.
        group: String,
    },
    /// Removing the last key of a group that distributions trust.
    #[error(
        "refusing to retire {key_id}: it is the last key of key group {group}, which distribution(s) {} \
         trust, so every signed URL and cookie would be refused; add the new key first (`cfsign aws keys \
         rotate --key-group {group} ...`), sign with it, then retire the old one",
        distributions.join(", ")
    )]
    LastKeyInUse {
        /// The key.
        key_id: String,
        /// The group.
        group: String,
        /// The distributions using the group.
        distributions: Vec<String>,
    },
    /// A key group must keep at least one key.
    #[error(
        "refusing to retire {key_id}: it is the last key of key group {group} and a key group needs at \
         least one key; add another key first, or delete the unused group"
    )]
    LastKey {
        /// The key.
        key_id: String,
        /// The group.
        group: String,
    },
    /// The ETag kept changing.
    #[error(
        "{resource} changed {attempts} times while being updated (PreconditionFailed each time); someone \
         else is editing it: try again later"
    )]
    EtagRace {
        /// The resource.
        resource: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A request could not be built (a value out of range).
    #[error("{resource}: invalid request: {reason}")]
    Request {
        /// The resource.
        resource: String,
        /// What the SDK refused.
        reason: String,
    },
    /// A public key could not be encoded.
    #[error("public key: {0}")]
    Key(String),
    /// An answer lacked an ID or ETag.
    #[error(transparent)]
    IncompleteAnswer(#[from] IncompleteAnswer),
}

fn api(resource: impl Into<String>) -> impl FnOnce(ApiError) -> KeysError {
    let resource = resource.into();
    move |error| KeysError::Api { resource, error }
}

/// A key group as read: ID, name, keys and ETag.
#[derive(Debug, Clone, Serialize)]
pub struct KeyGroupState {
    /// The group's ID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its public key IDs.
    pub items: Vec<String>,
    /// Its comment.
    pub comment: Option<String>,
    /// The ETag for `If-Match`.
    #[serde(skip)]
    pub etag: String,
}

/// A public key of a group, for `keys list`.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// The key's ID (the `Key-Pair-Id` to sign with).
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was uploaded (RFC 3339).
    pub created: String,
    /// Its comment.
    pub comment: Option<String>,
    /// `sha256:` and the hex SHA-256 of its SubjectPublicKeyInfo.
    pub fingerprint: String,
    /// `RSA-2048`, `ECDSA P-256`, or why it could not be read.
    pub key_type: String,
    /// The SubjectPublicKeyInfo PEM (to verify with).
    pub pem: String,
}

/// The fingerprint cfsign shows for a public key: `sha256:` and the hex SHA-256
/// of its SubjectPublicKeyInfo DER.
///
/// ```
/// let key = cfsign::PrivateKey::generate(cfsign::KeyType::EcdsaP256)?.public_key()?;
/// let fp = cfsign_aws::keys::fingerprint(&key);
/// assert!(fp.starts_with("sha256:") && fp.len() == 7 + 64);
/// # Ok::<(), cfsign::KeyError>(())
/// ```
#[must_use]
pub fn fingerprint(key: &PublicKey) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.spki_der());
    let mut text = String::from("sha256:");
    for b in digest.as_ref() {
        let _ = write!(text, "{b:02x}");
    }
    text
}

/// A name CloudFront accepts (`A–Z a–z 0–9 _ -`, at most `max` characters).
pub(crate) fn resource_name(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(max)
        .collect()
}

/// Finds a key group by ID or name.
///
/// # Errors
///
/// When CloudFront cannot be read.
pub async fn find_key_group(
    clients: &Clients,
    plan: &Plan,
    name_or_id: &str,
) -> Result<Option<KeyGroupState>, KeysError> {
    let resource = format!("key group {name_or_id}");
    let mut marker: Option<String> = None;
    loop {
        plan.record_read(
            "cloudfront:ListKeyGroups",
            marker.iter().map(|m| ("Marker", m.clone())),
        );
        let out = clients
            .cloudfront
            .list_key_groups()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("cloudfront:ListKeyGroups", e))
            .map_err(api(&resource))?;
        let Some(list) = out.key_group_list() else {
            return Ok(None);
        };
        for summary in list.items() {
            let Some(group) = summary.key_group() else {
                continue;
            };
            let Some(config) = group.key_group_config() else {
                continue;
            };
            if group.id() == name_or_id || config.name() == name_or_id {
                return get_key_group(clients, plan, group.id()).await.map(Some);
            }
        }
        match list.next_marker() {
            Some(next) if !next.is_empty() && marker.as_deref() != Some(next) => {
                marker = Some(next.to_owned());
            }
            _ => return Ok(None),
        }
    }
}

/// Reads a key group with its ETag.
///
/// # Errors
///
/// When it cannot be read.
pub async fn get_key_group(
    clients: &Clients,
    plan: &Plan,
    id: &str,
) -> Result<KeyGroupState, KeysError> {
    const CALL: &str = "cloudfront:GetKeyGroup";
    let resource = format!("key group {id}");
    plan.record_read(CALL, [("Id", id)]);
    let out = clients
        .cloudfront
        .get_key_group()
        .id(id)
        .send()
        .await
        .map_err(|e| ApiError::from_sdk(CALL, e))
        .map_err(api(&resource))?;
    let config = out.key_group().and_then(|g| g.key_group_config());
    let Some(config) = config else {
        return Err(KeysError::IncompleteAnswer(IncompleteAnswer {
            resource,
            call: CALL,
            field: "KeyGroup.KeyGroupConfig",
        }));
    };
    Ok(KeyGroupState {
        id: id.to_owned(),
        name: required(Some(config.name()), &resource, CALL, "KeyGroupConfig.Name")?,
        items: config.items().to_vec(),
        comment: config.comment().map(str::to_owned),
        etag: required(out.e_tag(), &resource, CALL, "ETag")?,
    })
}

async fn require_group(
    clients: &Clients,
    plan: &Plan,
    name_or_id: &str,
) -> Result<KeyGroupState, KeysError> {
    find_key_group(clients, plan, name_or_id)
        .await?
        .ok_or_else(|| KeysError::KeyGroupNotFound(name_or_id.to_owned()))
}

/// The keys of a group, with their details.
///
/// # Errors
///
/// When the group is not found or CloudFront cannot be read.
pub async fn list(
    clients: &Clients,
    plan: &Plan,
    group: &str,
) -> Result<(KeyGroupState, Vec<KeyInfo>), KeysError> {
    let state = require_group(clients, plan, group).await?;
    let mut keys = Vec::with_capacity(state.items.len());
    for id in &state.items {
        keys.push(get_public_key_info(clients, plan, id).await?);
    }
    Ok((state, keys))
}

/// Reads one public key.
///
/// # Errors
///
/// When it cannot be read.
pub async fn get_public_key_info(
    clients: &Clients,
    plan: &Plan,
    id: &str,
) -> Result<KeyInfo, KeysError> {
    plan.record_read("cloudfront:GetPublicKey", [("Id", id)]);
    let out = clients
        .cloudfront
        .get_public_key()
        .id(id)
        .send()
        .await
        .map_err(|e| ApiError::from_sdk("cloudfront:GetPublicKey", e))
        .map_err(api(format!("public key {id}")))?;
    let key = out.public_key();
    let config = key.and_then(|k| k.public_key_config());
    let pem = config
        .map(|c| c.encoded_key().to_owned())
        .unwrap_or_default();
    let (fingerprint, key_type) = match PublicKey::from_pem(&pem) {
        Ok(k) => (fingerprint(&k), k.key_type().to_string()),
        Err(e) => (String::new(), format!("unreadable: {e}")),
    };
    Ok(KeyInfo {
        id: id.to_owned(),
        name: config.map(|c| c.name().to_owned()).unwrap_or_default(),
        created: key
            .map(|k| k.created_time().to_string())
            .unwrap_or_default(),
        comment: config.and_then(|c| c.comment().map(str::to_owned)),
        fingerprint,
        key_type,
        pem,
    })
}

/// Finds an uploaded public key with the same SubjectPublicKeyInfo, or uploads
/// it (`cloudfront:CreatePublicKey`). Returns its ID and what was done.
///
/// # Errors
///
/// When CloudFront cannot be read or refuses the key.
pub async fn ensure_public_key(
    clients: &Clients,
    plan: &Plan,
    key: &PublicKey,
    name: Option<&str>,
    comment: Option<&str>,
) -> Result<(String, Action), KeysError> {
    let fp = fingerprint(key);
    let hex = fp.trim_start_matches("sha256:");
    let mut marker: Option<String> = None;
    loop {
        plan.record_read(
            "cloudfront:ListPublicKeys",
            marker.iter().map(|m| ("Marker", m.clone())),
        );
        let out = clients
            .cloudfront
            .list_public_keys()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("cloudfront:ListPublicKeys", e))
            .map_err(api("public keys"))?;
        let Some(list) = out.public_key_list() else {
            break;
        };
        for summary in list.items() {
            let same = PublicKey::from_pem(summary.encoded_key())
                .is_ok_and(|k| k.spki_der() == key.spki_der());
            if same {
                return Ok((summary.id().to_owned(), Action::Unchanged));
            }
        }
        match list.next_marker() {
            Some(next) if !next.is_empty() && marker.as_deref() != Some(next) => {
                marker = Some(next.to_owned());
            }
            _ => break,
        }
    }
    let name = resource_name(
        name.map_or_else(|| format!("cfsign-{}", &hex[..16]), str::to_owned)
            .as_str(),
        128,
    );
    let pem = key.to_pem().map_err(|e| KeysError::Key(e.to_string()))?;
    let caller_reference = format!("cfsign-{}", &hex[..32]);
    plan.record_change(
        "cloudfront:CreatePublicKey",
        [
            ("Name", name.clone()),
            ("CallerReference", caller_reference.clone()),
        ],
    );
    if !plan.applies() {
        return Ok((NEW_ID.to_owned(), Action::Created));
    }
    let config = PublicKeyConfig::builder()
        .caller_reference(caller_reference)
        .name(&name)
        .encoded_key(pem)
        .set_comment(Some(
            comment.map_or_else(|| format!("uploaded by cfsign ({fp})"), str::to_owned),
        ))
        .build()
        .map_err(|e| KeysError::Request {
            resource: format!("public key {name}"),
            reason: e.to_string(),
        })?;
    let out = clients
        .cloudfront
        .create_public_key()
        .public_key_config(config)
        .send()
        .await
        .map_err(|e| ApiError::from_sdk("cloudfront:CreatePublicKey", e))
        .map_err(api(format!("public key {name}")))?;
    let id = required(
        out.public_key().map(|k| k.id()),
        &format!("public key {name}"),
        "cloudfront:CreatePublicKey",
        "PublicKey.Id",
    )?;
    Ok((id, Action::Created))
}

/// Changes a key group's keys: `change` gets the current keys and returns the new
/// list, or `None` when nothing needs to change. Sends `If-Match`; on
/// `PreconditionFailed` reads the group again and re-applies `change`.
///
/// # Errors
///
/// When the group cannot be read or updated, or changed [`MAX_ETAG_ATTEMPTS`] times.
pub async fn update_key_group_items<F>(
    clients: &Clients,
    plan: &Plan,
    group_id: &str,
    mut change: F,
) -> Result<(KeyGroupState, Action), KeysError>
where
    F: FnMut(&KeyGroupState) -> Result<Option<Vec<String>>, KeysError>,
{
    let resource = format!("key group {group_id}");
    for _ in 0..MAX_ETAG_ATTEMPTS {
        let state = get_key_group(clients, plan, group_id).await?;
        let Some(items) = change(&state)? else {
            return Ok((state, Action::Unchanged));
        };
        plan.record_change(
            "cloudfront:UpdateKeyGroup",
            [
                ("Id", state.id.clone()),
                ("IfMatch", state.etag.clone()),
                ("Items", items.join(",")),
            ],
        );
        if !plan.applies() {
            return Ok((KeyGroupState { items, ..state }, Action::Updated));
        }
        let config = KeyGroupConfig::builder()
            .name(&state.name)
            .set_items(Some(items.clone()))
            .set_comment(state.comment.clone())
            .build()
            .map_err(|e| KeysError::Request {
                resource: resource.clone(),
                reason: e.to_string(),
            })?;
        let result = clients
            .cloudfront
            .update_key_group()
            .id(group_id)
            .if_match(&state.etag)
            .key_group_config(config)
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("cloudfront:UpdateKeyGroup", e));
        match result {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_owned();
                return Ok((
                    KeyGroupState {
                        items,
                        etag,
                        ..state
                    },
                    Action::Updated,
                ));
            }
            Err(e) if e.is("PreconditionFailed") => continue,
            Err(error) => return Err(KeysError::Api { resource, error }),
        }
    }
    Err(KeysError::EtagRace {
        resource,
        attempts: MAX_ETAG_ATTEMPTS,
    })
}

/// What `add` did.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    /// The key group's ID.
    pub key_group_id: String,
    /// The key group's name.
    pub key_group: String,
    /// The new key's ID: the `Key-Pair-Id` to sign with.
    pub key_id: String,
    /// Whether the public key was uploaded or already there.
    pub public_key: Action,
    /// Whether the group was changed or already had the key.
    pub membership: Action,
    /// The other keys of the group (to retire after the overlap).
    pub previous_key_ids: Vec<String>,
    /// The SHA-256 fingerprint of the new key.
    pub fingerprint: String,
}

/// Uploads `key` (unless already uploaded) and adds it to the group, keeping
/// the group's other keys: the first step of a rotation. Sign with
/// [`Added::key_id`] from now on; [`retire`] each of [`Added::previous_key_ids`]
/// once URLs signed with them have expired.
///
/// # Errors
///
/// When the group does not exist, or a call fails.
pub async fn add(
    clients: &Clients,
    plan: &Plan,
    group: &str,
    key: &PublicKey,
    name: Option<&str>,
    comment: Option<&str>,
) -> Result<Added, KeysError> {
    let state = require_group(clients, plan, group).await?;
    let (key_id, public_key) = ensure_public_key(clients, plan, key, name, comment).await?;
    let wanted = key_id.clone();
    let (after, membership) = update_key_group_items(clients, plan, &state.id, |s| {
        if s.items.contains(&wanted) {
            Ok(None)
        } else {
            let mut items = s.items.clone();
            items.push(wanted.clone());
            Ok(Some(items))
        }
    })
    .await?;
    Ok(Added {
        key_group_id: after.id.clone(),
        key_group: after.name.clone(),
        previous_key_ids: after
            .items
            .iter()
            .filter(|id| **id != key_id)
            .cloned()
            .collect(),
        key_id,
        public_key,
        membership,
        fingerprint: fingerprint(key),
    })
}

/// What `retire` did.
#[derive(Debug, Clone, Serialize)]
pub struct Retired {
    /// The key group's ID.
    pub key_group_id: String,
    /// The retired key.
    pub key_id: String,
    /// `updated` when removed from the group, `unchanged` when it was not in it.
    pub membership: Action,
    /// `deleted`, or `unchanged` when kept (asked to, or still used by another group).
    pub public_key: Action,
    /// Why the public key was kept, if it was.
    pub kept_because: Option<String>,
    /// The keys left in the group.
    pub remaining_key_ids: Vec<String>,
}

/// The distributions whose behaviors trust a key group.
///
/// # Errors
///
/// When CloudFront cannot be read.
pub async fn distributions_using(
    clients: &Clients,
    plan: &Plan,
    group_id: &str,
) -> Result<Vec<String>, KeysError> {
    let mut ids = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        plan.record_read(
            "cloudfront:ListDistributionsByKeyGroup",
            [("KeyGroupId", group_id)],
        );
        let out = clients
            .cloudfront
            .list_distributions_by_key_group()
            .key_group_id(group_id)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("cloudfront:ListDistributionsByKeyGroup", e))
            .map_err(api(format!("key group {group_id}")))?;
        let Some(list) = out.distribution_id_list() else {
            return Ok(ids);
        };
        ids.extend(list.items().iter().cloned());
        match list.next_marker() {
            Some(next) if list.is_truncated() && marker.as_deref() != Some(next) => {
                marker = Some(next.to_owned());
            }
            _ => return Ok(ids),
        }
    }
}

/// Removes `key_id` from the group and (with `delete_public_key`) deletes the
/// public key. Refuses to remove the last key of a group.
///
/// # Errors
///
/// [`KeysError::LastKeyInUse`] / [`KeysError::LastKey`] for the last key,
/// [`KeysError::KeyNotInGroup`], or a failed call.
pub async fn retire(
    clients: &Clients,
    plan: &Plan,
    group: &str,
    key_id: &str,
    delete_public_key: bool,
) -> Result<Retired, KeysError> {
    let state = require_group(clients, plan, group).await?;
    if !state.items.iter().any(|k| k == key_id) {
        return Err(KeysError::KeyNotInGroup {
            key_id: key_id.to_owned(),
            group: group.to_owned(),
        });
    }
    if state.items.len() == 1 {
        let distributions = distributions_using(clients, plan, &state.id).await?;
        return Err(if distributions.is_empty() {
            KeysError::LastKey {
                key_id: key_id.to_owned(),
                group: group.to_owned(),
            }
        } else {
            KeysError::LastKeyInUse {
                key_id: key_id.to_owned(),
                group: group.to_owned(),
                distributions,
            }
        });
    }
    let group_name = group.to_owned();
    let (after, membership) = update_key_group_items(clients, plan, &state.id, |s| {
        if !s.items.iter().any(|k| k == key_id) {
            return Ok(None);
        }
        let items: Vec<String> = s.items.iter().filter(|k| *k != key_id).cloned().collect();
        if items.is_empty() {
            // The group changed since the first read and this became its last key.
            return Err(KeysError::LastKey {
                key_id: key_id.to_owned(),
                group: group_name.clone(),
            });
        }
        Ok(Some(items))
    })
    .await?;
    let (public_key, kept_because) = if delete_public_key {
        delete_key(clients, plan, key_id).await?
    } else {
        (Action::Unchanged, Some("--keep-public-key".to_owned()))
    };
    Ok(Retired {
        key_group_id: after.id,
        key_id: key_id.to_owned(),
        membership,
        public_key,
        kept_because,
        remaining_key_ids: after.items,
    })
}

/// Deletes a public key with its ETag; a key still in another group
/// (`PublicKeyInUse`) is kept and the reason returned.
async fn delete_key(
    clients: &Clients,
    plan: &Plan,
    key_id: &str,
) -> Result<(Action, Option<String>), KeysError> {
    let resource = format!("public key {key_id}");
    for _ in 0..MAX_ETAG_ATTEMPTS {
        plan.record_read("cloudfront:GetPublicKey", [("Id", key_id)]);
        let out = clients
            .cloudfront
            .get_public_key()
            .id(key_id)
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("cloudfront:GetPublicKey", e))
            .map_err(api(&resource))?;
        let etag = required(out.e_tag(), &resource, "cloudfront:GetPublicKey", "ETag")?;
        plan.record_change(
            "cloudfront:DeletePublicKey",
            [("Id", key_id.to_owned()), ("IfMatch", etag.clone())],
        );
        if !plan.applies() {
            return Ok((Action::Deleted, None));
        }
        let result = clients
            .cloudfront
            .delete_public_key()
            .id(key_id)
            .if_match(etag)
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("cloudfront:DeletePublicKey", e));
        match result {
            Ok(_) => return Ok((Action::Deleted, None)),
            Err(e) if e.is("PreconditionFailed") => continue,
            Err(e) if e.is("PublicKeyInUse") => {
                return Ok((
                    Action::Unchanged,
                    Some(format!(
                        "still used by another key group ({}); remove it there, then delete it",
                        e.message
                    )),
                ));
            }
            Err(error) => return Err(KeysError::Api { resource, error }),
        }
    }
    Err(KeysError::EtagRace {
        resource,
        attempts: MAX_ETAG_ATTEMPTS,
    })
}
