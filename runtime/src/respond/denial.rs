//! Every way a guarded request is refused, and how each refusal renders.
//!
//! A [`Denial`] carries a reason from a closed set and the [`Presentation`] of the verifier that
//! produced it. Rendering depends on the [`Disclosure`] mode: Production says as little as the
//! status allows; Development adds fixed, human-readable sentences. Neither ever includes text
//! from the token, from a parser or from an internal error. The precise reason goes to `tracing`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use super::challenge::{Challenge, ChallengeError, ErrorCode};
use super::problem::{Problem, problem_response};
use crate::role::RoleRequirement;
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

/// Why a token was refused. Each reason renders as 401 `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidTokenReason {
    /// Not a `b64token`, not a JWT, or a header or claims set that is not JSON.
    Malformed,
    /// Longer than the configured limit; refused before decoding.
    TooLarge,
    /// The `alg` is not allowed, or does not fit the key.
    DisallowedAlgorithm,
    /// No configured key matches the token's `kid` and `alg`.
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// `exp` is in the past.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` does not name this API.
    WrongAudience,
    /// A required claim (`exp`, `sub`, `iss`, `aud`, the principal id) is absent.
    MissingClaim,
    /// A claim has the wrong type, or the claims do not fit the application's claims type.
    InvalidClaims,
    /// The header lists `crit` extensions, none of which this verifier understands.
    UnsupportedCriticalHeader,
    /// The header's `typ` says the token is not an access token (an ID token, a DPoP proof, a
    /// logout or security event token), or not the type the token profile requires.
    WrongType,
    /// The introspection endpoint says the token is not active (RFC 7662 §2.2: revoked,
    /// expired, unknown to it, or not for this client).
    Inactive,
    /// The token is bound to a key (`cnf.jkt`, RFC 9449 §6) but was presented without a DPoP
    /// proof of it (the `Bearer` scheme, or [`Verifier::verify`](crate::Verifier::verify)): a
    /// sender-constrained token is never accepted as a bearer token (§7.2).
    DpopBoundAsBearer,
    /// The token's `cnf` claim is not exactly a DPoP key thumbprint (`{"jkt": "…"}`): an RFC 8705
    /// certificate binding (`x5t#S256`), a `jwk` or `kid`, or a malformed `cnf`. Its binding
    /// cannot be proven here, and a bound token is never a bearer token.
    UnsupportedBinding,
    /// DPoP is required, and the token was presented with the `Bearer` scheme.
    DpopRequired,
    /// The token is bound to another key than the one that signed the DPoP proof.
    DpopKeyMismatch,
}

impl InvalidTokenReason {
    /// Every reason, for exhaustive tests and metrics.
    pub const ALL: [Self; 18] = [
        Self::Malformed,
        Self::TooLarge,
        Self::DisallowedAlgorithm,
        Self::UnknownKey,
        Self::BadSignature,
        Self::Expired,
        Self::NotYetValid,
        Self::WrongIssuer,
        Self::WrongAudience,
        Self::MissingClaim,
        Self::InvalidClaims,
        Self::UnsupportedCriticalHeader,
        Self::WrongType,
        Self::Inactive,
        Self::DpopBoundAsBearer,
        Self::UnsupportedBinding,
        Self::DpopRequired,
        Self::DpopKeyMismatch,
    ];

    /// A stable, machine-friendly name for logs and metrics.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::DisallowedAlgorithm => "disallowed_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::MissingClaim => "missing_claim",
            Self::InvalidClaims => "invalid_claims",
            Self::UnsupportedCriticalHeader => "unsupported_crit",
            Self::WrongType => "wrong_type",
            Self::Inactive => "inactive",
            Self::DpopBoundAsBearer => "dpop_bound_as_bearer",
            Self::UnsupportedBinding => "unsupported_binding",
            Self::DpopRequired => "dpop_required",
            Self::DpopKeyMismatch => "dpop_key_mismatch",
        }
    }

    /// The Development-mode sentence.
    pub const fn description(self) -> &'static str {
        match self {
            Self::Malformed => "The access token is malformed",
            Self::TooLarge => "The access token is too large",
            Self::DisallowedAlgorithm => {
                "The access token is signed with an algorithm that is not allowed"
            }
            Self::UnknownKey => "The access token is signed with an unknown key",
            Self::BadSignature => "The access token signature is invalid",
            Self::Expired => "The access token expired",
            Self::NotYetValid => "The access token is not valid yet",
            Self::WrongIssuer => "The access token was issued by an untrusted issuer",
            Self::WrongAudience => "The access token is not intended for this API",
            Self::MissingClaim => "The access token lacks a required claim",
            Self::InvalidClaims => "The access token has claims of the wrong type",
            Self::UnsupportedCriticalHeader => {
                "The access token uses an unsupported critical header"
            }
            Self::WrongType => "The token is not an access token of an accepted type",
            Self::Inactive => "The access token is not active",
            Self::DpopBoundAsBearer => {
                "The access token is bound to a key and must be presented with the DPoP scheme"
            }
            Self::UnsupportedBinding => {
                "The access token is bound to its client by a means this API does not support"
            }
            Self::DpopRequired => "The access token must be presented with the DPoP scheme",
            Self::DpopKeyMismatch => "The access token is bound to another key than the proof's",
        }
    }
}

