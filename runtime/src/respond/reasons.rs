//! The closed sets of reasons a refusal gives, each declared as one row per reason.
//!
//! A row names the variant (with its documentation), its stable code for logs and metrics, and,
//! for the reasons a client may be told about, the fixed sentence Development mode shows. The
//! [`reasons!`] macro makes the enum, its `ALL`, `code()` and `description()` from those rows, so
//! adding a reason is one row and no list can miss it. How each reason renders (status,
//! challenge, log line) is the refusal table's business (`table.rs`).

use std::fmt;

/// Declares a reason enum from one row per reason: `Variant => "code", "description";`, or
/// `Variant => "code";` for an enum whose reasons are only logged. Generates the enum (the
/// attributes given are kept), `ALL` (every reason, in declaration order), `code()` and, with
/// descriptions, `description()`.
macro_rules! reasons {
    (
        $(#[$attr:meta])*
        pub enum $name:ident {
            $( $(#[$doc:meta])* $variant:ident => $code:literal, $description:literal; )+
        }
    ) => {
        reasons!(@enum $(#[$attr])* $name { $( $(#[$doc])* $variant => $code; )+ });

        impl $name {
            /// The fixed sentence that describes this reason to a client, in the RFC 6750
            /// character set (never text from the request).
            pub const fn description(self) -> &'static str {
                match self {
                    $( Self::$variant => $description, )+
                }
            }
        }
    };
    (
        $(#[$attr:meta])*
        pub enum $name:ident {
            $( $(#[$doc:meta])* $variant:ident => $code:literal; )+
        }
    ) => {
        reasons!(@enum $(#[$attr])* $name { $( $(#[$doc])* $variant => $code; )+ });
    };
    (@enum $(#[$attr:meta])* $name:ident {
        $( $(#[$doc:meta])* $variant:ident => $code:literal; )+
    }) => {
        $(#[$attr])*
        pub enum $name {
            $( $(#[$doc])* $variant, )+
        }

        impl $name {
            /// Every reason, in declaration order, for exhaustive tests and metrics.
            pub const ALL: [Self; 0 $( + reasons!(@one $variant) )+] = [$( Self::$variant ),+];

            /// A stable, machine-friendly name for logs and metrics.
            pub const fn code(self) -> &'static str {
                match self {
                    $( Self::$variant => $code, )+
                }
            }
        }
    };
    (@one $variant:ident) => {
        1
    };
}

reasons! {
    /// Why a token was refused. Each reason renders as 401 `invalid_token`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum InvalidTokenReason {
        /// Not a `b64token`, not a JWT, or a header or claims set that is not JSON.
        Malformed => "malformed", "The access token is malformed";
        /// Longer than the configured limit; refused before decoding.
        TooLarge => "too_large", "The access token is too large";
        /// The `alg` is not allowed, or does not fit the key.
        DisallowedAlgorithm => "disallowed_algorithm",
            "The access token is signed with an algorithm that is not allowed";
        /// No configured key matches the token's `kid` and `alg`.
        UnknownKey => "unknown_key", "The access token is signed with an unknown key";
        /// The signature does not verify.
        BadSignature => "bad_signature", "The access token signature is invalid";
        /// `exp` is in the past.
        Expired => "expired", "The access token expired";
        /// `nbf` is in the future.
        NotYetValid => "not_yet_valid", "The access token is not valid yet";
        /// `iss` is not the configured issuer.
        WrongIssuer => "wrong_issuer", "The access token was issued by an untrusted issuer";
        /// `aud` does not name this API.
        WrongAudience => "wrong_audience", "The access token is not intended for this API";
        /// A required claim (`exp`, `sub`, `iss`, `aud`, the principal id) is absent.
        MissingClaim => "missing_claim", "The access token lacks a required claim";
        /// A claim has the wrong type, or the claims do not fit the application's claims type.
        InvalidClaims => "invalid_claims", "The access token has claims of the wrong type";
        /// The header lists `crit` extensions, none of which this verifier understands.
        UnsupportedCriticalHeader => "unsupported_crit",
            "The access token uses an unsupported critical header";
        /// The header's `typ` says the token is not an access token (an ID token, a DPoP proof, a
        /// logout or security event token), or not the type the token profile requires.
        WrongType => "wrong_type", "The token is not an access token of an accepted type";
        /// The introspection endpoint says the token is not active (RFC 7662 §2.2: revoked,
        /// expired, unknown to it, or not for this client).
        Inactive => "inactive", "The access token is not active";
        /// The token is bound to a key (`cnf.jkt`, RFC 9449 §6) but was presented without a DPoP
        /// proof of it (the `Bearer` scheme, or [`Verifier::verify`](crate::Verifier::verify)): a
        /// sender-constrained token is never accepted as a bearer token (§7.2).
        DpopBoundAsBearer => "dpop_bound_as_bearer",
            "The access token is bound to a key and must be presented with the DPoP scheme";
        /// The token's `cnf` claim is not exactly a DPoP key thumbprint (`{"jkt": "…"}`): an
        /// RFC 8705 certificate binding (`x5t#S256`), a `jwk` or `kid`, or a malformed `cnf`. Its
        /// binding cannot be proven here, and a bound token is never a bearer token.
        UnsupportedBinding => "unsupported_binding",
            "The access token is bound to its client by a means this API does not support";
        /// DPoP is required, and the token was presented with the `Bearer` scheme.
        DpopRequired => "dpop_required", "The access token must be presented with the DPoP scheme";
        /// The token is bound to another key than the one that signed the DPoP proof.
        DpopKeyMismatch => "dpop_key_mismatch",
            "The access token is bound to another key than the proof's";
    }
}

impl fmt::Display for InvalidTokenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for InvalidTokenReason {}

reasons! {
    /// Why a request was refused as malformed. Each reason renders as 400 `invalid_request`; its
    /// description describes the request, not the token, so both disclosure modes show it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum InvalidRequestReason {
        /// More than one `Authorization` header.
        SeveralAuthorizationHeaders => "several_authorization_headers",
            "The request has more than one Authorization header";
        /// The token was sent through more than one transport, or twice in the query.
        SeveralTransports => "several_transports",
            "The request carries more than one access token";
    }
}

reasons! {
    /// Why a DPoP proof was refused (RFC 9449 §4.3). Each reason renders as 401
    /// `invalid_dpop_proof`, with the `DPoP` challenge.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum DpopProofReason {
        /// The request uses the `DPoP` scheme without a `DPoP` header.
        Missing => "dpop_proof_missing", "The request carries no DPoP proof";
        /// The request has more than one `DPoP` header (RFC 9449 §4.3, first check).
        SeveralHeaders => "dpop_proof_several_headers",
            "The request has more than one DPoP header";
        /// Not a JWS in compact serialization with JSON objects as header and claims, or too
        /// large.
        Malformed => "dpop_proof_malformed", "The DPoP proof is malformed";
        /// The header's `typ` is not `dpop+jwt`.
        WrongType => "dpop_proof_wrong_type", "The DPoP proof is not of type dpop+jwt";
        /// The `alg` is not one of the accepted proof algorithms (never a symmetric one, nor
        /// `none`).
        DisallowedAlgorithm => "dpop_proof_disallowed_algorithm",
            "The DPoP proof is signed with an algorithm that is not accepted";
        /// The header's `jwk` is absent or not a usable public key for the `alg`.
        InvalidKey => "dpop_proof_invalid_key", "The DPoP proof does not carry a usable public key";
        /// The header's `jwk` holds private key members.
        PrivateKey => "dpop_proof_private_key", "The DPoP proof carries a private key";
        /// The signature does not verify with the header's `jwk`.
        BadSignature => "dpop_proof_bad_signature", "The DPoP proof signature is invalid";
        /// `jti`, `htm`, `htu`, `iat` or `ath` is absent or of the wrong type.
        MissingClaim => "dpop_proof_missing_claim", "The DPoP proof lacks a required claim";
        /// `htm` is not the request's method.
        WrongMethod => "dpop_proof_wrong_method", "The DPoP proof is for another HTTP method";
        /// `htu` is not the request's URI (without query and fragment).
        WrongUri => "dpop_proof_wrong_uri", "The DPoP proof is for another URI";
        /// `iat` is outside the accepted window.
        Stale => "dpop_proof_stale", "The DPoP proof was issued outside the accepted time window";
        /// `ath` is not the hash of the access token presented with the proof.
        WrongTokenHash => "dpop_proof_wrong_token_hash",
            "The DPoP proof is for another access token";
        /// The proof was presented before (its `jti`, for the same key).
        Replayed => "dpop_proof_replayed", "The DPoP proof was already used";
        /// A proof came with an access token that is not bound to a DPoP key (no `cnf`): a proof
        /// proves nothing about such a token, and its client or authorization server is mistaken.
        UnboundToken => "dpop_proof_unbound_token",
            "The DPoP proof came with an access token not bound to a key";
    }
}

reasons! {
    /// Why a DPoP proof's nonce was refused, when the server requires nonces (RFC 9449 §9). Each
    /// reason renders as 401 `use_dpop_nonce`, with the `DPoP` challenge and a fresh nonce in the
    /// `DPoP-Nonce` header.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum DpopNonceReason {
        /// The proof has no `nonce` claim.
        Missing => "dpop_nonce_missing", "The DPoP proof lacks the nonce this server requires";
        /// The `nonce` is not one this server issued (or not a string).
        Invalid => "dpop_nonce_invalid",
            "The DPoP proof carries a nonce this server did not issue";
        /// The `nonce` was issued by this server, but too long ago.
        Expired => "dpop_nonce_expired", "The DPoP proof carries an expired nonce";
    }
}

reasons! {
    /// Why an owned resource was refused. Every reason renders as the same 404; the reason only
    /// reaches the logs, so it has no description.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum NotFoundReason {
        /// No resource has that id.
        Absent => "absent";
        /// The resource belongs to someone else.
        NotOwner => "not_owner";
        /// The path holds no id, or one that cannot name any resource.
        InvalidId => "invalid_id";
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
