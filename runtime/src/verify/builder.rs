//! Configuring a [`Verifier`]: in code with [`VerifierBuilder`], or from the environment
//! ([`env`](super::env)); [`VerifierBuilder::build`] checks the whole configuration at once.

use std::sync::Arc;
use std::time::Duration;

use super::cache::TokenCache;
use super::claims::{AccessTokenMark, ClaimMapping, ClaimRules, ScopeClaim};
use super::env;
use super::issuers::{KeysByIssuer, TrustedIssuer};
use super::metadata::{Document, Metadata, audience_is_resource, check_resource};
use super::preset::Preset;
use super::profile::TokenProfile;
use super::token::{DEFAULT_MAX_TOKEN_LEN, TokenSources};
use super::{Settings, Verifier};
use crate::dpop::{
    DEFAULT_ALGORITHMS, DEFAULT_IAT_WINDOW, DpopMode, DpopNonces, DpopSettings, MemoryReplayStore,
    ReplayStore, normalize_uri,
};
use crate::keys::{Algorithm, Key, KeyError, KeySet, KeySource};
#[cfg(feature = "remote")]
use crate::keys::{KeyLocation, KeyRefresh};
use crate::respond::{Challenge, ChallengeError, Disclosure, DpopChallenge, Presentation};
use crate::scope::{is_scope_char, is_scope_token};

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
        "no issuer is configured: set one with .issuer(..) or PORTCULLIS_ISSUER, or accept any with .any_issuer() or PORTCULLIS_ISSUER=*"
    )]
    IssuerNotConfigured,
    /// Any issuer (`.any_issuer()`, `PORTCULLIS_ISSUER=*`) beside issuers with keys of their
    /// own ([`TrustedIssuer`]): a token of any issuer could then take the identity of a
    /// trusted issuer's caller, since no pair (issuer, subject) is kept.
    #[error(
        "any issuer cannot be accepted beside issuers with keys of their own (.trusted_issuer): name the issuers"
    )]
    AnyIssuerWithTrustedIssuers,
    /// `.identity_by_issuer(false)` (as `Preset::google()` sets for Google's two spellings)
    /// beside issuers with keys of their own: their callers would share identities.
    #[error(
        "identity_by_issuer(false) would merge the callers of issuers with keys of their own (.trusted_issuer) with the others': keep the identity by issuer"
    )]
    IdentityMergedAcrossTrustedIssuers,
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
    /// A role claim path that names no claim: empty, or with an empty segment (`a..b`).
    #[error("the role claim path {0:?} is empty or has an empty segment")]
    InvalidRoleClaim(String),
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
    #[error("{}cannot fetch keys from {url:?}: {problem}", var_prefix(*.var))]
    InvalidKeyUrl {
        /// The environment variable it came from, if it did.
        var: Option<&'static str>,
        /// The URL.
        url: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The issuer's discovery document names another issuer: tokens would all be refused.
    /// Reported by [`Verifier::check_issuers`] at start.
    #[error(
        "{}the discovery document of the issuer {configured:?} names the issuer {discovered:?}: configure it exactly as the provider spells it{}",
        var_prefix(*.var),
        .hint.map(|hint| format!(" ({hint})")).unwrap_or_default()
    )]
    IssuerMismatch {
        /// The environment variable the issuer came from, if it did.
        var: Option<&'static str>,
        /// The issuer as configured.
        configured: String,
        /// The issuer as the discovery document names it.
        discovered: String,
        /// What the two spellings have in common, when they differ only by a trailing slash, a
        /// host alias or letter case.
        hint: Option<&'static str>,
    },
    /// Keys were configured in code and also to be fetched from a URL.
    #[error(
        "keys are configured both in code (.key/.keys) and remotely (.jwks_url/.oidc_issuer): choose one"
    )]
    ConflictingKeySources,
    /// No longer returned: several issuers are each discovered on their own, and introspection
    /// says [`ConfigError::IntrospectionNeedsIssuer`].
    #[error("OIDC discovery needs exactly one issuer")]
    DiscoveryNeedsOneIssuer,
    /// Introspection without [`Introspection::issuer`](crate::introspection::Introspection::issuer) while
    /// several issuers, or any issuer, are accepted: an endpoint vouches for one issuer's tokens.
    #[error(
        "introspection needs to know which issuer its endpoint answers for: with several (or any) accepted issuers, set Introspection::issuer"
    )]
    IntrospectionNeedsIssuer,
    /// [`Introspection::issuer`](crate::introspection::Introspection::issuer) names an issuer the verifier does
    /// not accept.
    #[error("introspection answers for {0:?}, which is not an accepted issuer")]
    IntrospectionIssuerNotAccepted(String),
    /// An issuer with keys of its own ([`TrustedIssuer`]) has none, or more than one source.
    #[error("the issuer {issuer:?}: {problem}")]
    TrustedIssuerKeys {
        /// The issuer.
        issuer: String,
        /// What is wrong with its keys.
        problem: &'static str,
    },
    /// The HTTP client for remote keys could not be built (no TLS roots, say).
    #[error("cannot build the HTTP client for remote keys: {0}")]
    HttpClient(String),
    // --- DPoP (issue 19) ---
    /// DPoP is on without the public URL of the API, which a proof's `htu` names.
    #[error(
        "DPoP is on but the API's public URL is not configured: set it with .resource(..) (or .dpop_origin(..)) or PORTCULLIS_RESOURCE"
    )]
    DpopNeedsOrigin,
    /// The DPoP origin is not an `http` or `https` URL without query, fragment or user
    /// information.
    #[error("the DPoP origin {0:?} is not an http(s) URL without query, fragment or user info")]
    InvalidDpopOrigin(String),
    /// A DPoP proof algorithm that is symmetric, or no algorithm at all.
    #[error("DPoP proofs need at least one algorithm, and only asymmetric ones")]
    InvalidDpopAlgorithms,
    /// The DPoP `iat` window is zero or longer than [`MAX_LEEWAY`].
    #[error("the DPoP iat window must be between one second and one hour")]
    InvalidDpopWindow,
    /// The DPoP nonce lifetime is shorter than a second or longer than
    /// [`DpopNonces::MAX_LIFETIME`].
    #[error("the DPoP nonce lifetime must be between one second and one hour")]
    InvalidDpopNonceLifetime,
    // --- protected resource metadata (issue 18) ---
    /// The resource identifier (RFC 9728) is not an `https` URL (`http` only to a loopback
    /// host, or with `allow_http`) without query, fragment or user information.
    #[error("{}the resource identifier {url:?} cannot be used: {problem}", var_prefix(*.var))]
    InvalidResource {
        /// `PORTCULLIS_RESOURCE` when it came from the environment.
        var: Option<&'static str>,
        /// The identifier.
        url: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A scope of [`VerifierBuilder::scopes_supported`] is not an RFC 6749 `scope-token`.
    #[error("scopes_supported: {0:?} is not an RFC 6749 scope-token")]
    InvalidSupportedScope(String),
    /// The [`VerifierBuilder::resource_documentation`] is not an `http(s)` URL of printable
    /// ASCII.
    #[error("resource_documentation: {0:?} is not an http(s) URL")]
    InvalidResourceDocumentation(String),
    /// [`VerifierBuilder::audience_is_resource`] (an MCP server, which must accept only tokens
    /// issued for it) while the accepted audiences are not exactly the resource identifier:
    /// another audience, any audience, or no resource identifier at all.
    #[error("{}", super::metadata::audience_mismatch(.resource.as_deref(), .audiences.as_deref()))]
    AudienceIsNotResource {
        /// The resource identifier, `None` when none is configured.
        resource: Option<String>,
        /// The accepted audiences (empty when none is configured), `None` when any audience is
        /// accepted.
        audiences: Option<Vec<String>>,
    },
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
    /// An introspection setting that cannot work (a bound of zero calls, an empty token prefix).
    #[error("introspection: {setting}: {problem}")]
    InvalidIntrospectionSetting {
        /// The setting, as [`Introspection`](crate::introspection::Introspection)'s method names it.
        setting: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// `"VAR: "` when a setting came from the environment variable `VAR`.
fn var_prefix(var: Option<&'static str>) -> String {
    var.map(|var| format!("{var}: ")).unwrap_or_default()
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
    profile: TokenProfile,
    mapping: ClaimMapping,
    disclosure: Disclosure,
    advertise_scopes: bool,
    sources: TokenSources,
    jwks_url: Option<String>,
    discovery: Discovery,
    /// Plain `http` key URLs to any host (development set-ups).
    allow_http: bool,
    /// Issuers with keys of their own.
    trusted: Vec<TrustedIssuer>,
    /// The claim naming the audience, when not `aud`.
    audience_claim: Option<String>,
    /// What claims must say of an access token (`require_claim_value` and its kin).
    access_token_marks: Vec<AccessTokenMark>,
    /// Whether `Principal::id` pairs the issuer with the subject; by default when more than one
    /// issuer is accepted.
    identity_by_issuer: Option<bool>,
    /// The variables the JWKS URL and the issuers came from, to name them in errors.
    jwks_url_var: Option<&'static str>,
    /// The issuers `PORTCULLIS_ISSUER` named.
    env_issuers: Vec<String>,
    #[cfg(feature = "remote")]
    key_refresh: KeyRefresh,
    token_cache: TokenCache,
    /// DPoP (issue 19).
    dpop: DpopConfig,
    /// RFC 9728 protected resource metadata (issue 18).
    metadata: MetadataConfig,
    /// Introspection of opaque tokens (issue 17; its methods are in `introspected.rs`).
    #[cfg(feature = "remote")]
    pub(super) introspection: Option<crate::introspect::Introspection>,
}

/// The protected resource metadata as configured, checked by [`VerifierBuilder::build`].
#[derive(Debug, Clone, Default)]
struct MetadataConfig {
    /// The resource identifier: the API's public URL (its origin is DPoP's unless one is set).
    resource: Option<String>,
    /// `PORTCULLIS_RESOURCE` when the identifier came from it.
    resource_var: Option<&'static str>,
    scopes_supported: Vec<String>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    /// Whether the accepted audiences must be exactly the resource identifier.
    audience_is_resource: bool,
}

impl MetadataConfig {
    /// The document's path and URL, `None` without a resource identifier.
    fn locate(&self, allow_http: bool) -> Result<Option<(String, String)>, ConfigError> {
        let Some(url) = &self.resource else { return Ok(None) };
        let resource = check_resource(url, allow_http).map_err(|problem| {
            ConfigError::InvalidResource { var: self.resource_var, url: url.clone(), problem }
        })?;
        if let Some(scope) = self.scopes_supported.iter().find(|scope| !is_scope_token(scope)) {
            return Err(ConfigError::InvalidSupportedScope(scope.clone()));
        }
        if let Some(doc) = &self.resource_documentation {
            let http = doc.split_once("://").is_some_and(|(scheme, rest)| {
                ["http", "https"].iter().any(|known| scheme.eq_ignore_ascii_case(known))
                    && !rest.is_empty()
            });
            if !http || !doc.bytes().all(is_scope_char) {
                return Err(ConfigError::InvalidResourceDocumentation(doc.clone()));
            }
        }
        Ok(Some((resource.metadata_path(), resource.metadata_url())))
    }
}

/// The DPoP settings as configured, checked by [`VerifierBuilder::build`].
#[derive(Debug, Clone)]
struct DpopConfig {
    mode: DpopMode,
    store: Option<Arc<dyn ReplayStore>>,
    origin: Option<String>,
    algorithms: Vec<Algorithm>,
    window: Duration,
    nonces: Option<DpopNonces>,
}

impl DpopConfig {
    /// `None` when DPoP is off. The origin defaults to the resource identifier's origin.
    fn settings(self, resource: Option<&str>) -> Result<Option<DpopSettings>, ConfigError> {
        if self.mode == DpopMode::Off {
            return Ok(None);
        }
        // The default store is this process's memory: right for one instance.
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryReplayStore::new()));
        // From the resource identifier, its origin only: a proof's `htu` is the origin and the
        // path the request names, and the identifier's own path is part of that path already
        // (`https://api.example/documents` serves `/documents/…`).
        let origin =
            self.origin.or_else(|| resource.map(origin_of)).ok_or(ConfigError::DpopNeedsOrigin)?;
        let normalized = normalize_uri(&origin)
            .filter(|_| !origin.contains(['?', '#']))
            .ok_or_else(|| ConfigError::InvalidDpopOrigin(origin.clone()))?;
        if self.algorithms.is_empty()
            || self.algorithms.iter().any(|alg| !Algorithm::ASYMMETRIC.contains(alg))
        {
            return Err(ConfigError::InvalidDpopAlgorithms);
        }
        if self.window.is_zero() || self.window > MAX_LEEWAY {
            return Err(ConfigError::InvalidDpopWindow);
        }
        if self.nonces.as_ref().is_some_and(|nonces| !nonces.lifetime_is_valid()) {
            return Err(ConfigError::InvalidDpopNonceLifetime);
        }
        Ok(Some(DpopSettings {
            required: self.mode == DpopMode::Required,
            algorithms: self.algorithms,
            origin: normalized.trim_end_matches('/').to_owned(),
            window: self.window.as_secs(),
            store,
            nonces: self.nonces,
        }))
    }
}

