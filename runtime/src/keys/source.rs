//! Where a verifier's keys come from, behind one interface: the verifier asks for the key of a
//! token's `kid` and `alg`, and never learns whether the keys were configured or fetched.

use std::sync::Arc;
#[cfg(feature = "jwks")]
use std::time::Duration;

use super::algorithm::Algorithm;
use super::key::Key;
#[cfg(feature = "jwks")]
use super::remote::{IssuerMismatch, KeyLocation, KeyRefresh, RemoteKeys};
use super::set::KeySet;
use crate::observability::KeySourceReadiness;
use crate::respond::InvalidTokenReason;

/// The keys of one verifier.
#[derive(Debug)]
pub(crate) enum KeySource {
    /// Keys configured in code.
    Fixed(Arc<KeySet>),
    /// Keys fetched from an identity provider and kept fresh.
    #[cfg(feature = "jwks")]
    Remote(RemoteKeys),
}

/// Why no key can verify a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyRefusal {
    /// The token names no usable key: 401 `invalid_token`.
    Invalid(InvalidTokenReason),
    /// The key may exist, but the identity provider cannot be asked now: 503.
    #[cfg(feature = "jwks")]
    Unavailable {
        /// When the client should try again.
        retry_after: Duration,
    },
}

impl From<InvalidTokenReason> for KeyRefusal {
    fn from(reason: InvalidTokenReason) -> Self {
        Self::Invalid(reason)
    }
}

/// A key selected for one token, kept alive with its set while the signature is checked (a
/// refresh may replace the set meanwhile).
#[derive(Debug)]
pub(crate) struct SelectedKey {
    keys: Arc<KeySet>,
    index: usize,
}

impl SelectedKey {
    fn select(keys: Arc<KeySet>, kid: Option<&str>, alg: Algorithm) -> Result<Self, KeyRefusal> {
        let index = keys.position(kid, alg)?;
        Ok(Self { keys, index })
    }

    pub(crate) fn key(&self) -> &Key {
        // `index` was found in this very set, which is immutable behind its `Arc`.
        self.keys.at(self.index)
    }
}

impl KeySource {
    /// Keys fetched from `location`, restricted to `algorithms`.
    #[cfg(feature = "jwks")]
    pub(crate) fn remote(
        location: KeyLocation,
        refresh: KeyRefresh,
        algorithms: Vec<Algorithm>,
    ) -> Result<Self, crate::crypto::HttpClientError> {
        RemoteKeys::new(location, refresh, algorithms).map(Self::Remote)
    }

    /// Which keys are current: changes whenever they change, so that a cache of verified tokens
    /// can tell entries of older keys. Fetched keys start their background refresh here.
    pub(crate) fn generation(&self) -> u64 {
        match self {
            Self::Fixed(_) => 0,
            #[cfg(feature = "jwks")]
            Self::Remote(remote) => remote.current().generation,
        }
    }

    /// For fetched keys, the outcome of the first fetch (awaited, within the fetch timeout):
    /// the issuer a discovery document named instead of the configured one, if it did. An
    /// unreachable provider is no mismatch: the keys are fetched once it answers.
    #[cfg(feature = "jwks")]
    pub(crate) async fn issuer_mismatch(&self) -> Option<IssuerMismatch> {
        match self {
            Self::Fixed(_) => None,
            Self::Remote(remote) => remote.first_attempt().await.mismatch().cloned(),
        }
    }

    /// Whether the source holds usable keys, and since when its refresh fails; never waits.
    pub(crate) fn readiness(&self) -> KeySourceReadiness {
        match self {
            Self::Fixed(keys) => KeySourceReadiness::new("configured".to_owned(), keys.len(), None),
            #[cfg(feature = "jwks")]
            Self::Remote(remote) => remote.readiness(),
        }
    }

    /// The key for a token with header `kid` and `alg`, among the keys known now: never waits.
    pub(crate) fn select_now(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<SelectedKey, InvalidTokenReason> {
        let keys = match self {
            Self::Fixed(keys) => Arc::clone(keys),
            #[cfg(feature = "jwks")]
            Self::Remote(remote) => Arc::clone(&remote.current().keys),
        };
        SelectedKey::select(keys, kid, alg).map_err(|refusal| match refusal {
            KeyRefusal::Invalid(reason) => reason,
            #[cfg(feature = "jwks")]
            KeyRefusal::Unavailable { .. } => InvalidTokenReason::UnknownKey,
        })
    }

    /// The key for a token with header `kid` and `alg`. Fetched keys are fetched first when none
    /// are loaded yet, and again (rate limited) when none has the token's `kid`.
    pub(crate) async fn select(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<SelectedKey, KeyRefusal> {
        match self {
            Self::Fixed(keys) => SelectedKey::select(Arc::clone(keys), kid, alg),
            // Boxed: the fetch it may wait for would otherwise size every guard's future, which
            // axum boxes and moves on every request, with keys in code too.
            #[cfg(feature = "jwks")]
            Self::Remote(remote) => Box::pin(select_remote(remote, kid, alg)).await,
        }
    }
}

#[cfg(feature = "jwks")]
async fn select_remote(
    remote: &RemoteKeys,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<SelectedKey, KeyRefusal> {
    let unavailable = |snapshot: &super::remote::Snapshot| KeyRefusal::Unavailable {
        retry_after: remote.retry_after(snapshot),
    };
    let mut snapshot = remote.current();
    if !snapshot.loaded() {
        snapshot = remote.first_keys_for(&snapshot).await;
        if !snapshot.loaded() {
            return Err(unavailable(&snapshot));
        }
    }
    match SelectedKey::select(Arc::clone(&snapshot.keys), kid, alg) {
        Err(KeyRefusal::Invalid(InvalidTokenReason::UnknownKey)) => {
            let fresh = remote.refresh_for(&snapshot, kid, alg).await;
            match SelectedKey::select(Arc::clone(&fresh.keys), kid, alg) {
                // The key may exist: the provider could not be asked.
                Err(KeyRefusal::Invalid(InvalidTokenReason::UnknownKey)) if !fresh.healthy => {
                    Err(unavailable(&fresh))
                }
                outcome => outcome,
            }
        }
        outcome => outcome,
    }
}
