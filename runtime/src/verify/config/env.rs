//! The environment variables [`VerifierBuilder::from_env`] reads, and how they fill in the
//! configuration: each variable sets what the method of the same concern would, and wins over
//! the code's setting. An error about a variable names it ([`EnvError`]), never its value.

use super::builder::VerifierBuilder;
use super::error::{ConfigError, EnvError};
use super::settings::Discovery;
use crate::dpop::DpopNonces;
use crate::respond::Challenge;

/// The accepted issuers (`iss`), separated by spaces, or [`ANY_ISSUER`] for any issuer. Without
/// [`JWKS_URL`] and keys in code, each issuer's keys are found by its own discovery document.
pub const ISSUER: &str = "PORTCULLIS_ISSUER";
/// The value of [`ISSUER`] that accepts any issuer (with keys from [`JWKS_URL`]): `*`.
pub const ANY_ISSUER: &str = "*";
/// The accepted `aud` values, comma-separated.
pub const AUDIENCE: &str = "PORTCULLIS_AUDIENCE";
/// A JWKS URL to fetch keys from. Without it, and without keys configured in code, keys
/// are found by OpenID Connect discovery from [`ISSUER`].
pub const JWKS_URL: &str = "PORTCULLIS_JWKS_URL";
/// `true` to allow plain `http://` key and discovery URLs to hosts that are not loopback (a
/// `docker compose` set-up's `http://keycloak:8080`, say), logged as a warning at start;
/// `false` (the default) refuses them. For development only: keys fetched in clear text can be
/// swapped by anyone on the path.
pub const ALLOW_HTTP: &str = "PORTCULLIS_ALLOW_HTTP";
/// The realm of the `WWW-Authenticate` challenges.
pub const REALM: &str = "PORTCULLIS_REALM";
/// The claims that hold roles: dotted paths, comma-separated (`realm_access.roles,roles`).
pub const ROLES_CLAIM: &str = "PORTCULLIS_ROLES_CLAIM";
/// `production` (the default) or `development`.
pub const DISCLOSURE: &str = "PORTCULLIS_DISCLOSURE";
/// `jwt` (the default: `typ` absent, `JWT` or `at+jwt`) or `rfc9068` (`at+jwt` and RFC 9068's
/// claims required); see [`TokenProfile`](super::TokenProfile).
pub const TOKEN_PROFILE: &str = "PORTCULLIS_TOKEN_PROFILE";

/// `off` (the default), `allowed` or `required`: whether DPoP-bound tokens (RFC 9449) are
/// accepted with their proofs, and whether bearer tokens still are; see
/// [`DpopMode`](crate::dpop::DpopMode) and [`Dpop`](super::Dpop).
pub const DPOP: &str = "PORTCULLIS_DPOP";
/// The public URL of this API (`https://api.example.com`, or with a path prefix), as clients
/// reach it: the origin a DPoP proof's `htu` is compared with (a server behind a proxy cannot
/// trust its own view of it). Required when [`DPOP`] is on.
pub const RESOURCE: &str = "PORTCULLIS_RESOURCE";
/// `true` to require server-provided nonces in DPoP proofs (RFC 9449 §9), under a key drawn
/// at random at start (or [`DPOP_NONCE_KEY`]): right for one instance, as another instance
/// refuses this one's nonces; `false` (the default) does not.
pub const DPOP_NONCE: &str = "PORTCULLIS_DPOP_NONCE";
/// The key of the DPoP nonces, base64url (padding optional), at least 32 bytes once decoded:
/// give every instance that serves one API the same key, and each accepts the nonces the others
/// issue ([`DpopNonces::with_key`](crate::dpop::DpopNonces::with_key)). Setting it turns nonces on
/// (with [`DPOP_NONCE`] absent or `true`). A secret: an error about it never shows the value.
pub const DPOP_NONCE_KEY: &str = "PORTCULLIS_DPOP_NONCE_KEY";

