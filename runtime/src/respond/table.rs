//! The refusal table: every [`DenialKind`], and one row per kind that says how it renders.
//!
//! [`DenialKind::row`] is one exhaustive `match` that gives, for each kind, its status, its code
//! for logs and metrics, its challenge, its problem `detail`, its log line and its `Retry-After`.
//! A new kind is one variant and one arm, both checked by the compiler: a missing arm or a missing
//! field does not build. `denial.rs` only follows the row.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use http::StatusCode;

use super::challenge::ErrorCode;
use super::reasons::{
    DpopNonceReason, DpopProofReason, InvalidRequestReason, InvalidTokenReason, NotFoundReason,
    PolicyRefusal,
};
use crate::role::RoleRequirement;
use crate::scope::ScopeRequirement;
use crate::step_up::AuthenticationRequirement;

/// Every outcome a guard can refuse a request with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenialKind {
    /// No credentials: 401 with a bare challenge.
    MissingCredentials,
    /// A token that cannot be accepted: 401 `invalid_token`.
    InvalidToken(InvalidTokenReason),
    /// A malformed request: 400 `invalid_request`.
    InvalidRequest(InvalidRequestReason),
    /// A valid token whose user signed in too weakly or too long ago (RFC 9470): 401
    /// `insufficient_user_authentication`, with `acr_values` and/or `max_age`.
    InsufficientUserAuthentication(AuthenticationRequirement),
    /// A valid token without the required scopes: 403 `insufficient_scope`.
    InsufficientScope(ScopeRequirement),
    /// A valid token without the required roles: 403 `insufficient_scope`, no `scope=`.
    MissingRole {
        /// What the handler requires.
        required: RoleRequirement,
        /// The roles of the unmet rules, which Development mode names.
        missing: Vec<&'static str>,
    },
    /// A policy refused the request: 403 `insufficient_scope`, no `scope=`.
    PolicyRefused(PolicyRefusal),
    /// The caller may see the resource but not perform this action on it: 403 without a
    /// challenge (the token is fine; no other token would help).
    ActionNotPermitted,
    /// A resource that does not exist or is not the caller's: 404.
    NotFound(NotFoundReason),
    /// The signing keys cannot be obtained right now: 503 with `Retry-After`.
    KeysUnavailable {
        /// When the client should try again.
        retry_after: Duration,
    },
    /// The application failed to look up a resource: 500. The error is logged, never sent.
    LookupFailed,
    /// The introspection endpoint cannot say whether the token is active right now (down, slow,
    /// or answering garbage): 503 with `Retry-After`.
    IntrospectionUnavailable {
        /// When the client should try again.
        retry_after: Duration,
    },
    /// The DPoP proof is missing, invalid or replayed: 401 `invalid_dpop_proof`.
    InvalidDpopProof(DpopProofReason),
    /// The server requires DPoP nonces, and the proof has none, or not a recent one of this
    /// server: 401 `use_dpop_nonce` with a fresh nonce in `DPoP-Nonce` (RFC 9449 §9), when the
    /// denial comes from a verifier with [nonces](crate::config::Dpop::nonces) on.
    UseDpopNonce(DpopNonceReason),
    /// The DPoP replay store cannot say whether a proof is new: 503 with `Retry-After`, never an
    /// accepted replay.
    ReplayStoreUnavailable {
        /// When the client should try again.
        retry_after: Duration,
    },
    /// The authorization engine cannot decide right now (down, slow past its timeout, or
    /// answering garbage): 503 with `Retry-After`, never an allow.
    EngineUnavailable {
        /// When the client should try again.
        retry_after: Duration,
    },
}

impl DenialKind {
    /// The HTTP status of this outcome.
    pub const fn status(&self) -> StatusCode {
        self.row().status
    }

