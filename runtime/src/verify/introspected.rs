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
                        Ok(Answer::Active(members))
                            if !names_other_issuer(&members, introspector) =>
                        {
                            Computed::Active {
                                principal,
                                exp: Some(validity.exp),
                                nbf: validity.nbf,
                            }
                        }
                        Ok(Answer::Active(_)) => Computed::Refused(InvalidTokenReason::WrongIssuer),
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
        match members.get("token_type") {
            None => {}
            Some(Value::String(kind))
                if kind.eq_ignore_ascii_case("bearer")
                    || kind.eq_ignore_ascii_case("access_token") => {}
            // A DPoP-bound token (RFC 9449 §6.2) names its key: without `cnf` nothing binds it.
            Some(Value::String(kind))
                if kind.eq_ignore_ascii_case("dpop") && members.contains_key("cnf") => {}
            Some(_) => return Err(InvalidTokenReason::InvalidClaims),
        }
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
    /// use portcullis::{Introspection, Verifier};
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
pub(super) fn apply_env(
    mut builder: VerifierBuilder,
    lookup: &impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<VerifierBuilder, ConfigError> {
    let read = |var| super::builder::read_env(lookup, var);
    let url = read(env::INTROSPECTION_URL)?;
    let id = read(env::INTROSPECTION_CLIENT_ID)?;
    let secret = read(env::INTROSPECTION_CLIENT_SECRET)?;
    if url.is_none() && id.is_none() {
        if secret.is_some() {
            return Err(ConfigError::Env {
                var: env::INTROSPECTION_CLIENT_SECRET,
                problem: "a client secret needs PORTCULLIS_INTROSPECTION_CLIENT_ID",
            });
        }
        return Ok(builder);
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
}
