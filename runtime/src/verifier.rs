//! Verifying a bearer token and turning it into a [`Principal`].

use std::sync::Arc;

use http::request::Parts;
use jsonwebtoken::Algorithm;
use jsonwebtoken::errors::ErrorKind;
use serde_json::{Map, Value};

use crate::cache::{TokenKey, VerifiedTokens};
use crate::claims::{ClaimRules, unix_now};
use crate::config::VerifierBuilder;
use crate::denial::{Denial, DenialKind, InvalidTokenReason, Presentation};
use crate::keys::KeySet;
use crate::principal::{ClaimMapping, Principal};
use crate::remote::{RemoteKeys, Snapshot};
use crate::token::{self, ExtractionError, TokenSources};

/// Verifies bearer tokens and renders denials. Build one with [`Verifier::builder`], share it
/// through the router state (`axum::extract::FromRef`), and every guard and extractor of this
/// crate finds it there.
///
/// Cheap to clone: the configuration is shared.
///
/// ```
/// use portcullis::{Key, Verifier};
///
/// let verifier = Verifier::builder()
///     .realm("documents")
///     .issuer("https://issuer.example")
///     .audience("documents-api")
///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
///     .build()?;
/// let app: axum::Router = axum::Router::new().with_state(verifier);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    inner: Arc<VerifierInner>,
}

/// Where the verification keys come from.
#[derive(Debug)]
pub(crate) enum KeySource {
    /// Keys configured in code.
    Fixed(KeySet),
    /// Keys fetched from an identity provider and kept fresh.
    Remote(RemoteKeys),
}

#[derive(Debug)]
pub(crate) struct VerifierInner {
    /// Tells this verifier from any other, for the principal kept in a request.
    pub(crate) id: u64,
    pub(crate) keys: KeySource,
    /// Tokens verified earlier; `None` when disabled.
    pub(crate) tokens: Option<VerifiedTokens>,
    pub(crate) algorithms: Vec<Algorithm>,
    /// What `exp`, `nbf`, `iss` and `aud` must say.
    pub(crate) rules: ClaimRules,
    pub(crate) sources: TokenSources,
    pub(crate) mapping: ClaimMapping,
    pub(crate) presentation: Arc<Presentation>,
}

