//! Many URLs under one set of options, in order, on several threads.
//!
//! [`UrlBatch`] signs each URL as [`Signer::sign_url`] would with the policy
//! [`SigningOptions::policy_for_url`] gives, except that a resource given in the
//! options (a wildcard) is signed once and stamped on every URL it covers.
//! [`parallel_map`] spreads work over scoped threads and keeps the input order.
//!
//! ```
//! use std::num::NonZeroUsize;
//! use std::time::Duration;
//! use cfsign::batch::{UrlBatch, parallel_map};
//! use cfsign::options::{PolicyInputs, SigningOptions};
//! use cfsign::{KeyPairId, KeyType, PrivateKey, SignableUrl, Signer};
//!
//! let signer = Signer::new(KeyPairId::new("K2JCJMDEHXQW5F")?, PrivateKey::generate(KeyType::EcdsaP256)?);
//! let options = SigningOptions::new(jiff::Timestamp::now()).with(PolicyInputs {
//!     expires_in: Some(Duration::from_secs(600)),
//!     ..PolicyInputs::default()
//! })?;
//! let batch = UrlBatch::new(signer, options)?;
//! let urls = ["https://d111111abcdef8.cloudfront.net/1.ts", "https://d111111abcdef8.cloudfront.net/2.ts"];
//! let signed = parallel_map(&urls, NonZeroUsize::new(2).unwrap(), |u| {
//!     batch.sign(&SignableUrl::parse(u)?)
//! });
//! assert!(signed[1].as_ref().unwrap().as_str().starts_with(urls[1]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::num::NonZeroUsize;

use crate::Error;
use crate::options::SigningOptions;
use crate::signer::{SignedPolicy, SignedUrl, Signer};
use crate::url::SignableUrl;

/// Applies `f` to every item on up to `threads` threads (contiguous shares, one
/// per thread) and returns the results in input order. One thread, or one item,
/// runs on the calling thread.
pub fn parallel_map<T, R, F>(items: &[T], threads: NonZeroUsize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = threads.get().min(items.len());
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let share = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(share)
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(results) => results,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// Signs URLs with one signer and one set of options; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct UrlBatch {
    signer: Signer,
    options: SigningOptions,
    stamp: Option<SignedPolicy>,
}

impl UrlBatch {
    /// Prepares the batch; with a resource in `options`, its policy is built and
    /// signed now (so a bad expiry fails here, before any URL).
    pub fn new(signer: Signer, options: SigningOptions) -> Result<Self, Error> {
        let stamp = match options.resource() {
            Some(resource) => {
                let policy = options.policy_for_resource(resource.clone())?;
                Some(signer.sign_policy(&policy)?)
            }
            None => None,
        };
        Ok(Self {
            signer,
            options,
            stamp,
        })
    }

    /// Signs one URL.
    pub fn sign(&self, url: &SignableUrl) -> Result<SignedUrl, Error> {
        match &self.stamp {
            Some(stamp) => Ok(stamp.apply_to(url)?),
            None => {
                let policy = self.options.policy_for_url(url)?;
                Ok(self.signer.sign_url(url, &policy)?)
            }
        }
    }

    /// The signer.
    #[must_use]
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The options.
    #[must_use]
    pub fn options(&self) -> &SigningOptions {
        &self.options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_kept_for_every_thread_count() {
        let items: Vec<usize> = (0..103).collect();
        for threads in [1, 2, 3, 8, 200] {
            let out = parallel_map(&items, NonZeroUsize::new(threads).unwrap(), |i| i * 2);
            assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
        let empty: Vec<u8> = Vec::new();
        assert!(parallel_map(&empty, NonZeroUsize::new(4).unwrap(), |b| *b).is_empty());
    }

    #[test]
    fn work_runs_on_several_threads() {
        let items: Vec<u8> = vec![0; 4];
        let ids = parallel_map(&items, NonZeroUsize::new(2).unwrap(), |_| {
            std::thread::current().id()
        });
        assert_ne!(ids[0], ids[3]);
    }
}
