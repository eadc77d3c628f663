//! DPoP (RFC 9449): sender-constrained access tokens.
//!
//! `replay.rs` holds where the `jti`s of accepted proofs are remembered, so that a proof is
//! accepted once.

mod replay;

pub use replay::{ReplayStore, ReplayStoreError};