impl fmt::Display for InvalidTokenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for InvalidTokenReason {}

/// Why a request was refused as malformed. Each reason renders as 400 `invalid_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidRequestReason {
    /// More than one `Authorization` header.
    SeveralAuthorizationHeaders,
    /// The token was sent through more than one transport, or twice in the query.
    SeveralTransports,
}

impl InvalidRequestReason {
    /// A stable, machine-friendly name for logs and metrics.
    pub const fn code(self) -> &'static str {
        match self {
            Self::SeveralAuthorizationHeaders => "several_authorization_headers",
            Self::SeveralTransports => "several_transports",
        }
    }

    /// The sentence shown to the client; it describes the request, not the token, so both modes
    /// show it.
    pub const fn description(self) -> &'static str {
        match self {
            Self::SeveralAuthorizationHeaders => {
                "The request has more than one Authorization header"
            }
            Self::SeveralTransports => "The request carries more than one access token",
        }
    }
}

/// Why a DPoP proof was refused (RFC 9449 §4.3). Each reason renders as 401
/// `invalid_dpop_proof`, with the `DPoP` challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DpopProofReason {
    /// The request uses the `DPoP` scheme without a `DPoP` header.
    Missing,
    /// The request has more than one `DPoP` header (RFC 9449 §4.3, first check).
    SeveralHeaders,
    /// Not a JWS in compact serialization with JSON objects as header and claims, or too large.
    Malformed,
    /// The header's `typ` is not `dpop+jwt`.
    WrongType,
    /// The `alg` is not one of the accepted proof algorithms (never a symmetric one, nor `none`).
    DisallowedAlgorithm,
    /// The header's `jwk` is absent or not a usable public key for the `alg`.
    InvalidKey,
    /// The header's `jwk` holds private key members.
    PrivateKey,
    /// The signature does not verify with the header's `jwk`.
    BadSignature,
    /// `jti`, `htm`, `htu`, `iat` or `ath` is absent or of the wrong type.
    MissingClaim,
    /// `htm` is not the request's method.
    WrongMethod,
    /// `htu` is not the request's URI (without query and fragment).
    WrongUri,
    /// `iat` is outside the accepted window.
    Stale,
    /// `ath` is not the hash of the access token presented with the proof.
    WrongTokenHash,
    /// The proof was presented before (its `jti`, for the same key).
    Replayed,
    /// A proof came with an access token that is not bound to a DPoP key (no `cnf`): a proof
    /// proves nothing about such a token, and its client or authorization server is mistaken.
    UnboundToken,
}

impl DpopProofReason {
    /// Every reason, for exhaustive tests and metrics.
    pub const ALL: [Self; 15] = [
        Self::Missing,
        Self::SeveralHeaders,
        Self::Malformed,
        Self::WrongType,
        Self::DisallowedAlgorithm,
        Self::InvalidKey,
        Self::PrivateKey,
        Self::BadSignature,
        Self::MissingClaim,
        Self::WrongMethod,
        Self::WrongUri,
        Self::Stale,
        Self::WrongTokenHash,
        Self::Replayed,
        Self::UnboundToken,
    ];