    /// A stable, machine-friendly name of the precise reason, for logs and metrics.
    pub const fn code(&self) -> &'static str {
        self.row().code
    }

    /// How this outcome renders: its row of the refusal table.
    pub(crate) const fn row(&self) -> Row<'_> {
        match self {
            Self::MissingCredentials => Row {
                status: StatusCode::UNAUTHORIZED,
                code: "missing_credentials",
                challenge: WwwAuthenticate::Unauthenticated,
                detail: Detail::InDevelopment(Text::Fixed(NO_CREDENTIALS)),
                log: LogLine::Info,
                retry_after: None,
            },
            Self::InvalidToken(reason) => Row {
                status: StatusCode::UNAUTHORIZED,
                code: reason.code(),
                challenge: WwwAuthenticate::Error {
                    code: ErrorCode::InvalidToken,
                    description: Text::Fixed(reason.description()),
                    scopes: None,
                },
                detail: Detail::InDevelopment(Text::Fixed(reason.description())),
                log: LogLine::Info,
                retry_after: None,
            },
            Self::InvalidRequest(reason) => Row {
                status: StatusCode::BAD_REQUEST,
                code: reason.code(),
                challenge: WwwAuthenticate::Error {
                    code: ErrorCode::InvalidRequest,
                    description: Text::Fixed(reason.description()),
                    scopes: None,
                },
                // It describes the request, not the token: both modes show it.
                detail: Detail::Always(Text::Fixed(reason.description())),
                log: LogLine::Info,
                retry_after: None,
            },
            Self::InsufficientUserAuthentication(required) => Row {
                status: StatusCode::UNAUTHORIZED,
                code: "insufficient_user_authentication",
                challenge: WwwAuthenticate::StepUp { description: STEP_UP, required },
                detail: Detail::InDevelopment(Text::Naming(
                    "The user must sign in again, more strongly or more recently; required: ",
                    Names::Authentication(required),
                )),
                log: LogLine::InfoRequiring(required),
                retry_after: None,
            },
            Self::InsufficientScope(required) => Row {
                status: StatusCode::FORBIDDEN,
                code: "insufficient_scope",
                challenge: WwwAuthenticate::Error {
                    code: ErrorCode::InsufficientScope,
                    description: Text::Fixed("The access token lacks a required scope"),
                    scopes: Some(required),
                },
                detail: Detail::InDevelopment(Text::Naming(
                    "The access token lacks a required scope; required: ",
                    Names::Scopes(required),
                )),
                log: LogLine::InfoRequiring(required),
                retry_after: None,
            },
            Self::MissingRole { required, missing } => Row {
                status: StatusCode::FORBIDDEN,
                code: "missing_role",
                // No `scope=`: a client cannot ask the authorization server for a role.
                challenge: WwwAuthenticate::Error {
                    code: ErrorCode::InsufficientScope,
                    description: Text::Naming(
                        "The access token lacks a required role: ",
                        Names::Roles(missing.as_slice()),
                    ),
                    scopes: None,
                },
                detail: Detail::InDevelopment(Text::Naming(
                    "The access token lacks a required role; missing: ",
                    Names::Roles(missing.as_slice()),
                )),
                log: LogLine::InfoRequiring(required),
                retry_after: None,
            },
            Self::PolicyRefused(refusal) => Row {
                status: StatusCode::FORBIDDEN,
                code: refusal.code(),
                challenge: WwwAuthenticate::Error {
                    code: ErrorCode::InsufficientScope,
                    description: Text::Fixed(refusal.description()),
                    scopes: None,
                },
                detail: Detail::InDevelopment(Text::Fixed(refusal.description())),
                log: LogLine::Info,
                retry_after: None,
            },
            Self::ActionNotPermitted => Row {
                status: StatusCode::FORBIDDEN,
                code: "action_not_permitted",
                challenge: WwwAuthenticate::None,
                detail: Detail::InDevelopment(Text::Fixed(
                    "The caller may see this resource but may not perform this action on it",
                )),
                log: LogLine::Info,
                retry_after: None,
            },
            Self::NotFound(reason) => Row {
                status: StatusCode::NOT_FOUND,
                code: reason.code(),
                challenge: WwwAuthenticate::None,
                // One sentence for every reason: absent and foreign must look alike.
                detail: Detail::InDevelopment(Text::Fixed(
                    "No resource with this id exists that the caller owns; absent and foreign resources are answered alike",
                )),
                log: LogLine::Info,
                retry_after: None,
            },
            Self::KeysUnavailable { retry_after } => Row {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "keys_unavailable",
                challenge: WwwAuthenticate::None,
                detail: Detail::Always(Text::Fixed(
                    "The keys to verify access tokens are temporarily unavailable; retry later",
                )),
                log: LogLine::WarnRetryAfter(*retry_after),
                retry_after: Some(*retry_after),
            },
            Self::LookupFailed => Row {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "lookup_failed",
                challenge: WwwAuthenticate::None,
                detail: Detail::None,
                log: LogLine::Error,
                retry_after: None,
            },
            Self::IntrospectionUnavailable { retry_after } => Row {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "introspection_unavailable",
                challenge: WwwAuthenticate::None,
                detail: Detail::Always(Text::Fixed(
                    "The access token cannot be checked with its issuer right now; retry later",
                )),
                log: LogLine::WarnRetryAfter(*retry_after),
                retry_after: Some(*retry_after),
            },
            Self::InvalidDpopProof(reason) => Row {
                status: StatusCode::UNAUTHORIZED,
                code: reason.code(),
                challenge: WwwAuthenticate::Error {
                    code: ErrorCode::InvalidDpopProof,
                    description: Text::Fixed(reason.description()),
                    scopes: None,
                },
                detail: Detail::InDevelopment(Text::Fixed(reason.description())),
                log: LogLine::Info,
                retry_after: None,
            },
            Self::UseDpopNonce(reason) => Row {
                status: StatusCode::UNAUTHORIZED,
                code: reason.code(),
                challenge: WwwAuthenticate::Error {
                    code: ErrorCode::UseDpopNonce,
                    description: Text::Fixed(reason.description()),
                    scopes: None,
                },
                detail: Detail::InDevelopment(Text::Fixed(reason.description())),
                log: LogLine::Info,
                retry_after: None,
            },
            Self::ReplayStoreUnavailable { retry_after } => Row {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "replay_store_unavailable",
                challenge: WwwAuthenticate::None,
                detail: Detail::Always(Text::Fixed(
                    "The DPoP proof cannot be checked for replay right now; retry later",
                )),
                log: LogLine::WarnRetryAfter(*retry_after),
                retry_after: Some(*retry_after),
            },
            Self::EngineUnavailable { retry_after } => Row {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "engine_unavailable",
                challenge: WwwAuthenticate::None,
                detail: Detail::Always(Text::Fixed(
                    "The authorization decision cannot be made right now; retry later",
                )),
                log: LogLine::WarnRetryAfter(*retry_after),
                retry_after: Some(*retry_after),
            },
        }
    }
}

