//! Why a configuration cannot make a working verifier: [`ConfigError`], by category, each
//! category the refusals of one configuration value or concern.

use crate::keys::{Algorithm, KeyError};
use crate::respond::ChallengeError;

/// The configuration cannot make a working verifier.
///
/// Grouped by what is wrong, as refusals are by [`DenialKind`](crate::response::DenialKind): match on
/// the category, or show the error, whose message names the setting (and the environment
/// variable, when it came from one) and how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A core setting: the realm, the leeway, the token size limit, a role claim path.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The verification keys: none, a key that cannot be used, a key source that cannot work.
    #[error(transparent)]
    Keys(#[from] KeysError),
    /// Which issuers and audiences are accepted.
    #[error(transparent)]
    Issuers(#[from] IssuerError),
    /// The DPoP settings ([`Dpop`](super::Dpop)).
    #[error(transparent)]
    Dpop(#[from] DpopError),
    /// The protected resource metadata ([`ResourceMetadata`](super::ResourceMetadata)).
    #[error(transparent)]
    Resource(#[from] ResourceError),
    /// The introspection settings ([`Introspection`](crate::introspection::Introspection)).
    #[error(transparent)]
    Introspection(#[from] IntrospectionError),
    /// An environment variable that cannot be used: its name, and what is wrong.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// The HTTP client for remote keys or introspection could not be built (no TLS roots, say);
    /// the client's own error is the [`source`](std::error::Error::source).
    #[error("cannot build the HTTP client for remote keys: {0}")]
    HttpClient(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<KeyError> for ConfigError {
    fn from(error: KeyError) -> Self {
        Self::Keys(KeysError::Key(error))
    }
}

/// A core setting of [`VerifierBuilder`](super::VerifierBuilder) that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingError {
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
}

/// The verification keys cannot verify tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// No key was configured.
    #[error("no verification key is configured: add one with .key(..) or .keys(..)")]
    NoKeys,
    /// An algorithm was allowed that no configured key can verify.
    #[error("the algorithm {0:?} is allowed but no configured key can verify it")]
    AlgorithmWithoutKey(Algorithm),
    /// A key could not be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A JWKS or issuer URL that cannot be used to fetch keys.
    #[error("cannot fetch keys from {url:?}: {problem}")]
    InvalidKeyUrl {
        /// The URL, without any credentials it held.
        url: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Keys were configured in code and also to be fetched from a URL.
    #[error(
        "keys are configured both in code (.key/.keys) and remotely (.jwks_url/.oidc_issuer): choose one"
    )]
    ConflictingKeySources,
    /// An issuer with keys of its own ([`TrustedIssuer`](super::TrustedIssuer)) has none, or
    /// more than one source.
    #[error("the issuer {issuer:?}: {problem}")]
    TrustedIssuerKeys {
        /// The issuer.
        issuer: String,
        /// What is wrong with its keys.
        problem: &'static str,
    },
}

/// The accepted issuers and audiences cannot work together.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssuerError {
    /// Neither an issuer nor the opt-out was configured.
    #[error(
        "no issuer is configured: set one with .issuer(..) or PORTCULLIS_ISSUER, or accept any with .dangerous().any_issuer() or PORTCULLIS_ISSUER=*"
    )]
    IssuerNotConfigured,
    /// Any issuer (`.dangerous().any_issuer()`, `PORTCULLIS_ISSUER=*`) beside issuers with keys
    /// of their own ([`TrustedIssuer`](super::TrustedIssuer)): a token of any issuer could then
    /// take the identity of a trusted issuer's caller, since no pair (issuer, subject) is kept.
    #[error(
        "any issuer cannot be accepted beside issuers with keys of their own (.trusted_issuer): name the issuers"
    )]
    AnyIssuerWithTrustedIssuers,
    /// Identities by subject alone (`.dangerous().identity_by_subject_only()`, as
    /// `Preset::google()` sets for Google's two spellings) beside issuers with keys of their
    /// own: their callers would share identities.
    #[error(
        "identities by subject only (.dangerous().identity_by_subject_only(), as Preset::google() sets) would merge the callers of issuers with keys of their own (.trusted_issuer) with the others': keep the identity by issuer"
    )]
    IdentityMergedAcrossTrustedIssuers,
    /// Neither an audience nor the opt-out was configured.
    #[error(
        "no audience is configured: set one with .audience(..) or PORTCULLIS_AUDIENCE, or accept any with .dangerous().any_audience()"
    )]
    AudienceNotConfigured,
    /// The issuer's discovery document names another issuer: tokens would all be refused.
    /// Reported by [`Verifier::check_issuers`](crate::Verifier::check_issuers) at start.
    #[error(
        "the discovery document of the issuer {configured:?} names the issuer {discovered:?}: configure it exactly as the provider spells it{}",
        .hint.map(|hint| format!(" ({hint})")).unwrap_or_default()
    )]
    IssuerMismatch {
        /// The issuer as configured.
        configured: String,
        /// The issuer as the discovery document names it.
        discovered: String,
        /// What the two spellings have in common, when they differ only by a trailing slash, a
        /// host alias or letter case.
        hint: Option<&'static str>,
    },
}

