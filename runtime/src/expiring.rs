//! A bounded cache of entries that end at an instant of their own: the verified-token cache and
//! the introspection cache.
//!
//! Both serve a working set of tokens that clients present again and again, among tokens seen
//! once. Eviction is CLOCK (second chance): an entry read since the hand last passed it is kept
//! for another round, so any working set smaller than the capacity stays cached however many
//! other tokens pass through, and a token read once leaves first. An entry that has ended is
//! never served, and before a live entry is evicted for room, every ended entry of its shard is
//! dropped: ended entries never take the room of live ones.
//!
//! Keys are 32-byte digests. The bucket and the shard are chosen by a hash keyed with a secret of
//! the process (`RandomState`), so a client cannot choose tokens that crowd one bucket.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// About how many entries a shard holds: a sweep of ended entries scans one shard, under its
/// lock, and stays within a few microseconds.
const SHARD_SIZE: usize = 1024;
/// The most shards: enough that readers on many cores rarely share a lock.
const MAX_SHARDS: usize = 1024;

/// A key: the digest with its keyed hash, computed once per lookup.
#[derive(Clone, Copy)]
struct Key {
    hash: u64,
    digest: [u8; 32],
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Hands the key's precomputed hash to the map as it is.
#[derive(Default)]
struct Precomputed(u64);

impl Hasher for Precomputed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is ever called (by `Key::hash`); fold anything else in all the same.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

struct Slot<V> {
    key: Key,
    value: V,
    /// The first instant (milliseconds since the epoch) at which the entry is no longer served.
    ends: u64,
    /// Read since the hand last passed: kept for another round.
    referenced: AtomicBool,
}

struct Shard<V> {
    index: HashMap<Key, usize, BuildHasherDefault<Precomputed>>,
    slots: Vec<Slot<V>>,
    capacity: usize,
    /// The CLOCK hand: the slot considered next for eviction.
    hand: usize,
    /// No entry ends before this instant: when it is still ahead, no sweep can find anything.
    earliest_end: u64,
}

impl<V> Shard<V> {
    fn new(capacity: usize) -> Self {
        Self {
            index: HashMap::default(),
            slots: Vec::new(),
            capacity,
            hand: 0,
            earliest_end: u64::MAX,
        }
    }

    /// Removes the entry in `slot`: the last slot takes its place.
    fn remove_slot(&mut self, slot: usize) {
        let removed = self.slots.swap_remove(slot);
        self.index.remove(&removed.key);
        if let Some(moved) = self.slots.get(slot) {
            self.index.insert(moved.key, slot);
        }
        if self.hand >= self.slots.len() {
            self.hand = 0;
        }
    }

    /// Drops every entry that has ended by `now`, if one can have.
    fn drop_ended(&mut self, now: u64) {
        if self.earliest_end > now {
            return;
        }
        let mut slot = 0;
        let mut earliest_end = u64::MAX;
        while slot < self.slots.len() {
            let ends = self.slots[slot].ends;
            if ends <= now {
                self.remove_slot(slot);
            } else {
                earliest_end = earliest_end.min(ends);
                slot += 1;
            }
        }
        self.earliest_end = earliest_end;
    }

    /// The slot for a new entry: a free one, or that of the entry the hand evicts.
    fn make_room(&mut self, now: u64) -> Option<usize> {
        if self.slots.len() >= self.capacity {
            self.drop_ended(now);
        }
        if self.slots.len() < self.capacity {
            return None;
        }
        // One round clears every mark, so the second finds an unmarked entry.
        loop {
            let slot = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            if !self.slots[slot].referenced.swap(false, Ordering::Relaxed) {
                return Some(slot);
            }
        }
    }
}

/// A bounded cache of values by 32-byte digest, each entry with an end of its own.
pub(crate) struct ExpiringCache<V> {
    shards: Box<[RwLock<Shard<V>>]>,
    hasher: RandomState,
}

impl<V> ExpiringCache<V> {
    /// A cache of about `capacity` entries (at least one). The entries are spread over shards by
    /// hash; a shard holds its share of the capacity, so a working set up to about 80 % of the
    /// capacity fits whatever its keys (a larger one fits unless its keys happen to crowd a shard).
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let shards = capacity.div_ceil(SHARD_SIZE).next_power_of_two().min(MAX_SHARDS);
        let per_shard = capacity.div_ceil(shards);
        Self {
            shards: (0..shards).map(|_| RwLock::new(Shard::new(per_shard))).collect(),
            hasher: RandomState::new(),
        }
    }