/// The Development-mode `error_description` of a step-up refusal.
const STEP_UP: &str = "The user must sign in again, more strongly or more recently";

/// The Development-mode `detail` of a request without credentials.
pub(crate) const NO_CREDENTIALS: &str = "The request carries no bearer access token";

/// How one [`DenialKind`] renders: a row of the refusal table. It borrows the kind, and renders
/// its sentences only when a response needs them.
#[derive(Clone, Copy)]
pub(crate) struct Row<'a> {
    /// The HTTP status.
    pub(crate) status: StatusCode,
    /// The precise reason, for logs, metrics and [`DeniedWith`](super::DeniedWith).
    pub(crate) code: &'static str,
    /// The `WWW-Authenticate` challenge.
    pub(crate) challenge: WwwAuthenticate<'a>,
    /// The problem document's `detail`.
    pub(crate) detail: Detail<'a>,
    /// The `tracing` event under the target `portcullis::denial`.
    pub(crate) log: LogLine<'a>,
    /// When the client should try again: a `Retry-After` header.
    pub(crate) retry_after: Option<Duration>,
}

/// The challenge a refusal carries.
#[derive(Clone, Copy)]
pub(crate) enum WwwAuthenticate<'a> {
    /// None: no other token would help.
    None,
    /// The challenge to a request without credentials: no error attributes, and (with DPoP
    /// allowed) a `DPoP` challenge beside the `Bearer` one. Rendered once per presentation, and
    /// its response has a constant body.
    Unauthenticated,
    /// A challenge with an `error`.
    Error {
        /// The `error` attribute.
        code: ErrorCode,
        /// The `error_description`, shown in Development mode only.
        description: Text<'a>,
        /// The `scope` attribute, when the presentation advertises scopes.
        scopes: Option<&'a ScopeRequirement>,
    },
    /// RFC 9470's challenge: `error="insufficient_user_authentication"`, `acr_values`,
    /// `max_age`.
    StepUp {
        /// The `error_description`, shown in Development mode only.
        description: &'static str,
        /// What the handler requires.
        required: &'a AuthenticationRequirement,
    },
}

