//! # portcullis
//!
//! Authentication and authorization for [axum] handlers, done in the right order and answered
//! with the right status.
//!
//! A guarded request is checked in one fixed order, stopping at the first failure:
//!
//! 1. **credentials**: the bearer token is found and verified (401, or 400 `invalid_request`);
//! 2. **permissions**: the required scopes (403 `insufficient_scope`);
//! 3. **ownership**: the resource exists and belongs to the caller (404, the same for both);
//! 4. **request shape**: path, query and body are parsed only now (400, 413, 415).
//!
//! Every refusal is an RFC 9457 `application/problem+json` document with the RFC 6750
//! `WWW-Authenticate` challenge its status calls for, rendered by [`Denial`].
//!
//! ```
//! use axum::{Router, routing::get};
//! use portcullis::{Key, Principal, Verifier};
//!
//! async fn me(principal: Principal) -> String {
//!     principal.subject().to_owned()
//! }
//!
//! let verifier = Verifier::builder()
//!     .realm("documents")
//!     .issuer("https://issuer.example")
//!     .audience("documents-api")
//!     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
//!     .build()?;
//! let app: Router = Router::new().route("/me", get(me)).with_state(verifier);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod challenge;
mod config;
pub mod denial;
mod guard;
mod keys;
mod ownership;
mod principal;
pub mod problem;
mod scope;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;
mod verifier;

pub use config::{ConfigError, DEFAULT_LEEWAY, DEFAULT_REALM, VerifierBuilder, env};
pub use denial::{
    Denial, DenialKind, Disclosure, InvalidRequestReason, InvalidTokenReason, NotFoundReason,
};
pub use jsonwebtoken::Algorithm;
pub use keys::{Key, KeyError, KeySet};
pub use ownership::{Owned, OwnedResource};
pub use principal::{Claims, Principal, ScopeClaim};
pub use problem::{InvalidParam, Problem};
pub use scope::{ScopeRequirement, ScopeRule, Scopes};
pub use verifier::Verifier;

/// What the attribute macros expand to. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::guard::{
        Guard, NoOwnership, OwnedBy, OwnershipCheck, Policy, ProvidesVerifier, is_declared,
    };
    pub use crate::scope::ScopeRule;
}

pub use portcullis_macros::{authenticated, owner_only, requires_scope, scopes};