    fn key(&self, digest: &[u8; 32]) -> Key {
        // Sixteen bytes of a digest are as unique as all 32, for half the hashing.
        let mut half = [0; 16];
        half.copy_from_slice(&digest[..16]);
        Key { hash: self.hasher.hash_one(u128::from_ne_bytes(half)), digest: *digest }
    }

    fn shard(&self, key: &Key) -> &RwLock<Shard<V>> {
        // The high bits: the map uses the low ones for its buckets.
        let shards = self.shards.len();
        let index = usize::try_from(key.hash >> 32).unwrap_or(0) & (shards - 1);
        &self.shards[index]
    }

    fn read(&self, key: &Key) -> RwLockReadGuard<'_, Shard<V>> {
        // A panic under the lock leaves a shard whole (every update is a single step on the map
        // and the slots), so a poisoned lock is used as it is.
        self.shard(key).read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, key: &Key) -> RwLockWriteGuard<'_, Shard<V>> {
        self.shard(key).write().unwrap_or_else(PoisonError::into_inner)
    }

    /// What `read` makes of the entry of `digest`, if it has one that has not ended at `now`
    /// (milliseconds since the epoch). The entry counts as used.
    pub(crate) fn get<R>(
        &self,
        digest: &[u8; 32],
        now: u64,
        read: impl FnOnce(&V) -> R,
    ) -> Option<R> {
        let key = self.key(digest);
        let shard = self.read(&key);
        let slot = &shard.slots[*shard.index.get(&key)?];
        if slot.ends <= now {
            return None;
        }
        // Written only when not set yet: a hot entry's cache line is then only read.
        if !slot.referenced.load(Ordering::Relaxed) {
            slot.referenced.store(true, Ordering::Relaxed);
        }
        Some(read(&slot.value))
    }

    /// Keeps `value` for `digest` until `ends` (milliseconds since the epoch), in place of any
    /// entry it had. An entry that has ended by `now` is not kept.
    pub(crate) fn insert(&self, digest: &[u8; 32], value: V, ends: u64, now: u64) {
        if ends <= now {
            return;
        }
        let key = self.key(digest);
        let mut shard = self.write(&key);
        shard.earliest_end = shard.earliest_end.min(ends);
        let slot = Slot { key, value, ends, referenced: AtomicBool::new(false) };
        if let Some(&existing) = shard.index.get(&key) {
            shard.slots[existing] = slot;
            return;
        }
        match shard.make_room(now) {
            Some(evicted) => {
                let old = std::mem::replace(&mut shard.slots[evicted], slot);
                shard.index.remove(&old.key);
                shard.index.insert(key, evicted);
            }
            None => {
                let free = shard.slots.len();
                shard.slots.push(slot);
                shard.index.insert(key, free);
            }
        }
    }

    /// Removes the entry of `digest` if `stale` says so of its value and its end.
    pub(crate) fn remove_if(&self, digest: &[u8; 32], stale: impl FnOnce(&V, u64) -> bool) {
        let key = self.key(digest);
        let mut shard = self.write(&key);
        if let Some(&slot) = shard.index.get(&key)
            && stale(&shard.slots[slot].value, shard.slots[slot].ends)
        {
            shard.remove_slot(slot);
        }
    }

    /// How many entries are held, ended ones not yet dropped included.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.read().unwrap_or_else(PoisonError::into_inner).slots.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u64) -> [u8; 32] {
        crate::crypto::sha256(&n.to_le_bytes())
    }

    const NOW: u64 = 1_800_000_000_000;
    const LATER: u64 = NOW + 600_000;

    #[test]
    fn an_entry_is_served_until_it_ends() {
        let cache = ExpiringCache::new(10);
        cache.insert(&digest(1), "one", NOW + 10, NOW);
        assert_eq!(cache.get(&digest(1), NOW, |v| *v), Some("one"));
        assert_eq!(cache.get(&digest(1), NOW + 9, |v| *v), Some("one"));
        assert_eq!(cache.get(&digest(1), NOW + 10, |v| *v), None);
        assert_eq!(cache.get(&digest(2), NOW, |v| *v), None);
        // Ended on arrival: not kept.
        cache.insert(&digest(3), "three", NOW, NOW);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn an_insert_replaces_and_remove_if_removes() {
        let cache = ExpiringCache::new(10);
        cache.insert(&digest(1), 1, LATER, NOW);
        cache.insert(&digest(1), 2, LATER, NOW);
        assert_eq!(cache.get(&digest(1), NOW, |v| *v), Some(2));
        assert_eq!(cache.len(), 1);
        cache.remove_if(&digest(1), |v, _| *v == 1);
        assert_eq!(cache.len(), 1);
        cache.remove_if(&digest(1), |v, ends| *v == 2 && ends == LATER);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_size_is_bounded() {
        for capacity in [1, 7, 100, 5_000, 50_000] {
            let cache = ExpiringCache::new(capacity);
            for n in 0..(3 * capacity as u64 + 10) {
                cache.insert(&digest(n), n, LATER, NOW);
            }
            let shards = cache.shards.len();
            assert!(cache.len() <= capacity + shards, "capacity {capacity}: {}", cache.len());
            assert!(cache.len() >= capacity, "capacity {capacity}: {}", cache.len());
        }
    }

    /// The promise: after a warm-up of other keys, a working set of 80 % of the capacity
    /// replayed round-robin misses only on its first round.
    #[test]
    fn a_working_set_stays_through_churn() {
        let capacity = 50_000;
        let cache = ExpiringCache::new(capacity);
        for n in 0..150_000 {
            cache.insert(&digest(n), n, LATER, NOW);
        }
        let working_set = 1_000_000..1_040_000;
        let (mut hits, mut misses) = (0, 0);
        for round in 0..5 {
            for n in working_set.clone() {
                match cache.get(&digest(n), NOW, |v| *v) {
                    Some(value) => {
                        assert_eq!(value, n);
                        hits += 1;
                    }
                    None => {
                        assert_eq!(round, 0, "key {n} missed in round {round}");
                        misses += 1;
                        cache.insert(&digest(n), n, LATER, NOW);
                    }
                }
            }
        }
        assert_eq!((hits, misses), (4 * 40_000, 40_000));
    }

    /// Among keys seen once, a key read again and again is kept.
    #[test]
    fn a_key_in_use_outlives_keys_seen_once() {
        let cache = ExpiringCache::new(1_000);
        cache.insert(&digest(0), 0, LATER, NOW);
        for n in 1..100_000 {
            assert!(cache.get(&digest(0), NOW, |v| *v).is_some(), "evicted after {n}");
            cache.insert(&digest(n), n, LATER, NOW);
        }
    }

    /// Ended entries are dropped before any live one is evicted for room.
    #[test]
    fn ended_entries_never_take_the_room_of_live_ones() {
        let capacity = 20_000;
        let cache = ExpiringCache::new(capacity);
        // 40 % of it live until later, never read (the first the hand would evict) …
        for n in 0..8_000 {
            cache.insert(&digest(n), n, LATER, NOW);
        }
        // … and 40 % of it ending a second from now.
        for n in 10_000..18_000 {
            cache.insert(&digest(n), n, NOW + 1_000, NOW);
        }
        // After that second, a new batch as large as the ended one: every live entry stays.
        let after = NOW + 1_000;
        for n in 100_000..108_000 {
            cache.insert(&digest(n), n, LATER, after);
        }
        for n in (0..8_000).chain(100_000..108_000) {
            assert_eq!(cache.get(&digest(n), after, |v| *v), Some(n), "key {n}");
        }
    }

    #[test]
    fn readers_and_writers_on_many_threads() {
        let cache = std::sync::Arc::new(ExpiringCache::new(1_000));
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let cache = std::sync::Arc::clone(&cache);
                std::thread::spawn(move || {
                    for n in 0..20_000 {
                        let key = digest(t * 1_000_000 + n % 3_000);
                        if cache.get(&key, NOW, |v: &u64| *v).is_none() {
                            cache.insert(&key, n, LATER, NOW);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().is_ok());
        }
        assert!(cache.len() <= 1_000 + cache.shards.len());
    }
}
