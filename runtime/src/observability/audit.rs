//! The audit trail: one `tracing` event per guard decision, and the metrics of that decision.

use std::fmt;

use axum::extract::MatchedPath;
use http::request::Parts;

use super::record::{Started, decided};
use super::{Outcome, Stage};
use crate::principal::Principal;
use crate::respond::{Denial, DenialKind};
use crate::scope::{ScopeRequirement, ScopeRule};

/// The `tracing` target of the audit trail.
pub const AUDIT_TARGET: &str = "portcullis::audit";

/// The audit trail of a verifier's guards: off unless set with
/// [`VerifierBuilder::audit_trail`](crate::config::VerifierBuilder::audit_trail).
///
/// Every decision of a guard written with the attribute macros, allowed ones too, is then one
/// `tracing` event of target [`AUDIT_TARGET`] (`portcullis::audit`), at level `INFO` (`WARN`
/// for an outcome of `unavailable` or `failed`), with the fields:
///
/// - `method` and `route`: the route's template (`/documents/{id}`, axum's `MatchedPath`;
///   `-` when none matched), never the path, whose segments name principals' resources;
/// - `stage` ([`Stage`]), `outcome` ([`Outcome`]) and `reason` (the refusal's code, `none`
///   when allowed, `anonymous` for a request without credentials let through by `optional`);
/// - `requirement`: what decided: the scopes (`scope documents:read`), the roles
///   (`role admin`), the policy's code and fixed sentence, the resource's owner or the action
///   on it, `credentials`; for an allowed request, everything the handler required (`scopes
///   documents:read; roles admin`, or `authenticated`);
/// - `principal`: the principal's id ([`Principal::id`]), only with
///   [`AuditTrail::with_principal_id`], and only once the token was verified.
///
/// No token, claim value, query or body is written. Route the target to a store of its own
/// with the subscriber's filter (`tracing_subscriber`'s `Targets` or `EnvFilter`:
/// `portcullis::audit=info`).
///
/// ```
/// use portcullis::observability::AuditTrail;
/// # use portcullis::{Key, Verifier};
///
/// let verifier = Verifier::builder()
///     # .issuer("https://issuer.example").audience("api")
///     # .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
///     .audit_trail(AuditTrail::new().with_principal_id())
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AuditTrail {
    principal_id: bool,
}

impl AuditTrail {
    /// An audit trail without principals' ids.
    pub const fn new() -> Self {
        Self { principal_id: false }
    }

    /// Writes the principal's id in each event: personal data in most deployments, hence the
    /// opt-in.
    #[must_use]
    pub const fn with_principal_id(mut self) -> Self {
        self.principal_id = true;
        self
    }
}

/// A guard decided `decision` for a handler that requires `scopes` and `roles`: the metrics, and
/// the event of the verifier's `audit` trail, if it keeps one. `authenticated`: the principal
/// the verifier authenticated earlier in the request, for a refusal after authentication.
pub(crate) fn guard_decided(
    audit: Option<&AuditTrail>,
    authenticated: Option<&Principal>,
    parts: &Parts,
    scopes: &'static [ScopeRule],
    roles: &'static [ScopeRule],
    decision: &Result<Option<Principal>, Denial>,
    started: Started,
) {
    let (stage, outcome, reason, kind) = match decision {
        Ok(Some(_)) => (Stage::Complete, Outcome::Allowed, "none", None),
        Ok(None) => (Stage::Credentials, Outcome::Allowed, "anonymous", None),
        Err(denial) => {
            let kind = denial.kind();
            (Stage::of(kind), Outcome::of(kind), kind.code(), Some(kind))
        }
    };
    let principal = match decision {
        Ok(principal) => principal.as_ref(),
        Err(_) => authenticated,
    };
    decided(stage, outcome, reason, principal.is_some_and(Principal::is_from_cache), started);
    let Some(audit) = audit else { return };
    let route = parts.extensions.get::<MatchedPath>().map_or("-", MatchedPath::as_str);
    let method = parts.method.as_str();
    let requirement = Requirement { kind, scopes, roles };
    let principal =
        principal.filter(|_| audit.principal_id).map(|principal| principal.id().as_str());
    let (stage, outcome) = (stage.as_str(), outcome.as_str());
    if matches!(outcome, "unavailable" | "failed") {
        tracing::warn!(target: AUDIT_TARGET, method, route, stage, outcome, reason, %requirement, principal, "decision");
    } else {
        tracing::info!(target: AUDIT_TARGET, method, route, stage, outcome, reason, %requirement, principal, "decision");
    }
}

/// What decided: the unmet requirement of a refusal, or everything an allowed handler required.
struct Requirement<'a> {
    kind: Option<&'a DenialKind>,
    scopes: &'static [ScopeRule],
    roles: &'static [ScopeRule],
}

impl fmt::Display for Requirement<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(kind) = self.kind else {
            return match (self.scopes, self.roles) {
                ([], []) => f.write_str("authenticated"),
                (scopes, []) => write!(f, "scopes {}", ScopeRequirement::new(scopes)),
                ([], roles) => write!(f, "roles {}", ScopeRequirement::new(roles)),
                (scopes, roles) => write!(
                    f,
                    "scopes {}; roles {}",
                    ScopeRequirement::new(scopes),
                    ScopeRequirement::new(roles)
                ),
            };
        };
        match kind {
            DenialKind::InsufficientUserAuthentication(required) => write!(f, "sign-in {required}"),
            DenialKind::InsufficientScope(required) => write!(f, "scope {required}"),
            DenialKind::MissingRole { required, .. } => write!(f, "role {required}"),
            DenialKind::PolicyRefused(refusal) => {
                write!(f, "policy {}: {}", refusal.code(), refusal.description())
            }
            DenialKind::ActionNotPermitted => f.write_str("resource action"),
            DenialKind::NotFound(_) | DenialKind::LookupFailed => f.write_str("resource owner"),
            DenialKind::EngineUnavailable { .. } => f.write_str("resource engine"),
            DenialKind::MissingCredentials
            | DenialKind::InvalidToken(_)
            | DenialKind::InvalidRequest(_)
            | DenialKind::KeysUnavailable { .. }
            | DenialKind::IntrospectionUnavailable { .. }
            | DenialKind::InvalidDpopProof(_)
            | DenialKind::UseDpopNonce(_)
            | DenialKind::ReplayStoreUnavailable { .. } => f.write_str("credentials"),
        }
    }
}