    /// A stable, machine-friendly name for logs and metrics.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Missing => "dpop_proof_missing",
            Self::SeveralHeaders => "dpop_proof_several_headers",
            Self::Malformed => "dpop_proof_malformed",
            Self::WrongType => "dpop_proof_wrong_type",
            Self::DisallowedAlgorithm => "dpop_proof_disallowed_algorithm",
            Self::InvalidKey => "dpop_proof_invalid_key",
            Self::PrivateKey => "dpop_proof_private_key",
            Self::BadSignature => "dpop_proof_bad_signature",
            Self::MissingClaim => "dpop_proof_missing_claim",
            Self::WrongMethod => "dpop_proof_wrong_method",
            Self::WrongUri => "dpop_proof_wrong_uri",
            Self::Stale => "dpop_proof_stale",
            Self::WrongTokenHash => "dpop_proof_wrong_token_hash",
            Self::Replayed => "dpop_proof_replayed",
            Self::UnboundToken => "dpop_proof_unbound_token",
        }
    }

    /// The Development-mode sentence.
    pub const fn description(self) -> &'static str {
        match self {
            Self::Missing => "The request carries no DPoP proof",
            Self::SeveralHeaders => "The request has more than one DPoP header",
            Self::Malformed => "The DPoP proof is malformed",
            Self::WrongType => "The DPoP proof is not of type dpop+jwt",
            Self::DisallowedAlgorithm => {
                "The DPoP proof is signed with an algorithm that is not accepted"
            }
            Self::InvalidKey => "The DPoP proof does not carry a usable public key",
            Self::PrivateKey => "The DPoP proof carries a private key",
            Self::BadSignature => "The DPoP proof signature is invalid",
            Self::MissingClaim => "The DPoP proof lacks a required claim",
            Self::WrongMethod => "The DPoP proof is for another HTTP method",
            Self::WrongUri => "The DPoP proof is for another URI",
            Self::Stale => "The DPoP proof was issued outside the accepted time window",
            Self::WrongTokenHash => "The DPoP proof is for another access token",
            Self::Replayed => "The DPoP proof was already used",
            Self::UnboundToken => "The DPoP proof came with an access token not bound to a key",
        }
    }
}

/// Why a DPoP proof's nonce was refused, when the server requires nonces (RFC 9449 §9). Each
/// reason renders as 401 `use_dpop_nonce`, with the `DPoP` challenge and a fresh nonce in the
/// `DPoP-Nonce` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DpopNonceReason {
    /// The proof has no `nonce` claim.
    Missing,
    /// The `nonce` is not one this server issued (or not a string).
    Invalid,
    /// The `nonce` was issued by this server, but too long ago.
    Expired,
}

impl DpopNonceReason {
    /// Every reason, for exhaustive tests and metrics.
    pub const ALL: [Self; 3] = [Self::Missing, Self::Invalid, Self::Expired];

    /// A stable, machine-friendly name for logs and metrics.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Missing => "dpop_nonce_missing",
            Self::Invalid => "dpop_nonce_invalid",
            Self::Expired => "dpop_nonce_expired",
        }
    }

    /// The Development-mode sentence.
    pub const fn description(self) -> &'static str {
        match self {
            Self::Missing => "The DPoP proof lacks the nonce this server requires",
            Self::Invalid => "The DPoP proof carries a nonce this server did not issue",
            Self::Expired => "The DPoP proof carries an expired nonce",
        }
    }
}

/// Why an owned resource was refused. Every reason renders as the same 404; the reason only
/// reaches the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotFoundReason {
    /// No resource has that id.
    Absent,
    /// The resource belongs to someone else.
    NotOwner,
    /// The path holds no id, or one that cannot name any resource.
    InvalidId,
}

impl NotFoundReason {
    /// A stable, machine-friendly name for logs and metrics.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Absent => "absent",
            Self::NotOwner => "not_owner",
            Self::InvalidId => "invalid_id",
        }
    }
}

/// Why a policy refused a request: a reason from a closed set, or the policy's own fixed
/// sentence. Renders as 403 `insufficient_scope` without `scope=`; only Development mode shows
/// the sentence (in `error_description` when it fits RFC 6750's character set, and in `detail`).
///
/// The sentence is a `&'static str`, written in the code: never put claim values or other
/// request data in it.
///
/// ```
/// use portcullis::authorization::PolicyRefusal;
///
/// const NOT_IN_OFFICE_HOURS: PolicyRefusal = PolicyRefusal::because("Outside office hours");
/// assert_eq!(NOT_IN_OFFICE_HOURS.description(), "Outside office hours");
/// assert_eq!(PolicyRefusal::NOT_PERMITTED.code(), "policy_refused");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PolicyRefusal {
    code: &'static str,
    description: &'static str,
}

impl PolicyRefusal {
    /// The policy does not permit the request (what a policy answering `false` means).
    pub const NOT_PERMITTED: Self =
        Self { code: "policy_refused", description: "The request is not permitted by policy" };
    /// A claim is absent or lacks the required value (the ready-made claim checks).
    pub const CLAIM_NOT_SATISFIED: Self = Self {
        code: "claim_not_satisfied",
        description: "The access token lacks a claim value this request requires",
    };
    /// The caller's account is not in a state that permits the request.
    pub const ACCOUNT_NOT_ELIGIBLE: Self = Self {
        code: "account_not_eligible",
        description: "The account is not eligible for this request",
    };

