//! DPoP (RFC 9449): sender-constrained access tokens.
//!
//! `replay.rs` holds where the `jti`s of accepted proofs are remembered, so that a proof is
//! accepted once: the trait, with the default store in memory (`memory.rs`) and, behind the
//! `redis` feature, one shared by several instances (`redis.rs`).

mod memory;
#[cfg(feature = "redis")]
mod redis;
mod replay;

#[cfg(feature = "redis")]
pub use self::redis::{RedisReplayStore, RedisReplayStoreBuilder};
pub use memory::MemoryReplayStore;
pub use replay::{ReplayStore, ReplayStoreError};
