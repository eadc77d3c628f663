//! DPoP (RFC 9449), sender-constrained access tokens: the [`DpopMode`] a verifier accepts,
//! where accepted proofs are remembered so that each is accepted once ([`ReplayStore`]:
//! [`MemoryReplayStore`] in one process, `RedisReplayStore` shared by several), and the
//! server-provided nonces ([`DpopNonces`]).

// Layout: `mode.rs` the modes (off, allowed, required); `proof.rs` the checks of a proof that
// need no signature work (its header's key, its claims against the request, the RFC 7638
// thumbprint), which `verify` runs with the signature check between them; `replay.rs` the
// replay-store trait, with `memory.rs` and, behind the `redis` feature, `redis.rs`; `nonce.rs`
// the server nonces (RFC 9449 §9), which need no shared state.
//
// May import `keys`, `respond` and `digest`.

mod memory;
mod mode;
mod nonce;
mod proof;
#[cfg(feature = "redis")]
mod redis;
mod replay;

#[cfg(feature = "redis")]
pub use self::redis::{RedisReplayStore, RedisReplayStoreBuilder};
pub use memory::MemoryReplayStore;
pub use mode::{DpopMode, UnknownDpopMode};
pub use nonce::{DpopNonces, NonceKeyTooShort};
#[cfg(feature = "testing")]
pub(crate) use proof::thumbprint;
pub(crate) use proof::{
    DEFAULT_ALGORITHMS, DEFAULT_IAT_WINDOW, DpopSettings, ProofRequest, normalize_uri, replay_key,
};
pub use replay::{ReplayStore, ReplayStoreError};
