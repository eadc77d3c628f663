//! [`Dpop`]: the DPoP settings (RFC 9449) as one value that checks itself.

use std::sync::Arc;
use std::time::Duration;

use super::error::DpopError;
use super::settings::MAX_LEEWAY;
use crate::dpop::{
    DEFAULT_ALGORITHMS, DEFAULT_IAT_WINDOW, DpopMode, DpopNonces, DpopSettings, MemoryReplayStore,
    ReplayStore, normalize_uri,
};
use crate::keys::Algorithm;

/// Whether DPoP-bound tokens (RFC 9449) are accepted with their proofs, and how proofs are
/// checked; given to [`VerifierBuilder::dpop`](super::VerifierBuilder::dpop).
///
/// [`Dpop::allowed`] accepts bearer tokens and DPoP-bound ones, [`Dpop::required`] only the
/// latter (`PORTCULLIS_DPOP`). A proof's `htu` names the API's public URL, its
/// [`origin`](Self::origin), which defaults to the resource identifier's
/// ([`ResourceMetadata::resource`](super::ResourceMetadata::resource), `PORTCULLIS_RESOURCE`):
/// one of the two is required. Checked by [`build`](super::VerifierBuilder::build), each
/// problem a [`DpopError`].
///
/// ```
/// # #[derive(Debug)] struct Shared;
/// # impl portcullis::dpop::ReplayStore for Shared {
/// #     fn remember(&self, _: [u8; 32], _: std::time::Duration)
/// #         -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, portcullis::dpop::ReplayStoreError>> + Send + '_>>
/// #     { Box::pin(async { Ok(true) }) }
/// # }
/// use portcullis::config::Dpop;
/// use portcullis::{Key, Verifier};
///
/// let verifier = Verifier::builder()
///     .issuer("https://issuer.example")
///     .audience("documents-api")
///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
///     .dpop(Dpop::allowed().origin("https://api.example.com").replay_store(Shared))
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Dpop {
    pub(super) mode: DpopMode,
    store: Option<Arc<dyn ReplayStore>>,
    origin: Option<String>,
    algorithms: Vec<Algorithm>,
    window: Duration,
    pub(super) nonces: Option<DpopNonces>,
}

impl Default for Dpop {
    /// DPoP off.
    fn default() -> Self {
        Self::new(DpopMode::Off)
    }
}

impl Dpop {
    /// DPoP as `mode` says, with the default settings: a replay store in this process's memory,
    /// the default algorithms and `iat` window, no nonces.
    pub fn new(mode: DpopMode) -> Self {
        Self {
            mode,
            store: None,
            origin: None,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            window: DEFAULT_IAT_WINDOW,
            nonces: None,
        }
    }

    /// Bearer tokens and DPoP-bound tokens are accepted ([`DpopMode::Allowed`]).
    pub fn allowed() -> Self {
        Self::new(DpopMode::Allowed)
    }

    /// Only DPoP-bound tokens are accepted ([`DpopMode::Required`]).
    pub fn required() -> Self {
        Self::new(DpopMode::Required)
    }

