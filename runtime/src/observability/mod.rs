//! What an operator sees of the guards without reading their logs: metrics of every decision
//! (feature `metrics`), an audit trail of decisions ([`AuditTrail`]), and the readiness of the
//! verifier's keys ([`Readiness`], from [`Verifier::readiness`](crate::Verifier::readiness)).
//!
//! # Metrics
//!
//! With the `metrics` feature, portcullis records through the [`metrics`](https://docs.rs/metrics)
//! facade; the application installs a recorder (an exporter such as
//! `metrics-exporter-prometheus`). Without a recorder, each event costs one atomic load; without
//! the feature, nothing. Names and units follow OpenTelemetry's semantic conventions (a
//! Prometheus exporter writes the dots as underscores and may add `_total` and unit suffixes):
//!
//! | Name | Instrument, unit | Attributes | What it counts |
//! |---|---|---|---|
//! | `portcullis.guard.decisions` | counter, `{decision}` | `portcullis.stage`, `portcullis.outcome`, `portcullis.reason` | every decision of a guard (allowed ones too) and every request-shape refusal |
//! | `portcullis.guard.duration` | histogram, `s` | `portcullis.outcome`, `portcullis.token.cache` | the time a guard took to decide |
//! | `portcullis.keys.refreshes` | counter, `{refresh}` | `portcullis.key_source`, `portcullis.result` | fetches of an identity provider's key set |
//! | `portcullis.keys.held` | gauge, `{key}` | `portcullis.key_source` | the usable keys a key source holds now |
//! | `portcullis.introspection.calls` | counter, `{call}` | `portcullis.result` | calls to the introspection endpoint |
//! | `portcullis.introspection.saturated` | counter, `{request}` | none | requests refused (503) because every allowed introspection call was in progress |
//! | `portcullis.dpop.proofs` | counter, `{proof}` | `portcullis.result` | DPoP proofs checked against a token |
//!
//! Every attribute value comes from a closed set written in this crate, or from the
//! configuration, never from the request:
//!
//! - `portcullis.stage`: [`Stage`] (`credentials`, `scopes`, `roles`, `policies`, `resource`,
//!   `shape`, and `complete` for an allowed request);
//! - `portcullis.outcome`: [`Outcome`] (`allowed`, `denied`, `unavailable`, `failed`);
//! - `portcullis.reason`: the refusal's code ([`DenialKind::code`](crate::response::DenialKind::code):
//!   `expired`, `insufficient_scope`, `dpop_proof_replayed`, …; a policy's
//!   [`PolicyRefusal::code`](crate::authorization::PolicyRefusal::code)), the shape refusal's
//!   code ([`Rejection::code`](crate::extract::Rejection::code): `malformed_request`,
//!   `invalid_params`, `body_too_large`, `unsupported_media_type`, `extractor_mismatch`), `none` for an allowed request, `anonymous` for a request without
//!   credentials let through by `optional`;
//! - `portcullis.token.cache`: `hit` (a verified-token or introspection cache answered, or the
//!   request was authenticated earlier by the same verifier) or `miss`;
//! - `portcullis.key_source`: the configured issuer (discovery) or key set URL, without
//!   credentials;
//! - `portcullis.result`: `success` or `failure` (refreshes); `active`, `inactive` or `error`
//!   (introspection calls); `accepted`, `refused`, `replayed` or `store_error` (DPoP proofs).
//!
//! A request allowed by its guard and then refused for its shape (an extractor's 400, 413 or
//! 415) counts twice: `complete`/`allowed`, then `shape`/`denied`.
//!
//! # Audit trail
//!
//! With [`VerifierBuilder::audit_trail`](crate::config::VerifierBuilder::audit_trail), every
//! guard decision, allowed ones too, is one `tracing` event of target [`AUDIT_TARGET`]
//! (`portcullis::audit`): see [`AuditTrail`].

mod audit;
mod readiness;
mod record;

pub(crate) use audit::guard_decided;
pub use audit::{AUDIT_TARGET, AuditTrail};
pub use readiness::{KeySourceReadiness, Readiness};
pub(crate) use record::{Started, dpop_proof, shape_refused};
#[cfg(feature = "introspection")]
pub(crate) use record::{introspection_call, introspection_saturated};
#[cfg(feature = "jwks")]
pub(crate) use record::{key_refresh, keys_held};

use crate::respond::DenialKind;

/// The metric names, for dashboards and tests.
pub mod metric {
    /// Counter of guard decisions (`{decision}`), by stage, outcome and reason.
    pub const GUARD_DECISIONS: &str = "portcullis.guard.decisions";
    /// Histogram of the time a guard took to decide (`s`), by outcome and token cache.
    pub const GUARD_DURATION: &str = "portcullis.guard.duration";
    /// Counter of key set fetches (`{refresh}`), by key source and result.
    pub const KEYS_REFRESHES: &str = "portcullis.keys.refreshes";
    /// Gauge of the usable keys a key source holds (`{key}`), by key source.
    pub const KEYS_HELD: &str = "portcullis.keys.held";
    /// Counter of introspection calls (`{call}`), by result.
    pub const INTROSPECTION_CALLS: &str = "portcullis.introspection.calls";
    /// Counter of requests refused because the introspection calls were all in use (`{request}`).
    pub const INTROSPECTION_SATURATED: &str = "portcullis.introspection.saturated";
    /// Counter of DPoP proofs checked (`{proof}`), by result.
    pub const DPOP_PROOFS: &str = "portcullis.dpop.proofs";
}

