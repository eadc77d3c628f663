//! Opaque tokens (issue 17): which tokens are introspected, what an introspection answer must
//! say to be accepted, the builder's introspection settings and their environment variables.
//!
//! The HTTP client and the cache are in `crate::introspect`; what an answer means is decided
//! here, with the very rules of a JWT's claims (`claims.rs`: `ClaimRules` and `ClaimMapping`).

use serde_json::{Map, Value};

use super::builder::{ConfigError, VerifierBuilder};
use super::claims::{Validity, numeric_date, unix_now};
use super::{Verifier, env};
use crate::introspect::{Answer, Computed, Introspection, Introspector, Refusal, SetupError};
use crate::principal::Principal;
use crate::respond::{Denial, DenialKind, InvalidTokenReason};

/// Whether an active answer for a JWT names another issuer than the endpoint's own (an answer
/// that names none speaks of the token it was asked about, whose `iss` was verified).
fn names_other_issuer(members: &Map<String, Value>, introspector: &Introspector) -> bool {
    match (members.get("iss"), introspector.issuer()) {
        (None, _) | (Some(_), None) => false,
        (Some(Value::String(iss)), Some(issuer)) => iss != issuer,
        (Some(_), Some(_)) => true,
    }
}

/// Whether `token` is a JWS in compact serialization: three parts separated by `.`, each of the
/// base64url alphabet, the header and payload not empty. Such a token is verified locally;
/// anything else (an opaque token) is introspected when introspection is configured.
pub(super) fn is_compact_jws(token: &str) -> bool {
    let base64url = |part: &str| {
        part.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    };
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature), None) => {
            !header.is_empty()
                && !payload.is_empty()
                && base64url(header)
                && base64url(payload)
                && base64url(signature)
        }
        _ => false,
    }
}

/// RFC 8693 §3's token type URIs that name something else than an access token.
const NOT_ACCESS_TOKEN_URIS: [&str; 2] =
    ["urn:ietf:params:oauth:token-type:refresh_token", "urn:ietf:params:oauth:token-type:id_token"];

/// Whether an active answer speaks of an access token. An authorization server that introspects
/// every token it issued answers `active` for a refresh token or an ID token too, and such a
/// token, stolen from a client, must not open the API: refused (`WrongType`) when
///
/// - `token_use` (Cognito's claim) is not `access` (nor `access_token`, or RFC 8693's URI),
/// - `typ` (Keycloak's claim) is `Refresh`, `Offline`, `ID` (or `refresh_token`, `id_token`, or
///   RFC 8693's URIs for them),
/// - `token_type` (RFC 7662 §2.2: the access token's type, RFC 6749 §7.1) is neither `Bearer`
///   nor `access_token` (a `token_type_hint` value) nor RFC 8693's access token URI.
///
/// Each member is optional; one of another JSON type is `InvalidClaims`. The member that refused
/// the token is logged by name (never its value, nor the token).
fn access_token(members: &Map<String, Value>) -> Result<(), InvalidTokenReason> {
    const ACCESS_TOKEN_URI: &str = "urn:ietf:params:oauth:token-type:access_token";
    let refuse = |member: &'static str| {
        tracing::info!(target: "portcullis::introspection", member, "an active answer is not for an access token: refused");
        Err(InvalidTokenReason::WrongType)
    };
    let text = |member: &'static str| match members.get(member) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.as_str())),
        Some(_) => Err(InvalidTokenReason::InvalidClaims),
    };
    let is =
        |value: &str, names: &[&str]| names.iter().any(|name| value.eq_ignore_ascii_case(name));
    if let Some(used) = text("token_use")?
        && !is(used, &["access", "access_token", ACCESS_TOKEN_URI])
    {
        return refuse("token_use");
    }
    if let Some(kind) = text("typ")?
        && (is(kind, &["refresh", "offline", "id", "refresh_token", "id_token"])
            || is(kind, &NOT_ACCESS_TOKEN_URIS))
    {
        return refuse("typ");
    }
    if let Some(kind) = text("token_type")?
        && !is(kind, &["bearer", "access_token", ACCESS_TOKEN_URI])
        // A DPoP-bound token (RFC 9449 §6.2) names its key: without `cnf` nothing binds it.
        && !(is(kind, &["dpop"]) && members.contains_key("cnf"))
    {
        return refuse("token_type");
    }
    Ok(())
}

