//! The verified caller, as handlers receive it: [`Principal`], and [`Claims`] for the
//! application's own claim type. Their extractors live with the guard, which shares their state
//! bound.

use std::fmt;
use std::sync::Arc;

use http::HeaderValue;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::principal_id::PrincipalId;
use crate::respond::{Denial, DenialKind, InvalidTokenReason, NotFoundReason, Presentation};
use crate::role::Roles;
use crate::scope::Scopes;
use crate::step_up::SignIn;

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
    /// The token came with the `DPoP` scheme and a valid proof: denials use that scheme.
    dpop: bool,
    /// A fresh server nonce for the client's next DPoP proof, when the one it used expires soon.
    dpop_nonce: Option<Arc<str>>,
    /// Served by a cache of verified tokens (or introspection answers), not verified now: what
    /// the guard's duration histogram is split by (feature `metrics`).
    from_cache: bool,
}

struct PrincipalInner {
    subject: String,
    id: PrincipalId,
    scopes: Scopes,
    roles: Roles,
    claims: Map<String, Value>,
    /// What the token's `cnf` binds it to: read once here, as every request of the token asks
    /// it, cache hits included (the caches keep principals, so they keep the binding too).
    binding: Binding,
    /// How the user signed in (`acr` and the like, `auth_time`), for step-up requirements.
    sign_in: SignIn,
    /// How the verifier that verified this caller renders denials, so that a handler can refuse
    /// exactly as the guard does without the router state.
    presentation: Arc<Presentation>,
}

impl fmt::Debug for Principal {
    // Claims can hold personal data; logs get the subject and the scopes only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("subject", &self.inner.subject)
            .field("scopes", &self.inner.scopes)
            .field("roles", &self.inner.roles)
            .finish_non_exhaustive()
    }
}

impl Principal {
    /// A principal read from verified claims (by `verify::claims`).
    pub(crate) fn new(
        subject: String,
        id: PrincipalId,
        scopes: Scopes,
        roles: Roles,
        claims: Map<String, Value>,
        sign_in: SignIn,
        presentation: Arc<Presentation>,
    ) -> Self {
        let binding = Binding::of(claims.get("cnf"));
        Self {
            inner: Arc::new(PrincipalInner {
                subject,
                id,
                scopes,
                roles,
                claims,
                binding,
                sign_in,
                presentation,
            }),
            dpop: false,
            dpop_nonce: None,
            from_cache: false,
        }
    }

    /// The same principal, as a cache serves it.
    pub(crate) fn served_from_cache(mut self) -> Self {
        self.from_cache = true;
        self
    }

    /// Whether a cache served this principal (no signature or introspection call now).
    pub(crate) fn is_from_cache(&self) -> bool {
        self.from_cache
    }