/// Whether the issuers' keys are found by discovery, as `PORTCULLIS_ISSUER` alone implies
/// (discovery asked for in code makes a [`TrustedIssuer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discovery {
    Off,
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
            profile: TokenProfile::Jwt,
            mapping: ClaimMapping::default(),
            disclosure: Disclosure::Production,
            advertise_scopes: true,
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
            #[cfg(feature = "remote")]
            key_refresh: KeyRefresh::default(),
            token_cache: TokenCache::default(),
            dpop: DpopConfig {
                mode: DpopMode::Off,
                store: None,
                origin: None,
                algorithms: DEFAULT_ALGORITHMS.to_vec(),
                window: DEFAULT_IAT_WINDOW,
                nonces: None,
            },
            metadata: MetadataConfig::default(),
            #[cfg(feature = "remote")]
            introspection: None,
        }
    }

    /// Reads the `PORTCULLIS_*` variables (see [`env`](mod@crate::config::env)) over a new
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
    /// use portcullis::config::VerifierBuilder;
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
        let read = |var| read_env(&lookup, var);
        let issuer_from_env = read(env::ISSUER)?;
        if let Some(issuers) = &issuer_from_env {
            if issuers == env::ANY_ISSUER {
                self = self.any_issuer();
            } else {
                for issuer in issuers.split_ascii_whitespace() {
                    if issuer == env::ANY_ISSUER {
                        return Err(ConfigError::Env {
                            var: env::ISSUER,
                            problem: "`*` (any issuer) cannot be combined with named issuers",
                        });
                    }
                    self = self.issuer(issuer);
                    self.env_issuers.push(issuer.to_owned());
                }
            }
        }
        if let Some(allow) = read(env::ALLOW_HTTP)? {
            self.allow_http = match allow.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(ConfigError::Env {
                        var: env::ALLOW_HTTP,
                        problem: "the value must be `true` or `false`",
                    });
                }
            };
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
        if let Some(profile) = read(env::TOKEN_PROFILE)? {
            let profile = profile.parse().map_err(|_| ConfigError::Env {
                var: env::TOKEN_PROFILE,
                problem: "the value must be `jwt` or `rfc9068`",
            })?;
            self = self.token_profile(profile);
        }
        if let Some(mode) = read(env::DPOP)? {
            let mode = mode.parse().map_err(|_| ConfigError::Env {
                var: env::DPOP,
                problem: "the value must be `off`, `allowed` or `required`",
            })?;
            self = self.dpop(mode);
        }
        if let Some(resource) = read(env::RESOURCE)? {
            // Checked by `build`, which knows whether clear-text `http` is allowed.
            self = self.resource(resource);
            self.metadata.resource_var = Some(env::RESOURCE);
        }
        let nonce_key = read(env::DPOP_NONCE_KEY)?.map(|key| nonce_key(&key)).transpose()?;
        if let Some(nonce) = read(env::DPOP_NONCE)? {
            self.dpop.nonces = match (nonce.to_ascii_lowercase().as_str(), &nonce_key) {
                ("true", _) => Some(DpopNonces::new()),
                ("false", None) => None,
                ("false", Some(_)) => {
                    return Err(ConfigError::Env {
                        var: env::DPOP_NONCE_KEY,
                        problem: "a nonce key is set but PORTCULLIS_DPOP_NONCE turns nonces off",
                    });
                }
                _ => {
                    return Err(ConfigError::Env {
                        var: env::DPOP_NONCE,
                        problem: "the value must be `true` or `false`",
                    });
                }
            };
        }
        if let Some(nonces) = nonce_key {
            self.dpop.nonces = Some(nonces);
        }
        if let Some(paths) = read(env::ROLES_CLAIM)? {
            let paths: Vec<&str> = paths.split(',').map(str::trim).collect();
            if paths.iter().any(|path| path.is_empty() || path.split('.').any(str::is_empty)) {
                return Err(ConfigError::Env {
                    var: env::ROLES_CLAIM,
                    problem: "a comma-separated list of dotted claim paths, none empty and no empty segment",
                });
            }
            self = self.role_claims(paths);
        }
        if let Some(url) = read(env::JWKS_URL)? {
            if !cfg!(feature = "remote") {
                return Err(ConfigError::Env {
                    var: env::JWKS_URL,
                    problem: "fetching keys from a URL needs portcullis's `remote` feature",
                });
            }
            self.jwks_url = Some(url);
            self.jwks_url_var = Some(env::JWKS_URL);
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
        if let Some(var) = [
            env::INTROSPECTION_URL,
            env::INTROSPECTION_CLIENT_ID,
            env::INTROSPECTION_MAX_CONCURRENT,
            env::INTROSPECTION_TOKEN_PREFIX,
        ]
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

    /// Allows plain `http://` JWKS and discovery URLs to hosts that are not loopback (default
    /// `false`; `PORTCULLIS_ALLOW_HTTP=true`). A warning is logged at start: keys fetched in
    /// clear text can be swapped by anyone on the path, so this is for development set-ups only
    /// (`http://keycloak:8080` in a `docker compose` file). A redirect from `https` to `http`
    /// is refused even so.
    #[cfg(feature = "remote")]
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Expects tokens from `issuer`, and finds its keys through discovery:
    /// `{issuer}/.well-known/openid-configuration` (OpenID Connect), or when that is not
    /// served, `/.well-known/oauth-authorization-server{path}` (RFC 8414), names the
    /// `jwks_uri`, and must name `issuer` exactly. The document is read again on the keys'
    /// schedule, and when a token's `kid` is still unknown after the keys were fetched again
    /// (within that same rate-limited fetch), so that a changed `jwks_uri` is followed. A
    /// document fetched over `https` must name an `https` `jwks_uri`: an `http` one, loopback
    /// included, is refused as a downgrade (the keys are then unavailable: 503, and a warning
    /// `could not fetch the key set` in the log).
    ///
    /// ```
    /// let verifier = portcullis::Verifier::builder()
    ///     .oidc_issuer("https://keycloak.example/realms/acme")
    ///     .audience("documents-api")
    ///     .build()?;
    /// # Ok::<(), portcullis::ConfigError>(())
    /// ```
    #[cfg(feature = "remote")]
    pub fn oidc_issuer(self, issuer: impl Into<String>) -> Self {
        self.trusted_issuer(TrustedIssuer::new(issuer).discovery())
    }

    /// Applies the settings of a known identity provider ([`Preset`]): its issuer, its keys'
    /// URL, its scope and audience claims. Settings made afterwards win; the audience is yours
    /// to set.
    pub fn preset(self, preset: Preset) -> Self {
        preset.apply(self)
    }

    /// The JWKS URL of a preset: the `remote` feature fetches it; without it, the build says
    /// the feature is needed (give the preset keys with [`Preset::key`]).
    pub(super) fn preset_jwks_url(mut self, url: String) -> Self {
        self.jwks_url = Some(url);
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

    /// A preset's rule for its provider's access tokens.
    pub(super) fn access_token_mark(mut self, mark: AccessTokenMark) -> Self {
        self.access_token_marks.push(mark);
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

    /// Whether a caller's identity for ownership ([`Principal::id`](crate::Principal::id)) is
    /// the pair (issuer, subject). By default it is when more than one issuer is accepted; turn
    /// it off for several spellings of one issuer (Google's `accounts.google.com` and
    /// `https://accounts.google.com`).
    pub fn identity_by_issuer(mut self, by_issuer: bool) -> Self {
        self.identity_by_issuer = Some(by_issuer);
        self
    }

    /// Accepts tokens of `issuer`, verified with its own keys only (RFC 8725 §3.8); call again
    /// for several issuers, each with its own key source. With more than one accepted issuer,
    /// a caller's identity for ownership is the pair (issuer, subject).
    ///
    /// ```
    /// use portcullis::{Verifier, config::TrustedIssuer};
    ///
    /// let verifier = Verifier::builder()
    ///     .trusted_issuer(TrustedIssuer::new("https://login.example.com/tenant-a").discovery())
    ///     .trusted_issuer(
    ///         TrustedIssuer::new("https://idp.partner.example")
    ///             .jwks_url("https://idp.partner.example/keys"),
    ///     )
    ///     .audience("documents-api")
    ///     .build()?;
    /// # Ok::<(), portcullis::ConfigError>(())
    /// ```
    pub fn trusted_issuer(mut self, issuer: TrustedIssuer) -> Self {
        match self.trusted.iter_mut().find(|known| known.issuer == issuer.issuer) {
            Some(known) => *known = issuer,
            None => self.trusted.push(issuer),
        }
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

    /// Whether DPoP-bound tokens (RFC 9449) are accepted with their proofs, and whether bearer
    /// tokens still are ([`DpopMode`]; `Off` by default, `PORTCULLIS_DPOP`). With DPoP on, a
    /// [replay store](Self::dpop_replay_store) and the [API's public URL](Self::dpop_origin)
    /// are required.
    ///
    /// ```
    /// # #[derive(Debug)] struct Shared;
    /// # impl portcullis::dpop::ReplayStore for Shared {
    /// #     fn remember(&self, _: [u8; 32], _: std::time::Duration)
    /// #         -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, portcullis::dpop::ReplayStoreError>> + Send + '_>>
    /// #     { Box::pin(async { Ok(true) }) }
    /// # }
    /// use portcullis::{Key, Verifier, dpop::DpopMode};
    ///
    /// let verifier = Verifier::builder()
    ///     .issuer("https://issuer.example")
    ///     .audience("documents-api")
    ///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
    ///     .dpop(DpopMode::Allowed)
    ///     .dpop_origin("https://api.example.com")
    ///     .dpop_replay_store(Shared)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dpop(mut self, mode: DpopMode) -> Self {
        self.dpop.mode = mode;
        self
    }

    /// Where the `jti`s of accepted DPoP proofs are remembered, so that each proof is accepted
    /// once (RFC 9449 §11.1). Defaults to a [`MemoryReplayStore`] of this process, right for one
    /// instance; with several, give them one shared store (`RedisReplayStore`, feature `redis`),
    /// so that a proof replayed against another instance is refused. A store that cannot answer
    /// makes the request 503.
    pub fn dpop_replay_store(mut self, store: impl ReplayStore) -> Self {
        self.dpop.store = Some(Arc::new(store));
        self
    }

    /// The public URL of this API as clients reach it (`https://api.example.com`, or with a
    /// path prefix: `https://example.com/api`), which a DPoP proof's `htu` names followed by
    /// the request's path. Compared after RFC 9449 §4.3's normalisation (case of scheme and
    /// host, default port, percent-encoding). Defaults to the [resource](Self::resource)
    /// identifier (`PORTCULLIS_RESOURCE`); set it only for DPoP, without metadata.
    pub fn dpop_origin(mut self, url: impl Into<String>) -> Self {
        self.dpop.origin = Some(url.into());
        self
    }

    /// The resource identifier of this API (RFC 9728; `PORTCULLIS_RESOURCE`): its public URL as
    /// clients reach it (`https://api.example.com`, or with a path: `https://example.com/api`),
    /// an `https` URL (`http` only to a loopback host, or with `allow_http`), without query or
    /// fragment. With it:
    ///
    /// - [`Verifier::metadata_router`] serves the protected resource metadata document at the
    ///   path derived from it (§3.1: `https://api.example/documents` →
    ///   `/.well-known/oauth-protected-resource/documents`);
    /// - every challenge (401, and 403 `insufficient_scope`) names that document's URL in
    ///   `resource_metadata` (§5.1);
    /// - it is DPoP's origin too, unless [`dpop_origin`](Self::dpop_origin) sets another.
    ///
    /// ```
    /// use portcullis::{Key, Verifier};
    ///
    /// let verifier = Verifier::builder()
    ///     .issuer("https://issuer.example")
    ///     .audience("https://api.example/documents")
    ///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
    ///     .resource("https://api.example/documents")
    ///     .scopes_supported(["docs:read", "docs:write"])
    ///     .build()?;
    /// assert_eq!(
    ///     verifier.resource_metadata_url(),
    ///     Some("https://api.example/.well-known/oauth-protected-resource/documents"),
    /// );
    /// let app: axum::Router = verifier.metadata_router().with_state(verifier);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resource(mut self, url: impl Into<String>) -> Self {
        self.metadata.resource = Some(url.into());
        self.metadata.resource_var = None;
        self
    }

    /// The scopes the metadata document lists in `scopes_supported`: the vocabulary of a
    /// [`scopes!`](crate::scopes) enum (`Scope::ALL`), or strings. Replaces those set before;
    /// none by default (the member is then left out). Each must be an RFC 6749 `scope-token`.
    pub fn scopes_supported<I, T>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.metadata.scopes_supported =
            scopes.into_iter().map(|scope| scope.as_ref().to_owned()).collect();
        self
    }

    /// The human-readable name of this API, the document's `resource_name`.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.metadata.resource_name = Some(name.into());
        self
    }

    /// A page for developers using this API, the document's `resource_documentation`: an
    /// `http(s)` URL.
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.metadata.resource_documentation = Some(url.into());
        self
    }

    /// Requires the accepted audiences to be exactly the [resource](Self::resource) identifier,
    /// as the MCP authorization specification requires of every MCP server: it accepts only the
    /// tokens issued for it (RFC 8707 `resource`, which the authorization server puts in `aud`),
    /// never one issued for another resource. [`build`](Self::build) then fails with
    /// [`ConfigError::AudienceIsNotResource`] unless a resource identifier is set and the
    /// audiences are that same string and nothing else: not
    /// [`any_audience`](Self::any_audience), not a second audience, not the URL spelt another
    /// way (a trailing slash, another case), which tokens would not name.
    ///
    /// ```
    /// use portcullis::{ConfigError, Key, Verifier};
    ///
    /// let mcp = || {
    ///     Verifier::builder()
    ///         .issuer("https://issuer.example")
    ///         .key(Key::hmac(b"a secret of at least thirty-two bytes").unwrap())
    ///         .resource("https://mcp.example.com/mcp")
    ///         .audience_is_resource()
    /// };
    /// assert!(mcp().audience("https://mcp.example.com/mcp").build().is_ok());
    /// assert!(matches!(
    ///     mcp().audience("https://api.example.com").build(),
    ///     Err(ConfigError::AudienceIsNotResource { .. }),
    /// ));
    /// ```
    pub fn audience_is_resource(mut self) -> Self {
        self.metadata.audience_is_resource = true;
        self
    }

    /// The algorithms DPoP proofs may be signed with, asymmetric only; by default ES256, ES384,
    /// RS256, PS256 and EdDSA. Challenges list them (`algs`).
    pub fn dpop_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.dpop.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How far a proof's `iat` may be from now, either way, before the [leeway](Self::leeway):
    /// 60 seconds by default, at most one hour. A proof's `jti` is remembered for twice as
    /// long.
    pub fn dpop_iat_window(mut self, window: Duration) -> Self {
        self.dpop.window = window;
        self
    }

    /// Requires server-provided nonces in DPoP proofs (RFC 9449 §9; off by default,
    /// `PORTCULLIS_DPOP_NONCE=true` for [`DpopNonces::new`]): a proof without a `nonce`, or
    /// with one this server did not issue or that expired, is refused with 401
    /// `use_dpop_nonce` and a fresh nonce in the `DPoP-Nonce` header, which the client puts in
    /// its next proof. Nonces need no shared state; several instances accept each other's when
    /// they are given one key ([`DpopNonces::with_key`]). Only with DPoP on.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis::{Key, Verifier, dpop::{DpopMode, DpopNonces}};
    ///
    /// # let shared_secret = [7u8; 32];
    /// let verifier = Verifier::builder()
    ///     .issuer("https://issuer.example")
    ///     .audience("documents-api")
    ///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
    ///     .dpop(DpopMode::Required)
    ///     .dpop_origin("https://api.example.com")
    ///     .dpop_nonces(DpopNonces::with_key(shared_secret)?.lifetime(Duration::from_secs(120)))
    ///     .build()?;
    /// assert!(verifier.dpop_nonce().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dpop_nonces(mut self, nonces: DpopNonces) -> Self {
        self.dpop.nonces = Some(nonces);
        self
    }

    /// Checks the configuration and builds the verifier.
    pub fn build(mut self) -> Result<Verifier, ConfigError> {
        super::jws::install_crypto_provider();

        self.discover_env_issuers()?;
        let mut challenge =
            Challenge::new(std::mem::take(&mut self.realm)).map_err(ConfigError::InvalidRealm)?;
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge);
        }
        let located = self.metadata.locate(self.allow_http)?;
        if let Some((_, url)) = &located {
            // Checked by `locate`: printable ASCII without space, quote or backslash.
            challenge = challenge.clone().resource_metadata(url.as_str()).unwrap_or(challenge);
        }
        let mut dpop = self.dpop.clone().settings(self.metadata.resource.as_deref())?;
        if let Some(dpop) = &mut dpop {
            dpop.window += self.leeway.as_secs();
        }
        self.sources.dpop = dpop.is_some();
        let dpop_challenge =
            dpop.as_ref().map(|dpop| DpopChallenge { algs: dpop.algs(), required: dpop.required });
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
        let presentation = Presentation::from_parts(
            challenge,
            self.disclosure,
            self.advertise_scopes,
            dpop_challenge,
        );
        if self.sources.max_len == 0 {
            return Err(ConfigError::InvalidTokenLimit);
        }
        if let Some(path) = self
            .mapping
            .role_claims
            .iter()
            .find(|path| path.is_empty() || path.split('.').any(str::is_empty))
        {
            return Err(ConfigError::InvalidRoleClaim(path.clone()));
        }
        let mut algorithms: Vec<Algorithm> = Vec::new();
        let mut add_algorithms = |more: Vec<Algorithm>| {
            for alg in more {
                if !algorithms.contains(&alg) {
                    algorithms.push(alg);
                }
            }
        };
        let mut own = Vec::new();
        for trusted in std::mem::take(&mut self.trusted) {
            let (source, source_algorithms) = self.trusted_source(trusted.clone())?;
            add_algorithms(source_algorithms);
            own.push((trusted.issuer, source));
        }
        // An issuer with keys of its own is verified with those only.
        let shared_issuers = match std::mem::replace(&mut self.issuer, Expect::Unset) {
            Expect::OneOf(issuers) => {
                let shared: Vec<String> = issuers
                    .into_iter()
                    .filter(|issuer| own.iter().all(|(name, _)| name != issuer))
                    .collect();
                if shared.is_empty() { Expect::Unset } else { Expect::OneOf(shared) }
            }
            other => other,
        };
        let shared_keys = !self.keys.is_empty() || self.jwks_url.is_some();
        let shared = match (&shared_issuers, own.is_empty(), shared_keys) {
            (Expect::Unset, true, _) => return Err(ConfigError::IssuerNotConfigured),
            // Keys for no issuer: a mistake, not a way to accept more tokens.
            (Expect::Unset, false, true) => return Err(ConfigError::ConflictingKeySources),
            (Expect::Unset, false, false) => None,
            // Introspection alone: opaque tokens only, every JWT of these issuers refused.
            #[cfg(feature = "remote")]
            (_, _, false) if self.introspection.is_some() => {
                Some(KeySource::Fixed(Arc::new(KeySet::new())))
            }
            (_, _, false) => return Err(ConfigError::NoKeys),
            (_, _, true) => {
                let (source, source_algorithms) = self.shared_source()?;
                add_algorithms(source_algorithms);
                Some(source)
            }
        };
        // Issuers with keys of their own are identity domains of their own: any issuer beside
        // them, or identities merged across issuers, would let one domain's `sub` be another's.
        if !own.is_empty() {
            if matches!(shared_issuers, Expect::Any) {
                return Err(ConfigError::AnyIssuerWithTrustedIssuers);
            }
            if self.identity_by_issuer == Some(false) {
                return Err(ConfigError::IdentityMergedAcrossTrustedIssuers);
            }
        }
        let issuers = match shared_issuers {
            Expect::Any => None,
            Expect::Unset => Some(own.iter().map(|(name, _)| name.clone()).collect()),
            Expect::OneOf(mut issuers) => {
                issuers.extend(own.iter().map(|(name, _)| name.clone()));
                Some(issuers)
            }
        };
        if self.metadata.audience_is_resource {
            // Before the audience's own check, whose advice (any audience) would be wrong here.
            let audiences = match &self.audience {
                Expect::Unset => Some(&[][..]),
                Expect::Any => None,
                Expect::OneOf(audiences) => Some(audiences.as_slice()),
            };
            if !audience_is_resource(self.metadata.resource.as_deref(), audiences) {
                return Err(ConfigError::AudienceIsNotResource {
                    resource: self.metadata.resource.clone(),
                    audiences: audiences.map(<[String]>::to_vec),
                });
            }
        }
        let audiences = match self.audience {
            Expect::Unset => return Err(ConfigError::AudienceNotConfigured),
            Expect::Any => None,
            Expect::OneOf(audiences) => Some(audiences),
        };
        let mut mapping = self.mapping;
        mapping.qualify_by_issuer = self
            .identity_by_issuer
            .unwrap_or_else(|| issuers.as_ref().is_some_and(|issuers| issuers.len() > 1));
        #[cfg(feature = "remote")]
        let introspection = self
            .introspection
            .map(|config| {
                super::introspected::introspector(
                    config,
                    issuers.as_deref(),
                    self.leeway.as_secs(),
                    self.allow_http,
                )
            })
            .transpose()?;
        let metadata = located.map(|(path, url)| {
            let bearer: &[&str] =
                if self.sources.query { &["header", "query"] } else { &["header"] };
            let config = &self.metadata;
            let document = Document {
                resource: config.resource.as_deref().unwrap_or_default(),
                authorization_servers: issuers.as_deref(),
                scopes_supported: &config.scopes_supported,
                bearer_methods_supported: bearer,
                resource_name: config.resource_name.as_deref(),
                resource_documentation: config.resource_documentation.as_deref(),
                dpop_signing_alg_values_supported: dpop
                    .as_ref()
                    .map(|dpop| dpop.algorithms.iter().map(|alg| alg.as_str()).collect()),
                dpop_bound_access_tokens_required: dpop.as_ref().map(|dpop| dpop.required),
            };
            Metadata::new(path, url, &document)
        });
        Ok(Verifier::new(Settings {
            #[cfg(feature = "remote")]
            introspection,
            metadata,
            keys: KeysByIssuer { shared, own },
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
        }))
    }

    /// `PORTCULLIS_ISSUER` alone (no JWKS URL, no keys in code): each issuer is discovered on
    /// its own.
    fn discover_env_issuers(&mut self) -> Result<(), ConfigError> {
        if self.discovery != Discovery::FromEnv || !self.keys.is_empty() || self.jwks_url.is_some()
        {
            return Ok(());
        }
        match &self.issuer {
            Expect::OneOf(issuers) => {
                for issuer in issuers {
                    if self.trusted.iter().all(|trusted| &trusted.issuer != issuer) {
                        let discovered =
                            TrustedIssuer { discovery: true, ..TrustedIssuer::new(issuer) };
                        self.trusted.push(discovered);
                    }
                }
                self.issuer = Expect::Unset;
                Ok(())
            }
            Expect::Any => Err(ConfigError::Env {
                var: env::ISSUER,
                problem: "`*` (any issuer) has no discovery document: set PORTCULLIS_JWKS_URL too",
            }),
            Expect::Unset => Ok(()),
        }
    }

    /// The keys shared by the issuers configured with `.issuer(..)` (or any issuer): in code,
    /// or from the JWKS URL.
    fn shared_source(&mut self) -> Result<(KeySource, Vec<Algorithm>), ConfigError> {
        let keys = std::mem::take(&mut self.keys);
        match self.jwks_url.clone() {
            Some(_) if !keys.is_empty() => Err(ConfigError::ConflictingKeySources),
            Some(url) => self.remote_source(&url, None),
            None => self.fixed_source(keys, true),
        }
    }

    /// The keys of one issuer with keys of its own.
    fn trusted_source(
        &self,
        trusted: TrustedIssuer,
    ) -> Result<(KeySource, Vec<Algorithm>), ConfigError> {
        let problem =
            |problem| ConfigError::TrustedIssuerKeys { issuer: trusted.issuer.clone(), problem };
        let kinds = [!trusted.keys.is_empty(), trusted.jwks_url.is_some(), trusted.discovery];
        match kinds.iter().filter(|kind| **kind).count() {
            0 => {
                return Err(problem("it has no key source: give it keys, a JWKS URL or discovery"));
            }
            1 => {}
            _ => return Err(problem("it has more than one key source: choose one")),
        }
        if let Some(url) = &trusted.jwks_url {
            return self.remote_source(url, None);
        }
        if trusted.discovery {
            return self.remote_source(&trusted.issuer, Some(&trusted.issuer));
        }
        self.fixed_source(trusted.keys, false)
    }

    /// Keys configured in code, restricted to the allowed algorithms. `strict`: every allowed
    /// algorithm must have a key among them (with several issuers, each has its own keys).
    fn fixed_source(
        &self,
        keys: Vec<Key>,
        strict: bool,
    ) -> Result<(KeySource, Vec<Algorithm>), ConfigError> {
        let mut set = KeySet::new();
        for key in keys {
            set.insert(key)?;
        }
        let algorithms = match (&self.algorithms, strict) {
            (Some(allowed), false) => {
                let usable: Vec<Algorithm> = allowed
                    .iter()
                    .copied()
                    .filter(|alg| set.iter().any(|k| k.allows(*alg)))
                    .collect();
                match allowed.first() {
                    Some(alg) if usable.is_empty() => {
                        return Err(ConfigError::AlgorithmWithoutKey(*alg));
                    }
                    _ => {}
                }
                Self::fixed_algorithms(&mut set, Some(usable))?
            }
            (allowed, _) => Self::fixed_algorithms(&mut set, allowed.clone())?,
        };
        Ok((KeySource::Fixed(Arc::new(set)), algorithms))
    }

    /// Keys fetched from `url` (a JWKS), or by discovery for `issuer`.
    #[cfg(feature = "remote")]
    fn remote_source(
        &self,
        url: &str,
        discover: Option<&str>,
    ) -> Result<(KeySource, Vec<Algorithm>), ConfigError> {
        let (location, var) = match discover {
            Some(issuer) => (
                KeyLocation::discovery(issuer, self.allow_http),
                self.env_issuers.iter().any(|known| known == issuer).then_some(env::ISSUER),
            ),
            None => (
                KeyLocation::jwks(url, self.allow_http),
                self.jwks_url_var.filter(|_| self.jwks_url.as_deref() == Some(url)),
            ),
        };
        let location = location.map_err(|problem| ConfigError::InvalidKeyUrl {
            var,
            url: shown_url(url),
            problem,
        })?;
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
        Ok((source, algorithms))
    }

    /// Without the `remote` feature, keys are configured in code only (the methods that ask
    /// for fetched keys do not exist).
    #[cfg(not(feature = "remote"))]
    #[allow(clippy::unused_self)]
    fn remote_source(
        &self,
        url: &str,
        _discover: Option<&str>,
    ) -> Result<(KeySource, Vec<Algorithm>), ConfigError> {
        Err(ConfigError::InvalidKeyUrl {
            var: None,
            url: shown_url(url),
            problem: "fetching keys needs portcullis's `remote` feature",
        })
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

/// The value of `var` through `lookup`, trimmed: `None` when unset, an error naming the variable
/// when it is set but empty or not UTF-8.
/// The origin of `url` (scheme, host and port: what precedes its path), or `url` itself when it
/// has no `://`.
fn origin_of(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_owned() };
    let rest = &url[scheme_end + 3..];
    let authority = rest.find(['/', '?', '#']).map_or(rest.len(), |end| end);
    url[..scheme_end + 3 + authority].to_owned()
}