/// The `detail` of a refusal's problem document.
#[derive(Clone, Copy)]
pub(crate) enum Detail<'a> {
    /// Never any.
    None,
    /// In Development mode only.
    InDevelopment(Text<'a>),
    /// In both modes: it tells nothing about the token or the resource.
    Always(Text<'a>),
}

/// A sentence a client may be shown: fixed, or fixed and followed by names the handler's code
/// gave (required scopes, missing roles), never text from the request.
#[derive(Clone, Copy)]
pub(crate) enum Text<'a> {
    /// A fixed sentence.
    Fixed(&'static str),
    /// A fixed beginning, then names.
    Naming(&'static str, Names<'a>),
}

/// The names a [`Text`] ends with.
#[derive(Clone, Copy)]
pub(crate) enum Names<'a> {
    /// The scopes a handler requires, as its requirement reads.
    Scopes(&'a ScopeRequirement),
    /// The roles missing, space-separated.
    Roles(&'a [&'static str]),
    /// The sign-in a handler requires, as its challenge names it.
    Authentication(&'a AuthenticationRequirement),
}

impl Text<'_> {
    /// The sentence; only one that names something is built.
    pub(crate) fn render(self) -> Cow<'static, str> {
        match self {
            Self::Fixed(text) => Cow::Borrowed(text),
            Self::Naming(beginning, Names::Scopes(required)) => {
                Cow::Owned(format!("{beginning}{required}"))
            }
            Self::Naming(beginning, Names::Roles(missing)) => {
                Cow::Owned(format!("{beginning}{}", missing.join(" ")))
            }
            Self::Naming(beginning, Names::Authentication(required)) => {
                Cow::Owned(format!("{beginning}{required}"))
            }
        }
    }
}