    /// The `sub` claim.
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }

    /// The `iss` claim, if the token has one.
    pub fn issuer(&self) -> Option<&str> {
        self.inner.claims.get("iss").and_then(Value::as_str)
    }

    /// Who owns resources created by this caller: the configured principal-id claim, or `sub`;
    /// with more than one accepted issuer, the pair of the issuer and that value (alice of
    /// issuer A and alice of issuer B are different owners).
    ///
    /// It compares with a stored owner as it is (`principal.id() == owner.as_str()`), and is
    /// stored by its text form ([`PrincipalId::as_str`]), which [`PrincipalId`]'s `FromStr`
    /// reads back.
    pub fn id(&self) -> &PrincipalId {
        &self.inner.id
    }

    /// The granted scopes.
    pub fn scopes(&self) -> &Scopes {
        &self.inner.scopes
    }

    /// `true` when `scope` is granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.inner.scopes.contains(scope)
    }

    /// The granted roles, read from the configured role claims
    /// ([`VerifierBuilder::role_claims`](crate::config::VerifierBuilder::role_claims)).
    pub fn roles(&self) -> &Roles {
        &self.inner.roles
    }

    /// `true` when `role` is granted.
    pub fn has_role(&self, role: &str) -> bool {
        self.inner.roles.contains(role)
    }

    /// The authentication context classes the token meets, read from the configured
    /// [`AcrSource`](crate::config::AcrSource)s (by default the `acr` claim), which
    /// `#[requires_authentication(acr = ..)]` compares with.
    pub fn acr_values(&self) -> impl Iterator<Item = &str> {
        self.inner.sign_in.classes()
    }

    /// When the user signed in (`auth_time`, seconds since the epoch), if the token says so in
    /// a NumericDate.
    pub fn auth_time(&self) -> Option<u64> {
        self.inner.sign_in.auth_time()
    }

    /// How the user signed in, for the step-up check.
    pub(crate) fn sign_in(&self) -> &SignIn {
        &self.inner.sign_in
    }

    /// Every claim of the token.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.inner.claims
    }

    /// One claim.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.inner.claims.get(name)
    }

    /// The claim at a dotted `path`, such as `realm_access.roles` or
    /// `resource_access.documents.roles`: each segment is a member of the object before it. A
    /// segment may hold any character but `.` (`cognito:groups` is one segment); a name that
    /// itself holds dots (Auth0's `https://example.com/roles`) is found too, since at every level
    /// the whole rest of the path is tried as a name before it is split.
    pub fn claim_at(&self, path: &str) -> Option<&Value> {
        claim_at(&self.inner.claims, path)
    }

    /// The claims as the application's own type.
    pub fn deserialize_claims<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.inner.claims)
    }

    /// A refusal rendered exactly as the guard that verified this caller renders its own (with
    /// the `DPoP` challenge when the token came with DPoP).
    pub fn deny(&self, kind: DenialKind) -> Denial {
        let denial = Denial::new(kind, Arc::clone(&self.inner.presentation));
        if self.dpop { denial.for_dpop_request() } else { denial }
    }

    /// What the token is bound to: a token with any binding is never a bearer token.
    pub(crate) fn binding(&self) -> &Binding {
        &self.inner.binding
    }

    /// `true` when the token was presented with the `DPoP` scheme and a valid proof of
    /// possession of the key it is bound to (RFC 9449).
    pub fn is_dpop(&self) -> bool {
        self.dpop
    }

    /// The same principal, proven with DPoP.
    pub(crate) fn proven_with_dpop(mut self) -> Self {
        self.dpop = true;
        self
    }

    /// A fresh server nonce for the client's next DPoP proof (RFC 9449 §8.2), when nonces are
    /// on and the one its proof carried expires soon: send it in a `DPoP-Nonce` response
    /// header. [`RequireAuthLayer`](crate::layer::RequireAuthLayer) and the attribute guards do so
    /// themselves.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop_nonce.as_deref()
    }

    /// [`Principal::dpop_nonce`] as the value of a `DPoP-Nonce` header.
    pub(crate) fn dpop_nonce_header(&self) -> Option<HeaderValue> {
        self.dpop_nonce().and_then(|nonce| HeaderValue::from_str(nonce).ok())
    }

    /// The same principal, with a nonce to send the client.
    pub(crate) fn with_dpop_nonce(mut self, nonce: String) -> Self {
        self.dpop_nonce = Some(nonce.into());
        self
    }

    /// The guard's own 404, byte for byte: for a handler that finds the resource gone (deleted
    /// meanwhile, say), so that "gone" cannot be told from "never existed" or "someone else's".
    ///
    /// ```
    /// use portcullis::{Denial, Principal};
    ///
    /// async fn archive(principal: Principal) -> Result<&'static str, Denial> {
    ///     let archived = false; // the application's own lookup
    ///     if archived { Ok("archived") } else { Err(principal.not_found()) }
    /// }
    /// # let _ = axum::Router::<portcullis::Verifier>::new().route("/", axum::routing::post(archive));
    /// ```
    pub fn not_found(&self) -> Denial {
        self.deny(DenialKind::NotFound(NotFoundReason::Absent))
    }
}