    /// A refusal with the policy's own fixed sentence (logged as `policy_refused`).
    pub const fn because(description: &'static str) -> Self {
        Self { code: "policy_refused", description }
    }

    /// A stable, machine-friendly name for logs and metrics.
    pub const fn code(self) -> &'static str {
        self.code
    }

    /// The Development-mode sentence.
    pub const fn description(self) -> &'static str {
        self.description
    }
}

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
}

impl DenialKind {
    /// The HTTP status of this outcome.
    pub const fn status(&self) -> StatusCode {
        match self {
            Self::MissingCredentials
            | Self::InvalidToken(_)
            | Self::InvalidDpopProof(_)
            | Self::UseDpopNonce(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope(_)
            | Self::MissingRole { .. }
            | Self::PolicyRefused(_)
            | Self::ActionNotPermitted => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::KeysUnavailable { .. }
            | Self::IntrospectionUnavailable { .. }
            | Self::ReplayStoreUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::LookupFailed => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable, machine-friendly name of the precise reason, for logs and metrics.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::InvalidToken(reason) => reason.code(),
            Self::InvalidRequest(reason) => reason.code(),
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::MissingRole { .. } => "missing_role",
            Self::PolicyRefused(refusal) => refusal.code(),
            Self::ActionNotPermitted => "action_not_permitted",
            Self::NotFound(reason) => reason.code(),
            Self::KeysUnavailable { .. } => "keys_unavailable",
            Self::LookupFailed => "lookup_failed",
            Self::IntrospectionUnavailable { .. } => "introspection_unavailable",
            Self::InvalidDpopProof(reason) => reason.code(),
            Self::UseDpopNonce(reason) => reason.code(),
            Self::ReplayStoreUnavailable { .. } => "replay_store_unavailable",
        }
    }
}

/// How a verifier's denials look: realm, disclosure mode, and whether 403s list the scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presentation {
    pub(crate) challenge: Challenge,
    pub(crate) disclosure: Disclosure,
    pub(crate) advertise_scopes: bool,
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
}

impl Denial {
    /// A denial rendered with `presentation`.
    pub fn new(kind: DenialKind, presentation: Arc<Presentation>) -> Self {
        Self { kind, presentation, dpop: false, nonce: None }
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
        let with_description = |challenge: Challenge, text: &str| {
            // The descriptions are fixed strings in the RFC 6750 character set; a failure here
            // would be a bug caught by the tests, and the bare challenge is still correct.
            challenge.clone().description(text).unwrap_or(challenge)
        };
        // A challenge with `code`, and in Development mode the fixed sentence `text`.
        let coded = |code, text: &str| {
            let challenge = base.clone().error(code);
            if self.development() { with_description(challenge, text) } else { challenge }
        };
        match &self.kind {
            DenialKind::MissingCredentials => Some(base),
            DenialKind::InvalidToken(reason) => {
                Some(coded(ErrorCode::InvalidToken, reason.description()))
            }
            DenialKind::InvalidRequest(reason) => {
                Some(coded(ErrorCode::InvalidRequest, reason.description()))
            }
            DenialKind::InsufficientScope(required) => {
                let mut challenge = base.error(ErrorCode::InsufficientScope);
                if self.presentation.advertise_scopes {
                    // Scopes were checked against the scope-token grammar at compile time.
                    challenge =
                        challenge.clone().scopes(required.named_scopes()).unwrap_or(challenge);
                }
                Some(if self.development() {
                    with_description(challenge, "The access token lacks a required scope")
                } else {
                    challenge
                })
            }
            DenialKind::MissingRole { missing, .. } => {
                let challenge = base.error(ErrorCode::InsufficientScope);
                Some(if self.development() {
                    let text =
                        format!("The access token lacks a required role: {}", missing.join(" "));
                    with_description(challenge, &text)
                } else {
                    challenge
                })
            }
            DenialKind::PolicyRefused(refusal) => {
                Some(coded(ErrorCode::InsufficientScope, refusal.description()))
            }
            DenialKind::InvalidDpopProof(reason) => {
                Some(coded(ErrorCode::InvalidDpopProof, reason.description()))
            }
            DenialKind::UseDpopNonce(reason) => {
                Some(coded(ErrorCode::UseDpopNonce, reason.description()))
            }
            DenialKind::NotFound(_)
            | DenialKind::ActionNotPermitted
            | DenialKind::KeysUnavailable { .. }
            | DenialKind::IntrospectionUnavailable { .. }
            | DenialKind::ReplayStoreUnavailable { .. }
            | DenialKind::LookupFailed => None,
        }
    }

