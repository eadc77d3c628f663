//! The default replay store: in this process's memory, exact for its window, bounded, and
//! closed when full.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::replay::{ReplayStore, ReplayStoreError};

const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);

/// The replay store of one process: each proof's key is remembered for exactly its `ttl`.
///
/// A key is refused as a replay for its whole `ttl` (on the monotonic clock), whatever else
/// arrives meanwhile: the store never evicts a live key. Expired keys are dropped as soon as a
/// call finds them expired (oldest end first), so they never take the room of live ones. Two
/// concurrent [`remember`](ReplayStore::remember) calls for one key see exactly one `true`: a key
/// is checked and recorded under one lock.
///
/// **When the store holds [`capacity`](Self::with_capacity) live keys, it fails closed**: a new
/// key is answered with a [`ReplayStoreError`], so the request gets 503 with `Retry-After`, as
/// with a shared store that is down, until keys expire. Size it for the proofs accepted within one
/// proof window, with room to spare: proofs per second × (the proof window + the leeway), e.g.
/// 500/s × 150 s = 75 000 (the default capacity is 100 000, about 15 MB when full: each key
/// costs about 150 bytes).
///
/// The store is not shared between processes: an API run as several instances needs a shared
/// store (the `redis` feature's `RedisReplayStore`), or a proof refused by one instance is
/// accepted by another.
///
/// ```
/// use std::time::Duration;
/// use portcullis::dpop::{MemoryReplayStore, ReplayStore};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let store = MemoryReplayStore::with_capacity(50_000);
/// let key = [7; 32];
/// assert!(store.remember(key, Duration::from_secs(120)).await?); // new
/// assert!(!store.remember(key, Duration::from_secs(120)).await?); // a replay
/// # Ok::<(), portcullis::dpop::ReplayStoreError>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryReplayStore {
    live: Mutex<LiveKeys>,
    capacity: usize,
}

/// The keys whose `ttl` has not ended, each with its end, and the same ends in order.
#[derive(Default)]
struct LiveKeys {
    ends: HashMap<[u8; 32], Instant>,
    /// The same entries as `ends`, earliest end first. A key enters both only while it is
    /// absent from `ends`, after every expired key left both, so the two always agree.
    by_end: BinaryHeap<Reverse<(Instant, [u8; 32])>>,
}

impl LiveKeys {
    /// Drops every key whose end is not after `now`.
    fn drop_expired(&mut self, now: Instant) {
        while let Some(Reverse((end, key))) = self.by_end.peek().copied() {
            if end > now {
                break;
            }
            self.by_end.pop();
            self.ends.remove(&key);
        }
    }
}

/// The store is full of live keys: it cannot remember another one.
#[derive(Debug)]
struct Full;

impl MemoryReplayStore {
    /// The capacity of [`MemoryReplayStore::new`] and of the default store.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A store of [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) keys.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A store of at most `capacity` live keys (at least one). A new key beyond it is an error
    /// (the request gets 503), never a forgotten older key: see the type's documentation.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { live: Mutex::default(), capacity: capacity.max(1) }
    }

    /// How many live keys the store holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// [`ReplayStore::remember`] at `now`: `Ok(true)` when `key` had no entry that ends after
    /// `now`, and it has one ending at `now + ttl` from here on; `Ok(false)` for a replay.
    fn remember_at(&self, key: [u8; 32], ttl: Duration, now: Instant) -> Result<bool, Full> {
        // A longer ttl than a century is a century: never, within the life of the process.
        let end = now.checked_add(ttl.min(CENTURY)).unwrap_or(now);
        // Nothing in the structure is left half-updated by a panic, so a poisoned lock is usable.
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.drop_expired(now);
        if live.ends.contains_key(&key) {
            return Ok(false);
        }
        if end <= now {
            // A zero ttl: new, and remembered for no time at all.
            return Ok(true);
        }
        if live.ends.len() >= self.capacity {
            return Err(Full);
        }
        live.ends.insert(key, end);
        live.by_end.push(Reverse((end, key)));
        Ok(true)
    }

    /// How many live keys the store held when it was last called.
    fn len(&self) -> usize {
        self.live.lock().unwrap_or_else(PoisonError::into_inner).ends.len()
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
            .field("len", &self.len())
            .finish()
    }
}

