//! [`VerifierBuilder`]: the core settings (realm, issuers, audiences, leeway, algorithms, the
//! claims read, disclosure), the configuration values it holds ([`Dpop`],
//! [`ResourceMetadata`], [`Introspection`](crate::introspection::Introspection)), and [`build`](VerifierBuilder::build),
//! which runs each value's own check and assembles the [`Verifier`].
//!
//! The key sources are set in `keys.rs`, the environment applied in `env.rs`, the settings that
//! weaken verification behind `dangerous.rs`'s door, a provider's settings in `preset.rs`.

use std::sync::Arc;
use std::time::Duration;

use super::dpop::Dpop;
use super::error::{ConfigError, IssuerError, SettingError};
use super::resource::ResourceMetadata;
use super::settings::{DEFAULT_LEEWAY, DEFAULT_REALM, Discovery, Expect, MAX_LEEWAY};
use crate::keys::{Algorithm, Key};
use crate::respond::{Challenge, Disclosure, DpopChallenge, Presentation};
use crate::step_up::AcrSource;
use crate::verify::cache::TokenCache;
use crate::verify::claims::{AccessTokenMark, ClaimMapping, ClaimRules, ScopeClaim};
use crate::verify::issuers::TrustedIssuer;
use crate::verify::profile::TokenProfile;
use crate::verify::token::{DEFAULT_MAX_TOKEN_LEN, TokenSources};
use crate::verify::{Settings, Verifier};

/// Builds a [`Verifier`]. Issuer and audience are required unless explicitly waived (behind
/// [`dangerous`](Self::dangerous)).
#[derive(Debug, Clone)]
#[must_use]
pub struct VerifierBuilder {
    pub(super) realm: String,
    pub(super) issuer: Expect,
    pub(super) audience: Expect,
    pub(super) keys: Vec<Key>,
    pub(super) algorithms: Option<Vec<Algorithm>>,
    pub(super) leeway: Duration,
    pub(super) profile: TokenProfile,
    pub(super) mapping: ClaimMapping,
    pub(super) disclosure: Disclosure,
    pub(super) advertise_scopes: bool,
    pub(super) scope_on_401: bool,
    pub(super) sources: TokenSources,
    pub(super) jwks_url: Option<String>,
    pub(super) discovery: Discovery,
    /// Plain `http` key URLs to any host (development set-ups).
    pub(super) allow_http: bool,
    /// Issuers with keys of their own.
    pub(super) trusted: Vec<TrustedIssuer>,
    /// The claim naming the audience, when not `aud`.
    pub(super) audience_claim: Option<String>,
    /// What claims must say of an access token (`require_claim_value` and its kin).
    pub(super) access_token_marks: Vec<AccessTokenMark>,
    /// Whether `Principal::id` pairs the issuer with the subject; by default when more than one
    /// issuer is accepted.
    pub(super) identity_by_issuer: Option<bool>,
    /// The variable the JWKS URL came from, to name it in errors.
    pub(super) jwks_url_var: Option<&'static str>,
    /// The issuers `PORTCULLIS_ISSUER` named.
    pub(super) env_issuers: Vec<String>,
    #[cfg(feature = "jwks")]
    pub(super) key_refresh: crate::keys::KeyRefresh,
    pub(super) token_cache: TokenCache,
    pub(super) dpop: Dpop,
    pub(super) metadata: ResourceMetadata,
    #[cfg(feature = "introspection")]
    pub(super) introspection: Option<super::introspection::Introspection>,
    pub(super) audit: Option<crate::observability::AuditTrail>,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl VerifierBuilder {
    /// An empty configuration.
    pub fn new() -> Self {
        Self {
            realm: DEFAULT_REALM.to_owned(),
            issuer: Expect::Unset,
            audience: Expect::Unset,
            keys: Vec::new(),
            algorithms: None,
            leeway: DEFAULT_LEEWAY,
            profile: TokenProfile::Jwt,
            mapping: ClaimMapping::default(),
            disclosure: Disclosure::Production,
            advertise_scopes: true,
            scope_on_401: false,
            sources: TokenSources { query: false, max_len: DEFAULT_MAX_TOKEN_LEN, dpop: false },
            jwks_url: None,
            discovery: Discovery::Off,
            allow_http: false,
            trusted: Vec::new(),
            audience_claim: None,
            access_token_marks: Vec::new(),
            identity_by_issuer: None,
            jwks_url_var: None,
            env_issuers: Vec::new(),
            #[cfg(feature = "jwks")]
            key_refresh: crate::keys::KeyRefresh::default(),
            token_cache: TokenCache::default(),
            dpop: Dpop::default(),
            metadata: ResourceMetadata::default(),
            #[cfg(feature = "introspection")]
            introspection: None,
            audit: None,
        }
    }

    /// The realm named in every `WWW-Authenticate` challenge. Defaults to `api`.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// An accepted issuer; call again to accept several. The `iss` claim becomes required.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer.add(issuer.into());
        self
    }

