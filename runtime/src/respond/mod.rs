//! How a refused request is answered: the reason ([`Denial`]), the RFC 9457 problem document
//! ([`Problem`]) and the RFC 6750 challenge ([`Challenge`]).
//!
//! May import `scope`, `role` and `step_up` (a 403 names the required scopes or the missing
//! roles, a step-up 401 the required sign-in) and nothing else of the crate: every other stage refuses through this one.

mod challenge;
mod denial;
mod internal;
mod problem;
mod reasons;
mod table;

pub use challenge::{Challenge, ChallengeError, ErrorCode};
pub use denial::{Denial, DeniedWith, Disclosure, Presentation, UnknownDisclosure};
pub(crate) use denial::{DpopChallenge, offer_dpop_nonce};
pub use internal::InternalError;
pub use problem::{InvalidParam, PROBLEM_JSON, Problem};
pub use reasons::{
    DpopNonceReason, DpopProofReason, InvalidRequestReason, InvalidTokenReason, NotFoundReason,
    PolicyRefusal,
};
pub use table::DenialKind;
