//! A key pair for a test: a fresh ECDSA P-256 key under a key-pair ID, the
//! [`Signer`] that signs with it and the verifier an edge trusts it with, and
//! signed URLs and cookies the way most tests want them.

use std::path::Path;
use std::time::Duration;

use cfsign::verify::Verifier;
use cfsign::{KeyPairId, KeyType, Policy, PrivateKey, PublicKey, Resource, SignableUrl, Signer};
use cfsign_edge::access::SharedVerifier;

/// A private key, its key-pair ID and a [`Signer`] for them.
///
/// ```
/// use cfsign_testkit::signer::TestSigner;
///
/// let keys = TestSigner::new("KTEST");
/// let url = keys.sign_url("https://d111111abcdef8.cloudfront.net/a.jpg", 60);
/// assert!(url.contains("&Key-Pair-Id=KTEST"));
/// ```
#[derive(Debug, Clone)]
pub struct TestSigner {
    id: KeyPairId,
    key: PrivateKey,
    signer: Signer,
}

impl TestSigner {
    /// A new ECDSA P-256 key (fast to make) under the key-pair ID `id`.
    ///
    /// ```
    /// let keys = cfsign_testkit::signer::TestSigner::new("KA");
    /// assert_eq!(keys.id().as_str(), "KA");
    /// ```
    ///
    /// # Panics
    ///
    /// If `id` is not a valid key-pair ID.
    #[must_use]
    pub fn new(id: &str) -> Self {
        let key = PrivateKey::generate(KeyType::EcdsaP256).expect("an ECDSA P-256 key");
        Self::with_key(id, key)
    }

    /// `key` under the key-pair ID `id` (e.g. a key of [`crate::data`], or
    /// another key under the same ID: an impostor).
    ///
    /// ```
    /// use cfsign_testkit::{data, signer::TestSigner};
    ///
    /// let keys = TestSigner::with_key("K2JCJMDEHXQW5F", data::private_key("ec-p256.pkcs8.pem"));
    /// assert_eq!(keys.signer().key_pair_id().as_str(), "K2JCJMDEHXQW5F");
    /// ```
    ///
    /// # Panics
    ///
    /// If `id` is not a valid key-pair ID.
    #[must_use]
    pub fn with_key(id: &str, key: PrivateKey) -> Self {
        let id = KeyPairId::new(id).unwrap_or_else(|e| panic!("key-pair ID {id:?}: {e}"));
        let signer = Signer::new(id.clone(), key.clone());
        Self { id, key, signer }
    }

    /// The key-pair ID.
    ///
    /// ```
    /// assert_eq!(cfsign_testkit::signer::TestSigner::new("KB").id().as_str(), "KB");
    /// ```
    #[must_use]
    pub fn id(&self) -> &KeyPairId {
        &self.id
    }

