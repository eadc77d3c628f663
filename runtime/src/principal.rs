//! The verified caller, and the extractors that hand it to handlers.

use std::fmt;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::denial::{Denial, DenialKind, InvalidTokenReason};
use crate::scope::Scopes;
use crate::verifier::Verifier;

/// Which claims hold the token's scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeClaim {
    /// `scope`: a space-delimited string (RFC 8693 §4.2, RFC 9068 §2.2.3). Read by default.
    Scope,
    /// `scp`: a space-delimited string or an array of strings (Entra ID, Okta).
    Scp,
    /// `permissions`: an array of strings (Auth0 RBAC).
    Permissions,
}

impl ScopeClaim {
    /// The claim's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Scope => "scope",
            Self::Scp => "scp",
            Self::Permissions => "permissions",
        }
    }
}

/// How the principal is read from the verified claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClaimMapping {
    pub(crate) scope_claims: Vec<ScopeClaim>,
    /// A claim that identifies the caller for ownership, instead of `sub`.
    pub(crate) principal_id_claim: Option<String>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self { scope_claims: vec![ScopeClaim::Scope], principal_id_claim: None }
    }
}

/// The verified caller: subject, scopes and every claim of the token.
///
/// Cheap to clone. Extract it in a handler to learn who is calling; inside a guarded handler it
/// comes from the guard, so the token is verified once per request.
///
/// ```
/// use portcullis::Principal;
///
/// async fn whoami(principal: Principal) -> String {
///     format!("{} may {:?}", principal.subject(), principal.scopes().iter().collect::<Vec<_>>())
/// }
/// # let _ = axum::Router::<portcullis::Verifier>::new().route("/", axum::routing::get(whoami));
/// ```
#[derive(Clone)]
pub struct Principal {
    inner: Arc<PrincipalInner>,
}

struct PrincipalInner {
    subject: String,
    id: Option<String>,
    scopes: Scopes,
    claims: Map<String, Value>,
}

impl fmt::Debug for Principal {
    // Claims can hold personal data; logs get the subject and the scopes only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("subject", &self.inner.subject)
            .field("scopes", &self.inner.scopes)
            .finish_non_exhaustive()
    }
}

impl Principal {
    /// Reads the principal from verified claims.
    pub(crate) fn from_claims(
        claims: Map<String, Value>,
        mapping: &ClaimMapping,
    ) -> Result<Self, InvalidTokenReason> {
        let subject = match claims.get("sub") {
            Some(Value::String(subject)) if !subject.is_empty() => subject.clone(),
            Some(Value::String(_)) | None => return Err(InvalidTokenReason::MissingClaim),
            Some(_) => return Err(InvalidTokenReason::InvalidClaims),
        };
        let id = match &mapping.principal_id_claim {
            None => None,
            Some(name) => Some(match claims.get(name) {
                Some(Value::String(id)) if !id.is_empty() => id.clone(),
                Some(Value::Number(id)) if id.is_u64() || id.is_i64() => id.to_string(),
                None => return Err(InvalidTokenReason::MissingClaim),
                Some(_) => return Err(InvalidTokenReason::InvalidClaims),
            }),
        };
        let mut granted = Vec::new();
        for claim in &mapping.scope_claims {
            read_scopes(*claim, claims.get(claim.name()), &mut granted)?;
        }
        Ok(Self {
            inner: Arc::new(PrincipalInner { subject, id, scopes: Scopes::new(granted), claims }),
        })
    }

    /// The `sub` claim.
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }

    /// Who owns resources created by this caller: the configured principal-id claim, or `sub`.
    pub fn id(&self) -> &str {
        self.inner.id.as_deref().unwrap_or(&self.inner.subject)
    }

    /// The granted scopes.
    pub fn scopes(&self) -> &Scopes {
        &self.inner.scopes
    }

    /// `true` when `scope` is granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.inner.scopes.contains(scope)
    }

    /// Every claim of the token.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.inner.claims
    }

    /// One claim.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.inner.claims.get(name)
    }

    /// The claims as the application's own type.
    pub fn deserialize_claims<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.inner.claims)
    }
}

fn read_scopes(
    claim: ScopeClaim,
    value: Option<&Value>,
    granted: &mut Vec<String>,
) -> Result<(), InvalidTokenReason> {
    let split = |text: &str, granted: &mut Vec<String>| {
        granted.extend(text.split(' ').filter(|s| !s.is_empty()).map(str::to_owned));
    };
    match (claim, value) {
        (_, None) => Ok(()),
        (ScopeClaim::Scope | ScopeClaim::Scp, Some(Value::String(text))) => {
            split(text, granted);
            Ok(())
        }
        (ScopeClaim::Scp | ScopeClaim::Permissions, Some(Value::Array(items))) => {
            for item in items {
                match item {
                    Value::String(scope) if !scope.is_empty() => granted.push(scope.clone()),
                    _ => return Err(InvalidTokenReason::InvalidClaims),
                }
            }
            Ok(())
        }
        _ => Err(InvalidTokenReason::InvalidClaims),
    }
}