impl Verifier {
    /// Starts a configuration.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::new()
    }

    /// A new, unique verifier id.
    pub(crate) fn next_id() -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn from_inner(inner: VerifierInner) -> Self {
        Self { inner: Arc::new(inner) }
    }

    /// The algorithms this verifier accepts.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.inner.algorithms
    }

    /// How this verifier's denials are rendered.
    pub fn presentation(&self) -> &Arc<Presentation> {
        &self.inner.presentation
    }

    /// A denial rendered the way this verifier renders its own.
    pub fn deny(&self, kind: DenialKind) -> Denial {
        Denial::new(kind, Arc::clone(&self.inner.presentation))
    }

    /// Finds the request's token and verifies it.
    ///
    /// This reads headers and the URI only; the body is never touched.
    pub async fn authenticate(&self, parts: &Parts) -> Result<Principal, Denial> {
        let presented = match token::extract(parts, self.inner.sources) {
            Ok(Some(presented)) => presented,
            Ok(None) => return Err(self.deny(DenialKind::MissingCredentials)),
            Err(ExtractionError::InvalidRequest(reason)) => {
                return Err(self.deny(DenialKind::InvalidRequest(reason)));
            }
            Err(ExtractionError::InvalidToken(reason)) => {
                return Err(self.deny(DenialKind::InvalidToken(reason)));
            }
        };
        let invalid = |reason| self.deny(DenialKind::InvalidToken(reason));
        // Remote keys as they are now: read once, for the cache and for verifying.
        let snapshot = match &self.inner.keys {
            KeySource::Fixed(_) => None,
            KeySource::Remote(remote) => Some(remote.current()),
        };
        let generation = snapshot.as_ref().map_or(0, |snapshot| snapshot.generation);
        let cached = self
            .inner
            .tokens
            .as_ref()
            .and_then(|tokens| TokenKey::new(presented.as_bytes()).map(|key| (tokens, key)));
        // Looked up before the grammar check: a cached token is a token that passed every check
        // when it was verified, and scanning a long token cost more than the rest of a hit.
        if let Some((tokens, key)) = &cached
            && let Some(principal) = tokens.get(key, generation)
        {
            return Ok(principal);
        }
        let token = presented.checked().map_err(invalid)?;
        let principal = match (&self.inner.keys, snapshot) {
            (KeySource::Fixed(keys), _) => self.verify_with(token, keys).map_err(invalid)?,
            (KeySource::Remote(remote), snapshot) => {
                let snapshot = snapshot.unwrap_or_else(|| remote.current());
                // Boxed: the fetch it may wait for would otherwise size every guard's future,
                // which axum boxes and moves on every request, with keys in code too.
                Box::pin(self.verify_remote(remote, snapshot, token)).await?
            }
        };
        // Stored under the generation seen before verifying: if the keys changed meanwhile,
        // the entry is stale at once, never trusted beyond its keys.
        if let Some((tokens, key)) = cached {
            tokens.insert(&key, &principal, generation);
        }
        Ok(principal)
    }

    /// Verifies with remote keys, fetching them when they are not loaded yet or lack the
    /// token's key: 503 when they cannot be fetched.
    async fn verify_remote(
        &self,
        remote: &RemoteKeys,
        mut snapshot: Arc<Snapshot>,
        token: &str,
    ) -> Result<Principal, Denial> {
        let invalid = |reason| self.deny(DenialKind::InvalidToken(reason));
        let unavailable = |snapshot: &Snapshot| {
            self.deny(DenialKind::KeysUnavailable { retry_after: remote.retry_after(snapshot) })
        };
        if !snapshot.loaded() {
            // A token refused on its own (syntax, algorithm, claims) must not make anyone wait
            // for a fetch.
            self.check_unverified(token).map_err(invalid)?;
            snapshot = remote.refresh_for(&snapshot).await;
            if !snapshot.loaded() {
                return Err(unavailable(&snapshot));
            }
        }
        match self.verify_with(token, &snapshot.keys) {
            Err(InvalidTokenReason::UnknownKey) => {
                let fresh = remote.refresh_for(&snapshot).await;
                match self.verify_with(token, &fresh.keys) {
                    // The key may exist: the provider could not be asked.
                    Err(InvalidTokenReason::UnknownKey) if !fresh.healthy => {
                        Err(unavailable(&fresh))
                    }
                    outcome => outcome.map_err(invalid),
                }
            }
            outcome => outcome.map_err(invalid),
        }
    }

    /// Like [`Verifier::authenticate`], but once per request: a principal this same verifier
    /// already verified earlier in the request (in a guard, say) is reused. A principal verified
    /// by another verifier (another issuer or audience) is not.
    pub async fn authenticate_once(&self, parts: &mut Parts) -> Result<Principal, Denial> {
        if let Some(cached) = parts.extensions.get::<Authenticated>()
            && cached.verifier == self.inner.id
        {
            return Ok(cached.principal.clone());
        }
        let principal = self.authenticate(parts).await?;
        parts
            .extensions
            .insert(Authenticated { verifier: self.inner.id, principal: principal.clone() });
        Ok(principal)
    }

    /// Verifies a token (without the `Bearer ` prefix): signature, algorithm binding, `exp`,
    /// `nbf`, `iss`, `aud`, then reads the principal.
    ///
    /// The headers `jku`, `x5u`, `jwk` and `x5c` are never followed: keys come from the
    /// configuration only.
    ///
    /// With remote keys, this uses the keys fetched so far and never waits for a fetch:
    /// [`Verifier::authenticate`] does.
    pub fn verify(&self, token: &str) -> Result<Principal, InvalidTokenReason> {
        match &self.inner.keys {
            KeySource::Fixed(keys) => self.verify_with(token, keys),
            KeySource::Remote(remote) => self.verify_with(token, &remote.current().keys),
        }
    }

    /// The token's header, when its size, syntax, `crit` and `alg` are acceptable.
    fn check_header(&self, token: &str) -> Result<jsonwebtoken::Header, InvalidTokenReason> {
        let inner = &*self.inner;
        if token.len() > inner.sources.max_len {
            return Err(InvalidTokenReason::TooLarge);
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| InvalidTokenReason::Malformed)?;
        if header.crit.is_some() {
            return Err(InvalidTokenReason::UnsupportedCriticalHeader);
        }
        if !inner.algorithms.contains(&header.alg) {
            return Err(InvalidTokenReason::DisallowedAlgorithm);
        }
        Ok(header)
    }

    /// Every check that needs no key: size, syntax, `crit`, `alg`, and the registered claims.
    /// Done before the signature, so that an expired or misdirected token costs no signature
    /// work; the claims are trusted for nothing else until the signature is checked.
    fn check_unverified<'a>(&self, token: &'a str) -> Result<Unverified<'a>, InvalidTokenReason> {
        let header = self.check_header(token)?;
        let (message, signature) = token.rsplit_once('.').ok_or(InvalidTokenReason::Malformed)?;
        let (_, payload) = message.rsplit_once('.').ok_or(InvalidTokenReason::Malformed)?;
        let claims = decode_claims(payload)?;
        self.inner.rules.check(&claims, unix_now())?;
        Ok(Unverified { header, claims, message, signature })
    }

    /// Verifies `token` with `keys`: the cheap checks first (size, syntax, algorithm, the
    /// registered claims), then the key and the signature. The header and the claims are each
    /// decoded once.
    fn verify_with(&self, token: &str, keys: &KeySet) -> Result<Principal, InvalidTokenReason> {
        let Unverified { header, claims, message, signature } = self.check_unverified(token)?;
        let key = keys.select(header.kid.as_deref(), header.alg)?;
        match jsonwebtoken::crypto::verify(
            signature,
            message.as_bytes(),
            key.decoding_key(),
            header.alg,
        ) {
            Ok(true) => Principal::from_claims(claims, &self.inner.mapping),
            Ok(false) => Err(InvalidTokenReason::BadSignature),
            Err(error) => Err(invalid_token_reason(error.kind())),
        }
    }
}