/// The RFC 7662 introspection endpoint, for opaque access tokens. Without it, and with
/// [`INTROSPECTION_CLIENT_ID`] set, the endpoint is the `introspection_endpoint` of the discovery
/// document of [`ISSUER`].
pub const INTROSPECTION_URL: &str = "PORTCULLIS_INTROSPECTION_URL";
/// The client id this API authenticates to the introspection endpoint with.
pub const INTROSPECTION_CLIENT_ID: &str = "PORTCULLIS_INTROSPECTION_CLIENT_ID";
/// The client secret that goes with [`INTROSPECTION_CLIENT_ID`]; never logged.
pub const INTROSPECTION_CLIENT_SECRET: &str = "PORTCULLIS_INTROSPECTION_CLIENT_SECRET";
/// How many introspection calls may be in progress at once, a positive integer (default 32);
/// past it, a request whose token needs a call gets 503 at once. See
/// [`Introspection::max_concurrent_calls`](crate::introspection::Introspection::max_concurrent_calls).
pub const INTROSPECTION_MAX_CONCURRENT: &str = "PORTCULLIS_INTROSPECTION_MAX_CONCURRENT";
/// The prefixes the provider's opaque tokens start with, comma-separated (`ory_at_`): any other
/// opaque token is refused without a call. See
/// [`Introspection::opaque_token_prefix`](crate::introspection::Introspection::opaque_token_prefix).
pub const INTROSPECTION_TOKEN_PREFIX: &str = "PORTCULLIS_INTROSPECTION_TOKEN_PREFIX";

/// Every variable above, in the order they are documented: what an application checks its
/// environment against, so that a misspelt `PORTCULLIS_*` variable (`PORTCULLIS_ISUER`) can be
/// reported instead of silently ignored. [`ANY_ISSUER`] is a value, not a variable.
pub const ALL: &[&str] = &[
    ISSUER,
    AUDIENCE,
    JWKS_URL,
    ALLOW_HTTP,
    REALM,
    ROLES_CLAIM,
    DISCLOSURE,
    TOKEN_PROFILE,
    DPOP,
    RESOURCE,
    DPOP_NONCE,
    DPOP_NONCE_KEY,
    INTROSPECTION_URL,
    INTROSPECTION_CLIENT_ID,
    INTROSPECTION_CLIENT_SECRET,
    INTROSPECTION_MAX_CONCURRENT,
    INTROSPECTION_TOKEN_PREFIX,
];

/// The value of `var` through `lookup`, trimmed: `None` when unset, an error naming the variable
/// when it is set but empty or not UTF-8.
pub(super) fn read(
    lookup: &impl Fn(&str) -> Option<std::ffi::OsString>,
    var: &'static str,
) -> Result<Option<String>, EnvError> {
    let Some(value) = lookup(var) else { return Ok(None) };
    let value = value.into_string().map_err(|_| EnvError::value(var, "the value is not UTF-8"))?;
    let value = value.trim();
    if value.is_empty() {
        return Err(EnvError::value(var, "the value is empty"));
    }
    Ok(Some(value.to_owned()))
}

/// `true` or `false`, in any case.
fn boolean(var: &'static str, value: &str) -> Result<bool, EnvError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(EnvError::value(var, "the value must be `true` or `false`")),
    }
}

/// The nonces under the key `PORTCULLIS_DPOP_NONCE_KEY` holds: base64url, at least 32 bytes.
/// Errors name the variable, never its value (a secret).
fn nonce_key(value: &str) -> Result<DpopNonces, EnvError> {
    use base64::Engine as _;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        // Not the decoder's error as the cause: it shows a byte of the secret.
        .map_err(|_| {
            EnvError::value(DPOP_NONCE_KEY, "the value must be base64url (A-Z, a-z, 0-9, '-', '_')")
        })?;
    DpopNonces::with_key(secret).map_err(|error| {
        EnvError::parse(
            DPOP_NONCE_KEY,
            "the key must be at least 32 bytes (43 base64url characters)",
            error,
        )
    })
}