/// The `tracing` event of a refusal: always `status` and `reason` (the code), message
/// `request denied`; the level and any further field depend on the refusal.
#[derive(Clone, Copy)]
pub(crate) enum LogLine<'a> {
    /// At INFO: the client's business.
    Info,
    /// At INFO, with `required`: what the handler requires.
    InfoRequiring(&'a dyn fmt::Display),
    /// At WARN, with `retry_after_secs`: a dependency of the server is unavailable.
    WarnRetryAfter(Duration),
    /// At ERROR: the server failed.
    Error,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashSet;
    use std::sync::Arc;

    use axum::response::IntoResponse;
    use http::header;
    use http_body_util::BodyExt;
    use serde_json::Value;

    use super::*;
    use crate::respond::challenge::{Challenge, is_description_char};
    use crate::respond::{Denial, DeniedWith, Disclosure, DpopChallenge, Presentation};
    use crate::scope::{ScopeRule, is_scope_char};

    static SCOPES: ScopeRequirement = ScopeRequirement::new(&[ScopeRule::All(&["docs:read"])]);
    static ROLES: RoleRequirement = RoleRequirement::new(&[ScopeRule::All(&["documents-admin"])]);
    const AN_HOUR: Duration = Duration::from_secs(3600);
    static STEP_UP_REQUIREMENT: AuthenticationRequirement = AuthenticationRequirement::new()
        .acr(&["urn:mfa", "urn:hwk"])
        .max_age(Duration::from_secs(600));

    /// The variants of [`DenialKind`], numbered: a new variant does not build without its
    /// number, and [`every_kind`] must then give one of it.
    fn variant(kind: &DenialKind) -> usize {
        match kind {
            DenialKind::MissingCredentials => 0,
            DenialKind::InvalidToken(_) => 1,
            DenialKind::InvalidRequest(_) => 2,
            DenialKind::InsufficientScope(_) => 3,
            DenialKind::MissingRole { .. } => 4,
            DenialKind::PolicyRefused(_) => 5,
            DenialKind::ActionNotPermitted => 6,
            DenialKind::NotFound(_) => 7,
            DenialKind::KeysUnavailable { .. } => 8,
            DenialKind::LookupFailed => 9,
            DenialKind::IntrospectionUnavailable { .. } => 10,
            DenialKind::InvalidDpopProof(_) => 11,
            DenialKind::UseDpopNonce(_) => 12,
            DenialKind::ReplayStoreUnavailable { .. } => 13,
            DenialKind::InsufficientUserAuthentication(_) => 14,
            DenialKind::EngineUnavailable { .. } => 15,
        }
    }
    const VARIANTS: usize = 16;

    /// Every kind with every reason of every reason enum.
    fn every_kind() -> Vec<DenialKind> {
        let mut kinds = vec![
            DenialKind::MissingCredentials,
            DenialKind::InsufficientScope(SCOPES),
            DenialKind::MissingRole { required: ROLES, missing: vec!["documents-admin"] },
            DenialKind::PolicyRefused(PolicyRefusal::NOT_PERMITTED),
            DenialKind::PolicyRefused(PolicyRefusal::CLAIM_NOT_SATISFIED),
            DenialKind::PolicyRefused(PolicyRefusal::ACCOUNT_NOT_ELIGIBLE),
            DenialKind::ActionNotPermitted,
            DenialKind::KeysUnavailable { retry_after: AN_HOUR },
            DenialKind::LookupFailed,
            DenialKind::IntrospectionUnavailable { retry_after: AN_HOUR },
            DenialKind::ReplayStoreUnavailable { retry_after: AN_HOUR },
            DenialKind::InsufficientUserAuthentication(STEP_UP_REQUIREMENT),
            DenialKind::EngineUnavailable { retry_after: AN_HOUR },
        ];
        kinds.extend(InvalidTokenReason::ALL.map(DenialKind::InvalidToken));
        kinds.extend(InvalidRequestReason::ALL.map(DenialKind::InvalidRequest));
        kinds.extend(NotFoundReason::ALL.map(DenialKind::NotFound));
        kinds.extend(DpopProofReason::ALL.map(DenialKind::InvalidDpopProof));
        kinds.extend(DpopNonceReason::ALL.map(DenialKind::UseDpopNonce));
        let covered: HashSet<usize> = kinds.iter().map(variant).collect();
        assert_eq!(covered, (0..VARIANTS).collect(), "a kind without a sample");
        kinds
    }

    /// The presentations a denial renders with: both disclosure modes, without DPoP, with DPoP
    /// allowed, and with DPoP required.
    fn presentations() -> Vec<Arc<Presentation>> {
        let mut all = Vec::new();
        for disclosure in [Disclosure::Production, Disclosure::Development] {
            for dpop in [None, Some(false), Some(true)] {
                let dpop = dpop.map(|required| DpopChallenge { algs: "ES256".into(), required });
                let challenge = Challenge::new("api").unwrap();
                all.push(Arc::new(Presentation::from_parts(challenge, disclosure, true, dpop)));
            }
        }
        all
    }

    #[test]
    fn every_reason_has_a_distinct_code_and_a_fixed_description() {
        let descriptions: Vec<(&str, &str)> = InvalidTokenReason::ALL
            .iter()
            .map(|r| (r.code(), r.description()))
            .chain(InvalidRequestReason::ALL.iter().map(|r| (r.code(), r.description())))
            .chain(DpopProofReason::ALL.iter().map(|r| (r.code(), r.description())))
            .chain(DpopNonceReason::ALL.iter().map(|r| (r.code(), r.description())))
            .chain(
                [
                    PolicyRefusal::NOT_PERMITTED,
                    PolicyRefusal::CLAIM_NOT_SATISFIED,
                    PolicyRefusal::ACCOUNT_NOT_ELIGIBLE,
                ]
                .iter()
                .map(|r| (r.code(), r.description())),
            )
            .collect();
        let mut sentences = HashSet::new();
        for (code, description) in descriptions {
            // A sentence, in the RFC 6750 `error_description` character set, with nothing to
            // fill in.
            assert!(!description.is_empty() && description.bytes().all(is_description_char));
            assert!(description.starts_with(char::is_uppercase), "{description}");
            assert!(!description.ends_with('.') && !description.contains(['{', '}']));
            assert!(sentences.insert(description), "{code}: {description} twice");
        }
        let mut codes = HashSet::new();
        for kind in every_kind() {
            let code = kind.code();
            assert!(!code.is_empty() && code.bytes().all(|b| b == b'_' || b.is_ascii_lowercase()));
            assert!(code.bytes().all(is_scope_char));
            assert!(codes.insert(code), "the code {code} twice");
        }
    }

    #[test]
    fn only_the_names_a_handler_gives_are_filled_into_a_sentence() {
        for kind in every_kind() {
            let row = kind.row();
            let mut texts = Vec::new();
            if let WwwAuthenticate::Error { description, .. } = row.challenge {
                texts.push(description);
            }
            if let Detail::InDevelopment(text) | Detail::Always(text) = row.detail {
                texts.push(text);
            }
            // The required scopes and the missing roles come from the handler's attributes;
            // every other sentence is fixed.
            if !matches!(
                kind,
                DenialKind::InsufficientScope(_)
                    | DenialKind::MissingRole { .. }
                    | DenialKind::InsufficientUserAuthentication(_)
            ) {
                assert!(texts.iter().all(|text| matches!(text, Text::Fixed(_))), "{kind:?}");
            }
        }
    }

    #[tokio::test]
    async fn every_kind_renders_as_the_spec_says() {
        for presentation in presentations() {
            let development = presentation.disclosure() == Disclosure::Development;
            for kind in every_kind() {
                let row = kind.row();
                assert_eq!((row.status, row.code), (kind.status(), kind.code()));
                let response = Denial::new(kind.clone(), Arc::clone(&presentation)).into_response();
                let status = response.status();
                assert_eq!(status, row.status, "{kind:?}");
                assert_eq!(response.extensions().get::<DeniedWith>(), Some(&DeniedWith(row.code)));
                assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
                let challenges: Vec<String> = response
                    .headers()
                    .get_all(header::WWW_AUTHENTICATE)
                    .iter()
                    .map(|value| value.to_str().unwrap().to_owned())
                    .collect();
                let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                let problem: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(problem["status"], status.as_u16(), "{kind:?}");
                let detail = problem.get("detail").and_then(Value::as_str);

                // The challenge: 401 always; 400 and 403 when a token could help; never else.
                let error = match row.challenge {
                    WwwAuthenticate::None => None,
                    WwwAuthenticate::Unauthenticated => {
                        assert_eq!(status, StatusCode::UNAUTHORIZED);
                        None
                    }
                    WwwAuthenticate::Error { code, .. } => {
                        assert_eq!(code.status(), status, "{kind:?}");
                        Some(code)
                    }
                    WwwAuthenticate::StepUp { .. } => {
                        assert_eq!(status, StatusCode::UNAUTHORIZED);
                        Some(ErrorCode::InsufficientUserAuthentication)
                    }
                };
                match status {
                    StatusCode::UNAUTHORIZED => assert!(!challenges.is_empty()),
                    StatusCode::BAD_REQUEST => {
                        assert_eq!(error, Some(ErrorCode::InvalidRequest));
                    }
                    StatusCode::FORBIDDEN => assert!(
                        error.is_none() && challenges.is_empty()
                            || error == Some(ErrorCode::InsufficientScope),
                        "{kind:?}"
                    ),
                    _ => assert!(challenges.is_empty(), "{kind:?}"),
                }
                for challenge in &challenges {
                    assert!(
                        challenge.starts_with("Bearer realm=\"api\"")
                            || challenge.starts_with("DPoP realm=\"api\""),
                        "{challenge}"
                    );
                    let params: Vec<&str> = challenge
                        .split(", ")
                        .map(|param| param.split('=').next().unwrap())
                        .collect();
                    let distinct: HashSet<&&str> = params.iter().collect();
                    assert_eq!(distinct.len(), params.len(), "{challenge}");
                    match error {
                        Some(code) => {
                            assert!(challenge.contains(&format!(", error=\"{code}\"")));
                        }
                        None => assert!(!challenge.contains("error")),
                    }
                    assert_eq!(
                        challenge.contains(" scope="),
                        matches!(kind, DenialKind::InsufficientScope(_)),
                        "{challenge}"
                    );
                    // RFC 9470's attributes, exactly as required, on its refusal only.
                    let (acr_values, max_age) = match &kind {
                        DenialKind::InsufficientUserAuthentication(required) => (
                            (!required.acr_values().is_empty()).then(|| {
                                format!(", acr_values=\"{}\"", required.acr_values().join(" "))
                            }),
                            required
                                .max_age_limit()
                                .map(|max_age| format!(", max_age=\"{}\"", max_age.as_secs())),
                        ),
                        _ => (None, None),
                    };
                    assert_eq!(challenge.contains("acr_values="), acr_values.is_some());
                    assert_eq!(challenge.contains("max_age="), max_age.is_some());
                    for attribute in acr_values.iter().chain(&max_age) {
                        assert!(challenge.contains(attribute.as_str()), "{challenge}");
                    }
                    assert_eq!(
                        challenge.contains("error_description="),
                        development && error.is_some(),
                        "{challenge}"
                    );
                }
                // DPoP's own errors, and every challenge when DPoP is required, use its scheme.
                let dpop_required = presentation.dpop.as_ref().is_some_and(|dpop| dpop.required);
                if dpop_required {
                    assert!(challenges.iter().all(|c| c.starts_with("DPoP ")), "{challenges:?}");
                }

                // Production says nothing about a refused token or resource.
                if !development
                    && [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN, StatusCode::NOT_FOUND]
                        .contains(&status)
                {
                    assert_eq!(detail, None, "{kind:?}");
                }
                match row.detail {
                    Detail::None => assert_eq!(detail, None),
                    Detail::InDevelopment(text) => {
                        assert_eq!(detail, development.then(|| text.render()).as_deref());
                    }
                    Detail::Always(text) => assert_eq!(detail, Some(&*text.render())),
                }

                // Unavailable: retry later, and the operator hears of it.
                let unavailable = status == StatusCode::SERVICE_UNAVAILABLE;
                assert_eq!(row.retry_after.is_some(), unavailable);
                assert_eq!(retry_after.is_some(), unavailable);
                match row.log {
                    LogLine::WarnRetryAfter(after) => {
                        assert_eq!(Some(after), row.retry_after);
                        assert_eq!(retry_after.unwrap(), after.as_secs().to_string().as_str());
                    }
                    LogLine::Error => assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR),
                    LogLine::Info | LogLine::InfoRequiring(_) => {
                        assert!(status.is_client_error(), "{kind:?}");
                    }
                }
            }
        }
    }
}