/// `url` as a configuration error may show it: without the credentials of its authority
/// (`user:secret@`), since start-up errors end up in logs.
pub(super) fn shown_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_owned() };
    let (head, rest) = url.split_at(scheme_end + 3);
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    match authority.rfind('@') {
        Some(at) => format!("{head}<redacted>{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// The nonces under the key `PORTCULLIS_DPOP_NONCE_KEY` holds: base64url, at least 32 bytes.
/// Errors name the variable, never its value (a secret).
fn nonce_key(value: &str) -> Result<DpopNonces, ConfigError> {
    use base64::Engine as _;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| ConfigError::Env {
            var: env::DPOP_NONCE_KEY,
            problem: "the value must be base64url (A-Z, a-z, 0-9, '-', '_')",
        })?;
    DpopNonces::with_key(secret).map_err(|_| ConfigError::Env {
        var: env::DPOP_NONCE_KEY,
        problem: "the key must be at least 32 bytes (43 base64url characters)",
    })
}

pub(super) fn read_env(
    lookup: &impl Fn(&str) -> Option<std::ffi::OsString>,
    var: &'static str,
) -> Result<Option<String>, ConfigError> {
    let Some(value) = lookup(var) else { return Ok(None) };
    let value = value
        .into_string()
        .map_err(|_| ConfigError::Env { var, problem: "the value is not UTF-8" })?;
    let value = value.trim();
    if value.is_empty() {
        return Err(ConfigError::Env { var, problem: "the value is empty" });
    }
    Ok(Some(value.to_owned()))
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
    fn role_claims_are_dotted_paths_from_code_or_the_environment() {
        for bad in ["", "realm_access..roles", ".roles", "roles."] {
            let error = complete().role_claims([bad]).build().unwrap_err();
            assert!(matches!(error, ConfigError::InvalidRoleClaim(path) if path == bad));
        }
        assert!(complete().role_claims(["cognito:groups", "a.b.c"]).build().is_ok());
        let builder = complete()
            .with_env(env(&[(env::ROLES_CLAIM, " realm_access.roles , cognito:groups ")]))
            .unwrap();
        assert_eq!(builder.mapping.role_claims, ["realm_access.roles", "cognito:groups"]);
        for bad in ["roles,", "a..b", ",roles"] {
            let vars: &'static [(&'static str, &'static str)] =
                Box::leak(Box::new([(env::ROLES_CLAIM, bad)]));
            let error = complete().with_env(env(vars)).unwrap_err();
            assert!(matches!(error, ConfigError::Env { var, .. } if var == env::ROLES_CLAIM));
        }
    }

    #[test]
    fn audience_is_resource_accepts_the_resource_alone() {
        const MCP: &str = "https://mcp.example/mcp";
        let mcp = || {
            Verifier::builder().issuer("iss").key(Key::hmac(SECRET).unwrap()).audience_is_resource()
        };
        let verifier = mcp().resource(MCP).audience(MCP).build().unwrap();
        assert_eq!(
            verifier.resource_metadata_url(),
            Some("https://mcp.example/.well-known/oauth-protected-resource/mcp")
        );
        let refused = |builder: VerifierBuilder| match builder.build() {
            Err(ConfigError::AudienceIsNotResource { resource, audiences }) => {
                let error = ConfigError::AudienceIsNotResource {
                    resource: resource.clone(),
                    audiences: audiences.clone(),
                };
                (resource, audiences, error.to_string())
            }
            other => panic!("expected AudienceIsNotResource, got {other:?}"),
        };
        let (resource, audiences, message) = refused(mcp().resource(MCP).any_audience());
        assert_eq!((resource.as_deref(), audiences), (Some(MCP), None));
        assert_eq!(
            message,
            "an MCP server accepts only the tokens issued for it (audience_is_resource), but any \
             audience would be accepted: accept exactly the resource identifier \
             \"https://mcp.example/mcp\" (.audience(..) or PORTCULLIS_AUDIENCE), and nothing else"
        );
        let (_, audiences, message) =
            refused(mcp().resource(MCP).audience(MCP).audience("https://api.example"));
        assert_eq!(audiences, Some(vec![MCP.to_owned(), "https://api.example".to_owned()]));
        assert!(
            message.contains(r#"the audiences ["https://mcp.example/mcp", "https://api.example"]"#)
        );
        for other in ["https://api.example", "https://mcp.example/mcp/", "HTTPS://mcp.example/mcp"]
        {
            let (_, audiences, _) = refused(mcp().resource(MCP).audience(other));
            assert_eq!(audiences, Some(vec![other.to_owned()]));
        }
        let (_, audiences, message) = refused(mcp().resource(MCP));
        assert_eq!(audiences, Some(vec![]));
        assert!(message.contains("but no audience is configured"), "{message}");
        assert!(!message.contains("any_audience"), "{message}");
        let (resource, _, message) = refused(mcp().audience(MCP));
        assert_eq!(resource, None);
        assert!(message.contains("no resource identifier is configured"), "{message}");
        assert!(message.contains("PORTCULLIS_RESOURCE"), "{message}");
        // From the environment too; and without the setting, any audience still builds.
        let vars = env(&[(env::RESOURCE, MCP), (env::AUDIENCE, "https://mcp.example/mcp, other")]);
        let (_, audiences, _) = refused(mcp().with_env(vars).unwrap());
        assert_eq!(audiences, Some(vec![MCP.to_owned(), "other".to_owned()]));
        assert!(complete().resource(MCP).any_audience().build().is_ok());
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
                ("PORTCULLIS_TOKEN_PROFILE", "rfc9068"),
            ]))
            .unwrap();
        assert_eq!(builder.profile, TokenProfile::Rfc9068);
        assert_eq!(builder.issuer, Expect::OneOf(vec!["https://i.example".into()]));
        assert_eq!(builder.audience, Expect::OneOf(vec!["a1".into(), "a2".into()]));
        let verifier = builder.key(Key::hmac(SECRET).unwrap()).build().unwrap();
        assert_eq!(verifier.presentation().realm(), "docs");
        assert_eq!(verifier.presentation().disclosure(), Disclosure::Development);
    }

    #[test]
    fn env_errors_name_the_variable() {
        let cases: [(&'static [(&'static str, &'static str)], &str); 6] = [
            (&[("PORTCULLIS_DISCLOSURE", "verbose")], "PORTCULLIS_DISCLOSURE"),
            (&[("PORTCULLIS_ISSUER", "  ")], "PORTCULLIS_ISSUER"),
            (&[("PORTCULLIS_AUDIENCE", "a,,b")], "PORTCULLIS_AUDIENCE"),
            (&[("PORTCULLIS_REALM", "a\"b")], "PORTCULLIS_REALM"),
            (&[("PORTCULLIS_REALM", "é")], "PORTCULLIS_REALM"),
            (&[("PORTCULLIS_TOKEN_PROFILE", "9068")], "PORTCULLIS_TOKEN_PROFILE"),
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
        // An issuer of `.issuer(..)` needs the shared keys; one discovered has its own.
        let two = remote().issuer("https://other.example").oidc_issuer("https://i.example");
        assert!(matches!(two.build(), Err(ConfigError::NoKeys)));
        let both = remote().oidc_issuer("https://i.example").oidc_issuer("https://j.example");
        assert!(both.build().is_ok());
        // Several issuers from the environment: each discovered on its own.
        const TWO: &[(&str, &str)] = &[
            ("PORTCULLIS_ISSUER", "https://a.example  https://b.example/"),
            ("PORTCULLIS_AUDIENCE", "a"),
        ];
        let builder = Verifier::builder().with_env(env(TWO)).unwrap();
        assert_eq!(
            builder.issuer,
            Expect::OneOf(vec!["https://a.example".into(), "https://b.example/".into()])
        );
        assert!(builder.build().is_ok());
        // A trusted issuer has exactly one key source.
        let none = Verifier::builder()
            .audience("a")
            .trusted_issuer(TrustedIssuer::new("https://n.example"));
        let err = none.build().unwrap_err();
        assert!(matches!(err, ConfigError::TrustedIssuerKeys { .. }), "{err}");
        assert!(
            err.to_string().starts_with("the issuer \"https://n.example\": it has no key source"),
            "{err}"
        );
        let many = Verifier::builder().audience("a").trusted_issuer(
            TrustedIssuer::new("https://n.example").key(Key::hmac(SECRET).unwrap()).discovery(),
        );
        assert!(matches!(many.build(), Err(ConfigError::TrustedIssuerKeys { .. })));
    }
}
