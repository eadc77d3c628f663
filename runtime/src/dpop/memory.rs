//! The default replay store: in this process's memory, bounded and expiring.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use quick_cache::sync::{Cache, EntryAction, EntryResult};

use super::replay::{ReplayStore, ReplayStoreError};

const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);

/// The replay store of one process: each proof's key is kept in memory until its `ttl` ends.
///
/// An entry lives for its `ttl` (on the monotonic clock) and an expired entry never counts as
/// seen. Two concurrent [`remember`](ReplayStore::remember) calls for one key see exactly one
/// `true`: a key is checked and recorded under one lock.
///
/// The store is bounded: it holds about [`capacity`](Self::with_capacity) keys (100 000 by
/// default, about 100 bytes each), and when it is full the least useful entries are evicted
/// first: those never seen again, oldest first, which for proofs means the oldest. **A replay
/// of a proof whose key was evicted is accepted**: size the store for at least the number of
/// proofs accepted within one proof window (proofs per second × the window, e.g. 500/s × 120 s
/// = 60 000), with room to spare.
///
/// The store is not shared between processes: an API run as several instances needs a shared
/// store (the `redis` feature's `RedisReplayStore`), or a proof refused by one instance is
/// accepted by another.
///
/// ```
/// use std::time::Duration;
/// use portcullis::{MemoryReplayStore, ReplayStore};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let store = MemoryReplayStore::with_capacity(50_000);
/// let key = [7; 32];
/// assert!(store.remember(key, Duration::from_secs(120)).await?); // new
/// assert!(!store.remember(key, Duration::from_secs(120)).await?); // a replay
/// # Ok::<(), portcullis::ReplayStoreError>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryReplayStore {
    /// Each key with the instant its entry ends.
    entries: Cache<[u8; 32], Instant>,
    capacity: usize,
}

impl MemoryReplayStore {
    /// The capacity of [`MemoryReplayStore::new`] and of the default store.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A store of [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) keys.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A store of about `capacity` keys (at least one). Past it, the least useful entries are
    /// evicted, and a replay of an evicted proof is accepted: see the type's documentation.
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { entries: Cache::new(capacity), capacity }
    }

    /// How many keys the store holds at most, about.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// [`ReplayStore::remember`] at `now`: `true` when `key` had no entry that ends after `now`,
    /// and it has one ending at `now + ttl` from here on.
    fn remember_at(&self, key: [u8; 32], ttl: Duration, now: Instant) -> bool {
        // A longer ttl than a century is a century: never, within the life of the process.
        let ends = now.checked_add(ttl.min(CENTURY)).unwrap_or(now);
        // The shard's write lock is held from the look-up to the update, so two calls for one
        // key cannot both see it absent. A vacant key gets a placeholder that makes a concurrent
        // call for the same key wait until the entry is inserted, a few instructions later.
        match self.entries.entry(&key, None, |_, entry_ends| {
            if *entry_ends > now {
                EntryAction::Retain(false)
            } else {
                // Expired: as if absent.
                *entry_ends = ends;
                EntryAction::Retain(true)
            }
        }) {
            EntryResult::Retained(new) => new,
            EntryResult::Vacant(guard) | EntryResult::Replaced(guard, _) => {
                // Fails only if the placeholder was removed meanwhile, which this store never
                // does; the key was still absent when this call looked, so it is new.
                let _ = guard.insert(ends);
                true
            }
            // `Remove` is never returned, and there is no timeout.
            EntryResult::Removed(..) | EntryResult::Timeout => true,
        }
    }
}

impl Default for MemoryReplayStore {
    /// [`MemoryReplayStore::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("capacity", &self.capacity)
            .field("len", &self.entries.len())
            .finish()
    }
}

impl ReplayStore for MemoryReplayStore {
    fn remember(
        &self,
        key: [u8; 32],
        ttl: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<bool, ReplayStoreError>> + Send + '_>> {
        let new = self.remember_at(key, ttl, Instant::now());
        Box::pin(std::future::ready(Ok(new)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;

    const TTL: Duration = Duration::from_secs(120);

    fn key(n: u32) -> [u8; 32] {
        let mut key = [0; 32];
        key[..4].copy_from_slice(&n.to_le_bytes());
        key
    }

    #[test]
    fn a_key_is_new_once() {
        let store = MemoryReplayStore::new();
        let now = Instant::now();
        assert!(store.remember_at(key(1), TTL, now));
        assert!(!store.remember_at(key(1), TTL, now));
        assert!(!store.remember_at(key(1), TTL, now + TTL - Duration::from_millis(1)));
        assert!(store.remember_at(key(2), TTL, now));
    }

    #[test]
    fn an_expired_entry_is_not_seen() {
        let store = MemoryReplayStore::new();
        let now = Instant::now();
        assert!(store.remember_at(key(1), TTL, now));
        // Its end is the first instant it no longer counts.
        assert!(store.remember_at(key(1), TTL, now + TTL));
        // Remembered again, for a new ttl from then.
        assert!(!store.remember_at(key(1), TTL, now + TTL + Duration::from_secs(1)));
        assert!(store.remember_at(key(1), TTL, now + TTL * 2));
    }

    #[test]
    fn a_zero_ttl_remembers_nothing() {
        let store = MemoryReplayStore::new();
        let now = Instant::now();
        assert!(store.remember_at(key(1), Duration::ZERO, now));
        assert!(store.remember_at(key(1), Duration::ZERO, now));
    }

    #[test]
    fn a_huge_ttl_does_not_overflow() {
        let store = MemoryReplayStore::new();
        let now = Instant::now();
        assert!(store.remember_at(key(1), Duration::MAX, now));
        assert!(!store.remember_at(key(1), Duration::MAX, now + Duration::from_secs(86_400)));
    }

    #[test]
    fn the_store_is_bounded() {
        let store = MemoryReplayStore::with_capacity(100);
        let now = Instant::now();
        for n in 0..10_000 {
            assert!(store.remember_at(key(n), TTL, now));
        }
        assert!(store.entries.len() <= 100, "{} entries", store.entries.len());
        // The newest keys are still there; the oldest were evicted (and would pass again).
        assert!(!store.remember_at(key(9_999), TTL, now));
        assert_eq!(MemoryReplayStore::with_capacity(0).capacity(), 1);
    }

    #[test]
    fn concurrent_calls_for_one_key_see_one_new() {
        let store = Arc::new(MemoryReplayStore::new());
        for round in 0..200 {
            let threads = 8;
            let barrier = Arc::new(Barrier::new(threads));
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                    std::thread::spawn(move || {
                        barrier.wait();
                        store.remember_at(key(round), TTL, Instant::now())
                    })
                })
                .collect();
            let new = handles.into_iter().map(|h| h.join().unwrap()).filter(|new| *new);
            assert_eq!(new.count(), 1, "round {round}");
        }
    }

    #[tokio::test]
    async fn the_trait_answers() {
        let store: Box<dyn ReplayStore> = Box::new(MemoryReplayStore::default());
        assert!(store.remember(key(1), TTL).await.unwrap());
        assert!(!store.remember(key(1), TTL).await.unwrap());
        assert!(format!("{store:?}").contains("capacity: 100000"));
    }
}