    /// The private key.
    ///
    /// ```
    /// let keys = cfsign_testkit::signer::TestSigner::new("KB");
    /// let pem = |k: cfsign::PublicKey| k.to_pem().unwrap();
    /// assert_eq!(pem(keys.key().public_key().unwrap()), pem(keys.public_key()));
    /// ```
    #[must_use]
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The public key.
    ///
    /// ```
    /// let keys = cfsign_testkit::signer::TestSigner::new("KB");
    /// assert!(keys.public_key().to_pem().unwrap().contains("PUBLIC KEY"));
    /// ```
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        self.key
            .public_key()
            .expect("the public half of a private key")
    }

    /// The signer, for policies a test builds itself.
    ///
    /// ```
    /// use cfsign::{Policy, Resource};
    ///
    /// let keys = cfsign_testkit::signer::TestSigner::new("KB");
    /// let policy = Policy::builder(Resource::pattern("https://a.example/media/*").unwrap())
    ///     .expires_in(std::time::Duration::from_secs(60))
    ///     .build()
    ///     .unwrap();
    /// assert!(keys.signer().sign_cookies(&policy).is_ok());
    /// ```
    #[must_use]
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// A verifier that trusts this key (and no other), to add to or wrap.
    ///
    /// ```
    /// let keys = cfsign_testkit::signer::TestSigner::new("KB");
    /// let verifier = keys.verifier().with_signature_cache(100);
    /// # let _ = verifier;
    /// ```
    #[must_use]
    pub fn verifier(&self) -> Verifier {
        Verifier::new().with_key(self.id.clone(), self.public_key())
    }

    /// [`TestSigner::verifier`] as the edge's access check holds it.
    ///
    /// ```
    /// use cfsign_edge::access::{AccessConfig, Scheme};
    ///
    /// let keys = cfsign_testkit::signer::TestSigner::new("KB");
    /// let access = AccessConfig::new(keys.shared_verifier(), Scheme::Http);
    /// # let _ = access;
    /// ```
    #[must_use]
    pub fn shared_verifier(&self) -> SharedVerifier {
        SharedVerifier::new(self.verifier())
    }

    /// `url` signed with a canned policy that expires `expires_in` seconds from
    /// now; a negative `expires_in` gives a URL that has already expired.
    ///
    /// ```
    /// let keys = cfsign_testkit::signer::TestSigner::new("KB");
    /// let expired = keys.sign_url("http://127.0.0.1:8080/a.txt", -1);
    /// assert!(expired.starts_with("http://127.0.0.1:8080/a.txt?Expires="));
    /// ```
    ///
    /// # Panics
    ///
    /// If `url` cannot be signed as it is (see [`SignableUrl::parse`]).
    #[must_use]
    pub fn sign_url(&self, url: &str, expires_in: i64) -> String {
        let signable = SignableUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        let now = jiff::Timestamp::now();
        let policy = Policy::builder(Resource::Url(signable.clone()))
            .expires_at(now + jiff::SignedDuration::from_secs(expires_in))
            .allow_past_expiry(true)
            .build_at(now)
            .unwrap_or_else(|e| panic!("a canned policy for {url}: {e}"));
        self.signer
            .sign_url(&signable, &policy)
            .unwrap_or_else(|e| panic!("signing {url}: {e}"))
            .into_string()
    }

    /// A `Cookie` header with the signed cookies of a custom policy for
    /// `pattern` (a URL, `*` allowed), valid for `valid_for`.
    ///
    /// ```
    /// let keys = cfsign_testkit::signer::TestSigner::new("KB");
    /// let header = keys.cookie_header("http://127.0.0.1:8080/media/*", std::time::Duration::from_secs(60));
    /// assert!(header.contains("CloudFront-Policy=") && header.contains("CloudFront-Key-Pair-Id=KB"));
    /// ```
    ///
    /// # Panics
    ///
    /// If `pattern` is not a resource a policy can name.
    #[must_use]
    pub fn cookie_header(&self, pattern: &str, valid_for: Duration) -> String {
        let resource = Resource::pattern(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        let policy = Policy::builder(resource)
            .expires_in(valid_for)
            .build()
            .unwrap_or_else(|e| panic!("a policy for {pattern}: {e}"));
        self.signer
            .sign_cookies(&policy)
            .unwrap_or_else(|e| panic!("cookies for {pattern}: {e}"))
            .cookie_header()
    }

    /// Writes the public key as PEM (SPKI) to `path`, for an edge configuration.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let keys = cfsign_testkit::signer::TestSigner::new("KB");
    /// keys.write_public_key(&dir.path().join("public.pem"));
    /// assert!(std::fs::read_to_string(dir.path().join("public.pem")).unwrap().contains("PUBLIC KEY"));
    /// ```
    ///
    /// # Panics
    ///
    /// If the file cannot be written.
    pub fn write_public_key(&self, path: &Path) {
        let pem = self.public_key().to_pem().expect("the public key as PEM");
        std::fs::write(path, pem).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[cfg(test)]
mod tests {
    use cfsign::verify::ViewerRequest;

    use super::TestSigner;

    #[test]
    fn what_it_signs_its_verifier_allows_and_another_key_does_not() {
        let keys = TestSigner::new("KT");
        let verifier = keys.verifier();
        let allowed = |url: &str| {
            verifier
                .verify(&ViewerRequest::new(url), jiff::Timestamp::now())
                .is_allowed()
        };
        assert!(allowed(&keys.sign_url("https://a.example/x.txt", 60)));
        let impostor = TestSigner::new("KT");
        assert!(!allowed(&impostor.sign_url("https://a.example/x.txt", 60)));
        assert!(!allowed(&keys.sign_url("https://a.example/x.txt", -5)));
        assert!(!allowed("https://a.example/x.txt"));
    }
}