/// Where in the guard's pipeline a request was decided: the `portcullis.stage` attribute.
///
/// The guard checks in this order: credentials (the token, its DPoP proof, introspection),
/// scopes, roles, policies (claim checks and the application's `AccessPolicy`s), resource
/// access; the extractors then check the request's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// The token, its proof of possession, its introspection; the keys to verify it.
    Credentials,
    /// The sign-in's strength and age (step-up, RFC 9470: `acr`, `auth_time`), checked right
    /// after the credentials and before the scopes.
    SignIn,
    /// The required scopes.
    Scopes,
    /// The required roles.
    Roles,
    /// The claim checks and the application's policies.
    Policies,
    /// Resource access: ownership and the action on the resource, or the decision engine.
    Resource,
    /// The request's path, query and body (the extractors of [`extract`](crate::extract)).
    Shape,
    /// Every stage passed: the request was allowed.
    Complete,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Self; 8] = [
        Self::Credentials,
        Self::SignIn,
        Self::Scopes,
        Self::Roles,
        Self::Policies,
        Self::Resource,
        Self::Shape,
        Self::Complete,
    ];

    /// The attribute value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Credentials => "credentials",
            Self::SignIn => "sign_in",
            Self::Scopes => "scopes",
            Self::Roles => "roles",
            Self::Policies => "policies",
            Self::Resource => "resource",
            Self::Shape => "shape",
            Self::Complete => "complete",
        }
    }

    /// The stage that refuses with `kind`.
    pub const fn of(kind: &DenialKind) -> Self {
        match kind {
            DenialKind::MissingCredentials
            | DenialKind::InvalidToken(_)
            | DenialKind::InvalidRequest(_)
            | DenialKind::KeysUnavailable { .. }
            | DenialKind::IntrospectionUnavailable { .. }
            | DenialKind::InvalidDpopProof(_)
            | DenialKind::UseDpopNonce(_)
            | DenialKind::ReplayStoreUnavailable { .. } => Self::Credentials,
            DenialKind::InsufficientUserAuthentication(_) => Self::SignIn,
            DenialKind::InsufficientScope(_) => Self::Scopes,
            DenialKind::MissingRole { .. } => Self::Roles,
            DenialKind::PolicyRefused(_) => Self::Policies,
            DenialKind::ActionNotPermitted
            | DenialKind::NotFound(_)
            | DenialKind::LookupFailed
            | DenialKind::EngineUnavailable { .. } => Self::Resource,
        }
    }
}

/// How a decision ended: the `portcullis.outcome` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The request reaches the handler.
    Allowed,
    /// Refused for what the request is or carries (a 4xx).
    Denied,
    /// Refused because something the guard depends on cannot answer now: the keys, the
    /// introspection endpoint, the DPoP replay store, the authorization engine (a 503 with
    /// `Retry-After`).
    Unavailable,
    /// Refused because the application failed (a 500: a resource lookup that failed).
    Failed,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Self; 4] = [Self::Allowed, Self::Denied, Self::Unavailable, Self::Failed];

    /// The attribute value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::Unavailable => "unavailable",
            Self::Failed => "failed",
        }
    }

    /// The outcome of a refusal with `kind`.
    pub const fn of(kind: &DenialKind) -> Self {
        match kind {
            DenialKind::KeysUnavailable { .. }
            | DenialKind::IntrospectionUnavailable { .. }
            | DenialKind::ReplayStoreUnavailable { .. }
            | DenialKind::EngineUnavailable { .. } => Self::Unavailable,
            DenialKind::LookupFailed => Self::Failed,
            DenialKind::MissingCredentials
            | DenialKind::InvalidToken(_)
            | DenialKind::InvalidRequest(_)
            | DenialKind::InsufficientUserAuthentication(_)
            | DenialKind::InsufficientScope(_)
            | DenialKind::MissingRole { .. }
            | DenialKind::PolicyRefused(_)
            | DenialKind::ActionNotPermitted
            | DenialKind::NotFound(_)
            | DenialKind::InvalidDpopProof(_)
            | DenialKind::UseDpopNonce(_) => Self::Denied,
        }
    }
}

/// Describes every metric of the table above to the installed recorder: its unit (the guard's
/// duration is in seconds, which a Prometheus exporter with recommended naming turns into a
/// `_seconds` suffix) and a sentence. Call it once, after installing the recorder; metrics
/// are recorded without it too.
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        metric::GUARD_DECISIONS,
        "Guard decisions, by the stage that decided, the outcome and the reason"
    );
    describe_histogram!(
        metric::GUARD_DURATION,
        Unit::Seconds,
        "Time a guard took to decide, by outcome and token cache hit or miss"
    );
    describe_counter!(metric::KEYS_REFRESHES, "Fetches of a key set, by key source and result");
    describe_gauge!(metric::KEYS_HELD, "Usable keys a key source holds");
    describe_counter!(
        metric::INTROSPECTION_CALLS,
        "Calls to the introspection endpoint, by result"
    );
    describe_counter!(
        metric::INTROSPECTION_SATURATED,
        "Requests refused because every allowed introspection call was in progress"
    );
    describe_counter!(metric::DPOP_PROOFS, "DPoP proofs checked, by result");
}