impl VerifierBuilder {
    /// Reads the `PORTCULLIS_*` variables (see [`env`](self)) over a new configuration.
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
        let read = |var| read(&lookup, var);
        let issuer_from_env = read(ISSUER)?;
        if let Some(issuers) = &issuer_from_env {
            if issuers == ANY_ISSUER {
                self = self.dangerous().any_issuer();
            } else {
                for issuer in issuers.split_ascii_whitespace() {
                    if issuer == ANY_ISSUER {
                        return Err(EnvError::value(
                            ISSUER,
                            "`*` (any issuer) cannot be combined with named issuers",
                        )
                        .into());
                    }
                    self = self.issuer(issuer);
                    self.env_issuers.push(issuer.to_owned());
                }
            }
        }
        if let Some(allow) = read(ALLOW_HTTP)? {
            self.allow_http = boolean(ALLOW_HTTP, &allow)?;
        }
        if let Some(audiences) = read(AUDIENCE)? {
            for audience in audiences.split(',').map(str::trim) {
                if audience.is_empty() {
                    return Err(EnvError::value(
                        AUDIENCE,
                        "the comma-separated list holds an empty audience",
                    )
                    .into());
                }
                self = self.audience(audience);
            }
        }
        if let Some(realm) = read(REALM)? {
            Challenge::new(realm.as_str()).map_err(|error| {
                EnvError::parse(
                    REALM,
                    "the realm may only hold printable ASCII other than '\"' and '\\'",
                    error,
                )
            })?;
            self = self.realm(realm);
        }
        if let Some(disclosure) = read(DISCLOSURE)? {
            let disclosure = disclosure.parse().map_err(|error| {
                EnvError::parse(
                    DISCLOSURE,
                    "the value must be `production` or `development`",
                    error,
                )
            })?;
            self = self.disclosure(disclosure);
        }
        if let Some(profile) = read(TOKEN_PROFILE)? {
            let profile = profile.parse().map_err(|error| {
                EnvError::parse(TOKEN_PROFILE, "the value must be `jwt` or `rfc9068`", error)
            })?;
            self = self.token_profile(profile);
        }
        if let Some(mode) = read(DPOP)? {
            self.dpop.mode = mode.parse().map_err(|error| {
                EnvError::parse(DPOP, "the value must be `off`, `allowed` or `required`", error)
            })?;
        }
        if let Some(resource) = read(RESOURCE)? {
            // Checked by `build`, which knows whether clear-text `http` is allowed.
            self.metadata.resource_from_env(resource, RESOURCE);
        }
        let nonce_key = read(DPOP_NONCE_KEY)?.map(|key| nonce_key(&key)).transpose()?;
        if let Some(nonce) = read(DPOP_NONCE)? {
            self.dpop.nonces = match (boolean(DPOP_NONCE, &nonce)?, &nonce_key) {
                (true, _) => Some(DpopNonces::new()),
                (false, None) => None,
                (false, Some(_)) => {
                    return Err(EnvError::value(
                        DPOP_NONCE_KEY,
                        "a nonce key is set but PORTCULLIS_DPOP_NONCE turns nonces off",
                    )
                    .into());
                }
            };
        }
        if let Some(nonces) = nonce_key {
            self.dpop.nonces = Some(nonces);
        }
        if let Some(paths) = read(ROLES_CLAIM)? {
            let paths: Vec<&str> = paths.split(',').map(str::trim).collect();
            if paths.iter().any(|path| path.is_empty() || path.split('.').any(str::is_empty)) {
                return Err(EnvError::value(
                    ROLES_CLAIM,
                    "a comma-separated list of dotted claim paths, none empty and no empty segment",
                )
                .into());
            }
            self = self.role_claims(paths);
        }
        if let Some(url) = read(JWKS_URL)? {
            if !cfg!(feature = "jwks") {
                return Err(EnvError::value(
                    JWKS_URL,
                    "fetching keys from a URL needs portcullis's `jwks` feature",
                )
                .into());
            }
            self.jwks_url = Some(url);
            self.jwks_url_var = Some(JWKS_URL);
        } else if issuer_from_env.is_some() && self.discovery == Discovery::Off {
            // `PORTCULLIS_ISSUER` alone: an issuer set in code implies nothing about keys.
            self.discovery = Discovery::FromEnv;
        }
        #[cfg(feature = "introspection")]
        {
            self = apply_introspection(self, &lookup)?;
        }
        #[cfg(not(feature = "introspection"))]
        if let Some(var) = [
            INTROSPECTION_URL,
            INTROSPECTION_CLIENT_ID,
            INTROSPECTION_MAX_CONCURRENT,
            INTROSPECTION_TOKEN_PREFIX,
        ]
        .into_iter()
        .find(|var| lookup(var).is_some())
        {
            return Err(EnvError::value(
                var,
                "introspecting tokens needs portcullis's `introspection` feature",
            )
            .into());
        }
        Ok(self)
    }
}

