//! What a token's claims must say, and what they mean.
//!
//! - [`ClaimRules`]: the registered claims every token must satisfy, `exp`, `nbf`, `iss`, `aud`
//!   (RFC 7519 §4.1). They are checked on the decoded claims before the signature, so that a
//!   flood of expired or misdirected tokens costs no signature work (the signature is still
//!   checked before anything is trusted), and so that the claims are parsed once per token. The
//!   check returns the token's [`Validity`], which the token cache keeps.
//! - [`ClaimMapping`]: how the caller is read from them, subject, principal id and scopes.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::profile::TokenProfile;
use crate::principal::{Principal, claim_at};
use crate::principal_id::PrincipalId;
use crate::respond::{InvalidTokenReason, Presentation};
use crate::role::Roles;
use crate::scope::Scopes;
use crate::step_up::{AcrSource, SignIn};

/// What the registered claims must say.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    /// The accepted issuers; `None` accepts any (or none).
    pub(crate) issuers: Option<Vec<String>>,
    /// The accepted audiences; `None` accepts any (or none).
    pub(crate) audiences: Option<Vec<String>>,
    /// The clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub(crate) leeway: u64,
    /// The claims the token profile requires, beyond `exp`.
    pub(crate) profile: TokenProfile,
    /// The claim that names the audience: `aud` unless a provider puts it elsewhere (Amazon
    /// Cognito's access tokens: `client_id`).
    pub(crate) audience_claim: Option<String>,
    /// How the provider marks its access tokens in their claims (Cognito's `token_use: access`,
    /// Keycloak's `typ: Bearer`, Entra ID's `scp` or `roles`), so that its ID and refresh tokens,
    /// signed with the same keys, are refused.
    pub(crate) access_token_marks: Vec<AccessTokenMark>,
}

/// One rule a provider's access tokens follow in their claims, and its ID tokens do not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AccessTokenMark {
    /// The claim holds exactly this string. Absent: `MissingClaim`; another value: `WrongType`.
    Equals { name: String, value: String },
    /// The claim, when present, holds one of these strings; another value: `WrongType`.
    OneOfWhenPresent { name: String, values: Vec<String> },
    /// At least one of these claims is present; none: `WrongType`.
    AnyOf { names: Vec<String> },
}

impl AccessTokenMark {
    fn check(&self, claims: &Map<String, Value>) -> Result<(), InvalidTokenReason> {
        let is = |found: &Value, value: &String| found.as_str() == Some(value.as_str());
        match self {
            Self::Equals { name, value } => match claims.get(name) {
                None => Err(InvalidTokenReason::MissingClaim),
                Some(found) if is(found, value) => Ok(()),
                Some(_) => Err(InvalidTokenReason::WrongType),
            },
            Self::OneOfWhenPresent { name, values } => match claims.get(name) {
                Some(found) if !values.iter().any(|value| is(found, value)) => {
                    Err(InvalidTokenReason::WrongType)
                }
                _ => Ok(()),
            },
            Self::AnyOf { names } if names.iter().any(|name| claims.contains_key(name)) => Ok(()),
            Self::AnyOf { .. } => Err(InvalidTokenReason::WrongType),
        }
    }
}

impl ClaimRules {
    /// Checks `claims` at `now` (seconds since the epoch), and returns when the token is valid.
    pub(crate) fn check(
        &self,
        claims: &Map<String, Value>,
        now: u64,
    ) -> Result<Validity, InvalidTokenReason> {
        self.check_as(claims, now, self.profile)
    }

    /// Checks the members of an active introspection answer: the rules of a JWT's claims
    /// without the token profile's, since RFC 9068 profiles JWTs, and RFC 7662 §2.2 makes
    /// every member but `active` optional (an opaque token's answer has no `jti`, say).
    #[cfg(feature = "introspection")]
    pub(crate) fn check_introspected(
        &self,
        members: &Map<String, Value>,
        now: u64,
    ) -> Result<Validity, InvalidTokenReason> {
        self.check_as(members, now, TokenProfile::Jwt)
    }