/// The DPoP settings ([`Dpop`](super::Dpop)) cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// DPoP is on without the public URL of the API, which a proof's `htu` names.
    #[error(
        "DPoP is on but the API's public URL is not configured: set it with ResourceMetadata::resource (or Dpop::origin) or PORTCULLIS_RESOURCE"
    )]
    NeedsOrigin,
    /// The DPoP origin is not an `http` or `https` URL without query, fragment or user
    /// information.
    #[error("the DPoP origin {0:?} is not an http(s) URL without query, fragment or user info")]
    InvalidOrigin(String),
    /// A DPoP proof algorithm that is symmetric, or no algorithm at all.
    #[error("DPoP proofs need at least one algorithm, and only asymmetric ones")]
    InvalidAlgorithms,
    /// The DPoP `iat` window is zero or longer than [`MAX_LEEWAY`](super::MAX_LEEWAY).
    #[error("the DPoP iat window must be between one second and one hour")]
    InvalidWindow,
    /// The DPoP nonce lifetime is shorter than a second or longer than
    /// [`DpopNonces::MAX_LIFETIME`](crate::dpop::DpopNonces::MAX_LIFETIME).
    #[error("the DPoP nonce lifetime must be between one second and one hour")]
    InvalidNonceLifetime,
}

/// The protected resource metadata ([`ResourceMetadata`](super::ResourceMetadata)) cannot be
/// served, or does not fit the accepted audiences.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceError {
    /// The resource identifier (RFC 9728) is not an `https` URL (`http` only to a loopback
    /// host, or with `.dangerous().allow_http()`) without query, fragment or user information.
    #[error("the resource identifier {url:?} cannot be used: {problem}")]
    InvalidResource {
        /// The identifier.
        url: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A scope of [`ResourceMetadata::scopes_supported`](super::ResourceMetadata::scopes_supported)
    /// is not an RFC 6749 `scope-token`.
    #[error("scopes_supported: {0:?} is not an RFC 6749 scope-token")]
    InvalidSupportedScope(String),
    /// [`ResourceMetadata::scopes_supported`](super::ResourceMetadata::scopes_supported) lists
    /// `offline_access`, which grants no access to a resource (SEP-2207).
    #[error(
        "scopes_supported: offline_access asks an authorization server for a refresh token; a protected resource never advertises it"
    )]
    OfflineAccessSupported,
    /// The [`ResourceMetadata::documentation`](super::ResourceMetadata::documentation) is not an
    /// `http(s)` URL of printable ASCII.
    #[error("resource_documentation: {0:?} is not an http(s) URL")]
    InvalidDocumentation(String),
    /// [`ResourceMetadata::audience_is_resource`](super::ResourceMetadata::audience_is_resource)
    /// (an MCP server, which must accept only tokens issued for it) while the accepted audiences
    /// are not exactly the resource identifier: another audience, any audience, or no resource
    /// identifier at all.
    #[error("{}", crate::verify::metadata::audience_mismatch(.resource.as_deref(), .audiences.as_deref()))]
    AudienceIsNotResource {
        /// The resource identifier, `None` when none is configured.
        resource: Option<String>,
        /// The accepted audiences (empty when none is configured), `None` when any audience is
        /// accepted.
        audiences: Option<Vec<String>>,
    },
}

