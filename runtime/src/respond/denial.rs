//! Every way a guarded request is refused, and how each refusal renders.
//!
//! A [`Denial`] carries a reason from a closed set and the [`Presentation`] of the verifier that
//! produced it. Rendering depends on the [`Disclosure`] mode: Production says as little as the
//! status allows; Development adds fixed, human-readable sentences. Neither ever includes text
//! from the token, from a parser or from an internal error. The precise reason goes to `tracing`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use super::challenge::{Challenge, ChallengeError, ErrorCode};
use super::problem::{Problem, problem_response};
use super::table::{DenialKind, Detail, LogLine, Row, WwwAuthenticate};
use crate::scope::ScopeRequirement;

/// How much a denial tells the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Disclosure {
    /// The default: no `error_description`, and no `detail` on 401, 403 and 404.
    #[default]
    Production,
    /// Fixed, human-readable reasons in `error_description` and `detail`, for local development.
    Development,
}

impl FromStr for Disclosure {
    type Err = UnknownDisclosure;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "production" => Ok(Self::Production),
            "development" => Ok(Self::Development),
            _ => Err(UnknownDisclosure),
        }
    }
}

/// A disclosure mode other than `production` or `development` was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the disclosure mode must be `production` or `development`")]
pub struct UnknownDisclosure;

/// How a verifier's denials look: realm, disclosure mode, and whether 403s list the scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presentation {
    pub(crate) challenge: Challenge,
    pub(crate) disclosure: Disclosure,
    pub(crate) advertise_scopes: bool,
    /// A 401's challenges name the scopes of the route refused (the MCP authorization
    /// specification's SHOULD), where a guard says what they are.
    pub(crate) scope_on_401: bool,
    /// The challenge to a request without credentials, rendered when the presentation is built:
    /// it is the most frequent denial, and the cheapest request an attacker can send.
    pub(crate) unauthenticated: HeaderValue,
    /// With DPoP on: the accepted proof algorithms and whether DPoP is required.
    pub(crate) dpop: Option<DpopChallenge>,
    /// The second challenge to a request without credentials: `DPoP` when DPoP is allowed.
    pub(crate) unauthenticated_dpop: Option<HeaderValue>,
}

/// How DPoP shows in challenges (RFC 9449 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DpopChallenge {
    /// The accepted proof algorithms, space-separated: the `algs` attribute.
    pub(crate) algs: String,
    /// Only `DPoP` is accepted: every challenge uses that scheme.
    pub(crate) required: bool,
}

impl Presentation {
    /// A presentation for `realm`, in Production mode, advertising required scopes.
    pub fn new(realm: &str) -> Result<Self, ChallengeError> {
        Ok(Self::from_parts(Challenge::new(realm)?, Disclosure::default(), true, None))
    }

    /// A presentation with `challenge` as its bare challenge.
    pub(crate) fn from_parts(
        challenge: Challenge,
        disclosure: Disclosure,
        advertise_scopes: bool,
        dpop: Option<DpopChallenge>,
    ) -> Self {
        let dpop_challenge =
            dpop.as_ref().map(|dpop| challenge.clone().dpop(&dpop.algs).to_header_value());
        let (unauthenticated, unauthenticated_dpop) = match (&dpop, dpop_challenge) {
            (Some(DpopChallenge { required: true, .. }), Some(only)) => (only, None),
            (_, also) => (challenge.to_header_value(), also),
        };
        Self {
            challenge,
            disclosure,
            advertise_scopes,
            scope_on_401: false,
            unauthenticated,
            dpop,
            unauthenticated_dpop,
        }
    }

    /// The disclosure mode.
    pub fn disclosure(&self) -> Disclosure {
        self.disclosure
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        self.challenge.realm()
    }
}

/// A refused request: the reason and how to present it. Renders as the complete response.
///
/// Get one from the extractors and guards of this crate, or build one with
/// [`Verifier::deny`](crate::Verifier::deny) to refuse a request from your own code with the same
/// headers and body.
#[derive(Debug, Clone)]
pub struct Denial {
    kind: DenialKind,
    presentation: Arc<Presentation>,
    /// The request used the `DPoP` scheme: the challenge does too.
    dpop: bool,
    /// A fresh server nonce, sent in the `DPoP-Nonce` header (RFC 9449 §9).
    nonce: Option<HeaderValue>,
    /// The scopes of the refused route, which a 401's challenges name in `scope=`.
    route_scopes: Option<ScopeRequirement>,
}