impl Verifier {
    /// Authenticates `token` by introspection: served from the cache when it can be, otherwise
    /// one call per token at a time. A JWT (when JWTs are introspected too) is verified locally
    /// first, and must then be active.
    pub(super) async fn introspect(
        &self,
        introspector: &Introspector,
        token: &str,
    ) -> Result<Principal, Denial> {
        let jws = is_compact_jws(token);
        if !jws && !introspector.recognises(token) {
            tracing::debug!(target: "portcullis::introspection", "an opaque token the pre-filter does not recognise: refused without a call");
            return Err(self.deny(DenialKind::InvalidToken(InvalidTokenReason::Malformed)));
        }
        // A JWT's decision also holds only for the keys that verified it, as in the
        // verified-token cache: new keys (a key withdrawn from the set) verify it again.
        let key = if jws {
            Introspector::key_for_keys(token, self.inner.settings.keys.generation())
        } else {
            Introspector::key(token)
        };
        let outcome = match introspector.cached(&key) {
            Some(outcome) => outcome,
            None if jws => {
                // Cheap refusals first, and no token that cannot verify is sent anywhere.
                let (principal, validity) = self.verify_fetching(token).await?;
                // The endpoint speaks for its own issuer: another issuer's JWT is not sent to
                // it (that would show it the token), and is accepted on its verification alone.
                if let Some(issuer) = introspector.issuer()
                    && principal.issuer() != Some(issuer)
                {
                    return Ok(principal);
                }
                let compute = || async {
                    match introspector.call(token).await {
                        Ok(Answer::Active(members)) => match access_token(&members) {
                            Err(reason) => Computed::Refused(reason),
                            Ok(()) if names_other_issuer(&members, introspector) => {
                                Computed::Refused(InvalidTokenReason::WrongIssuer)
                            }
                            Ok(()) => Computed::Active {
                                principal,
                                exp: Some(validity.exp),
                                nbf: validity.nbf,
                            },
                        },
                        Ok(Answer::Inactive) => Computed::Refused(InvalidTokenReason::Inactive),
                        Err(()) => Computed::Unavailable,
                    }
                };
                introspector.resolve(&key, compute).await
            }
            None => {
                let compute = || async {
                    match introspector.call(token).await {
                        Ok(Answer::Active(members)) => {
                            match self.accept_introspected(members, introspector.issuer()) {
                                Ok((principal, Validity { exp, nbf })) => {
                                    // `exp` absent from the answer was checked as "never".
                                    let exp = (exp != u64::MAX).then_some(exp);
                                    Computed::Active { principal, exp, nbf }
                                }
                                Err(reason) => Computed::Refused(reason),
                            }
                        }
                        Ok(Answer::Inactive) => Computed::Refused(InvalidTokenReason::Inactive),
                        Err(()) => Computed::Unavailable,
                    }
                };
                introspector.resolve(&key, compute).await
            }
        };
        outcome.map_err(|refusal| match refusal {
            Refusal::Invalid(reason) => self.deny(DenialKind::InvalidToken(reason)),
            Refusal::Unavailable { retry_after } => {
                self.deny(DenialKind::IntrospectionUnavailable { retry_after })
            }
        })
    }