/// The introspection settings ([`Introspection`](crate::introspection::Introspection)) cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectionError {
    /// Introspection without [`Introspection::issuer`](crate::introspection::Introspection::issuer) while
    /// several issuers, or any issuer, are accepted: an endpoint vouches for one issuer's tokens.
    #[error(
        "introspection needs to know which issuer its endpoint answers for: with several (or any) accepted issuers, set Introspection::issuer"
    )]
    NeedsIssuer,
    /// [`Introspection::issuer`](crate::introspection::Introspection::issuer) names an issuer the verifier does
    /// not accept.
    #[error("introspection answers for {0:?}, which is not an accepted issuer")]
    IssuerNotAccepted(String),
    /// An introspection endpoint URL (or the issuer whose discovery document names it) that
    /// cannot be used.
    #[error("cannot introspect tokens at {url:?}: {problem}")]
    InvalidUrl {
        /// The URL, without any credentials it held.
        url: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// An introspection setting that cannot work (a bound of zero calls, an empty token prefix).
    #[error("introspection: {setting}: {problem}")]
    InvalidSetting {
        /// The setting, as [`Introspection`](crate::introspection::Introspection)'s method names it.
        setting: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// An environment variable that cannot be used: shown as `VARIABLE: problem`, whatever the
/// problem is, so that every error about the environment names the variable the same way. Its
/// [`source`](std::error::Error::source) is the problem's cause: the parser's error, or the
/// refused setting's own cause.
#[derive(Debug)]
pub struct EnvError {
    var: &'static str,
    problem: EnvProblem,
}

impl std::fmt::Display for EnvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.var, self.problem)
    }
}

impl std::error::Error for EnvError {
    // The problem is part of the message already: its cause comes next in the chain.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.problem)
    }
}

/// What is wrong with an environment variable's value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvProblem {
    /// The value cannot be read or parsed: what it must be, and the parser's error as the
    /// [`source`](std::error::Error::source) when there is one.
    #[error("{message}")]
    Value {
        /// What is wrong, or what the value must be (never the value: it may be a secret).
        message: &'static str,
        /// The parser's error.
        #[source]
        cause: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The value was read, and the setting it makes is refused by the configuration's check.
    #[error(transparent)]
    Setting(Box<ConfigError>),
}

impl EnvError {
    /// The variable `var` holds a value that cannot be used: `message` says why.
    pub(crate) fn value(var: &'static str, message: &'static str) -> Self {
        Self { var, problem: EnvProblem::Value { message, cause: None } }
    }

    /// The variable `var` holds a value its parser refused with `cause`.
    pub(crate) fn parse(
        var: &'static str,
        message: &'static str,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self { var, problem: EnvProblem::Value { message, cause: Some(Box::new(cause)) } }
    }

    /// The setting the variable `var` made is refused: `error` says why.
    pub(crate) fn setting(var: &'static str, error: impl Into<ConfigError>) -> Self {
        Self { var, problem: EnvProblem::Setting(Box::new(error.into())) }
    }

    /// The variable, `PORTCULLIS_…`.
    pub fn var(&self) -> &'static str {
        self.var
    }

    /// What is wrong with its value.
    pub fn problem(&self) -> &EnvProblem {
        &self.problem
    }
}

/// `error`, attributed to the environment variable `var` when the setting came from it.
pub(crate) fn from_var(var: Option<&'static str>, error: impl Into<ConfigError>) -> ConfigError {
    match var {
        Some(var) => EnvError::setting(var, error).into(),
        None => error.into(),
    }
}

/// `url` as a configuration error may show it: without the credentials of its authority
/// (`user:secret@`), since start-up errors end up in logs.
pub(crate) fn shown_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_owned() };
    let (head, rest) = url.split_at(scheme_end + 3);
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    match authority.rfind('@') {
        Some(at) => format!("{head}<redacted>{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn causes_are_kept() {
        let io = std::io::Error::other("no TLS roots");
        let error = ConfigError::HttpClient(Box::new(io));
        assert_eq!(error.to_string(), "cannot build the HTTP client for remote keys: no TLS roots");
        assert!(error.source().is_some_and(|source| source.to_string() == "no TLS roots"));
        let parsed = "x".parse::<usize>().unwrap_err();
        let error = ConfigError::from(EnvError::parse("PORTCULLIS_X", "a number", parsed));
        assert_eq!(error.to_string(), "PORTCULLIS_X: a number");
        assert!(error.source().is_some(), "the parser's error is kept");
        // A refused setting from a variable reads as the variable, then the setting's message.
        let error = from_var(Some("PORTCULLIS_Y"), KeysError::NoKeys);
        assert!(matches!(&error, ConfigError::Env(env) if env.var() == "PORTCULLIS_Y"));
        assert_eq!(
            error.to_string(),
            "PORTCULLIS_Y: no verification key is configured: add one with .key(..) or .keys(..)"
        );
        assert!(matches!(from_var(None, KeysError::NoKeys), ConfigError::Keys(KeysError::NoKeys)));
    }
}