    /// The problem document.
    fn problem(&self) -> Problem {
        let problem = Problem::new(self.status());
        let dev = self.development();
        match &self.kind {
            DenialKind::MissingCredentials if dev => {
                problem.with_detail("The request carries no bearer access token")
            }
            DenialKind::InvalidToken(reason) if dev => problem.with_detail(reason.description()),
            DenialKind::InvalidDpopProof(reason) if dev => {
                problem.with_detail(reason.description())
            }
            DenialKind::UseDpopNonce(reason) if dev => problem.with_detail(reason.description()),
            DenialKind::ReplayStoreUnavailable { .. } => problem.with_detail(
                "The DPoP proof cannot be checked for replay right now; retry later",
            ),
            DenialKind::InvalidRequest(reason) => problem.with_detail(reason.description()),
            DenialKind::InsufficientScope(required) if dev => problem.with_detail(format!(
                "The access token lacks a required scope; required: {required}"
            )),
            DenialKind::MissingRole { missing, .. } if dev => problem.with_detail(format!(
                "The access token lacks a required role; missing: {}",
                missing.join(" ")
            )),
            DenialKind::PolicyRefused(refusal) if dev => problem.with_detail(refusal.description()),
            DenialKind::ActionNotPermitted if dev => problem.with_detail(
                "The caller may see this resource but may not perform this action on it",
            ),
            DenialKind::NotFound(_) if dev => problem.with_detail(
                "No resource with this id exists that the caller owns; absent and foreign resources are answered alike",
            ),
            DenialKind::KeysUnavailable { .. } => problem
                .with_detail("The keys to verify access tokens are temporarily unavailable; retry later"),
            DenialKind::IntrospectionUnavailable { .. } => problem.with_detail(
                "The access token cannot be checked with its issuer right now; retry later",
            ),
            _ => problem,
        }
    }

    fn log(&self) {
        let status = self.status().as_u16();
        let reason = self.kind.code();
        match &self.kind {
            DenialKind::InsufficientScope(required) => {
                tracing::info!(target: "portcullis::denial", status, reason, required = %required, "request denied");
            }
            DenialKind::MissingRole { required, .. } => {
                tracing::info!(target: "portcullis::denial", status, reason, required = %required, "request denied");
            }
            DenialKind::KeysUnavailable { retry_after }
            | DenialKind::IntrospectionUnavailable { retry_after }
            | DenialKind::ReplayStoreUnavailable { retry_after } => {
                tracing::warn!(target: "portcullis::denial", status, reason, retry_after_secs = retry_after.as_secs(), "request denied");
            }
            DenialKind::LookupFailed => {
                tracing::error!(target: "portcullis::denial", status, reason, "request denied");
            }
            _ => tracing::info!(target: "portcullis::denial", status, reason, "request denied"),
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
        self.log();
        let mut response = if let DenialKind::MissingCredentials = self.kind {
            // A constant body: no serializing, and no reference count that every thread touches.
            let body = if self.development() {
                UNAUTHENTICATED_DEVELOPMENT
            } else {
                UNAUTHENTICATED_PRODUCTION
            };
            let mut response =
                problem_response(self.status(), axum::body::Bytes::from_static(body.as_bytes()));
            let headers = response.headers_mut();
            headers.insert(header::WWW_AUTHENTICATE, self.presentation.unauthenticated.clone());
            if let Some(dpop) = &self.presentation.unauthenticated_dpop {
                headers.append(header::WWW_AUTHENTICATE, dpop.clone());
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
        if let DenialKind::KeysUnavailable { retry_after }
        | DenialKind::IntrospectionUnavailable { retry_after }
        | DenialKind::ReplayStoreUnavailable { retry_after } = &self.kind
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
        }
        if let Some(nonce) = self.nonce {
            headers.insert(DPOP_NONCE, nonce);
        }
        response.extensions_mut().insert(DeniedWith(self.kind.code()));
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
/// The same in Development mode.
const UNAUTHENTICATED_DEVELOPMENT: &str = r#"{"type":"about:blank","title":"Unauthorized","status":401,"detail":"The request carries no bearer access token"}"#;

/// Response extension naming the precise denial reason, so an access-log layer can record it
/// beside the status without parsing the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeniedWith(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ScopeRule;
    use crate::scope::is_scope_char;

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
