//! Verifying a request's bearer token and turning it into a [`Principal`].
//!
//! A request goes through `token` (find the token; no decoding), the `cache` (a token verified
//! earlier is served without its signature check), `jws` (header and claims decoded), `claims`
//! (the registered claims checked before the signature, and the principal read after it), and
//! the keys of `crate::keys` (the signature); `introspected` (feature `introspection`) for
//! opaque tokens, `proof` for DPoP. `config` is how a [`Verifier`] is configured: the
//! [`VerifierBuilder`] and the values it checks, from code or from the environment.
//!
//! May import `keys`, `respond`, `principal`, `scope`, `digest`, `dpop` and `introspect`;
//! nothing imports back.

use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;

mod cache;
mod claims;
pub(crate) mod config;
#[cfg(feature = "introspection")]
mod introspected;
mod issuers;
mod jws;
mod metadata;
mod profile;
mod proof;
mod token;

use self::cache::TokenCache;
#[cfg(feature = "jwks")]
use self::config::env;
pub(crate) use config::VerifierBuilder;
pub use config::{ConfigError, Preset};

use self::cache::{TokenKey, VerifiedTokens};
use self::claims::{ClaimMapping, ClaimRules, Validity, unix_now};
use self::issuers::KeysByIssuer;
use self::jws::Unverified;
use self::token::{ExtractionError, TokenSources};
use crate::keys::{Algorithm, Key, KeyRefusal, KeySource};
use crate::principal::{Binding, Principal};
use crate::respond::{Denial, DenialKind, DpopProofReason, InvalidTokenReason, Presentation};
use serde_json::Value;

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
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Tells this verifier from any other, for the principal kept in a request.
    id: u64,
    settings: Settings,
    /// Tokens verified earlier; `None` when disabled.
    tokens: Option<VerifiedTokens>,
}

/// A checked configuration: what [`VerifierBuilder::build`] hands to [`Verifier::new`].
#[derive(Debug)]
struct Settings {
    /// The keys, by issuer: a token is verified only with those of the issuer it names.
    keys: KeysByIssuer,
    algorithms: Vec<Algorithm>,
    /// What `exp`, `nbf`, `iss` and `aud` must say.
    rules: ClaimRules,
    sources: TokenSources,
    mapping: ClaimMapping,
    presentation: Arc<Presentation>,
    token_cache: TokenCache,
    leeway: Duration,
    /// The issuers `PORTCULLIS_ISSUER` named: start-up errors about them name the variable.
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    env_issuers: Vec<String>,
    /// Opaque tokens (and, when asked, JWTs) are introspected.
    #[cfg(feature = "introspection")]
    introspection: Option<crate::introspect::Introspector>,
    /// DPoP, when allowed or required.
    dpop: Option<crate::dpop::DpopSettings>,
    /// The RFC 9728 document, with a resource identifier.
    metadata: Option<metadata::Metadata>,
    /// The audit trail of the guards' decisions, when kept.
    audit: Option<crate::observability::AuditTrail>,
}