/// A token whose header and claims passed every check but the signature's.
struct Unverified<'a> {
    header: jsonwebtoken::Header,
    claims: Map<String, Value>,
    /// `header.payload`, what the signature signs.
    message: &'a str,
    signature: &'a str,
}

/// The claims of a token: base64url without padding (RFC 7515 §2), holding a JSON object whose
/// names are unique.
fn decode_claims(payload: &str) -> Result<Map<String, Value>, InvalidTokenReason> {
    use base64::Engine as _;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| InvalidTokenReason::Malformed)?;
    serde_json::from_slice::<UniqueClaims>(&json)
        .map(|claims| claims.0)
        .map_err(|_| InvalidTokenReason::Malformed)
}

/// A claims set that refuses a repeated claim name. RFC 7519 §4 allows keeping the last one
/// instead, but another component reading the first would then see another token.
struct UniqueClaims(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueClaims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueClaims;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object with unique names")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<UniqueClaims, A::Error> {
                let mut claims = Map::new();
                while let Some((name, value)) = access.next_entry::<String, Value>()? {
                    if claims.contains_key(&name) {
                        return Err(serde::de::Error::custom("a claim name is repeated"));
                    }
                    claims.insert(name, value);
                }
                Ok(UniqueClaims(claims))
            }
        }

        deserializer.deserialize_map(Visitor)
    }
}

/// A principal and the verifier that verified it, kept in the request extensions.
#[derive(Clone)]
struct Authenticated {
    /// The verifier's id: unique for the life of the process, unlike its address.
    verifier: u64,
    principal: Principal,
}

/// Maps `jsonwebtoken`'s error to the closed set of reasons; its message is never shown.
fn invalid_token_reason(kind: &ErrorKind) -> InvalidTokenReason {
    match kind {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_) => InvalidTokenReason::BadSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::InvalidAlgorithmName => InvalidTokenReason::DisallowedAlgorithm,
        ErrorKind::ExpiredSignature => InvalidTokenReason::Expired,
        ErrorKind::ImmatureSignature => InvalidTokenReason::NotYetValid,
        ErrorKind::InvalidIssuer => InvalidTokenReason::WrongIssuer,
        ErrorKind::InvalidAudience => InvalidTokenReason::WrongAudience,
        ErrorKind::MissingRequiredClaim(_) => InvalidTokenReason::MissingClaim,
        ErrorKind::InvalidClaimFormat(_) | ErrorKind::InvalidSubject => {
            InvalidTokenReason::InvalidClaims
        }
        _ => InvalidTokenReason::Malformed,
    }
}
