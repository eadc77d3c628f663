//! Several issuers, each with keys of its own (RFC 8725 §3.8): a token is verified only with
//! the keys of the issuer its `iss` names, so that issuer B's key cannot sign a token that says
//! it comes from A.
//!
//! [`TrustedIssuer`] is how a configuration names one; [`KeysByIssuer`] is what the verifier
//! keeps: the keys of each such issuer, and the keys shared by the issuers configured with
//! [`VerifierBuilder::issuer`](super::VerifierBuilder::issuer) (or any issuer).

use crate::keys::{Key, KeySet, KeySource};

/// An issuer whose tokens are verified with its own keys only: keys in code, a JWKS URL, or
/// its discovery document. Add it with
/// [`VerifierBuilder::trusted_issuer`](crate::config::VerifierBuilder::trusted_issuer).
///
/// ```
/// use portcullis::{Key, Verifier, config::TrustedIssuer};
///
/// let verifier = Verifier::builder()
///     .trusted_issuer(
///         TrustedIssuer::new("https://a.example")
///             .key(Key::hmac(b"issuer A's secret of at least 32 bytes")?),
///     )
///     .trusted_issuer(TrustedIssuer::new("https://b.example").discovery())
///     .audience("documents-api")
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// With more than one issuer, a caller's identity for ownership is the pair (issuer, subject):
/// see [`Principal::id`](crate::Principal::id).
#[derive(Debug, Clone)]
#[must_use]
pub struct TrustedIssuer {
    pub(super) issuer: String,
    pub(super) keys: Vec<Key>,
    pub(super) jwks_url: Option<String>,
    pub(super) discovery: bool,
}

impl TrustedIssuer {
    /// The issuer, exactly as its tokens' `iss` spells it; give it one key source.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self { issuer: issuer.into(), keys: Vec::new(), jwks_url: None, discovery: false }
    }

    /// Adds a verification key of this issuer.
    pub fn key(mut self, key: Key) -> Self {
        self.keys.push(key);
        self
    }

    /// Adds every key of a set (for example [`KeySet::from_jwks`]).
    pub fn keys(mut self, keys: KeySet) -> Self {
        self.keys.extend(keys);
        self
    }

    /// Fetches this issuer's keys from a JWKS URL, kept fresh like
    /// [`VerifierBuilder::jwks_url`](crate::config::VerifierBuilder::jwks_url)'s.
    #[cfg(feature = "jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Finds this issuer's keys through its discovery document, like
    /// [`VerifierBuilder::oidc_issuer`](crate::config::VerifierBuilder::oidc_issuer).
    #[cfg(feature = "jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
    pub fn discovery(mut self) -> Self {
        self.discovery = true;
        self
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// The keys of a verifier, by issuer.
#[derive(Debug)]
pub(crate) struct KeysByIssuer {
    /// The keys of the issuers configured with `.issuer(..)`, or of any issuer.
    pub(crate) shared: Option<KeySource>,
    /// Issuers with keys of their own.
    pub(crate) own: Vec<(String, KeySource)>,
}

impl KeysByIssuer {
    /// The keys that may verify a token whose `iss` is `iss`: its own issuer's if it names one
    /// with keys of its own, the shared keys otherwise.
    pub(crate) fn for_issuer(&self, iss: Option<&str>) -> Option<&KeySource> {
        if let Some(iss) = iss
            && let Some((_, keys)) = self.own.iter().find(|(issuer, _)| issuer == iss)
        {
            return Some(keys);
        }
        self.shared.as_ref()
    }

    /// Every key source.
    pub(crate) fn sources(&self) -> impl Iterator<Item = &KeySource> {
        self.shared.iter().chain(self.own.iter().map(|(_, keys)| keys))
    }

    /// Changes whenever any source's keys change: the sum of their generations, each of which
    /// only grows. One source (the common case) costs what it always did.
    pub(crate) fn generation(&self) -> u64 {
        match (&self.shared, self.own.as_slice()) {
            (Some(keys), []) | (None, [(_, keys)]) => keys.generation(),
            _ => self.sources().fold(0, |sum, keys| sum.wrapping_add(keys.generation())),
        }
    }
}