    /// Where the `jti`s of accepted DPoP proofs are remembered, so that each proof is accepted
    /// once (RFC 9449 §11.1). Defaults to a [`MemoryReplayStore`] of this process, right for one
    /// instance; with several, give them one shared store (`RedisReplayStore`, feature `redis`),
    /// so that a proof replayed against another instance is refused. A store that cannot answer
    /// makes the request 503.
    pub fn replay_store(mut self, store: impl ReplayStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The public URL of this API as clients reach it (`https://api.example.com`, or with a
    /// path prefix: `https://example.com/api`), which a DPoP proof's `htu` names followed by
    /// the request's path. Compared after RFC 9449 §4.3's normalisation (case of scheme and
    /// host, default port, percent-encoding). Defaults to the origin of the resource
    /// identifier ([`ResourceMetadata::resource`](super::ResourceMetadata::resource),
    /// `PORTCULLIS_RESOURCE`); set it only for DPoP without metadata.
    pub fn origin(mut self, url: impl Into<String>) -> Self {
        self.origin = Some(url.into());
        self
    }

    /// The algorithms DPoP proofs may be signed with, asymmetric only; by default ES256, ES384,
    /// RS256, PS256 and EdDSA. Challenges list them (`algs`).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How far a proof's `iat` may be from now, either way, before the
    /// [leeway](super::VerifierBuilder::leeway): 60 seconds by default, at most one hour. A
    /// proof's `jti` is remembered for twice as long.
    pub fn iat_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Requires server-provided nonces in DPoP proofs (RFC 9449 §9; off by default,
    /// `PORTCULLIS_DPOP_NONCE=true` for [`DpopNonces::new`]): a proof without a `nonce`, or
    /// with one this server did not issue or that expired, is refused with 401
    /// `use_dpop_nonce` and a fresh nonce in the `DPoP-Nonce` header, which the client puts in
    /// its next proof. Nonces need no shared state; several instances accept each other's when
    /// they are given one key ([`DpopNonces::with_key`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis::config::Dpop;
    /// use portcullis::{Key, Verifier, dpop::DpopNonces};
    ///
    /// # let shared_secret = [7u8; 32];
    /// let verifier = Verifier::builder()
    ///     .issuer("https://issuer.example")
    ///     .audience("documents-api")
    ///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
    ///     .dpop(
    ///         Dpop::required()
    ///             .origin("https://api.example.com")
    ///             .nonces(DpopNonces::with_key(shared_secret)?.lifetime(Duration::from_secs(120))),
    ///     )
    ///     .build()?;
    /// assert!(verifier.dpop_nonce().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn nonces(mut self, nonces: DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// The checked settings, `None` when DPoP is off. The origin defaults to the origin of the
    /// `resource` identifier; the `iat` window is widened by the `leeway`.
    pub(super) fn check(
        self,
        resource: Option<&str>,
        leeway: Duration,
    ) -> Result<Option<DpopSettings>, DpopError> {
        if self.mode == DpopMode::Off {
            return Ok(None);
        }
        // The default store is this process's memory: right for one instance.
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryReplayStore::new()));
        // From the resource identifier, its origin only: a proof's `htu` is the origin and the
        // path the request names, and the identifier's own path is part of that path already
        // (`https://api.example/documents` serves `/documents/…`).
        let origin =
            self.origin.or_else(|| resource.map(origin_of)).ok_or(DpopError::NeedsOrigin)?;
        let normalized = normalize_uri(&origin)
            .filter(|_| !origin.contains(['?', '#']))
            .ok_or_else(|| DpopError::InvalidOrigin(origin.clone()))?;
        if self.algorithms.is_empty()
            || self.algorithms.iter().any(|alg| !Algorithm::ASYMMETRIC.contains(alg))
        {
            return Err(DpopError::InvalidAlgorithms);
        }
        if self.window.is_zero() || self.window > MAX_LEEWAY {
            return Err(DpopError::InvalidWindow);
        }
        if self.nonces.as_ref().is_some_and(|nonces| !nonces.lifetime_is_valid()) {
            return Err(DpopError::InvalidNonceLifetime);
        }
        Ok(Some(DpopSettings {
            required: self.mode == DpopMode::Required,
            algorithms: self.algorithms,
            origin: normalized.trim_end_matches('/').to_owned(),
            window: self.window.as_secs() + leeway.as_secs(),
            store,
            nonces: self.nonces,
        }))
    }
}

/// The origin of `url` (scheme, host and port: what precedes its path), or `url` itself when it
/// has no `://`.
fn origin_of(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_owned() };
    let rest = &url[scheme_end + 3..];
    let authority = rest.find(['/', '?', '#']).map_or(rest.len(), |end| end);
    url[..scheme_end + 3 + authority].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "https://api.example";

    fn checked(dpop: Dpop) -> Result<Option<DpopSettings>, DpopError> {
        dpop.check(None, Duration::from_secs(30))
    }

    #[test]
    fn the_check_refuses_what_build_refused() {
        assert!(matches!(checked(Dpop::default()), Ok(None)));
        assert!(matches!(checked(Dpop::allowed()), Err(DpopError::NeedsOrigin)));
        let error = checked(Dpop::allowed().origin("https://a/?x")).unwrap_err();
        assert!(matches!(&error, DpopError::InvalidOrigin(origin) if origin == "https://a/?x"));
        assert_eq!(
            error.to_string(),
            "the DPoP origin \"https://a/?x\" is not an http(s) URL without query, fragment or user info"
        );
        let on = || Dpop::required().origin(ORIGIN);
        assert!(matches!(checked(on().algorithms([])), Err(DpopError::InvalidAlgorithms)));
        assert!(matches!(
            checked(on().algorithms([Algorithm::HS256])),
            Err(DpopError::InvalidAlgorithms)
        ));
        let error = checked(on().iat_window(Duration::ZERO)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the DPoP iat window must be between one second and one hour"
        );
        assert!(matches!(
            checked(on().iat_window(MAX_LEEWAY + Duration::from_secs(1))),
            Err(DpopError::InvalidWindow)
        ));
        let short = DpopNonces::new().lifetime(Duration::ZERO);
        assert!(matches!(checked(on().nonces(short)), Err(DpopError::InvalidNonceLifetime)));
    }

    #[test]
    fn the_origin_defaults_to_the_resource_identifiers() {
        let settings = Dpop::required()
            .check(Some("https://API.example:443/documents"), Duration::from_secs(30))
            .unwrap()
            .unwrap();
        assert_eq!(settings.origin, "https://api.example");
        assert!(settings.required);
        assert_eq!(settings.window, 60 + 30, "the window is widened by the leeway");
        let settings = Dpop::allowed()
            .origin("https://other.example/api")
            .check(Some("https://api.example"), Duration::ZERO)
            .unwrap()
            .unwrap();
        assert_eq!(settings.origin, "https://other.example/api");
        assert!(!settings.required);
    }
}