impl ReplayStore for MemoryReplayStore {
    fn remember(
        &self,
        key: [u8; 32],
        ttl: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<bool, ReplayStoreError>> + Send + '_>> {
        let answer = self.remember_at(key, ttl, Instant::now()).map_err(|Full| {
            ReplayStoreError(format!(
                "the in-memory DPoP replay store is full: {} proofs within their window; \
                 raise its capacity",
                self.capacity
            ))
        });
        Box::pin(std::future::ready(answer))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use proptest::prelude::*;

    use super::*;

    const TTL: Duration = Duration::from_secs(120);

    fn key(n: u32) -> [u8; 32] {
        let mut key = [0; 32];
        key[..4].copy_from_slice(&n.to_le_bytes());
        key
    }

    fn is_new(store: &MemoryReplayStore, n: u32, now: Instant) -> bool {
        store.remember_at(key(n), TTL, now).unwrap_or_else(|Full| panic!("full at key {n}"))
    }

    #[test]
    fn a_key_is_new_once() {
        let store = MemoryReplayStore::new();
        let now = Instant::now();
        assert!(is_new(&store, 1, now));
        assert!(!is_new(&store, 1, now));
        assert!(!is_new(&store, 1, now + TTL - Duration::from_millis(1)));
        assert!(is_new(&store, 2, now));
    }

    #[test]
    fn an_expired_entry_is_not_seen() {
        let store = MemoryReplayStore::new();
        let now = Instant::now();
        assert!(is_new(&store, 1, now));
        // Its end is the first instant it no longer counts.
        assert!(is_new(&store, 1, now + TTL));
        // Remembered again, for a new ttl from then.
        assert!(!is_new(&store, 1, now + TTL + Duration::from_secs(1)));
        assert!(is_new(&store, 1, now + TTL * 2));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn a_zero_ttl_remembers_nothing() {
        let store = MemoryReplayStore::with_capacity(1);
        let now = Instant::now();
        for _ in 0..3 {
            assert!(matches!(store.remember_at(key(1), Duration::ZERO, now), Ok(true)));
        }
        assert_eq!(store.len(), 0, "and takes no room");
    }

    #[test]
    fn a_huge_ttl_does_not_overflow() {
        let store = MemoryReplayStore::new();
        let now = Instant::now();
        assert!(matches!(store.remember_at(key(1), Duration::MAX, now), Ok(true)));
        assert!(!is_new(&store, 1, now + Duration::from_secs(86_400)));
    }

    /// The default store remembers every one of its 100 000 keys for the whole window, with
    /// keys arriving all through it: the promise the proof window relies on.
    #[test]
    fn every_key_of_a_full_window_is_remembered() {
        let store = MemoryReplayStore::new();
        let capacity = u32::try_from(MemoryReplayStore::DEFAULT_CAPACITY).unwrap_or(u32::MAX);
        let start = Instant::now();
        // Arrivals spread over the first 119 s of the 120 s window.
        let at =
            |n: u32| start + Duration::from_millis(u64::from(n) * 119_000 / u64::from(capacity));
        for n in 0..capacity {
            assert!(is_new(&store, n, at(n)));
        }
        let last = at(capacity - 1);
        for n in 0..capacity {
            assert!(!is_new(&store, n, last), "key {n} was forgotten within its window");
        }
    }

    /// Full of live keys, the store refuses a new key (the request gets 503) rather than forget
    /// an old one; as keys expire, room comes back, oldest first.
    #[test]
    fn a_full_store_fails_closed() {
        let store = MemoryReplayStore::with_capacity(10_000);
        let now = Instant::now();
        for n in 0..10_000 {
            assert!(is_new(&store, n, now + Duration::from_millis(u64::from(n))));
        }
        let later = now + Duration::from_millis(10_000);
        for n in 10_000..10_100 {
            assert!(matches!(store.remember_at(key(n), TTL, later), Err(Full)), "key {n}");
        }
        // Still a replay, every one of them; a replay is answered even when full.
        for n in 0..10_000 {
            assert!(!is_new(&store, n, later), "key {n}");
        }
        // The first 50 keys end: exactly 50 new keys fit, and those 50 old ones pass again.
        let first_ends = now + TTL + Duration::from_millis(49);
        for n in 20_000..20_050 {
            assert!(is_new(&store, n, first_ends), "key {n}");
        }
        assert!(matches!(store.remember_at(key(20_050), TTL, first_ends), Err(Full)));
        assert!(!is_new(&store, 50, first_ends));
    }

    #[test]
    fn expired_keys_take_no_room_from_live_ones() {
        let store = MemoryReplayStore::with_capacity(1_000);
        let now = Instant::now();
        for n in 0..1_000 {
            assert!(matches!(store.remember_at(key(n), Duration::from_secs(1), now), Ok(true)));
        }
        // A second later every one of them has ended: a full store's worth of new keys fits.
        let later = now + Duration::from_secs(1);
        for n in 1_000..2_000 {
            assert!(is_new(&store, n, later));
        }
        assert_eq!(store.len(), 1_000);
    }

    #[test]
    fn the_trait_answers_full_as_an_error() {
        let store = MemoryReplayStore::with_capacity(0);
        assert_eq!(store.capacity(), 1);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            assert!(store.remember(key(1), TTL).await.unwrap());
            assert!(!store.remember(key(1), TTL).await.unwrap());
            let error = store.remember(key(2), TTL).await.unwrap_err();
            assert!(error.to_string().contains("full"), "{error}");
        });
        assert!(format!("{store:?}").contains("capacity: 1, len: 1"), "{store:?}");
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
            let new = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|new| matches!(new, Ok(true)));
            assert_eq!(new.count(), 1, "round {round}");
        }
    }

    proptest! {
        /// After any sequence of fewer than `capacity` distinct keys (repeats among them, each
        /// arriving at any instant of the window), every one of them is still a replay, and a
        /// repeat was never new.
        #[test]
        fn any_keys_within_capacity_are_all_remembered(
            capacity in 1usize..400,
            arrivals in proptest::collection::vec((0u32..2_000, 0u64..119_000), 0..600),
        ) {
            let store = MemoryReplayStore::with_capacity(capacity);
            let start = Instant::now();
            let mut seen = std::collections::HashSet::new();
            let mut arrivals = arrivals;
            arrivals.sort_by_key(|&(_, millis)| millis);
            for (n, millis) in arrivals {
                if !seen.contains(&n) && seen.len() + 1 >= capacity {
                    continue; // keep the distinct keys below capacity
                }
                let now = start + Duration::from_millis(millis);
                let new = store.remember_at(key(n), TTL, now);
                prop_assert_eq!(new.ok(), Some(seen.insert(n)), "key {}", n);
            }
            let end = start + Duration::from_millis(119_999);
            for n in seen {
                prop_assert_eq!(store.remember_at(key(n), TTL, end).ok(), Some(false), "key {}", n);
            }
        }
    }
}