    /// The principal of an active answer: its members are checked as a JWT's claims are
    /// (`exp`, `nbf`, `iss`, `aud` with the leeway), and read the same way (`sub`, the scope
    /// claims, the principal id).
    ///
    /// RFC 7662 §2.2 makes every member but `active` optional: an answer without `exp` is valid
    /// until the cache's maximum age ends it (the authorization server has just said the token is
    /// active). A token of another type than an access token is refused. An answer's `cnf` binds
    /// the token as a JWT's does (RFC 9449 §6.2): the principal keeps the binding, and the
    /// request must prove it, on this call and on every cache hit.
    fn accept_introspected(
        &self,
        mut members: Map<String, Value>,
        issuer: Option<&str>,
    ) -> Result<(Principal, Validity), InvalidTokenReason> {
        let settings = &self.inner.settings;
        access_token(&members)?;
        let has_exp = numeric_date(members.get("exp"))?.is_some();
        if !has_exp {
            members.insert("exp".to_owned(), Value::from(u64::MAX));
        }
        let checked = settings.rules.check_introspected(&members, unix_now());
        if !has_exp {
            members.remove("exp");
        }
        let validity = checked?;
        // The endpoint speaks for its own issuer only (RFC 8725 §3.8's rule for keys).
        if let Some(issuer) = issuer {
            match members.get("iss") {
                Some(Value::String(iss)) if iss == issuer => {}
                Some(Value::String(_)) => return Err(InvalidTokenReason::WrongIssuer),
                None => return Err(InvalidTokenReason::MissingClaim),
                Some(_) => return Err(InvalidTokenReason::InvalidClaims),
            }
        }
        // RFC 7662 makes `sub` optional, and a client-credentials token has no resource owner:
        // then the client is the caller, as RFC 9068 §2.2 has `sub` name it in a JWT.
        if !members.contains_key("sub")
            && let Some(client_id) = members.get("client_id").cloned()
        {
            members.insert("sub".to_owned(), client_id);
        }
        let principal = settings.mapping.principal(members, &settings.presentation)?;
        Ok((principal, validity))
    }
}

// ---------------------------------------------------------------------------------------------
// The builder's introspection settings (kept apart from builder.rs, which other work edits)
// ---------------------------------------------------------------------------------------------

impl VerifierBuilder {
    /// Accepts opaque access tokens by RFC 7662 introspection (see [`Introspection`]): a token
    /// that is not a JWS is sent to the endpoint, and accepted when it is active and its members
    /// pass the same checks as a JWT's claims. JWTs are still verified locally, unless
    /// [`Introspection::introspect_jwts`] says otherwise.
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
    pub fn introspection(mut self, introspection: Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }
}

