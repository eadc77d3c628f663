//! Single flight: one call per key at a time (a token being introspected, an authorization
//! decision being asked).
//!
//! Requests for a token that is not cached take turns on that token's own lock; the first one
//! calls, the others wait and then find its answer in the cache. A request cancelled while it
//! holds the turn (the client went away) releases it, and the next waiter takes over: nobody
//! waits for a call that nobody makes. The locks live only while someone holds or awaits them,
//! so the map holds as many entries as there are tokens being introspected right now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The tokens being introspected right now, each with the lock its requests take turns on.
#[derive(Default)]
pub(crate) struct InFlight {
    locks: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
}

/// A place in the queue of one token: [`Place::turn`] waits for it. Dropping the place leaves
/// the queue, and the last one to leave removes the token's lock.
pub(crate) struct Place<'a> {
    in_flight: &'a InFlight,
    key: [u8; 32],
    lock: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl InFlight {
    /// Joins the queue of the token whose digest is `key`.
    pub(crate) fn join(&self, key: &[u8; 32]) -> Place<'_> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        let lock = Arc::clone(locks.entry(*key).or_default());
        Place { in_flight: self, key: *key, lock: Some(lock) }
    }

    /// How many tokens are being introspected (or waited for) now.
    pub(crate) fn len(&self) -> usize {
        self.locks.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Place<'_> {
    /// Waits for this place's turn: until every request ahead of it is done or gone.
    pub(crate) async fn turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        Some(self.lock.as_ref()?.lock().await)
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        // Every clone and every drop of a token's lock happens under the map's lock, so the
        // count read here is exact: one means only the map still holds it.
        let mut locks = self.in_flight.locks.lock().unwrap_or_else(PoisonError::into_inner);
        drop(self.lock.take());
        if locks.get(&self.key).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            locks.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_turn_at_a_time_and_nothing_left_behind() {
        let in_flight = InFlight::default();
        let (first, second) = (in_flight.join(&[1; 32]), in_flight.join(&[1; 32]));
        let other = in_flight.join(&[2; 32]);
        assert_eq!(in_flight.len(), 2);
        let turn = first.turn().await;
        assert!(turn.is_some());
        // Another token's turn does not wait; the same token's does.
        assert!(other.turn().await.is_some());
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(20), second.turn());
        assert!(waiting.await.is_err());
        drop(turn);
        drop(first);
        assert!(second.turn().await.is_some());
        drop((second, other));
        assert_eq!(in_flight.len(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_turn_hands_over() {
        let in_flight = std::sync::Arc::new(InFlight::default());
        let holder = in_flight.join(&[7; 32]);
        let turn = holder.turn().await;
        let waiter = {
            let in_flight = std::sync::Arc::clone(&in_flight);
            tokio::spawn(async move {
                let place = in_flight.join(&[7; 32]);
                place.turn().await.is_some()
            })
        };
        tokio::task::yield_now().await;
        // The holder is dropped mid-turn, as a cancelled request's future is.
        drop(turn);
        drop(holder);
        assert!(waiter.await.unwrap_or(false));
        assert_eq!(in_flight.len(), 0);
    }
}