impl Verifier {
    /// Starts a configuration.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::new()
    }

    fn new(settings: Settings) -> Self {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tokens = VerifiedTokens::new(settings.token_cache, settings.leeway);
        // JWTs introspected for revocation are cached by the introspector, for its maximum age.
        #[cfg(feature = "introspection")]
        let tokens = tokens
            .filter(|_| !settings.introspection.as_ref().is_some_and(|i| i.introspects_jwts()));
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self { inner: Arc::new(Inner { id, settings, tokens }) }
    }

    /// The algorithms this verifier accepts.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.inner.settings.algorithms
    }

    /// The leeway for the clocks' skew, in seconds.
    pub(crate) fn leeway_secs(&self) -> u64 {
        self.inner.settings.leeway.as_secs()
    }

    /// How this verifier's denials are rendered.
    pub fn presentation(&self) -> &Arc<Presentation> {
        &self.inner.settings.presentation
    }

    /// A denial rendered the way this verifier renders its own. A
    /// [`DenialKind::UseDpopNonce`] carries the `DPoP` challenge and, with
    /// [nonces](config::Dpop::nonces) on, a fresh nonce in `DPoP-Nonce`.
    pub fn deny(&self, kind: DenialKind) -> Denial {
        let nonce = matches!(kind, DenialKind::UseDpopNonce(_));
        let denial = Denial::new(kind, Arc::clone(&self.inner.settings.presentation));
        if !nonce {
            return denial;
        }
        let denial = denial.for_dpop_request();
        match self.inner.settings.dpop.as_ref().and_then(|dpop| dpop.nonces.as_ref()) {
            Some(nonces) => denial.with_dpop_nonce(&nonces.issue(unix_now())),
            None => denial,
        }
    }

    /// Whether every key source holds usable keys, and since when each one's refresh fails: for
    /// a readiness probe (see [`Readiness`](crate::observability::Readiness)). Never waits for
    /// a fetch.
    pub fn readiness(&self) -> crate::observability::Readiness {
        let sources = self.inner.settings.keys.sources().map(KeySource::readiness).collect();
        crate::observability::Readiness::new(sources)
    }

    /// The audit trail, when kept.
    pub(crate) fn audit_trail(&self) -> Option<&crate::observability::AuditTrail> {
        self.inner.settings.audit.as_ref()
    }

    /// The principal this verifier authenticated earlier in the request, if any.
    pub(crate) fn authenticated<'a>(&self, parts: &'a Parts) -> Option<&'a Principal> {
        let authenticated = parts.extensions.get::<Authenticated>()?;
        (authenticated.verifier == self.inner.id).then_some(&authenticated.principal)
    }

    /// A router serving the RFC 9728 protected resource metadata document at the path derived
    /// from the [resource identifier](config::ResourceMetadata::resource) (§3.1:
    /// `https://api.example/documents` → `/.well-known/oauth-protected-resource/documents`; a
    /// resource without a path → `/.well-known/oauth-protected-resource`), as
    /// `application/json`; an empty router without a resource identifier. Merge it into the
    /// application's router at the host's root: the path is the one clients derive from the
    /// identifier.
    ///
    /// The document lists `resource`, `authorization_servers` (the accepted issuers; left out
    /// when any issuer is accepted), `scopes_supported` (as
    /// [given](config::ResourceMetadata::scopes_supported)), `bearer_methods_supported` (`header`, and
    /// `query` with [query tokens](config::Dangerous::allow_query_token)), `resource_name` and
    /// `resource_documentation` when given, and with DPoP on,
    /// `dpop_signing_alg_values_supported` and `dpop_bound_access_tokens_required`.
    pub fn metadata_router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        match &self.inner.settings.metadata {
            Some(metadata) => metadata.router(),
            None => axum::Router::new(),
        }
    }

    /// The URL of the protected resource metadata document, which every challenge names in
    /// `resource_metadata`: `None` without a [resource identifier](config::ResourceMetadata::resource).
    pub fn resource_metadata_url(&self) -> Option<&str> {
        self.inner.settings.metadata.as_ref().map(|metadata| metadata.url.as_str())
    }

    /// A fresh server nonce for DPoP proofs, when [nonces](config::Dpop::nonces) are
    /// on: for an application that sends `DPoP-Nonce` in responses of its own.
    pub fn dpop_nonce(&self) -> Option<String> {
        let nonces = self.inner.settings.dpop.as_ref()?.nonces.as_ref()?;
        Some(nonces.issue(unix_now()))
    }

    /// Checks, at start, what only the identity provider can tell: that each issuer's discovery
    /// document names that very issuer. Waits for the first fetch of fetched keys, issuer after
    /// issuer (for each, at most the fetch timeout per document it reads: the OpenID Connect
    /// document, RFC 8414's when that one is not served, and the key set); keys configured in code, and a provider that cannot be reached (the keys
    /// are then fetched as soon as it answers, and tokens get 503 meanwhile), pass.
    ///
    /// A mismatch is a configuration error, [`IssuerError::IssuerMismatch`](config::IssuerError::IssuerMismatch), with both spellings
    /// and, when they differ only by a trailing slash or a host alias, a note saying so: every
    /// token would otherwise be refused. Call it before serving:
    ///
    /// ```no_run
    /// # async fn start() -> Result<(), portcullis::ConfigError> {
    /// let verifier = portcullis::config::VerifierBuilder::from_env()?.build()?;
    /// verifier.check_issuers().await?;
    /// # Ok(()) }
    /// ```
    pub async fn check_issuers(&self) -> Result<(), ConfigError> {
        #[cfg(feature = "jwks")]
        {
            let settings = &self.inner.settings;
            for keys in settings.keys.sources() {
                if let Some(mismatch) = keys.issuer_mismatch().await {
                    let var =
                        settings.env_issuers.contains(&mismatch.configured).then_some(env::ISSUER);
                    let error = config::IssuerError::IssuerMismatch {
                        configured: mismatch.configured,
                        discovered: mismatch.discovered,
                        hint: mismatch.hint,
                    };
                    return Err(config::from_var(var, error));
                }
            }
        }
        Ok(())
    }

    /// Finds the request's token and verifies it.
    ///
    /// This reads headers and the URI only; the body is never touched.
    pub async fn authenticate(&self, parts: &Parts) -> Result<Principal, Denial> {
        let settings = &self.inner.settings;
        let presented = match token::extract(parts, settings.sources) {
            Ok(Some(presented)) => presented,
            Ok(None) => return Err(self.deny(DenialKind::MissingCredentials)),
            Err(ExtractionError::InvalidRequest(reason)) => {
                return Err(self.deny(DenialKind::InvalidRequest(reason)));
            }
            Err(ExtractionError::InvalidToken(reason)) => {
                return Err(self.deny(DenialKind::InvalidToken(reason)));
            }
            Err(ExtractionError::UnusableDpopToken(reason)) => {
                return Err(self.deny(DenialKind::InvalidToken(reason)).for_dpop_request());
            }
        };
        if let Some(dpop) = &settings.dpop {
            if presented.dpop {
                // Boxed: the proof's checks would otherwise size every bearer request's future.
                return Box::pin(self.authenticate_dpop(parts, &presented, dpop)).await;
            }
            if dpop.required {
                return Err(self.deny(DenialKind::InvalidToken(InvalidTokenReason::DpopRequired)));
            }
        }
        let principal = self.principal_of(&presented).await?;
        // On a cache hit too: the cache holds verifications, never the scheme they came with.
        let binding = principal.binding();
        match binding.refused_as_bearer() {
            None if token::has_proof(parts) => Err(self.deny_dpop(DpopProofReason::UnboundToken)),
            None => Ok(principal),
            Some(reason) => {
                let denial = self.deny(DenialKind::InvalidToken(reason));
                // RFC 9449 §7.2: the `DPoP` challenge tells the client the scheme it must use.
                let dpop_key = matches!(binding, Binding::DpopKey(_));
                Err(if dpop_key { denial.for_dpop_request() } else { denial })
            }
        }
    }

    /// The principal of a presented token: from the verified-token cache, or verified (then
    /// cached).
    async fn principal_of(&self, presented: &token::Presented<'_>) -> Result<Principal, Denial> {
        let settings = &self.inner.settings;
        // Read before verifying: if the keys change meanwhile, the entry stored below is stale
        // at once, never trusted beyond its keys.
        let generation = settings.keys.generation();
        let cached = self
            .inner
            .tokens
            .as_ref()
            .and_then(|tokens| TokenKey::new(presented.as_bytes()).map(|key| (tokens, key)));
        // Looked up before the grammar check: a cached token is a token that passed every check
        // when it was verified, and scanning a long token costs more than the rest of a hit.
        if let Some((tokens, key)) = &cached
            && let Some(principal) = tokens.get(key, generation)
        {
            return Ok(principal);
        }
        let token =
            presented.checked().map_err(|reason| self.deny(DenialKind::InvalidToken(reason)))?;
        let (principal, validity) = self.verify_or_introspect(token).await?;
        if let Some((tokens, key)) = cached
            && let Some(validity) = validity
        {
            tokens.insert(&key, &principal, validity, generation);
        }
        Ok(principal)
    }

    /// Verifies `token` locally, or introspects it (opaque tokens, and JWTs when asked): then no
    /// validity is returned, as the verified-token cache must not keep it (the introspector
    /// keeps its own answers, for their own lifetime).
    ///
    /// A function of its own, so that the routing adds no code to `authenticate`, whose cache hit
    /// is the hot path.
    async fn verify_or_introspect(
        &self,
        token: &str,
    ) -> Result<(Principal, Option<Validity>), Denial> {
        #[cfg(feature = "introspection")]
        if let Some(introspector) = &self.inner.settings.introspection
            && (introspector.introspects_jwts() || !introspected::is_compact_jws(token))
        {
            // Boxed, as a key fetch is: its future would otherwise size every guard's.
            return Box::pin(self.introspect(introspector, token)).await.map(|p| (p, None));
        }
        let (principal, validity) = self.verify_fetching(token).await?;
        Ok((principal, Some(validity)))
    }

    /// Like [`Verifier::authenticate`], but once per request: a principal this same verifier
    /// already verified earlier in the request (in a guard, say) is reused. A principal verified
    /// by another verifier (another issuer or audience) is not.
    pub async fn authenticate_once(&self, parts: &mut Parts) -> Result<Principal, Denial> {
        if let Some(cached) = parts.extensions.get::<Authenticated>()
            && cached.verifier == self.inner.id
        {
            return Ok(cached.principal.clone().served_from_cache());
        }
        let principal = self.authenticate(parts).await?;
        parts
            .extensions
            .insert(Authenticated { verifier: self.inner.id, principal: principal.clone() });
        Ok(principal)
    }

    /// Verifies a bearer token (without the `Bearer ` prefix): signature, algorithm binding,
    /// `exp`, `nbf`, `iss`, `aud`, then reads the principal.
    ///
    /// The headers `jku`, `x5u`, `jwk` and `x5c` are never followed: keys come from the
    /// configuration only.
    ///
    /// A token with a `cnf` claim is bound to its client and is never a bearer token: one bound
    /// to a DPoP key is refused with [`InvalidTokenReason::DpopBoundAsBearer`] (verify it with
    /// its proof, [`Verifier::verify_dpop`]), one bound otherwise with
    /// [`InvalidTokenReason::UnsupportedBinding`].
    ///
    /// With remote keys, this uses the keys fetched so far and never waits for a fetch:
    /// [`Verifier::authenticate`] does.
    pub fn verify(&self, token: &str) -> Result<Principal, InvalidTokenReason> {
        let (unverified, validity) = self.decode(token)?;
        let keys = self.keys_of(&unverified)?;
        let selected = keys.select_now(unverified.kid.as_deref(), unverified.alg)?;
        let (principal, _) = self.accept(unverified, validity, selected.key())?;
        match principal.binding().refused_as_bearer() {
            None => Ok(principal),
            Some(reason) => Err(reason),
        }
    }

    /// Verifies `token`, waiting for the keys to be fetched when they must be: 503 when they
    /// cannot be.
    async fn verify_fetching(&self, token: &str) -> Result<(Principal, Validity), Denial> {
        let invalid = |reason| self.deny(DenialKind::InvalidToken(reason));
        // A token refused on its own (syntax, algorithm, claims) costs no signature work and
        // never waits for a fetch.
        let (unverified, validity) = self.decode(token).map_err(invalid)?;
        let selected = self
            .keys_of(&unverified)
            .map_err(invalid)?
            .select(unverified.kid.as_deref(), unverified.alg)
            .await
            .map_err(|refusal| match refusal {
                KeyRefusal::Invalid(reason) => invalid(reason),
                #[cfg(feature = "jwks")]
                KeyRefusal::Unavailable { retry_after } => {
                    self.deny(DenialKind::KeysUnavailable { retry_after })
                }
            })?;
        // The selection may have waited for a fetch, up to its timeout: the token must still be
        // within `exp` and `nbf` now.
        self.inner.settings.rules.check_times(validity, unix_now()).map_err(invalid)?;
        self.accept(unverified, validity, selected.key()).map_err(invalid)
    }

    /// Every check that needs no key: size, syntax, `crit`, `alg`, `typ`, and the registered
    /// claims (with those the token profile requires).
    /// Done before the signature, so that an expired or misdirected token costs no signature
    /// work; the claims are trusted for nothing else until the signature is checked.
    fn decode<'a>(&self, token: &'a str) -> Result<(Unverified<'a>, Validity), InvalidTokenReason> {
        let settings = &self.inner.settings;
        let unverified = Unverified::decode(
            token,
            settings.sources.max_len,
            &settings.algorithms,
            settings.rules.profile,
        )?;
        let validity = settings.rules.check(&unverified.claims, unix_now())?;
        Ok((unverified, validity))
    }

    /// The keys of the issuer `unverified` names (RFC 8725 §3.8): never another issuer's.
    fn keys_of(&self, unverified: &Unverified<'_>) -> Result<&KeySource, InvalidTokenReason> {
        let iss = unverified.claims.get("iss").and_then(Value::as_str);
        self.inner.settings.keys.for_issuer(iss).ok_or(InvalidTokenReason::WrongIssuer)
    }

    /// Checks the signature with `key`, and reads the principal.
    fn accept(
        &self,
        unverified: Unverified<'_>,
        validity: Validity,
        key: &Key,
    ) -> Result<(Principal, Validity), InvalidTokenReason> {
        let settings = &self.inner.settings;
        unverified.verify_signature(key)?;
        let principal = settings.mapping.principal(unverified.claims, &settings.presentation)?;
        Ok((principal, validity))
    }
}

/// A principal and the verifier that verified it, kept in the request extensions.
#[derive(Clone)]
struct Authenticated {
    /// The verifier's id: unique for the life of the process, unlike its address.
    verifier: u64,
    principal: Principal,
}