#[cfg(feature = "introspection")]
/// Applies `PORTCULLIS_INTROSPECTION_URL`, `PORTCULLIS_INTROSPECTION_CLIENT_ID` and
/// `PORTCULLIS_INTROSPECTION_CLIENT_SECRET` to `builder`. Introspection is on when the URL or the
/// client id is set; without the URL, the endpoint comes from the issuer's discovery document.
/// `PORTCULLIS_INTROSPECTION_MAX_CONCURRENT` and `PORTCULLIS_INTROSPECTION_TOKEN_PREFIX` tune it,
/// whether it was turned on by these variables or in code; alone, they are an error (they would
/// tune nothing).
fn apply_introspection(
    mut builder: VerifierBuilder,
    lookup: &impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<VerifierBuilder, ConfigError> {
    let read = |var| read(lookup, var);
    let url = read(INTROSPECTION_URL)?;
    let id = read(INTROSPECTION_CLIENT_ID)?;
    let secret = read(INTROSPECTION_CLIENT_SECRET)?;
    let max_concurrent = read(INTROSPECTION_MAX_CONCURRENT)?
        .map(|calls| {
            let positive = "the value must be a positive integer";
            match calls.parse::<usize>() {
                Ok(0) => Err(EnvError::value(INTROSPECTION_MAX_CONCURRENT, positive)),
                Ok(calls) => Ok(calls),
                Err(error) => Err(EnvError::parse(INTROSPECTION_MAX_CONCURRENT, positive, error)),
            }
        })
        .transpose()?;
    let prefixes = read(INTROSPECTION_TOKEN_PREFIX)?
        .map(|prefixes| {
            let prefixes: Vec<String> = prefixes.split(',').map(|p| p.trim().to_owned()).collect();
            if prefixes.iter().any(String::is_empty) {
                return Err(EnvError::value(
                    INTROSPECTION_TOKEN_PREFIX,
                    "the comma-separated list holds an empty prefix",
                ));
            }
            Ok(prefixes)
        })
        .transpose()?;
    if url.is_none() && id.is_none() {
        if secret.is_some() {
            return Err(EnvError::value(
                INTROSPECTION_CLIENT_SECRET,
                "a client secret needs PORTCULLIS_INTROSPECTION_CLIENT_ID",
            )
            .into());
        }
        if builder.introspection.is_none() {
            let tuning = [
                (INTROSPECTION_MAX_CONCURRENT, max_concurrent.is_some()),
                (INTROSPECTION_TOKEN_PREFIX, prefixes.is_some()),
            ];
            if let Some((var, _)) = tuning.into_iter().find(|(_, set)| *set) {
                return Err(EnvError::value(
                    var,
                    "introspection is not configured: set PORTCULLIS_INTROSPECTION_URL \
                     or PORTCULLIS_INTROSPECTION_CLIENT_ID too",
                )
                .into());
            }
            return Ok(builder);
        }
    }
    let mut introspection = builder.introspection.take().unwrap_or_else(|| match &url {
        Some(url) => super::Introspection::endpoint(url.clone()),
        None => super::Introspection::discovered(),
    });
    if let Some(url) = url {
        introspection.set_endpoint(url);
    }
    match (id, secret) {
        (Some(id), Some(secret)) => introspection = introspection.client_credentials(id, secret),
        (Some(_), None) => {
            return Err(EnvError::value(
                INTROSPECTION_CLIENT_SECRET,
                "PORTCULLIS_INTROSPECTION_CLIENT_ID needs a client secret",
            )
            .into());
        }
        (None, Some(_)) => {
            return Err(EnvError::value(
                INTROSPECTION_CLIENT_ID,
                "a client secret needs a client id",
            )
            .into());
        }
        (None, None) => {}
    }
    if let Some(calls) = max_concurrent {
        introspection = introspection.max_concurrent_calls(calls);
    }
    if let Some(prefixes) = prefixes {
        // The environment's list replaces the code's, as every variable wins over the code.
        introspection.set_prefixes(prefixes);
    }
    builder.introspection = Some(introspection);
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Key;
    use crate::respond::Disclosure;
    use crate::verify::Verifier;
    use crate::verify::config::settings::Expect;
    use crate::verify::profile::TokenProfile;
    use std::error::Error as _;
    use std::ffi::OsString;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn all_names_every_variable_of_this_module_once() {
        // Every `pub const` of this file whose value is a `PORTCULLIS_` name, read from the source
        // itself, so that a variable added above without being added to `ALL` fails here.
        let source = include_str!("env.rs");
        let declared: Vec<&str> = source
            .lines()
            .filter(|line| line.starts_with("pub const ") && line.contains("= \"PORTCULLIS_"))
            .filter_map(|line| line.split('"').nth(1))
            .collect();
        assert_eq!(declared.len(), 17, "{declared:?}");
        assert_eq!(ALL, declared.as_slice());
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
            assert!(matches!(&err, ConfigError::Env(env) if env.var() == var), "{err}");
        }
    }

    #[test]
    fn a_parse_error_is_the_source() {
        let parsed: [&'static [(&'static str, &'static str)]; 5] = [
            &[("PORTCULLIS_DISCLOSURE", "verbose")],
            &[("PORTCULLIS_TOKEN_PROFILE", "9068")],
            &[("PORTCULLIS_DPOP", "sometimes")],
            &[("PORTCULLIS_REALM", "a\"b")],
            &[("PORTCULLIS_DPOP_NONCE_KEY", "c2hvcnQ")],
        ];
        for vars in parsed {
            let err = VerifierBuilder::new().with_env(env(vars)).unwrap_err();
            assert!(err.source().is_some(), "{err}");
        }
        let err = VerifierBuilder::new().with_env(env(&[("PORTCULLIS_AUDIENCE", "a,,b")]));
        assert!(err.unwrap_err().source().is_none(), "no parser: no cause");
    }

    #[test]
    fn role_claims_from_the_environment() {
        let complete = || Verifier::builder().issuer("iss").audience("aud");
        let builder = complete()
            .with_env(env(&[(ROLES_CLAIM, " realm_access.roles , cognito:groups ")]))
            .unwrap();
        assert_eq!(builder.mapping.role_claims, ["realm_access.roles", "cognito:groups"]);
        for bad in ["roles,", "a..b", ",roles"] {
            let vars: &'static [(&'static str, &'static str)] =
                Box::leak(Box::new([(ROLES_CLAIM, bad)]));
            let error = complete().with_env(env(vars)).unwrap_err();
            assert!(matches!(error, ConfigError::Env(env) if env.var() == ROLES_CLAIM));
        }
    }

    #[test]
    fn dpop_from_the_environment_fills_the_value() {
        let builder = Verifier::builder()
            .with_env(env(&[
                (DPOP, "required"),
                (DPOP_NONCE, "true"),
                (RESOURCE, "https://a.example"),
            ]))
            .unwrap();
        assert_eq!(builder.dpop.mode, crate::dpop::DpopMode::Required);
        assert!(builder.dpop.nonces.is_some());
        let verifier = builder.issuer("i").audience("a").key(Key::hmac(SECRET).unwrap()).build();
        assert!(verifier.unwrap().dpop_nonce().is_some());
        let err = Verifier::builder()
            .with_env(env(&[
                (DPOP_NONCE, "false"),
                (DPOP_NONCE_KEY, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaA"),
            ]))
            .unwrap_err();
        assert!(err.to_string().starts_with("PORTCULLIS_DPOP_NONCE_KEY: a nonce key is set"));
    }
}
