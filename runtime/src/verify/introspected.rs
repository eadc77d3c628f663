//! Opaque tokens: which tokens are introspected, and what an introspection answer must say to
//! be accepted (the settings are `config::Introspection`'s).
//!
//! The HTTP client and the cache are in `crate::introspect`; what an answer means is decided
//! here, with the very rules of a JWT's claims (`claims.rs`: `ClaimRules` and `ClaimMapping`).

use serde_json::{Map, Value};

use super::Verifier;
use super::claims::{Validity, numeric_date, unix_now};
use crate::introspect::{Answer, Computed, Introspector, Refusal};
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
    pub(crate) fn accept_introspected(
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

#[cfg(test)]
mod tests {
    use super::*;

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