    fn check_as(
        &self,
        claims: &Map<String, Value>,
        now: u64,
        profile: TokenProfile,
    ) -> Result<Validity, InvalidTokenReason> {
        let exp = numeric_date(claims.get("exp"))?.ok_or(InvalidTokenReason::MissingClaim)?;
        self.check_exp(exp, now)?;
        let nbf = numeric_date(claims.get("nbf"))?;
        self.check_nbf(nbf, now)?;
        // A token issued in the future (beyond the clock skew) was minted by a clock that cannot
        // be trusted, or to outlive its intended lifetime.
        if let Some(iat) = numeric_date(claims.get("iat"))?
            && iat > now.saturating_add(self.leeway)
        {
            return Err(InvalidTokenReason::NotYetValid);
        }
        for name in profile.required_claims() {
            if !claims.contains_key(*name) {
                return Err(InvalidTokenReason::MissingClaim);
            }
        }
        // RFC 9068 §2.2: `client_id` and `jti` are strings; `iss` one too, even with any issuer.
        if profile == TokenProfile::Rfc9068
            && ["iss", "client_id", "jti"]
                .iter()
                .any(|name| !claims.get(*name).is_some_and(Value::is_string))
        {
            return Err(InvalidTokenReason::InvalidClaims);
        }
        if let Some(issuers) = &self.issuers {
            // A single StringOrURI (RFC 7519 §4.1.1): an array is not an issuer.
            match claims.get("iss") {
                None => return Err(InvalidTokenReason::MissingClaim),
                Some(Value::String(iss)) if issuers.iter().any(|accepted| accepted == iss) => {}
                Some(Value::String(_)) => return Err(InvalidTokenReason::WrongIssuer),
                Some(_) => return Err(InvalidTokenReason::InvalidClaims),
            }
        }
        for mark in &self.access_token_marks {
            mark.check(claims)?;
        }
        if let Some(audiences) = &self.audiences {
            let accepted = |aud: &str| audiences.iter().any(|accepted| accepted == aud);
            // One StringOrURI, or an array of them of which one must name this API (§4.1.3).
            match claims.get(self.audience_claim.as_deref().unwrap_or("aud")) {
                None => return Err(InvalidTokenReason::MissingClaim),
                Some(Value::String(aud)) if accepted(aud) => {}
                Some(Value::String(_)) => return Err(InvalidTokenReason::WrongAudience),
                Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
                    if !list.iter().filter_map(Value::as_str).any(accepted) {
                        return Err(InvalidTokenReason::WrongAudience);
                    }
                }
                Some(_) => return Err(InvalidTokenReason::InvalidClaims),
            }
        }
        Ok(Validity { exp, nbf })
    }

    /// Checks again, at `now`, the times [`ClaimRules::check`] found: for a token that waited
    /// for its key to be fetched, and may have expired meanwhile.
    pub(crate) fn check_times(
        &self,
        validity: Validity,
        now: u64,
    ) -> Result<(), InvalidTokenReason> {
        self.check_exp(validity.exp, now)?;
        self.check_nbf(validity.nbf, now)
    }

    fn check_exp(&self, exp: u64, now: u64) -> Result<(), InvalidTokenReason> {
        if now >= exp.saturating_add(self.leeway) {
            return Err(InvalidTokenReason::Expired);
        }
        Ok(())
    }

    fn check_nbf(&self, nbf: Option<u64>, now: u64) -> Result<(), InvalidTokenReason> {
        if let Some(nbf) = nbf
            && nbf > now.saturating_add(self.leeway)
        {
            return Err(InvalidTokenReason::NotYetValid);
        }
        Ok(())
    }
}

/// When a token is valid, as its claims say: what verification found, kept by the token cache so
/// that it never parses them again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validity {
    /// `exp`, in seconds since the epoch.
    pub(crate) exp: u64,
    /// `nbf`, in seconds since the epoch, if the token has one.
    pub(crate) nbf: Option<u64>,
}

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
    /// With more than one issuer, the caller's identity is the pair (issuer, subject): alice of
    /// A and alice of B are different owners.
    pub(crate) qualify_by_issuer: bool,
    /// The dotted claim paths that hold roles.
    pub(crate) role_claims: Vec<String>,
    /// Where the token's authentication context classes are (step-up authentication).
    pub(crate) acr_sources: Vec<AcrSource>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            scope_claims: vec![ScopeClaim::Scope],
            principal_id_claim: None,
            qualify_by_issuer: false,
            role_claims: Vec::new(),
            acr_sources: vec![AcrSource::Acr],
        }
    }
}

