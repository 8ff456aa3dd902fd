//! The AWS side of cfsign: provision private CloudFront content, rotate keys,
//! sign with AWS KMS, and diagnose a live distribution.
//!
//! - [`client`]: SDK clients from the standard credential chain (`profile`,
//!   `region`, `endpoint_url` for emulators);
//! - [`plan`]: the record of API calls (what `--dry-run` prints);
//! - [`setup`]: bucket, origin access control, public key, key group,
//!   distribution and bucket policy, idempotently;
//! - [`keys`]: list, add and retire keys of a key group (a rotation is add, then retire);
//! - [`doctor`]: what breaks signed URLs on a distribution, with a fix for each;
//! - [`kms`]: [`kms::KmsSigningKey`], a [`cfsign::SigningKey`] whose private key
//!   stays in KMS.
//!
//! Every operation takes a [`client::Clients`] and a [`plan::Plan`]; with
//! [`plan::Plan::dry_run`] only reads are sent and the changes are recorded.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cfsign_aws::client::AwsSettings;
//! use cfsign_aws::plan::Plan;
//!
//! let clients = AwsSettings::default().profile("media-admin").load().await?;
//! let plan = Plan::dry_run();
//! let (group, keys) = cfsign_aws::keys::list(&clients, &plan, "media").await?;
//! println!("{}: {} keys", group.name, keys.len());
//! # Ok(()) }
//! ```

pub mod client;
pub mod doctor;
pub mod keys;
pub mod kms;
pub mod plan;
pub mod setup;
