//! Configuring a [`Verifier`]: in code with [`VerifierBuilder`], or from the environment
//! ([`env`](super::env)); [`VerifierBuilder::build`] checks the whole configuration at once.

use std::sync::Arc;
use std::time::Duration;

use super::cache::TokenCache;
use super::claims::{ClaimMapping, ClaimRules, ScopeClaim};
use super::env;
use super::token::{DEFAULT_MAX_TOKEN_LEN, TokenSources};
use super::{Settings, Verifier};
use crate::keys::{Algorithm, Key, KeyError, KeySet, KeySource};
#[cfg(feature = "remote")]
use crate::keys::{KeyLocation, KeyRefresh};
use crate::respond::{Challenge, ChallengeError, Disclosure, Presentation};

/// The realm used when none is configured.
pub const DEFAULT_REALM: &str = "api";

/// The clock skew tolerated on `exp` and `nbf` when none is configured.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The largest leeway accepted: clock skew is seconds, not days.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60 * 60);

/// The configuration cannot make a working verifier.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No key was configured.
    #[error("no verification key is configured: add one with .key(..) or .keys(..)")]
    NoKeys,
    /// Neither an issuer nor the opt-out was configured.
    #[error(
        "no issuer is configured: set one with .issuer(..) or PORTCULLIS_ISSUER, or accept any with .any_issuer()"
    )]
    IssuerNotConfigured,
    /// Neither an audience nor the opt-out was configured.
    #[error(
        "no audience is configured: set one with .audience(..) or PORTCULLIS_AUDIENCE, or accept any with .any_audience()"
    )]
    AudienceNotConfigured,
    /// An algorithm was allowed that no configured key can verify.
    #[error("the algorithm {0:?} is allowed but no configured key can verify it")]
    AlgorithmWithoutKey(Algorithm),
    /// The realm cannot appear in a challenge.
    #[error("invalid realm: {0}")]
    InvalidRealm(#[source] ChallengeError),
    /// The leeway is so large that expired tokens would stay valid for days.
    #[error("the leeway must not exceed one hour")]
    LeewayTooLarge,
    /// The token size limit is zero.
    #[error("the token size limit must be at least one byte")]
    InvalidTokenLimit,
    /// A key could not be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// An environment variable holds a value that cannot be used.
    #[error("{var}: {problem}")]
    Env {
        /// The variable.
        var: &'static str,
        /// What is wrong with its value.
        problem: &'static str,
    },
    /// A JWKS or issuer URL that cannot be used to fetch keys.
    #[error("cannot fetch keys from {url:?}: {problem}")]
    InvalidKeyUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Keys were configured in code and also to be fetched from a URL.
    #[error(
        "keys are configured both in code (.key/.keys) and remotely (.jwks_url/.oidc_issuer): choose one"
    )]
    ConflictingKeySources,
    /// OIDC discovery needs exactly one issuer.
    #[error("OIDC discovery needs exactly one issuer")]
    DiscoveryNeedsOneIssuer,
    /// The HTTP client for remote keys could not be built (no TLS roots, say).
    #[error("cannot build the HTTP client for remote keys: {0}")]
    HttpClient(String),
    // --- introspection (issue 17) ---
    /// An introspection endpoint URL (or the issuer whose discovery document names it) that
    /// cannot be used.
    #[error("cannot introspect tokens at {url:?}: {problem}")]
    InvalidIntrospectionUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Unset,
    OneOf(Vec<String>),
    Any,
}

impl Expect {
    fn add(&mut self, value: String) {
        match self {
            Self::OneOf(values) if values.contains(&value) => {}
            Self::OneOf(values) => values.push(value),
            _ => *self = Self::OneOf(vec![value]),
        }
    }
}