impl ClaimMapping {
    /// Reads the caller from verified claims; `presentation` is how its verifier refuses.
    pub(crate) fn principal(
        &self,
        claims: Map<String, Value>,
        presentation: &Arc<Presentation>,
    ) -> Result<Principal, InvalidTokenReason> {
        let subject = match claims.get("sub") {
            Some(Value::String(subject)) if !subject.is_empty() => subject.clone(),
            Some(Value::String(_)) | None => return Err(InvalidTokenReason::MissingClaim),
            Some(_) => return Err(InvalidTokenReason::InvalidClaims),
        };
        let id = match &self.principal_id_claim {
            None => None,
            Some(name) => Some(match claims.get(name) {
                Some(Value::String(id)) if !id.is_empty() => id.clone(),
                Some(Value::Number(id)) if id.is_u64() || id.is_i64() => id.to_string(),
                None => return Err(InvalidTokenReason::MissingClaim),
                Some(_) => return Err(InvalidTokenReason::InvalidClaims),
            }),
        };
        let id = if self.qualify_by_issuer {
            let issuer = match claims.get("iss") {
                Some(Value::String(issuer)) => issuer.as_str(),
                None => return Err(InvalidTokenReason::MissingClaim),
                Some(_) => return Err(InvalidTokenReason::InvalidClaims),
            };
            PrincipalId::pair(issuer, id.as_deref().unwrap_or(&subject))
        } else {
            PrincipalId::of_subject(id.unwrap_or_else(|| subject.clone()))
        };
        let mut granted = Vec::new();
        for claim in &self.scope_claims {
            read_scopes(*claim, claims.get(claim.name()), &mut granted)?;
        }
        let mut roles = Vec::new();
        for path in &self.role_claims {
            read_roles(claim_at(&claims, path), &mut roles);
        }
        let sign_in = SignIn::read(&claims, &self.acr_sources);
        Ok(Principal::new(
            subject,
            id,
            Scopes::new(granted),
            Roles::new(roles),
            claims,
            sign_in,
            Arc::clone(presentation),
        ))
    }
}