    /// An accepted audience; call again to accept several. The `aud` claim (a string or an
    /// array) becomes required and must name one of them.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience.add(audience.into());
        self
    }

    /// The claim that names the audience, instead of `aud`: Amazon Cognito's access tokens carry
    /// no `aud`, and name the app client in `client_id`. Read like `aud`: a string, or an array
    /// of strings one of which must be an accepted audience.
    pub fn audience_claim(mut self, claim: impl Into<String>) -> Self {
        self.audience_claim = Some(claim.into());
        self
    }

    /// Requires the claim `name` to be exactly the string `value`, for a provider that marks its
    /// access tokens in a claim rather than in `typ` (Cognito's `token_use: access`, which its
    /// ID tokens spell `id`). Absent: `MissingClaim`; another value: `WrongType`.
    pub fn require_claim_value(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.access_token_marks
            .push(AccessTokenMark::Equals { name: name.into(), value: value.into() });
        self
    }

    /// Requires the claim `name`, when a token carries it, to be one of the strings `values`
    /// (Entra ID's `idtyp`: `app` or `user` in access tokens). Another value: `WrongType`;
    /// absent, the token passes this rule.
    pub fn restrict_claim_values<V: Into<String>>(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.access_token_marks
            .push(AccessTokenMark::OneOfWhenPresent { name: name.into(), values });
        self
    }

    /// Requires a token to carry at least one of the claims `names`, for a provider whose
    /// access tokens say what they grant and whose ID tokens do not (Entra ID's access tokens
    /// carry `scp` for a user or `roles` for an application). None of them: `WrongType`.
    pub fn require_any_claim<N: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = N>,
    ) -> Self {
        let names = names.into_iter().map(Into::into).collect();
        self.access_token_marks.push(AccessTokenMark::AnyOf { names });
        self
    }

    /// How many verified tokens are remembered, and for how long, so that a token sent again
    /// skips signature verification (on by default: see [`TokenCache`]).
    pub fn token_cache(mut self, cache: TokenCache) -> Self {
        self.token_cache = cache;
        self
    }

    /// Keeps an audit trail of the guards' decisions, allowed ones too: one `tracing` event per
    /// decision, target `portcullis::audit` (see [`AuditTrail`](crate::observability::AuditTrail)).
    /// Off by default.
    pub fn audit_trail(mut self, audit: crate::observability::AuditTrail) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Restricts the accepted algorithms. By default, every algorithm some key allows.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// The clock skew tolerated on `exp` and `nbf`. Defaults to 30 seconds; at most
    /// [`MAX_LEEWAY`].
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Which tokens are access tokens: [`TokenProfile::Jwt`] by default (`typ` absent, `JWT` or
    /// `at+jwt`); [`TokenProfile::Rfc9068`] requires `typ` `at+jwt` and RFC 9068's claims.
    ///
    /// ```
    /// use portcullis::{Key, Verifier, config::TokenProfile};
    ///
    /// let verifier = Verifier::builder()
    ///     .issuer("https://issuer.example")
    ///     .audience("documents-api")
    ///     .token_profile(TokenProfile::Rfc9068)
    ///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn token_profile(mut self, profile: TokenProfile) -> Self {
        self.profile = profile;
        self
    }

    /// The claims scopes are read from. Defaults to `scope` alone.
    pub fn scope_claims(mut self, claims: impl IntoIterator<Item = ScopeClaim>) -> Self {
        self.mapping.scope_claims = claims.into_iter().collect();
        self
    }

    /// The claims that hold the caller's roles, as dotted paths (`realm_access.roles`,
    /// `resource_access.documents.roles`, `roles`, `cognito:groups`), each a space-delimited
    /// string or an array of strings; a claim of another shape grants no role. Replaces the
    /// paths set before; none by default. `PORTCULLIS_ROLES_CLAIM` sets them from the
    /// environment (comma-separated).
    ///
    /// ```
    /// use portcullis::{Key, Verifier};
    ///
    /// let verifier = Verifier::builder()
    ///     .issuer("https://keycloak.example/realms/acme")
    ///     .audience("documents-api")
    ///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
    ///     .role_claims(["realm_access.roles", "resource_access.documents.roles"])
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn role_claims<I, T>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.mapping.role_claims = paths.into_iter().map(Into::into).collect();
        self
    }

    /// Where tokens say how the user signed in, for
    /// [`#[requires_authentication]`](crate::requires_authentication): the sources of the
    /// authentication context classes, each adding what it finds. Replaces the sources set
    /// before; by default the `acr` claim. The [presets](crate::Preset) of providers that put it
    /// elsewhere set theirs (Entra ID's `acrs`, Auth0's `amr`).
    ///
    /// ```
    /// use portcullis::{Key, Verifier, config::AcrSource};
    ///
    /// let verifier = Verifier::builder()
    ///     .issuer("https://issuer.example")
    ///     .audience("documents-api")
    ///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
    ///     .acr_sources([AcrSource::Acr, AcrSource::List("acrs".into())])
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn acr_sources(mut self, sources: impl IntoIterator<Item = AcrSource>) -> Self {
        self.mapping.acr_sources = sources.into_iter().collect();
        self
    }

    /// Identifies callers for ownership by this claim instead of `sub`; tokens without it are
    /// invalid.
    pub fn principal_id_claim(mut self, claim: impl Into<String>) -> Self {
        self.mapping.principal_id_claim = Some(claim.into());
        self
    }

    /// How much denials tell the client. Defaults to [`Disclosure::Production`];
    /// [`Disclosure::Development`] is logged as a warning (target `portcullis::disclosure`) when
    /// the verifier is built, so that it is not left on unnoticed.
    pub fn disclosure(mut self, disclosure: Disclosure) -> Self {
        self.disclosure = disclosure;
        self
    }

    /// Whether 403 challenges list the required scopes (`scope="…"`). On by default: it tells
    /// the client which permission to ask for.
    pub fn advertise_scopes(mut self, advertise: bool) -> Self {
        self.advertise_scopes = advertise;
        self
    }

    /// Whether a 401's challenges name the refused route's scopes (`scope="…"`): a handler's
    /// attribute scopes, a [`RequireAuthLayer`](crate::layer::RequireAuthLayer)'s, an MCP
    /// endpoint's. Off by default. The MCP authorization specification asks it of an MCP
    /// server (its clients request exactly these scopes before reading `scopes_supported`).
    pub fn challenge_scope_on_401(mut self, on: bool) -> Self {
        self.scope_on_401 = on;
        self
    }

    /// Tokens longer than this many bytes are refused before decoding. Defaults to 8 KiB.
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.sources.max_len = bytes;
        self
    }

    /// DPoP-bound tokens (RFC 9449), with their proofs: see [`Dpop`] (off by default;
    /// `PORTCULLIS_DPOP` and its kin set it from the environment).
    ///
    /// ```
    /// use portcullis::config::Dpop;
    /// use portcullis::{Key, Verifier};
    ///
    /// let verifier = Verifier::builder()
    ///     .issuer("https://issuer.example")
    ///     .audience("documents-api")
    ///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
    ///     .dpop(Dpop::allowed().origin("https://api.example.com"))
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dpop(mut self, dpop: Dpop) -> Self {
        self.dpop = dpop;
        self
    }

    /// The RFC 9728 protected resource metadata of this API: see [`ResourceMetadata`]. A
    /// resource identifier already read from `PORTCULLIS_RESOURCE` is kept when `metadata`
    /// names none.
    pub fn resource_metadata(mut self, metadata: ResourceMetadata) -> Self {
        self.metadata = metadata.keeping_resource_of(std::mem::take(&mut self.metadata));
        self
    }

    /// Accepts opaque access tokens by RFC 7662 introspection (see
    /// [`Introspection`](crate::introspection::Introspection)): a token that is not a JWS is sent to the
    /// endpoint, and accepted when it is active and its members pass the same checks as a
    /// JWT's claims. JWTs are still verified locally, unless
    /// [`Introspection::introspect_jwts`](crate::introspection::Introspection::introspect_jwts) says otherwise.
    ///
    /// With introspection, keys are optional: without any, only opaque tokens are accepted.
    ///
    /// ```
    /// use portcullis::{Verifier, introspection::Introspection};
    ///
    /// let verifier = Verifier::builder()
    ///     .oidc_issuer("https://login.example.com")
    ///     .audience("documents-api")
    ///     .introspection(Introspection::discovered().client_credentials("documents-api", "s3cr3t"))
    ///     .build()?;
    /// # Ok::<(), portcullis::ConfigError>(())
    /// ```
    #[cfg(feature = "introspection")]
    #[cfg_attr(docsrs, doc(cfg(feature = "introspection")))]
    pub fn introspection(mut self, introspection: super::introspection::Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// Checks the configuration and builds the verifier: each setting and configuration value
    /// checks itself, then the issuers, their keys and the audiences are checked together.
    pub fn build(mut self) -> Result<Verifier, ConfigError> {
        crate::crypto::ensure_jwt_provider();

        self.discover_env_issuers()?;
        let mut challenge =
            Challenge::new(std::mem::take(&mut self.realm)).map_err(SettingError::InvalidRealm)?;
        if self.leeway > MAX_LEEWAY {
            return Err(SettingError::LeewayTooLarge.into());
        }
        let located = self.metadata.locate(self.allow_http)?;
        if let Some(located) = &located {
            // Checked by `locate`: printable ASCII without space, quote or backslash.
            challenge =
                challenge.clone().resource_metadata(located.url.as_str()).unwrap_or(challenge);
        }
        let dpop = self.dpop.clone().check(self.metadata.resource_url(), self.leeway)?;
        self.sources.dpop = dpop.is_some();
        if self.disclosure == Disclosure::Development {
            // Once per verifier, at start: a setting for a developer's machine that must never
            // reach production unnoticed.
            tracing::warn!(
                target: "portcullis::disclosure",
                realm = challenge.realm(),
                "Development disclosure is on: every denial tells the client why (error_description, \
                 detail); for a developer's machine only, never for a server others can reach"
            );
        }
        let dpop_challenge =
            dpop.as_ref().map(|dpop| DpopChallenge { algs: dpop.algs(), required: dpop.required });
        let mut presentation = Presentation::from_parts(
            challenge,
            self.disclosure,
            self.advertise_scopes,
            dpop_challenge,
        );
        presentation.scope_on_401 = self.scope_on_401;
        if self.sources.max_len == 0 {
            return Err(SettingError::InvalidTokenLimit.into());
        }
        if let Some(path) = self
            .mapping
            .role_claims
            .iter()
            .find(|path| path.is_empty() || path.split('.').any(str::is_empty))
        {
            return Err(SettingError::InvalidRoleClaim(path.clone()).into());
        }
        let (keys, algorithms) = self.key_sources()?;
        let issuers = keys.issuers;
        self.metadata.check_audience(&self.audience)?;
        let audiences = match std::mem::replace(&mut self.audience, Expect::Unset) {
            Expect::Unset => return Err(IssuerError::AudienceNotConfigured.into()),
            Expect::Any => None,
            Expect::OneOf(audiences) => Some(audiences),
        };
        let mut mapping = std::mem::take(&mut self.mapping);
        mapping.qualify_by_issuer = self
            .identity_by_issuer
            .unwrap_or_else(|| issuers.as_ref().is_some_and(|issuers| issuers.len() > 1));
        #[cfg(feature = "introspection")]
        let introspection = self
            .introspection
            .take()
            .map(|config| config.introspector(issuers.as_deref(), self.leeway, self.allow_http))
            .transpose()?;
        let metadata = located.map(|located| {
            self.metadata.document(located, issuers.as_deref(), self.sources.query, dpop.as_ref())
        });
        Ok(Verifier::new(Settings {
            #[cfg(feature = "introspection")]
            introspection,
            metadata,
            keys: keys.by_issuer,
            algorithms,
            rules: ClaimRules {
                issuers,
                audiences,
                leeway: self.leeway.as_secs(),
                profile: self.profile,
                audience_claim: self.audience_claim,
                access_token_marks: self.access_token_marks,
            },
            sources: self.sources,
            mapping,
            presentation: Arc::new(presentation),
            token_cache: self.token_cache,
            leeway: self.leeway,
            env_issuers: self.env_issuers,
            dpop,
            audit: self.audit,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::config::error::KeysError;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn complete() -> VerifierBuilder {
        Verifier::builder().issuer("iss").audience("aud").key(Key::hmac(SECRET).unwrap())
    }

    #[test]
    fn role_claims_are_dotted_paths() {
        for bad in ["", "realm_access..roles", ".roles", "roles."] {
            let error = complete().role_claims([bad]).build().unwrap_err();
            assert!(
                matches!(error, ConfigError::Setting(SettingError::InvalidRoleClaim(path)) if path == bad)
            );
        }
        assert!(complete().role_claims(["cognito:groups", "a.b.c"]).build().is_ok());
    }

    #[test]
    fn a_complete_configuration_builds() {
        let verifier = complete().build().unwrap();
        assert_eq!(verifier.algorithms(), [Algorithm::HS256]);
        assert_eq!(verifier.presentation().realm(), "api");
    }

    #[test]
    fn issuer_audience_and_keys_are_required() {
        assert!(matches!(
            Verifier::builder().audience("a").key(Key::hmac(SECRET).unwrap()).build(),
            Err(ConfigError::Issuers(IssuerError::IssuerNotConfigured))
        ));
        assert!(matches!(
            Verifier::builder().issuer("i").key(Key::hmac(SECRET).unwrap()).build(),
            Err(ConfigError::Issuers(IssuerError::AudienceNotConfigured))
        ));
        assert!(matches!(
            Verifier::builder().issuer("i").audience("a").build(),
            Err(ConfigError::Keys(KeysError::NoKeys))
        ));
        assert!(
            Verifier::builder()
                .dangerous()
                .any_issuer()
                .dangerous()
                .any_audience()
                .key(Key::hmac(SECRET).unwrap())
                .build()
                .is_ok()
        );
    }

    #[test]
    fn algorithms_must_have_a_key() {
        let err = complete().algorithms([Algorithm::RS256]).build().unwrap_err();
        assert!(matches!(err, ConfigError::Keys(KeysError::AlgorithmWithoutKey(Algorithm::RS256))));
        assert!(err.to_string().contains("RS256"));
    }

    #[test]
    fn bad_realm_and_limit_are_refused() {
        let setting = |builder: VerifierBuilder| match builder.build() {
            Err(ConfigError::Setting(error)) => error,
            other => panic!("expected a setting error, got {other:?}"),
        };
        assert!(matches!(setting(complete().realm("a\"b")), SettingError::InvalidRealm(_)));
        assert!(std::error::Error::source(&setting(complete().realm("a\"b"))).is_some());
        assert!(matches!(setting(complete().max_token_len(0)), SettingError::InvalidTokenLimit));
        assert!(matches!(
            setting(complete().leeway(Duration::from_secs(u64::MAX))),
            SettingError::LeewayTooLarge
        ));
        assert!(complete().leeway(MAX_LEEWAY).build().is_ok());
    }
}