impl<S> FromRequestParts<S> for Principal
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Denial;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Verifier::from_ref(state).authenticate_once(parts).await
    }
}

/// The verified claims as the application's own type.
///
/// Claims that do not fit the type make the token invalid (401), since the token is not one this
/// application can use.
///
/// ```
/// use portcullis::Claims;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Tenant {
///     tenant_id: String,
/// }
///
/// async fn handler(Claims(tenant): Claims<Tenant>) -> String {
///     tenant.tenant_id
/// }
/// # let _ = axum::Router::<portcullis::Verifier>::new().route("/", axum::routing::get(handler));
/// ```
#[derive(Debug, Clone)]
pub struct Claims<T>(pub T);

impl<S, T> FromRequestParts<S> for Claims<T>
where
    Verifier: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Denial;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state).await?;
        principal.deserialize_claims().map(Claims).map_err(|_| {
            Verifier::from_ref(state)
                .deny(DenialKind::InvalidToken(InvalidTokenReason::InvalidClaims))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn principal(claims: Value, mapping: &ClaimMapping) -> Result<Principal, InvalidTokenReason> {
        let Value::Object(claims) = claims else { panic!("claims must be an object") };
        Principal::from_claims(claims, mapping)
    }

    fn all_claims() -> ClaimMapping {
        ClaimMapping {
            scope_claims: vec![ScopeClaim::Scope, ScopeClaim::Scp, ScopeClaim::Permissions],
            principal_id_claim: None,
        }
    }

    #[test]
    fn scope_claim_is_space_delimited() {
        let p = principal(
            json!({"sub": "a", "scope": " docs:read  docs:write "}),
            &ClaimMapping::default(),
        )
        .unwrap();
        assert_eq!(p.scopes().iter().collect::<Vec<_>>(), ["docs:read", "docs:write"]);
        assert_eq!(p.id(), "a");
    }

    #[test]
    fn scp_and_permissions_only_when_configured() {
        let claims = json!({"sub": "a", "scp": ["x", "y"], "permissions": ["z"], "scope": "w"});
        let default = principal(claims.clone(), &ClaimMapping::default()).unwrap();
        assert_eq!(default.scopes().iter().collect::<Vec<_>>(), ["w"]);
        let all = principal(claims, &all_claims()).unwrap();
        assert_eq!(all.scopes().iter().collect::<Vec<_>>(), ["w", "x", "y", "z"]);
        let scp_string = principal(json!({"sub": "a", "scp": "x y"}), &all_claims()).unwrap();
        assert_eq!(scp_string.scopes().len(), 2);
    }

    #[test]
    fn wrong_claim_types_are_invalid() {
        for claims in [
            json!({"sub": "a", "scope": {"x": 1}}),
            json!({"sub": "a", "scope": ["x"]}),
            json!({"sub": "a", "permissions": "x"}),
            json!({"sub": "a", "scp": [1]}),
            json!({"sub": 7}),
        ] {
            assert_eq!(
                principal(claims.clone(), &all_claims()).unwrap_err(),
                InvalidTokenReason::InvalidClaims,
                "{claims}"
            );
        }
        assert_eq!(
            principal(json!({}), &all_claims()).unwrap_err(),
            InvalidTokenReason::MissingClaim
        );
        assert_eq!(
            principal(json!({"sub": ""}), &all_claims()).unwrap_err(),
            InvalidTokenReason::MissingClaim
        );
    }

    #[test]
    fn principal_id_claim_replaces_the_subject_for_ownership() {
        let mapping =
            ClaimMapping { principal_id_claim: Some("uid".into()), ..ClaimMapping::default() };
        assert_eq!(principal(json!({"sub": "a", "uid": 42}), &mapping).unwrap().id(), "42");
        assert_eq!(principal(json!({"sub": "a", "uid": "u-1"}), &mapping).unwrap().id(), "u-1");
        assert_eq!(
            principal(json!({"sub": "a"}), &mapping).unwrap_err(),
            InvalidTokenReason::MissingClaim
        );
        assert_eq!(
            principal(json!({"sub": "a", "uid": true}), &mapping).unwrap_err(),
            InvalidTokenReason::InvalidClaims
        );
    }

    #[test]
    fn typed_claims() {
        #[derive(serde::Deserialize)]
        struct Custom {
            tenant: String,
        }
        let p = principal(json!({"sub": "a", "tenant": "t1"}), &ClaimMapping::default()).unwrap();
        assert_eq!(p.deserialize_claims::<Custom>().unwrap().tenant, "t1");
        assert!(format!("{p:?}").contains("subject: \"a\""));
        assert!(!format!("{p:?}").contains("t1"));
    }
}