/// Applies `PORTCULLIS_INTROSPECTION_URL`, `PORTCULLIS_INTROSPECTION_CLIENT_ID` and
/// `PORTCULLIS_INTROSPECTION_CLIENT_SECRET` to `builder`. Introspection is on when the URL or the
/// client id is set; without the URL, the endpoint comes from the issuer's discovery document.
/// `PORTCULLIS_INTROSPECTION_MAX_CONCURRENT` and `PORTCULLIS_INTROSPECTION_TOKEN_PREFIX` tune it,
/// whether it was turned on by these variables or in code; alone, they are an error (they would
/// tune nothing).
pub(super) fn apply_env(
    mut builder: VerifierBuilder,
    lookup: &impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<VerifierBuilder, ConfigError> {
    let read = |var| super::builder::read_env(lookup, var);
    let url = read(env::INTROSPECTION_URL)?;
    let id = read(env::INTROSPECTION_CLIENT_ID)?;
    let secret = read(env::INTROSPECTION_CLIENT_SECRET)?;
    let max_concurrent = read(env::INTROSPECTION_MAX_CONCURRENT)?
        .map(|calls| match calls.parse::<usize>() {
            Ok(calls) if calls > 0 => Ok(calls),
            _ => Err(ConfigError::Env {
                var: env::INTROSPECTION_MAX_CONCURRENT,
                problem: "the value must be a positive integer",
            }),
        })
        .transpose()?;
    let prefixes = read(env::INTROSPECTION_TOKEN_PREFIX)?
        .map(|prefixes| {
            let prefixes: Vec<String> = prefixes.split(',').map(|p| p.trim().to_owned()).collect();
            if prefixes.iter().any(String::is_empty) {
                return Err(ConfigError::Env {
                    var: env::INTROSPECTION_TOKEN_PREFIX,
                    problem: "the comma-separated list holds an empty prefix",
                });
            }
            Ok(prefixes)
        })
        .transpose()?;
    if url.is_none() && id.is_none() {
        if secret.is_some() {
            return Err(ConfigError::Env {
                var: env::INTROSPECTION_CLIENT_SECRET,
                problem: "a client secret needs PORTCULLIS_INTROSPECTION_CLIENT_ID",
            });
        }
        if builder.introspection.is_none() {
            let tuning = [
                (env::INTROSPECTION_MAX_CONCURRENT, max_concurrent.is_some()),
                (env::INTROSPECTION_TOKEN_PREFIX, prefixes.is_some()),
            ];
            if let Some((var, _)) = tuning.into_iter().find(|(_, set)| *set) {
                return Err(ConfigError::Env {
                    var,
                    problem: "introspection is not configured: set PORTCULLIS_INTROSPECTION_URL \
                              or PORTCULLIS_INTROSPECTION_CLIENT_ID too",
                });
            }
            return Ok(builder);
        }
    }
    let mut introspection = builder.introspection.take().unwrap_or_else(|| match &url {
        Some(url) => Introspection::endpoint(url.clone()),
        None => Introspection::discovered(),
    });
    if let Some(url) = url {
        introspection.endpoint = Some(url);
    }
    match (id, secret) {
        (Some(id), Some(secret)) => introspection = introspection.client_credentials(id, secret),
        (Some(_), None) => {
            return Err(ConfigError::Env {
                var: env::INTROSPECTION_CLIENT_SECRET,
                problem: "PORTCULLIS_INTROSPECTION_CLIENT_ID needs a client secret",
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Env {
                var: env::INTROSPECTION_CLIENT_ID,
                problem: "a client secret needs a client id",
            });
        }
        (None, None) => {}
    }
    if let Some(calls) = max_concurrent {
        introspection = introspection.max_concurrent_calls(calls);
    }
    if let Some(prefixes) = prefixes {
        // The environment's list replaces the code's, as every variable wins over the code.
        introspection.recognised.prefixes = prefixes;
    }
    builder.introspection = Some(introspection);
    Ok(builder)
}

/// The introspector of a checked configuration.
pub(super) fn introspector(
    config: Introspection,
    issuers: Option<&[String]>,
    leeway: u64,
    allow_http: bool,
) -> Result<Introspector, ConfigError> {
    Introspector::new(config, issuers, leeway, allow_http).map_err(|error| match error {
        SetupError::Url { url, problem } => {
            ConfigError::InvalidIntrospectionUrl { url: super::builder::shown_url(&url), problem }
        }
        SetupError::NeedsOneIssuer => ConfigError::IntrospectionNeedsIssuer,
        SetupError::IssuerNotAccepted(issuer) => {
            ConfigError::IntrospectionIssuerNotAccepted(issuer)
        }
        SetupError::Client(error) => ConfigError::HttpClient(error),
        SetupError::Setting { setting, problem } => {
            ConfigError::InvalidIntrospectionSetting { setting, problem }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Key;
    use std::ffi::OsString;

    #[test]
    fn what_is_a_jws() {
        for jws in ["a.b.c", "eyJh.eyJz.", "A-_z.09.s-_", "a.b.c"] {
            assert!(is_compact_jws(jws), "{jws}");
        }
        for opaque in [
            "opaque",
            "a.b",
            "a.b.c.d",
            ".b.c",
            "a..c",
            "a.b+.c",
            "a.b.c=",
            "ory_at_x.y",
            "a/b.c.d",
            "",
            "2YotnFZFEjr1zCsicMWpAA",
        ] {
            assert!(!is_compact_jws(opaque), "{opaque}");
        }
    }

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    fn built(vars: &'static [(&'static str, &'static str)]) -> Result<Verifier, ConfigError> {
        Verifier::builder().with_env(env(vars))?.audience("api").build()
    }

    #[test]
    fn environment() {
        // Nothing set: no introspection, and keys are required as before.
        let plain = Verifier::builder().with_env(env(&[])).unwrap().issuer("i").audience("a");
        assert!(matches!(plain.build(), Err(ConfigError::NoKeys)));
        // The URL alone (no keys needed), with credentials, or discovered from the issuer.
        assert!(
            built(&[
                ("PORTCULLIS_ISSUER", "https://as.example"),
                ("PORTCULLIS_INTROSPECTION_URL", "https://as.example/introspect"),
            ])
            .is_ok()
        );
        assert!(
            Verifier::builder()
                .issuer("https://as.example")
                .audience("api")
                .with_env(env(&[
                    ("PORTCULLIS_INTROSPECTION_URL", "https://as.example/introspect"),
                    ("PORTCULLIS_INTROSPECTION_CLIENT_ID", "api"),
                    ("PORTCULLIS_INTROSPECTION_CLIENT_SECRET", "secret"),
                ]))
                .unwrap()
                .key(Key::hmac(b"0123456789abcdef0123456789abcdef").unwrap())
                .build()
                .is_ok()
        );
        let builder = Verifier::builder()
            .with_env(env(&[
                ("PORTCULLIS_ISSUER", "https://as.example"),
                ("PORTCULLIS_INTROSPECTION_CLIENT_ID", "api"),
                ("PORTCULLIS_INTROSPECTION_CLIENT_SECRET", "secret-from-env"),
            ]))
            .unwrap();
        let shown = format!("{builder:?}");
        assert!(shown.contains("(discovered)") && !shown.contains("secret-from-env"), "{shown}");
        assert!(builder.audience("api").build().is_ok());
        // Errors name the variable.
        let cases: [(&'static [(&'static str, &'static str)], &str); 4] = [
            (
                &[("PORTCULLIS_INTROSPECTION_CLIENT_SECRET", "s")],
                "PORTCULLIS_INTROSPECTION_CLIENT_SECRET",
            ),
            (
                &[("PORTCULLIS_INTROSPECTION_CLIENT_ID", "api")],
                "PORTCULLIS_INTROSPECTION_CLIENT_SECRET",
            ),
            (
                &[
                    ("PORTCULLIS_INTROSPECTION_URL", "https://as.example/i"),
                    ("PORTCULLIS_INTROSPECTION_CLIENT_SECRET", "s"),
                ],
                "PORTCULLIS_INTROSPECTION_CLIENT_ID",
            ),
            (&[("PORTCULLIS_INTROSPECTION_URL", " ")], "PORTCULLIS_INTROSPECTION_URL"),
        ];
        for (vars, var) in cases {
            let err = VerifierBuilder::new().with_env(env(vars)).unwrap_err();
            assert!(err.to_string().starts_with(var), "{err}");
        }
        // A URL that cannot be used, and discovery without exactly one issuer.
        let err = built(&[
            ("PORTCULLIS_ISSUER", "https://as.example"),
            ("PORTCULLIS_INTROSPECTION_URL", "http://as.example/introspect"),
        ])
        .unwrap_err();
        assert!(matches!(err, ConfigError::InvalidIntrospectionUrl { .. }), "{err}");
        // A URL holding credentials is refused, and the error does not repeat them.
        let err = built(&[
            ("PORTCULLIS_ISSUER", "https://as.example"),
            ("PORTCULLIS_INTROSPECTION_URL", "https://api:s3cret@as.example/introspect"),
        ])
        .unwrap_err();
        let shown = err.to_string();
        assert!(matches!(err, ConfigError::InvalidIntrospectionUrl { .. }), "{shown}");
        assert!(!shown.contains("s3cret") && !shown.contains("api:"), "{shown}");
        assert!(shown.contains("https://<redacted>@as.example/introspect"), "{shown}");
        let err = Verifier::builder()
            .any_issuer()
            .any_audience()
            .introspection(Introspection::discovered())
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::IntrospectionNeedsIssuer), "{err}");
    }

    #[test]
    fn the_bound_and_the_prefixes_from_the_environment() {
        const URL: (&str, &str) = ("PORTCULLIS_INTROSPECTION_URL", "https://as.example/introspect");
        const ISSUER: (&str, &str) = ("PORTCULLIS_ISSUER", "https://as.example");
        let builder = Verifier::builder()
            .with_env(env(&[
                ISSUER,
                URL,
                ("PORTCULLIS_INTROSPECTION_MAX_CONCURRENT", "4"),
                ("PORTCULLIS_INTROSPECTION_TOKEN_PREFIX", "ory_at_, gho_"),
            ]))
            .unwrap();
        let shown = format!("{builder:?}");
        assert!(shown.contains("max_concurrent_calls: 4"), "{shown}");
        assert!(shown.contains(r#"prefixes: ["ory_at_", "gho_"]"#), "{shown}");
        assert!(builder.audience("api").build().is_ok());
        // They tune introspection configured in code too, the variables winning.
        let builder = Verifier::builder()
            .issuer("https://as.example")
            .introspection(
                Introspection::endpoint("https://as.example/i")
                    .max_concurrent_calls(100)
                    .opaque_token_prefix("code_"),
            )
            .with_env(env(&[
                ("PORTCULLIS_INTROSPECTION_MAX_CONCURRENT", "8"),
                ("PORTCULLIS_INTROSPECTION_TOKEN_PREFIX", "env_"),
            ]))
            .unwrap();
        let shown = format!("{builder:?}");
        assert!(shown.contains("max_concurrent_calls: 8"), "{shown}");
        assert!(shown.contains(r#"prefixes: ["env_"]"#), "{shown}");
        // Errors name the variable.
        let cases: [(&'static [(&'static str, &'static str)], &str); 6] = [
            (&[URL, ("PORTCULLIS_INTROSPECTION_MAX_CONCURRENT", "0")], "a positive integer"),
            (&[URL, ("PORTCULLIS_INTROSPECTION_MAX_CONCURRENT", "-3")], "a positive integer"),
            (&[URL, ("PORTCULLIS_INTROSPECTION_MAX_CONCURRENT", "many")], "a positive integer"),
            (&[URL, ("PORTCULLIS_INTROSPECTION_TOKEN_PREFIX", "ory_at_,,x")], "an empty prefix"),
            (&[("PORTCULLIS_INTROSPECTION_MAX_CONCURRENT", "4")], "not configured"),
            (&[("PORTCULLIS_INTROSPECTION_TOKEN_PREFIX", "ory_at_")], "not configured"),
        ];
        for (vars, problem) in cases {
            let err = VerifierBuilder::new().with_env(env(vars)).unwrap_err();
            let (var, _) = vars[vars.len() - 1];
            let shown = err.to_string();
            assert!(shown.starts_with(var) && shown.contains(problem), "{shown}");
        }
    }

    #[test]
    fn settings_that_cannot_work_do_not_build() {
        let build = |introspection: Introspection| {
            Verifier::builder()
                .issuer("https://as.example")
                .audience("api")
                .introspection(introspection)
                .build()
        };
        let endpoint = || Introspection::endpoint("https://as.example/i");
        let err = build(endpoint().max_concurrent_calls(0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "introspection: max_concurrent_calls: at least one call must be allowed"
        );
        let err =
            build(endpoint().opaque_token_prefix("ory_at_").opaque_token_prefix("")).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::InvalidIntrospectionSetting { setting: "opaque_token_prefix", .. }
            ),
            "{err}"
        );
        assert!(build(endpoint().max_concurrent_calls(1).opaque_token_prefix("x")).is_ok());
    }

    #[test]
    fn which_answers_speak_of_an_access_token() {
        let answer = |member: &str, value: Value| {
            let mut members = Map::new();
            members.insert(member.to_owned(), value);
            access_token(&members)
        };
        assert_eq!(access_token(&Map::new()), Ok(()));
        for (member, value) in [
            ("token_use", "access"),
            ("token_use", "access_token"),
            ("token_type", "Bearer"),
            ("token_type", "bearer"),
            ("token_type", "access_token"),
            ("token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ("typ", "Bearer"),
            ("typ", "at+jwt"),
        ] {
            assert_eq!(answer(member, Value::from(value)), Ok(()), "{member}: {value}");
        }
        for (member, value) in [
            ("token_use", "id"),
            ("token_use", "refresh"),
            ("typ", "Refresh"),
            ("typ", "Offline"),
            ("typ", "ID"),
            ("typ", "refresh_token"),
            ("typ", "urn:ietf:params:oauth:token-type:id_token"),
            ("token_type", "refresh_token"),
            ("token_type", "id_token"),
            ("token_type", "urn:ietf:params:oauth:token-type:refresh_token"),
            ("token_type", "urn:ietf:params:oauth:token-type:id_token"),
            ("token_type", "mac"),
        ] {
            assert_eq!(
                answer(member, Value::from(value)),
                Err(InvalidTokenReason::WrongType),
                "{member}: {value}"
            );
        }
        for member in ["token_use", "typ", "token_type"] {
            assert_eq!(answer(member, Value::from(1)), Err(InvalidTokenReason::InvalidClaims));
        }
    }
}