/// Builds a [`Verifier`]. Issuer and audience are required unless explicitly waived.
#[derive(Debug, Clone)]
#[must_use]
pub struct VerifierBuilder {
    realm: String,
    issuer: Expect,
    audience: Expect,
    keys: Vec<Key>,
    algorithms: Option<Vec<Algorithm>>,
    leeway: Duration,
    mapping: ClaimMapping,
    disclosure: Disclosure,
    advertise_scopes: bool,
    sources: TokenSources,
    jwks_url: Option<String>,
    discovery: Discovery,
    #[cfg(feature = "remote")]
    key_refresh: KeyRefresh,
    token_cache: TokenCache,
    /// Introspection of opaque tokens (issue 17; its methods are in `introspected.rs`).
    #[cfg(feature = "remote")]
    pub(super) introspection: Option<crate::introspect::Introspection>,
}

/// Whether keys are found by OIDC discovery from the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Explicit discovery is asked for with `oidc_issuer`, a method of the `remote` feature.
#[cfg_attr(not(feature = "remote"), allow(dead_code))]
enum Discovery {
    Off,
    /// Asked for in code: an error beside keys configured in code.
    Explicit,
    /// Implied by `PORTCULLIS_ISSUER` alone: used only when no key is configured otherwise.
    FromEnv,
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
            mapping: ClaimMapping::default(),
            disclosure: Disclosure::Production,
            advertise_scopes: true,
            sources: TokenSources { query: false, max_len: DEFAULT_MAX_TOKEN_LEN },
            jwks_url: None,
            discovery: Discovery::Off,
            #[cfg(feature = "remote")]
            key_refresh: KeyRefresh::default(),
            token_cache: TokenCache::default(),
            #[cfg(feature = "remote")]
            introspection: None,
        }
    }

    /// Reads the `PORTCULLIS_*` variables (see [`env`](mod@crate::env)) over a new
    /// configuration.
    ///
    /// Unset variables leave the defaults; a variable set to something unusable is an error that
    /// names it.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new().with_env(|name| std::env::var_os(name))
    }

    /// Applies the `PORTCULLIS_*` variables, read through `lookup`, to this configuration.
    ///
    /// ```
    /// use portcullis::VerifierBuilder;
    ///
    /// let vars = [("PORTCULLIS_ISSUER", "https://issuer.example"), ("PORTCULLIS_DISCLOSURE", "development")];
    /// let builder = VerifierBuilder::new()
    ///     .with_env(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()))?;
    /// # Ok::<(), portcullis::ConfigError>(())
    /// ```
    pub fn with_env(
        mut self,
        lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Self, ConfigError> {
        let read = |var| env::read(&lookup, var);
        let issuer_from_env = read(env::ISSUER)?;
        if let Some(issuer) = &issuer_from_env {
            self = self.issuer(issuer.clone());
        }
        if let Some(audiences) = read(env::AUDIENCE)? {
            for audience in audiences.split(',').map(str::trim) {
                if audience.is_empty() {
                    return Err(ConfigError::Env {
                        var: env::AUDIENCE,
                        problem: "the comma-separated list holds an empty audience",
                    });
                }
                self = self.audience(audience);
            }
        }
        if let Some(realm) = read(env::REALM)? {
            Challenge::new(realm.as_str()).map_err(|_| ConfigError::Env {
                var: env::REALM,
                problem: "the realm may only hold printable ASCII other than '\"' and '\\'",
            })?;
            self = self.realm(realm);
        }
        if let Some(disclosure) = read(env::DISCLOSURE)? {
            let disclosure = disclosure.parse().map_err(|_| ConfigError::Env {
                var: env::DISCLOSURE,
                problem: "the value must be `production` or `development`",
            })?;
            self = self.disclosure(disclosure);
        }
        if let Some(url) = read(env::JWKS_URL)? {
            if !cfg!(feature = "remote") {
                return Err(ConfigError::Env {
                    var: env::JWKS_URL,
                    problem: "fetching keys from a URL needs portcullis's `remote` feature",
                });
            }
            self.jwks_url = Some(url);
        } else if issuer_from_env.is_some() && self.discovery == Discovery::Off {
            // `PORTCULLIS_ISSUER` alone: an issuer set in code implies nothing about keys.
            self.discovery = Discovery::FromEnv;
        }
        // Introspection (issue 17): `introspected.rs`.
        #[cfg(feature = "remote")]
        {
            self = super::introspected::apply_env(self, &lookup)?;
        }
        #[cfg(not(feature = "remote"))]
        if let Some(var) = [env::INTROSPECTION_URL, env::INTROSPECTION_CLIENT_ID]
            .into_iter()
            .find(|var| lookup(var).is_some())
        {
            return Err(ConfigError::Env {
                var,
                problem: "introspecting tokens needs portcullis's `remote` feature",
            });
        }
        Ok(self)
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

    /// Accepts tokens from any issuer, or without `iss`. Only for a single-issuer key set.
    pub fn any_issuer(mut self) -> Self {
        self.issuer = Expect::Any;
        self
    }

    /// An accepted audience; call again to accept several. The `aud` claim (a string or an
    /// array) becomes required and must name one of them.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience.add(audience.into());
        self
    }

    /// Accepts tokens for any audience, or without `aud`.
    pub fn any_audience(mut self) -> Self {
        self.audience = Expect::Any;
        self
    }

    /// Adds a verification key.
    pub fn key(mut self, key: Key) -> Self {
        self.keys.push(key);
        self
    }

    /// Adds every key of a set (for example [`KeySet::from_jwks`]).
    pub fn keys(mut self, keys: KeySet) -> Self {
        self.keys.extend(keys);
        self
    }

    /// Fetches the keys from a JWKS URL (`https`; `http` only to a loopback address), and keeps
    /// them fresh as [`KeyRefresh`] says. Accepts the asymmetric algorithms unless
    /// [`algorithms`](Self::algorithms) narrows them.
    ///
    /// ```
    /// let verifier = portcullis::Verifier::builder()
    ///     .issuer("https://tenant.eu.auth0.com/")
    ///     .audience("https://api.example")
    ///     .jwks_url("https://tenant.eu.auth0.com/.well-known/jwks.json")
    ///     .build()?;
    /// # Ok::<(), portcullis::ConfigError>(())
    /// ```
    #[cfg(feature = "remote")]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Expects tokens from `issuer`, and finds its keys through OpenID Connect discovery:
    /// `{issuer}/.well-known/openid-configuration` names the `jwks_uri`, and must name
    /// `issuer` exactly.
    ///
    /// ```
    /// let verifier = portcullis::Verifier::builder()
    ///     .oidc_issuer("https://keycloak.example/realms/acme")
    ///     .audience("documents-api")
    ///     .build()?;
    /// # Ok::<(), portcullis::ConfigError>(())
    /// ```
    #[cfg(feature = "remote")]
    pub fn oidc_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer.add(issuer.into());
        self.discovery = Discovery::Explicit;
        self
    }

    /// How many verified tokens are remembered, and for how long, so that a token sent again
    /// skips signature verification (on by default: see [`TokenCache`]).
    pub fn token_cache(mut self, cache: TokenCache) -> Self {
        self.token_cache = cache;
        self
    }

    /// How remote keys are fetched and refreshed.
    #[cfg(feature = "remote")]
    pub fn key_refresh(mut self, refresh: KeyRefresh) -> Self {
        self.key_refresh = refresh;
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

    /// The claims scopes are read from. Defaults to `scope` alone.
    pub fn scope_claims(mut self, claims: impl IntoIterator<Item = ScopeClaim>) -> Self {
        self.mapping.scope_claims = claims.into_iter().collect();
        self
    }

    /// Identifies callers for ownership by this claim instead of `sub`; tokens without it are
    /// invalid.
    pub fn principal_id_claim(mut self, claim: impl Into<String>) -> Self {
        self.mapping.principal_id_claim = Some(claim.into());
        self
    }

    /// How much denials tell the client. Defaults to [`Disclosure::Production`].
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

    /// Tokens longer than this many bytes are refused before decoding. Defaults to 8 KiB.
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.sources.max_len = bytes;
        self
    }

    /// Also accepts the token in the `access_token` query parameter (RFC 6750 §2.3).
    ///
    /// Off by default: URLs are logged by proxies and servers, and tokens in them leak. A request
    /// that uses both the header and the query parameter is refused with 400.
    pub fn allow_query_token(mut self, allow: bool) -> Self {
        self.sources.query = allow;
        self
    }

    /// Checks the configuration and builds the verifier.
    pub fn build(mut self) -> Result<Verifier, ConfigError> {
        // Pin the crypto backend we were built and measured with; if another crate enabled a
        // second backend, `jsonwebtoken` would otherwise refuse to pick one at verification time.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();

        let remote = self.remote_source()?;
        let challenge =
            Challenge::new(std::mem::take(&mut self.realm)).map_err(ConfigError::InvalidRealm)?;
        let presentation =
            Presentation::from_parts(challenge, self.disclosure, self.advertise_scopes);
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge);
        }
        if self.sources.max_len == 0 {
            return Err(ConfigError::InvalidTokenLimit);
        }
        let mut keys = KeySet::new();
        for key in self.keys {
            keys.insert(key)?;
        }
        let (keys, algorithms) = match remote {
            Some(_) if !keys.is_empty() => return Err(ConfigError::ConflictingKeySources),
            Some(remote) => remote,
            // Introspection alone (issue 17): opaque tokens only, every JWT refused.
            #[cfg(feature = "remote")]
            None if keys.is_empty() && self.introspection.is_some() => {
                (KeySource::Fixed(Arc::new(keys)), Vec::new())
            }
            None => {
                let algorithms = Self::fixed_algorithms(&mut keys, self.algorithms)?;
                (KeySource::Fixed(Arc::new(keys)), algorithms)
            }
        };
        let issuers = match self.issuer {
            Expect::Unset => return Err(ConfigError::IssuerNotConfigured),
            Expect::Any => None,
            Expect::OneOf(issuers) => Some(issuers),
        };
        let audiences = match self.audience {
            Expect::Unset => return Err(ConfigError::AudienceNotConfigured),
            Expect::Any => None,
            Expect::OneOf(audiences) => Some(audiences),
        };
        #[cfg(feature = "remote")]
        let introspection = self
            .introspection
            .map(|config| {
                super::introspected::introspector(config, issuers.as_deref(), self.leeway.as_secs())
            })
            .transpose()?;
        Ok(Verifier::new(Settings {
            #[cfg(feature = "remote")]
            introspection,
            keys,
            algorithms,
            rules: ClaimRules { issuers, audiences, leeway: self.leeway.as_secs() },
            sources: self.sources,
            mapping: self.mapping,
            presentation: Arc::new(presentation),
            token_cache: self.token_cache,
            leeway: self.leeway,
        }))
    }

    /// The remote key source and its algorithms, when keys are to be fetched.
    #[cfg(feature = "remote")]
    fn remote_source(&self) -> Result<Option<(KeySource, Vec<Algorithm>)>, ConfigError> {
        let Some(location) = self.remote_location()? else { return Ok(None) };
        let algorithms = match &self.algorithms {
            Some(algorithms) => {
                // A remote set is public: shared-secret algorithms can never apply.
                if let Some(alg) =
                    algorithms.iter().find(|alg| !Algorithm::ASYMMETRIC.contains(alg))
                {
                    return Err(ConfigError::AlgorithmWithoutKey(*alg));
                }
                algorithms.clone()
            }
            None => Algorithm::ASYMMETRIC.to_vec(),
        };
        let source = KeySource::remote(location, self.key_refresh.clone(), algorithms.clone())
            .map_err(|error| ConfigError::HttpClient(error.to_string()))?;
        Ok(Some((source, algorithms)))
    }

    /// Without the `remote` feature, keys are configured in code only.
    #[cfg(not(feature = "remote"))]
    #[allow(clippy::unnecessary_wraps, clippy::unused_self)]
    fn remote_source(&self) -> Result<Option<(KeySource, Vec<Algorithm>)>, ConfigError> {
        Ok(None)
    }

    /// Where remote keys come from, if anywhere.
    #[cfg(feature = "remote")]
    fn remote_location(&self) -> Result<Option<KeyLocation>, ConfigError> {
        fn invalid(url: &str) -> impl FnOnce(&'static str) -> ConfigError + '_ {
            move |problem| ConfigError::InvalidKeyUrl { url: url.to_owned(), problem }
        }
        if let Some(url) = &self.jwks_url {
            return KeyLocation::jwks(url).map(Some).map_err(invalid(url));
        }
        let wanted = match self.discovery {
            Discovery::Off => false,
            Discovery::Explicit => true,
            Discovery::FromEnv => self.keys.is_empty(),
        };
        if !wanted {
            return Ok(None);
        }
        match &self.issuer {
            Expect::OneOf(issuers) if issuers.len() == 1 => {
                KeyLocation::discovery(&issuers[0]).map(Some).map_err(invalid(&issuers[0]))
            }
            _ => Err(ConfigError::DiscoveryNeedsOneIssuer),
        }
    }

    /// The algorithms accepted with keys configured in code: those asked for, each of which
    /// some key must verify (the keys are restricted to them), or every algorithm of the keys.
    fn fixed_algorithms(
        keys: &mut KeySet,
        algorithms: Option<Vec<Algorithm>>,
    ) -> Result<Vec<Algorithm>, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        Ok(match algorithms {
            Some(algorithms) => {
                if let Some(alg) =
                    algorithms.iter().find(|alg| !keys.iter().any(|k| k.allows(**alg)))
                {
                    return Err(ConfigError::AlgorithmWithoutKey(*alg));
                }
                for key in keys.iter_mut() {
                    key.restrict_to(&algorithms);
                }
                algorithms
            }
            None => {
                let mut all: Vec<Algorithm> = Vec::new();
                for alg in keys.iter().flat_map(Key::algorithms) {
                    if !all.contains(alg) {
                        all.push(*alg);
                    }
                }
                all
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn complete() -> VerifierBuilder {
        Verifier::builder().issuer("iss").audience("aud").key(Key::hmac(SECRET).unwrap())
    }

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
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
            Err(ConfigError::IssuerNotConfigured)
        ));
        assert!(matches!(
            Verifier::builder().issuer("i").key(Key::hmac(SECRET).unwrap()).build(),
            Err(ConfigError::AudienceNotConfigured)
        ));
        assert!(matches!(
            Verifier::builder().issuer("i").audience("a").build(),
            Err(ConfigError::NoKeys)
        ));
        assert!(
            Verifier::builder()
                .any_issuer()
                .any_audience()
                .key(Key::hmac(SECRET).unwrap())
                .build()
                .is_ok()
        );
    }

    #[test]
    fn algorithms_must_have_a_key() {
        let err = complete().algorithms([Algorithm::RS256]).build().unwrap_err();
        assert!(matches!(err, ConfigError::AlgorithmWithoutKey(Algorithm::RS256)));
        assert!(err.to_string().contains("RS256"));
    }

    #[test]
    fn bad_realm_and_limit_are_refused() {
        assert!(matches!(complete().realm("a\"b").build(), Err(ConfigError::InvalidRealm(_))));
        assert!(matches!(complete().max_token_len(0).build(), Err(ConfigError::InvalidTokenLimit)));
        assert!(matches!(
            complete().leeway(Duration::from_secs(u64::MAX)).build(),
            Err(ConfigError::LeewayTooLarge)
        ));
        assert!(complete().leeway(MAX_LEEWAY).build().is_ok());
    }

    #[test]
    fn env_sets_every_value() {
        let builder = VerifierBuilder::new()
            .with_env(env(&[
                ("PORTCULLIS_ISSUER", "https://i.example"),
                ("PORTCULLIS_AUDIENCE", "a1, a2"),
                ("PORTCULLIS_REALM", "docs"),
                ("PORTCULLIS_DISCLOSURE", "Development"),
            ]))
            .unwrap();
        assert_eq!(builder.issuer, Expect::OneOf(vec!["https://i.example".into()]));
        assert_eq!(builder.audience, Expect::OneOf(vec!["a1".into(), "a2".into()]));
        let verifier = builder.key(Key::hmac(SECRET).unwrap()).build().unwrap();
        assert_eq!(verifier.presentation().realm(), "docs");
        assert_eq!(verifier.presentation().disclosure(), Disclosure::Development);
    }

    #[test]
    fn env_errors_name_the_variable() {
        let cases: [(&'static [(&'static str, &'static str)], &str); 5] = [
            (&[("PORTCULLIS_DISCLOSURE", "verbose")], "PORTCULLIS_DISCLOSURE"),
            (&[("PORTCULLIS_ISSUER", "  ")], "PORTCULLIS_ISSUER"),
            (&[("PORTCULLIS_AUDIENCE", "a,,b")], "PORTCULLIS_AUDIENCE"),
            (&[("PORTCULLIS_REALM", "a\"b")], "PORTCULLIS_REALM"),
            (&[("PORTCULLIS_REALM", "é")], "PORTCULLIS_REALM"),
        ];
        for (vars, var) in cases {
            let err = VerifierBuilder::new().with_env(env(vars)).unwrap_err();
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }

    #[test]
    #[cfg(feature = "remote")]
    fn remote_key_sources() {
        let remote = || Verifier::builder().issuer("https://i.example").audience("aud");
        const JWKS: &[(&str, &str)] = &[("PORTCULLIS_JWKS_URL", "https://i.example/jwks")];
        // A JWKS URL, or the issuer alone (discovery), is a key source.
        assert!(remote().with_env(env(JWKS)).unwrap().build().is_ok());
        const ISSUER_ONLY: &[(&str, &str)] =
            &[("PORTCULLIS_ISSUER", "https://i.example"), ("PORTCULLIS_AUDIENCE", "a")];
        assert!(Verifier::builder().with_env(env(ISSUER_ONLY)).unwrap().build().is_ok());
        assert!(remote().oidc_issuer("https://i.example").build().is_ok());
        // The issuer from the environment beside keys in code only sets the expected issuer.
        assert!(
            Verifier::builder()
                .with_env(env(ISSUER_ONLY))
                .unwrap()
                .key(Key::hmac(SECRET).unwrap())
                .build()
                .is_ok()
        );
        // Keys in code and a remote source at once are refused.
        let err = complete().with_env(env(JWKS)).unwrap().build().unwrap_err();
        assert!(matches!(err, ConfigError::ConflictingKeySources), "{err}");
        let err = Verifier::builder()
            .audience("aud")
            .key(Key::hmac(SECRET).unwrap())
            .oidc_issuer("https://i.example")
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::ConflictingKeySources), "{err}");
        // Clear-text URLs other than loopback, and shared-secret algorithms, are refused.
        for url in ["http://i.example/jwks", "not a url", "file:///etc/jwks.json"] {
            let err = remote().jwks_url(url).build().unwrap_err();
            assert!(matches!(err, ConfigError::InvalidKeyUrl { .. }), "{url}: {err}");
        }
        assert!(remote().jwks_url("http://127.0.0.1:9/jwks").build().is_ok());
        let err =
            remote().jwks_url("https://i.example/jwks").algorithms([Algorithm::HS256]).build();
        assert!(matches!(err, Err(ConfigError::AlgorithmWithoutKey(Algorithm::HS256))));
        // An issuer set in code, and an environment without key settings: no discovery.
        let err = remote().with_env(env(&[])).unwrap().build().unwrap_err();
        assert!(matches!(err, ConfigError::NoKeys), "{err}");
        let two = remote().issuer("https://other.example").oidc_issuer("https://i.example");
        assert!(matches!(two.build(), Err(ConfigError::DiscoveryNeedsOneIssuer)));
    }
}
