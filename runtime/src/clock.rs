//! The clock the caches (and the step-up check's maximum age) read on every hit.
//!
//! A cache hit needs the time to tell a live entry from an ended one, and on a virtual machine
//! the precise clock (`SystemTime::now`, `CLOCK_REALTIME`) costs 50 ns or more: half of what a
//! whole hit may cost. Linux's coarse clock (`CLOCK_REALTIME_COARSE`) is the same wall clock,
//! read from the value the kernel stores at each scheduler tick, without reading the hardware
//! counter: about 10 ns. It never runs ahead of the precise clock and lags it by at most one
//! tick (1 to 10 ms, the kernel's `HZ`).
//!
//! Why that lag is safe for what the caches decide: an entry's end is a token's `exp` plus the
//! leeway (whole seconds, and RFC 7519 §4.1.4 allows "a few minutes" of leeway for clock skew)
//! or the cache's maximum age; reading the clock up to one tick late can use an entry up to one
//! tick past that end, a skew far below the second resolution of `exp` itself and of the
//! difference between two servers' clocks. An entry that is not yet valid (`nbf`) is not used
//! and the token is verified in full, on the precise clock. Elsewhere (and for every verification
//! that is not a cache hit) the precise clock is read.

/// Milliseconds since the Unix epoch on the coarse wall clock where there is one (Linux),
/// otherwise on the precise one.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn coarse_unix_millis() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    // A wall clock set before 1970 reads as the epoch, as `SystemTime` would refuse it.
    let seconds = u64::try_from(now.tv_sec).unwrap_or(0);
    let millis = u64::try_from(now.tv_nsec / 1_000_000).unwrap_or(0);
    seconds.saturating_mul(1000).saturating_add(millis)
}

/// Milliseconds since the Unix epoch on the coarse wall clock where there is one (Linux),
/// otherwise on the precise one.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn coarse_unix_millis() -> u64 {
    precise_unix_millis()
}

/// Milliseconds since the Unix epoch on the precise wall clock.
#[cfg(any(test, not(any(target_os = "linux", target_os = "android"))))]
fn precise_unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The coarse clock is the wall clock, never ahead of it and behind by at most a tick: read
    /// between two precise readings, it falls between the first minus a generous tick and the
    /// second, over many readings (a unit or epoch mistake would be off by orders of magnitude).
    #[test]
    fn the_coarse_clock_is_the_wall_clock_at_most_a_tick_behind() {
        const TICK_BOUND_MS: u64 = 50;
        for _ in 0..100_000 {
            let before = precise_unix_millis();
            let coarse = coarse_unix_millis();
            let after = precise_unix_millis();
            assert!(coarse <= after, "coarse {coarse} is ahead of the wall clock {after}");
            assert!(
                coarse + TICK_BOUND_MS >= before,
                "coarse {coarse} lags the wall clock {before} by more than {TICK_BOUND_MS} ms"
            );
        }
    }
}