/// The roles of one role claim: a space-delimited string, or an array of strings. A claim of
/// any other shape (a number, an object, an array holding anything but non-empty strings) grants
/// nothing, and does not make the token invalid: roles are the application's business, and
/// the same token may serve APIs that read other claims.
fn read_roles(value: Option<&Value>, roles: &mut Vec<String>) {
    match value {
        Some(Value::String(text)) => {
            roles.extend(text.split(' ').filter(|s| !s.is_empty()).map(str::to_owned));
        }
        Some(Value::Array(items))
            if items.iter().all(|item| item.as_str().is_some_and(|role| !role.is_empty())) =>
        {
            roles.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        _ => {}
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

/// A NumericDate (RFC 7519 §2): seconds since the epoch, possibly fractional, rounded down.
/// `None` when absent; an error when present but not a non-negative number.
pub(crate) fn numeric_date(value: Option<&Value>) -> Result<Option<u64>, InvalidTokenReason> {
    value
        .map(|value| crate::numeric_date::seconds(value).ok_or(InvalidTokenReason::InvalidClaims))
        .transpose()
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn rules() -> ClaimRules {
        ClaimRules {
            issuers: Some(vec!["https://i.example".into()]),
            audiences: Some(vec!["api".into()]),
            leeway: 30,
            profile: TokenProfile::Jwt,
            audience_claim: None,
            access_token_marks: Vec::new(),
        }
    }

    fn check(claims: Value) -> Result<(), InvalidTokenReason> {
        let Value::Object(claims) = claims else { panic!("an object") };
        rules().check(&claims, NOW).map(|_| ())
    }

    fn with(name: &str, value: Value) -> Value {
        let mut claims = json!({"exp": NOW + 60, "iss": "https://i.example", "aud": "api"});
        claims[name] = value;
        claims
    }

    #[test]
    fn valid_claims_pass() {
        assert_eq!(check(with("exp", json!(NOW + 60))), Ok(()));
        assert_eq!(check(with("aud", json!(["other", "api"]))), Ok(()));
        assert_eq!(check(with("exp", json!(NOW as f64 + 60.5))), Ok(()));
        assert_eq!(check(with("nbf", json!(NOW + 30))), Ok(()));
    }

    #[test]
    fn time_claims_with_leeway() {
        use InvalidTokenReason::*;
        assert_eq!(check(with("exp", json!(NOW - 29))), Ok(()));
        assert_eq!(check(with("exp", json!(NOW - 30))), Err(Expired));
        assert_eq!(check(with("nbf", json!(NOW + 31))), Err(NotYetValid));
        let Value::Object(mut claims) = with("exp", json!(NOW)) else { panic!() };
        claims.remove("exp");
        assert_eq!(rules().check(&claims, NOW), Err(MissingClaim));
        let Value::Object(claims) = with("nbf", json!(NOW - 5)) else { panic!() };
        let validity = Validity { exp: NOW + 60, nbf: Some(NOW - 5) };
        assert_eq!(rules().check(&claims, NOW), Ok(validity));
        // Checked again later, as after waiting for a key fetch.
        assert_eq!(rules().check_times(validity, NOW + 89), Ok(()));
        assert_eq!(rules().check_times(validity, NOW + 90), Err(Expired));
        let early = Validity { exp: NOW + 600, nbf: Some(NOW + 31) };
        assert_eq!(rules().check_times(early, NOW), Err(NotYetValid));
    }

    #[test]
    fn wrong_types_are_invalid_claims() {
        use InvalidTokenReason::*;
        for (name, value) in [
            ("exp", json!("tomorrow")),
            ("exp", json!(-1)),
            ("exp", json!([NOW + 60])),
            ("exp", json!(null)),
            ("nbf", json!("0")),
            ("iss", json!(["https://i.example"])),
            ("iss", json!(7)),
            ("aud", json!(42)),
            ("aud", json!([42])),
            ("aud", json!({"aud": "api"})),
        ] {
            assert_eq!(check(with(name, value.clone())), Err(InvalidClaims), "{name}: {value}");
        }
        assert_eq!(check(with("iss", json!("https://I.example"))), Err(WrongIssuer));
        assert_eq!(check(with("aud", json!(["a", "b"]))), Err(WrongAudience));
        assert_eq!(check(with("aud", json!([]))), Err(WrongAudience));
    }

    #[test]
    fn iat_in_the_future_beyond_the_leeway_is_refused() {
        use InvalidTokenReason::*;
        assert_eq!(check(with("iat", json!(NOW + 30))), Ok(()));
        assert_eq!(check(with("iat", json!(NOW - 3600))), Ok(()));
        assert_eq!(check(with("iat", json!(NOW + 31))), Err(NotYetValid));
        assert_eq!(check(with("iat", json!(NOW + 3600))), Err(NotYetValid));
        assert_eq!(check(with("iat", json!("now"))), Err(InvalidClaims));
    }

    #[test]
    fn rfc9068_requires_its_claims() {
        use InvalidTokenReason::*;
        let rules = ClaimRules { profile: TokenProfile::Rfc9068, ..rules() };
        let full = json!({"exp": NOW + 60, "iss": "https://i.example", "aud": "api",
            "sub": "s", "client_id": "c", "iat": NOW, "jti": "j"});
        let Value::Object(full) = full else { panic!() };
        assert!(rules.check(&full, NOW).is_ok());
        // Not required by the default profile.
        let Value::Object(minimal) = with("exp", json!(NOW + 60)) else { panic!() };
        assert!(self::rules().check(&minimal, NOW).is_ok());
        for name in ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"] {
            let mut claims = full.clone();
            claims.remove(name);
            assert_eq!(rules.check(&claims, NOW), Err(MissingClaim), "{name}");
        }
        for name in ["client_id", "jti"] {
            let mut claims = full.clone();
            claims.insert(name.into(), json!(7));
            assert_eq!(rules.check(&claims, NOW), Err(InvalidClaims), "{name}");
        }
        let any_issuer = ClaimRules { issuers: None, ..rules.clone() };
        let mut claims = full.clone();
        claims.insert("iss".into(), json!(["https://i.example"]));
        assert_eq!(any_issuer.check(&claims, NOW), Err(InvalidClaims));
    }

    fn principal(claims: Value, mapping: &ClaimMapping) -> Result<Principal, InvalidTokenReason> {
        let Value::Object(claims) = claims else { panic!("claims must be an object") };
        mapping.principal(claims, &Arc::new(Presentation::new("api").unwrap()))
    }

    fn all_claims() -> ClaimMapping {
        ClaimMapping {
            scope_claims: vec![ScopeClaim::Scope, ScopeClaim::Scp, ScopeClaim::Permissions],
            principal_id_claim: None,
            qualify_by_issuer: false,
            role_claims: Vec::new(),
            acr_sources: Vec::new(),
        }
    }

    #[test]
    fn roles_come_from_every_configured_path_of_either_shape() {
        let mapping = ClaimMapping {
            role_claims: vec![
                "realm_access.roles".into(),
                "resource_access.documents.roles".into(),
                "cognito:groups".into(),
                "roles".into(),
                "scope".into(),
            ],
            ..ClaimMapping::default()
        };
        let p = principal(
            json!({
                "sub": "a",
                "scope": "s1 s2",
                "realm_access": {"roles": ["admin", "user"]},
                "resource_access": {"documents": {"roles": "editor  viewer"}},
                "cognito:groups": ["g1"],
                "roles": 7,
            }),
            &mapping,
        )
        .unwrap();
        let roles: Vec<&str> = p.roles().iter().collect();
        assert_eq!(roles, ["admin", "editor", "g1", "s1", "s2", "user", "viewer"]);
    }

    #[test]
    fn a_role_claim_of_another_shape_grants_nothing() {
        let mapping = ClaimMapping { role_claims: vec!["roles".into()], ..ClaimMapping::default() };
        for roles in [
            json!(["admin", 1]),
            json!(["admin", ""]),
            json!({"admin": true}),
            json!(true),
            json!(null),
            json!([["admin"]]),
        ] {
            let p = principal(json!({"sub": "a", "roles": roles}), &mapping).unwrap();
            assert!(p.roles().is_empty(), "{roles}");
        }
        let p = principal(json!({"sub": "a"}), &ClaimMapping::default()).unwrap();
        assert!(p.roles().is_empty());
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
    fn with_several_issuers_the_id_is_the_pair() {
        let mapping = ClaimMapping { qualify_by_issuer: true, ..ClaimMapping::default() };
        let a = principal(json!({"sub": "alice", "iss": "https://a.example"}), &mapping).unwrap();
        let b = principal(json!({"sub": "alice", "iss": "https://b.example"}), &mapping).unwrap();
        assert_eq!(a.id(), r#"["https://a.example","alice"]"#);
        assert_eq!((a.id().issuer(), a.id().subject()), (Some("https://a.example"), "alice"));
        assert_ne!(a.id(), b.id());
        assert_eq!(a.subject(), "alice");
        // No pair can be spelt like another: the parts are JSON strings.
        let tricky = principal(json!({"sub": "b\",\"c", "iss": "a"}), &mapping).unwrap();
        let other = principal(json!({"sub": "c", "iss": "a\",\"b"}), &mapping).unwrap();
        assert_ne!(tricky.id(), other.id());
        let uid = ClaimMapping { principal_id_claim: Some("uid".into()), ..mapping.clone() };
        assert_eq!(
            principal(json!({"sub": "s", "iss": "i", "uid": 7}), &uid).unwrap().id(),
            r#"["i","7"]"#
        );
        assert_eq!(
            principal(json!({"sub": "s"}), &mapping).unwrap_err(),
            InvalidTokenReason::MissingClaim
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