/// What a token's confirmation claim (`cnf`, RFC 7800) binds it to.
///
/// Any `cnf` is a binding: a token that has one may only be used by whoever proves it, and this
/// server proves exactly one kind, a DPoP key's thumbprint. Every other confirmation method
/// (RFC 8705's `x5t#S256`, a `jwk`, a `kid`) and every malformed `cnf` is a binding nothing can
/// prove here, never a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Binding {
    /// No `cnf`: a bearer token.
    Bearer,
    /// `cnf` is exactly `{"jkt": "<thumbprint>"}` (RFC 9449 §6): the RFC 7638 thumbprint of the
    /// DPoP key whose proofs must come with the token.
    DpopKey(String),
    /// Any other `cnf`: a binding this server cannot check.
    Unsupported,
}

impl Binding {
    /// Why a token with this binding is refused when no proof comes with it (the `Bearer`
    /// scheme, [`Verifier::verify`](crate::Verifier::verify)); `None` for a bearer token.
    pub(crate) fn refused_as_bearer(&self) -> Option<InvalidTokenReason> {
        match self {
            Self::Bearer => None,
            Self::DpopKey(_) => Some(InvalidTokenReason::DpopBoundAsBearer),
            Self::Unsupported => Some(InvalidTokenReason::UnsupportedBinding),
        }
    }

    /// The binding a `cnf` claim (`None`: absent) states.
    pub(crate) fn of(cnf: Option<&Value>) -> Self {
        let Some(cnf) = cnf else { return Self::Bearer };
        match cnf.as_object() {
            Some(members) if members.len() == 1 => match members.get("jkt") {
                Some(Value::String(jkt)) => Self::DpopKey(jkt.clone()),
                _ => Self::Unsupported,
            },
            _ => Self::Unsupported,
        }
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

/// The value at a dotted claim `path` in `claims`: `realm_access.roles` is the member `roles` of
/// the object `realm_access`. A segment may hold any character but `.` (`cognito:groups` is one
/// segment); a name that itself holds dots (Auth0's `https://example.com/roles`) is found too,
/// since at every level the whole rest of the path is tried as a name before it is split.
pub(crate) fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut rest = path;
    let mut level = claims;
    // One segment down at each dot; at each level the whole rest is tried as a name first.
    while let Some((head, tail)) = rest.split_once('.') {
        let Some(Value::Object(next)) = level.get(head) else { return None };
        if let Some(value) = next.get(tail) {
            return Some(value);
        }
        level = next;
        rest = tail;
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn claim_at_reads_dotted_paths_and_names_with_dots() {
        let claims = serde_json::json!({
            "realm_access": {"roles": ["admin"]},
            "https://example.com/groups": ["a"],
        });
        let Some(claims) = claims.as_object() else { panic!("an object") };
        assert_eq!(
            super::claim_at(claims, "realm_access.roles"),
            Some(&serde_json::json!(["admin"]))
        );
        assert_eq!(
            super::claim_at(claims, "https://example.com/groups"),
            Some(&serde_json::json!(["a"]))
        );
        assert_eq!(super::claim_at(claims, "realm_access.groups"), None);
    }

    use super::Binding;
    use serde_json::json;

    #[test]
    fn any_cnf_is_a_binding_and_only_a_lone_string_jkt_is_a_dpop_key() {
        assert_eq!(Binding::of(None), Binding::Bearer);
        assert_eq!(Binding::of(Some(&json!({"jkt": "abc"}))), Binding::DpopKey("abc".into()));
        for cnf in [
            json!({"x5t#S256": "abc"}),
            json!({"jwk": {"kty": "OKP"}}),
            json!({"kid": "k1"}),
            json!({"jkt": 7}),
            json!({"jkt": null}),
            json!({"jkt": "abc", "x5t#S256": "def"}),
            json!({}),
            json!("abc"),
            json!(["abc"]),
            json!(null),
        ] {
            assert_eq!(Binding::of(Some(&cnf)), Binding::Unsupported, "{cnf}");
        }
    }
}