impl Denial {
    /// A denial rendered with `presentation`.
    pub fn new(kind: DenialKind, presentation: Arc<Presentation>) -> Self {
        Self { kind, presentation, dpop: false, nonce: None, route_scopes: None }
    }

    /// The same denial, to a request that used the `DPoP` scheme: its challenge is `DPoP`.
    #[must_use]
    pub(crate) fn for_dpop_request(mut self) -> Self {
        self.dpop = true;
        self
    }

    /// The same denial, with `nonce` in a `DPoP-Nonce` header (a nonce is unpadded base64url,
    /// always a valid header value).
    #[must_use]
    pub(crate) fn with_dpop_nonce(mut self, nonce: &str) -> Self {
        self.nonce = HeaderValue::from_str(nonce).ok();
        self
    }

    /// The same denial, naming `required` (the refused route's scopes) in `scope=` when it is a
    /// 401 and the verifier was built with
    /// [`challenge_scope_on_401`](crate::config::VerifierBuilder::challenge_scope_on_401), or
    /// `always`.
    #[must_use]
    pub(crate) fn with_route_scopes(mut self, required: ScopeRequirement, always: bool) -> Self {
        if (always || self.presentation.scope_on_401)
            && self.status() == StatusCode::UNAUTHORIZED
            && !required.rules().is_empty()
        {
            self.route_scopes = Some(required);
        }
        self
    }

    /// `challenge` naming the route's scopes, when they are to be named.
    fn naming_route_scopes(&self, challenge: Challenge) -> Challenge {
        match self.route_scopes {
            // Scopes are scope-tokens, checked when they were declared.
            Some(required) => {
                challenge.clone().scopes(required.named_scopes()).unwrap_or(challenge)
            }
            None => challenge,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &DenialKind {
        &self.kind
    }

    /// The HTTP status the denial renders with.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    fn development(&self) -> bool {
        self.presentation.disclosure == Disclosure::Development
    }

    /// The `WWW-Authenticate` value, for the statuses that carry one: with the `DPoP` scheme
    /// for a request that used it, and for every request when DPoP is required.
    fn challenge(&self) -> Option<Challenge> {
        let challenge = self.bearer_challenge()?;
        Some(match &self.presentation.dpop {
            Some(dpop) if self.dpop || dpop.required => challenge.dpop(&dpop.algs),
            _ => challenge,
        })
    }

    fn bearer_challenge(&self) -> Option<Challenge> {
        let base = self.presentation.challenge.clone();
        match self.kind.row().challenge {
            WwwAuthenticate::None => None,
            WwwAuthenticate::Unauthenticated => Some(self.naming_route_scopes(base)),
            WwwAuthenticate::Error { code, description, scopes } => {
                let mut challenge = self.naming_route_scopes(base.error(code));
                if let Some(required) = scopes
                    && self.presentation.advertise_scopes
                {
                    // Scopes were checked against the scope-token grammar at compile time.
                    challenge =
                        challenge.clone().scopes(required.named_scopes()).unwrap_or(challenge);
                }
                if self.development() {
                    // The sentences are fixed strings in the RFC 6750 character set, except a
                    // policy's own, which may not be: the challenge without it is still correct.
                    challenge =
                        challenge.clone().description(description.render()).unwrap_or(challenge);
                }
                Some(challenge)
            }
            WwwAuthenticate::StepUp { description, required } => {
                let mut challenge = base.error(ErrorCode::InsufficientUserAuthentication);
                // The values were checked when the requirement was built.
                challenge =
                    challenge.clone().acr_values(required.acr_values()).unwrap_or(challenge);
                if let Some(max_age) = required.max_age_limit() {
                    challenge = challenge.max_age(max_age.as_secs());
                }
                if self.development() {
                    challenge = challenge.clone().description(description).unwrap_or(challenge);
                }
                Some(challenge)
            }
        }
    }

    /// The problem document.
    fn problem(&self) -> Problem {
        let row = self.kind.row();
        let problem = Problem::new(row.status);
        match row.detail {
            Detail::Always(text) => problem.with_detail(text.render()),
            Detail::InDevelopment(text) if self.development() => problem.with_detail(text.render()),
            Detail::InDevelopment(_) | Detail::None => problem,
        }
    }

    fn log(row: &Row<'_>) {
        let status = row.status.as_u16();
        let reason = row.code;
        match row.log {
            LogLine::Info => {
                tracing::info!(target: "portcullis::denial", status, reason, "request denied");
            }
            LogLine::InfoRequiring(required) => {
                tracing::info!(target: "portcullis::denial", status, reason, required = %required, "request denied");
            }
            LogLine::WarnRetryAfter(retry_after) => {
                tracing::warn!(target: "portcullis::denial", status, reason, retry_after_secs = retry_after.as_secs(), "request denied");
            }
            LogLine::Error => {
                tracing::error!(target: "portcullis::denial", status, reason, "request denied");
            }
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request denied ({}): {}", self.status().as_u16(), self.kind.code())
    }
}

impl std::error::Error for Denial {}

impl IntoResponse for Denial {
    fn into_response(self) -> Response {
        let row = self.kind.row();
        Self::log(&row);
        let mut response = if let WwwAuthenticate::Unauthenticated = row.challenge {
            // A constant body: no serializing, and no reference count that every thread touches.
            let body = if self.development() {
                UNAUTHENTICATED_DEVELOPMENT
            } else {
                UNAUTHENTICATED_PRODUCTION
            };
            let mut response =
                problem_response(row.status, axum::body::Bytes::from_static(body.as_bytes()));
            let headers = response.headers_mut();
            if self.route_scopes.is_some() {
                // Rendered for this route: the same challenges, with `scope=`.
                let bearer =
                    self.bearer_challenge().unwrap_or_else(|| self.presentation.challenge.clone());
                match &self.presentation.dpop {
                    Some(dpop) if dpop.required => {
                        headers.insert(
                            header::WWW_AUTHENTICATE,
                            bearer.dpop(&dpop.algs).to_header_value(),
                        );
                    }
                    Some(dpop) => {
                        headers.insert(header::WWW_AUTHENTICATE, bearer.to_header_value());
                        headers.append(
                            header::WWW_AUTHENTICATE,
                            bearer.dpop(&dpop.algs).to_header_value(),
                        );
                    }
                    None => {
                        headers.insert(header::WWW_AUTHENTICATE, bearer.to_header_value());
                    }
                }
            } else {
                headers.insert(header::WWW_AUTHENTICATE, self.presentation.unauthenticated.clone());
                if let Some(dpop) = &self.presentation.unauthenticated_dpop {
                    headers.append(header::WWW_AUTHENTICATE, dpop.clone());
                }
            }
            response
        } else {
            let mut response = self.problem().into_response();
            if let Some(challenge) = self.challenge() {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, challenge.to_header_value());
            }
            response
        };
        let headers = response.headers_mut();
        if let Some(retry_after) = row.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
        }
        if let Some(nonce) = self.nonce {
            headers.insert(DPOP_NONCE, nonce);
        }
        response.extensions_mut().insert(DeniedWith(row.code));
        response
    }
}

