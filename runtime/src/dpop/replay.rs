//! The replay store: a proof's `jti` is accepted once within its window (RFC 9449 §11.1).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Where the identifiers of accepted DPoP proofs are remembered, for as long as a proof could be
/// presented again. One store may be shared by several instances of an API (a Redis store), so
/// that a proof replayed against another instance is refused too.
///
/// Keys are digests, never the proof's own text.
pub trait ReplayStore: Send + Sync + std::fmt::Debug + 'static {
    /// Remembers `key` for `ttl`, atomically: `Ok(true)` when it was not remembered yet (a new
    /// proof), `Ok(false)` when it was (a replay). An error means the store could not say:
    /// the request is then refused with 503, never accepted.
    fn remember(
        &self,
        key: [u8; 32],
        ttl: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<bool, ReplayStoreError>> + Send + '_>>;
}

/// The replay store could not answer (unreachable, timed out, refused the command).
#[derive(Debug, thiserror::Error)]
#[error("the DPoP replay store is unavailable: {0}")]
pub struct ReplayStoreError(pub String);
