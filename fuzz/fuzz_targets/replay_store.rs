//! The in-process DPoP replay store (`MemoryReplayStore`) against a model: sequences of keys
//! (from a small alphabet, so that they repeat) with zero, ordinary or enormous ttls, in a
//! store of a small capacity.
//!
//! Within one run no ordinary ttl ends, so the model is exact: a key is new (`Ok(true)`) exactly
//! when it is not live, a replay (`Ok(false)`) exactly when it is, whatever else arrived; a zero
//! ttl is new and remembered for no time; a new key when `capacity` keys are live is an error
//! (fail closed), never a forgotten older key; an enormous ttl is no panic.
#![no_main]

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portcullis::dpop::{MemoryReplayStore, ReplayStore};

#[derive(Arbitrary, Debug)]
enum Ttl {
    Zero,
    Seconds(u16),
    Max,
}

#[derive(Arbitrary, Debug)]
struct Input {
    capacity: u8,
    calls: Vec<(u8, u8, Ttl)>,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().unwrap())
}

fuzz_target!(|input: Input| {
    let capacity = usize::from(input.capacity % 16);
    let store = MemoryReplayStore::with_capacity(capacity);
    assert_eq!(store.capacity(), capacity.max(1));
    let mut live = HashSet::new();
    for (first, last, ttl) in input.calls {
        let mut key = [first; 32];
        key[31] = last % 4;
        let ttl = match ttl {
            Ttl::Zero => Duration::ZERO,
            Ttl::Seconds(seconds) => Duration::from_secs(u64::from(seconds).max(60)),
            Ttl::Max => Duration::MAX,
        };
        let answer = runtime().block_on(store.remember(key, ttl));
        if live.contains(&key) {
            assert!(matches!(answer, Ok(false)), "a live key not a replay: {answer:?}");
        } else if ttl.is_zero() {
            assert!(matches!(answer, Ok(true)), "a new key with no ttl: {answer:?}");
        } else if live.len() >= store.capacity() {
            assert!(answer.is_err(), "a full store took a new key: {answer:?}");
        } else {
            assert!(matches!(answer, Ok(true)), "a new key refused: {answer:?}");
            live.insert(key);
        }
    }
});