/// The response header of a server-provided DPoP nonce (RFC 9449 §8.1).
const DPOP_NONCE: header::HeaderName = header::HeaderName::from_static("dpop-nonce");

/// Adds `nonce`, a fresh DPoP nonce for the client's next proof, to a successful `response`
/// (RFC 9449 §8.2), unless the handler sent one of its own.
pub(crate) fn offer_dpop_nonce(response: &mut Response, nonce: Option<HeaderValue>) {
    if let Some(nonce) = nonce
        && !response.headers().contains_key(DPOP_NONCE)
    {
        response.headers_mut().insert(DPOP_NONCE, nonce);
    }
}

/// The problem document of a request without credentials, in Production mode.
const UNAUTHENTICATED_PRODUCTION: &str =
    r#"{"type":"about:blank","title":"Unauthorized","status":401}"#;
/// The same in Development mode, with the `NO_CREDENTIALS` sentence as `detail`.
const UNAUTHENTICATED_DEVELOPMENT: &str = r#"{"type":"about:blank","title":"Unauthorized","status":401,"detail":"The request carries no bearer access token"}"#;

/// Response extension naming the precise denial reason, so an access-log layer can record it
/// beside the status without parsing the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeniedWith(pub &'static str);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::respond::{InvalidTokenReason, PolicyRefusal};
    use crate::role::RoleRequirement;
    use crate::scope::{ScopeRequirement, ScopeRule, is_scope_char};

    fn denial(kind: DenialKind, disclosure: Disclosure) -> Denial {
        let mut presentation = Presentation::new("api").unwrap();
        presentation.disclosure = disclosure;
        Denial::new(kind, Arc::new(presentation))
    }

    #[test]
    fn every_development_description_is_a_valid_error_description() {
        for reason in InvalidTokenReason::ALL {
            let d = denial(DenialKind::InvalidToken(reason), Disclosure::Development);
            let challenge = d.challenge().unwrap().to_string();
            assert!(
                challenge.contains(&format!("error_description=\"{}\"", reason.description())),
                "{challenge}"
            );
            assert!(reason.code().bytes().all(is_scope_char));
        }
    }

    #[test]
    fn production_invalid_token_has_no_description_or_detail() {
        for reason in InvalidTokenReason::ALL {
            let d = denial(DenialKind::InvalidToken(reason), Disclosure::Production);
            assert_eq!(
                d.challenge().unwrap().to_string(),
                r#"Bearer realm="api", error="invalid_token""#
            );
            assert_eq!(d.problem().detail(), None);
        }
    }

    #[test]
    fn scope_list_can_be_switched_off() {
        static REQ: ScopeRequirement = ScopeRequirement::new(&[ScopeRule::All(&["a", "b"])]);
        let mut presentation = Presentation::new("api").unwrap();
        let on = Denial::new(DenialKind::InsufficientScope(REQ), Arc::new(presentation.clone()));
        assert_eq!(
            on.challenge().unwrap().to_string(),
            r#"Bearer realm="api", error="insufficient_scope", scope="a b""#
        );
        presentation.advertise_scopes = false;
        let off = Denial::new(DenialKind::InsufficientScope(REQ), Arc::new(presentation));
        assert_eq!(
            off.challenge().unwrap().to_string(),
            r#"Bearer realm="api", error="insufficient_scope""#
        );
    }

    #[test]
    fn the_constant_unauthenticated_bodies_are_the_rendered_problems() {
        for (disclosure, constant) in [
            (Disclosure::Production, UNAUTHENTICATED_PRODUCTION),
            (Disclosure::Development, UNAUTHENTICATED_DEVELOPMENT),
        ] {
            let d = denial(DenialKind::MissingCredentials, disclosure);
            assert_eq!(String::from_utf8(d.problem().to_json()).unwrap(), constant);
        }
    }

    #[test]
    fn roles_policies_and_actions_render_their_403s() {
        static ADMIN: RoleRequirement =
            RoleRequirement::new(&[ScopeRule::All(&["documents-admin"])]);
        let role = || DenialKind::MissingRole { required: ADMIN, missing: vec!["documents-admin"] };
        let policy = || DenialKind::PolicyRefused(PolicyRefusal::because("Not today"));
        for kind in [role(), policy()] {
            let d = denial(kind, Disclosure::Production);
            assert_eq!(d.status(), StatusCode::FORBIDDEN);
            // No `scope=`: a role or a policy is nothing a client can ask for.
            assert_eq!(
                d.challenge().unwrap().to_string(),
                r#"Bearer realm="api", error="insufficient_scope""#
            );
            assert_eq!(d.problem().detail(), None);
        }
        let d = denial(role(), Disclosure::Development);
        assert_eq!(
            d.challenge().unwrap().to_string(),
            r#"Bearer realm="api", error="insufficient_scope", error_description="The access token lacks a required role: documents-admin""#
        );
        let d = denial(policy(), Disclosure::Development);
        assert_eq!(d.problem().detail(), Some("Not today"));
        // A reason outside the RFC 6750 character set stays out of the challenge.
        let d = denial(
            DenialKind::PolicyRefused(PolicyRefusal::because("Pas aujourd’hui")),
            Disclosure::Development,
        );
        assert_eq!(
            d.challenge().unwrap().to_string(),
            r#"Bearer realm="api", error="insufficient_scope""#
        );
        for disclosure in [Disclosure::Production, Disclosure::Development] {
            let response = denial(DenialKind::ActionNotPermitted, disclosure).into_response();
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
        }
    }

    #[test]
    fn disclosure_parses_case_insensitively() {
        assert_eq!("Development".parse(), Ok(Disclosure::Development));
        assert_eq!(" production ".parse(), Ok(Disclosure::Production));
        assert_eq!("prod".parse::<Disclosure>(), Err(UnknownDisclosure));
    }

    #[test]
    fn keys_unavailable_carries_retry_after_and_no_challenge() {
        let d = denial(
            DenialKind::KeysUnavailable { retry_after: Duration::from_secs(30) },
            Disclosure::Production,
        );
        let response = d.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "30");
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
